//! Saved credentials against a real keyring: a gnome-keyring-daemon on a
//! private D-Bus session bus (scripts/test-keyring.sh), and the real SMB
//! server of the loopback fixture. The secret must never show up outside
//! the keyring: not in output, state files, the journal, nor the argv or
//! environment of any process.

use crate::servers::{Servers, all_cmdlines, mounted_under};
use crate::util::{Env, Run, repo};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private session bus with an unlocked gnome-keyring on it, for one
/// test; stopped (bus, daemon and all) when dropped (the agent's tests use
/// it too).
pub(crate) struct Keyring {
    child: Child,
    pub(crate) address: String,
}

impl Keyring {
    pub(crate) fn start(e: &Env) -> Keyring {
        let dir = e.path("keyring");
        let addr_file = dir.join("address");
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("bash")
            .arg(repo().join("scripts/test-keyring.sh"))
            .args([
                "run",
                "sh",
                "-c",
                r#"printf %s "$DBUS_SESSION_BUS_ADDRESS" > "$1.tmp" && mv "$1.tmp" "$1" && exec sleep 600"#,
                "sh",
            ])
            .arg(&addr_file)
            .env("MPR_KEYRING_DIR", &dir)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut k = Keyring {
            child,
            address: String::new(),
        };
        let start = Instant::now();
        loop {
            if let Ok(a) = std::fs::read_to_string(&addr_file) {
                k.address = a;
                return k;
            }
            if let Ok(Some(status)) = k.child.try_wait() {
                panic!(
                    "scripts/test-keyring.sh ended ({status}) before the keyring was ready: install gnome-keyring and dbus (bash scripts/ci-deps.sh)"
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the keyring did not start within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `mpr ARGS` with this keyring.
    pub(crate) fn mpr(&self, e: &Env, args: &[&str]) -> Run {
        e.command()
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(args)
            .output()
            .unwrap()
            .into()
    }

    /// `mpr ARGS` with this keyring and `input` on standard input.
    pub(crate) fn mpr_stdin(&self, e: &Env, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = e
            .command()
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        child.wait_with_output().unwrap().into()
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let pgid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::TERM);
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, read (those that can be).
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            out.extend(files_under(&p));
        } else if ft.is_file()
            && let Ok(b) = std::fs::read(&p)
        {
            out.push((p, b));
        }
    }
    out
}

/// The files under `dir` that contain `secret`.
pub(crate) fn files_with(dir: &Path, secret: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|(_, b)| b.windows(secret.len()).any(|w| w == secret.as_bytes()))
        .map(|(p, _)| p)
        .collect()
}

/// Every process's environment that can be read, joined.
fn all_environs() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(env) = std::fs::read(entry.path().join("environ")) {
            all.push_str(&String::from_utf8_lossy(&env).replace('\0', " "));
            all.push('\n');
        }
    }
    all
}

