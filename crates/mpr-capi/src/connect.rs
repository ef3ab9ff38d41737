//! Connecting and disconnecting: `WNetAddConnection[2|3]`,
//! `WNetUseConnection`, `WNetCancelConnection[2]`, `WNetGetConnection` and
//! `WNetRestoreSingleConnectionW`.
//!
//! Each export converts its arguments, makes one router call and writes
//! the caller's buffers; the router validates, notifies, selects the
//! provider and keeps the state (spec §5–§8).

use crate::global::{panicked, reject, router, status};
use crate::text::{Narrow, Text, Wide, needed};
use mpr_abi::{
    BOOL, CONNECT_LOCALDRIVE, CONNECT_REDIRECT, CONNECT_UPDATE_PROFILE, DWORD, HWND, LPSTR, LPWSTR,
    NETRESOURCEA, NETRESOURCEW, RESOURCETYPE_ANY, WN_MORE_DATA, WN_SUCCESS,
};
use mpr_core::names::MAX_NAME_UNITS;
use mpr_core::plugin::Secret;
use mpr_core::router::{AddApi, AddRequest, CancelRequest};
use mpr_core::{WnError, lasterror};
use mpr_ffi::ffi_boundary;
use mpr_ffi::wide::MAX_TEXT_UNITS;
use std::ffi::c_char;

/// Reads one string argument; an unreadable one (a lone surrogate, invalid
/// UTF-8, longer than `max` units) is `WN_BAD_VALUE` with the argument named
/// in the extended error (the one rule of `mpr_ffi::wide`).
///
/// # Safety
///
/// `p` is NULL or a NUL-terminated string of width `T`.
unsafe fn arg<T: Text>(p: *const T::Unit, max: usize, what: &str) -> Result<Option<String>, DWORD> {
    // SAFETY: the caller's contract.
    let r = unsafe { T::read(p, max) };
    r.map_err(|e| {
        reject(
            e,
            format!(
                "{what} is not a valid string (invalid encoding, or longer than {max} characters)"
            ),
        )
    })
}

/// The fields of a `NETRESOURCE` that the add functions use.
struct Resource {
    r#type: DWORD,
    local: Option<String>,
    remote: Option<String>,
    provider: Option<String>,
}

