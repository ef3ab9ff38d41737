//! The caller-buffer protocol of the WNet functions: sizes in characters,
//! counting the terminator; `WN_MORE_DATA` stores the required size and
//! writes nothing else; on success the size is left as it was.

use mpr_abi::{DWORD, WN_BAD_POINTER, WN_MORE_DATA, WN_SUCCESS};

/// Copies `s` (plus a NUL) into the caller's UTF-16 buffer.
///
/// Returns `WN_SUCCESS`, `WN_MORE_DATA` (with `*size` set to the required
/// size) or `WN_BAD_POINTER` for a NULL size, or a NULL buffer with a
/// nonzero size.
///
/// # Safety
///
/// `size` is NULL or valid for reads and writes; `buf` is NULL or valid for
/// `*size` UTF-16 units of writes.
pub unsafe fn write_wide(s: &str, buf: *mut u16, size: *mut DWORD) -> DWORD {
    let units = crate::wide::to_wide(s);
    // SAFETY: the caller's contract is `write_units`'s, in UTF-16 units.
    unsafe { write_units(&units, buf, size) }
}

/// The protocol for any unit width (UTF-16 units for the W functions,
/// bytes for the A functions): `units` already ends with its NUL, and sizes
/// count units.
///
/// # Safety
///
/// `size` is NULL or valid for reads and writes; `buf` is NULL or valid for
/// `*size` units of writes, and does not overlap `units`.
pub unsafe fn write_units<T: Copy>(units: &[T], buf: *mut T, size: *mut DWORD) -> DWORD {
    if size.is_null() {
        return WN_BAD_POINTER;
    }
    let needed = DWORD::try_from(units.len()).unwrap_or(DWORD::MAX);
    // SAFETY: `size` was null-checked; the caller guarantees it is valid.
    let have = unsafe { *size };
    if have < needed {
        // SAFETY: as above.
        unsafe { *size = needed };
        return WN_MORE_DATA;
    }
    if buf.is_null() {
        return WN_BAD_POINTER;
    }
    // SAFETY: `buf` holds `have >= needed` units and does not overlap
    // `units` (caller contract).
    unsafe { std::ptr::copy_nonoverlapping(units.as_ptr(), buf, units.len()) };
    WN_SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_protocol() {
        let mut buf = [0u16; 8];
        let mut size: DWORD = 2;
        // SAFETY: `buf` holds 8 units, `size` says 2.
        let r = unsafe { write_wide("Z:", buf.as_mut_ptr(), &mut size) };
        assert_eq!(r, WN_MORE_DATA);
        assert_eq!(size, 3);
        assert_eq!(buf[0], 0, "nothing written on WN_MORE_DATA");
        size = 8;
        // SAFETY: as above, with the full size.
        let r = unsafe { write_wide("Z:", buf.as_mut_ptr(), &mut size) };
        assert_eq!(r, WN_SUCCESS);
        assert_eq!(size, 8, "size untouched on success");
        assert_eq!(&buf[..3], &[u16::from(b'Z'), u16::from(b':'), 0]);
        // SAFETY: a NULL size is checked before any use.
        let r = unsafe { write_wide("x", buf.as_mut_ptr(), std::ptr::null_mut()) };
        assert_eq!(r, WN_BAD_POINTER);
    }
}
