//! Packing `NETRESOURCE` entries into a caller's enumeration buffer
//! (`WNetEnumResource`).
//!
//! The layout, as on Windows: the array of `NETRESOURCE` structures starts
//! at the beginning of the buffer, and the strings they point to are placed
//! from the end of the buffer downwards (each aligned for its width). An
//! entry is delivered whole or not at all.
//!
//! [`layout`] works out everything in safe code, with pointers derived from
//! the caller's base pointer; [`Packed::write`] then makes the two copies
//! (the structures, the strings) into the buffer.

use crate::text::Text;
use std::mem::size_of;

/// One entry to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `RESOURCE_*`.
    pub(crate) scope: u32,
    /// `RESOURCETYPE_*`.
    pub(crate) r#type: u32,
    /// `RESOURCEDISPLAYTYPE_*`.
    pub(crate) display_type: u32,
    /// `RESOURCEUSAGE_*`.
    pub(crate) usage: u32,
    /// Local name, remote name, comment, provider (`None` is NULL).
    pub(crate) strings: [Option<String>; 4],
}

impl Entry {
    /// The bytes one entry needs in width `T`: its structure plus its
    /// strings with their terminators.
    pub(crate) fn size<T: Text>(&self) -> usize {
        size_of::<T::NetResource>()
            + self
                .strings
                .iter()
                .flatten()
                .map(|s| T::encode_bytes(s).len())
                .sum::<usize>()
    }
}

/// What fits into the buffer.
#[derive(Debug)]
pub(crate) struct Packed<T: Text> {
    /// The structures, for the start of the buffer.
    heads: Vec<T::NetResource>,
    /// The string area, for `[tail_at, size)` of the buffer.
    tail: Vec<u8>,
    /// Where the string area starts, in bytes from the buffer start.
    tail_at: usize,
}

impl<T: Text> Packed<T> {
    /// How many entries fit.
    pub(crate) fn count(&self) -> usize {
        self.heads.len()
    }

    /// Copies the structures and the strings into the buffer.
    ///
    /// # Safety
    ///
    /// `base` is the pointer given to [`layout`], valid for writes of the
    /// `size` bytes given there.
    pub(crate) unsafe fn write(&self, base: *mut u8) {
        let head_bytes = self.heads.len() * size_of::<T::NetResource>();
        // SAFETY: `layout` guarantees `head_bytes <= tail_at <= size`, so the
        // structures go to the first `head_bytes` bytes of the caller's buffer
        // (caller contract); byte copies need no alignment.
        unsafe {
            std::ptr::copy_nonoverlapping(self.heads.as_ptr().cast::<u8>(), base, head_bytes)
        };
        let tail = base.wrapping_add(self.tail_at);
        // SAFETY: the strings go to `[tail_at, tail_at + tail.len())`, which
        // `layout` made equal to `[tail_at, size)`: inside the buffer and
        // after the structures.
        unsafe { std::ptr::copy_nonoverlapping(self.tail.as_ptr(), tail, self.tail.len()) };
    }
}

