//! Trusted loading through `mpr` (spec §3): refused plugins are reported
//! with path and reason, audited, and handled by their policy.

use crate::util::{Env, notifyee, provider};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Copies a compiled plugin to `dir/name` with `mode`.
fn copy_plugin(src: &Path, dir: &Path, name: &str, mode: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::copy(src, &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn config(e: &Env, notifyee_path: &Path, policy: &str) {
    e.config(&format!(
        "[providers]\norder = [\"acme\"]\n[providers.acme]\npath = \"{}\"\n[notifyees.bad]\npath = \"{}\"\npolicy = \"{policy}\"\n",
        provider("acme").display(),
        notifyee_path.display()
    ));
}

fn check_refused(e: &Env, path: &Path, reason: &str) {
    // Under the default policy (veto) the operation fails with WN_ACCESS_DENIED.
    config(e, path, "veto");
    let r = e.mpr(&["use", "Z:", r"\\acme\s", "--json"]);
    assert_eq!(r.wn(), 5, "{r:?}");
    assert!(
        r.stderr.contains(&path.display().to_string()) && r.stderr.contains(reason),
        "{}",
        r.stderr
    );
    assert!(
        e.calls().iter().all(|c| c.kind != 'N'),
        "a refused plugin is never loaded"
    );
    assert!(
        e.journal()
            .iter()
            .any(|j| j["event"] == "refused" && j["reason"].as_str().unwrap().contains(reason))
    );
    // Under advisory the operation goes on without it.
    config(e, path, "advisory");
    let r = e.mpr(&["use", "Z:", r"\\acme\s", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(r.stderr.contains(reason), "{}", r.stderr);
    assert!(e.calls().iter().all(|c| c.kind != 'N'));
}

#[test]
fn refuses_world_writable_plugin() {
    let e = Env::new();
    let p = copy_plugin(&notifyee("bad"), &e.path("plugins"), "ww.so", 0o666);
    check_refused(&e, &p, "world-writable");
}

#[test]
fn refuses_plugin_in_group_writable_directory() {
    let e = Env::new();
    let dir = e.path("gw");
    let p = copy_plugin(&notifyee("bad"), &dir, "n.so", 0o644);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
    check_refused(&e, &p, "group-writable");
}

#[test]
fn refuses_plugin_owned_by_another_user_when_root() {
    let e = Env::new();
    let p = copy_plugin(&notifyee("bad"), &e.path("plugins"), "foreign.so", 0o644);
    if rustix_euid() == 0 {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        check_refused(&e, &p, "owned by uid 65534");
    } else {
        // Not root: a root-owned file is fine, so check a file we cannot own.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
        check_refused(&e, &p, "group-writable");
    }
}

#[test]
fn refuses_symlink_to_a_refused_file() {
    let e = Env::new();
    let target = copy_plugin(&notifyee("bad"), &e.path("plugins"), "real.so", 0o646);
    let link = e.path("plugins/link.so");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    check_refused(&e, &link, "world-writable");
}

#[test]
fn a_refused_provider_is_skipped_with_a_warning() {
    let e = Env::new();
    let bad = copy_plugin(&provider("alpha"), &e.path("plugins"), "np.so", 0o666);
    e.config(&format!(
        "[providers]\norder = [\"alpha\", \"beta\"]\n[providers.alpha]\npath = \"{}\"\n[providers.beta]\npath = \"{}\"\n",
        bad.display(),
        provider("beta").display()
    ));
    e.behave("np-beta.conf", "owns=alpha\n");
    let r = e.mpr(&["use", "Z:", r"\\alpha\s", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["provider"], "beta");
    assert!(
        r.stderr.contains("world-writable") && r.stderr.contains("np.so"),
        "{}",
        r.stderr
    );
    let r = e.mpr(&["use", "Y:", r"\\alpha\s", "--provider", "alpha", "--json"]);
    assert_eq!(
        r.wn(),
        5,
        "an explicit request for a refused provider is denied: {r:?}"
    );
}

#[test]
fn a_library_without_exports_is_ignored_at_load_time() {
    let e = Env::new();
    let none = crate::util::compile(
        "notifyee_script.c",
        "notify_none",
        &["NOTIFYEE_NAME=\"none\"", "NO_ADD", "NO_CANCEL"],
    );
    config(&e, &none, "veto");
    let r = e.mpr(&["use", "Z:", r"\\acme\s", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(
        r.stderr
            .contains("exports neither AddConnectNotify nor CancelConnectNotify"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_provider_without_npgetcaps_is_refused() {
    let e = Env::new();
    let np = crate::util::compile(
        "provider_script.c",
        "np_nocaps",
        &["PROVIDER_TAG=\"nocaps\"", "NO_GETCAPS"],
    );
    e.config(&format!(
        "[providers]\norder = [\"nocaps\"]\n[providers.nocaps]\npath = \"{}\"\n",
        np.display()
    ));
    let r = e.mpr(&["use", "Z:", r"\\nocaps\s", "--json"]);
    assert!(
        r.stderr.contains("does not export NPGetCaps"),
        "{}",
        r.stderr
    );
    assert_eq!(r.wn(), 1222, "no provider can add: {r:?}");
}

fn rustix_euid() -> u32 {
    // The tests run as root in CI; as a user the checks differ (see above).
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Runs `mpr` and fails the test if it has not finished within `bound`: a
/// hang must fail, not stall the suite.
fn mpr_within(e: &Env, args: &[&str], bound: std::time::Duration) -> crate::util::Run {
    use std::io::Read;
    let mut child = e
        .command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`mpr {}` hung (killed after {bound:?})", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    crate::util::Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Paths that are not regular files, each with what mpr must call it: a
/// FIFO (opening it would block), a unix socket, a device that never ends,
/// a directory and a loop of symlinks. The socket's listener is returned
/// so that it stays bound.
fn strange_paths(
    e: &Env,
) -> (
    Vec<(PathBuf, &'static str)>,
    std::os::unix::net::UnixListener,
) {
    let dir = e.path("strange");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fifo = dir.join("fifo.so");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let sock = dir.join("sock.so");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let sub = dir.join("dir.so");
    std::fs::create_dir(&sub).unwrap();
    let a = dir.join("loop-a.so");
    std::os::unix::fs::symlink(dir.join("loop-b.so"), &a).unwrap();
    std::os::unix::fs::symlink(&a, dir.join("loop-b.so")).unwrap();
    (
        vec![
            (fifo, "is a FIFO"),
            (sock, "is a socket"),
            (PathBuf::from("/dev/zero"), "is a character device"),
            (sub, "is a directory"),
            (a, "is a loop of symbolic links"),
        ],
        listener,
    )
}

const BOUND: std::time::Duration = std::time::Duration::from_secs(10);

// See: issue 11 (a FIFO named as a plugin path hung `mpr use` and `mpr
// notifyee list`; `/dev/zero` made `mpr notifyee list` hash for ever).
#[test]
fn a_strange_notifyee_path_is_refused_without_hanging() {
    let e = Env::new();
    let (paths, _listener) = strange_paths(&e);
    for (path, what) in &paths {
        let shown = path.display().to_string();
        for policy in ["veto", "advisory"] {
            config(&e, path, policy);
            let r = mpr_within(&e, &["use", "Z:", r"\\acme\s", "--json"], BOUND);
            let want = if policy == "veto" { 5 } else { 0 };
            assert_eq!(r.wn(), want, "{shown} under {policy}: {r:?}");
            assert!(
                r.stderr.contains(&shown) && r.stderr.contains(what),
                "{shown}: {}",
                r.stderr
            );
            if policy == "advisory" {
                let r = mpr_within(&e, &["use", "Z:", "--delete", "--json"], BOUND);
                assert_eq!(r.wn(), 0, "{r:?}");
            }
        }
        config(&e, path, "veto");
        let r = mpr_within(&e, &["use", "--json"], BOUND);
        assert_eq!(r.wn(), 0, "{shown}: {r:?}");
        let r = mpr_within(&e, &["use"], BOUND);
        assert_eq!(r.code, 0, "{shown}: {r:?}");
        let r = mpr_within(&e, &["notifyee", "list", "--json"], BOUND);
        assert_eq!(r.wn(), 0, "{shown}: {r:?}");
        let row = &r.json()["notifyees"][0];
        assert_eq!(row["trust"], "refused", "{shown}: {row}");
        assert!(
            row["reason"].as_str().unwrap().contains(what),
            "{shown}: {row}"
        );
        assert!(row["sha256"].is_null(), "{shown} was hashed: {row}");
        let r = mpr_within(&e, &["notifyee", "list"], BOUND);
        assert_eq!(r.code, 0, "{shown}: {r:?}");
        assert!(r.stdout.contains(what), "{shown}: {r:?}");
    }
    assert!(
        e.calls().iter().all(|c| c.kind != 'N'),
        "nothing strange was loaded"
    );
}

#[test]
fn a_strange_provider_path_is_refused_without_hanging() {
    let e = Env::new();
    let (paths, _listener) = strange_paths(&e);
    for (path, what) in &paths {
        let shown = path.display().to_string();
        e.config(&format!(
            "[providers]\norder = [\"odd\", \"acme\"]\n[providers.odd]\npath = \"{}\"\n[providers.acme]\npath = \"{}\"\n",
            path.display(),
            provider("acme").display()
        ));
        // Named explicitly, the refused provider is denied.
        let r = mpr_within(
            &e,
            &["use", "Y:", r"\\acme\s", "--provider", "odd", "--json"],
            BOUND,
        );
        assert_eq!(r.wn(), 5, "{shown}: {r:?}");
        assert!(
            r.stderr.contains(&shown) && r.stderr.contains(what),
            "{shown}: {}",
            r.stderr
        );
        // Cycling skips it with a warning that names it.
        let r = mpr_within(&e, &["use", "Z:", r"\\acme\s", "--json"], BOUND);
        assert_eq!(r.wn(), 0, "{shown}: {r:?}");
        assert_eq!(r.json()["provider"], "acme");
        assert!(r.stderr.contains(what), "{shown}: {}", r.stderr);
        let r = mpr_within(&e, &["use", "--json"], BOUND);
        assert_eq!(r.wn(), 0, "{shown}: {r:?}");
        let r = mpr_within(&e, &["use"], BOUND);
        assert_eq!(r.code, 0, "{shown}: {r:?}");
        let r = mpr_within(&e, &["notifyee", "list", "--json"], BOUND);
        assert_eq!(r.wn(), 0, "{shown}: {r:?}");
        let r = mpr_within(&e, &["provider", "list", "--json"], BOUND);
        assert_eq!(r.wn(), 0, "{shown}: {r:?}");
        assert!(r.stdout.contains(what), "{shown}: {r:?}");
        let r = mpr_within(&e, &["use", "Z:", "--delete", "--json"], BOUND);
        assert_eq!(r.wn(), 0, "{shown}: {r:?}");
    }
}

// See: issue 11 (a plugin below a world-writable sticky directory such as
// /tmp was loaded).
#[test]
fn refuses_plugin_below_a_sticky_world_writable_directory() {
    let e = Env::new();
    let dir = e.path("sticky");
    let p = copy_plugin(&notifyee("bad"), &dir.join("inner"), "n.so", 0o644);
    std::fs::set_permissions(dir.join("inner"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    check_refused(&e, &p, "world-writable (mode 1777, sticky bit or not)");
}

// See: issue 11 (every file that configuration names is opened without
// blocking and refused unless regular: sftp's `ssh_config` too).
#[test]
fn a_strange_ssh_config_is_refused_at_once() {
    let e = Env::new();
    let (paths, _listener) = strange_paths(&e);
    for (path, what) in &paths {
        let shown = path.display().to_string();
        e.config(&format!(
            "[providers]\norder = [\"sftp\"]\n[providers.sftp]\nssh_config = \"{shown}\"\n"
        ));
        let r = mpr_within(
            &e,
            &[
                "use",
                "Z:",
                "sftp://127.0.0.1:1/x",
                "--provider",
                "sftp",
                "--json",
            ],
            BOUND,
        );
        assert_eq!(r.wn(), 5, "{shown}: {r:?}");
        assert!(
            r.stderr.contains("ssh_config") && r.stderr.contains(&shown) && r.stderr.contains(what),
            "{shown}: {}",
            r.stderr
        );
        // The provider refused it within 100 ms (its own time, as the
        // journal records it, not the whole command's).
        let took = e
            .journal()
            .iter()
            .rev()
            .find(|r| r["event"] == "provider")
            .and_then(|r| r["duration_us"].as_u64())
            .unwrap_or_else(|| panic!("{shown}: no provider event in the journal"));
        assert!(took < 100_000, "{shown}: refused after {took} µs");
        assert!(
            !crate::servers::mounted_under(&e.path("drives")),
            "{shown}: something was mounted"
        );
    }
}

// See: issue 11 (mpr's own settings and state files are opened without
// blocking too: a FIFO or a device in their place is an error at once).
#[test]
fn strange_settings_and_state_files_are_refused_without_hanging() {
    let e = Env::new();
    let (paths, _listener) = strange_paths(&e);
    let system = e.path("etc/mpr.toml");
    let user_dir = e.path("xdg/mpr");
    std::fs::create_dir_all(&user_dir).unwrap();
    let user = user_dir.join("mpr.toml");
    let state = e.path("state/remembered.toml");
    let place = |link: &Path, target: &Path| {
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(target, link).unwrap();
    };
    for (path, what) in &paths {
        let shown = path.display();
        // The system settings, then the user's: WN_BAD_PROFILE naming the file.
        for file in [&system, &user] {
            place(file, path);
            let r = mpr_within(&e, &["use", "--json"], BOUND);
            assert_eq!(r.wn(), 1206, "{} -> {shown}: {r:?}", file.display());
            assert!(
                r.stderr.contains(&file.display().to_string()),
                "{shown}: {}",
                r.stderr
            );
            if *what != "is a loop of symbolic links" && *what != "is a socket" {
                assert!(r.stderr.contains(what), "{shown}: {}", r.stderr);
            }
            std::fs::remove_file(file).unwrap();
        }
        // The remembered connections: WN_CANNOT_OPEN_PROFILE, left as they were.
        place(&state, path);
        let r = mpr_within(&e, &["use", "--json"], BOUND);
        assert_eq!(r.wn(), 1205, "{shown}: {r:?}");
        assert_eq!(std::fs::read_link(&state).unwrap(), *path);
        std::fs::remove_file(&state).unwrap();
    }
    // With the strange files gone, everything works again.
    let r = mpr_within(&e, &["use", "--json"], BOUND);
    assert_eq!(r.code, 0, "{r:?}");
}
