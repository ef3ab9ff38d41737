//! Notifyees that cannot hurt the router (spec §7.10): process isolation
//! with its deadline, the `veto` and `advisory` policies, the host that is
//! started again after a crash, contexts kept in the host, and what an
//! in-process crash does (it takes the caller down: the risk isolation
//! removes).
//!
//! The faults come from the scriptable C notifyee (`crash=`, `abort=`,
//! `hang=`, `leak=`, `garbage=`, tests/c/README.md); the deadline is
//! 500 ms, and every faulty operation must end with the policy's result
//! within the deadline plus one second.

use crate::util::{self, Call, Env, Run};
use mpr_core::plugin::{AddNotice, CallFailure, CancelNotice, ConnectNotifier, NotifyInfo, Phase};
use mpr_loader::LoadError;
use mpr_loader::isolation::IsolatedNotifier;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const Z: &str = "Z:";
const ACME: &str = r"\\acme\share";
const TIMEOUT_MS: u64 = 500;
/// What a faulty operation may take at most: the deadline plus one second.
const BOUND: Duration = Duration::from_millis(TIMEOUT_MS + 1000);

/// Registers the provider `acme` and the notifyees, in registration order,
/// each as (name, isolation, policy), with the test deadline.
fn setup(e: &Env, notifyees: &[(&str, &str, &str)]) {
    let mut extra = String::new();
    for (name, isolation, policy) in notifyees {
        extra.push_str(&format!(
            "[notifyees.{name}]\npath = \"{}\"\nisolation = \"{isolation}\"\n\
             policy = \"{policy}\"\ntimeout_ms = {TIMEOUT_MS}\n",
            util::notifyee(name).display()
        ));
    }
    e.setup_with(&["acme"], &[], &extra);
}

/// Runs `mpr` and measures it.
fn timed(e: &Env, args: &[&str]) -> (Run, Duration) {
    let t = Instant::now();
    let r = e.mpr(args);
    (r, t.elapsed())
}

/// The journal's `notify` records of `who` in `phase`.
fn notify_records(e: &Env, who: &str, phase: &str) -> Vec<Value> {
    e.journal()
        .into_iter()
        .filter(|r| r["event"] == "notify" && r["notifyee"] == who && r["phase"] == phase)
        .collect()
}

/// The journal's `operation` records.
fn operations(e: &Env) -> Vec<Value> {
    e.journal()
        .into_iter()
        .filter(|r| r["event"] == "operation")
        .collect()
}

fn n_calls(e: &Env) -> Vec<Call> {
    e.calls().into_iter().filter(|c| c.kind == 'N').collect()
}

fn provider_calls(e: &Env) -> usize {
    e.calls().iter().filter(|c| c.kind == 'P').count()
}

