//! `libmpr.so`, the WNet C API, driven by C programs (`tests/c/capi_*.c`)
//! linked against it: each function's success and error paths and the
//! buffer protocol under valgrind, notifications that match the `mpr`
//! command's exactly, and connections shared with `mpr` both ways.

use crate::util::{Call, Env, Run, repo};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

const ACME: &str = r"\\acme\share";

/// The directory of the libmpr.so that cargo built with this test binary.
///
/// `cargo test --workspace` builds it into `target/<profile>/deps` (and
/// `cargo build` also links it into `target/<profile>`); the newer of the
/// two is the one to test.
fn libmpr_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mpr = Path::new(env!("CARGO_BIN_EXE_mpr"));
        let target = mpr.parent().unwrap();
        let newest = [target.join("deps"), target.to_path_buf()]
            .into_iter()
            .filter_map(|d| {
                let modified = std::fs::metadata(d.join("libmpr.so"))
                    .ok()?
                    .modified()
                    .ok()?;
                Some((modified, d))
            })
            .max_by_key(|(m, _)| *m);
        match newest {
            Some((_, d)) => d,
            None => panic!(
                "libmpr.so is missing from {} (and its deps/ directory): build it with \
                 `cargo build -p mpr-capi`, or run the whole suite with `cargo test --workspace`",
                target.display()
            ),
        }
    })
}

/// Makes `libmpr.so.0 -> libmpr.so` in `dir`: the library's SONAME is
/// `libmpr.so.0` (crates/mpr-capi/build.rs), so that is the name a program
/// linked with `-lmpr` asks the dynamic loader for, as it would from an
/// installed library.
fn soname_link(dir: &Path) {
    let link = dir.join("libmpr.so.0");
    if std::fs::read_link(&link).is_ok_and(|t| t == Path::new("libmpr.so")) {
        return;
    }
    let tmp = dir.join(format!("libmpr.so.0.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink("libmpr.so", &tmp).unwrap();
    std::fs::rename(&tmp, &link).unwrap();
}

/// Compiles `tests/c/<name>.c` into a program linked against libmpr.so,
/// once per test process.
fn program(name: &str) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = cache.get(name) {
        return p.clone();
    }
    let dir = crate::util::scratch().join("capi");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
    let lib = libmpr_dir();
    soname_link(lib);
    let o = Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-pthread",
            "-g",
        ])
        .arg("-I")
        .arg(repo().join("include"))
        .arg(repo().join("tests/c").join(format!("{name}.c")))
        .arg("-L")
        .arg(lib)
        .arg("-lmpr")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&tmp)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cc (install gcc: apt-get install gcc): {e}"));
    assert!(
        o.status.success(),
        "compiling tests/c/{name}.c failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap();
    cache.insert(name.to_string(), out.clone());
    out
}

/// A command for `program` with the test's environment (the same
/// variables `mpr` gets from [`Env::command`]).
fn c_command(e: &Env, program: &Path, valgrind: bool) -> Command {
    let mut c = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "-q",
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    };
    c.env_clear().stdin(Stdio::null());
    for (k, v) in e.command().get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c
}

fn run(e: &Env, name: &str, args: &[&str], valgrind: bool) -> Run {
    let mut c = c_command(e, &program(name), valgrind);
    let o = c.args(args).output().unwrap_or_else(|err| {
        if valgrind {
            panic!("cannot run valgrind (install it: scripts/ci-deps.sh): {err}")
        } else {
            panic!("cannot run {name}: {err}")
        }
    });
    o.into()
}

/// Runs a self-checking C program under valgrind; it must pass cleanly.
fn checks_pass_under_valgrind(e: &Env, name: &str) {
    let r = run(e, name, &[], true);
    let why = match r.code {
        0 => return,
        1 => "valgrind found memory errors or definite leaks",
        3 => "some checks failed",
        _ => "it did not finish normally",
    };
    panic!(
        "{name}: {why} (exit {})\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    );
}

/// One output line of `capi_steps`: the step and its `key=value` fields.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) op: String,
    pub(crate) f: BTreeMap<String, String>,
}

impl Step {
    pub(crate) fn rc(&self) -> u32 {
        self.f["rc"].parse().unwrap()
    }
}

/// Runs `capi_steps` with `args`; returns its lines.
pub(crate) fn steps(e: &Env, args: &[&str]) -> Vec<Step> {
    let r = run(e, "capi_steps", args, false);
    assert_eq!(r.code, 0, "capi_steps {args:?} failed: {r:?}");
    parse_steps(&r.stdout)
}