/// Reads `dwType`, `lpLocalName`, `lpRemoteName` and `lpProvider` (the
/// other members are ignored, as documented).
///
/// # Safety
///
/// `nr` is non-NULL and points to a `NETRESOURCE` of width `T` whose
/// strings are NULL or NUL-terminated.
unsafe fn resource<T: Text>(nr: *const T::NetResource) -> Result<Resource, DWORD> {
    // SAFETY: `nr` is a valid, aligned structure (caller contract).
    let nr = unsafe { nr.read() };
    let (r#type, [local, remote, _comment, provider]) = T::fields(&nr);
    // SAFETY: the strings of a valid NETRESOURCE are NULL or terminated.
    let local = unsafe { arg::<T>(local, MAX_NAME_UNITS, "lpLocalName") }?;
    // SAFETY: as above.
    let remote = unsafe { arg::<T>(remote, MAX_NAME_UNITS, "lpRemoteName") }?;
    // SAFETY: as above.
    let provider = unsafe { arg::<T>(provider, MAX_NAME_UNITS, "lpProvider") }?;
    Ok(Resource {
        r#type,
        local,
        remote,
        provider,
    })
}

/// The password and user name arguments.
///
/// # Safety
///
/// Both are NULL or NUL-terminated strings of width `T`.
unsafe fn credentials<T: Text>(
    password: *const T::Unit,
    user: *const T::Unit,
) -> Result<(Option<Secret>, Option<String>), DWORD> {
    // SAFETY: the caller's contract.
    let password = unsafe { arg::<T>(password, MAX_TEXT_UNITS, "lpPassword") }?.map(Secret::new);
    // SAFETY: the caller's contract.
    let user = unsafe { arg::<T>(user, MAX_NAME_UNITS, "lpUserName") }?;
    Ok((password, user))
}

/// `WNetAddConnection2`/`3` (`api` = `Add`) and the first half of
/// `WNetUseConnection` (`api` = `Use`): the request, or the code.
///
/// # Safety
///
/// `nr` is NULL or a valid `NETRESOURCE` of width `T`; `password` and `user`
/// are NULL or terminated strings.
unsafe fn request<T: Text>(
    api: AddApi,
    owner: HWND,
    nr: *const T::NetResource,
    password: *const T::Unit,
    user: *const T::Unit,
    flags: DWORD,
) -> Result<AddRequest, DWORD> {
    if nr.is_null() {
        return Err(reject(WnError::BadValue, "lpNetResource is NULL"));
    }
    // SAFETY: `nr` is non-NULL and valid (caller contract).
    let res = unsafe { resource::<T>(nr) }?;
    // SAFETY: the caller's contract.
    let (password, user) = unsafe { credentials::<T>(password, user) }?;
    Ok(AddRequest {
        api,
        owner: owner.addr(),
        r#type: res.r#type,
        local: res.local,
        remote: res.remote,
        provider: res.provider,
        password,
        user,
        flags,
    })
}

/// `WNetAddConnection3` (and `2`, with no owner).
///
/// # Safety
///
/// As [`request`].
unsafe fn add3<T: Text>(
    owner: HWND,
    nr: *const T::NetResource,
    password: *const T::Unit,
    user: *const T::Unit,
    flags: DWORD,
) -> DWORD {
    lasterror::clear();
    // SAFETY: the caller's contract.
    let req = match unsafe { request::<T>(AddApi::Add, owner, nr, password, user, flags) } {
        Ok(r) => r,
        Err(code) => return code,
    };
    match router() {
        Ok(router) => status(router.add(&req)),
        Err(e) => e.code(),
    }
}

/// `WNetAddConnection`: `WNetAddConnection2` with `RESOURCETYPE_ANY`, no
/// provider and `CONNECT_UPDATE_PROFILE` (spec §5).
///
/// # Safety
///
/// The three strings are NULL or NUL-terminated strings of width `T`.
unsafe fn add_legacy<T: Text>(
    remote: *const T::Unit,
    password: *const T::Unit,
    local: *const T::Unit,
) -> DWORD {
    lasterror::clear();
    // SAFETY: the caller's contract.
    let remote = match unsafe { arg::<T>(remote, MAX_NAME_UNITS, "lpRemoteName") } {
        Ok(r) => r,
        Err(code) => return code,
    };
    // SAFETY: the caller's contract.
    let local = match unsafe { arg::<T>(local, MAX_NAME_UNITS, "lpLocalName") } {
        Ok(l) => l,
        Err(code) => return code,
    };
    // SAFETY: the caller's contract; there is no user name.
    let password = match unsafe { credentials::<T>(password, std::ptr::null()) } {
        Ok((p, _)) => p,
        Err(code) => return code,
    };
    let req = AddRequest {
        api: AddApi::Legacy,
        owner: 0,
        r#type: RESOURCETYPE_ANY,
        local,
        remote,
        provider: None,
        password,
        user: None,
        flags: CONNECT_UPDATE_PROFILE,
    };
    match router() {
        Ok(router) => status(router.add(&req)),
        Err(e) => e.code(),
    }
}

/// `WNetUseConnection`.
///
/// The access buffer is checked before anything is connected: a buffer
/// with `*lpBufferSize == 0` or no size is `WN_BAD_VALUE`, and one that is
/// too small for the access name gets the required size and `WN_MORE_DATA`
/// with no connection made (digest §4.6, §7.4 #25–#27). On success the size
/// is left as it was.
///
/// # Safety
///
/// As [`request`]; `access` is NULL or valid for `*size` units of writes;
/// `size` and `result` are NULL or valid for reads and writes.
#[allow(clippy::too_many_arguments)]
unsafe fn use_connection<T: Text>(
    owner: HWND,
    nr: *const T::NetResource,
    password: *const T::Unit,
    user: *const T::Unit,
    flags: DWORD,
    access: *mut T::Unit,
    size: *mut DWORD,
    result: *mut DWORD,
) -> DWORD {
    lasterror::clear();
    // SAFETY: the caller's contract.
    let req = match unsafe { request::<T>(AddApi::Use, owner, nr, password, user, flags) } {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Some(remote) = req.remote.as_deref() else {
        return reject(WnError::BadValue, "lpNetResource->lpRemoteName is NULL");
    };
    let have = if access.is_null() {
        None
    } else if size.is_null() {
        return reject(
            WnError::BadValue,
            "lpAccessName is given but lpBufferSize is NULL",
        );
    } else {
        // SAFETY: `size` is non-NULL and valid (caller contract).
        let have = unsafe { *size };
        if have == 0 {
            return reject(
                WnError::BadValue,
                "lpAccessName is given but *lpBufferSize is 0",
            );
        }
        Some(have)
    };
    let router = match router() {
        Ok(r) => r,
        Err(e) => return e.code(),
    };
    if let Some(have) = have {
        let local = req.local.as_deref().filter(|l| !l.is_empty());
        // An auto-picked drive is not known yet, but it is always "X:".
        let predicted = if local.is_none() && flags & CONNECT_REDIRECT != 0 {
            Some("Z:".to_string())
        } else {
            router.access_name(local, remote)
        };
        if let Some(name) = predicted {
            let need = needed::<T>(&name);
            if have < need {
                // SAFETY: `size` is non-NULL and valid (checked above).
                unsafe { *size = need };
                return WN_MORE_DATA;
            }
        }
    }
    let outcome = match router.add(&req) {
        Ok(o) => o,
        Err(e) => return e.code(),
    };
    if !result.is_null() {
        let r = if outcome.redirected {
            CONNECT_LOCALDRIVE
        } else {
            0
        };
        // SAFETY: `result` is non-NULL and valid (caller contract).
        unsafe { *result = r };
    }
    if access.is_null() {
        return WN_SUCCESS;
    }
    // SAFETY: `access` holds `*size` units and `size` is valid (checked
    // above). The check before connecting makes this fit; should it not,
    // the caller still learns the size (the connection stays made).
    unsafe { T::write(&outcome.access_name, access, size) }
}

/// `WNetCancelConnection2` (and `WNetCancelConnection`, with
/// `CONNECT_UPDATE_PROFILE`).
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string of width `T`.
unsafe fn cancel2<T: Text>(name: *const T::Unit, flags: DWORD, force: BOOL) -> DWORD {
    lasterror::clear();
    // SAFETY: the caller's contract.
    let name = match unsafe { arg::<T>(name, MAX_NAME_UNITS, "lpName") } {
        Ok(Some(n)) => n,
        Ok(None) => {
            return reject(
                WnError::NotConnected,
                "lpName is NULL: nothing to disconnect",
            );
        }
        Err(code) => return code,
    };
    match router() {
        Ok(router) => status(router.cancel(&CancelRequest {
            name,
            flags,
            force: force != 0,
        })),
        Err(e) => e.code(),
    }
}

/// `WNetGetConnection`.
///
/// # Safety
///
/// `local` is NULL or a NUL-terminated string; `len` is NULL or valid for
/// reads and writes; `remote` is NULL or valid for `*len` units of writes.
unsafe fn get_connection<T: Text>(
    local: *const T::Unit,
    remote: *mut T::Unit,
    len: *mut DWORD,
) -> DWORD {
    lasterror::clear();
    if local.is_null() {
        return reject(WnError::BadPointer, "lpLocalName is NULL");
    }
    if len.is_null() {
        return reject(WnError::BadPointer, "lpnLength is NULL");
    }
    // SAFETY: `len` is non-NULL and valid (caller contract).
    let have = unsafe { *len };
    if remote.is_null() && have != 0 {
        return reject(
            WnError::BadPointer,
            "lpRemoteName is NULL but *lpnLength is not 0",
        );
    }
    // SAFETY: `local` is non-NULL and terminated (caller contract).
    let name = match unsafe { arg::<T>(local, MAX_NAME_UNITS, "lpLocalName") } {
        Ok(n) => n.unwrap_or_default(),
        Err(code) => return code,
    };
    let router = match router() {
        Ok(r) => r,
        Err(e) => return e.code(),
    };
    match router.get_connection(&name) {
        // SAFETY: `remote` holds `*len` units, `len` is valid (caller
        // contract; a NULL `remote` comes with a size of 0, so it is never
        // written).
        Ok(r) => unsafe { T::write(&r, remote, len) },
        Err(e) => e.code(),
    }
}

// ---------------------------------------------------------------------------
// The exports
// ---------------------------------------------------------------------------

/// `WNetAddConnectionW(lpRemoteName, lpPassword, lpLocalName)`: connects
/// and remembers the connection, as `WNetAddConnection2W` with
/// `RESOURCETYPE_ANY`, no provider and `CONNECT_UPDATE_PROFILE`.
///
/// # Safety
///
/// Each argument is NULL or a NUL-terminated UTF-16 string (winnetwk.h).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetAddConnectionW(
    lp_remote_name: *const u16,
    lp_password: *const u16,
    lp_local_name: *const u16,
) -> DWORD {
    // SAFETY: the caller's contract is `add_legacy`'s.
    ffi_boundary!(panicked(), unsafe {
        add_legacy::<Wide>(lp_remote_name, lp_password, lp_local_name)
    })
}

/// `WNetAddConnectionA`: [`WNetAddConnectionW`] with UTF-8 strings.
///
/// # Safety
///
/// Each argument is NULL or a NUL-terminated UTF-8 string.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetAddConnectionA(
    lp_remote_name: *const c_char,
    lp_password: *const c_char,
    lp_local_name: *const c_char,
) -> DWORD {
    // SAFETY: the caller's contract is `add_legacy`'s.
    ffi_boundary!(panicked(), unsafe {
        add_legacy::<Narrow>(lp_remote_name, lp_password, lp_local_name)
    })
}

