//! `WNetGetLastErrorW`/`A`: the calling thread's extended error.
//!
//! Providers store it with `WNetSetLastErrorW` (exported from this library
//! by `mpr-loader`) before returning `WN_EXTENDED_ERROR`; the router stores the
//! detail of its own failures there too ([`mpr_core::lasterror`]).

use crate::global::panicked;
use crate::text::{Narrow, Text, Wide, write_truncated};
use mpr_abi::{DWORD, LPSTR, LPWSTR, WN_BAD_POINTER, WN_SUCCESS};
use mpr_core::lasterror;
use mpr_ffi::ffi_boundary;

/// `WNetGetLastError` in width `T`. Reading does not clear the record.
///
/// # Safety
///
/// `error` is NULL or valid for writes; each buffer is NULL or valid for
/// its size in units of writes.
unsafe fn get_last_error<T: Text>(
    error: *mut DWORD,
    error_buf: *mut T::Unit,
    error_size: DWORD,
    name_buf: *mut T::Unit,
    name_size: DWORD,
) -> DWORD {
    // A failure here leaves the record alone: it is what the caller wants.
    if error.is_null()
        || (error_buf.is_null() && error_size != 0)
        || (name_buf.is_null() && name_size != 0)
    {
        return WN_BAD_POINTER;
    }
    // Nothing stored: code 0 and empty strings (digest §4.11 decision).
    let rec = lasterror::get().unwrap_or_default();
    // SAFETY: `error` is non-NULL and valid (caller contract).
    unsafe { *error = rec.code };
    // SAFETY: `error_buf` holds `error_size` units, and is non-NULL unless
    // that size is 0 (checked above).
    unsafe { write_truncated::<T>(&rec.text, error_buf, error_size) };
    // SAFETY: as above, for the name buffer.
    unsafe { write_truncated::<T>(&rec.provider, name_buf, name_size) };
    WN_SUCCESS
}

/// `WNetGetLastErrorW(lpError, lpErrorBuf, nErrorBufSize, lpNameBuf,
/// nNameBufSize)`: the calling thread's extended error: the provider's
/// code in `*lpError`, its description and its name. Buffer sizes are in
/// characters; a string that does not fit is cut (never inside a
/// character) and stays NUL-terminated. With nothing stored: `*lpError` =
/// 0 and empty strings. Returns `WN_SUCCESS`, or `WN_BAD_POINTER`.
///
/// # Safety
///
/// `lp_error` is NULL or valid for writes; each buffer is NULL or valid for
/// its size in `WCHAR`s.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetGetLastErrorW(
    lp_error: *mut DWORD,
    lp_error_buf: LPWSTR,
    n_error_buf_size: DWORD,
    lp_name_buf: LPWSTR,
    n_name_buf_size: DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `get_last_error`'s.
    ffi_boundary!(panicked(), unsafe {
        get_last_error::<Wide>(
            lp_error,
            lp_error_buf,
            n_error_buf_size,
            lp_name_buf,
            n_name_buf_size,
        )
    })
}

/// `WNetGetLastErrorA`: [`WNetGetLastErrorW`] with UTF-8 (sizes in bytes).
///
/// # Safety
///
/// As [`WNetGetLastErrorW`], in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetGetLastErrorA(
    lp_error: *mut DWORD,
    lp_error_buf: LPSTR,
    n_error_buf_size: DWORD,
    lp_name_buf: LPSTR,
    n_name_buf_size: DWORD,
) -> DWORD {
    // SAFETY: the caller's contract is `get_last_error`'s.
    ffi_boundary!(panicked(), unsafe {
        get_last_error::<Narrow>(
            lp_error,
            lp_error_buf,
            n_error_buf_size,
            lp_name_buf,
            n_name_buf_size,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_stored_is_success_with_empty_strings() {
        lasterror::clear();
        let mut code: DWORD = 77;
        let mut text = [0x55u16; 4];
        let mut name = [0x55u16; 4];
        // SAFETY: the buffers hold 4 units each.
        let r = unsafe { WNetGetLastErrorW(&mut code, text.as_mut_ptr(), 4, name.as_mut_ptr(), 4) };
        assert_eq!((r, code, text[0], name[0]), (0, 0, 0, 0));
    }

    #[test]
    fn truncates_and_keeps_the_record() {
        lasterror::set(1234, "disk on fire", "acme");
        let mut code: DWORD = 0;
        let mut text = [0x55u8 as std::ffi::c_char; 5];
        // SAFETY: 5 bytes of text; no name buffer (size 0).
        let r =
            unsafe { WNetGetLastErrorA(&mut code, text.as_mut_ptr(), 5, std::ptr::null_mut(), 0) };
        assert_eq!((r, code), (0, 1234));
        // SAFETY: the copy was NUL-terminated within the 5 bytes.
        let s = unsafe { std::ffi::CStr::from_ptr(text.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "disk");
        assert_eq!(
            lasterror::get().unwrap().text,
            "disk on fire",
            "not consumed"
        );
        // SAFETY: a NULL lpError is checked first.
        let r = unsafe {
            WNetGetLastErrorA(
                std::ptr::null_mut(),
                text.as_mut_ptr(),
                5,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(r, WN_BAD_POINTER);
        assert_eq!(
            lasterror::get().unwrap().code,
            1234,
            "a failed read keeps it"
        );
    }
}
