//! The loopback sshd of scripts/test-servers.sh (its settings from the env
//! file `start` writes), a scratch directory per test in its export, and
//! [`mounted`]: mpr's own file system over it with a colleague's second
//! session; [`sshd`]: a private sshd a test may stop, start and re-key.
#![allow(dead_code)]

pub mod mounted;
pub mod sshd;

use mpr_fs::{Backend, RelPath};
use mpr_sftp::{SftpBackend, SftpConfig};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The fixture's settings (`test-servers.sh env`).
pub struct Servers {
    vars: HashMap<String, String>,
}

impl Servers {
    /// Reads the settings the running fixture wrote; fails with what to do
    /// when the servers are not running.
    pub fn get() -> Servers {
        let base =
            std::env::var("MPR_TEST_SERVERS").unwrap_or_else(|_| "/tmp/mpr-test-servers".into());
        let env = Path::new(&base).join("env");
        let text = std::fs::read_to_string(&env).unwrap_or_else(|e| {
            panic!(
                "the test servers are not running ({}: {e}): run `bash scripts/test-servers.sh start`",
                env.display()
            )
        });
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        let s = Servers { vars };
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", s.port())).is_ok(),
            "sshd of the test servers does not answer: run `bash scripts/test-servers.sh start`"
        );
        s
    }

    pub fn var(&self, k: &str) -> &str {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("{k} is missing from the test servers' env"))
    }

    pub fn port(&self) -> u16 {
        self.var("MPR_TEST_SSH_PORT").parse().unwrap()
    }

    /// The export directory on the server side.
    pub fn export(&self) -> PathBuf {
        PathBuf::from(self.var("MPR_TEST_SSH_EXPORT"))
    }
}

/// A private directory of the test (0700, a short path, so that ssh's
/// control sockets fit), with an ssh configuration for the fixture's user,
/// key and known hosts; removed on drop.
pub struct Client {
    pub dir: tempfile::TempDir,
}

impl Client {
    pub fn new(servers: &Servers) -> Client {
        Client::with_known_hosts(servers, Path::new(servers.var("MPR_TEST_SSH_KNOWN_HOSTS")))
    }

    pub fn with_known_hosts(servers: &Servers, known_hosts: &Path) -> Client {
        let dir = tempfile::Builder::new()
            .prefix("mpr-sftp-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir(dir.path().join("ssh")).unwrap();
        std::fs::set_permissions(
            dir.path().join("ssh"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("ssh_config"),
            format!(
                "Host 127.0.0.1\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
                servers.var("MPR_TEST_SSH_USER"),
                servers.var("MPR_TEST_SSH_KEY"),
                known_hosts.display()
            ),
        )
        .unwrap();
        Client { dir }
    }

    /// The control masters' directory.
    pub fn control_dir(&self) -> PathBuf {
        self.dir.path().join("ssh")
    }

    /// A configuration for `port` with `base` as the mount's root.
    pub fn config(&self, port: u16, base: &str) -> SftpConfig {
        let ssh_config = self.dir.path().join("ssh_config");
        SftpConfig {
            // As the handshake decides it for this configuration file.
            ciphers: mpr_sftp::ciphers::preference(Some(&ssh_config)).map(String::from),
            host: "127.0.0.1".into(),
            port: Some(port),
            user: None,
            base: base.into(),
            password: None,
            ssh_config: Some(ssh_config),
            control_dir: Some(self.control_dir()),
            askpass_program: None,
            ssh_program: "ssh".into(),
            connect_timeout: Duration::from_secs(20),
        }
    }
}

/// A scratch directory in the export, made through SFTP (so it belongs to
/// the server's user), and a back end rooted in it; removed on drop.
pub struct Scratch {
    pub servers: Servers,
    pub client: Client,
    pub backend: SftpBackend,
    /// The directory on the server side.
    pub dir: PathBuf,
}

impl Scratch {
    pub async fn new(name: &str) -> Scratch {
        let servers = Servers::get();
        let client = Client::new(&servers);
        let dirname = format!("mpr-sftp-{name}-{}", std::process::id());
        let dir = servers.export().join(&dirname);
        let _ = std::fs::remove_dir_all(&dir);
        let root =
            SftpBackend::new(client.config(servers.port(), servers.var("MPR_TEST_SSH_EXPORT")));
        root.connect().await.expect("connect to the test export");
        root.mkdir(&RelPath::new(&dirname).unwrap()).await.unwrap();
        let backend = SftpBackend::new(client.config(servers.port(), dir.to_str().unwrap()));
        backend
            .connect()
            .await
            .expect("connect with the scratch base");
        Scratch {
            servers,
            client,
            backend,
            dir,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A path inside the mount.
pub fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// Waits up to `limit` for `f` to hold; whether it did.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The errno of an I/O error (-1 if it has none).
pub fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
