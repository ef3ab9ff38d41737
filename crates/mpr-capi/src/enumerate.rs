//! Enumeration: `WNetOpenEnum`, `WNetEnumResource`, `WNetCloseEnum`.
//!
//! `WNetOpenEnum` takes a snapshot of the connections of its scope
//! (`RESOURCE_CONNECTED`: the live connections, available or not;
//! `RESOURCE_REMEMBERED`: the remembered ones) and returns a handle;
//! `WNetEnumResource` delivers the snapshot in as many calls as the
//! caller's buffers need, packed as the `pack` module describes.
//! `RESOURCE_GLOBALNET` and `RESOURCE_CONTEXT` (browsing the network) are
//! `WN_NOT_SUPPORTED`; any other scope is `WN_BAD_VALUE`.
//!
//! Handles are numbers in a table of this process, never pointers, so a
//! closed, unknown or NULL handle is `WN_BAD_HANDLE` rather than a crash.
//! A handle may be used from any thread and with either width.

use crate::global::{panicked, reject, router};
use crate::pack::{Entry, layout};
use crate::text::{Narrow, Text, Wide};
use mpr_abi::{
    DWORD, HANDLE, LPVOID, NETRESOURCEA, NETRESOURCEW, RESOURCE_CONNECTED, RESOURCE_CONTEXT,
    RESOURCE_GLOBALNET, RESOURCE_REMEMBERED, RESOURCEDISPLAYTYPE_GENERIC,
    RESOURCEDISPLAYTYPE_SHARE, RESOURCETYPE_ANY, RESOURCETYPE_DISK, RESOURCETYPE_PRINT,
    RESOURCEUSAGE_CONNECTABLE, WN_MORE_DATA, WN_NO_MORE_ENTRIES, WN_SUCCESS,
};
use mpr_core::router::ConnectionStatus;
use mpr_core::{WnError, lasterror};
use mpr_ffi::ffi_boundary;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// An open enumeration: its snapshot and how far it got.
#[derive(Debug)]
struct Enumeration {
    entries: Vec<Entry>,
    next: usize,
}

/// The open enumerations of this process, by handle value.
static OPEN: Mutex<BTreeMap<usize, Enumeration>> = Mutex::new(BTreeMap::new());

/// The next handle value (never 0, never reused).
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(1);

fn open_table() -> MutexGuard<'static, BTreeMap<usize, Enumeration>> {
    // A panic while the table was locked cannot leave it inconsistent (each
    // change is one insert or remove), so a poisoned lock is used as is.
    OPEN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connection as a `NETRESOURCE` of `scope`.
fn entry(scope: DWORD, display_type: DWORD, c: ConnectionStatus) -> Entry {
    Entry {
        scope,
        r#type: RESOURCETYPE_DISK,
        display_type,
        usage: RESOURCEUSAGE_CONNECTABLE,
        strings: [
            (!c.local.is_empty()).then_some(c.local),
            Some(c.remote),
            None,
            Some(c.provider_name),
        ],
    }
}

/// `WNetOpenEnum`: validates, takes the snapshot, returns the handle.
///
/// # Safety
///
/// `handle` is NULL or valid for writes.
unsafe fn open_enum(scope: DWORD, r#type: DWORD, handle: *mut HANDLE) -> DWORD {
    lasterror::clear();
    if handle.is_null() {
        return reject(WnError::BadPointer, "lphEnum is NULL");
    }
    match scope {
        RESOURCE_CONNECTED | RESOURCE_REMEMBERED => {}
        RESOURCE_GLOBALNET | RESOURCE_CONTEXT => {
            return reject(
                WnError::NotSupported,
                "browsing the network (RESOURCE_GLOBALNET, RESOURCE_CONTEXT) is not supported",
            );
        }
        s => {
            return reject(
                WnError::BadValue,
                format!("dwScope {s} is not RESOURCE_CONNECTED or RESOURCE_REMEMBERED"),
            );
        }
    }
    if !matches!(
        r#type,
        RESOURCETYPE_ANY | RESOURCETYPE_DISK | RESOURCETYPE_PRINT
    ) {
        return reject(
            WnError::BadValue,
            format!("dwType {} is not RESOURCETYPE_ANY, _DISK or _PRINT", r#type),
        );
    }
    let router = match router() {
        Ok(r) => r,
        Err(e) => return e.code(),
    };
    let rows = if scope == RESOURCE_CONNECTED {
        router.connections().map(|rows| {
            rows.into_iter()
                .filter(|c| c.status != mpr_core::router::ConnState::Remembered)
                .map(|c| entry(RESOURCE_CONNECTED, RESOURCEDISPLAYTYPE_SHARE, c))
                .collect::<Vec<_>>()
        })
    } else {
        router.remembered_connections().map(|rows| {
            rows.into_iter()
                .map(|c| entry(RESOURCE_REMEMBERED, RESOURCEDISPLAYTYPE_GENERIC, c))
                .collect()
        })
    };
    let mut entries = match rows {
        Ok(r) => r,
        Err(e) => return e.code(),
    };
    // Every connection mpr makes is a disk connection.
    if r#type == RESOURCETYPE_PRINT {
        entries.clear();
    }
    let id = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    open_table().insert(id, Enumeration { entries, next: 0 });
    // SAFETY: `handle` is non-NULL and valid for writes (caller contract).
    unsafe { *handle = std::ptr::without_provenance_mut(id) };
    WN_SUCCESS
}

