//! `policy`: a notifyee that vetoes connections to servers that are not in
//! an allowlist.
//!
//! In the PRE of every add it reads the allowlist (so edits apply at once)
//! and looks for the server of the remote name (`server` in
//! `\\server\share`, `\\server@8443\dav`, `//server/share` or
//! `scheme://user@server:port/...`, see [`mpr_sdk::server_of`]):
//!
//! - listed: the operation goes on;
//! - not listed, or no server at all: veto with `WN_ACCESS_DENIED` (5);
//! - the allowlist cannot be read: veto with `WN_CANCEL` (1223). It fails
//!   closed: a missing list allows nothing.
//!
//! Cancels are never vetoed (a user can always disconnect). It keeps no
//! context, so mpr sends it no POST.
//!
//! The allowlist is the file named by `$MPR_POLICY_ALLOWLIST`, else
//! `/etc/mpr/allowed-servers`. One entry per line: a server name
//! (compared ASCII case-insensitively), `*.example.com` (any server ending
//! in `.example.com`), or `*` (every server). Blank lines and `#` comments
//! are ignored. A veto is explained on standard error.
//!
//! Build: `cargo build --release -p mpr-sdk --example mpr_policy`, then
//! register `target/release/examples/libmpr_policy.so` (copied to a
//! root-owned directory) with `mpr notifyee add policy PATH`.

use mpr_sdk::{AddInfo, Notifyee, Pre, WnError};
use std::path::PathBuf;

/// Where the allowlist is when `$MPR_POLICY_ALLOWLIST` is not set.
const DEFAULT_ALLOWLIST: &str = "/etc/mpr/allowed-servers";

/// The notifyee. It has no state: the list is read at every PRE.
#[derive(Debug, Default)]
struct Policy;

fn allowlist_path() -> PathBuf {
    std::env::var_os("MPR_POLICY_ALLOWLIST")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_ALLOWLIST), PathBuf::from)
}

/// Whether `entry` (one line of the list) allows `server`.
fn allows(entry: &str, server: &str) -> bool {
    match entry.strip_prefix('*') {
        Some("") => true,
        Some(suffix) if suffix.starts_with('.') => {
            server.len() > suffix.len()
                && server.as_bytes()[server.len() - suffix.len()..]
                    .eq_ignore_ascii_case(suffix.as_bytes())
        }
        _ => entry.eq_ignore_ascii_case(server),
    }
}

impl Notifyee for Policy {
    type Context = ();

    fn add_pre(&self, add: &AddInfo, _retrying: bool) -> Pre<()> {
        let path = allowlist_path();
        let remote = add.remote.as_deref().unwrap_or("");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "mpr policy: cannot read the allowlist {}: {e}; refusing {remote}",
                    path.display()
                );
                return Pre::veto(WnError::Cancel);
            }
        };
        let Some(server) = add.server() else {
            eprintln!("mpr policy: {remote} names no server; refused");
            return Pre::veto(WnError::AccessDenied);
        };
        let listed = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .any(|entry| allows(entry, server));
        if listed {
            Pre::proceed()
        } else {
            eprintln!(
                "mpr policy: server {server} is not in {}; {remote} refused",
                path.display()
            );
            Pre::veto(WnError::AccessDenied)
        }
    }
}

mpr_sdk::export_notifyee!(Policy);
