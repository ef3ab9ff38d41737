//! Notifyees written with the Rust SDK (`crates/mpr-sdk`): its twin of the
//! scriptable C notifyee behaves exactly like the C one in the contract's
//! scenarios, in process and isolated; a panic is `WN_WINDOWS_ERROR` and
//! the caller lives; and the sample notifyees `policy` and `autodial` do
//! what their documentation says, against the scriptable C provider.
//!
//! The SDK libraries are the examples of mpr-sdk, which `cargo test
//! --workspace` builds into `target/<profile>/examples/`.

use crate::util::{self, Call, Env, Run};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

const Z: &str = "Z:";
const ACME: &str = r"\\acme\share";

/// `target/<profile>/examples/lib<name>.so`, built by `cargo test
/// --workspace` (mpr-sdk's examples).
fn example(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_mpr"))
        .parent()
        .unwrap()
        .join("examples");
    let lib = dir.join(format!("lib{name}.so"));
    assert!(
        lib.is_file(),
        "{} is missing: it is an example of mpr-sdk; build it with \
         `cargo build -p mpr-sdk --examples` (or run `cargo test --workspace`, which does)",
        lib.display()
    );
    lib
}

/// A copy of an example under `file` in a directory that passes the trust
/// checks, once per test process (separate files are separately loaded
/// libraries, with their own names and counters).
pub(crate) fn copy_of(example_name: &str, file: &str) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = cache.get(file) {
        return p.clone();
    }
    let dir = crate::util::scratch().join("sdk");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    let tmp = dir.join(format!("{file}.{}.tmp", std::process::id()));
    std::fs::copy(example(example_name), &tmp).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    cache.insert(file.to_string(), path.clone());
    path
}

/// The SDK script notifyee named `name` (it takes its name from its file).
fn sdk_notifyee(name: &str) -> PathBuf {
    copy_of("sdk_script", &format!("libsdk_{name}.so"))
}

/// Which implementation of the script notifyee.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Impl {
    C,
    Sdk,
}

/// Registers `acme` and the notifyees (name, isolation) of one kind.
fn setup(e: &Env, kind: Impl, notifyees: &[(&str, &str)]) {
    let mut extra = String::new();
    for (name, isolation) in notifyees {
        let path = match kind {
            Impl::C => util::notifyee(name),
            Impl::Sdk => sdk_notifyee(name),
        };
        extra.push_str(&format!(
            "[notifyees.{name}]\npath = \"{}\"\nisolation = \"{isolation}\"\n",
            path.display()
        ));
    }
    e.setup_with(&["acme"], &[], &extra);
}

/// One step of a scenario: behaviour files to write, then an `mpr` run.
type Step<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

