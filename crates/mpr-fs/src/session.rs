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
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    at: PathBuf,
}

/// How long [`Mounted::unmount`] keeps asking while the mount is busy: a
/// file closed a moment ago can still hold it, through a child another
/// thread forked just then, until that child runs its program.
const BUSY_GRACE: Duration = Duration::from_millis(1500);

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
    Ok(Mounted {
        unmounter,
        thread,
        at: at.to_path_buf(),
    })
}

impl Mounted {
    /// Unmounts (if still mounted) and waits for the session to end.
    pub fn unmount(mut self) -> io::Result<()> {
        // fuser unmounts once and gives up on `EBUSY`; `fusermount3 -u`
        // (which works for root and users alike) can be asked again. Any
        // other outcome is left to fuser, which then finds it unmounted or
        // reports why not.
        let started = Instant::now();
        let mut unmounted = false;
        while let Ok(out) = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.at)
            .stdin(Stdio::null())
            .output()
        {
            unmounted = out.status.success();
            let busy = !unmounted && String::from_utf8_lossy(&out.stderr).contains("busy");
            if !busy || started.elapsed() >= BUSY_GRACE {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match self.unmounter.unmount() {
            // fuser does not see that it is gone and tries too: the
            // kernel answers that nothing is mounted there.
            Err(e) if unmounted && e.kind() == io::ErrorKind::InvalidInput => {}
            r => r?,
        }
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
        ..
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