/// One `Step` per line of `capi_steps` output.
fn parse_steps(stdout: &str) -> Vec<Step> {
    stdout
        .lines()
        .map(|l| {
            let mut parts = l.split('\t');
            let op = parts.next().unwrap().to_string();
            let f = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Step { op, f }
        })
        .collect()
}

/// The result codes of the steps that have one, in order.
fn codes(s: &[Step]) -> Vec<u32> {
    s.iter()
        .filter(|s| s.f.contains_key("rc"))
        .map(Step::rc)
        .collect()
}

/// Every plugin call, without the process id.
fn plugin_calls(e: &Env) -> Vec<String> {
    e.calls()
        .iter()
        .map(|c: &Call| {
            let mut f: Vec<String> = c
                .fields
                .iter()
                .filter(|(k, _)| k.as_str() != "pid")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            f.sort();
            format!("{} {} {} {} {}", c.kind, c.who, c.op, c.phase, f.join(" "))
        })
        .collect()
}

fn env_with(providers: &[&str], notifyees: &[&str]) -> Env {
    let e = Env::new();
    e.setup(providers, notifyees);
    e
}

// ---------------------------------------------------------------------------
// The self-checking C programs, under valgrind
// ---------------------------------------------------------------------------

#[test]
fn c_connection_functions_pass_under_valgrind() {
    let e = env_with(&["acme"], &["alpha"]);
    checks_pass_under_valgrind(&e, "capi_connect");
}

#[test]
fn c_narrow_functions_pass_under_valgrind() {
    let e = env_with(&["acme"], &["alpha"]);
    checks_pass_under_valgrind(&e, "capi_narrow");
}

#[test]
fn c_enumeration_passes_under_valgrind() {
    let e = env_with(&["acme"], &[]);
    checks_pass_under_valgrind(&e, "capi_enum");
}

#[test]
fn c_last_error_passes_under_valgrind() {
    let e = env_with(&["acme"], &[]);
    checks_pass_under_valgrind(&e, "capi_lasterror");
}

// ---------------------------------------------------------------------------
// Notifications: the C API and the mpr command are one router
// ---------------------------------------------------------------------------

/// Connects Z: and disconnects it (forgetting) through `how`, one process
/// each as with `mpr`, and returns the result codes and every plugin call.
fn add_then_cancel(how: &str, setup: impl Fn(&Env)) -> (Vec<u32>, Vec<String>) {
    let e = env_with(&["acme"], &["alpha", "beta", "gamma"]);
    setup(&e);
    let codes = match how {
        "cli" => [
            e.mpr(&["use", "Z:", ACME, "--json"]),
            e.mpr(&["use", "Z:", "--delete", "--json"]),
        ]
        .iter()
        .map(|r| r.wn() as u32)
        .collect(),
        "use" | "add2" => {
            let add = steps(&e, &[how, "Z:", ACME, "0", "-"]);
            let cancel = steps(&e, &["cancel2", "Z:", "1", "0"]);
            codes(&add).into_iter().chain(codes(&cancel)).collect()
        }
        _ => unreachable!(),
    };
    (codes, plugin_calls(&e))
}

#[test]
fn notifications_through_the_c_api_are_the_clis() {
    let cli = add_then_cancel("cli", |_| {});
    assert_eq!(cli.0, [0, 0]);
    assert_eq!(
        cli.1.iter().filter(|c| c.starts_with("N ")).count(),
        12,
        "PRE and POST for three notifyees, add and cancel: {:#?}",
        cli.1
    );
    for how in ["use", "add2"] {
        assert_eq!(
            add_then_cancel(how, |_| {}),
            cli,
            "WNet via {how} vs mpr use"
        );
    }
}

#[test]
fn a_veto_through_the_c_api_is_the_clis() {
    let veto = |e: &Env| e.behave("beta.conf", "add_pre=1223\n");
    let cli = add_then_cancel("cli", veto);
    assert_eq!(cli.0, [1223, 2250]);
    assert!(
        cli.1.iter().all(|c| !c.starts_with("P acme add")),
        "{:#?}",
        cli.1
    );
    for how in ["use", "add2"] {
        assert_eq!(add_then_cancel(how, veto), cli, "WNet via {how} vs mpr use");
    }
}

