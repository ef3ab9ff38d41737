//! The checks every built-in provider must pass, run for sftp, smb and
//! webdav against the loopback servers: argv never holds the password while
//! a connect runs, the notifyee's POST names the provider for connect and
//! cancel, a helper killed behind mpr's back shows as unavailable and is
//! repaired by restore and by a new use, a busy connection survives a
//! delete without --force, and a notifyee's veto comes before anything
//! reaches the server.

use crate::servers::{Servers, all_cmdlines, helpers_under, mounted_under, recorded_server};
use crate::util::{Env, Run};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

struct Case {
    provider: &'static str,
    display: &'static str,
    helper: &'static str,
    remote: String,
    user: String,
    password: String,
}

fn cases(s: &Servers) -> Vec<Case> {
    vec![
        Case {
            provider: "sftp",
            display: "SFTP",
            helper: "mpr-fsd",
            remote: s.sftp_unc("export"),
            user: s.var("MPR_TEST_SSH_USER").into(),
            password: s.password("MPR_TEST_SSH_PASSWORD_FILE"),
        },
        Case {
            provider: "smb",
            display: "SMB",
            helper: "mpr-fsd",
            remote: format!(r"\\127.0.0.1@{}\share", s.var("MPR_TEST_SMB_PORT")),
            user: s.var("MPR_TEST_SMB_USER").into(),
            password: s.password("MPR_TEST_SMB_PASSWORD_FILE"),
        },
        Case {
            provider: "webdav",
            display: "WebDAV",
            helper: "mpr-fsd",
            remote: format!("dav://127.0.0.1:{}/", s.var("MPR_TEST_DAV_PORT")),
            user: s.var("MPR_TEST_DAV_USER").into(),
            password: s.password("MPR_TEST_DAV_PASSWORD_FILE"),
        },
    ]
}

/// Connects `local` for `c`, scanning every argv while the connect runs.
fn connect(e: &Env, c: &Case, local: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "use",
        local,
        &c.remote,
        "--provider",
        c.provider,
        "--user",
        &c.user,
        "--password-stdin",
        "--json",
    ];
    args.extend_from_slice(extra);
    let mut child = e
        .command()
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", c.password).as_bytes())
        .unwrap();
    let mut seen = false;
    while child.try_wait().unwrap().is_none() {
        seen |= all_cmdlines().contains(&c.password);
        std::thread::sleep(Duration::from_millis(3));
    }
    let r: Run = child.wait_with_output().unwrap().into();
    assert!(
        !seen && !all_cmdlines().contains(&c.password),
        "{}: the password appeared in an argv",
        c.provider
    );
    r
}

fn kill_helper(e: &Env, c: &Case, letter: &str) {
    signal_helper(e, c, letter, "KILL");
    std::thread::sleep(Duration::from_millis(200));
}

/// Sends `signal` to the helper (or mpr-fsd) serving drive `letter`.
fn signal_helper(e: &Env, c: &Case, letter: &str, signal: &str) {
    let dir = e.path(&format!("drives/{letter}"));
    let ok = if c.helper == "mpr-fsd" {
        // Its argv does not name the mount: it is found by its recorded pid.
        let pid = recorded_server(&e.path("run"), c.provider, &dir);
        let pid = pid.unwrap_or_else(|| panic!("{}: no server recorded", c.provider));
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap()
    } else {
        std::process::Command::new("pkill")
            .args([
                &format!("-{signal}"),
                "-f",
                &format!("{}.*{}", c.helper, dir.display()),
            ])
            .status()
            .unwrap()
    };
    assert!(ok.success(), "{}: no helper to signal", c.provider);
}

#[test]
fn a_stopped_helper_never_freezes_the_listing() {
    let s = Servers::get();
    for c in cases(&s) {
        let e = s.provider_env("");
        let r = connect(&e, &c, "H:", &[]);
        assert_eq!(r.wn(), 0, "{}: {r:?}", c.provider);
        signal_helper(&e, &c, "H", "STOP");
        // Past the kernel's attribute cache, a stat would wait for ever.
        std::thread::sleep(Duration::from_millis(1500));
        let t = std::time::Instant::now();
        let list = e.mpr(&["use", "--json"]).json();
        let took = t.elapsed();
        signal_helper(&e, &c, "H", "CONT");
        assert!(
            took < Duration::from_secs(5),
            "{}: the listing took {took:?} with a stopped helper",
            c.provider
        );
        let row = &list["connections"][0];
        assert_eq!(row["status"], "Unavailable", "{}: {list}", c.provider);
        assert!(
            row["reason"]
                .as_str()
                .unwrap_or("")
                .contains("does not answer"),
            "{}: {list}",
            c.provider
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            e.mpr(&["use", "--json"]).json()["connections"][0]["status"],
            "OK",
            "{}: back once the helper runs again",
            c.provider
        );
        let r = e.mpr(&["use", "H:", "--delete", "--json"]);
        assert_eq!(r.wn(), 0, "{}: {r:?}", c.provider);
    }
}