/// `WNetAddConnection2W(lpNetResource, lpPassword, lpUserName, dwFlags)`:
/// `WNetAddConnection3W` without an owner window.
///
/// # Safety
///
/// `lp_net_resource` is NULL or a valid `NETRESOURCEW`; the strings are NULL
/// or NUL-terminated UTF-16.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetAddConnection2W(
    lp_net_resource: *const NETRESOURCEW,
    lp_password: *const u16,
    lp_user_name: *const u16,
    dw_flags: DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `add3`'s.
    ffi_boundary!(panicked(), unsafe {
        add3::<Wide>(
            std::ptr::null_mut(),
            lp_net_resource,
            lp_password,
            lp_user_name,
            dw_flags,
        )
    })
}

/// `WNetAddConnection2A`: [`WNetAddConnection2W`] with UTF-8 strings.
///
/// # Safety
///
/// `lp_net_resource` is NULL or a valid `NETRESOURCEA`; the strings are NULL
/// or NUL-terminated UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetAddConnection2A(
    lp_net_resource: *const NETRESOURCEA,
    lp_password: *const c_char,
    lp_user_name: *const c_char,
    dw_flags: DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `add3`'s.
    ffi_boundary!(panicked(), unsafe {
        add3::<Narrow>(
            std::ptr::null_mut(),
            lp_net_resource,
            lp_password,
            lp_user_name,
            dw_flags,
        )
    })
}

