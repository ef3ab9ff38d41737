//! A private sshd of a test's own on a free loopback port: its own host
//! key and configuration, letting in the user who runs the tests with the
//! fixture's client key, serving a temporary directory. A test may stop it
//! (sessions included), start it again, or give it a new host key. The
//! fixture's shared sshd is never touched.

use super::{Client, Servers, free_port};
use mpr_sftp::SftpConfig;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PrivateSshd {
    /// Configuration, keys, log.
    pub dir: tempfile::TempDir,
    /// What the tests serve (a directory of the user running them).
    pub served: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

/// The user running the tests.
pub fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl PrivateSshd {
    pub fn start(s: &Servers) -> PrivateSshd {
        let dir = tempfile::tempdir().unwrap();
        let served = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path();
        std::fs::copy(
            format!("{}.pub", s.var("MPR_TEST_SSH_KEY")),
            d.join("authorized_keys"),
        )
        .unwrap();
        let mut sshd = PrivateSshd {
            dir,
            served,
            port,
            child: None,
        };
        sshd.new_host_key();
        std::fs::write(
            sshd.dir.path().join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {pid}\n\
                 AuthorizedKeysFile {auth}\nStrictModes no\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\n\
                 KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org\n\
                 MaxSessions 64\nPrintMotd no\nUseDNS no\nSubsystem sftp internal-sftp\n\
                 LogLevel DEBUG1\n",
                key = sshd.dir.path().join("host_ed25519").display(),
                pid = sshd.dir.path().join("sshd.pid").display(),
                auth = sshd.dir.path().join("authorized_keys").display(),
                user = user_name(),
            ),
        )
        .unwrap();
        sshd.again();
        sshd
    }

    /// Makes a new host key (the server uses it from its next start) and
    /// returns the known_hosts line of the old one, if any.
    pub fn new_host_key(&mut self) {
        let key = self.dir.path().join("host_ed25519");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(key.with_extension("pub"));
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .stdin(Stdio::null())
            .status()
            .expect("ssh-keygen");
        assert!(st.success());
    }

    /// A known_hosts file holding the server's current host key.
    pub fn known_hosts(&self) -> PathBuf {
        let pubkey = std::fs::read_to_string(self.dir.path().join("host_ed25519.pub")).unwrap();
        let line: Vec<&str> = pubkey.split_whitespace().take(2).collect();
        let p = self.dir.path().join("known_hosts");
        std::fs::write(
            &p,
            format!("[127.0.0.1]:{} {}\n", self.port, line.join(" ")),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    /// A client for this server: its known hosts (as they are now), the
    /// user running the tests.
    pub fn client(&self, s: &Servers) -> Client {
        let c = Client::with_known_hosts(s, &self.known_hosts());
        // The login is the user running the tests, not the fixture's.
        let cfg = c.dir.path().join("ssh_config");
        let text = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace(s.var("MPR_TEST_SSH_USER"), &user_name());
        std::fs::write(&cfg, text).unwrap();
        c
    }

    /// A configuration of `client` for the served directory.
    pub fn config(&self, client: &Client) -> SftpConfig {
        client.config(self.port, self.served.path().to_str().unwrap())
    }

    /// The served directory's path of `rel`.
    pub fn served(&self, rel: &str) -> PathBuf {
        self.served.path().join(rel)
    }

    /// Starts the server (again), waiting until it listens.
    pub fn again(&mut self) {
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
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "the private sshd does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's sessions: one process per SSH connection.
    pub fn sessions(&self) -> Vec<u32> {
        self.child.as_ref().map_or(Vec::new(), |c| children(c.id()))
    }

    /// Every process of every session (the per-connection sshd processes
    /// and the sftp-server each runs), not the listener.
    pub fn session_processes(&self) -> Vec<u32> {
        self.child
            .as_ref()
            .map_or(Vec::new(), |c| descendants(c.id()))
    }

    /// Kills the server and every session of it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let all = descendants(c.id());
            let _ = c.kill();
            for p in all {
                let _ = Command::new("kill")
                    .args(["-KILL", &p.to_string()])
                    .status();
            }
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrivateSshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The live children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r.to_string()) else {
            continue;
        };
        let f: Vec<&str> = rest.split(' ').collect();
        if f.first() != Some(&"Z") && f.get(1) == Some(&pid.to_string().as_str()) {
            out.push(n);
        }
    }
    out
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for c in children(p) {
            out.push(c);
            frontier.push(c);
        }
    }
    out
}
