//! The process-wide router, built once on first use (as mpr.dll loads its
//! providers and notifyees when it starts), and the per-call helpers that
//! record the detail of a failure for `WNetGetLastError`.

use mpr_abi::{DWORD, WN_SUCCESS};
use mpr_core::router::Router;
use mpr_core::{WnError, lasterror};
use mpr_setup::{Assembled, Load, SetupError};
use std::sync::OnceLock;

/// Why the router could not be built: the code every call returns, and the
/// message it leaves in the extended error.
#[derive(Debug)]
struct SetupFailure {
    code: WnError,
    message: String,
}

static ROUTER: OnceLock<Result<Router, SetupFailure>> = OnceLock::new();

/// The code a setup error gives: a malformed `mpr.toml` is a bad "profile"
/// (`WN_BAD_PROFILE`); an unusable environment (no `HOME`, an unsafe runtime
/// directory) means the state cannot be opened (`WN_CANNOT_OPEN_PROFILE`).
fn setup_code(e: &SetupError) -> WnError {
    match e {
        SetupError::Environment(_) => WnError::CannotOpenProfile,
        _ => WnError::BadProfile,
    }
}

fn build() -> Result<Router, SetupFailure> {
    match mpr_setup::router_from_env(Load { notifyees: true }) {
        Ok(Assembled { router, warnings }) => {
            for w in warnings {
                eprintln!("libmpr: warning: {w}");
            }
            Ok(router)
        }
        Err(e) => {
            let message = e.to_string();
            eprintln!("libmpr: {message}; every WNet call fails until the program restarts");
            Err(SetupFailure {
                code: setup_code(&e),
                message,
            })
        }
    }
}

/// The router of this process. A setup failure is kept (the configuration
/// is read once per process) and reported by every call, with its message
/// in the extended error.
pub(crate) fn router() -> Result<&'static Router, WnError> {
    match ROUTER.get_or_init(build) {
        Ok(r) => Ok(r),
        Err(f) => {
            lasterror::set(f.code.code(), f.message.clone(), "mpr");
            Err(f.code)
        }
    }
}

/// Rejects a call in the API layer: records `text` as the extended error
/// and returns the code.
pub(crate) fn reject(e: WnError, text: impl Into<String>) -> DWORD {
    lasterror::set(e.code(), text, "mpr");
    e.code()
}

/// The status of a router result (the router has recorded the detail).
pub(crate) fn status<T>(r: Result<T, WnError>) -> DWORD {
    r.map_or_else(WnError::code, |_| WN_SUCCESS)
}

/// The fallback of every export when a panic was stopped at the boundary.
pub(crate) fn panicked() -> DWORD {
    lasterror::set(
        mpr_abi::WN_WINDOWS_ERROR,
        "internal error in libmpr (a panic was stopped at the C boundary)",
        "mpr",
    );
    mpr_abi::WN_WINDOWS_ERROR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_errors_have_profile_codes() {
        let e = SetupError::Environment("no HOME".into());
        assert_eq!(setup_code(&e), WnError::CannotOpenProfile);
    }

    #[test]
    fn reject_records_the_detail() {
        assert_eq!(reject(WnError::BadValue, "lpNetResource is NULL"), 87);
        let d = lasterror::get().unwrap();
        assert_eq!(
            (d.code, d.text.as_str(), d.provider.as_str()),
            (87, "lpNetResource is NULL", "mpr")
        );
        assert_eq!(status::<()>(Err(WnError::NotConnected)), 2250);
        assert_eq!(status(Ok(1)), 0);
    }
}
