//! `mpr agent` as a real process (a child with `NOTIFY_SOCKET` pointing at a
//! datagram socket of the test), against real servers: the shared loopback
//! fixture where nothing is stopped, and private servers of the test (sshd,
//! smbd, `rclone serve webdav` on free ports) where a server is stopped and
//! started again. Every wait has a bound; nothing sleeps and hopes.

use crate::cred::{Keyring, files_with};
use crate::servers::{Servers, alive, all_cmdlines, mounted_under, recorded_server};
use crate::smb_health::PrivateSmbd;
use crate::util::{Env, Run};
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A running `mpr agent`, and the socket it sends its notifications to.
struct Agent {
    child: Child,
    notify: UnixDatagram,
    log: PathBuf,
}

impl Agent {
    /// Starts `mpr agent` in `e` (with the keyring's bus when given),
    /// prefixed by `wrap` (e.g. `unshare --net`).
    fn start(e: &Env, dbus: Option<&Keyring>, wrap: &[&str]) -> Agent {
        let n = std::fs::read_dir(e.root.path()).unwrap().count();
        let socket = e.path(&format!("notify-{n}"));
        let notify = UnixDatagram::bind(&socket).unwrap();
        let log = e.path(&format!("agent-{n}.log"));
        let base = e.command();
        let mut cmd = match wrap.split_first() {
            None => Command::new(base.get_program()),
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(base.get_program());
                c
            }
        };
        cmd.env_clear();
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        if let Some(k) = dbus {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", &k.address);
        }
        let child = cmd
            .arg("agent")
            .env("NOTIFY_SOCKET", &socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {wrap:?} mpr agent: {e} (unshare: apt-get install util-linux)")
            });
        Agent { child, notify, log }
    }

    /// The next notification within `wait`.
    fn next(&self, wait: Duration) -> Option<String> {
        self.notify.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        let n = self.notify.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Waits for `READY=1`; panics after `bound`.
    fn ready(&self, bound: Duration) {
        let until = Instant::now() + bound;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(m) if m.lines().any(|l| l == "READY=1") => return,
                Some(_) => {}
                None => break,
            }
        }
        panic!("no READY=1 within {bound:?}; {}", self.stderr());
    }

    /// Waits until the agent has looked once and repairs nothing (its
    /// restores at start are over); panics after `bound`.
    fn settled(&self, bound: Duration) {
        let until = Instant::now() + bound;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(m) if m.contains("repairing 0 (look") && !m.contains("(look 0") => return,
                Some(_) => {}
                None => break,
            }
        }
        panic!(
            "the agent did not settle within {bound:?}; {}",
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        format!(
            "the agent's stderr: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, signal);
    }

    /// SIGTERM, and the exit status (within 5 s).
    fn stop(mut self) -> i32 {
        self.signal(rustix::process::Signal::TERM);
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(Instant::now() < until, "the agent ignored SIGTERM for 5 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.try_wait().unwrap().is_none() {
            self.signal(rustix::process::Signal::KILL);
            let _ = self.child.wait();
        }
    }
}

/// Polls `f` every 100 ms until it gives a value; panics with `what` (and
/// the last thing it saw) after `bound`.
fn within<T>(bound: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let until = Instant::now() + bound;
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= until => {
                panic!("{what}: not within {bound:?}; last: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The rows of `mpr use --json`, and how long the listing took.
fn listing(e: &Env) -> (Vec<Value>, Duration) {
    let t = Instant::now();
    let r = e.mpr(&["use", "--json"]);
    let took = t.elapsed();
    let rows = r.json()["connections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (rows, took)
}

/// The row of `local` (`Value::Null` when it is not listed).
fn row(e: &Env, local: &str) -> Value {
    listing(e)
        .0
        .into_iter()
        .find(|c| c["local"] == local)
        .unwrap_or(Value::Null)
}

/// Reads `path` on a thread of its own, giving up after `wait` (a hung
/// mount keeps that thread only).
fn read_bounded(path: &Path, wait: Duration) -> Result<String, String> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read_to_string(&p).map_err(|e| e.to_string()));
    });
    rx.recv_timeout(wait)
        .map_err(|_| format!("{} did not answer within {wait:?}", path.display()))?
}

/// The journal records of `event` for `local`.
fn records(e: &Env, event: &str, local: &str) -> Vec<Value> {
    e.journal()
        .into_iter()
        .filter(|r| r["event"] == event && r["local"] == local)
        .collect()
}