/// `WNetEnumResource` in width `T`.
///
/// # Safety
///
/// `count` and `size` are NULL or valid for reads and writes; `buf` is NULL
/// or valid for `*size` bytes of writes.
unsafe fn enum_resource<T: Text>(
    handle: HANDLE,
    count: *mut DWORD,
    buf: LPVOID,
    size: *mut DWORD,
) -> DWORD {
    lasterror::clear();
    if count.is_null() || size.is_null() || buf.is_null() {
        return reject(
            WnError::BadPointer,
            "lpcCount, lpBuffer and lpBufferSize must not be NULL",
        );
    }
    let mut table = open_table();
    let Some(e) = table.get_mut(&handle.addr()) else {
        return reject(WnError::BadHandle, "not an open enumeration handle");
    };
    // SAFETY: `count` is non-NULL and valid (caller contract).
    let wanted = unsafe { *count };
    if wanted == 0 {
        return reject(WnError::BadValue, "*lpcCount is 0");
    }
    let max = if wanted == DWORD::MAX {
        usize::MAX
    } else {
        wanted as usize
    };
    let rest = &e.entries[e.next.min(e.entries.len())..];
    if rest.is_empty() {
        // SAFETY: as above.
        unsafe { *count = 0 };
        return WN_NO_MORE_ENTRIES;
    }
    // SAFETY: `size` is non-NULL and valid (caller contract).
    let have = unsafe { *size };
    let base = buf.cast::<u8>();
    match layout::<T>(rest, base, have as usize, max) {
        Err(required) => {
            let required = DWORD::try_from(required).unwrap_or(DWORD::MAX);
            // SAFETY: as above.
            unsafe { *size = required };
            WN_MORE_DATA
        }
        Ok(packed) => {
            // SAFETY: `base` is the caller's buffer of `have` bytes, as given
            // to `layout`.
            unsafe { packed.write(base) };
            let n = packed.count();
            e.next += n;
            // SAFETY: `count` is valid (see above); `n <= wanted` fits a DWORD.
            unsafe { *count = n as DWORD };
            WN_SUCCESS
        }
    }
}

/// `WNetCloseEnum`.
fn close_enum(handle: HANDLE) -> DWORD {
    lasterror::clear();
    match open_table().remove(&handle.addr()) {
        Some(_) => WN_SUCCESS,
        None => reject(WnError::BadHandle, "not an open enumeration handle"),
    }
}

/// `WNetOpenEnumW(dwScope, dwType, dwUsage, lpNetResource, lphEnum)`:
/// opens an enumeration of `RESOURCE_CONNECTED` or `RESOURCE_REMEMBERED`
/// connections of `dwType` (`RESOURCETYPE_ANY`, `_DISK` or `_PRINT`).
/// `dwUsage` and `lpNetResource` only matter for `RESOURCE_GLOBALNET`,
/// which is not supported, and are ignored.
///
/// # Safety
///
/// `lph_enum` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetOpenEnumW(
    dw_scope: DWORD,
    dw_type: DWORD,
    dw_usage: DWORD,
    lp_net_resource: *const NETRESOURCEW,
    lph_enum: *mut HANDLE,
) -> DWORD {
    let _ = (dw_usage, lp_net_resource);
    // SAFETY: the caller's contract is `open_enum`'s.
    ffi_boundary!(panicked(), unsafe {
        open_enum(dw_scope, dw_type, lph_enum)
    })
}

/// `WNetOpenEnumA`: [`WNetOpenEnumW`] (the handle serves either width).
///
/// # Safety
///
/// `lph_enum` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetOpenEnumA(
    dw_scope: DWORD,
    dw_type: DWORD,
    dw_usage: DWORD,
    lp_net_resource: *const NETRESOURCEA,
    lph_enum: *mut HANDLE,
) -> DWORD {
    let _ = (dw_usage, lp_net_resource);
    // SAFETY: the caller's contract is `open_enum`'s.
    ffi_boundary!(panicked(), unsafe {
        open_enum(dw_scope, dw_type, lph_enum)
    })
}

/// `WNetEnumResourceW(hEnum, lpcCount, lpBuffer, lpBufferSize)`: delivers
/// up to `*lpcCount` entries (`0xFFFFFFFF`: as many as fit) as an array of
/// `NETRESOURCEW` at the start of `lpBuffer`, followed by the strings they
/// point to, placed from the end of the buffer. `*lpcCount` gets the number
/// delivered. `WN_NO_MORE_ENTRIES` (and `*lpcCount` = 0) at the end;
/// `WN_MORE_DATA` with the bytes one entry needs in `*lpBufferSize` when
/// not even one fits. The buffer's contents stay valid until the caller
/// reuses it.
///
/// # Safety
///
/// `lpc_count` and `lp_buffer_size` are NULL or valid for reads and writes;
/// `lp_buffer` is NULL or valid for `*lp_buffer_size` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetEnumResourceW(
    h_enum: HANDLE,
    lpc_count: *mut DWORD,
    lp_buffer: LPVOID,
    lp_buffer_size: *mut DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `enum_resource`'s.
    ffi_boundary!(panicked(), unsafe {
        enum_resource::<Wide>(h_enum, lpc_count, lp_buffer, lp_buffer_size)
    })
}

/// `WNetEnumResourceA`: [`WNetEnumResourceW`] with `NETRESOURCEA` and UTF-8
/// strings.
///
/// # Safety
///
/// As [`WNetEnumResourceW`].
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetEnumResourceA(
    h_enum: HANDLE,
    lpc_count: *mut DWORD,
    lp_buffer: LPVOID,
    lp_buffer_size: *mut DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `enum_resource`'s.
    ffi_boundary!(panicked(), unsafe {
        enum_resource::<Narrow>(h_enum, lpc_count, lp_buffer, lp_buffer_size)
    })
}

/// `WNetCloseEnum(hEnum)`: ends an enumeration. A NULL, unknown or already
/// closed handle is `WN_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "system" fn WNetCloseEnum(h_enum: HANDLE) -> DWORD {
    ffi_boundary!(panicked(), close_enum(h_enum))
}
