//! The agent's record of the connections it is repairing:
//! `<runtime dir>/agent.toml`.
//!
//! `mpr agent` writes it whenever what it repairs changes, and the listing
//! ([`crate::router::Router::connections`]) merges it: a connection the
//! agent is repairing shows as `Reconnecting`, with the reason and the next
//! attempt, instead of `Unavailable` or `Remembered`. The record names the
//! agent that wrote it by pid and start time; when that process is gone
//! (killed, crashed, or a pid reused since), the record is ignored, so a
//! dead agent never leaves a lie behind. A missing or unreadable record is
//! no record: the listing never fails because of it.
//!
//! Written atomically, mode 0600, in the runtime directory (which ends with
//! the session). It holds names, reasons and times, never a password.
//!
//! ```
//! use mpr_core::repairs::{AgentId, Repair};
//! use mpr_core::state::Store;
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::new(dir.path().join("state"), dir.path().join("run"));
//! let me = AgentId::current().unwrap();
//! let r = Repair {
//!     local: "Z:".into(),
//!     remote: r"\\h\s".into(),
//!     provider: "sftp".into(),
//!     reason: "h refused the connection".into(),
//!     next_attempt: Some(1_800_000_000),
//!     attempts: 2,
//! };
//! store.write_repairs(&me, std::slice::from_ref(&r)).unwrap();
//! assert_eq!(store.repairs(), vec![r]);
//! store.clear_repairs(&me);
//! assert!(store.repairs().is_empty());
//! ```

use crate::WnError;
use crate::lasterror;
use crate::state::{Store, atomic_write, ensure_private_dir, process_stat};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One connection the agent is repairing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    /// The local name.
    pub local: String,
    /// The remote name.
    pub remote: String,
    /// The provider key.
    pub provider: String,
    /// Why it is not connected: what made it dead, or why the last
    /// attempt failed.
    pub reason: String,
    /// When the next attempt starts, seconds since the epoch; `None`
    /// while an attempt runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<u64>,
    /// The attempts that failed so far.
    #[serde(default)]
    pub attempts: u32,
}

/// The process that wrote a record: its pid and its start time (clock
/// ticks since boot), so that a pid reused by another process is not taken
/// for the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentId {
    /// The process id.
    pub pid: u32,
    /// When it started (field 22 of `/proc/PID/stat`).
    pub start: u64,
}

impl AgentId {
    /// This process (`None` only when `/proc` cannot be read).
    pub fn current() -> Option<AgentId> {
        let pid = std::process::id();
        Some(AgentId {
            pid,
            start: process_stat(pid)?.1,
        })
    }

    /// Whether the process still runs (the same process, and not a
    /// zombie waiting to be reaped).
    pub fn is_alive(&self) -> bool {
        matches!(process_stat(self.pid), Some((state, start))
            if start == self.start && state != 'Z' && state != 'X')
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RepairsFile {
    agent: Option<AgentId>,
    #[serde(default)]
    connection: Vec<Repair>,
}

impl Store {
    /// `<runtime dir>/agent.toml`.
    pub fn repairs_path(&self) -> PathBuf {
        self.runtime_dir().join("agent.toml")
    }

    /// Replaces the record with `repairs`, written by `agent`. A memory
    /// store keeps no record.
    pub fn write_repairs(&self, agent: &AgentId, repairs: &[Repair]) -> Result<(), WnError> {
        if self.is_memory() {
            return Ok(());
        }
        let path = self.repairs_path();
        let io_err = |what: &str, e: &dyn std::fmt::Display| {
            lasterror::set(
                WnError::CannotOpenProfile.code(),
                format!("cannot {what} {}: {e}", path.display()),
                "mpr",
            );
            WnError::CannotOpenProfile
        };
        ensure_private_dir(self.runtime_dir())
            .map_err(|e| io_err("create the directory of", &e))?;
        let file = RepairsFile {
            agent: Some(*agent),
            connection: repairs.to_vec(),
        };
        let text = toml::to_string(&file).map_err(|e| io_err("serialise", &e))?;
        atomic_write(&path, text.as_bytes(), 0o600).map_err(|e| io_err("write", &e))
    }

    /// Removes the record if `agent` wrote it (an agent that stops takes
    /// its record with it; another agent's is left alone).
    pub fn clear_repairs(&self, agent: &AgentId) {
        if self.read_repairs().and_then(|f| f.agent) == Some(*agent) {
            let _ = std::fs::remove_file(self.repairs_path());
        }
    }

    /// The connections a running agent is repairing: empty when there is
    /// no record, when it cannot be read, or when the agent that wrote it
    /// is gone.
    pub fn repairs(&self) -> Vec<Repair> {
        match self.read_repairs() {
            Some(RepairsFile {
                agent: Some(a),
                connection,
            }) if a.is_alive() => connection,
            _ => Vec::new(),
        }
    }

    fn read_repairs(&self) -> Option<RepairsFile> {
        if self.is_memory() {
            return None;
        }
        let text = crate::files::read_regular_to_string(&self.repairs_path()).ok()?;
        toml::from_str(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn repair(local: &str) -> Repair {
        Repair {
            local: local.into(),
            remote: r"\\h\s".into(),
            provider: "p".into(),
            reason: "gone".into(),
            next_attempt: None,
            attempts: 0,
        }
    }

    #[test]
    fn a_record_is_private_and_read_back_while_its_agent_lives() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("state"), d.path().join("run"));
        assert!(s.repairs().is_empty(), "no record");
        let me = AgentId::current().unwrap();
        assert!(me.is_alive());
        s.write_repairs(&me, &[repair("Z:"), repair("Y:")]).unwrap();
        let mode = std::fs::metadata(s.repairs_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(s.repairs().len(), 2);
        // Another agent's record is not removed by this one.
        let other = AgentId {
            pid: me.pid,
            start: me.start + 1,
        };
        s.clear_repairs(&other);
        assert_eq!(s.repairs().len(), 2);
        s.clear_repairs(&me);
        assert!(!s.repairs_path().exists());
    }

    #[test]
    fn the_record_of_a_gone_agent_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("state"), d.path().join("run"));
        let me = AgentId::current().unwrap();
        // The same pid with another start time: a reused pid.
        let reused = AgentId {
            pid: me.pid,
            start: me.start + 1,
        };
        s.write_repairs(&reused, &[repair("Z:")]).unwrap();
        assert!(s.repairs().is_empty());
        // A pid that does not run.
        let dead = AgentId {
            pid: u32::MAX - 1,
            start: 1,
        };
        s.write_repairs(&dead, &[repair("Z:")]).unwrap();
        assert!(s.repairs().is_empty());
        // A corrupt record is no record.
        std::fs::write(s.repairs_path(), "agent = [").unwrap();
        assert!(s.repairs().is_empty());
        // A memory store keeps none.
        let m = Store::memory();
        m.write_repairs(&me, &[repair("Z:")]).unwrap();
        assert!(m.repairs().is_empty());
    }
}