#[test]
fn a_retry_round_through_the_c_api_is_the_clis() {
    let retry = |e: &Env| {
        e.behave("np-acme.conf", "add_result=1326\n");
        e.behave("alpha.conf", "add_post_retry=1\n");
    };
    let cli = add_then_cancel("cli", retry);
    assert_eq!(cli.0, [1326, 2250]);
    assert_eq!(
        cli.1
            .iter()
            .filter(|c| c.starts_with("P acme add3"))
            .count(),
        2,
        "{:#?}",
        cli.1
    );
    for how in ["use", "add2"] {
        assert_eq!(
            add_then_cancel(how, retry),
            cli,
            "WNet via {how} vs mpr use"
        );
    }
}

#[test]
fn legacy_and_owner_calls_notify_with_their_documented_values() {
    let e = env_with(&["acme"], &["alpha"]);
    let s = steps(
        &e,
        &[
            "add", ACME, "X:", "cancel", "X:", "0", "add3", "W:", ACME, "4", "cancel2", "W:", "0",
            "1",
        ],
    );
    assert_eq!(codes(&s), [0, 0, 0, 0]);
    let calls: Vec<Call> = e.calls().into_iter().filter(|c| c.kind == 'N').collect();
    assert_eq!(calls.len(), 8, "{calls:#?}");
    // WNetAddConnection: RESOURCETYPE_ANY, CONNECT_UPDATE_PROFILE, no owner.
    for c in &calls[0..2] {
        assert_eq!(
            (c.op.as_str(), c.get("local"), c.get("remote")),
            ("add", "X:", ACME)
        );
        assert_eq!(
            (c.get("type"), c.get("flags"), c.get("owner")),
            ("0", "1", "0")
        );
    }
    assert_eq!(calls[1].get("provider"), "Acme Network");
    // WNetCancelConnection: CONNECT_UPDATE_PROFILE, fForce as given.
    for c in &calls[2..4] {
        assert_eq!((c.op.as_str(), c.get("name")), ("cancel", "X:"));
        assert_eq!((c.get("flags"), c.get("force")), ("1", "0"));
    }
    assert_eq!(calls[3].get("provider"), "Acme Network");
    // WNetAddConnection3 with an owner window, then WNetCancelConnection2.
    for c in &calls[4..6] {
        assert_eq!((c.get("local"), c.get("type")), ("W:", "1"));
        assert_eq!((c.get("flags"), c.get("owner")), ("4", "1"));
    }
    for c in &calls[6..8] {
        assert_eq!(
            (c.get("name"), c.get("flags"), c.get("force")),
            ("W:", "0", "1")
        );
    }
}

#[test]
fn restore_through_the_c_api_sends_no_notifications() {
    let e = env_with(&["acme"], &["alpha"]);
    let s = steps(
        &e,
        &[
            "add2", "Y:", ACME, "1", "-", "cancel2", "Y:", "0", "1", "get", "Y:",
        ],
    );
    assert_eq!(codes(&s), [0, 0, 1201], "remembered, not connected");
    e.clear_log();
    let s = steps(&e, &["restore", "Y:", "get", "Y:"]);
    assert_eq!(codes(&s), [0, 0]);
    assert_eq!(s[1].f["remote"], ACME);
    let calls = e.calls();
    assert!(
        calls.iter().any(|c| c.short() == "np:acme:add3"),
        "{calls:#?}"
    );
    assert!(
        calls.iter().all(|c| c.kind != 'N'),
        "restore notified: {calls:#?}"
    );
}

// ---------------------------------------------------------------------------
// One state: what the C API does, mpr sees, and the other way round
// ---------------------------------------------------------------------------

