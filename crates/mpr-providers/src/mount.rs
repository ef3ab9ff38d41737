//! The mount table and unmounting: what every FUSE-backed provider shares.
//!
//! The mount table (`/proc/self/mountinfo`) is the truth about whether a
//! built-in connection is alive (spec §5). A FUSE mount whose helper died
//! stays in the table but answers `ENOTCONN`: such a mount is not alive.

use mpr_core::{WnError, lasterror};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount point.
    pub mount_point: PathBuf,
    /// The file system type (`fuse.sshfs`, ...).
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

/// Whether a mount at `dir` answers (its helper is alive).
pub fn answers(dir: &Path) -> bool {
    match std::fs::metadata(dir) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() != Some(rustix::io::Errno::NOTCONN.raw_os_error()),
    }
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

/// Unmounts `dir`: `fusermount3 -u` (with `-z`, lazily, when `force`).
///
/// A busy mount without `force` is `WN_OPEN_FILES` and stays mounted; a
/// directory that is not mounted is `WN_NOT_CONNECTED`.
pub fn unmount(dir: &Path, force: bool, provider: &str) -> Result<(), WnError> {
    if mounted_at(dir).is_none() {
        return Err(WnError::NotConnected);
    }
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
