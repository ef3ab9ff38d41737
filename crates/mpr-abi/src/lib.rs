/*!
The binary interface shared by mpr and its plugins, exactly as `npapi.h` and
`winnetwk.h` declare it (see `include/` at the root of the repository).

This crate has no logic and no dependencies. It holds:

- the scalar types of the interface ([`DWORD`], [`BOOL`], [`WCHAR`], ...);
- every constant the router uses: the `WN_*` status codes, the `CONNECT_*`
  flags, the `RESOURCE*` values, the `WNNC_*` capability indices and bits,
  and [`NOTIFY_PRE`] / [`NOTIFY_POST`], all with their Windows NT values;
- the `#[repr(C)]` structures [`NETRESOURCEW`], [`NETRESOURCEA`],
  [`NOTIFYINFO`], [`NOTIFYADD`] and [`NOTIFYCANCEL`], whose sizes and field
  offsets are pinned by compile-time assertions (x86-64 Linux, LP64);
- the function-pointer types of the notifyee exports
  ([`PF_AddConnectNotify`], [`PF_CancelConnectNotify`]) and of the network
  provider exports (`PF_NP*`).

Strings are UTF-16 (`WCHAR` is `u16`, never `wchar_t`) and NUL-terminated.
Every function uses `extern "system"`, which is the C calling convention on
x86-64 Linux.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(non_camel_case_types, non_snake_case)]

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

// ---------------------------------------------------------------------------
// Scalar types
// ---------------------------------------------------------------------------

/// `DWORD`: an unsigned 32-bit integer.
pub type DWORD = u32;
/// `BOOL`: a signed 32-bit integer, 0 is FALSE.
pub type BOOL = i32;
/// `WCHAR`: one UTF-16 code unit (never `wchar_t`, which is 32 bits on Linux).
pub type WCHAR = u16;
/// `LPWSTR`: a NUL-terminated UTF-16 string.
pub type LPWSTR = *mut WCHAR;
/// `LPCWSTR`: a NUL-terminated UTF-16 string that the callee does not modify.
pub type LPCWSTR = *const WCHAR;
/// `LPSTR`: a NUL-terminated narrow (UTF-8 on Linux) string.
pub type LPSTR = *mut core::ffi::c_char;
/// `HWND`: an owner window handle; opaque, usually NULL on Linux.
pub type HWND = *mut c_void;
/// `LPVOID`: an untyped pointer.
pub type LPVOID = *mut c_void;
/// `HANDLE`: an opaque handle (enumeration handles).
pub type HANDLE = *mut c_void;

// ---------------------------------------------------------------------------
// WN_* status codes (winnetwk.h), with their Win32 values
// ---------------------------------------------------------------------------

/// The operation succeeded.
pub const WN_SUCCESS: DWORD = 0;
/// Same as [`WN_SUCCESS`].
pub const WN_NO_ERROR: DWORD = 0;
/// Access denied (`ERROR_ACCESS_DENIED`).
pub const WN_ACCESS_DENIED: DWORD = 5;
/// Invalid handle (`ERROR_INVALID_HANDLE`).
pub const WN_BAD_HANDLE: DWORD = 6;
/// Out of memory (`ERROR_NOT_ENOUGH_MEMORY`).
pub const WN_OUT_OF_MEMORY: DWORD = 8;
/// Device error (`ERROR_GEN_FAILURE`).
pub const WN_DEVICE_ERROR: DWORD = 31;
/// Not supported (`ERROR_NOT_SUPPORTED`).
pub const WN_NOT_SUPPORTED: DWORD = 50;
/// Unexpected network error (`ERROR_UNEXP_NET_ERR`).
pub const WN_NET_ERROR: DWORD = 59;
/// Same value as [`WN_NET_ERROR`]: the generic failure.
pub const WN_WINDOWS_ERROR: DWORD = 59;
/// Device type does not match the resource (`ERROR_BAD_DEV_TYPE`).
pub const WN_BAD_DEV_TYPE: DWORD = 66;
/// The network name is not valid or cannot be found (`ERROR_BAD_NET_NAME`).
pub const WN_BAD_NETNAME: DWORD = 67;
/// The local name is already connected (`ERROR_ALREADY_ASSIGNED`).
pub const WN_ALREADY_CONNECTED: DWORD = 85;
/// Invalid password (`ERROR_INVALID_PASSWORD`).
pub const WN_BAD_PASSWORD: DWORD = 86;
/// Invalid parameter (`ERROR_INVALID_PARAMETER`).
pub const WN_BAD_VALUE: DWORD = 87;
/// Invalid level (`ERROR_INVALID_LEVEL`).
pub const WN_BAD_LEVEL: DWORD = 124;
/// Busy, retry later (`ERROR_BUSY`).
pub const WN_FUNCTION_BUSY: DWORD = 170;
/// The buffer is too small (`ERROR_MORE_DATA`).
pub const WN_MORE_DATA: DWORD = 234;
/// No more entries (`ERROR_NO_MORE_ITEMS`).
pub const WN_NO_MORE_ENTRIES: DWORD = 259;
/// An invalid pointer (`ERROR_INVALID_ADDRESS`).
pub const WN_BAD_POINTER: DWORD = 487;
/// The local name is not valid (`ERROR_BAD_DEVICE`).
pub const WN_BAD_LOCALNAME: DWORD = 1200;
/// The connection is remembered but not available (`ERROR_CONNECTION_UNAVAIL`).
pub const WN_CONNECTION_CLOSED: DWORD = 1201;
/// The local name has a remembered connection to another resource.
pub const WN_DEVICE_ALREADY_REMEMBERED: DWORD = 1202;
/// No provider accepted the path, and some network is down.
pub const WN_NO_NET_OR_BAD_PATH: DWORD = 1203;
/// The provider name is not valid (`ERROR_BAD_PROVIDER`).
pub const WN_BAD_PROVIDER: DWORD = 1204;
/// The profile cannot be opened (`ERROR_CANNOT_OPEN_PROFILE`).
pub const WN_CANNOT_OPEN_PROFILE: DWORD = 1205;
/// The profile is malformed (`ERROR_BAD_PROFILE`).
pub const WN_BAD_PROFILE: DWORD = 1206;
/// Not a container (`ERROR_NOT_CONTAINER`).
pub const WN_NOT_CONTAINER: DWORD = 1207;
/// A provider-specific error: see `WNetGetLastError` (`ERROR_EXTENDED_ERROR`).
pub const WN_EXTENDED_ERROR: DWORD = 1208;
/// The network is not present or not started (`ERROR_NO_NETWORK`).
pub const WN_NO_NETWORK: DWORD = 1222;
/// Cancelled by the user or by a notifyee (`ERROR_CANCELLED`).
pub const WN_CANCEL: DWORD = 1223;
/// Retry the operation (`ERROR_RETRY`).
pub const WN_RETRY: DWORD = 1237;
/// Not authenticated (`ERROR_NOT_AUTHENTICATED`).
pub const WN_NOT_AUTHENTICATED: DWORD = 1244;
/// Not logged on (`ERROR_NOT_LOGGED_ON`).
pub const WN_NOT_LOGGED_ON: DWORD = 1245;
/// Not initializing (`ERROR_ALREADY_INITIALIZED`).
pub const WN_NOT_INITIALIZING: DWORD = 1247;
/// No more local devices (`ERROR_NO_MORE_DEVICES`).
pub const WN_NO_MORE_DEVICES: DWORD = 1248;
/// No logon servers (`ERROR_NO_LOGON_SERVERS`).
pub const WN_NOT_VALIDATED: DWORD = 1311;
/// Connected with another password (`ERROR_CONNECTED_OTHER_PASSWORD`).
pub const WN_CONNECTED_OTHER_PASSWORD: DWORD = 2108;
/// Connected with the default password (`ERROR_CONNECTED_OTHER_PASSWORD_DEFAULT`).
pub const WN_CONNECTED_OTHER_PASSWORD_DEFAULT: DWORD = 2109;
/// The user name is not valid (`ERROR_BAD_USERNAME`).
pub const WN_BAD_USER: DWORD = 2202;
/// Not connected (`ERROR_NOT_CONNECTED`).
pub const WN_NOT_CONNECTED: DWORD = 2250;
/// Files are open on the connection (`ERROR_OPEN_FILES`).
pub const WN_OPEN_FILES: DWORD = 2401;
/// The device is in use (`ERROR_DEVICE_IN_USE`).
pub const WN_DEVICE_IN_USE: DWORD = 2404;

/// Win32 `ERROR_BAD_NETPATH`: the network path was not found (a provider's
/// "not mine" answer, also "server unreachable").
pub const ERROR_BAD_NETPATH: DWORD = 53;
/// Win32 `ERROR_NETNAME_DELETED`: the network name is no longer available.
pub const ERROR_NETNAME_DELETED: DWORD = 64;
/// Win32 `ERROR_INVALID_NAME`: the name syntax is incorrect.
pub const ERROR_INVALID_NAME: DWORD = 123;
/// Win32 `ERROR_SESSION_CREDENTIAL_CONFLICT`.
pub const ERROR_SESSION_CREDENTIAL_CONFLICT: DWORD = 1219;
/// Win32 `ERROR_LOGON_FAILURE`: unknown user name or bad password.
pub const ERROR_LOGON_FAILURE: DWORD = 1326;

// ---------------------------------------------------------------------------
// CONNECT_* flags
// ---------------------------------------------------------------------------

/// Remember the connection (add) / forget the remembered one (cancel).
pub const CONNECT_UPDATE_PROFILE: DWORD = 0x0000_0001;
/// Put the connection in the recent list.
pub const CONNECT_UPDATE_RECENT: DWORD = 0x0000_0002;
/// The connection is temporary and never remembered.
pub const CONNECT_TEMPORARY: DWORD = 0x0000_0004;
/// The provider may interact with the user for credentials.
pub const CONNECT_INTERACTIVE: DWORD = 0x0000_0008;
/// Always offer the user a choice of credentials (with INTERACTIVE).
pub const CONNECT_PROMPT: DWORD = 0x0000_0010;
/// Undocumented (a local device is needed).
pub const CONNECT_NEED_DRIVE: DWORD = 0x0000_0020;
/// Win9x reference counting.
pub const CONNECT_REFCOUNT: DWORD = 0x0000_0040;
/// Force redirection of a local device; auto-pick one if none is given.
pub const CONNECT_REDIRECT: DWORD = 0x0000_0080;
/// Output only: a local device was redirected.
pub const CONNECT_LOCALDRIVE: DWORD = 0x0000_0100;
/// Do not bring up new media (dial-up) to connect.
pub const CONNECT_CURRENT_MEDIA: DWORD = 0x0000_0200;
/// Restore in a disconnected state, connect lazily (providers only).
pub const CONNECT_DEFERRED: DWORD = 0x0000_0400;
/// Prompt on the console rather than in a window.
pub const CONNECT_COMMANDLINE: DWORD = 0x0000_0800;
/// Save prompted credentials.
pub const CONNECT_CMD_SAVECRED: DWORD = 0x0000_1000;
/// Reset prompted credentials.
pub const CONNECT_CRED_RESET: DWORD = 0x0000_2000;
/// Require integrity (signing).
pub const CONNECT_REQUIRE_INTEGRITY: DWORD = 0x0000_4000;
/// Require privacy (encryption).
pub const CONNECT_REQUIRE_PRIVACY: DWORD = 0x0000_8000;
/// Write-through semantics.
pub const CONNECT_WRITE_THROUGH_SEMANTICS: DWORD = 0x0001_0000;
/// A global mapping.
pub const CONNECT_GLOBAL_MAPPING: DWORD = 0x0004_0000;
/// Reserved bits.
pub const CONNECT_RESERVED: DWORD = 0xFF00_0000;

// ---------------------------------------------------------------------------
// NETRESOURCE values
// ---------------------------------------------------------------------------

/// Scope: current connections.
pub const RESOURCE_CONNECTED: DWORD = 1;
/// Scope: all resources on the network.
pub const RESOURCE_GLOBALNET: DWORD = 2;
/// Scope: remembered (persistent) connections.
pub const RESOURCE_REMEMBERED: DWORD = 3;
/// Scope: recent connections.
pub const RESOURCE_RECENT: DWORD = 4;
/// Scope: the caller's network context.
pub const RESOURCE_CONTEXT: DWORD = 5;

/// Type: any resource.
pub const RESOURCETYPE_ANY: DWORD = 0;
/// Type: a disk (file share).
pub const RESOURCETYPE_DISK: DWORD = 1;
/// Type: a printer.
pub const RESOURCETYPE_PRINT: DWORD = 2;
/// Type: reserved.
pub const RESOURCETYPE_RESERVED: DWORD = 8;
/// Type: unknown.
pub const RESOURCETYPE_UNKNOWN: DWORD = 0xFFFF_FFFF;

/// Usage: connectable.
pub const RESOURCEUSAGE_CONNECTABLE: DWORD = 0x1;
/// Usage: a container.
pub const RESOURCEUSAGE_CONTAINER: DWORD = 0x2;
/// Usage: needs no local device.
pub const RESOURCEUSAGE_NOLOCALDEVICE: DWORD = 0x4;
/// Usage: a sibling.
pub const RESOURCEUSAGE_SIBLING: DWORD = 0x8;
/// Usage: attached (authenticated).
pub const RESOURCEUSAGE_ATTACHED: DWORD = 0x10;
/// Usage: all of CONNECTABLE, CONTAINER and ATTACHED.
pub const RESOURCEUSAGE_ALL: DWORD = 0x13;
/// Usage: reserved.
pub const RESOURCEUSAGE_RESERVED: DWORD = 0x8000_0000;

/// Display type: generic.
pub const RESOURCEDISPLAYTYPE_GENERIC: DWORD = 0;
/// Display type: domain.
pub const RESOURCEDISPLAYTYPE_DOMAIN: DWORD = 1;
/// Display type: server.
pub const RESOURCEDISPLAYTYPE_SERVER: DWORD = 2;
/// Display type: share.
pub const RESOURCEDISPLAYTYPE_SHARE: DWORD = 3;
/// Display type: file.
pub const RESOURCEDISPLAYTYPE_FILE: DWORD = 4;
/// Display type: group.
pub const RESOURCEDISPLAYTYPE_GROUP: DWORD = 5;
/// Display type: network.
pub const RESOURCEDISPLAYTYPE_NETWORK: DWORD = 6;
/// Display type: root.
pub const RESOURCEDISPLAYTYPE_ROOT: DWORD = 7;
/// Display type: administrative share.
pub const RESOURCEDISPLAYTYPE_SHAREADMIN: DWORD = 8;
/// Display type: directory.
pub const RESOURCEDISPLAYTYPE_DIRECTORY: DWORD = 9;
/// Display type: tree.
pub const RESOURCEDISPLAYTYPE_TREE: DWORD = 0xA;
/// Display type: NDS container.
pub const RESOURCEDISPLAYTYPE_NDSCONTAINER: DWORD = 0xB;

// ---------------------------------------------------------------------------
// WNNC_* capabilities (NPGetCaps)
// ---------------------------------------------------------------------------

/// NPGetCaps index: specification version.
pub const WNNC_SPEC_VERSION: DWORD = 0x1;
/// The specification version providers report (5.1).
pub const WNNC_SPEC_VERSION51: DWORD = 0x0005_0001;
/// NPGetCaps index: network type.
pub const WNNC_NET_TYPE: DWORD = 0x2;
/// Network type: none.
pub const WNNC_NET_NONE: DWORD = 0;
/// Network type: SMB (LAN Manager).
pub const WNNC_NET_SMB: DWORD = 0x0002_0000;
/// Network type: WebDAV.
pub const WNNC_NET_DAV: DWORD = 0x002E_0000;
/// NPGetCaps index: driver version.
pub const WNNC_DRIVER_VERSION: DWORD = 0x3;
/// NPGetCaps index: user functions.
pub const WNNC_USER: DWORD = 0x4;
/// WNNC_USER bit: NPGetUser.
pub const WNNC_USR_GETUSER: DWORD = 0x1;
/// NPGetCaps index: connection functions.
pub const WNNC_CONNECTION: DWORD = 0x6;
/// WNNC_CONNECTION bit: NPAddConnection.
pub const WNNC_CON_ADDCONNECTION: DWORD = 0x1;
/// WNNC_CONNECTION bit: NPCancelConnection.
pub const WNNC_CON_CANCELCONNECTION: DWORD = 0x2;
/// WNNC_CONNECTION bit: NPGetConnection.
pub const WNNC_CON_GETCONNECTIONS: DWORD = 0x4;
/// WNNC_CONNECTION bit: NPAddConnection3.
pub const WNNC_CON_ADDCONNECTION3: DWORD = 0x8;
/// WNNC_CONNECTION bit: NPAddConnection4.
pub const WNNC_CON_ADDCONNECTION4: DWORD = 0x10;
/// WNNC_CONNECTION bit: NPCancelConnection2.
pub const WNNC_CON_CANCELCONNECTION2: DWORD = 0x20;
/// WNNC_CONNECTION bit: NPGetConnectionPerformance.
pub const WNNC_CON_GETPERFORMANCE: DWORD = 0x40;
/// WNNC_CONNECTION bit: NPAddConnection3 supports CONNECT_DEFERRED.
pub const WNNC_CON_DEFER: DWORD = 0x80;
/// NPGetCaps index: dialog functions.
pub const WNNC_DIALOG: DWORD = 0x8;
/// NPGetCaps index: administrative functions.
pub const WNNC_ADMIN: DWORD = 0x9;
/// NPGetCaps index: enumeration functions.
pub const WNNC_ENUMERATION: DWORD = 0xB;
/// WNNC_ENUMERATION bit: RESOURCE_GLOBALNET.
pub const WNNC_ENUM_GLOBAL: DWORD = 0x1;
/// WNNC_ENUMERATION bit: RESOURCE_CONNECTED.
pub const WNNC_ENUM_LOCAL: DWORD = 0x2;
/// WNNC_ENUMERATION bit: RESOURCE_CONTEXT.
pub const WNNC_ENUM_CONTEXT: DWORD = 0x4;
/// WNNC_ENUMERATION bit: shareable resources.
pub const WNNC_ENUM_SHAREABLE: DWORD = 0x8;
/// NPGetCaps index: start state.
pub const WNNC_START: DWORD = 0xC;
/// WNNC_START value: the provider is starting; wait for it.
pub const WNNC_WAIT_FOR_START: DWORD = 0x1;
/// NPGetCaps index: which CONNECT_* flags NPAddConnection3 understands.
pub const WNNC_CONNECTION_FLAGS: DWORD = 0xD;
/// WNNC_CONNECTION_FLAGS default: TEMPORARY | INTERACTIVE | PROMPT.
pub const WNNC_CF_DEFAULT: DWORD = 0x1C;
/// WNNC_CONNECTION_FLAGS maximum.
pub const WNNC_CF_MAXIMUM: DWORD = 0x3C1C;

// ---------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------

/// `NOTIFYINFO.dwNotifyStatus` of the advance call (before the operation).
pub const NOTIFY_PRE: DWORD = 0x1;
/// `NOTIFYINFO.dwNotifyStatus` of the after-the-fact call.
pub const NOTIFY_POST: DWORD = 0x2;

/// `WNGETCON_CONNECTED` (NPGetConnection3).
pub const WNGETCON_CONNECTED: DWORD = 0;
/// `WNGETCON_DISCONNECTED` (NPGetConnection3).
pub const WNGETCON_DISCONNECTED: DWORD = 1;

// ---------------------------------------------------------------------------
// Structures
// ---------------------------------------------------------------------------

/// `NETRESOURCEW`: a network resource, with UTF-16 strings.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NETRESOURCEW {
    /// `RESOURCE_*` scope.
    pub dwScope: DWORD,
    /// `RESOURCETYPE_*`.
    pub dwType: DWORD,
    /// `RESOURCEDISPLAYTYPE_*`.
    pub dwDisplayType: DWORD,
    /// `RESOURCEUSAGE_*` bits.
    pub dwUsage: DWORD,
    /// Local name (`Z:` or a directory), or NULL.
    pub lpLocalName: LPWSTR,
    /// Remote name (`\\server\share`).
    pub lpRemoteName: LPWSTR,
    /// Provider comment, or NULL.
    pub lpComment: LPWSTR,
    /// Provider display name, or NULL.
    pub lpProvider: LPWSTR,
}

/// `NETRESOURCEA`: a network resource, with narrow (UTF-8) strings.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NETRESOURCEA {
    /// `RESOURCE_*` scope.
    pub dwScope: DWORD,
    /// `RESOURCETYPE_*`.
    pub dwType: DWORD,
    /// `RESOURCEDISPLAYTYPE_*`.
    pub dwDisplayType: DWORD,
    /// `RESOURCEUSAGE_*` bits.
    pub dwUsage: DWORD,
    /// Local name, or NULL.
    pub lpLocalName: LPSTR,
    /// Remote name.
    pub lpRemoteName: LPSTR,
    /// Provider comment, or NULL.
    pub lpComment: LPSTR,
    /// Provider display name, or NULL.
    pub lpProvider: LPSTR,
}

/// `NOTIFYINFO`: the phase, the operation status and the notifyee's context.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NOTIFYINFO {
    /// [`NOTIFY_PRE`] or [`NOTIFY_POST`].
    pub dwNotifyStatus: DWORD,
    /// PRE: `WN_SUCCESS`, or `WN_RETRY` on a retried attempt. POST: the result.
    pub dwOperationStatus: DWORD,
    /// NULL in PRE; what the notifyee stored there in PRE, handed back in POST.
    pub lpContext: LPVOID,
}

/// `NOTIFYADD`: the add operation being notified (`NetResource` is UTF-16).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NOTIFYADD {
    /// Owner window, NULL unless the caller gave one.
    pub hwndOwner: HWND,
    /// The resource as requested; in a successful POST `lpProvider` names the
    /// provider that made the connection.
    pub NetResource: NETRESOURCEW,
    /// The `CONNECT_*` flags of the request.
    pub dwAddFlags: DWORD,
}

/// `NOTIFYCANCEL`: the cancel operation being notified.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NOTIFYCANCEL {
    /// The local or remote name being cancelled.
    pub lpName: LPWSTR,
    /// NULL in PRE; in a successful POST, the provider that cancelled.
    pub lpProvider: LPWSTR,
    /// `CONNECT_UPDATE_PROFILE` or 0.
    pub dwFlags: DWORD,
    /// Nonzero: cancel even with open files.
    pub fForce: BOOL,
}

/// Pointer to [`NOTIFYINFO`].
pub type LPNOTIFYINFO = *mut NOTIFYINFO;
/// Pointer to [`NOTIFYADD`].
pub type LPNOTIFYADD = *mut NOTIFYADD;
/// Pointer to [`NOTIFYCANCEL`].
pub type LPNOTIFYCANCEL = *mut NOTIFYCANCEL;
/// Pointer to [`NETRESOURCEW`].
pub type LPNETRESOURCEW = *mut NETRESOURCEW;

const _: () = {
    assert!(size_of::<NETRESOURCEW>() == 48);
    assert!(offset_of!(NETRESOURCEW, dwScope) == 0);
    assert!(offset_of!(NETRESOURCEW, dwType) == 4);
    assert!(offset_of!(NETRESOURCEW, dwDisplayType) == 8);
    assert!(offset_of!(NETRESOURCEW, dwUsage) == 12);
    assert!(offset_of!(NETRESOURCEW, lpLocalName) == 16);
    assert!(offset_of!(NETRESOURCEW, lpRemoteName) == 24);
    assert!(offset_of!(NETRESOURCEW, lpComment) == 32);
    assert!(offset_of!(NETRESOURCEW, lpProvider) == 40);
    assert!(size_of::<NETRESOURCEA>() == 48);
    assert!(offset_of!(NETRESOURCEA, lpProvider) == 40);
    assert!(size_of::<NOTIFYINFO>() == 16);
    assert!(offset_of!(NOTIFYINFO, dwNotifyStatus) == 0);
    assert!(offset_of!(NOTIFYINFO, dwOperationStatus) == 4);
    assert!(offset_of!(NOTIFYINFO, lpContext) == 8);
    assert!(size_of::<NOTIFYADD>() == 64);
    assert!(offset_of!(NOTIFYADD, hwndOwner) == 0);
    assert!(offset_of!(NOTIFYADD, NetResource) == 8);
    assert!(offset_of!(NOTIFYADD, dwAddFlags) == 56);
    assert!(size_of::<NOTIFYCANCEL>() == 24);
    assert!(offset_of!(NOTIFYCANCEL, lpName) == 0);
    assert!(offset_of!(NOTIFYCANCEL, lpProvider) == 8);
    assert!(offset_of!(NOTIFYCANCEL, dwFlags) == 16);
    assert!(offset_of!(NOTIFYCANCEL, fForce) == 20);
};

// ---------------------------------------------------------------------------
// Function-pointer types of plugin exports
// ---------------------------------------------------------------------------

/// `AddConnectNotify` of a notifyee library.
pub type PF_AddConnectNotify =
    unsafe extern "system" fn(lpNotifyInfo: LPNOTIFYINFO, lpAddInfo: LPNOTIFYADD) -> DWORD;
/// `CancelConnectNotify` of a notifyee library.
pub type PF_CancelConnectNotify =
    unsafe extern "system" fn(lpNotifyInfo: LPNOTIFYINFO, lpCancelInfo: LPNOTIFYCANCEL) -> DWORD;

/// `NPGetCaps(nIndex)`: the only mandatory provider export.
pub type PF_NPGetCaps = unsafe extern "system" fn(nIndex: DWORD) -> DWORD;
/// `NPAddConnection(lpNetResource, lpPassword, lpUserName)`.
pub type PF_NPAddConnection = unsafe extern "system" fn(
    lpNetResource: LPNETRESOURCEW,
    lpPassword: LPWSTR,
    lpUserName: LPWSTR,
) -> DWORD;
/// `NPAddConnection3(hwndOwner, lpNetResource, lpPassword, lpUserName, dwFlags)`.
pub type PF_NPAddConnection3 = unsafe extern "system" fn(
    hwndOwner: HWND,
    lpNetResource: LPNETRESOURCEW,
    lpPassword: LPWSTR,
    lpUserName: LPWSTR,
    dwFlags: DWORD,
) -> DWORD;
/// `NPCancelConnection(lpName, fForce)`.
pub type PF_NPCancelConnection = unsafe extern "system" fn(lpName: LPWSTR, fForce: BOOL) -> DWORD;
/// `NPCancelConnection2(lpName, fForce, dwFlags)` (note the argument order).
pub type PF_NPCancelConnection2 =
    unsafe extern "system" fn(lpName: LPWSTR, fForce: BOOL, dwFlags: DWORD) -> DWORD;
/// `NPGetConnection(lpLocalName, lpRemoteName, lpnBufferLen)`; sizes in characters.
pub type PF_NPGetConnection = unsafe extern "system" fn(
    lpLocalName: LPWSTR,
    lpRemoteName: LPWSTR,
    lpnBufferLen: *mut DWORD,
) -> DWORD;

/// `WNetSetLastErrorW(err, lpError, lpProviders)`: exported by mpr for providers.
pub type PF_WNetSetLastErrorW =
    unsafe extern "system" fn(err: DWORD, lpError: LPWSTR, lpProviders: LPWSTR);

/// The `WN_*` names and values this crate defines, for tools and tests that
/// check the C headers against it (aliases with duplicate values included).
pub const WN_CODES: &[(&str, DWORD)] = &[
    ("WN_SUCCESS", WN_SUCCESS),
    ("WN_NO_ERROR", WN_NO_ERROR),
    ("WN_ACCESS_DENIED", WN_ACCESS_DENIED),
    ("WN_BAD_HANDLE", WN_BAD_HANDLE),
    ("WN_OUT_OF_MEMORY", WN_OUT_OF_MEMORY),
    ("WN_DEVICE_ERROR", WN_DEVICE_ERROR),
    ("WN_NOT_SUPPORTED", WN_NOT_SUPPORTED),
    ("WN_NET_ERROR", WN_NET_ERROR),
    ("WN_WINDOWS_ERROR", WN_WINDOWS_ERROR),
    ("WN_BAD_DEV_TYPE", WN_BAD_DEV_TYPE),
    ("WN_BAD_NETNAME", WN_BAD_NETNAME),
    ("WN_ALREADY_CONNECTED", WN_ALREADY_CONNECTED),
    ("WN_BAD_PASSWORD", WN_BAD_PASSWORD),
    ("WN_BAD_VALUE", WN_BAD_VALUE),
    ("WN_BAD_LEVEL", WN_BAD_LEVEL),
    ("WN_FUNCTION_BUSY", WN_FUNCTION_BUSY),
    ("WN_MORE_DATA", WN_MORE_DATA),
    ("WN_NO_MORE_ENTRIES", WN_NO_MORE_ENTRIES),
    ("WN_BAD_POINTER", WN_BAD_POINTER),
    ("WN_BAD_LOCALNAME", WN_BAD_LOCALNAME),
    ("WN_CONNECTION_CLOSED", WN_CONNECTION_CLOSED),
    ("WN_DEVICE_ALREADY_REMEMBERED", WN_DEVICE_ALREADY_REMEMBERED),
    ("WN_NO_NET_OR_BAD_PATH", WN_NO_NET_OR_BAD_PATH),
    ("WN_BAD_PROVIDER", WN_BAD_PROVIDER),
    ("WN_CANNOT_OPEN_PROFILE", WN_CANNOT_OPEN_PROFILE),
    ("WN_BAD_PROFILE", WN_BAD_PROFILE),
    ("WN_NOT_CONTAINER", WN_NOT_CONTAINER),
    ("WN_EXTENDED_ERROR", WN_EXTENDED_ERROR),
    ("WN_NO_NETWORK", WN_NO_NETWORK),
    ("WN_CANCEL", WN_CANCEL),
    ("WN_RETRY", WN_RETRY),
    ("WN_NOT_AUTHENTICATED", WN_NOT_AUTHENTICATED),
    ("WN_NOT_LOGGED_ON", WN_NOT_LOGGED_ON),
    ("WN_NOT_INITIALIZING", WN_NOT_INITIALIZING),
    ("WN_NO_MORE_DEVICES", WN_NO_MORE_DEVICES),
    ("WN_NOT_VALIDATED", WN_NOT_VALIDATED),
    ("WN_CONNECTED_OTHER_PASSWORD", WN_CONNECTED_OTHER_PASSWORD),
    (
        "WN_CONNECTED_OTHER_PASSWORD_DEFAULT",
        WN_CONNECTED_OTHER_PASSWORD_DEFAULT,
    ),
    ("WN_BAD_USER", WN_BAD_USER),
    ("WN_NOT_CONNECTED", WN_NOT_CONNECTED),
    ("WN_OPEN_FILES", WN_OPEN_FILES),
    ("WN_DEVICE_IN_USE", WN_DEVICE_IN_USE),
];
