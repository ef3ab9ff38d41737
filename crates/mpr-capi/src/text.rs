//! The two string widths of the WNet API: the W functions take UTF-16
//! (`WCHAR`), the A functions UTF-8 (the narrow code page on Linux).
//!
//! Every export is written once, generic over [`Text`], and instantiated
//! for [`Wide`] and [`Narrow`]. Sizes are always counted in the units of
//! the width ("characters": `WCHAR`s for W, bytes for A), terminator
//! included.

use mpr_abi::{DWORD, NETRESOURCEA, NETRESOURCEW};
use mpr_core::WnError;
use std::ffi::c_char;

/// The pointers of a `NETRESOURCE` in field order: local name, remote
/// name, comment, provider.
pub(crate) type ResourceStrings<U> = [*mut U; 4];

/// One string width of the API.
pub(crate) trait Text {
    /// The code unit: `u16` (W) or `c_char` (A).
    type Unit: Copy;
    /// `NETRESOURCEW` or `NETRESOURCEA`.
    type NetResource: Copy;
    /// The alignment a string of this width needs, in bytes.
    const ALIGN: usize;
    /// The terminator.
    const NUL: Self::Unit;

    /// `s` in this width, without a terminator.
    fn encode(s: &str) -> Vec<Self::Unit>;

    /// `s` in this width with its terminator, as bytes (for packing).
    fn encode_bytes(s: &str) -> Vec<u8>;

    /// The length of the longest prefix of `units` of at most `max` units
    /// that does not split a character.
    fn prefix_len(units: &[Self::Unit], max: usize) -> usize;

    /// Reads a NUL-terminated string of at most `max` UTF-16 units
    /// (`mpr_ffi::wide`), whatever the width: a limit such as the 4,096 of
    /// a name counts UTF-16 units for the A functions too, not bytes.
    ///
    /// # Safety
    ///
    /// `p` is NULL or readable up to its terminator or `3 * max + 1` units
    /// (the most UTF-8 bytes `max` UTF-16 units can take, plus one).
    unsafe fn read(p: *const Self::Unit, max: usize) -> Result<Option<String>, WnError>;

    /// Copies `s` and its terminator into a caller buffer of `*size` units
    /// (the buffer protocol of `mpr_ffi::buffer`).
    ///
    /// # Safety
    ///
    /// `size` is NULL or valid for reads and writes; `buf` is NULL or valid
    /// for `*size` units of writes.
    unsafe fn write(s: &str, buf: *mut Self::Unit, size: *mut DWORD) -> DWORD;

    /// `dwType` and the four string pointers of a `NETRESOURCE`.
    fn fields(nr: &Self::NetResource) -> (DWORD, ResourceStrings<Self::Unit>);

    /// A `NETRESOURCE` with these values.
    fn resource(
        scope: DWORD,
        r#type: DWORD,
        display_type: DWORD,
        usage: DWORD,
        strings: ResourceStrings<Self::Unit>,
    ) -> Self::NetResource;
}

/// The W functions: UTF-16.
#[derive(Debug)]
pub(crate) enum Wide {}

/// The A functions: UTF-8.
#[derive(Debug)]
pub(crate) enum Narrow {}

impl Text for Wide {
    type Unit = u16;
    type NetResource = NETRESOURCEW;
    const ALIGN: usize = std::mem::align_of::<u16>();
    const NUL: u16 = 0;

    fn encode(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn encode_bytes(s: &str) -> Vec<u8> {
        mpr_ffi::wide::to_wide(s)
            .into_iter()
            .flat_map(u16::to_ne_bytes)
            .collect()
    }

    fn prefix_len(units: &[u16], max: usize) -> usize {
        let n = units.len().min(max);
        // Do not keep the first half of a surrogate pair without the second.
        if n > 0 && n < units.len() && (0xD800..0xDC00).contains(&units[n - 1]) {
            n - 1
        } else {
            n
        }
    }

    unsafe fn read(p: *const u16, max: usize) -> Result<Option<String>, WnError> {
        // SAFETY: the caller's contract is `mpr_ffi::wide::read`'s.
        unsafe { mpr_ffi::wide::read(p, max) }
    }

    unsafe fn write(s: &str, buf: *mut u16, size: *mut DWORD) -> DWORD {
        // SAFETY: the caller's contract is `mpr_ffi::buffer::write_wide`'s.
        unsafe { mpr_ffi::buffer::write_wide(s, buf, size) }
    }

    fn fields(nr: &NETRESOURCEW) -> (DWORD, ResourceStrings<u16>) {
        (
            nr.dwType,
            [nr.lpLocalName, nr.lpRemoteName, nr.lpComment, nr.lpProvider],
        )
    }

    fn resource(
        scope: DWORD,
        r#type: DWORD,
        display_type: DWORD,
        usage: DWORD,
        [local, remote, comment, provider]: ResourceStrings<u16>,
    ) -> NETRESOURCEW {
        NETRESOURCEW {
            dwScope: scope,
            dwType: r#type,
            dwDisplayType: display_type,
            dwUsage: usage,
            lpLocalName: local,
            lpRemoteName: remote,
            lpComment: comment,
            lpProvider: provider,
        }
    }
}

impl Text for Narrow {
    type Unit = c_char;
    type NetResource = NETRESOURCEA;
    const ALIGN: usize = 1;
    const NUL: c_char = 0;

