//! The functions a plugin calls back into its host: `WNetSetLastErrorW` /
//! `WNetSetLastErrorA`, with which a provider reports an extended error
//! (npapi.h), as a Windows provider calls them in mpr.dll.
//!
//! They live in the plugin host, the crate every program that loads
//! plugins links (the `mpr` binary, `mpr-notifyee-host`, libmpr.so), and
//! not in `mpr-ffi`, which plugin libraries built with `mpr-sdk` link too:
//! a notifyee must not export the host's symbols. A `cdylib` exports the
//! `#[no_mangle]` functions of every crate it links, so libmpr.so has them;
//! the `mpr` binaries keep them with the link arguments of `mpr-cli`'s build
//! script.

use mpr_abi::{DWORD, LPSTR, LPWSTR};
use mpr_error::lasterror;
use mpr_ffi::{ffi_boundary, wide};

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
        lasterror::set(err, text, provider);
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
        lasterror::set(err, text, provider);
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
        let e = lasterror::get().unwrap();
        assert_eq!(
            (e.code, e.text.as_str(), e.provider.as_str()),
            (1234, "disk on fire", "acme")
        );
        // SAFETY: NULL strings are allowed.
        unsafe { WNetSetLastErrorW(5, std::ptr::null_mut(), std::ptr::null_mut()) };
        assert_eq!(lasterror::get().unwrap().text, "");
    }

    #[test]
    fn set_last_error_a_stores_per_thread() {
        let text = c"narrow text";
        let prov = c"acme";
        // SAFETY: both strings are terminated and live across the call.
        unsafe { WNetSetLastErrorA(7, text.as_ptr().cast_mut(), prov.as_ptr().cast_mut()) };
        let e = lasterror::get().unwrap();
        assert_eq!(
            (e.code, e.text.as_str(), e.provider.as_str()),
            (7, "narrow text", "acme")
        );
    }
}
