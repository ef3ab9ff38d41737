//! A failure on this machine is reported as what it is, never as the
//! server refusing a login: an ordinary user for whom `/dev/fuse` cannot be
//! opened gets 1222 (`WN_NO_NETWORK`) naming the device, not 1326 or 86.
//!
//! The device is hidden only inside a private mount namespace of the
//! connect (a root-only node bound over `/dev/fuse`), so the rest of the
//! machine and the other tests keep theirs; making that namespace needs
//! root, so these tests are not part of the unprivileged run.

use crate::servers::{Servers, helpers_under, mounted_under};
use crate::util::account_id;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

/// The uid and gid of the fixture's account (`mprtest`).
fn fixture_account(s: &Servers) -> (u32, u32) {
    let user = s.var("MPR_TEST_SSH_USER");
    (account_id(user, "-u"), account_id(user, "-g"))
}

#[test]
fn an_unusable_fuse_device_is_a_local_failure_not_a_refused_login() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root: it hides /dev/fuse in a private mount namespace"
    );
    let s = Servers::get();
    let e = s.provider_env("");
    let (uid, gid) = fixture_account(&s);
    // A fuse device node only root may open.
    let node = e.path("fuse");
    let made = Command::new("mknod")
        .arg(&node)
        .args(["c", "10", "229"])
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The test world belongs to the ordinary user who connects.
    let chown = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(e.root.path())
        .status()
        .unwrap();
    assert!(chown.success());
    std::fs::set_permissions(e.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let node_owner = Command::new("chown")
        .arg("0:0")
        .arg(&node)
        .status()
        .unwrap();
    assert!(node_owner.success());

    let mpr = e.command();
    // A PID namespace too, so that nothing started in there outlives the
    // command: a namespace holds a copy of every mount there was when it
    // was made, and the ssh control master a password connect leaves for
    // 2 minutes would keep other tests' drives served after they unmount
    // them (the crash test found such a server still running 20 s on).
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--mount-proc",
        "--",
        "sh",
        "-c",
    ])
    .arg(r#"mount --bind "$1" /dev/fuse && shift && exec setpriv "$@""#)
    .arg("sh")
    .arg(&node)
    .arg(format!("--reuid={uid}"))
    .arg(format!("--regid={gid}"))
    .arg("--clear-groups")
    .arg(mpr.get_program())
    .args([
        "use",
        "U:",
        &s.sftp_unc("export"),
        "--provider",
        "sftp",
        "--user",
        s.var("MPR_TEST_SSH_USER"),
        "--password-stdin",
    ])
    .env_clear();
    for (k, v) in mpr.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare and setpriv (util-linux)");
    let pw = s.password("MPR_TEST_SSH_PASSWORD_FILE");
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{pw}\n").as_bytes());
    let r: crate::util::Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("mpr: error 1222 (WN_NO_NETWORK)") && r.stderr.contains("/dev/fuse"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains("1326") && !r.stderr.contains("error 86"),
        "{r:?}"
    );
    // Nothing stays behind: no mount, no helper, no connection.
    assert!(!mounted_under(&e.path("drives")));
    assert!(helpers_under(&e.path("drives")).is_empty());
    let mut listing = Command::new("setpriv");
    listing
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(mpr.get_program())
        .args(["use", "--json"])
        .env_clear();
    for (k, v) in mpr.get_envs() {
        if let Some(v) = v {
            listing.env(k, v);
        }
    }
    let list: crate::util::Run = listing.output().unwrap().into();
    let list = list.json();
    assert_eq!(
        list["connections"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
}