    fn encode(s: &str) -> Vec<c_char> {
        s.bytes().map(|b| b as c_char).collect()
    }

    fn encode_bytes(s: &str) -> Vec<u8> {
        s.bytes().chain(std::iter::once(0)).collect()
    }

    fn prefix_len(units: &[c_char], max: usize) -> usize {
        let mut n = units.len().min(max);
        // Back off over UTF-8 continuation bytes (10xxxxxx) to a character start.
        while n > 0 && n < units.len() && (units[n] as u8) & 0xC0 == 0x80 {
            n -= 1;
        }
        n
    }

    unsafe fn read(p: *const c_char, max: usize) -> Result<Option<String>, WnError> {
        // One UTF-16 unit takes at most 3 bytes of UTF-8 (a BMP character is
        // 1 unit in 1-3 bytes, a supplementary one 2 units in 4 bytes), so
        // `max` units fit in `3 * max` bytes; the units are counted after.
        // SAFETY: the caller's contract is `mpr_ffi::wide::read_narrow`'s
        // with that byte bound.
        let s = unsafe { mpr_ffi::wide::read_narrow(p, max.saturating_mul(3)) }?;
        match s {
            Some(s) if s.encode_utf16().count() > max => Err(WnError::BadValue),
            s => Ok(s),
        }
    }

    unsafe fn write(s: &str, buf: *mut c_char, size: *mut DWORD) -> DWORD {
        // SAFETY: the same contract as `mpr_ffi::buffer::write_wide`, in bytes.
        unsafe { write_narrow(s, buf, size) }
    }

    fn fields(nr: &NETRESOURCEA) -> (DWORD, ResourceStrings<c_char>) {
        (
            nr.dwType,
            [nr.lpLocalName, nr.lpRemoteName, nr.lpComment, nr.lpProvider],
        )
    }

