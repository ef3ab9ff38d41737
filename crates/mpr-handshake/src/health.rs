//! The health of a mount, as its server knows it, published in a small
//! JSON file that the router reads instead of guessing from `stat` (a read
//! of a file in the runtime directory never hangs, whatever state the mount
//! is in). The server rewrites it atomically on every change, and marks it
//! fresh (its modification time) every [`HEARTBEAT`], so that a server that
//! is stopped or stuck shows as such after [`STALE_AFTER`] without anyone
//! touching its mount.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How often a server marks its health file fresh, whatever its health.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// A health file not marked for this long belongs to a server that does
/// not run any more as it should (stopped, stuck).
pub const STALE_AFTER: Duration = Duration::from_secs(5);

/// Marks the health file at `path` fresh (if it exists: a server that is
/// exiting removed it on purpose).
pub fn touch(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_modified(SystemTime::now())
}

/// How long ago the health file at `path` was last written or marked
/// fresh; `None` if there is none.
pub fn age(path: &Path) -> Option<Duration> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(SystemTime::now().duration_since(m).unwrap_or_default())
}

/// What a mount's server says about its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// Connected and answering.
    Ok,
    /// The session was lost; the server is re-establishing it.
    Reconnecting {
        /// Why the session was lost (the last error).
        reason: String,
        /// When the next attempt starts, seconds since the epoch.
        next_attempt: u64,
    },
    /// The server gives up for now: every request fails (the share is
    /// gone, the password is no longer accepted).
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl Health {
    /// Writes `self` to `path` atomically (a temporary beside it, then a
    /// rename), mode 0600.
    pub fn publish(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        f.write_all(text.as_bytes())?;
        drop(f);
        std::fs::rename(&tmp, path)
    }

    /// Reads what a server published; `None` if nothing (or nothing
    /// readable) is there.
    pub fn read(path: &Path) -> Option<Health> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_round_trips_through_its_file() {
        let dir = std::env::temp_dir().join(format!("mpr-fs-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.json");
        assert_eq!(Health::read(&path), None);
        let h = Health::Reconnecting {
            reason: "connection reset".into(),
            next_attempt: 17,
        };
        h.publish(&path).unwrap();
        assert_eq!(Health::read(&path), Some(h.clone()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""state":"reconnecting""#), "{text}");
        assert!(age(&path).unwrap() < STALE_AFTER);
        let old = SystemTime::now() - 2 * STALE_AFTER;
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(age(&path).unwrap() >= STALE_AFTER);
        touch(&path).unwrap();
        assert!(age(&path).unwrap() < STALE_AFTER);
        assert_eq!(Health::read(&path), Some(h), "touching keeps the content");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
