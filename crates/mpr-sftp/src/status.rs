//! SFTP's answers as the file system's errors, in one place.
//!
//! SFTP v3 has few status codes; OpenSSH's server maps `ENOENT`,
//! `ENOTDIR` and `ELOOP` to "no such file", `EPERM` and `EACCES` to
//! "permission denied", `EINVAL` and `ENAMETOOLONG` to "bad message",
//! `ENOSYS` to "unsupported", and everything else (`ENOTEMPTY`, `EEXIST`,
//! `EISDIR`, `ENOSPC`, ...) to the generic "failure". The callers look at
//! a failure again where it matters ([`is_failure`]).
//!
//! Anything but a status from the server (the channel broke, ssh ended,
//! an answer that cannot be read) means the session is gone:
//! [`FsError::Disconnected`], and the layer above reconnects.

use mpr_fs::FsError;
use openssh_sftp_client::Error;
use openssh_sftp_client::error::SftpErrorKind;

/// What the server answered, for the errors that need a closer look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SSH_FX_NO_SUCH_FILE`.
    NoSuchFile,
    /// `SSH_FX_PERMISSION_DENIED`.
    PermissionDenied,
    /// `SSH_FX_FAILURE`, the generic one.
    Failure,
    /// Another status.
    Other,
}

/// The server's status in `e`, if it is one.
pub fn kind(e: &Error) -> Option<Kind> {
    match e {
        Error::SftpError(k, _) => Some(match k {
            SftpErrorKind::NoSuchFile => Kind::NoSuchFile,
            SftpErrorKind::PermDenied => Kind::PermissionDenied,
            SftpErrorKind::Failure => Kind::Failure,
            _ => Kind::Other,
        }),
        _ => None,
    }
}

/// The message that marks a generic failure in an [`FsError::Io`].
const FAILURE: &str = "the server refused it (SFTP failure)";

/// Maps a client error to the file system's.
pub fn fs_error(e: Error) -> FsError {
    match &e {
        Error::SftpError(k, msg) => match k {
            SftpErrorKind::NoSuchFile => FsError::NotFound,
            SftpErrorKind::PermDenied => FsError::PermissionDenied,
            SftpErrorKind::Failure => FsError::Io(FAILURE.into()),
            SftpErrorKind::BadMessage => FsError::InvalidArgument,
            SftpErrorKind::OpUnsupported => FsError::NotSupported,
            _ => FsError::Io(format!("the server answered: {msg}")),
        },
        Error::UnsupportedExtension(_) => FsError::NotSupported,
        _ => FsError::Disconnected(e.to_string()),
    }
}

/// Whether `e` is the server's generic failure (which a caller may look at
/// again to say what it was).
pub fn is_failure(e: &FsError) -> bool {
    matches!(e, FsError::Io(m) if m == FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_errnos_and_broken_channels_to_disconnected() {
        let io = Error::IOError(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(matches!(fs_error(io), FsError::Disconnected(_)));
        assert_eq!(
            fs_error(Error::UnsupportedExtension(&"x")),
            FsError::NotSupported
        );
        assert!(is_failure(&FsError::Io(FAILURE.into())));
        assert!(!is_failure(&FsError::Io("other".into())));
    }
}