/// Runs `steps` in a fresh world; returns the results and the log lines
/// without their pids.
fn play(kind: Impl, isolation: &str, steps: &[Step<'_>]) -> (Vec<u64>, Vec<String>) {
    let e = Env::new();
    setup(
        &e,
        kind,
        &[
            ("alpha", isolation),
            ("beta", isolation),
            ("gamma", isolation),
        ],
    );
    let mut codes = Vec::new();
    for (files, args) in steps {
        for (f, text) in *files {
            e.behave(f, text);
        }
        codes.push(e.mpr(args).wn());
    }
    let lines = std::fs::read_to_string(e.tdir().join("log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split("\tpid=").next().unwrap().to_string())
        .collect();
    (codes, lines)
}

const ADD: &[&str] = &["use", Z, ACME, "--json"];
const CANCEL: &[&str] = &["use", Z, "--delete", "--json"];

/// The contract's scenarios (tests/contract.rs), as steps.
fn scenarios() -> Vec<(&'static str, Vec<Step<'static>>)> {
    vec![
        ("order and contexts", vec![(&[], ADD), (&[], CANCEL)]),
        (
            "no context, no POST",
            vec![(&[("beta.conf", "context=0\n")], ADD), (&[], CANCEL)],
        ),
        ("veto", vec![(&[("beta.conf", "add_pre=1223\n")], ADD)]),
        (
            "veto with another code",
            vec![(&[("gamma.conf", "add_pre=5\n")], ADD)],
        ),
        (
            "WN_RETRY in PRE",
            vec![(&[("beta.conf", "add_pre=1237\n")], ADD)],
        ),
        (
            "retry round",
            vec![(
                &[
                    ("np-acme.conf", "add_result=1326\n"),
                    ("alpha.conf", "add_post_retry=1\n"),
                ],
                ADD,
            )],
        ),
        (
            "retry limit",
            vec![(
                &[
                    ("np-acme.conf", "add_result=1326\n"),
                    ("alpha.conf", "add_post_retry=50\n"),
                ],
                ADD,
            )],
        ),
        (
            "POST errors replace a failure",
            vec![(
                &[
                    ("np-acme.conf", "add_result=1326\n"),
                    ("alpha.conf", "add_post=5\n"),
                    ("gamma.conf", "add_post=8\n"),
                ],
                ADD,
            )],
        ),
        (
            "cancel veto and retry",
            vec![
                (&[], ADD),
                (&[("beta.conf", "cancel_pre=1223\n")], CANCEL),
                (
                    &[
                        ("beta.conf", ""),
                        ("np-acme.conf", "cancel_result=5\n"),
                        ("gamma.conf", "cancel_post_retry=1\n"),
                    ],
                    CANCEL,
                ),
            ],
        ),
    ]
}

#[test]
fn the_sdk_script_notifyee_behaves_like_the_c_one() {
    for (what, steps) in scenarios() {
        let c = play(Impl::C, "inprocess", &steps);
        let sdk = play(Impl::Sdk, "inprocess", &steps);
        assert!(!c.1.is_empty(), "{what}: the C notifyees logged nothing");
        assert_eq!(sdk, c, "{what}");
    }
}

#[test]
fn the_sdk_script_notifyee_behaves_like_the_c_one_isolated() {
    for (what, steps) in scenarios() {
        let c = play(Impl::C, "inprocess", &steps);
        let sdk = play(Impl::Sdk, "process", &steps);
        assert_eq!(sdk, c, "{what}");
    }
}

fn sdk_env(isolation: &str) -> Env {
    let e = Env::new();
    setup(&e, Impl::Sdk, &[("alpha", isolation)]);
    e
}

#[test]
fn a_panic_is_wn_windows_error_and_the_caller_lives() {
    for isolation in ["inprocess", "process"] {
        let e = sdk_env(isolation);
        e.behave("alpha.conf", "panic=add_pre\n");
        let r = e.mpr(&["use", Z, ACME, "--json"]);
        assert_eq!(r.code, 1, "{isolation}: mpr ends normally: {r:?}");
        assert_eq!(r.wn(), 59, "{isolation}: {r:?}");
        assert!(
            r.stderr.contains("panicked in AddConnectNotify (PRE)"),
            "{r:?}"
        );
        assert!(
            e.calls().iter().all(|c| c.kind != 'P'),
            "vetoed: no provider"
        );
        let pre = e
            .journal()
            .into_iter()
            .find(|r| r["event"] == "notify")
            .unwrap();
        assert_eq!(pre["result"], 59, "a return value, not a crash: {pre}");

        // In POST the context is dropped and the result of a success stands.
        let e = sdk_env(isolation);
        e.behave("alpha.conf", "panic=add_post\n");
        let r = e.mpr(&["use", Z, ACME, "--json"]);
        assert_eq!(r.wn(), 0, "{isolation}: {r:?}");
        assert!(r.stderr.contains("panicked in AddConnectNotify (POST)"));
        e.behave("alpha.conf", "");
        assert_eq!(e.mpr(&["use", Z, "--delete", "--json"]).wn(), 0);
    }
}

// ----------------------------------------------------------------------
// The sample notifyees
// ----------------------------------------------------------------------

/// A world with provider `acme` (owning `owns`) and one sample notifyee.
fn sample_env(sample: &str, isolation: &str, owns: &str) -> Env {
    let e = Env::new();
    let lib = copy_of(&format!("mpr_{sample}"), &format!("libmpr_{sample}.so"));
    e.setup_with(
        &["acme"],
        &[],
        &format!(
            "[notifyees.{sample}]\npath = \"{}\"\nisolation = \"{isolation}\"\n",
            lib.display()
        ),
    );
    e.behave("np-acme.conf", &format!("owns={owns}\n"));
    e
}

fn mpr_with(e: &Env, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = e.command();
    for (k, v) in vars {
        c.env(k, v);
    }
    c.args(args).output().unwrap().into()
}

fn provider_adds(e: &Env) -> usize {
    e.calls()
        .iter()
        .filter(|c| c.kind == 'P' && c.op.starts_with("add"))
        .count()
}

#[test]
fn policy_vetoes_servers_not_in_the_allowlist() {
    for isolation in ["inprocess", "process"] {
        let e = sample_env("policy", isolation, "acme,evil,files.example.com");
        let list = e.path("etc/allowed-servers");
        std::fs::write(
            &list,
            "# servers we trust\nACME\n*.example.com  # a domain\n",
        )
        .unwrap();
        let vars = [("MPR_POLICY_ALLOWLIST", list.to_str().unwrap())];

        let r = mpr_with(&e, &vars, &["use", Z, ACME, "--json"]);
        assert_eq!(r.wn(), 0, "{isolation}: {r:?}");
        let r = mpr_with(
            &e,
            &vars,
            &["use", "Y:", r"\\files.example.com\x", "--json"],
        );
        assert_eq!(r.wn(), 0, "{isolation}: {r:?}");
        assert_eq!(provider_adds(&e), 2);

        let r = mpr_with(&e, &vars, &["use", "X:", r"\\evil\share", "--json"]);
        assert_eq!(r.wn(), 5, "{isolation}: WN_ACCESS_DENIED: {r:?}");
        assert!(r.stderr.contains("server evil is not in"), "{r:?}");
        assert_eq!(provider_adds(&e), 2, "the provider was not asked");

        // Without its list it fails closed, with WN_CANCEL.
        let gone = [("MPR_POLICY_ALLOWLIST", "/nonexistent/allowed-servers")];
        let r = mpr_with(&e, &gone, &["use", "X:", ACME, "--json"]);
        assert_eq!(r.wn(), 1223, "{isolation}: {r:?}");
        assert!(r.stderr.contains("cannot read the allowlist"), "{r:?}");

        // Cancels are never vetoed.
        assert_eq!(
            mpr_with(&e, &gone, &["use", Z, "--delete", "--json"]).wn(),
            0
        );
    }
}

/// `MPR_AUTODIAL_COMMAND` that records its call and then runs `then`.
fn dialler(e: &Env, then: &str) -> String {
    format!(
        "printf '%s %s %s\\n' \"$MPR_AUTODIAL_SERVER\" \"$MPR_AUTODIAL_REMOTE\" \
         \"$MPR_AUTODIAL_ERROR\" >> '{}'; {then}",
        e.tdir().join("dialled").display()
    )
}

fn dialled(e: &Env) -> Vec<String> {
    std::fs::read_to_string(e.tdir().join("dialled"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn autodial_runs_its_command_and_retries_once() {
    for isolation in ["inprocess", "process"] {
        // The command brings the network up: the retry succeeds.
        let e = sample_env("autodial", isolation, "acme");
        e.behave("np-acme.conf", "no_network=1\n");
        let conf = e.tdir().join("np-acme.conf");
        let cmd = dialler(&e, &format!("printf 'owns=acme\\n' > '{}'", conf.display()));
        let r = mpr_with(
            &e,
            &[("MPR_AUTODIAL_COMMAND", &cmd)],
            &["use", Z, ACME, "--json"],
        );
        assert_eq!(r.wn(), 0, "{isolation}: {r:?}");
        assert_eq!(provider_adds(&e), 2, "one attempt, one retry");
        assert_eq!(dialled(&e), [format!("acme {ACME} 1203")]);
        assert_eq!(e.mpr(&["get", Z, "--json"]).json()["remote"], ACME);

        // It does not: the failure stands after exactly one retry.
        let e = sample_env("autodial", isolation, "acme");
        e.behave("np-acme.conf", "no_network=1\n");
        let cmd = dialler(&e, "true");
        let r = mpr_with(
            &e,
            &[("MPR_AUTODIAL_COMMAND", &cmd)],
            &["use", Z, ACME, "--json"],
        );
        assert_eq!(r.wn(), 1203, "{isolation}: WN_NO_NET_OR_BAD_PATH: {r:?}");
        assert_eq!(provider_adds(&e), 2);
        assert_eq!(dialled(&e).len(), 1, "dialled once");

        // A failing command: no retry.
        let e = sample_env("autodial", isolation, "acme");
        e.behave("np-acme.conf", "no_network=1\n");
        let cmd = dialler(&e, "exit 3");
        let r = mpr_with(
            &e,
            &[("MPR_AUTODIAL_COMMAND", &cmd)],
            &["use", Z, ACME, "--json"],
        );
        assert_eq!(r.wn(), 1203, "{r:?}");
        assert_eq!(provider_adds(&e), 1);
        assert!(r.stderr.contains("the command failed"), "{r:?}");

        // Not a network error: nothing to dial for.
        let e = sample_env("autodial", isolation, "acme");
        e.behave("np-acme.conf", "add_result=1326\n");
        let cmd = dialler(&e, "true");
        let r = mpr_with(
            &e,
            &[("MPR_AUTODIAL_COMMAND", &cmd)],
            &["use", Z, ACME, "--json"],
        );
        assert_eq!(r.wn(), 1326);
        assert!(dialled(&e).is_empty());
        assert_eq!(provider_adds(&e), 1);

        // No command: it keeps no context, so it gets no POST at all.
        let e = sample_env("autodial", isolation, "acme");
        e.behave("np-acme.conf", "no_network=1\n");
        assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 1203);
        let posts = e
            .journal()
            .into_iter()
            .filter(|r| r["event"] == "notify" && r["phase"] == "post")
            .count();
        assert_eq!(posts, 0);
    }
}

/// The names the calls were logged under, to check the SDK twin takes its
/// name from its file.
#[test]
fn the_sdk_script_notifyee_is_named_after_its_file() {
    let e = Env::new();
    setup(&e, Impl::Sdk, &[("omega", "inprocess")]);
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    let who: Vec<String> = e
        .calls()
        .iter()
        .filter(|c| c.kind == 'N')
        .map(Call::short)
        .collect();
    assert_eq!(who, ["omega:pre", "omega:post"]);
}