/// `WNetAddConnection3W(hwndOwner, lpNetResource, lpPassword, lpUserName,
/// dwFlags)`: connects `lpRemoteName` to `lpLocalName` (or without a local
/// name), through `lpProvider` or the providers in order, with connection
/// notifications. `hwndOwner` is passed on to notifyees and providers.
///
/// # Safety
///
/// As [`WNetAddConnection2W`]; `hwnd_owner` is opaque.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetAddConnection3W(
    hwnd_owner: HWND,
    lp_net_resource: *const NETRESOURCEW,
    lp_password: *const u16,
    lp_user_name: *const u16,
    dw_flags: DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `add3`'s.
    ffi_boundary!(panicked(), unsafe {
        add3::<Wide>(
            hwnd_owner,
            lp_net_resource,
            lp_password,
            lp_user_name,
            dw_flags,
        )
    })
}

/// `WNetAddConnection3A`: [`WNetAddConnection3W`] with UTF-8 strings.
///
/// # Safety
///
/// As [`WNetAddConnection2A`]; `hwnd_owner` is opaque.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetAddConnection3A(
    hwnd_owner: HWND,
    lp_net_resource: *const NETRESOURCEA,
    lp_password: *const c_char,
    lp_user_name: *const c_char,
    dw_flags: DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `add3`'s.
    ffi_boundary!(panicked(), unsafe {
        add3::<Narrow>(
            hwnd_owner,
            lp_net_resource,
            lp_password,
            lp_user_name,
            dw_flags,
        )
    })
}

