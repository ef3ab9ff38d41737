//! NTSTATUS codes, mapped exactly: to [`FsError`] for file operations and
//! to [`ConnectError`] for the connect. The codes are kept here as plain
//! numbers (MS-ERREF 2.3) because `smb2` names only some of them.

use mpr_fs::{ConnectError, FsError};

/// The NTSTATUS values this back end tells apart.
pub mod code {
    /// The operation succeeded.
    pub const SUCCESS: u32 = 0x0000_0000;
    /// No more bytes (a read at or past the end of the file).
    pub const END_OF_FILE: u32 = 0xC000_0011;
    /// The handle is not valid (closed, or from another session).
    pub const INVALID_HANDLE: u32 = 0xC000_0008;
    /// The request is not supported by this server or file system.
    pub const NOT_SUPPORTED: u32 = 0xC000_00BB;
    /// Not implemented.
    pub const NOT_IMPLEMENTED: u32 = 0xC000_0002;
    /// Invalid device request (the operation makes no sense for this object).
    pub const INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
    /// Access denied.
    pub const ACCESS_DENIED: u32 = 0xC000_0022;
    /// The name has characters or a form the server refuses.
    pub const OBJECT_NAME_INVALID: u32 = 0xC000_0033;
    /// No such name.
    pub const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
    /// The name exists already.
    pub const OBJECT_NAME_COLLISION: u32 = 0xC000_0035;
    /// A directory on the way does not exist.
    pub const OBJECT_PATH_NOT_FOUND: u32 = 0xC000_003A;
    /// The path's syntax is bad.
    pub const OBJECT_PATH_SYNTAX_BAD: u32 = 0xC000_003B;
    /// No such file (a listing with a pattern that matched nothing).
    pub const NO_SUCH_FILE: u32 = 0xC000_000F;
    /// The file is open in a way that forbids this open.
    pub const SHARING_VIOLATION: u32 = 0xC000_0043;
    /// A byte-range lock is in the way.
    pub const FILE_LOCK_CONFLICT: u32 = 0xC000_0054;
    /// The quota is exhausted.
    pub const QUOTA_EXCEEDED: u32 = 0xC000_0044;
    /// The file is being deleted.
    pub const DELETE_PENDING: u32 = 0xC000_0056;
    /// The disk is full.
    pub const DISK_FULL: u32 = 0xC000_007F;
    /// The file cannot be deleted (read-only).
    pub const CANNOT_DELETE: u32 = 0xC000_0121;
    /// The medium (share) is write-protected.
    pub const MEDIA_WRITE_PROTECTED: u32 = 0xC000_00A2;
    /// Wrong user name or password.
    pub const LOGON_FAILURE: u32 = 0xC000_006D;
    /// An account restriction (e.g. an empty password is not allowed).
    pub const ACCOUNT_RESTRICTION: u32 = 0xC000_006E;
    /// Outside the account's logon hours.
    pub const INVALID_LOGON_HOURS: u32 = 0xC000_006F;
    /// Not allowed from this workstation.
    pub const INVALID_WORKSTATION: u32 = 0xC000_0070;
    /// The password has expired.
    pub const PASSWORD_EXPIRED: u32 = 0xC000_0071;
    /// The account is disabled.
    pub const ACCOUNT_DISABLED: u32 = 0xC000_0072;
    /// The account has expired.
    pub const ACCOUNT_EXPIRED: u32 = 0xC000_0193;
    /// The password must be changed before the first logon.
    pub const PASSWORD_MUST_CHANGE: u32 = 0xC000_0224;
    /// The account is locked out.
    pub const ACCOUNT_LOCKED_OUT: u32 = 0xC000_0234;
    /// The account's logon type is not granted.
    pub const LOGON_TYPE_NOT_GRANTED: u32 = 0xC000_015B;
    /// A directory was expected.
    pub const NOT_A_DIRECTORY: u32 = 0xC000_0103;
    /// A file was expected.
    pub const FILE_IS_A_DIRECTORY: u32 = 0xC000_00BA;
    /// The directory is not empty.
    pub const DIRECTORY_NOT_EMPTY: u32 = 0xC000_0101;
    /// The name is too long.
    pub const NAME_TOO_LONG: u32 = 0xC000_0106;
    /// The file would be too large.
    pub const FILE_TOO_LARGE: u32 = 0xC000_0904;
    /// The network path was not found.
    pub const BAD_NETWORK_PATH: u32 = 0xC000_00BE;
    /// No such share.
    pub const BAD_NETWORK_NAME: u32 = 0xC000_00CC;
    /// The network refused access (share-level).
    pub const NETWORK_ACCESS_DENIED: u32 = 0xC000_00CA;
    /// The share was disconnected under the tree id.
    pub const NETWORK_NAME_DELETED: u32 = 0xC000_00C9;
    /// The session is gone.
    pub const USER_SESSION_DELETED: u32 = 0xC000_0203;
    /// The session has expired and must be set up again.
    pub const NETWORK_SESSION_EXPIRED: u32 = 0xC000_035C;
    /// The handle was closed.
    pub const FILE_CLOSED: u32 = 0xC000_0128;
    /// The server is short of resources.
    pub const INSUFF_SERVER_RESOURCES: u32 = 0xC000_0205;
    /// Invalid parameter.
    pub const INVALID_PARAMETER: u32 = 0xC000_000D;
}

