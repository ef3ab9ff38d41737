//! The built-in `sftp` provider against the private sshd on 127.0.0.1.

use crate::servers::{Servers, all_cmdlines, helpers_under, mounted_under};
use std::time::Duration;

#[test]
fn connect_write_read_list_get_cancel() {
    let s = Servers::get();
    let e = s.provider_env("");
    let export = s.path("MPR_TEST_SSH_EXPORT");
    let url = format!(
        "sftp://mprtest@127.0.0.1:{}{}",
        s.var("MPR_TEST_SSH_PORT"),
        export.display()
    );
    let r = e.mpr(&["use", "S:", &url, "--provider", "sftp", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    let dir = e.path("drives/S");
    assert_eq!(r.json()["directory"], dir.display().to_string());
    // Write through the mount, find it on the server.
    let name = format!("from-mpr-{}.txt", std::process::id());
    std::fs::write(dir.join(&name), "written through mpr\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(export.join(&name)).unwrap(),
        "written through mpr\n"
    );
    // Read a file made on the server side.
    let server_side = format!("server-{}.txt", std::process::id());
    std::fs::write(export.join(&server_side), "made on the server\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join(&server_side)).unwrap(),
        "made on the server\n"
    );
    let list = e.mpr(&["use", "--json"]).json();
    assert_eq!(list["connections"][0]["status"], "OK");
    assert_eq!(list["connections"][0]["provider"], "sftp");
    assert_eq!(
        e.mpr(&["get", "S:", "--json"]).json()["remote"],
        url.as_str()
    );
    // The notifyee saw PRE and POST, POST naming the provider.
    let post = e
        .calls()
        .into_iter()
        .find(|c| c.kind == 'N' && c.phase == "post")
        .unwrap();
    assert_eq!((post.get("status"), post.get("provider")), ("0", "SFTP"));
    let r = e.mpr(&["use", "S:", "--delete", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(!mounted_under(&e.path("drives")), "nothing stays mounted");
    let cancel_post = e.calls().into_iter().rfind(|c| c.kind == 'N').unwrap();
    assert_eq!(
        (
            cancel_post.op.as_str(),
            cancel_post.phase.as_str(),
            cancel_post.get("provider")
        ),
        ("cancel", "post", "SFTP")
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        helpers_under(&e.path("drives")).is_empty(),
        "{:?}",
        helpers_under(&e.path("drives"))
    );
    let _ = std::fs::remove_file(export.join(&name));
    let _ = std::fs::remove_file(export.join(&server_side));
}

#[test]
fn bare_unc_name_goes_to_sftp_by_cycling() {
    let s = Servers::get();
    let e = s.provider_env("");
    let r = e.mpr(&["use", "T:", &s.sftp_unc("export2"), "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["provider"], "sftp");
    assert!(e.path("drives/T").read_dir().is_ok());
    assert_eq!(e.mpr(&["use", "T:", "--delete", "--json"]).wn(), 0);
}

/// Writes through the mount at `dir` and finds the file in `server_dir`,
/// then reads back through the mount a file made in `server_dir`.
fn round_trip(dir: &std::path::Path, server_dir: &std::path::Path, tag: &str) {
    let via = format!("{tag}-via-mount-{}.txt", std::process::id());
    let made = format!("{tag}-on-server-{}.txt", std::process::id());
    std::fs::write(dir.join(&via), format!("written through {tag}\n")).unwrap();
    assert_eq!(
        std::fs::read_to_string(server_dir.join(&via)).unwrap(),
        format!("written through {tag}\n")
    );
    std::fs::write(
        server_dir.join(&made),
        format!("made on the server for {tag}\n"),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join(&made)).unwrap(),
        format!("made on the server for {tag}\n")
    );
    let _ = std::fs::remove_file(server_dir.join(&via));
    let _ = std::fs::remove_file(server_dir.join(&made));
}

#[test]
fn password_from_stdin_never_in_any_argv() {
    let s = Servers::get();
    let e = s.provider_env("");
    let pw = s.password("MPR_TEST_SSH_PASSWORD_FILE");
    let mut child = e
        .command()
        .args([
            "use",
            "U:",
            &s.sftp_unc("export2"),
            "--provider",
            "sftp",
            "--user",
            "mprtest",
            "--password-stdin",
            "--json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{pw}\n").as_bytes())
        .unwrap();
    // Scan every argv while the connect runs.
    let mut seen = false;
    for _ in 0..50 {
        if all_cmdlines().contains(&pw) {
            seen = true;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let r: crate::util::Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(
        !seen && !all_cmdlines().contains(&pw),
        "the password appeared in an argv"
    );
    for f in ["state/journal.jsonl", "run/connections.toml"] {
        assert!(
            !std::fs::read_to_string(e.path(f)).unwrap().contains(&pw),
            "{f}"
        );
    }
    // A mount made with a password works both ways, like one made with
    // the key.
    round_trip(
        &e.path("drives/U"),
        &s.path("MPR_TEST_SSH_EXPORT2"),
        "sftp-password",
    );
    assert_eq!(e.mpr(&["use", "U:", "--delete", "--json"]).wn(), 0);
    assert!(!mounted_under(&e.path("drives")), "nothing stays mounted");
    std::thread::sleep(Duration::from_millis(100));
    assert!(helpers_under(&e.path("drives")).is_empty());
}

#[test]
fn wrong_password_is_wn_bad_password_and_leaves_nothing() {
    let s = Servers::get();
    let e = s.provider_env("");
    let r = e.use_password(
        "V:",
        &s.sftp_unc("export"),
        Some("sftp"),
        "mprtest",
        "not-the-password\n",
    );
    assert_eq!(r.wn(), 86, "{r:?}");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("refused the login"),
        "{r:?}"
    );
    assert!(!mounted_under(&e.path("drives")));
    std::thread::sleep(Duration::from_millis(100));
    assert!(helpers_under(&e.path("drives")).is_empty());
    assert_eq!(
        e.mpr(&["use", "--json"]).json()["connections"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn closed_port_is_error_bad_netpath() {
    let s = Servers::get();
    let e = s.provider_env("");
    let closed_port = crate::util::ClosedPort::new();
    let closed = closed_port.port;
    let r = e.mpr(&[
        "use",
        "W:",
        &format!(r"\\127.0.0.1@{closed}\export"),
        "--provider",
        "sftp",
        "--json",
    ]);
    assert_eq!(r.wn(), 53, "{r:?}");
    assert!(r.stderr.contains("Connection refused"), "{}", r.stderr);
    assert!(!mounted_under(&e.path("drives")));
}

#[test]
fn missing_directory_is_wn_bad_netname() {
    let s = Servers::get();
    let e = s.provider_env("");
    let r = e.mpr(&[
        "use",
        "X:",
        &s.sftp_unc("no-such-dir"),
        "--provider",
        "sftp",
        "--json",
    ]);
    assert_eq!(r.wn(), 67, "{r:?}");
    assert!(!mounted_under(&e.path("drives")));
}

#[test]
fn silent_server_times_out_and_the_helper_is_killed() {
    let s = Servers::get();
    let e = s.provider_env("connect_timeout = 1\n");
    // A listener that accepts and never speaks.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let conns: Vec<_> = l.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(4));
        drop(conns);
    });
    let started = std::time::Instant::now();
    // The URL form skips the greeting probe: mpr-fsd itself is started, and
    // killed at the deadline.
    let r = e.mpr(&[
        "use",
        "Y:",
        &format!("sftp://mprtest@127.0.0.1:{port}/x"),
        "--provider",
        "sftp",
        "--json",
    ]);
    assert_eq!(r.wn(), 53, "{r:?}");
    assert!(
        r.json()["message"].as_str().unwrap().contains("timed out"),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(!mounted_under(&e.path("drives")));
    assert!(helpers_under(&e.path("drives")).is_empty());
    holder.join().unwrap();
}

#[test]
fn killed_helper_shows_unavailable_and_use_or_restore_repairs() {
    let s = Servers::get();
    let e = s.provider_env("");
    let unc = s.sftp_unc("export");
    assert_eq!(
        e.mpr(&["use", "R:", &unc, "--persistent", "--json"]).wn(),
        0
    );
    let kill_helper = || {
        let dir = e.path("drives/R").display().to_string();
        let out = std::process::Command::new("pkill")
            .args(["-KILL", "-f", &format!("mpr-fsd {dir}")])
            .status()
            .unwrap();
        assert!(out.success(), "no mpr-fsd to kill");
        std::thread::sleep(Duration::from_millis(200));
    };
    kill_helper();
    let list = e.mpr(&["use", "--json"]).json();
    assert_eq!(list["connections"][0]["status"], "Unavailable", "{list}");
    assert_eq!(e.mpr(&["get", "R:", "--json"]).wn(), 1201);
    let r = e.mpr(&["restore", "--json"]);
    assert_eq!(r.json()["results"][0]["restored"], true, "{r:?}");
    assert_eq!(
        e.mpr(&["use", "--json"]).json()["connections"][0]["status"],
        "OK"
    );
    kill_helper();
    let r = e.mpr(&["use", "R:", &unc, "--json"]);
    assert_eq!(r.wn(), 0, "a use of the same remote repairs: {r:?}");
    assert!(e.path("drives/R").read_dir().is_ok());
    assert_eq!(e.mpr(&["use", "R:", "--delete", "--json"]).wn(), 0);
}

#[test]
fn delete_without_force_keeps_a_busy_connection() {
    let s = Servers::get();
    let e = s.provider_env("");
    assert_eq!(
        e.mpr(&["use", "Q:", &s.sftp_unc("export"), "--json"]).wn(),
        0
    );
    let dir = e.path("drives/Q");
    let f = std::fs::File::create(dir.join(format!("open-{}.txt", std::process::id()))).unwrap();
    let r = e.mpr(&["use", "Q:", "--delete", "--json"]);
    assert_eq!(r.wn(), 2401, "{r:?}");
    assert_eq!(
        e.mpr(&["use", "--json"]).json()["connections"][0]["status"],
        "OK"
    );
    let r = e.mpr(&["use", "Q:", "--delete", "--force", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    drop(f);
    assert!(!mounted_under(&dir));

    // A file closed while the cancel asks (as a descriptor a forked child
    // shared for a moment goes) does not make it fail.
    assert_eq!(
        e.mpr(&["use", "Q:", &s.sftp_unc("export"), "--json"]).wn(),
        0
    );
    let f = std::fs::File::open(dir.join(format!("open-{}.txt", std::process::id()))).unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(f);
    });
    let r = e.mpr(&["use", "Q:", "--delete", "--json"]);
    closer.join().unwrap();
    assert_eq!(r.wn(), 0, "a file closed a moment later: {r:?}");
    assert!(!mounted_under(&dir));
    let _ = std::fs::remove_file(
        s.path("MPR_TEST_SSH_EXPORT")
            .join(format!("open-{}.txt", std::process::id())),
    );
}

// See: issue 11. A connect killed with SIGKILL at any moment leaves either
// nothing or a connection the next command sees and can remove: never a
// mount and a helper that no command knows about.
#[test]
fn a_connect_killed_at_any_moment_leaves_nothing_behind_the_next_command() {
    let s = Servers::get();
    let e = s.provider_env("");
    let url = format!(
        "sftp://mprtest@127.0.0.1:{}{}",
        s.var("MPR_TEST_SSH_PORT"),
        s.path("MPR_TEST_SSH_EXPORT").display()
    );
    let drives = e.path("drives");
    for delay_ms in [0u64, 10, 30, 60, 100, 150, 250, 400] {
        let mut child = e
            .command()
            .args(["use", "K:", &url, "--provider", "sftp"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        // The next command (a listing) cleans what the killed one left.
        let list = e.mpr(&["use", "--json"]);
        assert_eq!(list.wn(), 0, "{list:?}");
        let listed = list.json()["connections"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["local"] == "K:"));
        if listed {
            let r = e.mpr(&["use", "K:", "--delete", "--json"]);
            assert_eq!(r.wn(), 0, "after {delay_ms} ms: {r:?}");
        }
        assert!(
            !mounted_under(&drives),
            "after a kill at {delay_ms} ms a mount stayed (listed: {listed})"
        );
        assert!(
            helpers_under(&drives).is_empty(),
            "after a kill at {delay_ms} ms a helper stayed: {:?}",
            helpers_under(&drives)
        );
        // And the name connects again.
        let r = e.mpr(&["use", "K:", &url, "--provider", "sftp", "--json"]);
        assert_eq!(r.wn(), 0, "after {delay_ms} ms: {r:?}");
        assert_eq!(e.mpr(&["use", "K:", "--delete", "--json"]).wn(), 0);
    }
}

/// A server whose host key changed (a new sshd with a new key on the same
/// address): its own error, 1208 with the reason, never cycled past, and
/// nothing mounted, no server left.
#[test]
fn a_changed_host_key_is_extended_error_and_mounts_nothing() {
    let s = Servers::get();
    let mut sshd = crate::agent::PrivateSshd::start(&s);
    let e = crate::util::Env::new();
    e.config(&format!(
        "[providers]\norder = [\"sftp\", \"smb\", \"webdav\"]\n[providers.sftp]\nssh_config = \"{}\"\n",
        sshd.ssh_config(&s).display()
    ));
    let r = e.mpr(&["use", "H:", &sshd.remote(), "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(e.mpr(&["use", "H:", "--delete", "--json"]).wn(), 0);
    sshd.new_host_key();
    sshd.again();
    for remote in [
        sshd.remote(),
        // A bare name is claimed by sftp (an SSH server greets there), and
        // the host key stops the cycle.
        format!(
            r"\\127.0.0.1@{}{}",
            sshd.remote()
                .rsplit_once(':')
                .unwrap()
                .1
                .split_once('/')
                .unwrap()
                .0,
            sshd.served.path().display().to_string().replace('/', r"\")
        ),
    ] {
        let r = e.mpr(&["use", "H:", &remote, "--json"]);
        assert_eq!(r.wn(), 1208, "{remote}: {r:?}");
        let msg = r.json()["message"].as_str().unwrap().to_string();
        assert!(
            msg.contains("is unknown or has changed; check it with ssh first"),
            "{msg}"
        );
        assert_eq!(r.json()["extended"]["provider"], "SFTP", "{r:?}");
        assert!(!mounted_under(&e.path("drives")));
        std::thread::sleep(Duration::from_millis(100));
        assert!(helpers_under(&e.path("drives")).is_empty());
    }
}