/// Waits (up to a second) until process `pid` no longer runs; a zombie
/// counts as gone.
fn assert_gone(pid: &str) {
    let stat = format!("/proc/{pid}/stat");
    let t = Instant::now();
    loop {
        match std::fs::read_to_string(&stat) {
            Err(_) => return,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                return;
            }
            Ok(_) if t.elapsed() > Duration::from_secs(1) => {
                panic!("the notifyee host {pid} still runs after its router ended")
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The fault keys of the scriptable notifyee and what the journal says of
/// each.
const FAULTS: [(&str, &str); 3] = [
    ("crash", "crashed (killed by signal 11 (SIGSEGV))"),
    ("abort", "crashed (killed by signal 6 (SIGABRT))"),
    ("hang", "timed out after 500 ms"),
];

#[test]
fn faults_in_pre_under_veto_fail_the_operation_with_wn_cancel_in_time() {
    for (fault, failure) in FAULTS {
        let e = Env::new();
        setup(&e, &[("alpha", "process", "veto")]);
        e.behave("alpha.conf", &format!("{fault}=add_pre\n"));
        let (r, took) = timed(&e, &["use", Z, ACME, "--json"]);
        assert_eq!(r.code, 1, "{fault}: mpr ends normally: {r:?}");
        assert_eq!(r.wn(), 1223, "{fault}: {r:?}");
        assert!(took < BOUND, "{fault}: took {took:?}");
        assert_eq!(provider_calls(&e), 0, "{fault}: vetoed before any provider");
        assert_eq!(e.mpr(&["get", Z, "--json"]).wn(), 2250, "{fault}");
        let pre = notify_records(&e, "alpha", "pre");
        assert_eq!(pre.len(), 1, "{fault}: {pre:?}");
        assert_eq!(pre[0]["failure"], failure, "{fault}");
        assert_eq!(pre[0]["decision"], "vetoed the operation (WN_CANCEL)");
        assert_eq!(pre[0]["isolation"], "process");
        assert_eq!(pre[0]["policy"], "veto");
        let ops = operations(&e);
        assert_eq!(ops[0]["result"], 1223, "{fault}: {ops:?}");
        // The call ran in another process, which is gone now.
        let call = &n_calls(&e)[0];
        assert_eq!(call.get("ret"), fault);
        assert_ne!(call.get("pid"), ops[0]["pid"].to_string());
        assert_gone(call.get("pid"));
    }
}

#[test]
fn faults_in_pre_under_advisory_are_recorded_and_ignored() {
    for (fault, failure) in FAULTS {
        let e = Env::new();
        setup(&e, &[("alpha", "process", "advisory")]);
        e.behave("alpha.conf", &format!("{fault}=add_pre\n"));
        let (r, took) = timed(&e, &["use", Z, ACME, "--json"]);
        assert_eq!(r.wn(), 0, "{fault}: {r:?}");
        assert!(took < BOUND, "{fault}: took {took:?}");
        assert_eq!(provider_calls(&e), 1);
        assert_eq!(e.mpr(&["get", Z, "--json"]).json()["remote"], ACME);
        let pre = notify_records(&e, "alpha", "pre");
        assert_eq!(pre[0]["failure"], failure, "{fault}");
        assert_eq!(pre[0]["decision"], "ignored (advisory)");
        assert_eq!(pre[0]["policy"], "advisory");
        assert!(
            notify_records(&e, "alpha", "post").is_empty(),
            "{fault}: no context survived the PRE, so no POST"
        );
    }
}

#[test]
fn faults_in_post_lose_that_post_only() {
    for (fault, failure) in FAULTS {
        for policy in ["veto", "advisory"] {
            let e = Env::new();
            setup(&e, &[("alpha", "process", policy)]);
            e.behave("alpha.conf", &format!("{fault}=add_post\n"));
            let (r, took) = timed(&e, &["use", Z, ACME, "--json"]);
            assert_eq!(
                r.wn(),
                0,
                "{fault}/{policy}: a POST cannot undo a connection"
            );
            assert!(took < BOUND, "{fault}/{policy}: took {took:?}");
            let post = notify_records(&e, "alpha", "post");
            assert_eq!(post.len(), 1, "{fault}/{policy}");
            assert_eq!(post[0]["failure"], failure);
            assert_eq!(post[0]["decision"], "POST not delivered");
            assert_eq!(e.mpr(&["get", Z, "--json"]).json()["remote"], ACME);
        }
    }
}

#[test]
fn leaks_and_garbage_contexts_stay_in_the_host() {
    for policy in ["veto", "advisory"] {
        let e = Env::new();
        setup(&e, &[("alpha", "process", policy)]);
        e.behave(
            "alpha.conf",
            "leak=add_pre,add_post,cancel_pre,cancel_post\n",
        );
        assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
        assert_eq!(e.mpr(&["use", Z, "--delete", "--json"]).wn(), 0);
        let ctx: Vec<String> = n_calls(&e).iter().map(|c| c.get("ctx").into()).collect();
        assert_eq!(
            ctx,
            ["1", "1", "1", "1"],
            "{policy}: each host counts from 1"
        );

        let e = Env::new();
        setup(&e, &[("alpha", "process", policy)]);
        e.behave("alpha.conf", "garbage=add_pre\n");
        let (r, took) = timed(&e, &["use", Z, ACME, "--json"]);
        assert_eq!(r.wn(), 0, "{policy}: {r:?}");
        assert!(took < BOUND);
        let calls = n_calls(&e);
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[1].get("ctx"),
            "0xdeadbeef",
            "the garbage value comes back unchanged, never dereferenced"
        );
    }
}

/// One scenario run with both notifyees in process and both isolated: the
/// notifyees see the same calls, with the same contexts, in the same order
/// (only the process differs).
#[test]
fn isolated_notifyees_see_what_in_process_ones_see_contexts_and_retries_included() {
    let run = |isolation: &str| {
        let e = Env::new();
        setup(
            &e,
            &[("alpha", isolation, "veto"), ("gamma", isolation, "veto")],
        );
        e.behave("np-acme.conf", "add_result=1326\n");
        e.behave("alpha.conf", "add_post_retry=1\n");
        assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 1326);
        e.behave("np-acme.conf", "");
        assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
        e.behave("gamma.conf", "cancel_post_retry=1\ncancel_pre=1237\n");
        e.behave("np-acme.conf", "cancel_result=5\n");
        assert_eq!(e.mpr(&["use", Z, "--delete", "--json"]).wn(), 5);
        let calls = e.calls();
        let lines: Vec<String> = calls
            .iter()
            .map(|c| {
                let mut f: Vec<String> = c
                    .fields
                    .iter()
                    .filter(|(k, _)| k.as_str() != "pid")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                f.sort();
                format!("{} {}", c.short(), f.join(" "))
            })
            .collect();
        (e, lines)
    };
    let (_, inproc) = run("inprocess");
    let (e, isolated) = run("process");
    assert_eq!(isolated, inproc);
    // The retry round: alpha's context from the first PRE comes back in
    // both of its POSTs, through the host.
    let alpha: Vec<Call> = n_calls(&e)
        .into_iter()
        .filter(|c| c.who == "alpha" && c.op == "add")
        .take(3)
        .collect();
    assert_eq!(
        alpha.iter().map(Call::short).collect::<Vec<_>>(),
        ["alpha:pre", "alpha:post", "alpha:post"]
    );
    assert_ne!(alpha[0].get("ctx"), "0");
    assert!(alpha.iter().all(|c| c.get("ctx") == alpha[0].get("ctx")));
    assert!(alpha.iter().all(|c| c.get("pid") == alpha[0].get("pid")));
}

#[test]
fn a_crashed_host_is_started_again_for_the_next_call() {
    let e = Env::new();
    setup(
        &e,
        &[
            ("alpha", "process", "advisory"),
            ("beta", "inprocess", "veto"),
        ],
    );
    e.behave("np-acme.conf", "add_result=1326\n");
    e.behave("alpha.conf", "crash=add_post\n");
    e.behave("beta.conf", "add_post_retry=1\n");
    let (r, took) = timed(&e, &["use", Z, ACME, "--json"]);
    assert_eq!(r.wn(), 1326, "{r:?}");
    assert!(took < BOUND);
    let order: Vec<String> = e.calls().iter().map(Call::short).collect();
    assert_eq!(
        order,
        [
            "beta:pre",
            "alpha:pre",
            "np:acme:add3",
            "alpha:post",
            "beta:post",
            "alpha:pre",
            "np:acme:add3",
            "alpha:post",
            "beta:post",
        ]
    );
    let alpha: Vec<Call> = n_calls(&e)
        .into_iter()
        .filter(|c| c.who == "alpha")
        .collect();
    assert_eq!(alpha[0].get("pid"), alpha[1].get("pid"));
    assert_ne!(
        alpha[1].get("pid"),
        alpha[2].get("pid"),
        "the second round runs in a new host"
    );
    assert_eq!(alpha[2].get("ctx"), "1", "a new host, a new library");
    let lost = notify_records(&e, "alpha", "post");
    assert_eq!(lost.len(), 2);
    assert!(lost.iter().all(|r| r["decision"] == "POST not delivered"));
    assert_eq!(lost[1]["round"], 1);
}

#[test]
fn libmpr_finds_the_host_and_restarts_it_for_the_next_operation() {
    let e = Env::new();
    setup(&e, &[("alpha", "process", "advisory")]);
    e.behave("alpha.conf", "crash=cancel_pre\n");
    let s = crate::capi::steps(
        &e,
        &[
            "add2", Z, ACME, "0", "-", "cancel2", Z, "0", "1", "add2", Z, ACME, "0", "-",
        ],
    );
    let rcs: Vec<u32> = s.iter().map(|s| s.rc()).collect();
    assert_eq!(rcs, [0, 0, 0], "the crash is advisory: {s:?}");
    let calls = n_calls(&e);
    let shown: Vec<String> = calls.iter().map(Call::short).collect();
    assert_eq!(
        shown,
        [
            "alpha:pre",
            "alpha:post",
            "alpha:pre",
            "alpha:pre",
            "alpha:post"
        ]
    );
    assert_eq!(calls[2].get("ret"), "crash");
    assert_eq!(calls[0].get("pid"), calls[2].get("pid"));
    assert_ne!(calls[2].get("pid"), calls[3].get("pid"), "a new host");
    let c_pid = operations(&e)[0]["pid"].to_string();
    assert!(
        calls.iter().all(|c| c.get("pid") != c_pid),
        "never in the C program"
    );
}

#[test]
fn a_refused_isolated_library_is_access_denied_under_veto() {
    for (policy, code) in [("veto", 5), ("advisory", 0)] {
        let e = Env::new();
        let lib = e.path("etc/libloose.so");
        std::fs::copy(util::notifyee("alpha"), &lib).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o666)).unwrap();
        e.setup_with(
            &["acme"],
            &[],
            &format!(
                "[notifyees.alpha]\npath = \"{}\"\nisolation = \"process\"\npolicy = \"{policy}\"\n",
                lib.display()
            ),
        );
        let r = e.mpr(&["use", Z, ACME, "--json"]);
        assert_eq!(r.wn(), code, "{policy}: {r:?}");
        assert!(r.stderr.contains("writable"), "{r:?}");
        let refused: Vec<Value> = e
            .journal()
            .into_iter()
            .filter(|r| r["event"] == "refused")
            .collect();
        assert_eq!(refused.len(), 1, "{policy}");
        assert_eq!(refused[0]["notifyee"], "alpha");
    }
}