/// `WNetUseConnectionW(hwndOwner, lpNetResource, lpPassword, lpUserId,
/// dwFlags, lpAccessName, lpBufferSize, lpResult)`: connects like
/// `WNetAddConnection3W`, picks a free drive (Z: downwards) with
/// `CONNECT_REDIRECT` and no local name, and returns the access name: the
/// local name, or for a deviceless connection the directory it is reachable
/// at. `*lpResult` gets `CONNECT_LOCALDRIVE` when a local name was
/// redirected.
///
/// # Safety
///
/// As [`WNetAddConnection3W`]; `lp_access_name` is NULL or valid for
/// `*lp_buffer_size` units of writes; `lp_buffer_size` and `lp_result` are
/// NULL or valid for reads and writes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetUseConnectionW(
    hwnd_owner: HWND,
    lp_net_resource: *const NETRESOURCEW,
    lp_password: *const u16,
    lp_user_id: *const u16,
    dw_flags: DWORD,
    lp_access_name: LPWSTR,
    lp_buffer_size: *mut DWORD,
    lp_result: *mut DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `use_connection`'s.
    ffi_boundary!(panicked(), unsafe {
        use_connection::<Wide>(
            hwnd_owner,
            lp_net_resource,
            lp_password,
            lp_user_id,
            dw_flags,
            lp_access_name,
            lp_buffer_size,
            lp_result,
        )
    })
}

/// `WNetUseConnectionA`: [`WNetUseConnectionW`] with UTF-8 strings (sizes
/// in bytes).
///
/// # Safety
///
/// As [`WNetUseConnectionW`], with NETRESOURCEA and UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetUseConnectionA(
    hwnd_owner: HWND,
    lp_net_resource: *const NETRESOURCEA,
    lp_password: *const c_char,
    lp_user_id: *const c_char,
    dw_flags: DWORD,
    lp_access_name: LPSTR,
    lp_buffer_size: *mut DWORD,
    lp_result: *mut DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `use_connection`'s.
    ffi_boundary!(panicked(), unsafe {
        use_connection::<Narrow>(
            hwnd_owner,
            lp_net_resource,
            lp_password,
            lp_user_id,
            dw_flags,
            lp_access_name,
            lp_buffer_size,
            lp_result,
        )
    })
}

/// `WNetCancelConnectionW(lpName, fForce)`: `WNetCancelConnection2W` with
/// `CONNECT_UPDATE_PROFILE` (the remembered connection is forgotten too).
///
/// # Safety
///
/// `lp_name` is NULL or a NUL-terminated UTF-16 string.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetCancelConnectionW(lp_name: *const u16, f_force: BOOL) -> DWORD {
    // SAFETY: the caller's contract is `cancel2`'s.
    ffi_boundary!(panicked(), unsafe {
        cancel2::<Wide>(lp_name, CONNECT_UPDATE_PROFILE, f_force)
    })
}

/// `WNetCancelConnectionA`: [`WNetCancelConnectionW`] with UTF-8.
///
/// # Safety
///
/// `lp_name` is NULL or a NUL-terminated UTF-8 string.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetCancelConnectionA(
    lp_name: *const c_char,
    f_force: BOOL,
) -> DWORD {
    // SAFETY: the caller's contract is `cancel2`'s.
    ffi_boundary!(panicked(), unsafe {
        cancel2::<Narrow>(lp_name, CONNECT_UPDATE_PROFILE, f_force)
    })
}

