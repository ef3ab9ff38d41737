//! Test support (feature `testing`): an in-memory back end with faults to
//! inject ([`memory`]), the reference-model harness any mounted directory
//! can be checked with ([`reference`]), a helper that mounts a file
//! system for a test ([`mount`]), the mount fixture of every back end's
//! mounted tests ([`mounted`]), and their small helpers ([`util`]).

pub mod memory;
pub mod mounted;
pub mod reference;
pub mod util;

pub use memory::{ConnectFault, MemBackend};
pub use mounted::MountedDir;
pub use reference::run_reference;

use crate::backend::Backend;
use crate::fs::{Fs, FsConfig};
use crate::session::{MountOptions, Mounted};
use std::path::Path;
use std::sync::Arc;

/// A file system mounted for a test, with the runtime its calls run on;
/// unmounted when dropped.
#[derive(Debug)]
pub struct TestMount<B: Backend> {
    /// The file system (to reach the back end, check the health).
    pub fs: Arc<Fs<B>>,
    mounted: Option<Mounted>,
    _rt: tokio::runtime::Runtime,
}

impl<B: Backend> TestMount<B> {
    /// Unmounts and waits for the session to end.
    pub fn unmount(mut self) {
        if let Some(m) = self.mounted.take() {
            m.unmount().expect("unmount");
        }
    }
}

impl<B: Backend> Drop for TestMount<B> {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            let _ = m.unmount();
        }
    }
}

/// Connects `backend` and mounts it at `at` with `cfg`.
pub fn mount<B: Backend>(backend: B, at: &Path, cfg: FsConfig) -> std::io::Result<TestMount<B>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let fs = Arc::new(Fs::new(backend, cfg));
    rt.block_on(fs.connect())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mounted = crate::session::mount(
        fs.clone(),
        at,
        &MountOptions {
            remote: "test".into(),
            threads: 2,
        },
        rt.handle().clone(),
    )?;
    Ok(TestMount {
        fs,
        mounted: Some(mounted),
        _rt: rt,
    })
}