/// Seconds since the epoch, as a float.
fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until 127.0.0.1:`port` accepts (10 s).
fn listening(port: u16, what: &str) {
    within(Duration::from_secs(10), what, || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

/// The live descendants of `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = vec![pid];
    let mut out = Vec::new();
    while let Some(p) = parents.pop() {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(p) {
                out.push(child);
                parents.push(child);
            }
        }
    }
    out
}

fn kill(pid: u32) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    }
}

/// The name of the user running the tests (from `/etc/passwd`).
fn user_name() -> String {
    let uid = rustix::process::geteuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == uid)
        .map(|f| f[0].to_string())
        .expect("the test user has a passwd entry")
}

/// A private sshd on a free port that lets the user running the tests in
/// with the fixture's client key (no root needed: a non-root sshd logs in
/// only the user it runs as), and serves `served`, a directory of its own;
/// its sessions die with it.
pub(crate) struct PrivateSshd {
    dir: tempfile::TempDir,
    pub(crate) served: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl PrivateSshd {
    pub(crate) fn start(s: &Servers) -> PrivateSshd {
        let dir = tempfile::tempdir().unwrap();
        let served = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path();
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join("host_ed25519"))
            .stdin(Stdio::null())
            .status()
            .expect("ssh-keygen (apt-get install openssh-client)");
        assert!(keygen.success());
        let client = Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(s.path("MPR_TEST_SSH_KEY"))
            .output()
            .unwrap();
        assert!(client.status.success(), "{client:?}");
        std::fs::write(d.join("authorized_keys"), &client.stdout).unwrap();
        let host = std::fs::read_to_string(d.join("host_ed25519.pub")).unwrap();
        let host: Vec<&str> = host.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", host.join(" ")),
        )
        .unwrap();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {pid}\n\
                 AuthorizedKeysFile {auth}\nStrictModes no\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\n\
                 KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n\
                 PrintMotd no\nUseDNS no\nSubsystem sftp internal-sftp\n",
                key = d.join("host_ed25519").display(),
                pid = d.join("sshd.pid").display(),
                auth = d.join("authorized_keys").display(),
                user = user_name(),
            ),
        )
        .unwrap();
        let mut sshd = PrivateSshd {
            dir,
            served,
            port,
            child: None,
        };
        sshd.again();
        sshd
    }

    /// `sftp://127.0.0.1:PORT/<served directory>`.
    pub(crate) fn remote(&self) -> String {
        format!(
            "sftp://127.0.0.1:{}{}",
            self.port,
            self.served.path().display()
        )
    }

    /// An ssh configuration for the test user against this server.
    pub(crate) fn ssh_config(&self, s: &Servers) -> PathBuf {
        let p = self.dir.path().join("ssh_config");
        std::fs::write(
            &p,
            format!(
                "Host 127.0.0.1\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
                user_name(),
                s.var("MPR_TEST_SSH_KEY"),
                self.dir.path().join("known_hosts").display()
            ),
        )
        .unwrap();
        p
    }

    /// Stops the server and gives it a new host key (the known_hosts file
    /// keeps the old one): the next start is a changed host.
    pub(crate) fn new_host_key(&mut self) {
        self.stop();
        let key = self.dir.path().join("host_ed25519");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(key.with_extension("pub"));
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .stdin(Stdio::null())
            .status()
            .expect("ssh-keygen (apt-get install openssh-client)");
        assert!(keygen.success());
    }

    pub(crate) fn again(&mut self) {
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(self.dir.path().join("sshd_config"))
            .arg("-E")
            .arg(self.dir.path().join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("/usr/sbin/sshd (bash scripts/ci-deps.sh installs openssh-server)");
        self.child = Some(child);
        listening(self.port, "the private sshd");
    }

    /// Kills the server and every session of it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let all = descendants(c.id());
            kill(c.id());
            for p in all {
                kill(p);
            }
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateSshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private `rclone serve webdav` (no login) on a free port.
struct PrivateDav {
    root: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl PrivateDav {
    fn start() -> PrivateDav {
        let mut d = PrivateDav {
            root: tempfile::tempdir().unwrap(),
            port: free_port(),
            child: None,
        };
        d.again();
        d
    }

    fn again(&mut self) {
        let child = Command::new("rclone")
            .args(["serve", "webdav"])
            .arg(self.root.path())
            .args(["--config", "/dev/null", "--addr"])
            .arg(format!("127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rclone (bash scripts/ci-deps.sh installs it)");
        self.child = Some(child);
        listening(self.port, "the private WebDAV server");
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateDav {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `mpr use LOCAL REMOTE --provider P --persistent [--user U --password-stdin]`.
fn connect(e: &Env, local: &str, remote: &str, provider: &str, login: Option<(&str, &str)>) {
    let mut args = vec![
        "use",
        local,
        remote,
        "--provider",
        provider,
        "--persistent",
        "--json",
    ];
    let r: Run = match login {
        Some((user, pw)) => {
            args.extend(["--user", user, "--password-stdin"]);
            e.mpr_stdin(&args, &format!("{pw}\n"))
        }
        None => e.mpr(&args),
    };
    assert_eq!(r.wn(), 0, "{local} {remote}: {r:?}");
}

#[test]
fn agent_is_ready_at_once_and_brings_back_a_saved_password_connection_after_a_restart() {
    let s = Servers::get();
    // A server that accepts the connection and never says a word: its
    // restore waits for a greeting that never comes (1.5 s).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let e = s.provider_env("connect_timeout = 3\n");
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
            "--provider",
            "smb",
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
    let mut remembered = std::fs::read_to_string(e.path("state/remembered.toml")).unwrap();
    remembered.push_str(&format!(
        "\n[[connection]]\nlocal = \"S:\"\nremote = '\\\\127.0.0.1@{silent_port}\\export'\nprovider = \"sftp\"\n"
    ));
    std::fs::write(e.path("state/remembered.toml"), remembered).unwrap();
    // Logging out: the connection goes, its memory stays.
    let r = k.mpr(&e, &["use", "Y:", "--delete", "--keep-remembered"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!mounted_under(&e.path("drives/Y")));

    // Logging in: the agent is ready before any restore has finished (the
    // silent server's takes 1.5 s), without a password given.
    let spawned = Instant::now();
    let agent = Agent::start(&e, Some(&k), &[]);
    agent.ready(Duration::from_secs(3));
    let ready_at = now_f64();
    assert!(spawned.elapsed() < Duration::from_secs(3));
    let back = within(Duration::from_secs(10), "Y: restored by the agent", || {
        let r = row(&e, "Y:");
        (r["status"] == "OK")
            .then_some(r.clone())
            .ok_or(r.to_string())
    });
    assert_eq!(back["remote"], remote.as_str());
    let file = format!("agent-{}.txt", std::process::id());
    std::fs::write(e.path("drives/Y").join(&file), "back\n").unwrap();
    let share = s.path("MPR_TEST_SMB_SHARE_DIR").join(&file);
    assert_eq!(std::fs::read_to_string(&share).unwrap(), "back\n");
    let _ = std::fs::remove_file(&share);
    // The silent server's restore fails, later than READY=1; the agent
    // then lists it as Reconnecting, with the reason and the next attempt.
    let s_row = within(Duration::from_secs(10), "S: listed Reconnecting", || {
        let r = row(&e, "S:");
        (r["status"] == "Reconnecting" && r["next_attempt"].is_u64())
            .then_some(r.clone())
            .ok_or(r.to_string())
    });
    assert!(
        s_row["reason"]
            .as_str()
            .unwrap()
            .contains("last attempt failed"),
        "{s_row}"
    );
    let restored: Vec<Value> = records(&e, "operation", "S:");
    let ts: f64 = restored[0]["ts"].as_str().unwrap().parse().unwrap();
    assert!(ts > ready_at, "READY=1 came after S:'s restore ended");
    let failed = records(&e, "repair_failed", "S:");
    assert!(
        failed[0]["message"].is_string() && failed[0]["retry_in_s"] == 1,
        "{failed:?}"
    );
    // Every attempt says why the connection needed making: the start.
    assert!(
        failed
            .iter()
            .all(|f| f["reason"] == "restoring it as the agent starts"),
        "{failed:?}"
    );
    let text = e.mpr(&["use"]);
    assert!(
        text.stdout
            .contains("S: reconnecting: the last attempt failed")
            && text.stdout.contains("next attempt in"),
        "{text:?}"
    );

    // A killed agent leaves no lie: its record stays, but the listing no
    // longer believes it.
    agent.signal(rustix::process::Signal::KILL);
    drop(agent);
    assert!(e.path("run/agent.toml").exists());
    assert_eq!(row(&e, "S:")["status"], "Remembered");

    // The next login: the saved password brings Y: back again.
    let r = k.mpr(&e, &["use", "Y:", "--delete", "--keep-remembered"]);
    assert_eq!(r.code, 0, "{r:?}");
    let agent = Agent::start(&e, Some(&k), &[]);
    agent.ready(Duration::from_secs(3));
    within(
        Duration::from_secs(10),
        "Y: restored after the restart",
        || {
            let r = row(&e, "Y:");
            (r["status"] == "OK").then_some(()).ok_or(r.to_string())
        },
    );
    assert!(mounted_under(&e.path("drives/Y")));
    // A second agent of the same user is refused.
    let second = e.mpr(&["agent"]);
    assert_eq!(second.code, 2, "{second:?}");
    assert!(second.stderr.contains("runs already"), "{second:?}");
    assert_eq!(agent.stop(), 0);
    assert!(
        !e.path("run/agent.toml").exists(),
        "the record goes with it"
    );

    // The password is nowhere but in the keyring.
    for d in ["state", "run", "etc", "home"] {
        assert_eq!(files_with(&e.path(d), &pw), Vec::<PathBuf>::new(), "{d}");
    }
    assert!(!all_cmdlines().contains(&pw));
    for l in ["Y:", "S:"] {
        let _ = e.mpr(&["use", l, "--delete", "--force"]);
    }
    drop(silent);
}

#[test]
fn servers_stopped_and_started_again_are_reconnected_within_10_s() {
    let s = Servers::get();
    // smbd needs root (it switches to the share's user): as an ordinary
    // user (scripts/test-unprivileged.sh) the SMB drive is left out; the
    // root run of scripts/test.sh always has it.
    let root = rustix::process::geteuid().is_root();
    let mut sshd = PrivateSshd::start(&s);
    let smbd = root.then(|| PrivateSmbd::start("agent"));
    let mut dav = PrivateDav::start();
    let e = Env::new();
    e.config(&format!(
        "[providers]\norder = [\"sftp\", \"smb\", \"webdav\"]\n[providers.sftp]\nssh_config = \"{}\"\nconnect_timeout = 5\n[providers.smb]\noperation_timeout = 3\n",
        sshd.ssh_config(&s).display()
    ));
    let name = format!("agent-{}.txt", std::process::id());
    // (local, provider, the file on the server, its text)
    let mut drives = vec![
        ("P:", "sftp", sshd.served.path().join(&name), "sftp\n"),
        ("R:", "webdav", dav.root.path().join(&name), "webdav\n"),
    ];
    connect(&e, "P:", &sshd.remote(), "sftp", None);
    connect(
        &e,
        "R:",
        &format!("dav://127.0.0.1:{}/", dav.port),
        "webdav",
        None,
    );
    // SMB needs a password to be made again: saved in the keyring.
    let k = Keyring::start(&e);
    if let Some(smbd) = &smbd {
        let pw = s.password("MPR_TEST_SMB_PASSWORD_FILE");
        let r = k.mpr_stdin(
            &e,
            &[
                "use",
                "Q:",
                &format!(r"\\127.0.0.1@{}\share", smbd.port),
                "--provider",
                "smb",
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
        drives.push(("Q:", "smb", smbd.dir.join("share").join(&name), "smb\n"));
    }
    let agent = Agent::start(&e, Some(&k), &[]);
    agent.ready(Duration::from_secs(3));
    agent.settled(Duration::from_secs(10));

    sshd.stop();
    dav.stop();
    if let Some(smbd) = &smbd {
        smbd.script("stop");
    }
    // mpr-fsd (SFTP, SMB, WebDAV) re-establishes its own session; the
    // agent's part is a helper that dies meanwhile. Here
    // every one does: the agent shows each drive Reconnecting within 10 s,
    // with the reason and the next attempt, its attempts failing while the
    // servers are away.
    let run = e.path("run");
    for (local, provider, ..) in &drives {
        let dir = e.path(&format!("drives/{}", &local[..1]));
        let pid = recorded_server(&run, provider, &dir);
        kill(pid.unwrap_or_else(|| panic!("{local}'s {provider} helper")));
    }
    let killed = Instant::now();
    for (local, ..) in &drives {
        within(
            Duration::from_secs(10).saturating_sub(killed.elapsed()),
            &format!("{local} Reconnecting within 10 s of its helper's death"),
            || {
                let r = row(&e, local);
                (r["status"] == "Reconnecting"
                    && r["reason"].is_string()
                    && r["next_attempt"].is_u64())
                .then_some(())
                .ok_or(r.to_string())
            },
        );
        let f = records(&e, "repair_failed", local);
        assert!(
            f.first()
                .is_some_and(|r| r["reason"].is_string() && r["message"].is_string()),
            "{local}: {f:?}"
        );
    }

    // A long outage: the waits between attempts grow to 16 s. A server
    // that comes back is still reconnected within 10 s: the agent knocks
    // at its port at every look and tries at once when it answers.
    let last_wait = |local: &str| {
        records(&e, "repair_failed", local)
            .last()
            .and_then(|r| r["retry_in_s"].as_u64())
            .unwrap_or(0)
    };
    within(
        Duration::from_secs(45),
        "16 s waits between attempts",
        || {
            let waits: Vec<u64> = drives.iter().map(|d| last_wait(d.0)).collect();
            waits
                .iter()
                .all(|w| *w >= 16)
                .then_some(())
                .ok_or(format!("{waits:?}"))
        },
    );

    sshd.again();
    dav.again();
    if let Some(smbd) = &smbd {
        smbd.script("again");
    }
    let came_back = Instant::now();
    for (_, _, file, text) in &drives {
        std::fs::write(file, text).unwrap();
    }
    for (local, _, _, text) in &drives {
        let dir = e.path(&format!("drives/{}", &local[..1]));
        within(
            Duration::from_secs(10).saturating_sub(came_back.elapsed()),
            &format!("{local} usable again within 10 s of its server"),
            || {
                let r = row(&e, local);
                if r["status"] != "OK" {
                    return Err(r.to_string());
                }
                match read_bounded(&dir.join(&name), Duration::from_secs(2)) {
                    Ok(t) if t == *text => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        );
    }
    eprintln!(
        "{} usable {:?} after their servers came back",
        drives.iter().map(|d| d.0).collect::<Vec<_>>().join(" "),
        came_back.elapsed()
    );
    // Each was made again before its wait was over: the knock did it.
    let ts = |r: &Value| r["ts"].as_str().unwrap().parse::<f64>().unwrap();
    for (local, ..) in &drives {
        let repaired = records(&e, "repair", local);
        let last_failure = records(&e, "repair_failed", local).pop().unwrap();
        let scheduled = ts(&last_failure) + last_failure["retry_in_s"].as_f64().unwrap();
        assert!(
            repaired
                .iter()
                .any(|r| r["result_name"] == "WN_SUCCESS" && ts(r) < scheduled),
            "{local}: {repaired:?} after {last_failure}"
        );
    }
    assert_eq!(agent.stop(), 0);
    for (local, ..) in &drives {
        let r = e.mpr(&["use", local, "--delete", "--force"]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert!(!mounted_under(&e.path("drives")));
}

#[test]
fn a_hung_mount_holds_up_neither_the_listing_nor_the_agent() {
    let s = Servers::get();
    let e = s.provider_env("");
    connect(&e, "H:", &s.sftp_unc("export"), "sftp", None);
    connect(&e, "K:", &s.sftp_unc("export2"), "sftp", None);
    let run = e.path("run");
    let (h_dir, k_dir) = (e.path("drives/H"), e.path("drives/K"));
    let hung = recorded_server(&run, "sftp", &h_dir).expect("H:'s mpr-fsd");
    let killed = recorded_server(&run, "sftp", &k_dir).expect("K:'s mpr-fsd");
    let agent = Agent::start(&e, None, &[]);
    agent.ready(Duration::from_secs(3));
    agent.settled(Duration::from_secs(10));

    // H:'s helper stops answering (its mount hangs); K:'s dies.
    let pid = |p: u32| rustix::process::Pid::from_raw(p as i32).unwrap();
    rustix::process::kill_process(pid(hung), rustix::process::Signal::STOP).unwrap();
    rustix::process::kill_process(pid(killed), rustix::process::Signal::KILL).unwrap();
    let t0 = Instant::now();
    // When the agent's record first names H: (what makes the listing say
    // Reconnecting), looked at every 5 ms: a listing itself may wait up to
    // the hung mount's 2 s bound, too coarse a clock for this, and a
    // repair over a live control master can be over in a few tens of
    // milliseconds (every 50 ms missed it now and then).
    let record = e.path("run/agent.toml");
    let recorded = std::thread::spawn(move || {
        while t0.elapsed() < Duration::from_secs(15) {
            let text = std::fs::read_to_string(&record).unwrap_or_default();
            let doc: toml::Table = text.parse().unwrap_or_default();
            let names_h = doc
                .get("connection")
                .and_then(|c| c.as_array())
                .is_some_and(|c| {
                    c.iter()
                        .any(|r| r.get("local").and_then(|l| l.as_str()) == Some("H:"))
                });
            if names_h {
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });
    // Every listing answers within the mount's 2 s bound (plus slack for a
    // loaded machine), and the agent repairs both, the hung one included.
    // Listings run back to back on a thread of their own: mpr-fsd's repair
    // over a live control master is quick, and the Reconnecting state
    // lasts only as long.
    let done = std::sync::atomic::AtomicBool::new(false);
    let (took, seen_reconnecting) = std::thread::scope(|scope| {
        let lister = scope.spawn(|| {
            let mut seen = None;
            while !done.load(std::sync::atomic::Ordering::SeqCst)
                && t0.elapsed() < Duration::from_secs(20)
            {
                let (rows, took) = listing(&e);
                assert!(took < Duration::from_secs(4), "a listing took {took:?}");
                if rows
                    .iter()
                    .any(|r| r["local"] == "H:" && r["status"] == "Reconnecting")
                {
                    seen.get_or_insert(t0.elapsed());
                }
            }
            seen
        });
        within(Duration::from_secs(15), "H: and K: repaired", || {
            let (rows, took) = listing(&e);
            assert!(took < Duration::from_secs(4), "a listing took {took:?}");
            let ok = |l: &str| rows.iter().any(|r| r["local"] == l && r["status"] == "OK");
            let new =
                |d: &Path, old: u32| recorded_server(&run, "sftp", d).is_some_and(|p| p != old);
            (ok("H:") && ok("K:") && new(&h_dir, hung) && new(&k_dir, killed))
                .then_some(())
                .ok_or(format!("{rows:?}"))
        });
        let took = t0.elapsed();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (took, lister.join().unwrap())
    });
    let recorded = recorded.join().unwrap();
    assert!(
        recorded.is_some_and(|t| t < Duration::from_secs(10)),
        "the agent recorded H: as being repaired {recorded:?} after it hung"
    );
    assert!(
        seen_reconnecting.is_some(),
        "no listing showed H: Reconnecting"
    );
    assert!(!alive(hung), "the hung helper was killed by the repair");
    let h = records(&e, "repair", "H:");
    assert!(
        h[0]["reason"]
            .as_str()
            .unwrap()
            // mpr-fsd stopped: seen from its process state, at once.
            .contains("does not answer"),
        "{h:?}"
    );
    let k = records(&e, "repair", "K:");
    assert!(!k.is_empty(), "{:?}", e.journal());
    eprintln!(
        "the hung H: recorded after {recorded:?}, listed Reconnecting after {seen_reconnecting:?}; H: and K: repaired in {took:?}"
    );
    assert_eq!(agent.stop(), 0);
    for l in ["H:", "K:"] {
        let r = e.mpr(&["use", l, "--delete", "--force"]);
        assert_eq!(r.code, 0, "{r:?}");
    }
}

#[test]
fn a_network_change_makes_the_agent_look_at_once() {
    // In a network namespace of its own (in a user namespace, so that an
    // ordinary user may make it), where the test may change the network
    // without touching the machine's.
    let e = Env::new();
    e.config("");
    let agent = Agent::start(
        &e,
        None,
        &["unshare", "--user", "--map-root-user", "--net", "--"],
    );
    agent.ready(Duration::from_secs(5));
    // The first look, then quiet until the next tick (5 s).
    let first = agent.next(Duration::from_secs(3)).expect("a first look");
    assert!(first.contains("(look 1)"), "{first}");
    let t = Instant::now();
    let ip = Command::new("nsenter")
        .arg("-t")
        .arg(agent.child.id().to_string())
        .args([
            "-U",
            "-n",
            "--preserve-credentials",
            "ip",
            "link",
            "set",
            "lo",
            "up",
        ])
        .status()
        .expect("nsenter and ip (util-linux, iproute2)");
    assert!(ip.success());
    let m = agent
        .next(Duration::from_secs(2))
        .unwrap_or_else(|| panic!("no look within 2 s of the change; {}", agent.stderr()));
    assert!(m.contains("after a network change"), "{m}");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(agent.stop(), 0);
}
