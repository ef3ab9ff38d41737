//! UTF-16 strings across the C boundary.

use mpr_error::WnError;
use std::ffi::c_char;

/// The cap on free text (error descriptions) read from C.
pub const MAX_TEXT_UNITS: usize = 65_536;

/// Reads a NUL-terminated UTF-16 string of at most `max` units.
///
/// Returns `Ok(None)` for NULL, `Err(WN_BAD_VALUE)` for a longer string or a
/// lone surrogate (the one place that decides this).
///
/// # Safety
///
/// `p` is NULL or points to UTF-16 units readable up to a NUL or up to
/// `max + 1` units, whichever comes first.
pub unsafe fn read(p: *const u16, max: usize) -> Result<Option<String>, WnError> {
    if p.is_null() {
        return Ok(None);
    }
    let mut len = 0usize;
    // SAFETY: the caller guarantees units up to the NUL or max + 1 are
    // readable; the loop stops at whichever comes first.
    while unsafe { p.wrapping_add(len).read() } != 0 {
        len += 1;
        if len > max {
            return Err(WnError::BadValue);
        }
    }
    // SAFETY: the `len` units before the NUL were just read one by one.
    let units = unsafe { std::slice::from_raw_parts(p, len) };
    String::from_utf16(units)
        .map(Some)
        .map_err(|_| WnError::BadValue)
}

/// Reads a NUL-terminated UTF-8 string of at most `max` bytes (the A
/// functions: UTF-8 is the narrow code page).
///
/// # Safety
///
/// `p` is NULL or points to bytes readable up to a NUL or `max + 1` bytes.
pub unsafe fn read_narrow(p: *const c_char, max: usize) -> Result<Option<String>, WnError> {
    if p.is_null() {
        return Ok(None);
    }
    let mut len = 0usize;
    // SAFETY: as in `read`, bounded by the NUL or max + 1.
    while unsafe { p.wrapping_add(len).read() } != 0 {
        len += 1;
        if len > max {
            return Err(WnError::BadValue);
        }
    }
    // SAFETY: the `len` bytes before the NUL were just read.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    std::str::from_utf8(bytes)
        .map(|s| Some(s.to_string()))
        .map_err(|_| WnError::BadValue)
}

/// `s` as NUL-terminated UTF-16.
pub fn to_wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_caps() {
        let w = to_wide(r"\\srv\share");
        // SAFETY: `w` is terminated.
        let r = unsafe { read(w.as_ptr(), 100) };
        assert_eq!(r.unwrap().unwrap(), r"\\srv\share");
        // SAFETY: `w` is terminated; the cap stops earlier.
        let r = unsafe { read(w.as_ptr(), 5) };
        assert_eq!(r, Err(WnError::BadValue));
        // SAFETY: NULL is allowed.
        let r = unsafe { read(std::ptr::null(), 5) };
        assert_eq!(r, Ok(None));
        let lone = [0xD800u16, 0x41, 0];
        // SAFETY: terminated.
        let r = unsafe { read(lone.as_ptr(), 10) };
        assert_eq!(r, Err(WnError::BadValue));
        let s = c"Z:";
        // SAFETY: terminated.
        let r = unsafe { read_narrow(s.as_ptr(), 10) };
        assert_eq!(r.unwrap().unwrap(), "Z:");
        let bad = [0xFFu8 as c_char, 0];
        // SAFETY: terminated.
        let r = unsafe { read_narrow(bad.as_ptr(), 10) };
        assert_eq!(r, Err(WnError::BadValue));
    }
}
