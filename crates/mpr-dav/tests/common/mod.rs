//! The loopback WebDAV server of scripts/test-servers.sh (`rclone serve
//! webdav`, its settings from the env file `start` writes), a scratch
//! directory per test in the directory it serves, mpr's own file system
//! mounted over it, and private servers a test may stop, start, or run
//! with TLS.
#![allow(dead_code)]

use mpr_dav::{DavBackend, DavConfig, base_url};
use mpr_fs::fs::FsConfig;
use mpr_fs::handshake::Password;
use mpr_fs::testing::MountedDir;
use mpr_fs::testing::util::{fixture_env, free_port, mount_config};
use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The fixture's WebDAV settings.
pub struct Servers {
    vars: HashMap<String, String>,
}

impl Servers {
    pub fn get() -> Servers {
        let s = Servers {
            vars: fixture_env(),
        };
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", s.port())).is_ok(),
            "the WebDAV server of the test servers does not answer: run `bash scripts/test-servers.sh start`"
        );
        s
    }

    pub fn var(&self, k: &str) -> &str {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("{k} is missing from the test servers' env"))
    }

    pub fn port(&self) -> u16 {
        self.var("MPR_TEST_DAV_PORT").parse().unwrap()
    }

    /// The directory the server serves.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.var("MPR_TEST_DAV_DIR"))
    }

    pub fn user(&self) -> String {
        self.var("MPR_TEST_DAV_USER").to_string()
    }

    pub fn password(&self) -> Password {
        let text = std::fs::read_to_string(self.var("MPR_TEST_DAV_PASSWORD_FILE")).unwrap();
        Password::new(text.trim_end().to_string())
    }

    /// The fixture's htpasswd file (for private servers with the same login).
    pub fn htpasswd(&self) -> PathBuf {
        PathBuf::from(self.var("MPR_TEST_SERVERS")).join("secrets/dav.htpasswd")
    }

    /// A configuration for `path` below the served directory.
    pub fn config(&self, path: &str, staging: &Path) -> DavConfig {
        config_for(false, self.port(), path, Some(self.password()), staging)
    }
}

/// A configuration for a server on 127.0.0.1:`port` as the fixture's user.
pub fn config_for(
    tls: bool,
    port: u16,
    path: &str,
    password: Option<Password>,
    staging: &Path,
) -> DavConfig {
    DavConfig {
        base: base_url(tls, "127.0.0.1", Some(port), path).unwrap(),
        user: Some("davuser".into()),
        password,
        ca_file: None,
        staging_dir: staging.to_path_buf(),
        connect_timeout: Duration::from_secs(5),
    }
}

/// A WebDAV directory mounted through mpr's own file system; unmounted and
/// removed on drop (the fixture shared with the other back ends,
/// [`MountedDir`], which it derefs to for `path`, `at`, `server` and
/// `fs`). The colleague is the server's own disk (`server`).
pub struct DavMount {
    /// The mount (dropped first: unmounted, then the directories go).
    mount: MountedDir<DavBackend>,
    pub staging: tempfile::TempDir,
}

impl DavMount {
    /// A fresh scratch directory `name` of the shared server, mounted.
    pub fn new(name: &str) -> DavMount {
        DavMount::with(name, mount_config())
    }

    pub fn with(name: &str, cfg: FsConfig) -> DavMount {
        let servers = Servers::get();
        let dirname = format!("mpr-dav-{name}-{}", std::process::id());
        let server_dir = servers.dir().join(&dirname);
        let _ = std::fs::remove_dir_all(&server_dir);
        std::fs::create_dir(&server_dir).expect("the scratch directory");
        let staging = tempfile::tempdir().unwrap();
        let dav = servers.config(&dirname, staging.path());
        let mut m = DavMount::on(dav, &server_dir, cfg, staging);
        m.mount.remove_on_drop();
        m
    }

    /// Mounts `dav` (whose directory on the server's disk is `server_dir`).
    pub fn on(
        dav: DavConfig,
        server_dir: &Path,
        cfg: FsConfig,
        staging: tempfile::TempDir,
    ) -> DavMount {
        let backend = DavBackend::new(dav).expect("a back end");
        let mount = MountedDir::mount(backend, server_dir, cfg);
        DavMount { mount, staging }
    }

    /// A second mount of the same directory of the server, as a
    /// colleague's: what it writes reaches the server through WebDAV, as
    /// another client's save does (`name` is the directory's, as given to
    /// [`DavMount::new`]).
    pub fn colleague(&self, name: &str) -> DavMount {
        let dirname = format!("mpr-dav-{name}-{}", std::process::id());
        let staging = tempfile::tempdir().unwrap();
        let dav = Servers::get().config(&dirname, staging.path());
        DavMount::on(dav, self.server_dir(), mount_config(), staging)
    }
}

impl Deref for DavMount {
    type Target = MountedDir<DavBackend>;

    fn deref(&self) -> &MountedDir<DavBackend> {
        &self.mount
    }
}

/// A private `rclone serve webdav` on a free loopback port, with the
/// fixture's login; killed on drop.
pub struct PrivateDav {
    pub root: PathBuf,
    pub port: u16,
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
    log: PathBuf,
}

impl PrivateDav {
    /// Serves `root` (over TLS with `tls` = (cert, key)).
    pub fn start(root: &Path, tls: Option<(PathBuf, PathBuf)>) -> PrivateDav {
        let log = root.with_extension("log");
        let mut d = PrivateDav {
            root: root.to_path_buf(),
            port: free_port(),
            tls,
            child: None,
            log,
        };
        d.restart();
        d
    }

    /// Starts it again (on the same port).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let servers = Servers::get();
        let mut cmd = Command::new("rclone");
        cmd.args(["serve", "webdav"])
            .arg(&self.root)
            .args(["--config", "/dev/null", "--addr"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--htpasswd")
            .arg(servers.htpasswd())
            .args(["--dir-cache-time", "0s", "--poll-interval", "0"]);
        if let Some((cert, key)) = &self.tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rclone (scripts/ci-deps.sh installs it)");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < until,
                "the private WebDAV server did not listen on {}: {}",
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (an outage); the port is closed when this returns.
    pub fn stop(&mut self) {
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

/// A private CA and a server certificate signed by it, made with openssl:
/// (CA certificate, server certificate, server key), for the names in
/// `san` (e.g. `IP:127.0.0.1`).
pub fn make_ca(dir: &Path, san: &str) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mpr test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=mpr test server",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}
