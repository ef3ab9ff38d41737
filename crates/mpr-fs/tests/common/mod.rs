//! What every mounting test shares: a fresh in-memory back end mounted in
//! a private temporary directory, unmounted when the test ends.
#![allow(dead_code)]

use mpr_fs::fs::FsConfig;
use mpr_fs::testing::{MemBackend, TestMount, mount};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A mounted in-memory back end.
pub struct Mnt {
    /// The mount (dropped before the directory).
    pub m: Option<TestMount<MemBackend>>,
    /// The back end, to act as the server (a colleague's changes, faults).
    pub server: MemBackend,
    dir: tempfile::TempDir,
}

impl Mnt {
    /// The mount point.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("m")
    }

    /// A path inside the mount.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// The file system (health, config).
    pub fn fs(&self) -> &mpr_fs::fs::Fs<MemBackend> {
        &self.m.as_ref().expect("mounted").fs
    }
}

impl Drop for Mnt {
    fn drop(&mut self) {
        if let Some(m) = self.m.take() {
            m.unmount();
        }
    }
}

/// The default configuration for tests (the short TTL of production).
pub fn config() -> FsConfig {
    FsConfig {
        uid: uid(),
        gid: gid(),
        ..FsConfig::default()
    }
}

fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

fn gid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.gid())
}

/// Mounts a fresh in-memory back end with `cfg`.
pub fn mount_with(cfg: FsConfig) -> Mnt {
    let dir = tempfile::tempdir().expect("tempdir");
    let at = dir.path().join("m");
    std::fs::create_dir(&at).expect("mount point");
    let server = MemBackend::new();
    let m = mount(server.clone(), &at, cfg).unwrap_or_else(|e| {
        panic!("mounting needs /dev/fuse and fusermount3 (apt install fuse3): {e}")
    });
    Mnt {
        m: Some(m),
        server,
        dir,
    }
}

/// Mounts a fresh in-memory back end.
pub fn mnt() -> Mnt {
    mount_with(config())
}

/// Whether `p` is a mount point of ours (listed in /proc/self/mounts).
pub fn is_mounted(p: &Path) -> bool {
    let table = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let want = p.to_string_lossy();
    table
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(&want) && l.contains("fuse.mpr"))
}

/// Waits up to `limit` for `f` to hold.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}