fn listed(e: &Env) -> Vec<(String, String, String, String)> {
    let r = e.mpr(&["use", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    r.json()["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("status"), s("local"), s("remote"), s("provider"))
        })
        .collect()
}

#[test]
fn connections_are_shared_with_the_mpr_command() {
    let e = env_with(&["acme"], &[]);
    // C connects, mpr lists.
    let s = steps(
        &e,
        &[
            "add2",
            "Z:",
            ACME,
            "0",
            "-",
            "use",
            "-",
            r"\\acme\dl",
            "0",
            "-",
        ],
    );
    assert_eq!(codes(&s), [0, 0]);
    let access = s[1].f["access"].clone();
    assert_eq!(
        Path::new(&access),
        e.path("run").join("unc/acme/dl"),
        "a deviceless connection's access name is its directory"
    );
    let rows = listed(&e);
    assert!(
        rows.contains(&("OK".into(), "Z:".into(), ACME.into(), "acme".into())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&(
            "OK".into(),
            String::new(),
            r"\\acme\dl".into(),
            "acme".into()
        )),
        "{rows:?}"
    );
    let r = e.mpr(&["use", "--json"]);
    let dl = r.json()["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["local"] == "")
        .cloned()
        .unwrap();
    assert_eq!(dl["directory"], access.as_str());

    // mpr connects (and remembers), C sees it.
    assert_eq!(
        e.mpr(&["use", "Y:", r"\\acme\b", "--persistent", "--json"])
            .wn(),
        0
    );
    let s = steps(&e, &["get", "Y:", "enum", "1", "enum", "3"]);
    assert_eq!(s[0].f["remote"], r"\\acme\b");
    let entries: Vec<(&str, &str, &str)> = s
        .iter()
        .filter(|s| s.op == "entry")
        .map(|s| {
            (
                s.f["scope"].as_str(),
                s.f["local"].as_str(),
                s.f["remote"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("1", "Z:", ACME),
            ("1", "(null)", r"\\acme\dl"),
            ("1", "Y:", r"\\acme\b"),
            ("3", "Y:", r"\\acme\b"),
        ]
    );

    // C disconnects (forgetting), mpr sees it gone.
    let s = steps(&e, &["cancel", "Y:", "1", "cancel2", "Z:", "0", "0"]);
    assert_eq!(codes(&s), [0, 0]);
    assert_eq!(e.mpr(&["get", "Y:", "--json"]).wn(), 2250);
    assert_eq!(e.mpr(&["get", "Z:", "--json"]).wn(), 2250);
    let r = e.mpr(&["list", "--remembered", "--json"]);
    assert_eq!(
        r.json()["connections"].as_array().unwrap().len(),
        0,
        "{r:?}"
    );
    // And mpr disconnects what C made.
    assert_eq!(e.mpr(&["use", r"\\acme\dl", "--delete", "--json"]).wn(), 0);
    let s = steps(&e, &["enum", "1"]);
    assert_eq!(s.iter().filter(|s| s.op == "entry").count(), 0);
}

// ---------------------------------------------------------------------------
// Set-up errors
// ---------------------------------------------------------------------------

const EVERY_ROUTER_CALL: &[&str] = &[
    "add2",
    "Z:",
    ACME,
    "0",
    "-",
    "add",
    ACME,
    "Z:",
    "use",
    "Z:",
    ACME,
    "0",
    "-",
    "get",
    "Z:",
    "cancel2",
    "Z:",
    "0",
    "0",
    "enum",
    "1",
    "restore",
    "-",
    "lasterror",
];

#[test]
fn a_bad_configuration_fails_every_call_with_wn_bad_profile() {
    let e = Env::new();
    e.config("[providers\norder = 1\n");
    let r = run(&e, "capi_steps", EVERY_ROUTER_CALL, false);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{r:?}");
    for l in &lines[..7] {
        assert!(l.contains("\trc=1206"), "{l} in {r:?}");
    }
    let last = lines[7];
    assert!(
        last.starts_with("lasterror\trc=0\tcode=1206\ttext="),
        "{last}"
    );
    assert!(
        last.contains("mpr.toml"),
        "the message names the file: {last}"
    );
    assert!(last.ends_with("\tprovider=mpr"), "{last}");
    assert_eq!(
        r.stderr.matches("libmpr:").count(),
        1,
        "the setup error is printed once: {}",
        r.stderr
    );
    // WNetSetLastError/WNetGetLastError need no router.
    let s = steps(&e, &["lasterror"]);
    assert_eq!((s[0].rc(), s[0].f["code"].as_str()), (0, "0"));
}

#[test]
fn an_unusable_environment_fails_every_call_with_wn_cannot_open_profile() {
    let e = env_with(&["acme"], &[]);
    // A relative state directory cannot be used.
    let r: Run = c_command(&e, &program("capi_steps"), false)
        .env("MPR_STATE_DIR", "relative/state")
        .args(EVERY_ROUTER_CALL)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{r:?}");
    let s = parse_steps(&r.stdout);
    assert_eq!(codes(&s), [1205, 1205, 1205, 1205, 1205, 1205, 1205, 0]);
    assert!(
        s[7].f["text"].contains("must be an absolute path"),
        "{:?}",
        s[7]
    );
}
