//! The loopback smbd of scripts/test-servers.sh (its settings from the env
//! file `start` writes), and a scratch directory per test inside its share;
//! [`mounted`]: mpr's own file system over it, mounted, with a colleague's
//! second session; [`smbd`]: a private smbd a test may stop and start.
#![allow(dead_code)]

pub mod mounted;
pub mod smbd;

use mpr_fs::handshake::Password;
use mpr_fs::{Backend, RelPath};
use mpr_smb::{SmbBackend, SmbConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The fixture's settings (`test-servers.sh env`).
pub struct Servers {
    vars: HashMap<String, String>,
}

impl Servers {
    /// Reads the settings the running fixture wrote; fails with what to do
    /// when the servers are not running.
    pub fn get() -> Servers {
        let s = Servers {
            vars: mpr_fs::testing::util::fixture_env(),
        };
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", s.port())).is_ok(),
            "smbd of the test servers does not answer: run `bash scripts/test-servers.sh start`"
        );
        s
    }

    pub fn var(&self, k: &str) -> &str {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("{k} is missing from the test servers' env"))
    }

    pub fn port(&self) -> u16 {
        self.var("MPR_TEST_SMB_PORT").parse().unwrap()
    }

    /// The share's directory on the server side.
    pub fn share_dir(&self) -> PathBuf {
        PathBuf::from(self.var("MPR_TEST_SMB_SHARE_DIR"))
    }

    /// The password, read from the fixture's 0600 file.
    pub fn password(&self) -> Password {
        let text = std::fs::read_to_string(self.var("MPR_TEST_SMB_PASSWORD_FILE")).unwrap();
        Password::new(text.trim_end().to_string())
    }

    /// A configuration for the first share with `base` as the mount's root.
    pub fn config(&self, base: &str) -> SmbConfig {
        SmbConfig {
            host: self.var("MPR_TEST_HOST").to_string(),
            port: self.port(),
            share: self.var("MPR_TEST_SMB_SHARE").to_string(),
            base: RelPath::new(base).unwrap(),
            user: self.var("MPR_TEST_SMB_USER").to_string(),
            domain: self.var("MPR_TEST_SMB_DOMAIN").to_string(),
            password: self.password(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A scratch directory in the share, made through SMB (so it belongs to
/// the server's user), and a back end rooted in it; removed on drop.
pub struct Scratch {
    pub servers: Servers,
    pub backend: SmbBackend,
    /// The directory on the server side.
    pub dir: PathBuf,
}

impl Scratch {
    pub async fn new(name: &str) -> Scratch {
        let servers = Servers::get();
        let dirname = format!("mpr-smb-{name}-{}", std::process::id());
        let dir = servers.share_dir().join(&dirname);
        let _ = std::fs::remove_dir_all(&dir);
        let root = SmbBackend::new(servers.config(""));
        root.connect().await.expect("connect to the test share");
        root.mkdir(&RelPath::new(&dirname).unwrap()).await.unwrap();
        let backend = SmbBackend::new(servers.config(&dirname));
        backend
            .connect()
            .await
            .expect("connect with the scratch base");
        Scratch {
            servers,
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

/// Deterministic bytes (shared with the other back ends' tests).
#[allow(unused_imports)] // each test binary uses some of them
pub use mpr_fs::testing::util::pattern;
