//! The mount fixture every back end's mounted tests share: a directory of
//! a test server mounted through mpr's own file system on a private
//! temporary mount point, with the same directory on the server's disk
//! next to it (to check what really reached the server); unmounted on
//! drop, and the server's directory removed after, if asked.
//!
//! Each back end wraps it with what is its own: how its scratch directory
//! is named and made, and its colleague (a second session of its own).

use super::{TestMount, mount};
use crate::backend::Backend;
use crate::fs::{Fs, FsConfig};
use std::path::{Path, PathBuf};

/// A server's directory mounted for a test; unmounted on drop, then the
/// directory on the server's disk removed if
/// [`MountedDir::remove_on_drop`] was asked.
#[derive(Debug)]
pub struct MountedDir<B: Backend> {
    /// The mount (taken on drop, before the directories go).
    m: Option<TestMount<B>>,
    /// The mounted directory as the server sees it on its disk.
    server_dir: PathBuf,
    /// Whether to remove `server_dir` on drop.
    remove: bool,
    /// Holds the mount point `m`.
    mnt: tempfile::TempDir,
}

impl<B: Backend> MountedDir<B> {
    /// Mounts `backend` (whose directory on the server's disk is
    /// `server_dir`) with `cfg` on a fresh temporary mount point; panics
    /// saying what mounting needs when it fails. `server_dir` is kept on
    /// drop unless [`MountedDir::remove_on_drop`] is called.
    pub fn mount(backend: B, server_dir: &Path, cfg: FsConfig) -> MountedDir<B> {
        let mnt = tempfile::tempdir().expect("a temporary directory");
        let at = mnt.path().join("m");
        std::fs::create_dir(&at).expect("the mount point");
        let m = mount(backend, &at, cfg).unwrap_or_else(|e| {
            panic!("mounting needs /dev/fuse and fusermount3 (scripts/ci-deps.sh): {e}")
        });
        MountedDir {
            m: Some(m),
            server_dir: server_dir.to_path_buf(),
            remove: false,
            mnt,
        }
    }

    /// Removes the server's directory on drop, after unmounting (for a
    /// scratch directory the test made).
    pub fn remove_on_drop(&mut self) {
        self.remove = true;
    }

    /// The mount point.
    pub fn path(&self) -> PathBuf {
        self.mnt.path().join("m")
    }

    /// A path through the mount.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// The mounted directory on the server's disk.
    pub fn server_dir(&self) -> &Path {
        &self.server_dir
    }

    /// The same path on the server's disk (to check what really reached
    /// it).
    pub fn server(&self, rel: &str) -> PathBuf {
        self.server_dir.join(rel)
    }

    /// The file system (its back end, its health).
    pub fn fs(&self) -> &Fs<B> {
        &self.m.as_ref().expect("mounted").fs
    }
}

impl<B: Backend> Drop for MountedDir<B> {
    fn drop(&mut self) {
        if let Some(m) = self.m.take() {
            if std::thread::panicking() {
                // A second panic would abort, and a process that dumps
                // core while it serves its own mount hangs.
                drop(m);
            } else {
                m.unmount();
            }
        }
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.server_dir);
        }
    }
}