    fn resource(
        scope: DWORD,
        r#type: DWORD,
        display_type: DWORD,
        usage: DWORD,
        [local, remote, comment, provider]: ResourceStrings<c_char>,
    ) -> NETRESOURCEA {
        NETRESOURCEA {
            dwScope: scope,
            dwType: r#type,
            dwDisplayType: display_type,
            dwUsage: usage,
            lpLocalName: local,
            lpRemoteName: remote,
            lpComment: comment,
            lpProvider: provider,
        }
    }
}

/// The number of units `s` takes in width `T`, terminator included, as a
/// `DWORD` (saturated: no name the router accepts comes near the limit).
pub(crate) fn needed<T: Text>(s: &str) -> DWORD {
    DWORD::try_from(T::encode(s).len() + 1).unwrap_or(DWORD::MAX)
}

/// [`mpr_ffi::buffer::write_wide`] for UTF-8: copies `s` and a NUL into the
/// caller's buffer, or stores the required size and returns `WN_MORE_DATA`;
/// `WN_BAD_POINTER` for a NULL size, or a NULL buffer that would be written.
///
/// # Safety
///
/// `size` is NULL or valid for reads and writes; `buf` is NULL or valid for
/// `*size` bytes of writes.
unsafe fn write_narrow(s: &str, buf: *mut c_char, size: *mut DWORD) -> DWORD {
    let bytes = Narrow::encode_bytes(s);
    // SAFETY: the caller's contract is `write_units`'s, in bytes; a fresh
    // Vec cannot overlap the caller's buffer.
    unsafe { mpr_ffi::buffer::write_units(&bytes, buf.cast::<u8>(), size) }
}

/// Copies as much of `s` as fits into a buffer of `cap` units, always
/// NUL-terminated, never splitting a character (`WNetGetLastError`). A
/// `cap` of 0 writes nothing.
///
/// # Safety
///
/// `buf` is valid for `cap` units of writes (it may be NULL only if `cap`
/// is 0).
pub(crate) unsafe fn write_truncated<T: Text>(s: &str, buf: *mut T::Unit, cap: DWORD) {
    let Some(room) = (cap as usize).checked_sub(1) else {
        return;
    };
    let mut units = T::encode(s);
    let n = T::prefix_len(&units, room);
    units.truncate(n);
    units.push(T::NUL);
    // SAFETY: `buf` holds `cap >= units.len()` units (caller contract); a
    // fresh Vec cannot overlap it.
    unsafe { std::ptr::copy_nonoverlapping(units.as_ptr(), buf, units.len()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_abi::{WN_BAD_POINTER, WN_MORE_DATA, WN_SUCCESS};

    #[test]
    fn narrow_buffer_protocol() {
        let mut buf = [0x55 as c_char; 8];
        let mut size: DWORD = 3;
        // "é" is two bytes in UTF-8: "Zé" needs 4 with the NUL.
        // SAFETY: `buf` holds 8 bytes and `size` says 3.
        let r = unsafe { write_narrow("Zé", buf.as_mut_ptr(), &mut size) };
        assert_eq!((r, size), (WN_MORE_DATA, 4));
        assert_eq!(buf[0], 0x55, "nothing written on WN_MORE_DATA");
        size = 8;
        // SAFETY: as above, with the full size.
        let r = unsafe { write_narrow("Zé", buf.as_mut_ptr(), &mut size) };
        assert_eq!((r, size), (WN_SUCCESS, 8), "size untouched on success");
        assert_eq!(&buf[..4], &Narrow::encode("Zé\0")[..]);
        // SAFETY: a NULL size is checked first.
        let r = unsafe { write_narrow("x", buf.as_mut_ptr(), std::ptr::null_mut()) };
        assert_eq!(r, WN_BAD_POINTER);
        size = 8;
        // SAFETY: a NULL buffer is checked before any write.
        let r = unsafe { write_narrow("x", std::ptr::null_mut(), &mut size) };
        assert_eq!(r, WN_BAD_POINTER);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        // U+1F600 is a surrogate pair in UTF-16 and four bytes in UTF-8.
        let s = "ab\u{1F600}c";
        let mut w = [0xFFFFu16; 8];
        // SAFETY: `w` holds 8 units; cap 4 leaves room for 3 plus the NUL.
        unsafe { write_truncated::<Wide>(s, w.as_mut_ptr(), 4) };
        assert_eq!(&w[..3], &[u16::from(b'a'), u16::from(b'b'), 0]);
        // SAFETY: as above; cap 5 fits the whole pair.
        unsafe { write_truncated::<Wide>(s, w.as_mut_ptr(), 5) };
        assert_eq!(&w[..5], &[97, 98, 0xD83D, 0xDE00, 0]);
        let mut a = [0x55 as c_char; 8];
        // SAFETY: `a` holds 8 bytes; cap 5 leaves room for 4.
        unsafe { write_truncated::<Narrow>(s, a.as_mut_ptr(), 5) };
        assert_eq!(&a[..3], &Narrow::encode("ab\0")[..]);
        // SAFETY: cap 0 writes nothing, not even through a NULL pointer.
        unsafe { write_truncated::<Narrow>(s, std::ptr::null_mut(), 0) };
        // SAFETY: cap 1 holds the terminator only.
        unsafe { write_truncated::<Narrow>(s, a.as_mut_ptr(), 1) };
        assert_eq!(a[0], 0);
    }

    /// `s` as a NUL-terminated C string.
    fn c(s: &str) -> Vec<c_char> {
        Narrow::encode(&format!("{s}\0"))
    }

    #[test]
    fn narrow_limits_count_utf16_units_not_bytes() {
        // "é" is 2 bytes and 1 unit, "€" 3 bytes and 1 unit, U+1F600 4 bytes
        // and 2 units.
        for (unit, units_each) in [("x", 1), ("é", 1), ("€", 1), ("\u{1F600}", 2)] {
            let fits = unit.repeat(10 / units_each);
            // SAFETY: terminated.
            let r = unsafe { Narrow::read(c(&fits).as_ptr(), 10) };
            assert_eq!(r, Ok(Some(fits.clone())), "{unit}");
            let over = unit.repeat(10 / units_each + 1);
            // SAFETY: terminated.
            let r = unsafe { Narrow::read(c(&over).as_ptr(), 10) };
            assert_eq!(r, Err(WnError::BadValue), "{unit}");
        }
    }

    #[test]
    fn sizes_count_units_and_the_terminator() {
        assert_eq!(needed::<Wide>("Z:"), 3);
        assert_eq!(needed::<Narrow>("Zé"), 4);
        assert_eq!(needed::<Wide>("\u{1F600}"), 3);
        assert_eq!(Wide::encode_bytes("A").len(), 4);
    }
}
