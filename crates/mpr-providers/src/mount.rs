//! The mount table and unmounting: what every FUSE-backed provider shares.
//!
//! The mount table (`/proc/self/mountinfo`) is the truth about whether a
//! built-in connection is alive (spec §5). A FUSE mount whose helper died
//! stays in the table but answers `ENOTCONN`: such a mount is not alive.
//! Nothing here waits on a mount for longer than [`ANSWER_BOUND`]: a helper
//! that hangs (stopped, or stuck on its server) must not hang the listing.

use mpr_core::{WnError, lasterror};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// How long a mount may take to answer a `stat` of its root before it
/// counts as hung.
pub const ANSWER_BOUND: Duration = Duration::from_secs(2);

/// How a mount answered a `stat` of its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It answered (a refusal such as `EACCES` is an answer too).
    Yes,
    /// `ENOTCONN`: its helper is gone.
    Gone,
    /// It answered with an I/O failure (`EIO`, a timeout): its server
    /// fails the requests.
    Failing(String),
    /// No answer within [`ANSWER_BOUND`].
    Silent,
}

impl Answer {
    /// Why a mount that did not answer well is not OK, in words.
    pub fn reason(&self) -> Option<String> {
        match self {
            Answer::Yes => None,
            Answer::Gone => Some("its helper is gone (the mount answers ENOTCONN)".into()),
            Answer::Failing(e) => Some(format!("the mount fails every request ({e})")),
            Answer::Silent => Some(format!(
                "the mount does not answer within {} s",
                ANSWER_BOUND.as_secs()
            )),
        }
    }
}

/// Asks the mount at `dir` for its root's attributes, waiting at most
/// [`ANSWER_BOUND`]. The asking thread of a hung mount stays blocked in
/// the kernel until the mount answers or goes; the caller does not wait
/// for it.
pub fn answer(dir: &Path) -> Answer {
    let (tx, rx) = mpsc::channel();
    let d = dir.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("mpr-mount-probe".into())
        .spawn(move || {
            let _ = tx.send(std::fs::metadata(&d).map(|_| ()));
        });
    if let Err(e) = spawned {
        return Answer::Failing(format!("cannot start a probe thread: {e}"));
    }
    match rx.recv_timeout(ANSWER_BOUND) {
        Ok(Ok(())) => Answer::Yes,
        Ok(Err(e)) => match e.raw_os_error().map(rustix::io::Errno::from_raw_os_error) {
            Some(rustix::io::Errno::NOTCONN) => Answer::Gone,
            Some(
                rustix::io::Errno::IO
                | rustix::io::Errno::TIMEDOUT
                | rustix::io::Errno::CONNABORTED
                | rustix::io::Errno::CONNRESET
                | rustix::io::Errno::HOSTUNREACH,
            ) => Answer::Failing(e.to_string()),
            _ => Answer::Yes,
        },
        Err(_) => Answer::Silent,
    }
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount point.
    pub mount_point: PathBuf,
    /// The file system type (`fuse.mpr`, `fuse.rclone`, ...).
    pub fstype: String,
    /// The mount source (`user@host:path`, ...).
    pub source: String,
}

/// Undoes the octal escapes of mountinfo (`\040` is a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a FUSE helper's log says when the mount failed on this machine
/// (no usable `/dev/fuse`, no `fusermount3`, a mount point it cannot use),
/// as opposed to the server refusing: the failure, with code 1222
/// (`WN_NO_NETWORK`, as for mpr-fsd) and the helper's own line. Checked
/// before the login patterns, since "Permission denied" on `/dev/fuse` is
/// not the server refusing a login.
pub fn local_failure(log: &str) -> Option<crate::Failure> {
    const LOCAL: &[&str] = &[
        "/dev/fuse",
        "fusermount",
        "fuse: bad mount point",
        "fuse: mountpoint is not empty",
        "fuse: device not found",
        "failed to mount FUSE fs",
        "mount helper error",
    ];
    let line = log
        .lines()
        .find(|l| LOCAL.iter().any(|k| l.contains(k)))?
        .trim();
    Some(crate::Failure::new(
        WnError::NoNetwork,
        format!("cannot mount on this machine (a local failure, not the server's): {line}"),
    ))
}

/// Parses the text of a mountinfo file.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let fstype = r.next()?;
            let source = r.next().unwrap_or("");
            Some(MountEntry {
                mount_point: PathBuf::from(unescape(mount_point)),
                fstype: fstype.to_string(),
                source: unescape(source),
            })
        })
        .collect()
}

