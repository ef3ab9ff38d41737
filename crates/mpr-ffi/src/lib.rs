/*!
The unsafe primitives every C boundary of mpr shares, kept small and tested:

- [`wide`]: reading a NUL-terminated UTF-16 string from C with a length cap,
  and making one for C;
- [`buffer`]: the caller-buffer protocol (`WN_MORE_DATA` plus the required
  size in characters, the size untouched on success);
- [`ffi_boundary!`]: runs an export body under `catch_unwind`, so that no
  panic ever unwinds into C.

This crate exports no symbol of its own: a library built with `mpr-sdk`
links it, and must export only what its author declared. The host's
exports that providers call back (`WNetSetLastErrorW`/`A`) are
`mpr-loader`'s.

**Decision (one place):** a UTF-16 string with a lone surrogate is rejected
with `WN_BAD_VALUE`; names are never carried as raw `u16` inside the router.
*/
#![deny(missing_docs)]

pub mod buffer;
pub mod wide;

/// Runs `body` (an expression of type `DWORD`) and turns a panic into
/// `$fallback`, with a line on stderr. No panic crosses into C.
#[macro_export]
macro_rules! ffi_boundary {
    ($fallback:expr, $body:expr) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => {
                eprintln!("mpr: internal error: a panic was stopped at the C boundary");
                $fallback
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    #[test]
    fn boundary_stops_panics() {
        let v: u32 = ffi_boundary!(59, {
            if std::hint::black_box(true) {
                panic!("boom")
            }
            0
        });
        assert_eq!(v, 59);
    }
}
