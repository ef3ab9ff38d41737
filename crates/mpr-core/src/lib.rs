/*!
The mpr router: everything between a WNet request and the providers that
serve it, with no `unsafe` and no knowledge of C.

# Overview

- [`names`]: remote names (`\\server\share`, URLs) and local names (`Z:`, a
  directory), validated and normalised (spec §4).
- [`config`]: `mpr.toml`, provider order and notifyee registration (§3).
- [`registration`]: adding and removing a notifyee in the text of
  `mpr.toml`, comments and layout kept.
- [`trust`]: the checks a plugin file passes before it is loaded (§3).
- [`plugin`]: the traits [`plugin::NetworkProvider`] and
  [`plugin::ConnectNotifier`] that built-in providers and the loader's
  wrappers implement.
- [`router`]: the operations (add, cancel, get, enumerate, restore), provider
  selection and error precedence (§6), connection notifications (§7).
- [`state`]: remembered and live connections, written atomically (§8).
- [`repairs`]: what `mpr agent` is repairing, which the listing merges.
- [`event`]: the typed events the router hands its observers, and the
  journal's record schema.
- [`journal`]: the audit journal, an observer of those events (a file,
  the system journal, or both).
- [`lasterror`]: the per-thread extended error (`WNetGetLastError`), and
  [`WnError`], one variant per `WN_*` code: both are `mpr-error`'s,
  re-exported here.

The core never reads the environment: the caller resolves directories into
[`router::RouterParts`] and loads plugins into slots.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod event;
pub mod files;
pub mod journal;
pub mod names;
pub mod plugin;
pub mod prefixes;
pub mod registration;
pub mod repairs;
pub mod router;
pub mod state;
pub mod trust;

pub use journal::Journal;
pub use mpr_error::{WnError, lasterror, status_name};
