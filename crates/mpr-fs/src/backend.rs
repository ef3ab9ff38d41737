//! The seam between the file system and a protocol: one [`Backend`] per
//! protocol (SMB first; WebDAV and SFTP later), speaking paths inside the
//! share and plain Rust types. Everything that is not protocol (inodes,
//! caching, coherence, handles, timeouts, reconnect, health, errno) lives
//! above this trait and is written once.
//!
//! The methods are `async`: protocol clients are asynchronous, and the layer
//! above bounds every call with a timeout and keeps several in flight.

use crate::error::FsError;
use bytes::Bytes;
use std::fmt;
use std::future::Future;
use std::time::SystemTime;

/// A path inside the share, relative to its root: `/`-separated UTF-8
/// components, none empty, `.`, `..`, or holding `/` or NUL. The root is
/// the empty path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RelPath(String);

impl RelPath {
    /// The root of the share.
    pub fn root() -> RelPath {
        RelPath(String::new())
    }

    /// Checks and wraps `/`-separated components (a leading or trailing
    /// `/` is not allowed; the empty string is the root).
    pub fn new(s: &str) -> Result<RelPath, FsError> {
        if s.is_empty() {
            return Ok(RelPath::root());
        }
        for c in s.split('/') {
            check_component(c)?;
        }
        Ok(RelPath(s.to_string()))
    }

    /// This path with one more component.
    pub fn join(&self, name: &str) -> Result<RelPath, FsError> {
        check_component(name)?;
        Ok(if self.0.is_empty() {
            RelPath(name.to_string())
        } else {
            RelPath(format!("{}/{name}", self.0))
        })
    }

    /// The parent directory; `None` for the root.
    pub fn parent(&self) -> Option<RelPath> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.0.rsplit_once('/') {
            Some((p, _)) => RelPath(p.to_string()),
            None => RelPath::root(),
        })
    }

    /// The last component; empty for the root.
    pub fn name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, n)| n)
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The components joined by `/` (empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0)
    }
}

fn check_component(c: &str) -> Result<(), FsError> {
    if c.is_empty() || c == "." || c == ".." || c.contains(['/', '\0']) {
        return Err(FsError::InvalidName(c.to_string()));
    }
    if c.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    Ok(())
}

/// The longest name a component may have, in bytes (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// What kind of object a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (only where the protocol has them).
    Symlink,
    /// Something on the server that is neither a file, a directory nor a
    /// link (only where the protocol tells them apart). It is shown as what
    /// it is, and the kernel never asks the file system to open it: a
    /// named pipe opened through the drive is a pipe on this machine, so a
    /// server is never asked to open one (OpenSSH's SFTP server would wait
    /// for a writer, and with it every other request of the drive).
    Special(Special),
}

/// The kinds of [`FileKind::Special`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// A named pipe (FIFO).
    Fifo,
    /// A Unix-domain socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

/// The attributes of a file or directory, as the server reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// File, directory or link.
    pub kind: FileKind,
    /// Size in bytes (0 for directories where the protocol has none).
    pub size: u64,
    /// Last modification.
    pub mtime: SystemTime,
    /// Last access (the modification time where the protocol has none).
    pub atime: SystemTime,
    /// Last change of data or metadata (the modification time where the
    /// protocol has none).
    pub ctime: SystemTime,
    /// Permission bits, where the protocol has them (`None`: the file
    /// system shows its defaults).
    pub perm: Option<u16>,
    /// Whether the server says it is read-only.
    pub readonly: bool,
}

impl Attr {
    /// Attributes of `kind` that describe no real file (size 0, times at
    /// the epoch, default permissions), for entries the kernel needs but
    /// the server did not describe: `.` and `..` in a listing, a negative
    /// entry.
    pub fn stand_in(kind: FileKind) -> Attr {
        Attr {
            kind,
            size: 0,
            mtime: SystemTime::UNIX_EPOCH,
            atime: SystemTime::UNIX_EPOCH,
            ctime: SystemTime::UNIX_EPOCH,
            perm: None,
            readonly: false,
        }
    }
}

