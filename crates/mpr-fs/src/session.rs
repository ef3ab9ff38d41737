//! Mounting: a `fuser` session over [`Fs`], mounted through `fusermount3`
//! (so an unprivileged user can mount), with the options every mpr mount
//! has (`default_permissions`, fsname `mpr:<remote>`, subtype `mpr`,
//! `nosuid`, `nodev`). The session ends when the mount is unmounted from
//! outside (`fusermount3 -u`, `umount`), or when [`Mounted::unmount`] is
//! called, which [`serve_until_signal`] does on SIGTERM or SIGINT.

use crate::backend::Backend;
use crate::fs::Fs;
use crate::fuse::FuseFs;
use fuser::{Config, MountOption, SessionACL, SessionUnmounter};
use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

/// How to mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// The remote name shown as the file system's source (`mpr:<remote>`
    /// in `/proc/mounts`).
    pub remote: String,
    /// Threads reading the kernel's requests (each only hands them to the
    /// runtime).
    pub threads: usize,
}

/// A mounted file system, served by a background thread until it is
/// unmounted.
#[derive(Debug)]
pub struct Mounted {
    unmounter: SessionUnmounter,
    thread: JoinHandle<io::Result<()>>,
}

/// The fsname for a remote: `mpr:` and the remote, with the characters
/// the mount table cannot hold (`,` separates options; whitespace ends
/// the field) replaced.
pub fn fsname(remote: &str) -> String {
    let clean: String = remote
        .chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("mpr:{clean}")
}

/// Mounts `fs` at `at` and serves it on a background thread; its calls
/// run on `rt`. Returns once the kernel has accepted the mount (the
/// FUSE handshake is done), so the mount is ready for use.
pub fn mount<B: Backend>(
    fs: Arc<Fs<B>>,
    at: &Path,
    opts: &MountOptions,
    rt: tokio::runtime::Handle,
) -> io::Result<Mounted> {
    let notifier = Arc::new(OnceLock::new());
    let adapter = FuseFs::new(fs, rt, notifier.clone());
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(fsname(&opts.remote)),
        // As a kernel option, not fuser's `Subtype`: fuser drops that one
        // when it mounts directly (as root), and fusermount3 reads this
        // one as its own subtype option.
        MountOption::CUSTOM("subtype=mpr".into()),
        MountOption::DefaultPermissions,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::RW,
    ];
    config.acl = SessionACL::Owner;
    config.n_threads = Some(opts.threads.max(1));
    config.clone_fd = opts.threads > 1;
    let mut session = fuser::Session::new(adapter, at, &config)?;
    let _ = notifier.set(session.notifier());
    let unmounter = session.unmount_callable();
    let thread = std::thread::Builder::new()
        .name("mpr-fs-session".into())
        .spawn(move || session.run())?;
    Ok(Mounted { unmounter, thread })
}

impl Mounted {
    /// Unmounts (if still mounted) and waits for the session to end.
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmounter.unmount()?;
        self.join()
    }

    /// Waits until the mount is unmounted from outside.
    pub fn join(self) -> io::Result<()> {
        self.thread
            .join()
            .map_err(|_| io::Error::other("the FUSE session thread panicked"))?
    }

    /// Whether the session still runs.
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }
}

/// Serves until the mount is unmounted from outside, or SIGTERM or SIGINT
/// arrives (then unmounts). Returns the signal that ended it, if any.
pub fn serve_until_signal(mounted: Mounted) -> io::Result<Option<i32>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    let handle = signals.handle();
    let Mounted {
        mut unmounter,
        thread,
    } = mounted;
    let watcher = std::thread::Builder::new()
        .name("mpr-fs-signals".into())
        .spawn(move || {
            let sig = signals.forever().next();
            if sig.is_some() {
                let _ = unmounter.unmount();
            }
            sig
        })?;
    let r = thread
        .join()
        .map_err(|_| io::Error::other("the FUSE session thread panicked"))?;
    handle.close();
    let sig = watcher.join().unwrap_or(None);
    r.map(|()| sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsname_keeps_the_mount_table_parseable() {
        assert_eq!(fsname(r"\\srv\share"), r"mpr:\\srv\share");
        assert_eq!(fsname("a b,c"), "mpr:a_b_c");
    }
}