/// The mounts of this process's namespace.
pub fn mounts() -> Vec<MountEntry> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

/// The topmost mount at `dir`, if any.
pub fn mounted_at(dir: &Path) -> Option<MountEntry> {
    mounts().into_iter().rev().find(|m| m.mount_point == dir)
}

/// Whether a mount at `dir` answers well within [`ANSWER_BOUND`].
pub fn answers(dir: &Path) -> bool {
    answer(dir) == Answer::Yes
}

/// Whether `dir` is a live mount of one of `fstypes`, served by the helper
/// whose log is `log`: mounted, the helper running (a dead helper's mount
/// may still answer `stat` from the kernel's cache for a moment), and
/// answering.
pub fn alive(dir: &Path, fstypes: &[&str], log: &Path) -> Option<MountEntry> {
    let m = mounted_at(dir)?;
    let helper_ok = crate::helper::running(log).unwrap_or(true);
    (fstypes.iter().any(|t| m.fstype == *t) && helper_ok && answers(dir)).then_some(m)
}

/// How long an unmount without `force` keeps asking while the mount is
/// busy. A file closed a moment ago can still hold the mount: a process
/// another thread forked just then shares the descriptor until it runs
/// its program, and the kernel finishes a close after the program saw it
/// return. A mount still busy after this is really in use.
pub const BUSY_GRACE: Duration = Duration::from_millis(1500);

/// Unmounts `dir`: `fusermount3 -u` (with `-z`, lazily, when `force`).
///
/// A busy mount without `force` is asked again for up to [`BUSY_GRACE`];
/// still busy, it is `WN_OPEN_FILES` and stays mounted. A directory that
/// is not mounted is `WN_NOT_CONNECTED`.
pub fn unmount(dir: &Path, force: bool, provider: &str) -> Result<(), WnError> {
    if mounted_at(dir).is_none() {
        return Err(WnError::NotConnected);
    }
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(20);
    let out = loop {
        let mut cmd = Command::new("fusermount3");
        cmd.arg("-u");
        if force {
            cmd.arg("-z");
        }
        let out = cmd.arg(dir).output().map_err(|e| {
            lasterror::set(
                WnError::NetError.code(),
                format!("cannot run fusermount3 (apt-get install fuse3): {e}"),
                provider,
            );
            WnError::NetError
        })?;
        let busy = !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("busy");
        if !busy || force || started.elapsed() + pause > BUSY_GRACE {
            break out;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(250));
    };
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("busy") {
        lasterror::set(
            WnError::OpenFiles.code(),
            format!(
                "{} is in use (files are open or a process works in it); use --force to disconnect anyway",
                dir.display()
            ),
            provider,
        );
        return Err(WnError::OpenFiles);
    }
    if mounted_at(dir).is_none() {
        return Ok(());
    }
    lasterror::set(
        WnError::NetError.code(),
        format!("cannot unmount {}: {}", dir.display(), err.trim()),
        provider,
    );
    Err(WnError::NetError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_mount_failures_are_not_login_refusals() {
        for log in [
            "fuse: failed to open /dev/fuse: Permission denied",
            "fusermount3: failed to open /etc/fuse.conf: Permission denied",
            "fuse: bad mount point `/run/user/1000/mpr/drives/Z': Permission denied",
            "Fatal error: failed to mount FUSE fs: fusermount: exec: \"fusermount3\": executable file not found in $PATH",
        ] {
            let f = local_failure(&format!("exit status: 1\n{log}\n")).expect(log);
            assert_eq!(f.code, WnError::NoNetwork, "{log}");
            assert!(f.text.contains(log.trim()), "{}", f.text);
        }
        for log in [
            "mprtest@127.0.0.1: Permission denied (publickey).",
            "read: Connection reset by peer",
            "",
        ] {
            assert!(local_failure(log).is_none(), "{log}");
        }
    }

    #[test]
    fn parses_mountinfo_lines() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - fuse.sshfs bob@h:export rw,user_id=0\n\
                    37 35 0:5 / /proc rw - proc proc rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!(
            (m[0].fstype.as_str(), m[0].source.as_str()),
            ("fuse.sshfs", "bob@h:export")
        );
        assert_eq!(m[1].fstype, "proc");
    }

    #[test]
    fn the_root_is_mounted_and_answers() {
        assert!(mounted_at(Path::new("/")).is_some());
        assert!(answers(Path::new("/")));
        assert!(mounted_at(Path::new("/definitely/not/a/mount")).is_none());
    }
}