/// `WNetCancelConnection2W(lpName, dwFlags, fForce)`: disconnects a local
/// name, or the deviceless connection to a remote name, with connection
/// notifications. `CONNECT_UPDATE_PROFILE` also forgets the remembered
/// connection (even one that is not connected); `fForce` FALSE fails with
/// `WN_OPEN_FILES` while files are open.
///
/// # Safety
///
/// `lp_name` is NULL or a NUL-terminated UTF-16 string.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetCancelConnection2W(
    lp_name: *const u16,
    dw_flags: DWORD,
    f_force: BOOL,
) -> DWORD {
    // SAFETY: the caller's contract is `cancel2`'s.
    ffi_boundary!(panicked(), unsafe {
        cancel2::<Wide>(lp_name, dw_flags, f_force)
    })
}

/// `WNetCancelConnection2A`: [`WNetCancelConnection2W`] with UTF-8.
///
/// # Safety
///
/// `lp_name` is NULL or a NUL-terminated UTF-8 string.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetCancelConnection2A(
    lp_name: *const c_char,
    dw_flags: DWORD,
    f_force: BOOL,
) -> DWORD {
    // SAFETY: the caller's contract is `cancel2`'s.
    ffi_boundary!(panicked(), unsafe {
        cancel2::<Narrow>(lp_name, dw_flags, f_force)
    })
}

/// `WNetGetConnectionW(lpLocalName, lpRemoteName, lpnLength)`: the remote
/// name behind a local name. `*lpnLength` is in characters; when it is too
/// small, it gets the required size (terminator included) and the result
/// is `WN_MORE_DATA`. A remembered connection that is not connected, or one
/// whose mount went away, is `WN_CONNECTION_CLOSED`.
///
/// # Safety
///
/// `lp_local_name` is NULL or a NUL-terminated UTF-16 string;
/// `lpn_length` is NULL or valid for reads and writes; `lp_remote_name` is
/// NULL or valid for `*lpn_length` units of writes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetGetConnectionW(
    lp_local_name: *const u16,
    lp_remote_name: LPWSTR,
    lpn_length: *mut DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `get_connection`'s.
    ffi_boundary!(panicked(), unsafe {
        get_connection::<Wide>(lp_local_name, lp_remote_name, lpn_length)
    })
}

/// `WNetGetConnectionA`: [`WNetGetConnectionW`] with UTF-8 (sizes in
/// bytes).
///
/// # Safety
///
/// As [`WNetGetConnectionW`], in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetGetConnectionA(
    lp_local_name: *const c_char,
    lp_remote_name: LPSTR,
    lpn_length: *mut DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `get_connection`'s.
    ffi_boundary!(panicked(), unsafe {
        get_connection::<Narrow>(lp_local_name, lp_remote_name, lpn_length)
    })
}

/// `WNetRestoreSingleConnectionW(hwndParent, lpDevice, fUseUI)`:
/// reconnects the remembered connection of `lpDevice` (all remembered
/// connections when it is NULL or empty), **without notifications**
/// (spec §5, §7.7). The result is the first failure, in remembered order,
/// with its detail in the extended error. `hwndParent` and `fUseUI` are
/// ignored (there is no UI).
///
/// # Safety
///
/// `lp_device` is NULL or a NUL-terminated UTF-16 string.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetRestoreSingleConnectionW(
    hwnd_parent: HWND,
    lp_device: *const u16,
    f_use_ui: BOOL,
) -> DWORD {
    let _ = (hwnd_parent, f_use_ui);
    ffi_boundary!(panicked(), {
        lasterror::clear();
        // SAFETY: the caller passes NULL or a terminated string.
        let device = match unsafe { arg::<Wide>(lp_device, MAX_NAME_UNITS, "lpDevice") } {
            Ok(d) => d.filter(|d| !d.is_empty()),
            Err(code) => return code,
        };
        let router = match router() {
            Ok(r) => r,
            Err(e) => return e.code(),
        };
        let results = match router.restore(device.as_deref()) {
            Ok(r) => r,
            Err(e) => return e.code(),
        };
        for r in results {
            if let Err(e) = r.result {
                let detail = r.detail.unwrap_or_else(|| e.to_string());
                return reject(e, format!("{}: {detail}", r.entry.local));
            }
        }
        WN_SUCCESS
    })
}