/// Lays out at most `max` of `entries` in a buffer of `size` bytes at
/// `base`. `Err(required)`: not even the first entry fits, and it needs
/// `required` bytes. `entries` must not be empty.
///
/// The pointers stored in the structures are derived from `base` without
/// dereferencing it; nothing is written until [`Packed::write`].
pub(crate) fn layout<T: Text>(
    entries: &[Entry],
    base: *mut u8,
    size: usize,
    max: usize,
) -> Result<Packed<T>, usize> {
    let struct_size = size_of::<T::NetResource>();
    let addr = base.addr();
    let mut heads = Vec::new();
    let mut pieces: Vec<(usize, Vec<u8>)> = Vec::new();
    // The lowest byte offset used by strings so far.
    let mut low = size;
    'entries: for e in entries.iter().take(max) {
        let mut entry_low = low;
        let mut ptrs: [*mut T::Unit; 4] = [std::ptr::null_mut(); 4];
        let mut entry_pieces = Vec::new();
        for (slot, s) in e.strings.iter().enumerate() {
            let Some(s) = s else { continue };
            let bytes = T::encode_bytes(s);
            let Some(start) = entry_low.checked_sub(bytes.len()) else {
                break 'entries;
            };
            // Align the absolute address down for this width.
            let Some(start) = start.checked_sub((addr.wrapping_add(start)) % T::ALIGN) else {
                break 'entries;
            };
            ptrs[slot] = base.wrapping_add(start).cast::<T::Unit>();
            entry_pieces.push((start, bytes));
            entry_low = start;
        }
        if (heads.len() + 1) * struct_size > entry_low {
            break;
        }
        low = entry_low;
        pieces.extend(entry_pieces);
        heads.push(T::resource(
            e.scope,
            e.r#type,
            e.display_type,
            e.usage,
            ptrs,
        ));
    }
    if heads.is_empty() {
        return Err(entries.first().map_or(struct_size, Entry::size::<T>));
    }
    let mut tail = vec![0u8; size - low];
    for (at, bytes) in pieces {
        tail[at - low..at - low + bytes.len()].copy_from_slice(&bytes);
    }
    Ok(Packed {
        heads,
        tail,
        tail_at: low,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Narrow, Wide};
    use mpr_abi::{NETRESOURCEA, NETRESOURCEW};

    fn entry(local: Option<&str>, remote: &str) -> Entry {
        Entry {
            scope: 1,
            r#type: 1,
            display_type: 3,
            usage: 1,
            strings: [
                local.map(str::to_string),
                Some(remote.to_string()),
                None,
                Some("Acme Network".to_string()),
            ],
        }
    }

    /// Reads a NUL-terminated UTF-16 string out of `buf` at pointer `p`.
    fn wide_at(buf: &[u8], base: *const u8, p: *const u16) -> String {
        let mut at = p.addr() - base.addr();
        let mut units = Vec::new();
        loop {
            let u = u16::from_ne_bytes([buf[at], buf[at + 1]]);
            if u == 0 {
                break;
            }
            units.push(u);
            at += 2;
        }
        String::from_utf16(&units).unwrap()
    }

    #[test]
    fn structures_first_strings_from_the_end() {
        let entries = [entry(Some("Z:"), r"\\acme\a"), entry(None, r"\\acme\b")];
        let mut buf = vec![0u64; 64]; // 512 bytes, 8-aligned
        let base = buf.as_mut_ptr().cast::<u8>();
        let p = layout::<Wide>(&entries, base, 512, usize::MAX).unwrap();
        assert_eq!(p.count(), 2);
        // SAFETY: `base` is `buf`, 512 bytes.
        unsafe { p.write(base) };
        // SAFETY: 512 initialised bytes of `buf`.
        let bytes = unsafe { std::slice::from_raw_parts(base, 512) }.to_vec();
        // SAFETY: the first two structures were written at the aligned start.
        let nr = unsafe { std::ptr::read(base.cast::<[NETRESOURCEW; 2]>()) };
        assert_eq!(nr[0].dwScope, 1);
        assert_eq!(nr[0].dwDisplayType, 3);
        assert_eq!(wide_at(&bytes, base, nr[0].lpLocalName), "Z:");
        assert_eq!(wide_at(&bytes, base, nr[0].lpRemoteName), r"\\acme\a");
        assert_eq!(wide_at(&bytes, base, nr[1].lpProvider), "Acme Network");
        assert!(nr[1].lpLocalName.is_null(), "deviceless: NULL local name");
        assert!(nr[0].lpComment.is_null());
        // Every string lies after both structures, inside the buffer.
        for n in &nr {
            for q in [n.lpRemoteName, n.lpProvider] {
                let off = q.addr() - base.addr();
                assert!((2 * size_of::<NETRESOURCEW>()..512).contains(&off));
                assert_eq!(off % 2, 0);
            }
        }
    }

    #[test]
    fn delivers_what_fits_and_reports_the_size_of_one() {
        let entries = [
            entry(Some("Z:"), r"\\acme\a"),
            entry(Some("Y:"), r"\\acme\b"),
        ];
        let one = entries[0].size::<Wide>();
        assert_eq!(one, 48 + 2 * (3 + 9 + 13));
        let mut buf = vec![0u64; 64];
        let base = buf.as_mut_ptr().cast::<u8>();
        assert_eq!(layout::<Wide>(&entries, base, one - 1, 9).unwrap_err(), one);
        assert_eq!(layout::<Wide>(&entries, base, one, 9).unwrap().count(), 1);
        assert_eq!(
            layout::<Wide>(&entries, base, 2 * one, 9).unwrap().count(),
            2
        );
        assert_eq!(
            layout::<Wide>(&entries, base, 2 * one, 1).unwrap().count(),
            1
        );
        // An odd end address loses one byte to alignment.
        assert_eq!(
            layout::<Wide>(&entries, base, one + 1, 9).unwrap().count(),
            1
        );
    }

    #[test]
    fn narrow_strings_are_bytes() {
        let entries = [entry(Some("Z:"), r"\\acme\é")];
        let one = entries[0].size::<Narrow>();
        assert_eq!(one, 48 + 3 + 10 + 13);
        let mut buf = vec![0u64; 16];
        let base = buf.as_mut_ptr().cast::<u8>();
        let p = layout::<Narrow>(&entries, base, one, 9).unwrap();
        // SAFETY: `buf` holds 128 >= `one` bytes.
        unsafe { p.write(base) };
        // SAFETY: the structure was written at the aligned start.
        let nr = unsafe { std::ptr::read(base.cast::<NETRESOURCEA>()) };
        // SAFETY: the packed string is NUL-terminated inside `buf`.
        let remote = unsafe { std::ffi::CStr::from_ptr(nr.lpRemoteName) };
        assert_eq!(remote.to_str().unwrap(), r"\\acme\é");
        assert_eq!(nr.lpLocalName.addr() + 3, base.addr() + one);
    }
}