/// One entry of a directory listing, with its attributes (listings carry
/// them in every protocol mpr speaks, so a listing needs no stat per name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name (one component).
    pub name: String,
    /// Its attributes.
    pub attr: Attr,
}

/// How a file is opened (`open(2)` flags that reach the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenFlags {
    /// Reading.
    pub read: bool,
    /// Writing.
    pub write: bool,
    /// Create it if missing.
    pub create: bool,
    /// With `create`: fail if it exists (`O_EXCL`).
    pub exclusive: bool,
    /// Cut it to 0 bytes (`O_TRUNC`).
    pub truncate: bool,
}

/// Space on the share (`statfs(2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFs {
    /// Allocation unit in bytes.
    pub block_size: u32,
    /// Total units.
    pub blocks: u64,
    /// Free units.
    pub free: u64,
    /// Free units for an unprivileged user.
    pub available: u64,
}

/// Times to set (`utimensat(2)`); `None` leaves one as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Times {
    /// Access time.
    pub atime: Option<SystemTime>,
    /// Modification time.
    pub mtime: Option<SystemTime>,
}

/// One protocol, as the file system sees it.
///
/// Errors: [`FsError::Disconnected`] means the session is gone; the layer
/// above then calls [`Backend::connect`] again (with backoff, within the
/// operation's bound) and, after a reconnect, opens again the files that
/// were open. Every other error is the answer to this call.
pub trait Backend: Send + Sync + 'static {
    /// An open file on the server (an SMB file id, an SFTP handle, a
    /// staged WebDAV upload).
    type Handle: Send + Sync + 'static;

    /// Establishes (or re-establishes) the session: connect, authenticate,
    /// open the share and check the base path. The handshake reports this
    /// call's error as the connect's result, so it must be exact
    /// ([`FsError::Connect`]).
    fn connect(&self) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Whether an open handle stays valid when the session is
    /// re-established (`false`, the default: the server forgot it, as SMB
    /// does, and the file system opens the file again by path).
    ///
    /// A back end answering `true` keeps state in its handles that only
    /// [`Backend::flush`] or [`Backend::close`] commits (WebDAV stages
    /// writes in a local file and uploads it then). The file system then
    /// never drops such a handle without closing it: it keeps using it
    /// after a reconnect (never opening the file again by path, which
    /// would lose what it staged), does not close it to let a directory
    /// be renamed, and uploads through a flush, which waits for a
    /// reconnect within the bound like any call, before it closes it.
    fn handles_survive_reconnect(&self) -> bool {
        false
    }

    /// Whether each `close(2)` of a descriptor that wrote calls
    /// [`Backend::flush`] (`true`, the default). A back end whose
    /// acknowledged writes are in the server's file already, seen by every
    /// other client (SFTP: the server has written them when it answers),
    /// answers `false`: a close then waits only for the writes still
    /// queued, and only `fsync(2)` asks the server to make them durable.
    /// A back end that keeps writes in its handles
    /// ([`Backend::handles_survive_reconnect`]) must answer `true`.
    fn flush_at_close(&self) -> bool {
        true
    }

    /// The attributes of `path`.
    fn stat(&self, path: &RelPath) -> impl Future<Output = Result<Attr, FsError>> + Send;

    /// The entries of directory `dir` (without `.` and `..`).
    fn list(&self, dir: &RelPath) -> impl Future<Output = Result<Vec<DirEntry>, FsError>> + Send;

    /// Opens (or creates) a file; its attributes after the open.
    fn open(
        &self,
        path: &RelPath,
        flags: OpenFlags,
    ) -> impl Future<Output = Result<(Self::Handle, Attr), FsError>> + Send;

    /// Reads up to `len` bytes at `offset`; fewer only at the end of file.
    /// `Bytes`, so that a back end hands on the buffer its protocol filled
    /// (or the part of it that is the file's) instead of a copy: the read
    /// goes on to the read-ahead and the FUSE reply as it is.
    fn read(
        &self,
        handle: &Self::Handle,
        offset: u64,
        len: u32,
    ) -> impl Future<Output = Result<Bytes, FsError>> + Send;

    /// Writes all of `data` at `offset`.
    fn write(
        &self,
        handle: &Self::Handle,
        offset: u64,
        data: &[u8],
    ) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Writes all of `data` at `offset`, as [`Backend::write`], and gives
    /// the attributes of `path` (where the file is open) as they are right
    /// after this write, when the back end has them at no extra wait (SFTP
    /// sends a STAT behind the WRITE, which the server answers as if the
    /// two came one at a time). `None`: not known; the default only
    /// writes.
    fn write_and_stat(
        &self,
        handle: &Self::Handle,
        offset: u64,
        data: &[u8],
        path: &RelPath,
    ) -> impl Future<Output = Result<Option<Attr>, FsError>> + Send {
        let _ = path;
        async move { self.write(handle, offset, data).await.map(|()| None) }
    }

    /// Sets the size of an open file (grows with zeros, or cuts).
    fn set_len(
        &self,
        handle: &Self::Handle,
        size: u64,
    ) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Sets the size of a file by path (`truncate(2)` without a handle).
    fn truncate(
        &self,
        path: &RelPath,
        size: u64,
    ) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Sets times by path.
    fn set_times(
        &self,
        path: &RelPath,
        times: Times,
    ) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Sets the permission bits (`chmod(2)`), where the protocol stores
    /// them. The default refuses ([`FsError::NotPermitted`], `EPERM`): SMB
    /// and WebDAV have no modes, and a `chmod` that did nothing must not
    /// look like one that worked.
    fn set_perm(
        &self,
        path: &RelPath,
        perm: u16,
    ) -> impl Future<Output = Result<(), FsError>> + Send {
        let _ = (path, perm);
        async { Err(FsError::NotPermitted) }
    }

    /// Makes what was written durable on the server (`fsync(2)`); returns
    /// only when it is.
    fn flush(&self, handle: &Self::Handle) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Closes an open file; what was written has reached the server when
    /// this returns.
    fn close(&self, handle: Self::Handle) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Creates a directory.
    fn mkdir(&self, path: &RelPath) -> impl Future<Output = Result<Attr, FsError>> + Send;

    /// Removes an empty directory.
    fn rmdir(&self, path: &RelPath) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Removes a file.
    fn unlink(&self, path: &RelPath) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Renames `from` to `to`, replacing a file at `to` atomically (an
    /// editor's safe save), or an empty directory by a directory.
    fn rename(
        &self,
        from: &RelPath,
        to: &RelPath,
    ) -> impl Future<Output = Result<(), FsError>> + Send;

    /// Space on the share.
    fn statfs(&self) -> impl Future<Output = Result<StatFs, FsError>> + Send;

    /// The session answers nothing (no answer to a check within
    /// `FsConfig::session_check`) and is about to be replaced by
    /// [`Backend::connect`]: drop whatever would carry the new session over
    /// the stuck one (SFTP's shared ssh master). The default does nothing.
    fn abandon_stuck(&self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// What the symbolic link at `path` points at, as the server stores it.
    /// Only back ends that show links ([`FileKind::Symlink`]) need it.
    fn read_link(&self, path: &RelPath) -> impl Future<Output = Result<String, FsError>> + Send {
        let _ = path;
        async { Err(FsError::NotSupported) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_components() {
        let p = RelPath::new("a/b c/ü").unwrap();
        assert_eq!(p.name(), "ü");
        assert_eq!(p.parent().unwrap().as_str(), "a/b c");
        assert_eq!(
            p.parent().unwrap().parent().unwrap(),
            RelPath::new("a").unwrap()
        );
        assert!(RelPath::new("a").unwrap().parent().unwrap().is_root());
        assert!(RelPath::root().parent().is_none());
        assert_eq!(RelPath::root().join("x").unwrap().as_str(), "x");
        assert_eq!(p.to_string(), "/a/b c/ü");
        for bad in ["/a", "a/", "a//b", ".", "a/..", "a\0b"] {
            assert!(RelPath::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RelPath::root().join(&"x".repeat(256)),
            Err(FsError::NameTooLong)
        );
    }
}