/// The error a file operation reports for an NTSTATUS the server answered.
pub fn fs_error(status: u32) -> FsError {
    use code::*;
    match status {
        OBJECT_NAME_NOT_FOUND | OBJECT_PATH_NOT_FOUND | NO_SUCH_FILE | DELETE_PENDING => {
            FsError::NotFound
        }
        OBJECT_NAME_COLLISION => FsError::Exists,
        DIRECTORY_NOT_EMPTY => FsError::NotEmpty,
        NOT_A_DIRECTORY => FsError::NotDirectory,
        FILE_IS_A_DIRECTORY => FsError::IsDirectory,
        SHARING_VIOLATION | FILE_LOCK_CONFLICT => FsError::Busy,
        DISK_FULL | QUOTA_EXCEEDED | FILE_TOO_LARGE => FsError::NoSpace,
        ACCESS_DENIED | NETWORK_ACCESS_DENIED | CANNOT_DELETE => FsError::PermissionDenied,
        MEDIA_WRITE_PROTECTED => FsError::ReadOnly,
        NAME_TOO_LONG => FsError::NameTooLong,
        OBJECT_NAME_INVALID | OBJECT_PATH_SYNTAX_BAD => {
            FsError::InvalidName(format!("the server refused the name ({})", name(status)))
        }
        NOT_SUPPORTED | NOT_IMPLEMENTED | INVALID_DEVICE_REQUEST => FsError::NotSupported,
        NETWORK_NAME_DELETED | USER_SESSION_DELETED | NETWORK_SESSION_EXPIRED => {
            FsError::Disconnected(format!("the server ended the session ({})", name(status)))
        }
        _ => FsError::Io(format!("the server answered {}", name(status))),
    }
}

/// The error a connect reports for an NTSTATUS the server answered while
/// authenticating or opening the share and base path.
pub fn connect_error(status: u32) -> ConnectError {
    use code::*;
    match status {
        LOGON_FAILURE => ConnectError::BadPassword,
        ACCOUNT_RESTRICTION
        | INVALID_LOGON_HOURS
        | INVALID_WORKSTATION
        | PASSWORD_EXPIRED
        | ACCOUNT_DISABLED
        | ACCOUNT_EXPIRED
        | PASSWORD_MUST_CHANGE
        | ACCOUNT_LOCKED_OUT
        | LOGON_TYPE_NOT_GRANTED => ConnectError::LogonFailure(name(status)),
        ACCESS_DENIED | NETWORK_ACCESS_DENIED => ConnectError::AccessDenied(name(status)),
        BAD_NETWORK_NAME | OBJECT_NAME_NOT_FOUND | OBJECT_PATH_NOT_FOUND | NOT_A_DIRECTORY => {
            ConnectError::NoSuchShare(name(status))
        }
        BAD_NETWORK_PATH => ConnectError::Unreachable(name(status)),
        _ => ConnectError::Other(format!("the server answered {}", name(status))),
    }
}

/// The status's name as Windows spells it (`STATUS_LOGON_FAILURE`), or
/// its number.
pub fn name(status: u32) -> String {
    smb2::types::status::NtStatus(status).to_string()
}

#[cfg(test)]
mod tests {
    use super::code::*;
    use super::*;

    #[test]
    fn file_statuses_map_to_their_exact_errors() {
        assert_eq!(fs_error(OBJECT_NAME_NOT_FOUND), FsError::NotFound);
        assert_eq!(fs_error(OBJECT_PATH_NOT_FOUND), FsError::NotFound);
        assert_eq!(fs_error(OBJECT_NAME_COLLISION), FsError::Exists);
        assert_eq!(fs_error(DIRECTORY_NOT_EMPTY), FsError::NotEmpty);
        assert_eq!(fs_error(NOT_A_DIRECTORY), FsError::NotDirectory);
        assert_eq!(fs_error(FILE_IS_A_DIRECTORY), FsError::IsDirectory);
        assert_eq!(fs_error(SHARING_VIOLATION), FsError::Busy);
        assert_eq!(fs_error(DISK_FULL), FsError::NoSpace);
        assert_eq!(fs_error(ACCESS_DENIED), FsError::PermissionDenied);
        assert_eq!(fs_error(NOT_SUPPORTED), FsError::NotSupported);
        assert_eq!(fs_error(NAME_TOO_LONG), FsError::NameTooLong);
        assert_eq!(fs_error(MEDIA_WRITE_PROTECTED), FsError::ReadOnly);
        assert!(matches!(
            fs_error(NETWORK_SESSION_EXPIRED),
            FsError::Disconnected(_)
        ));
        assert!(matches!(fs_error(0xC000_9999), FsError::Io(_)));
    }

    #[test]
    fn connect_statuses_map_to_their_exact_errors() {
        assert_eq!(connect_error(LOGON_FAILURE), ConnectError::BadPassword);
        assert!(matches!(
            connect_error(ACCOUNT_DISABLED),
            ConnectError::LogonFailure(_)
        ));
        assert!(matches!(
            connect_error(ACCESS_DENIED),
            ConnectError::AccessDenied(_)
        ));
        assert!(matches!(
            connect_error(BAD_NETWORK_NAME),
            ConnectError::NoSuchShare(_)
        ));
        assert!(matches!(
            connect_error(OBJECT_PATH_NOT_FOUND),
            ConnectError::NoSuchShare(_)
        ));
        let n = name(LOGON_FAILURE);
        assert!(n.contains("LOGON_FAILURE"), "{n}");
    }
}
