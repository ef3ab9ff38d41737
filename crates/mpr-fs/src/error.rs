//! The file system's one error type, mapped to an errno in one place
//! ([`FsError::errno`]), and the exact reasons a connect can fail
//! ([`ConnectError`]), mapped to the router's `WN_*` codes in one place
//! ([`ConnectError::wn_code`]).
//!
//! An operation the protocol cannot do answers `ENOSYS`, `EPERM` or
//! `EOPNOTSUPP`, never `EIO` and never a success that did nothing.

use mpr_abi as abi;
use std::fmt;

/// Why a connect (the handshake, or a reconnect) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The server refused the user name or password.
    BadPassword,
    /// The server refused the login for another reason (account disabled,
    /// no such user, expired password).
    LogonFailure(String),
    /// Authenticated, but not allowed to use the share or path.
    AccessDenied(String),
    /// The share (or the base path inside it) does not exist.
    NoSuchShare(String),
    /// The server could not be reached (refused, unreachable, no such host,
    /// timed out).
    Unreachable(String),
    /// The server's identity could not be verified (TLS).
    Identity(String),
    /// The server's SSH host key is unknown or has changed: an error of
    /// its own (`WN_EXTENDED_ERROR` with the reason), which the router
    /// never retries with another provider.
    HostKey(String),
    /// Anything else, with the server's or client's words.
    Other(String),
}

impl ConnectError {
    /// The `WN_*` code the router reports for it.
    pub fn wn_code(&self) -> u32 {
        match self {
            ConnectError::BadPassword => abi::WN_BAD_PASSWORD,
            ConnectError::LogonFailure(_) => abi::ERROR_LOGON_FAILURE,
            ConnectError::AccessDenied(_) => abi::WN_ACCESS_DENIED,
            ConnectError::NoSuchShare(_) => abi::WN_BAD_NETNAME,
            ConnectError::Unreachable(_) => abi::ERROR_BAD_NETPATH,
            ConnectError::Identity(_) => abi::WN_NOT_VALIDATED,
            ConnectError::HostKey(_) => abi::WN_EXTENDED_ERROR,
            ConnectError::Other(_) => abi::WN_NET_ERROR,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::BadPassword => {
                f.write_str("the server refused the login: wrong user name or password")
            }
            ConnectError::LogonFailure(why) => write!(f, "the server refused the login: {why}"),
            ConnectError::AccessDenied(why) => write!(f, "access denied: {why}"),
            ConnectError::NoSuchShare(why) => write!(f, "no such share: {why}"),
            ConnectError::Unreachable(why) => write!(f, "the server cannot be reached: {why}"),
            ConnectError::Identity(why) => {
                write!(f, "the server's identity could not be verified: {why}")
            }
            ConnectError::HostKey(why) | ConnectError::Other(why) => f.write_str(why),
        }
    }
}

/// What a file-system operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsError {
    /// No such file or directory.
    NotFound,
    /// It exists already.
    Exists,
    /// A directory that is not empty.
    NotEmpty,
    /// A path component is not a directory.
    NotDirectory,
    /// A directory where a file was expected.
    IsDirectory,
    /// The server refused it.
    PermissionDenied,
    /// Not allowed at all on this file system (a `chmod` or `chown` to
    /// values the protocol cannot store).
    NotPermitted,
    /// A file handle the file system does not know (the kernel's number
    /// outlived it).
    BadHandle,
    /// An argument the operation does not accept (a `rename` flag the file
    /// system does not implement).
    InvalidArgument,
    /// The share or file is read-only.
    ReadOnly,
    /// No space left on the share.
    NoSpace,
    /// A name longer than the server allows.
    NameTooLong,
    /// A name the server cannot store (holds `/`, NUL, or is `.`/`..`).
    InvalidName(String),
    /// The file is in use in a way that forbids this (a sharing violation).
    Busy,
    /// The protocol cannot do this (symlinks on SMB without extensions,
    /// `chmod` where there are no modes).
    NotSupported,
    /// Someone changed the file on the server since it was opened, and
    /// writing would overwrite their change (WebDAV's ETag check).
    Conflict(String),
    /// The file a name stood for is gone on the server (removed there
    /// while the kernel still held the name): the kernel looks the name
    /// up again and retries (`ESTALE`).
    Stale,
    /// The session is gone; the layer above reconnects and retries.
    Disconnected(String),
    /// The connect itself failed (handshake and reconnect).
    Connect(ConnectError),
    /// The operation did not finish within its bound.
    TimedOut,
    /// Anything else the server or client said.
    Io(String),
}

