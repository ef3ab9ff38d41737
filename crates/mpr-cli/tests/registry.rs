//! `mpr notifyee list|add|remove` and `mpr provider list`: registration in
//! the system mpr.toml (spec §3), checked before it is written.

use crate::util::{Env, compile, notifyee, provider};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils)");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn config_text(e: &Env) -> String {
    std::fs::read_to_string(e.path("etc/mpr.toml")).unwrap()
}

fn acme_only(e: &Env) {
    e.config(&format!(
        "# Site configuration: keep this comment.\n[providers]\norder = [\"acme\"] # only acme\n[providers.acme]\npath = \"{}\"\nname = \"Acme Network\"\n\n[router]\nmax_retry_rounds = 2\n",
        provider("acme").display()
    ));
}

#[test]
fn add_then_list_then_use_calls_it_then_remove() {
    let e = Env::new();
    acme_only(&e);
    let alpha = notifyee("alpha");
    let beta = notifyee("beta");
    let r = e.mpr(&[
        "notifyee",
        "add",
        "alpha",
        alpha.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.wn(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["notifyee"]["name"], "alpha");
    assert_eq!(j["notifyee"]["sha256"], sha256(&alpha));
    assert_eq!(
        j["notifyee"]["exports"],
        serde_json::json!(["AddConnectNotify", "CancelConnectNotify"])
    );
    let r = e.mpr(&[
        "notifyee",
        "add",
        "beta",
        beta.to_str().unwrap(),
        "--policy",
        "advisory",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Notifyee beta is registered"), "{r:?}");

    // The rest of the file is kept; the entries are appended in order.
    let text = config_text(&e);
    assert!(
        text.starts_with("# Site configuration: keep this comment.\n[providers]\norder = [\"acme\"] # only acme\n"),
        "{text}"
    );
    assert!(text.contains("max_retry_rounds = 2"), "{text}");
    assert!(
        text.find("alpha =").unwrap() < text.find("beta =").unwrap(),
        "{text}"
    );
    let mode = std::fs::metadata(e.path("etc/mpr.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);

    // list: PRE order, newest first.
    let r = e.mpr(&["notifyee", "list", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    let rows = r.json()["notifyees"].as_array().unwrap().clone();
    let names: Vec<&str> = rows.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["beta", "alpha"]);
    assert_eq!(rows[0]["pre_order"], 1);
    assert_eq!(rows[0]["registration"], 2);
    assert_eq!(rows[0]["policy"], "advisory");
    assert_eq!(rows[1]["policy"], "veto");
    assert_eq!(rows[0]["trust"], "ok");
    assert_eq!(rows[0]["sha256"], sha256(&beta));
    assert_eq!(rows[1]["isolation"], "inprocess");
    let r = e.mpr(&["notifyee", "list"]);
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("PRE  Name"), "{}", r.stdout);
    assert!(lines[2].starts_with("1    beta"), "{}", r.stdout);
    assert!(lines[3].starts_with("2    alpha"), "{}", r.stdout);
    assert!(r.stdout.contains(&sha256(&alpha)), "{}", r.stdout);
    assert!(
        r.stdout.contains("newest registration first"),
        "{}",
        r.stdout
    );

    // A connect calls them: PRE newest first.
    let r = e.mpr(&["use", "Z:", r"\\acme\s", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(
        e.notes(),
        ["beta:pre", "alpha:pre", "alpha:post", "beta:post"]
    );

    // remove: beta is gone, alpha stays.
    let r = e.mpr(&["notifyee", "remove", "beta", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["notifyee"]["name"], "beta");
    e.clear_log();
    assert_eq!(e.mpr(&["use", "Z:", "--delete", "--json"]).wn(), 0);
    assert_eq!(e.notes(), ["alpha:pre", "alpha:post"]);
    let text = config_text(&e);
    assert!(!text.contains("beta"), "{text}");
    assert!(text.starts_with("# Site configuration"), "{text}");

    // Registrations are audited.
    let events: Vec<String> = e
        .journal()
        .iter()
        .filter(|j| j["event"] == "registry")
        .map(|j| {
            format!(
                "{} {}",
                j["action"].as_str().unwrap(),
                j["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(events, ["add alpha", "add beta", "remove beta"]);
}

#[test]
fn add_creates_a_missing_file_and_keeps_builtins() {
    let e = Env::new();
    let alpha = notifyee("alpha");
    let r = e.mpr(&[
        "notifyee",
        "add",
        "alpha",
        alpha.to_str().unwrap(),
        "--isolation",
        "process",
        "--timeout-ms",
        "2500",
        "--json",
    ]);
    assert_eq!(r.wn(), 0, "{r:?}");
    let n = &r.json()["notifyee"];
    assert_eq!(n["isolation"], "process");
    assert_eq!(n["timeout_ms"], 2500);
    let text = config_text(&e);
    assert!(text.contains("[notifyees]"), "{text}");
    let r = e.mpr(&["provider", "list", "--json"]);
    let keys: Vec<String> = r.json()["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["sftp", "smb", "webdav"]);
}

#[test]
fn add_refuses_a_duplicate_or_bad_name() {
    let e = Env::new();
    acme_only(&e);
    let alpha = notifyee("alpha");
    let p = alpha.to_str().unwrap();
    assert_eq!(e.mpr(&["notifyee", "add", "alpha", p]).code, 0);
    let before = config_text(&e);
    let r = e.mpr(&["notifyee", "add", "alpha", p, "--json"]);
    assert_eq!((r.code, r.wn()), (1, 87), "{r:?}");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{r:?}"
    );
    let r = e.mpr(&["notifyee", "add", "alpha", p]);
    assert!(
        r.stderr.contains("mpr: error 87 (WN_BAD_VALUE)") && r.stderr.contains("hint:"),
        "{r:?}"
    );
    for bad in ["has space", "", "slash/name"] {
        let r = e.mpr(&["notifyee", "add", bad, p, "--json"]);
        assert_eq!((r.code, r.wn()), (1, 123), "{bad:?}: {r:?}");
    }
    assert_eq!(config_text(&e), before, "nothing was written");
}

#[test]
fn add_refuses_a_library_without_exports() {
    let e = Env::new();
    acme_only(&e);
    let none = compile(
        "notifyee_script.c",
        "notify_none",
        &["NOTIFYEE_NAME=\"none\"", "NO_ADD", "NO_CANCEL"],
    );
    let before = config_text(&e);
    let r = e.mpr(&["notifyee", "add", "none", none.to_str().unwrap(), "--json"]);
    assert_eq!((r.code, r.wn()), (1, 87), "{r:?}");
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("exports neither AddConnectNotify nor CancelConnectNotify")
            && msg.contains(none.to_str().unwrap()),
        "{msg}"
    );
    assert_eq!(config_text(&e), before, "nothing was written");
    // A library exporting one of the two is fine.
    let add_only = compile(
        "notifyee_script.c",
        "notify_addonly",
        &["NOTIFYEE_NAME=\"addonly\"", "NO_CANCEL"],
    );
    let r = e.mpr(&[
        "notifyee",
        "add",
        "addonly",
        add_only.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(
        r.json()["notifyee"]["exports"],
        serde_json::json!(["AddConnectNotify"])
    );
    // A file that is not a library at all.
    let junk = e.path("plugins/junk.so");
    std::fs::create_dir_all(junk.parent().unwrap()).unwrap();
    std::fs::write(&junk, "not an ELF file").unwrap();
    let r = e.mpr(&["notifyee", "add", "junk", junk.to_str().unwrap(), "--json"]);
    assert_eq!((r.code, r.wn()), (1, 87), "{r:?}");
    // A missing file.
    let r = e.mpr(&["notifyee", "add", "gone", "/nonexistent/lib.so", "--json"]);
    assert_eq!((r.code, r.wn()), (1, 87), "{r:?}");
}

fn copy_plugin(src: &Path, dir: &Path, name: &str, mode: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::copy(src, &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn add_refuses_a_library_failing_the_trust_checks() {
    let e = Env::new();
    acme_only(&e);
    let before = config_text(&e);
    let ww = copy_plugin(&notifyee("alpha"), &e.path("plugins"), "ww.so", 0o666);
    let r = e.mpr(&["notifyee", "add", "ww", ww.to_str().unwrap(), "--json"]);
    assert_eq!((r.code, r.wn()), (1, 5), "{r:?}");
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains(ww.to_str().unwrap()) && msg.contains("world-writable"),
        "{msg}"
    );
    let r = e.mpr(&["notifyee", "add", "ww", ww.to_str().unwrap()]);
    assert!(
        r.stderr.contains("mpr: error 5 (WN_ACCESS_DENIED)") && r.stderr.contains("world-writable"),
        "{r:?}"
    );
    // In a group-writable directory.
    let gw = e.path("gw");
    std::fs::create_dir_all(&gw).unwrap();
    std::fs::set_permissions(&gw, std::fs::Permissions::from_mode(0o775)).unwrap();
    let p = copy_plugin(&notifyee("alpha"), &gw, "a.so", 0o644);
    let r = e.mpr(&["notifyee", "add", "gw", p.to_str().unwrap(), "--json"]);
    assert_eq!(r.wn(), 5, "{r:?}");
    assert!(r.stderr.contains("group-writable"), "{r:?}");
    assert_eq!(config_text(&e), before, "nothing was written");

    // A registered library that later fails the checks is listed as refused.
    let ok = copy_plugin(&notifyee("alpha"), &e.path("plugins"), "ok.so", 0o644);
    assert_eq!(
        e.mpr(&["notifyee", "add", "ok", ok.to_str().unwrap(), "--json"])
            .wn(),
        0
    );
    std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o666)).unwrap();
    let r = e.mpr(&["notifyee", "list", "--json"]);
    let row = &r.json()["notifyees"][0];
    assert_eq!(row["trust"], "refused", "{r:?}");
    assert!(
        row["reason"].as_str().unwrap().contains("world-writable"),
        "{r:?}"
    );
    let r = e.mpr(&["notifyee", "list"]);
    assert!(r.stdout.contains("refused: "), "{}", r.stdout);
}

#[test]
fn add_without_write_permission_is_access_denied() {
    let e = Env::new();
    acme_only(&e);
    let alpha = notifyee("alpha");
    let before = config_text(&e);
    let euid = rustix::process::geteuid().as_raw();
    let r: crate::util::Run = if euid == 0 {
        // As root, run mpr as nobody against a root-owned 0755 directory.
        std::fs::set_permissions(e.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(e.path("etc"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_mpr"))
            .args(["notifyee", "add", "alpha", alpha.to_str().unwrap()])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("MPR_CONFIG_DIR", e.path("etc"))
            .env("MPR_STATE_DIR", "/nonexistent/state")
            .env("MPR_RUNTIME_DIR", "/nonexistent/run")
            .env("XDG_CONFIG_HOME", "/nonexistent/xdg");
        c.output().expect("setpriv (util-linux)").into()
    } else {
        std::fs::set_permissions(e.path("etc"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let r = e.mpr(&["notifyee", "add", "alpha", alpha.to_str().unwrap()]);
        std::fs::set_permissions(e.path("etc"), std::fs::Permissions::from_mode(0o755)).unwrap();
        r
    };
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("mpr: error 5 (WN_ACCESS_DENIED)")
            && r.stderr.contains("hint:")
            && r.stderr.contains("root"),
        "{r:?}"
    );
    assert_eq!(config_text(&e), before);
}

#[test]
fn remove_of_an_unknown_name_is_bad_value() {
    let e = Env::new();
    let r = e.mpr(&["notifyee", "remove", "nope", "--json"]);
    assert_eq!((r.code, r.wn()), (1, 87), "{r:?}");
    acme_only(&e);
    let r = e.mpr(&["notifyee", "remove", "nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no notifyee named nope") && r.stderr.contains("mpr notifyee list"),
        "{r:?}"
    );
}

#[test]
fn a_malformed_config_is_not_edited_and_exits_2() {
    let e = Env::new();
    e.config("[notifyees]\nx = 5\n");
    let r = e.mpr(&[
        "notifyee",
        "add",
        "alpha",
        notifyee("alpha").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("mpr.toml:2"), "{r:?}");
    assert_eq!(config_text(&e), "[notifyees]\nx = 5\n");
    assert_eq!(e.mpr(&["notifyee", "list"]).code, 2);
    assert_eq!(e.mpr(&["notifyee", "remove", "x"]).code, 2);
}

#[test]
fn a_bad_builtin_option_fails_notifyee_list_as_it_fails_use() {
    let e = Env::new();
    e.config("[providers.sftp]\nconnect_timeout = 0\n");
    let r = e.mpr(&["notifyee", "list"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("mpr.toml:2"), "{r:?}");
    assert!(r.stderr.contains("connect_timeout"), "{r:?}");
}

#[test]
fn list_without_notifyees() {
    let e = Env::new();
    let r = e.mpr(&["notifyee", "list"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("There are no registered notifyees"),
        "{r:?}"
    );
    let r = e.mpr(&["notifyee", "list", "--json"]);
    assert_eq!(r.json()["notifyees"], serde_json::json!([]));
}

#[test]
fn provider_list_shows_order_caps_origin_and_refusals() {
    let e = Env::new();
    let ww = copy_plugin(&provider("bad"), &e.path("plugins"), "ww.so", 0o666);
    e.config(&format!(
        "[providers]\norder = [\"acme\", \"smb\", \"bad\"]\n[providers.acme]\npath = \"{}\"\nname = \"Acme Network\"\n[providers.bad]\npath = \"{}\"\n",
        provider("acme").display(),
        ww.display()
    ));
    e.behave("np-acme.conf", "caps_connection=13\n");
    let r = e.mpr(&["provider", "list", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    let p = r.json()["providers"].as_array().unwrap().clone();
    assert_eq!(p.len(), 3);
    assert_eq!(
        (&p[0]["order"], &p[0]["key"], &p[0]["name"]),
        (
            &serde_json::json!(1),
            &serde_json::json!("acme"),
            &serde_json::json!("Acme Network")
        )
    );
    assert_eq!(p[0]["caps"], 13);
    assert_eq!(
        p[0]["capabilities"],
        serde_json::json!(["add", "get", "add3"])
    );
    assert_eq!(p[0]["builtin"], false);
    assert_eq!(p[0]["path"], provider("acme").display().to_string());
    assert_eq!(p[0]["status"], "ready");
    assert_eq!(
        (&p[1]["key"], &p[1]["builtin"]),
        (&serde_json::json!("smb"), &serde_json::json!(true))
    );
    assert_eq!(p[1]["path"], serde_json::Value::Null);
    assert_eq!(p[2]["status"], "refused");
    assert!(
        p[2]["reason"].as_str().unwrap().contains("world-writable"),
        "{p:?}"
    );
    let r = e.mpr(&["provider", "list"]);
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("Order  Key"), "{}", r.stdout);
    assert!(
        lines[2].contains("Acme Network") && lines[2].contains("add, get, add3"),
        "{}",
        r.stdout
    );
    assert!(lines[3].contains("built-in"), "{}", r.stdout);
    assert!(
        lines[4].contains("refused: ") && lines[4].contains("world-writable"),
        "{}",
        r.stdout
    );
}

#[test]
fn concurrent_adds_all_land() {
    let e = Env::new();
    acme_only(&e);
    let alpha = notifyee("alpha");
    let names: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let (e, alpha) = (&e, &alpha);
            s.spawn(move || {
                let r = e.mpr(&["notifyee", "add", n, alpha.to_str().unwrap(), "--json"]);
                assert_eq!(r.wn(), 0, "{r:?}");
            });
        }
    });
    let r = e.mpr(&["notifyee", "list", "--json"]);
    let mut got: Vec<String> = r.json()["notifyees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, names, "the lock serialises the rewrites");
    assert!(config_text(&e).starts_with("# Site configuration"));
}

#[test]
fn a_process_isolated_library_is_only_loaded_in_a_host() {
    let e = Env::new();
    acme_only(&e);
    let crashy = crate::util::compile("crash_on_load.c", "crash_on_load", &[]);
    let path = crashy.display().to_string();
    // In process, merely loading it kills the loader: that is the risk
    // isolation removes, and `notifyee add` of an isolated one must survive.
    let r = e.mpr(&[
        "notifyee",
        "add",
        "crashy",
        &path,
        "--isolation",
        "process",
        "--json",
    ]);
    assert_eq!(r.code, 1, "mpr survived and refused it: {r:?}");
    assert_eq!(r.wn(), 87, "{r:?}");
    assert!(
        !config_text(&e).contains("crashy"),
        "nothing was registered"
    );
    // Registered by hand, `list` survives too and shows the refusal.
    std::fs::write(
        e.path("etc/mpr.toml"),
        format!("{}\n[notifyees.crashy]\npath = \"{path}\"\nisolation = \"process\"\ntimeout_ms = 2000\n", config_text(&e)),
    )
    .unwrap();
    let r = e.mpr(&["notifyee", "list", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("crashy"), "{r:?}");
}
