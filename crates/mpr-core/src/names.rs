//! Remote and local names (spec §4): parsing, normalisation, validation.
//!
//! The parser is the crate `mpr-names`, re-exported here whole so that the
//! router, the providers and the SDK share one parser: the SDK uses
//! `mpr-names` without linking the router.
//!
//! ```
//! use mpr_core::names::{RemoteName, Scheme};
//! let p = RemoteName::parse("smb://srv/share").unwrap().parts().unwrap();
//! assert_eq!((p.scheme, p.host.as_str()), (Scheme::Smb, "srv"));
//! ```

pub use mpr_names::*;