#[test]
fn cred_add_list_delete_keep_the_secret_in_the_keyring() {
    let e = Env::new();
    e.config("");
    let k = Keyring::start(&e);
    let secret = format!("s3cret-{}-list", std::process::id());
    let r = k.mpr(&e, &["cred", "list"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "There are no saved credentials.\n"),
        "{r:?}"
    );
    // Two users of one server, in both spellings of its target.
    let r = k.mpr_stdin(
        &e,
        &[
            "cred",
            "add",
            "smb://NAS:4445",
            "--user",
            "alice",
            "--password-stdin",
        ],
        &format!("{secret}-a\n"),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = k.mpr_stdin(
        &e,
        &[
            "cred",
            "add",
            r"\\nas@4445",
            "--user",
            "bob",
            "--password-stdin",
            "--json",
        ],
        &format!("{secret}-b\n"),
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"version": 1, "code": 0, "name": "WN_SUCCESS", "target": "smb://nas:4445", "provider": "smb", "user": "bob"})
    );
    let r = k.mpr_stdin(
        &e,
        &[
            "cred",
            "add",
            "davs://web:443/",
            "--user",
            "alice",
            "--password-stdin",
        ],
        &format!("{secret}-c\n"),
    );
    assert_eq!(r.code, 0, "{r:?}");

    let r = k.mpr(&e, &["cred", "list", "--json"]);
    assert_eq!(
        r.json()["credentials"],
        serde_json::json!([
            {"target": "smb://nas:4445", "provider": "smb", "user": "alice"},
            {"target": "smb://nas:4445", "provider": "smb", "user": "bob"},
            {"target": "davs://web", "provider": "webdav", "user": "alice"},
        ])
    );
    let text = k.mpr(&e, &["cred", "list"]);
    assert_eq!(
        text.stdout.lines().collect::<Vec<_>>(),
        [
            "Target          User   Provider",
            "-------------------------------",
            "smb://nas:4445  alice  smb",
            "smb://nas:4445  bob    smb",
            "davs://web      alice  webdav",
        ],
        "{text:?}"
    );
    for out in [&r, &text] {
        assert!(!out.stdout.contains(&secret) && !out.stderr.contains(&secret));
    }
    // The keyring holds each user's own secret (read with libsecret's tool).
    let lookup = |user: &str| {
        let o = Command::new("secret-tool")
            .args([
                "lookup",
                "application",
                "mpr",
                "provider",
                "smb",
                "host",
                "nas",
                "port",
                "4445",
                "user",
                user,
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &k.address)
            .output()
            .expect("secret-tool (apt-get install libsecret-tools)");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(lookup("alice"), format!("{secret}-a"));
    assert_eq!(lookup("bob"), format!("{secret}-b"));
    // Nothing of mpr's own holds it.
    for d in ["state", "run", "etc", "xdg", "home"] {
        assert_eq!(
            files_with(&e.path(d), &secret),
            Vec::<PathBuf>::new(),
            "{d}"
        );
    }

    // Delete one user, then the rest of a server; deleting nothing is fine.
    let r = k.mpr(&e, &["cred", "delete", "smb://nas:4445", "--user", "bob"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            0,
            "Deleted the saved credential of bob for smb://nas:4445.\n"
        ),
        "{r:?}"
    );
    assert_eq!(lookup("bob"), "");
    assert_eq!(lookup("alice"), format!("{secret}-a"));
    let r = k.mpr(&e, &["cred", "delete", r"\\NAS@4445", "--json"]);
    assert_eq!(r.json()["deleted"], 1, "{r:?}");
    let r = k.mpr(&e, &["cred", "delete", "smb://nas:4445", "--json"]);
    assert_eq!((r.code, r.json()["deleted"].as_u64()), (0, Some(0)));
    let r = k.mpr(&e, &["cred", "list", "--json"]);
    assert_eq!(
        r.json()["credentials"].as_array().unwrap().len(),
        1,
        "{r:?}"
    );

    // A target with a path, a user or another scheme is a usage error.
    for bad in [
        "smb://nas/share",
        "smb://bob@nas",
        "http://nas",
        r"\\nas\share",
    ] {
        let r = k.mpr_stdin(
            &e,
            &["cred", "add", bad, "--user", "u", "--password-stdin"],
            "x\n",
        );
        assert_eq!(r.code, 2, "{bad}: {r:?}");
    }
}

#[test]
fn without_a_secret_service_savecred_fails_before_anything_happens() {
    let s = Servers::get();
    let e = s.provider_env("");
    let remote = format!(r"\\127.0.0.1@{}\share", s.var("MPR_TEST_SMB_PORT"));
    let pw = s.password("MPR_TEST_SMB_PASSWORD_FILE");
    let mut child = e
        .command()
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .args([
            "use",
            "S:",
            &remote,
            "--user",
            "mprtest",
            "--password-stdin",
            "--persistent",
            "--savecred",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pw}\n").as_bytes());
    }
    let r: Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, 2, "{r:?}");
    let j = r.json();
    assert_eq!(j["name"], "WN_NOT_SUPPORTED", "{j}");
    let msg = j["message"].as_str().unwrap();
    assert!(
        msg.contains("no Secret Service") && msg.contains("gnome-keyring"),
        "{msg}"
    );
    assert!(r.stderr.contains("gnome-keyring"), "{r:?}");
    // Nothing connected, remembered, notified or journalled.
    assert!(!mounted_under(&e.path("drives")));
    assert!(
        !e.path("state/remembered.toml").exists(),
        "{:?}",
        files_under(&e.path("state"))
    );
    assert!(e.journal().is_empty(), "{:?}", e.journal());
    assert!(e.calls().is_empty(), "{:?}", e.calls());
    assert_eq!(
        e.mpr(&["use", "--json"]).json()["connections"],
        serde_json::json!([])
    );
    for d in ["state", "run", "drives", "home"] {
        assert_eq!(files_with(&e.path(d), &pw), Vec::<PathBuf>::new(), "{d}");
    }

    // The other ways --savecred cannot work are usage errors, found first.
    let r = e.mpr(&["use", "S:", &remote, "--savecred"]);
    assert_eq!(r.code, 2, "--savecred needs --user: {r:?}");
    let r = e.mpr(&["use", "S:", &remote, "--user", "mprtest", "--savecred"]);
    assert_eq!(r.code, 2, "--savecred needs a password: {r:?}");
    assert!(r.stderr.contains("--password-stdin"), "{r:?}");
    let r = e.mpr(&["use", "S:", "--delete", "--savecred"]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn savecred_lets_restore_and_use_connect_again_without_a_password() {
    let s = Servers::get();
    let e = s.provider_env("");
    let k = Keyring::start(&e);
    let port = s.var("MPR_TEST_SMB_PORT");
    let remote = format!(r"\\127.0.0.1@{port}\share");
    let pw = s.password("MPR_TEST_SMB_PASSWORD_FILE");

    let r = k.mpr_stdin(
        &e,
        &[
            "use",
            "Y:",
            &remote,
            "--user",
            "mprtest",
            "--password-stdin",
            "--persistent",
            "--savecred",
            "--json",
        ],
        &format!("{pw}\n"),
    );
    assert_eq!(r.wn(), 0, "{r:?}");
    let target = format!("smb://127.0.0.1:{port}");
    assert_eq!(r.json()["saved_credential"], target.as_str(), "{r:?}");
    let listed = k.mpr(&e, &["cred", "list", "--json"]);
    assert_eq!(
        listed.json()["credentials"],
        serde_json::json!([{"target": target, "provider": "smb", "user": "mprtest"}])
    );

    // While connected, with the credential saved: the secret is nowhere but
    // in the keyring (state, journal, runtime files and helpers' logs, argv
    // and environment of every process).
    let check_nowhere = |when: &str| {
        for d in ["state", "run", "etc", "xdg", "home"] {
            assert_eq!(
                files_with(&e.path(d), &pw),
                Vec::<PathBuf>::new(),
                "{when}: {d}"
            );
        }
        assert!(
            !all_cmdlines().contains(&pw),
            "{when}: the password is in an argv"
        );
        assert!(
            !all_environs().contains(&pw),
            "{when}: the password is in an environment"
        );
        let list = k.mpr(&e, &["cred", "list"]);
        assert!(!list.stdout.contains(&pw) && !list.stderr.contains(&pw));
    };
    check_nowhere("after use --savecred");

    // Disconnect but keep it remembered; restore needs no password now.
    let r = k.mpr(
        &e,
        &["use", "Y:", "--delete", "--keep-remembered", "--json"],
    );
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(!mounted_under(&e.path("drives/Y")));
    let r = k.mpr(&e, &["restore", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["results"][0]["restored"], true, "{r:?}");
    assert!(mounted_under(&e.path("drives/Y")));
    let server_file = format!("cred-{}.txt", std::process::id());
    std::fs::write(e.path("drives/Y").join(&server_file), "restored\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(s.path("MPR_TEST_SMB_SHARE_DIR").join(&server_file)).unwrap(),
        "restored\n"
    );
    let _ = std::fs::remove_file(s.path("MPR_TEST_SMB_SHARE_DIR").join(&server_file));
    check_nowhere("after restore");

    // A plain `mpr use` of another share of that server, as that user, with
    // no password, takes the saved one too: a bare UNC name, so sftp and
    // smb are both asked, each for its own credential.
    let share2 = format!(r"\\127.0.0.1@{port}\{}", s.var("MPR_TEST_SMB_SHARE2"));
    let r = k.mpr(&e, &["use", "X:", &share2, "--user", "mprtest", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["provider"], "smb");

    // Another user of the same server has a credential of their own: the
    // wrong password saved for them is the one sent (the login fails),
    // never mprtest's.
    let r = k.mpr_stdin(
        &e,
        &[
            "cred",
            "add",
            &target,
            "--user",
            "intruder",
            "--password-stdin",
        ],
        "not-the-password\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = k.mpr(
        &e,
        &[
            "use",
            "W:",
            &remote,
            "--provider",
            "smb",
            "--user",
            "intruder",
            "--json",
        ],
    );
    assert_ne!(r.wn(), 0, "{r:?}");

    // Once the credential is deleted, restore is back to failing the login
    // (and says which drive without a doubled colon).
    let r = k.mpr(&e, &["use", "Y:", "--delete", "--keep-remembered"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = k.mpr(&e, &["cred", "delete", &target, "--user", "mprtest"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = k.mpr(&e, &["restore"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Y: was not restored: "), "{r:?}");
    assert!(!r.stderr.contains("Y::"), "{r:?}");
    check_nowhere("at the end");

    for l in ["X:", "Y:"] {
        let _ = e.mpr(&["use", l, "--delete", "--force"]);
    }
    assert!(!mounted_under(&e.path("drives")));
}