#[test]
fn every_provider_keeps_secrets_names_itself_and_is_repaired() {
    let s = Servers::get();
    for c in cases(&s) {
        let e = s.provider_env("");
        let r = connect(&e, &c, "K:", &["--persistent"]);
        assert_eq!(r.wn(), 0, "{}: {r:?}", c.provider);
        let post = e.calls().into_iter().rfind(|x| x.kind == 'N').unwrap();
        assert_eq!(
            (post.op.as_str(), post.phase.as_str(), post.get("provider")),
            ("add", "post", c.display),
            "{}",
            c.provider
        );
        for f in [
            "state/journal.jsonl",
            "state/remembered.toml",
            "run/connections.toml",
        ] {
            assert!(
                !std::fs::read_to_string(e.path(f))
                    .unwrap()
                    .contains(&c.password),
                "{}: {f}",
                c.provider
            );
        }

        kill_helper(&e, &c, "K");
        let list = e.mpr(&["use", "--json"]).json();
        assert_eq!(
            list["connections"][0]["status"], "Unavailable",
            "{}: {list}",
            c.provider
        );
        assert_eq!(e.mpr(&["get", "K:", "--json"]).wn(), 1201, "{}", c.provider);
        // Restore has no password to give: key-based SFTP comes back; the
        // others report their login failure and stay unavailable.
        let r = e.mpr(&["restore", "--json"]);
        if c.provider == "sftp" {
            assert_eq!(r.json()["results"][0]["restored"], true, "{r:?}");
            kill_helper(&e, &c, "K");
        } else {
            assert_eq!(r.code, 1, "{}: {r:?}", c.provider);
        }
        // A use of the same remote (with the password) repairs it.
        let r = connect(&e, &c, "K:", &[]);
        assert_eq!(
            r.wn(),
            0,
            "{}: a use of the same remote repairs: {r:?}",
            c.provider
        );
        assert_eq!(
            e.mpr(&["use", "--json"]).json()["connections"][0]["status"],
            "OK",
            "{}",
            c.provider
        );

        // Busy: no --force keeps it; --force takes it away.
        let dir = e.path("drives/K");
        let f = std::fs::File::open(&dir).unwrap();
        let r = e.mpr(&["use", "K:", "--delete", "--json"]);
        assert_eq!(r.wn(), 2401, "{}: {r:?}", c.provider);
        assert_eq!(
            e.mpr(&["get", "K:", "--json"]).wn(),
            0,
            "{}: still connected",
            c.provider
        );
        let r = e.mpr(&["use", "K:", "--delete", "--force", "--json"]);
        assert_eq!(r.wn(), 0, "{}: {r:?}", c.provider);
        drop(f);
        let post = e.calls().into_iter().rfind(|x| x.kind == 'N').unwrap();
        assert_eq!(
            (post.op.as_str(), post.phase.as_str(), post.get("provider")),
            ("cancel", "post", c.display),
            "{}",
            c.provider
        );
        std::thread::sleep(Duration::from_millis(150));
        assert!(!mounted_under(&dir), "{}: still mounted", c.provider);
        assert!(
            helpers_under(&dir).is_empty(),
            "{}: {:?}",
            c.provider,
            helpers_under(&dir)
        );
    }
}

/// A notifyee's veto in PRE comes before anything reaches the network:
/// neither a connect asked of a built-in provider by name (which starts
/// its file-system server early) nor a bare name (whose checks speak to
/// the server) touches the server, and nothing started early is left.
#[test]
fn a_vetoed_connect_reaches_no_server_and_leaves_nothing() {
    let s = Servers::get();
    let e = s.provider_env("");
    e.behave("watcher.conf", "add_pre=1223\n");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let unc = format!(r"\\127.0.0.1@{port}\share");
    let url = format!("dav://127.0.0.1:{port}/share");
    let asked: [(&str, &[&str]); 4] = [
        (&unc, &["--provider", "smb"]),
        (&unc, &["--provider", "sftp"]),
        (&url, &["--provider", "webdav"]),
        (&unc, &[]),
    ];
    for (remote, provider) in asked {
        let mut args = vec!["use", "N:", remote];
        args.extend_from_slice(provider);
        args.push("--json");
        let r = e.mpr(&args);
        assert_eq!(r.wn(), 1223, "{args:?}: {r:?}");
    }
    match listener.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a vetoed connect reached the server: {other:?}"),
    }
    assert!(helpers_under(&e.path("drives")).is_empty());
    assert!(!mounted_under(&e.path("drives")));
}

/// The harness's own cleanup, which every test relies on when it fails
/// half-way: a test's world dropped with its drives still mounted leaves
/// no mount and no server process behind, and removing its directory never
/// reaches through a mount into the server's files.
#[test]
fn a_world_dropped_with_drives_mounted_leaves_nothing_mounted_and_the_server_files_whole() {
    let s = Servers::get();
    for (c, server_dir) in cases(&s).iter().zip([
        s.path("MPR_TEST_SSH_EXPORT"),
        s.path("MPR_TEST_SMB_SHARE_DIR"),
        s.path("MPR_TEST_DAV_DIR"),
    ]) {
        let e = s.provider_env("");
        let r = connect(&e, c, "K:", &[]);
        assert_eq!(r.wn(), 0, "{}: {r:?}", c.provider);
        let name = format!("dropped-{}-{}.txt", c.provider, std::process::id());
        std::fs::write(e.path("drives/K").join(&name), "stays\n").unwrap();
        let (root, drives) = (e.root.path().to_path_buf(), e.path("drives"));
        drop(e);
        assert!(!mounted_under(&drives), "{}: still mounted", c.provider);
        let t = std::time::Instant::now();
        while !helpers_under(&drives).is_empty() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            helpers_under(&drives).is_empty(),
            "{}: {:?}",
            c.provider,
            helpers_under(&drives)
        );
        assert!(!root.exists(), "{}", c.provider);
        let on_server = server_dir.join(&name);
        assert_eq!(
            std::fs::read_to_string(&on_server).unwrap(),
            "stays\n",
            "{}",
            c.provider
        );
        std::fs::remove_file(on_server).unwrap();
    }
}
