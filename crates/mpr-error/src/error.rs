//! [`WnError`]: one variant per `WN_*` failure code, mapping 1:1 onto the code.

use mpr_abi as abi;
use std::fmt;

macro_rules! wn_errors {
    ($( $(#[$doc:meta])* $variant:ident = $code:path, $name:literal, $msg:literal; )*) => {
        /// A failed WNet status. Success is `Ok(())`, never a variant.
        ///
        /// Each discriminant is the `mpr-abi` constant, so `err as u32` and
        /// [`WnError::code`] give the value a C caller sees. Detail (provider,
        /// path, errno, plugin text) never lives here: it travels in the
        /// per-thread extended error ([`crate::lasterror`]).
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum WnError {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl WnError {
            /// Every variant, in declaration order.
            pub const ALL: &'static [WnError] = &[ $( WnError::$variant, )* ];

            /// The symbolic name, e.g. `"WN_BAD_NETNAME"`.
            pub fn name(self) -> &'static str {
                match self { $( WnError::$variant => $name, )* }
            }

            /// Maps a known nonzero code to its variant.
            pub fn from_code(code: u32) -> Option<WnError> {
                match code { $( $code => Some(WnError::$variant), )* _ => None }
            }

            fn message(self) -> &'static str {
                match self { $( WnError::$variant => $msg, )* }
            }
        }
    };
}

wn_errors! {
    /// `WN_ACCESS_DENIED` (5).
    AccessDenied = abi::WN_ACCESS_DENIED, "WN_ACCESS_DENIED", "access denied";
    /// `WN_BAD_HANDLE` (6).
    BadHandle = abi::WN_BAD_HANDLE, "WN_BAD_HANDLE", "invalid handle";
    /// `WN_OUT_OF_MEMORY` (8).
    OutOfMemory = abi::WN_OUT_OF_MEMORY, "WN_OUT_OF_MEMORY", "out of memory";
    /// `WN_DEVICE_ERROR` (31).
    DeviceError = abi::WN_DEVICE_ERROR, "WN_DEVICE_ERROR", "device error";
    /// `ERROR_BAD_NETPATH` (53): the network path was not found.
    BadNetPath = abi::ERROR_BAD_NETPATH, "ERROR_BAD_NETPATH", "the network path was not found";
    /// `WN_NOT_SUPPORTED` (50).
    NotSupported = abi::WN_NOT_SUPPORTED, "WN_NOT_SUPPORTED", "not supported";
    /// `WN_NET_ERROR` / `WN_WINDOWS_ERROR` (59): the generic failure.
    NetError = abi::WN_NET_ERROR, "WN_NET_ERROR", "unexpected network error";
    /// `ERROR_NETNAME_DELETED` (64).
    NetNameDeleted = abi::ERROR_NETNAME_DELETED, "ERROR_NETNAME_DELETED", "the network name is no longer available";
    /// `WN_BAD_DEV_TYPE` (66).
    BadDevType = abi::WN_BAD_DEV_TYPE, "WN_BAD_DEV_TYPE", "the device type does not match the resource";
    /// `WN_BAD_NETNAME` (67).
    BadNetName = abi::WN_BAD_NETNAME, "WN_BAD_NETNAME", "the network name is not valid or cannot be found";
    /// `WN_ALREADY_CONNECTED` (85).
    AlreadyConnected = abi::WN_ALREADY_CONNECTED, "WN_ALREADY_CONNECTED", "the local name is already connected";
    /// `WN_BAD_PASSWORD` (86).
    BadPassword = abi::WN_BAD_PASSWORD, "WN_BAD_PASSWORD", "the password is not valid";
    /// `WN_BAD_VALUE` (87).
    BadValue = abi::WN_BAD_VALUE, "WN_BAD_VALUE", "invalid parameter";
    /// `ERROR_INVALID_NAME` (123).
    InvalidName = abi::ERROR_INVALID_NAME, "ERROR_INVALID_NAME", "the name syntax is incorrect";
    /// `WN_BAD_LEVEL` (124).
    BadLevel = abi::WN_BAD_LEVEL, "WN_BAD_LEVEL", "invalid level";
    /// `WN_FUNCTION_BUSY` (170).
    FunctionBusy = abi::WN_FUNCTION_BUSY, "WN_FUNCTION_BUSY", "busy, try again";
    /// `WN_MORE_DATA` (234).
    MoreData = abi::WN_MORE_DATA, "WN_MORE_DATA", "the buffer is too small";
    /// `WN_NO_MORE_ENTRIES` (259).
    NoMoreEntries = abi::WN_NO_MORE_ENTRIES, "WN_NO_MORE_ENTRIES", "no more entries";
    /// `WN_BAD_POINTER` (487).
    BadPointer = abi::WN_BAD_POINTER, "WN_BAD_POINTER", "invalid pointer";
    /// `WN_BAD_LOCALNAME` (1200).
    BadLocalName = abi::WN_BAD_LOCALNAME, "WN_BAD_LOCALNAME", "the local name is not valid";
    /// `WN_CONNECTION_CLOSED` (1201).
    ConnectionClosed = abi::WN_CONNECTION_CLOSED, "WN_CONNECTION_CLOSED", "the connection is remembered but not available";
    /// `WN_DEVICE_ALREADY_REMEMBERED` (1202).
    DeviceAlreadyRemembered = abi::WN_DEVICE_ALREADY_REMEMBERED, "WN_DEVICE_ALREADY_REMEMBERED", "the local name has a remembered connection to another resource";
    /// `WN_NO_NET_OR_BAD_PATH` (1203).
    NoNetOrBadPath = abi::WN_NO_NET_OR_BAD_PATH, "WN_NO_NET_OR_BAD_PATH", "no provider accepted the path, and a network is unavailable";
    /// `WN_BAD_PROVIDER` (1204).
    BadProvider = abi::WN_BAD_PROVIDER, "WN_BAD_PROVIDER", "the provider name is not valid";
    /// `WN_CANNOT_OPEN_PROFILE` (1205).
    CannotOpenProfile = abi::WN_CANNOT_OPEN_PROFILE, "WN_CANNOT_OPEN_PROFILE", "the remembered connections cannot be opened";
    /// `WN_BAD_PROFILE` (1206).
    BadProfile = abi::WN_BAD_PROFILE, "WN_BAD_PROFILE", "the remembered connections are malformed";
    /// `WN_NOT_CONTAINER` (1207).
    NotContainer = abi::WN_NOT_CONTAINER, "WN_NOT_CONTAINER", "not a container";
    /// `WN_EXTENDED_ERROR` (1208).
    ExtendedError = abi::WN_EXTENDED_ERROR, "WN_EXTENDED_ERROR", "a provider-specific error occurred";
    /// `WN_NO_NETWORK` (1222).
    NoNetwork = abi::WN_NO_NETWORK, "WN_NO_NETWORK", "the network is not present or not started";
    /// `WN_CANCEL` (1223).
    Cancel = abi::WN_CANCEL, "WN_CANCEL", "the operation was cancelled";
    /// `WN_RETRY` (1237).
    Retry = abi::WN_RETRY, "WN_RETRY", "retry the operation";
    /// `WN_NOT_AUTHENTICATED` (1244).
    NotAuthenticated = abi::WN_NOT_AUTHENTICATED, "WN_NOT_AUTHENTICATED", "not authenticated";
    /// `WN_NOT_LOGGED_ON` (1245).
    NotLoggedOn = abi::WN_NOT_LOGGED_ON, "WN_NOT_LOGGED_ON", "not logged on";
    /// `WN_NOT_INITIALIZING` (1247).
    NotInitializing = abi::WN_NOT_INITIALIZING, "WN_NOT_INITIALIZING", "not initializing";
    /// `WN_NO_MORE_DEVICES` (1248).
    NoMoreDevices = abi::WN_NO_MORE_DEVICES, "WN_NO_MORE_DEVICES", "no more local devices";
    /// `WN_NOT_VALIDATED` (1311).
    NotValidated = abi::WN_NOT_VALIDATED, "WN_NOT_VALIDATED", "no logon servers";
    /// `ERROR_LOGON_FAILURE` (1326): unknown user name or bad password.
    LogonFailure = abi::ERROR_LOGON_FAILURE, "ERROR_LOGON_FAILURE", "unknown user name or bad password";
    /// `ERROR_SESSION_CREDENTIAL_CONFLICT` (1219).
    SessionCredentialConflict = abi::ERROR_SESSION_CREDENTIAL_CONFLICT, "ERROR_SESSION_CREDENTIAL_CONFLICT", "conflicting credentials for this server";
    /// `WN_CONNECTED_OTHER_PASSWORD` (2108).
    ConnectedOtherPassword = abi::WN_CONNECTED_OTHER_PASSWORD, "WN_CONNECTED_OTHER_PASSWORD", "connected with another password";
    /// `WN_CONNECTED_OTHER_PASSWORD_DEFAULT` (2109).
    ConnectedOtherPasswordDefault = abi::WN_CONNECTED_OTHER_PASSWORD_DEFAULT, "WN_CONNECTED_OTHER_PASSWORD_DEFAULT", "connected with the default password";
    /// `WN_BAD_USER` (2202).
    BadUser = abi::WN_BAD_USER, "WN_BAD_USER", "the user name is not valid";
    /// `WN_NOT_CONNECTED` (2250).
    NotConnected = abi::WN_NOT_CONNECTED, "WN_NOT_CONNECTED", "not connected";
    /// `WN_OPEN_FILES` (2401).
    OpenFiles = abi::WN_OPEN_FILES, "WN_OPEN_FILES", "files are open on the connection";
    /// `WN_DEVICE_IN_USE` (2404).
    DeviceInUse = abi::WN_DEVICE_IN_USE, "WN_DEVICE_IN_USE", "the device is in use";
}

impl WnError {
    /// The numeric code, as a C caller sees it.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// Maps a status to a result: 0 is `Ok(())`, a known code its variant.
    ///
    /// An unknown nonzero code becomes the documented fallback
    /// [`WnError::NetError`] (`WN_NET_ERROR`, the generic failure); callers
    /// that care record the raw value in the extended error.
    pub fn from_status(status: u32) -> Result<(), WnError> {
        if status == abi::WN_SUCCESS {
            Ok(())
        } else {
            Err(WnError::from_code(status).unwrap_or(WnError::NetError))
        }
    }
}

/// The code and symbolic name of a status, success included.
pub fn status_name(status: u32) -> &'static str {
    if status == abi::WN_SUCCESS {
        "WN_SUCCESS"
    } else {
        WnError::from_code(status).map_or("UNKNOWN", WnError::name)
    }
}

impl fmt::Display for WnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for WnError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_round_trips() {
        let mut seen = HashSet::new();
        for &e in WnError::ALL {
            assert!(seen.insert(e.code()), "code {} repeats", e.code());
            assert_eq!(WnError::from_status(e.code()), Err(e));
            assert_eq!(status_name(e.code()), e.name());
            assert!(!e.to_string().is_empty());
            assert!(!e.to_string().ends_with('.'));
        }
    }

    #[test]
    fn every_abi_wn_code_has_a_variant() {
        for &(name, code) in mpr_abi::WN_CODES {
            if code == 0 {
                continue;
            }
            let e = WnError::from_code(code).unwrap_or_else(|| panic!("{name} has no variant"));
            // WN_WINDOWS_ERROR shares 59 with WN_NET_ERROR.
            if name != "WN_WINDOWS_ERROR" {
                assert_eq!(e.name(), name);
            }
        }
    }

    #[test]
    fn unknown_codes_fall_back_to_net_error() {
        assert_eq!(WnError::from_status(0), Ok(()));
        assert_eq!(WnError::from_status(99_999), Err(WnError::NetError));
        assert_eq!(status_name(99_999), "UNKNOWN");
    }
}
