/*!
The two things every side of mpr's C boundary shares, and nothing else:

- [`WnError`]: a failed WNet status, one variant per `WN_*` code, mapping
  1:1 onto the code ([`status_name`] names any status, success included);
- [`lasterror`]: the per-thread extended error that `WNetSetLastError`
  stores and `WNetGetLastError` reads.

They live apart from the router (`mpr-core`, which re-exports them) so that
a library built with `mpr-sdk` links neither the router nor anything that
exports symbols of the host: a notifyee depends on this crate, `mpr-abi`
and `mpr-ffi` only.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod lasterror;

pub use error::{WnError, status_name};
