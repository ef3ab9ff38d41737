//! mpr's own file system (`mpr_fs::Fs`) over [`SftpBackend`], mounted with
//! `mpr_fs::testing::mount` on a private temporary directory (the fixture
//! shared with the other back ends, `mpr_fs::testing::MountedDir`), rooted
//! in a scratch directory of the export; and a colleague: a second SFTP session
//! of its own on the same directory, which changes files on the server
//! directly, not through the mount.

use super::{Client, Servers};
use mpr_fs::fs::FsConfig;
use mpr_fs::testing::MountedDir;
use mpr_fs::{Backend, OpenFlags, RelPath};
use mpr_sftp::{SftpBackend, SftpConfig};
use std::future::Future;
use std::ops::Deref;
use std::path::Path;

/// The configuration a test mount gets by default: production's, owned by
/// the user running the test (shared with the other back ends' tests).
#[allow(unused_imports)] // not every test binary uses it
pub use mpr_fs::testing::util::mount_config as config;

/// A second session on the mount's directory, with a runtime of its own
/// (the SFTP client runs its tasks on the runtime that connected it).
pub struct Colleague {
    rt: tokio::runtime::Runtime,
    /// The back end, rooted where the mount is.
    pub backend: SftpBackend,
}

impl Colleague {
    /// Connects a session for `cfg`.
    pub fn connect(cfg: SftpConfig) -> Colleague {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let backend = SftpBackend::new(cfg);
        rt.block_on(backend.connect())
            .expect("the colleague's session connects");
        Colleague { rt, backend }
    }

    /// Runs a call of the back end.
    pub fn run<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// Replaces (or creates) `path` with `data`, as a colleague saving it.
    pub fn put(&self, path: &str, data: &[u8]) {
        let b = &self.backend;
        let path = RelPath::new(path).expect("a valid path");
        self.run(async {
            let flags = OpenFlags {
                write: true,
                create: true,
                truncate: true,
                ..OpenFlags::default()
            };
            let (h, _) = b.open(&path, flags).await.expect("colleague opens");
            b.write(&h, 0, data).await.expect("colleague writes");
            b.close(h).await.expect("colleague closes");
        });
    }

    /// Removes `path`.
    pub fn unlink(&self, path: &str) {
        let path = RelPath::new(path).expect("a valid path");
        self.run(self.backend.unlink(&path))
            .expect("colleague removes");
    }
}

/// A mounted SFTP directory, unmounted and removed on drop (the shared
/// fixture, [`MountedDir`], which it derefs to for `path`, `at`, `server`
/// and `fs`), with a colleague on the same directory.
pub struct SftpMount {
    /// The mount (dropped first: unmounted, then the directories go).
    mount: MountedDir<SftpBackend>,
    /// A second session on the same directory.
    pub colleague: Colleague,
    /// The client side (ssh configuration, control masters).
    pub client: Option<Client>,
}

impl SftpMount {
    /// A fresh scratch directory `name` in the fixture's export, mounted
    /// with [`config`].
    pub fn new(name: &str) -> SftpMount {
        let servers = Servers::get();
        let client = Client::new(&servers);
        let dirname = format!("mpr-sftp-mount-{name}-{}", std::process::id());
        let server_dir = servers.export().join(&dirname);
        let _ = std::fs::remove_dir_all(&server_dir);
        // Made through SFTP, so that it belongs to the server's user.
        let root =
            Colleague::connect(client.config(servers.port(), servers.var("MPR_TEST_SSH_EXPORT")));
        root.run(root.backend.mkdir(&RelPath::new(&dirname).expect("a name")))
            .expect("make the scratch directory");
        let cfg = client.config(servers.port(), server_dir.to_str().expect("UTF-8"));
        let mut m = SftpMount::on(cfg, &server_dir, config());
        m.mount.remove_on_drop();
        m.client = Some(client);
        m
    }

    /// Mounts `sftp` (whose directory on the server's disk is
    /// `server_dir`) with `cfg`.
    pub fn on(sftp: SftpConfig, server_dir: &Path, cfg: FsConfig) -> SftpMount {
        let colleague = Colleague::connect(sftp.clone());
        let mount = MountedDir::mount(SftpBackend::new(sftp), server_dir, cfg);
        SftpMount {
            mount,
            colleague,
            client: None,
        }
    }
}

impl Deref for SftpMount {
    type Target = MountedDir<SftpBackend>;

    fn deref(&self) -> &MountedDir<SftpBackend> {
        &self.mount
    }
}
