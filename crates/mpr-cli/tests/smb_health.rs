//! An SMB drive on mpr's own file system while its server goes away and
//! comes back: operations fail within `operation_timeout` (never hang), the
//! listing shows the server's health with the reason and never waits on the
//! mount, and the same mount works again once the server is back, without a
//! new `mpr use`. The server is a private smbd of this test
//! (scripts/private-smbd.sh), never the shared one.

use crate::servers::Servers;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A private smbd, cleaned up on drop (the agent's tests use it too).
pub(crate) struct PrivateSmbd {
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
}

impl PrivateSmbd {
    pub(crate) fn script(&self, verb: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/private-smbd.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script).arg(verb).arg(&self.dir);
        if verb == "start" {
            cmd.arg(self.port.to_string());
        }
        let st = cmd.status().unwrap();
        assert!(st.success(), "private-smbd.sh {verb} failed");
    }

    pub(crate) fn start(name: &str) -> PrivateSmbd {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("mpr-cli-{name}-{}", std::process::id()));
        let s = PrivateSmbd { dir, port };
        s.script("start");
        s
    }
}

impl Drop for PrivateSmbd {
    fn drop(&mut self) {
        self.script("clean");
    }
}

/// The row of `local` in `mpr use --json`, and how long the listing took.
fn row(e: &crate::util::Env, local: &str) -> (serde_json::Value, Duration) {
    let t = Instant::now();
    let list = e.mpr(&["use", "--json"]).json();
    let took = t.elapsed();
    let row = list["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["local"] == local)
        .cloned()
        .unwrap_or_else(|| panic!("{local} is not listed: {list}"));
    (row, took)
}

/// A test world whose SMB operations wait at most 3 s, with `local`
/// connected to the share of `smbd`.
fn connected(s: &Servers, smbd: &PrivateSmbd, local: &str) -> crate::util::Env {
    let e = s.provider_env("[providers.smb]\noperation_timeout = 3\n");
    let remote = format!(r"\\127.0.0.1@{}\share", smbd.port);
    let pw = format!("{}\n", s.password("MPR_TEST_SMB_PASSWORD_FILE"));
    let r = e.use_password(local, &remote, Some("smb"), "mprtest", &pw);
    assert_eq!(r.wn(), 0, "{r:?}");
    e
}

#[test]
fn an_smb_drive_rides_out_a_server_restart() {
    let s = Servers::get();
    let smbd = PrivateSmbd::start("restart");
    let e = connected(&s, &smbd, "R:");
    let dir = e.path("drives/R");
    std::fs::write(dir.join("kept.txt"), "before\n").unwrap();
    assert_eq!(row(&e, "R:").0["status"], "OK");

    smbd.script("stop");
    // Nobody touches the drive: its server notices by itself, and the
    // listing (which never waits on the mount) says so within 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let (r, took) = row(&e, "R:");
        assert!(
            took < Duration::from_secs(2),
            "the listing waited {took:?} during an outage"
        );
        if r["status"] != "OK" {
            break r;
        }
        assert!(Instant::now() < deadline, "still OK 10 s into the outage");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(r["status"], "Reconnecting", "{r}");
    assert!(r["reason"].is_string(), "the listing says why: {r}");
    assert!(r["next_attempt"].is_u64(), "and when it tries again: {r}");
    let text = e.mpr(&["use"]);
    assert!(text.stdout.contains("R: reconnecting: "), "{text:?}");
    // A name not cached yet goes to the server: it fails with EIO within
    // the bound (3 s, plus slack for a loaded machine), not later, not never.
    let t = Instant::now();
    let err = std::fs::metadata(dir.join("not-cached-1")).unwrap_err();
    let took = t.elapsed();
    assert_eq!(err.raw_os_error(), Some(5), "{err}");
    assert!(took < Duration::from_secs(10), "an outage op took {took:?}");

    smbd.script("again");
    // The same mount heals underneath, by itself: no new `mpr use`, no
    // operation needed.
    let deadline = Instant::now() + Duration::from_secs(15);
    while row(&e, "R:").0["status"] != "OK" {
        assert!(Instant::now() < deadline, "{}", row(&e, "R:").0);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(row(&e, "R:").0["reason"].is_null());
    assert_eq!(
        std::fs::read_to_string(dir.join("kept.txt")).unwrap(),
        "before\n"
    );
    std::fs::write(dir.join("after.txt"), "after\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(smbd.dir.join("share/after.txt")).unwrap(),
        "after\n"
    );
    let r = e.mpr(&["use", "R:", "--delete", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
}

#[test]
fn a_share_gone_from_its_server_is_unavailable_with_the_reason() {
    let s = Servers::get();
    let smbd = PrivateSmbd::start("gone");
    let e = connected(&s, &smbd, "G:");
    let dir = e.path("drives/G");
    assert_eq!(row(&e, "G:").0["status"], "OK");

    // The server comes back without the share: every request of the drive
    // fails, so the drive is not OK, and the listing says why.
    smbd.script("stop");
    let conf = smbd.dir.join("smb.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("[share]"), "{text}");
    std::fs::write(&conf, text.replace("[share]", "[elsewhere]")).unwrap();
    smbd.script("again");
    let deadline = Instant::now() + Duration::from_secs(20);
    let r = loop {
        let (r, took) = row(&e, "G:");
        assert!(took < Duration::from_secs(2), "the listing waited {took:?}");
        if r["status"] == "Unavailable" {
            break r;
        }
        assert!(Instant::now() < deadline, "not Unavailable after 20 s: {r}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let reason = r["reason"].as_str().unwrap_or_else(|| panic!("{r}"));
    assert!(reason.contains("share"), "{reason}");
    // It stays so (no flapping back through Reconnecting) while the
    // share is gone.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(row(&e, "G:").0["status"], "Unavailable");
    }
    // A request fails with EIO within the bound, never hangs.
    let t = Instant::now();
    let err = std::fs::metadata(dir.join("not-cached")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(5), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let r = e.mpr(&["use", "G:", "--delete", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
}
