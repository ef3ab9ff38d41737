/*!
The unsafe primitives every C boundary of mpr shares, kept small and tested:

- [`wide`]: reading a NUL-terminated UTF-16 string from C with a length cap,
  and making one for C;
- [`buffer`]: the caller-buffer protocol (`WN_MORE_DATA` plus the required
  size in characters, the size untouched on success);
- [`ffi_boundary!`]: runs an export body under `catch_unwind`, so that no
  panic ever unwinds into C;
- the exports `WNetSetLastErrorW` / `WNetSetLastErrorA`, which providers call
  to report an extended error (see [`mpr_core::lasterror`]).

**Decision (one place):** a UTF-16 string with a lone surrogate is rejected
with `WN_BAD_VALUE`; names are never carried as raw `u16` inside the router.
*/
#![deny(missing_docs)]

use mpr_abi::{DWORD, LPSTR, LPWSTR};

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

/// `WNetSetLastErrorW(err, lpError, lpProviders)`: a provider stores an
/// extended error for the calling thread.
///
/// # Safety
///
/// `lp_error` and `lp_providers` are NULL or NUL-terminated UTF-16 strings
/// readable up to their terminator (npapi.h contract).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetSetLastErrorW(
    err: DWORD,
    lp_error: LPWSTR,
    lp_providers: LPWSTR,
) {
    ffi_boundary!((), {
        // SAFETY: the caller passes NULL or terminated strings (npapi.h);
        // the reader stops at the cap.
        let text = unsafe { wide::read(lp_error, wide::MAX_TEXT_UNITS) }
            .ok()
            .flatten()
            .unwrap_or_default();
        // SAFETY: as above.
        let provider = unsafe { wide::read(lp_providers, wide::MAX_TEXT_UNITS) }
            .ok()
            .flatten()
            .unwrap_or_default();
        mpr_core::lasterror::set(err, text, provider);
    })
}

/// `WNetSetLastErrorA(err, lpError, lpProviders)`, with UTF-8 strings.
///
/// # Safety
///
/// `lp_error` and `lp_providers` are NULL or NUL-terminated byte strings.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WNetSetLastErrorA(err: DWORD, lp_error: LPSTR, lp_providers: LPSTR) {
    ffi_boundary!((), {
        // SAFETY: the caller passes NULL or terminated strings.
        let text = unsafe { wide::read_narrow(lp_error, wide::MAX_TEXT_UNITS) }
            .ok()
            .flatten()
            .unwrap_or_default();
        // SAFETY: as above.
        let provider = unsafe { wide::read_narrow(lp_providers, wide::MAX_TEXT_UNITS) }
            .ok()
            .flatten()
            .unwrap_or_default();
        mpr_core::lasterror::set(err, text, provider);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_last_error_w_stores_per_thread() {
        let mut text = wide::to_wide("disk on fire");
        let mut prov = wide::to_wide("acme");
        // SAFETY: both buffers are terminated and live across the call.
        unsafe { WNetSetLastErrorW(1234, text.as_mut_ptr(), prov.as_mut_ptr()) };
        let e = mpr_core::lasterror::get().unwrap();
        assert_eq!(
            (e.code, e.text.as_str(), e.provider.as_str()),
            (1234, "disk on fire", "acme")
        );
        // SAFETY: NULL strings are allowed.
        unsafe { WNetSetLastErrorW(5, std::ptr::null_mut(), std::ptr::null_mut()) };
        assert_eq!(mpr_core::lasterror::get().unwrap().text, "");
    }

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
