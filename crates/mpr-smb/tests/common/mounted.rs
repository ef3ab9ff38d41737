//! mpr's own file system (`mpr_fs::Fs`) over [`SmbBackend`], mounted with
//! `mpr_fs::session::mount` on a private temporary directory (through
//! `fusermount3` when not root; the fixture shared with the other back
//! ends, `mpr_fs::testing::MountedDir`), rooted in a scratch directory of a
//! share;
//! and a colleague: a second SMB session of its own on the same directory,
//! which changes files on the server directly, not through the mount.

use super::Servers;
use mpr_fs::fs::FsConfig;
use mpr_fs::testing::MountedDir;
use mpr_fs::{Backend, OpenFlags, RelPath};
use mpr_smb::{SmbBackend, SmbConfig};
use std::future::Future;
use std::ops::Deref;
use std::path::Path;

/// The configuration a test mount gets by default, waiting for a
/// condition, and the errno of an I/O error: shared with the other back
/// ends' tests.
#[allow(unused_imports)] // each test binary uses some of them
pub use mpr_fs::testing::util::{errno, eventually, mount_config as config};

/// A second session on the mount's directory, with a runtime of its own
/// (smb2 runs its connection's tasks on the runtime that connected it).
pub struct Colleague {
    rt: tokio::runtime::Runtime,
    /// The back end, rooted where the mount is.
    pub backend: SmbBackend,
}

impl Colleague {
    /// Connects a session for `cfg`.
    pub fn connect(cfg: SmbConfig) -> Colleague {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let backend = SmbBackend::new(cfg);
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

    /// Appends `data` to `path`, as a colleague's program logging.
    pub fn append(&self, path: &str, data: &[u8]) {
        let b = &self.backend;
        let path = RelPath::new(path).expect("a valid path");
        self.run(async {
            let flags = OpenFlags {
                write: true,
                ..OpenFlags::default()
            };
            let (h, attr) = b.open(&path, flags).await.expect("colleague opens");
            b.write(&h, attr.size, data)
                .await
                .expect("colleague writes");
            b.close(h).await.expect("colleague closes");
        });
    }
}

/// A mounted SMB share directory, unmounted and removed on drop (the
/// shared fixture, [`MountedDir`], which it derefs to for `path`, `at`,
/// `server` and `fs`), with a colleague on the same directory.
pub struct SmbMount {
    /// The mount (dropped first: unmounted, then the directories go).
    mount: MountedDir<SmbBackend>,
    /// A second session on the same directory.
    pub colleague: Colleague,
}

impl SmbMount {
    /// A fresh scratch directory `name` in the shared fixture's first
    /// share, mounted with [`config`].
    pub fn new(name: &str) -> SmbMount {
        SmbMount::with(name, config())
    }

    /// Like [`SmbMount::new`], with `cfg`.
    pub fn with(name: &str, cfg: FsConfig) -> SmbMount {
        let servers = Servers::get();
        let dirname = format!("mpr-smb-mount-{name}-{}", std::process::id());
        let server_dir = servers.share_dir().join(&dirname);
        let _ = std::fs::remove_dir_all(&server_dir);
        // Made through SMB, so that it belongs to the server's user.
        let root = Colleague::connect(servers.config(""));
        root.run(root.backend.mkdir(&RelPath::new(&dirname).expect("a name")))
            .expect("make the scratch directory");
        let mut m = SmbMount::on(servers.config(&dirname), &server_dir, cfg);
        m.mount.remove_on_drop();
        m
    }

    /// Mounts the share and base of `smb` (whose directory on the server's
    /// disk is `server_dir`) with `cfg`.
    pub fn on(smb: SmbConfig, server_dir: &Path, cfg: FsConfig) -> SmbMount {
        let colleague = Colleague::connect(smb.clone());
        let mount = MountedDir::mount(SmbBackend::new(smb), server_dir, cfg);
        SmbMount { mount, colleague }
    }
}

impl Deref for SmbMount {
    type Target = MountedDir<SmbBackend>;

    fn deref(&self) -> &MountedDir<SmbBackend> {
        &self.mount
    }
}
