//! mpr's own file system (`mpr_fs::Fs`) over [`SftpBackend`], mounted with
//! `mpr_fs::testing::mount` on a private temporary directory, rooted in a
//! scratch directory of the export; and a colleague: a second SFTP session
//! of its own on the same directory, which changes files on the server
//! directly, not through the mount.

use super::{Client, Servers};
use mpr_fs::fs::{Fs, FsConfig};
use mpr_fs::testing::{TestMount, mount};
use mpr_fs::{Backend, OpenFlags, RelPath};
use mpr_sftp::{SftpBackend, SftpConfig};
use std::future::Future;
use std::path::{Path, PathBuf};

/// The configuration a test mount gets by default: production's, owned by
/// the user running the test.
pub fn config() -> FsConfig {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").expect("/proc/self");
    FsConfig {
        uid: me.uid(),
        gid: me.gid(),
        ..FsConfig::default()
    }
}

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

/// A mounted SFTP directory, unmounted and removed on drop.
pub struct SftpMount {
    /// The mount (taken on drop, before the directories go).
    pub m: Option<TestMount<SftpBackend>>,
    /// The mounted directory as the server sees it on its disk.
    pub server_dir: PathBuf,
    /// A second session on the same directory.
    pub colleague: Colleague,
    /// The client side (ssh configuration, control masters).
    pub client: Option<Client>,
    remove: bool,
    mnt: tempfile::TempDir,
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
        m.remove = true;
        m.client = Some(client);
        m
    }

    /// Mounts `sftp` (whose directory on the server's disk is
    /// `server_dir`) with `cfg`.
    pub fn on(sftp: SftpConfig, server_dir: &Path, cfg: FsConfig) -> SftpMount {
        let mnt = tempfile::tempdir().expect("a temporary directory");
        let at = mnt.path().join("m");
        std::fs::create_dir(&at).expect("the mount point");
        let colleague = Colleague::connect(sftp.clone());
        let m = mount(SftpBackend::new(sftp), &at, cfg).unwrap_or_else(|e| {
            panic!("mounting needs /dev/fuse and fusermount3 (scripts/ci-deps.sh): {e}")
        });
        SftpMount {
            m: Some(m),
            server_dir: server_dir.to_path_buf(),
            colleague,
            client: None,
            remove: false,
            mnt,
        }
    }

    /// The mount point.
    pub fn path(&self) -> PathBuf {
        self.mnt.path().join("m")
    }

    /// A path through the mount.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// The same path on the server's disk.
    pub fn server(&self, rel: &str) -> PathBuf {
        self.server_dir.join(rel)
    }

    /// The file system (its health).
    pub fn fs(&self) -> &Fs<SftpBackend> {
        &self.m.as_ref().expect("mounted").fs
    }
}

impl Drop for SftpMount {
    fn drop(&mut self) {
        if let Some(m) = self.m.take() {
            m.unmount();
        }
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.server_dir);
        }
    }
}