impl FsError {
    /// The errno a program sees.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound => libc_errno::ENOENT,
            FsError::Exists => libc_errno::EEXIST,
            FsError::NotEmpty => libc_errno::ENOTEMPTY,
            FsError::NotDirectory => libc_errno::ENOTDIR,
            FsError::IsDirectory => libc_errno::EISDIR,
            FsError::PermissionDenied => libc_errno::EACCES,
            FsError::NotPermitted => libc_errno::EPERM,
            FsError::BadHandle => libc_errno::EBADF,
            FsError::InvalidArgument => libc_errno::EINVAL,
            FsError::ReadOnly => libc_errno::EROFS,
            FsError::NoSpace => libc_errno::ENOSPC,
            FsError::NameTooLong => libc_errno::ENAMETOOLONG,
            FsError::InvalidName(_) => libc_errno::EINVAL,
            FsError::Busy => libc_errno::EBUSY,
            FsError::NotSupported => libc_errno::EOPNOTSUPP,
            FsError::Conflict(_) | FsError::Stale => libc_errno::ESTALE,
            FsError::Disconnected(_) | FsError::Connect(_) | FsError::TimedOut | FsError::Io(_) => {
                libc_errno::EIO
            }
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound => f.write_str("no such file or directory"),
            FsError::Exists => f.write_str("it exists already"),
            FsError::NotEmpty => f.write_str("the directory is not empty"),
            FsError::NotDirectory => f.write_str("not a directory"),
            FsError::IsDirectory => f.write_str("is a directory"),
            FsError::PermissionDenied => f.write_str("permission denied"),
            FsError::NotPermitted => f.write_str("operation not permitted on this file system"),
            FsError::BadHandle => f.write_str("unknown file handle"),
            FsError::InvalidArgument => f.write_str("invalid argument"),
            FsError::ReadOnly => f.write_str("read-only"),
            FsError::NoSpace => f.write_str("no space left on the share"),
            FsError::NameTooLong => f.write_str("name too long"),
            FsError::InvalidName(n) => write!(f, "{n:?} is not a valid name"),
            FsError::Busy => f.write_str("the file is in use"),
            FsError::NotSupported => f.write_str("the protocol cannot do this"),
            FsError::Conflict(why) => write!(f, "changed on the server meanwhile: {why}"),
            FsError::Stale => f.write_str("removed on the server: look the name up again"),
            FsError::Disconnected(why) => write!(f, "disconnected: {why}"),
            FsError::Connect(e) => e.fmt(f),
            FsError::TimedOut => f.write_str("timed out"),
            FsError::Io(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for FsError {}

/// The errno values used here (Linux, all architectures mpr builds for),
/// kept local so that this crate needs no C bindings.
pub mod libc_errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// Input/output error.
    pub const EIO: i32 = 5;
    /// Bad file descriptor.
    pub const EBADF: i32 = 9;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Device or resource busy.
    pub const EBUSY: i32 = 16;
    /// File exists.
    pub const EEXIST: i32 = 17;
    /// Invalid cross-device link.
    pub const EXDEV: i32 = 18;
    /// Not a directory.
    pub const ENOTDIR: i32 = 20;
    /// Is a directory.
    pub const EISDIR: i32 = 21;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// File too large.
    pub const EFBIG: i32 = 27;
    /// No space left on device.
    pub const ENOSPC: i32 = 28;
    /// Read-only file system.
    pub const EROFS: i32 = 30;
    /// File name too long.
    pub const ENAMETOOLONG: i32 = 36;
    /// Function not implemented.
    pub const ENOSYS: i32 = 38;
    /// Directory not empty.
    pub const ENOTEMPTY: i32 = 39;
    /// No data available (extended attributes).
    pub const ENODATA: i32 = 61;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = 95;
    /// Stale file handle.
    pub const ESTALE: i32 = 116;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_the_protocol_cannot_do_is_an_io_error() {
        assert_eq!(FsError::NotSupported.errno(), libc_errno::EOPNOTSUPP);
        assert_eq!(FsError::NotFound.errno(), libc_errno::ENOENT);
        assert_eq!(FsError::TimedOut.errno(), libc_errno::EIO);
        assert_eq!(FsError::NotPermitted.errno(), libc_errno::EPERM);
        assert_eq!(FsError::BadHandle.errno(), libc_errno::EBADF);
        assert_eq!(FsError::InvalidArgument.errno(), libc_errno::EINVAL);
    }

    #[test]
    fn connect_errors_map_to_the_routers_codes() {
        assert_eq!(ConnectError::BadPassword.wn_code(), 86);
        assert_eq!(ConnectError::NoSuchShare("x".into()).wn_code(), 67);
        assert_eq!(ConnectError::Unreachable("x".into()).wn_code(), 53);
        assert_eq!(ConnectError::AccessDenied("x".into()).wn_code(), 5);
        assert_eq!(ConnectError::LogonFailure("x".into()).wn_code(), 1326);
        assert_eq!(ConnectError::HostKey("x".into()).wn_code(), 1208);
    }
}