#[test]
fn in_process_a_crash_kills_the_caller() {
    // PRE: nothing was attempted, and nothing is left behind.
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    e.behave("alpha.conf", "crash=add_pre\n");
    let o = e
        .command()
        .args(["use", Z, ACME, "--json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.signal(),
        Some(11),
        "mpr dies of the SIGSEGV: {o:?}"
    );
    assert!(o.stdout.is_empty(), "no result was printed");
    assert_eq!(provider_calls(&e), 0);
    assert_eq!(e.mpr(&["get", Z, "--json"]).wn(), 2250, "nothing connected");
    assert!(
        e.journal().is_empty(),
        "not even the PRE was journalled: a record is written after its call"
    );
    assert_eq!(
        e.mpr(&["use", "--json"]).json()["connections"],
        Value::Array(vec![])
    );

    // POST: the connection had been made and committed before the POST;
    // it stays, but the caller never learnt it, and the journal lacks the
    // POST and the operation.
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    e.behave("alpha.conf", "crash=add_post\n");
    let o = e
        .command()
        .args(["use", Z, ACME, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.signal(), Some(11), "{o:?}");
    assert!(o.stdout.is_empty());
    assert_eq!(provider_calls(&e), 1);
    std::fs::remove_file(e.tdir().join("alpha.conf")).unwrap();
    assert_eq!(e.mpr(&["get", Z, "--json"]).json()["remote"], ACME);
    let j = e.journal();
    let events: Vec<(&str, &str)> = j
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap(),
                r["phase"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(events, [("notify", "pre"), ("provider", "")]);
}

#[test]
fn a_host_does_not_outlive_a_router_killed_during_a_call() {
    let e = Env::new();
    e.setup_with(
        &["acme"],
        &[],
        &format!(
            "[notifyees.alpha]\npath = \"{}\"\nisolation = \"process\"\ntimeout_ms = 60000\n",
            util::notifyee("alpha").display()
        ),
    );
    e.behave("alpha.conf", "hang=add_pre\n");
    let mut mpr = e
        .command()
        .args(["use", Z, ACME, "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let host = loop {
        if let Some(c) = n_calls(&e).first() {
            break c.get("pid").to_string();
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no PRE call");
        std::thread::sleep(Duration::from_millis(10));
    };
    mpr.kill().unwrap();
    mpr.wait().unwrap();
    // The host's watchdog sees the channel hang up in the middle of a call.
    assert_gone(&host);
}

/// A notifyee whose library can no longer be loaded (its host could not
/// be started again), and a provider that accepts everything.
#[derive(Debug)]
struct Unloadable;

impl ConnectNotifier for Unloadable {
    fn handles_add(&self) -> bool {
        true
    }
    fn handles_cancel(&self) -> bool {
        true
    }
    fn add_notify(&self, _: &mut NotifyInfo, _: &AddNotice<'_>) -> Result<u32, CallFailure> {
        Err(CallFailure::LoadFailed("the library is gone".into()))
    }
    fn cancel_notify(&self, _: &mut NotifyInfo, _: &CancelNotice<'_>) -> Result<u32, CallFailure> {
        Err(CallFailure::LoadFailed("the library is gone".into()))
    }
}

#[derive(Debug)]
struct Accepting;

impl mpr_core::plugin::NetworkProvider for Accepting {
    fn key(&self) -> &str {
        "fake"
    }
    fn display_name(&self) -> &str {
        "Fake"
    }
    fn connection_caps(&self) -> u32 {
        mpr_abi::WNNC_CON_ADDCONNECTION | mpr_abi::WNNC_CON_CANCELCONNECTION
    }
    fn origin(&self) -> mpr_core::plugin::Origin {
        mpr_core::plugin::Origin::Library("test".into())
    }
    fn add_connection(
        &self,
        _: &mpr_core::plugin::ConnectCall<'_>,
    ) -> Result<(), mpr_core::WnError> {
        Ok(())
    }
    fn cancel_connection(
        &self,
        _: &mpr_core::plugin::CancelCall<'_>,
    ) -> Result<(), mpr_core::WnError> {
        Ok(())
    }
    fn get_connection(&self, _: &str, _: Option<&Path>) -> Result<String, mpr_core::WnError> {
        Err(mpr_core::WnError::NotConnected)
    }
}

#[test]
fn a_load_failure_in_pre_is_access_denied_under_veto() {
    use mpr_core::config::{Isolation, Policy};
    use mpr_core::router::{
        AddApi, AddRequest, NotifyeeSlot, NotifyeeState, ProviderSlot, Router, RouterParts,
    };
    use std::sync::Arc;
    for (policy, expected, decision) in [
        (
            Policy::Veto,
            Err(mpr_core::WnError::AccessDenied),
            "vetoed the operation (WN_ACCESS_DENIED)",
        ),
        (Policy::Advisory, Ok(()), "ignored (advisory)"),
    ] {
        let e = Env::new();
        let router = Router::new(RouterParts {
            providers: vec![ProviderSlot::Ready(Arc::new(Accepting))],
            notifyees: vec![NotifyeeSlot {
                name: "gone".into(),
                path: e.path("etc/libgone.so"),
                isolation: Isolation::Process,
                policy,
                state: NotifyeeState::Ready(Arc::new(Unloadable)),
            }],
            store: mpr_core::state::Store::new(e.path("state"), e.path("run")),
            drives_dir: e.path("drives"),
            runtime_dir: e.path("run"),
            observers: vec![Arc::new(mpr_core::Journal::to_file(
                e.path("state/journal.jsonl"),
            ))],
            max_retry_rounds: 3,
        });
        let r = router.add(&AddRequest::new(AddApi::Use, None, r"\\fake\share", 0));
        assert_eq!(r.map(|_| ()), expected, "{policy:?}");
        let pre = notify_records(&e, "gone", "pre");
        assert_eq!(pre[0]["decision"], decision);
        assert_eq!(
            pre[0]["failure"],
            "could not be loaded (the library is gone)"
        );
    }
}

// ----------------------------------------------------------------------
// The isolated notifier on its own (no router)
// ----------------------------------------------------------------------

/// The host program cargo built next to `mpr`.
fn host() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mpr-notifyee-host"))
}

/// A scriptable notifyee that finds its directory without `MPRTEST_DIR`
/// (the host inherits this test process's environment, which a test must
/// not change): one build per test directory.
fn notifyee_in(dir: &Path, tag: &str) -> PathBuf {
    util::compile(
        "notifyee_script.c",
        &format!("notify_iso_{tag}"),
        &[
            "NOTIFYEE_NAME=\"solo\"",
            &format!("MPRTEST_DIR_DEFAULT=\"{}\"", dir.display()),
        ],
    )
}

fn start(lib: &Path, timeout_ms: u64) -> IsolatedNotifier {
    match IsolatedNotifier::start_with_host(host(), "solo", lib, Duration::from_millis(timeout_ms))
    {
        Ok(n) => n,
        Err(w) => panic!("the host did not start: {w}"),
    }
}

fn add_notice() -> AddNotice<'static> {
    AddNotice {
        owner: 0,
        r#type: 1,
        local: Some("Z:"),
        remote: ACME,
        provider: None,
        flags: 0,
    }
}

fn cancel_notice() -> CancelNotice<'static> {
    CancelNotice {
        name: Z,
        provider: None,
        flags: 0,
        force: false,
    }
}

fn info(phase: Phase, context: usize) -> NotifyInfo {
    NotifyInfo {
        phase,
        operation_status: 0,
        context,
    }
}

#[test]
fn a_context_dies_with_its_host_and_its_post_is_not_delivered() {
    let e = Env::new();
    let n = start(&notifyee_in(&e.tdir(), "ctxloss"), TIMEOUT_MS);
    let first = n.host_pid().unwrap();
    // Operation A keeps a context in the host.
    let mut a = info(Phase::Pre, 0);
    assert_eq!(n.add_notify(&mut a, &add_notice()), Ok(0));
    assert_ne!(a.context, 0);
    // Operation B crashes the host.
    e.behave("solo.conf", "crash=cancel_pre\n");
    let mut b = info(Phase::Pre, 0);
    match n.cancel_notify(&mut b, &cancel_notice()) {
        Err(CallFailure::Crashed(why)) => assert!(why.contains("SIGSEGV"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(n.host_pid(), None);
    // A's POST cannot be delivered: its context died with the host.
    a.phase = Phase::Post;
    match n.add_notify(&mut a, &add_notice()) {
        Err(CallFailure::Crashed(why)) => {
            assert!(why.contains("context died"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(n.host_pid(), None, "no host was started for a lost POST");
    // The next call starts a new host; its contexts work.
    std::fs::remove_file(e.tdir().join("solo.conf")).unwrap();
    let mut c = info(Phase::Pre, 0);
    assert_eq!(n.add_notify(&mut c, &add_notice()), Ok(0));
    let second = n.host_pid().unwrap();
    assert_ne!(first, second);
    assert_ne!(c.context, a.context, "a context of the new host");
    c.phase = Phase::Post;
    assert_eq!(n.add_notify(&mut c, &add_notice()), Ok(0));
    let ctx: Vec<String> = e
        .calls()
        .iter()
        .map(|c| format!("{}:{}", c.short(), c.get("ctx")))
        .collect();
    assert_eq!(
        ctx,
        ["solo:pre:1", "solo:pre:2", "solo:pre:1", "solo:post:1"],
        "A's POST never reached any host"
    );
}

#[test]
fn a_hung_call_is_killed_at_the_deadline() {
    let e = Env::new();
    let n = start(&notifyee_in(&e.tdir(), "hang"), 300);
    let pid = n.host_pid().unwrap();
    e.behave("solo.conf", "hang=add_pre\n");
    let t = Instant::now();
    let r = n.add_notify(&mut info(Phase::Pre, 0), &add_notice());
    let took = t.elapsed();
    assert_eq!(r, Err(CallFailure::TimedOut(300)));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(1300), "{took:?}");
    assert_gone(&pid.to_string());
    assert_eq!(n.host_pid(), None);
}

#[test]
fn start_failures_are_reasons() {
    let e = Env::new();
    // A library that exports neither function.
    let none = util::compile(
        "notifyee_script.c",
        "notify_iso_none",
        &["NOTIFYEE_NAME=\"none\"", "NO_ADD", "NO_CANCEL"],
    );
    match IsolatedNotifier::start_with_host(host(), "none", &none, Duration::from_secs(5)) {
        Err(why @ LoadError::NoNotifyExports { .. }) => {
            assert!(why.to_string().contains("exports neither"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // A file that is not a library.
    let junk = e.path("etc/libjunk.so");
    std::fs::write(&junk, "not ELF").unwrap();
    match IsolatedNotifier::start_with_host(host(), "junk", &junk, Duration::from_secs(5)) {
        Err(why) => assert!(why.to_string().contains("cannot load"), "{why}"),
        other => panic!("{other:?}"),
    }
    // A host program that does not exist.
    let lib = notifyee_in(&e.tdir(), "nohost");
    match IsolatedNotifier::start_with_host(
        &e.path("nowhere/mpr-notifyee-host"),
        "x",
        &lib,
        Duration::from_secs(5),
    ) {
        Err(why) => assert!(why.to_string().contains("cannot start"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_host_refuses_to_run_by_hand() {
    let o = std::process::Command::new(host())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not meant to be run by hand"),
        "{o:?}"
    );
}
