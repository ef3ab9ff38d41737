//! What the router knows about connections: the health of a live one,
//! `WNetGetConnection`, and the `net use` listing of live and remembered
//! connections.

use super::cycle::{Ask, first_taker};
use super::{Router, fail};
use crate::WnError;
use crate::lasterror;
use crate::names::{LocalName, RemoteName};
use crate::state::{Live, Remembered};
use mpr_abi as abi;
use std::fmt;
use std::path::PathBuf;

/// The health of a live connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Connected and answering.
    Ok,
    /// The session was lost and is being re-established underneath the
    /// mount; operations wait (within their bound) meanwhile.
    Reconnecting {
        /// Why the session was lost.
        reason: String,
        /// When the next attempt starts, seconds since the epoch.
        next_attempt: Option<u64>,
    },
    /// In the table, but the provider says it is gone or failing.
    Unavailable {
        /// Why, when the provider knows.
        reason: Option<String>,
    },
}

impl Health {
    /// Whether the connection is still there (OK, or healing itself):
    /// not to be cleared, restored or repaired.
    pub fn is_live(&self) -> bool {
        !matches!(self, Health::Unavailable { .. })
    }
}

/// The state a listed connection is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Connected and answering.
    Ok,
    /// Connected, and its session is being re-established underneath
    /// the mount; or `mpr agent` is making it again (it died, or could
    /// not be restored yet).
    Reconnecting,
    /// In the table, but gone (its mount or helper died) or failing.
    Unavailable,
    /// Remembered, not connected.
    Remembered,
}

impl ConnState {
    /// `OK`, `Reconnecting`, `Unavailable` or `Remembered`, as `net use`
    /// prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Ok => "OK",
            ConnState::Reconnecting => "Reconnecting",
            ConnState::Unavailable => "Unavailable",
            ConnState::Remembered => "Remembered",
        }
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&Health> for ConnState {
    fn from(h: &Health) -> ConnState {
        match h {
            Health::Ok => ConnState::Ok,
            Health::Reconnecting { .. } => ConnState::Reconnecting,
            Health::Unavailable { .. } => ConnState::Unavailable,
        }
    }
}

/// One line of `net use`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// Connected, gone, or only remembered.
    pub status: ConnState,
    /// The local name, empty when deviceless.
    pub local: String,
    /// The remote name.
    pub remote: String,
    /// The provider key.
    pub provider: String,
    /// The provider display name.
    pub provider_name: String,
    /// The user name, empty for the default.
    pub user: String,
    /// The directory, when known.
    pub directory: String,
    /// Whether it is remembered.
    pub remembered: bool,
    /// Why it is reconnecting or unavailable, when the provider says.
    pub reason: Option<String>,
    /// When a reconnecting connection's next attempt starts, seconds
    /// since the epoch.
    pub next_attempt: Option<u64>,
}

impl Router {
    /// Asks the provider of a live connection whether it still holds it.
    /// A provider library without `NPGetConnection` is taken at its word,
    /// and so is one holding a deviceless connection (it cannot be asked
    /// about one: `NPGetConnection` takes a local name).
    pub(super) fn health(&self, e: &Live) -> Health {
        let Some(p) = self.provider_by_key(&e.provider) else {
            return Health::Unavailable {
                reason: Some(format!("no provider {:?} is configured", e.provider)),
            };
        };
        if p.connection_caps() & abi::WNNC_CON_GETCONNECTIONS == 0 {
            return Health::Ok;
        }
        if e.local.is_empty() && !p.origin().is_builtin() {
            return Health::Ok;
        }
        let dir = (!e.directory.is_empty()).then(|| PathBuf::from(&e.directory));
        p.health(&e.local, dir.as_deref())
    }

    /// `WNetGetConnection`: the remote name behind a local name.
    pub fn get_connection(&self, local: &str) -> Result<String, WnError> {
        lasterror::clear();
        self.sweep();
        let key = match LocalName::parse(local) {
            Ok(Some(l)) => l.display(),
            Ok(None) => return fail(WnError::BadLocalName, "no local name was given"),
            Err(e) => return fail(e, format!("{local:?} is not a valid local name")),
        };
        if let Some(e) = self
            .store
            .live()?
            .into_iter()
            .find(|e| e.is_committed() && e.local == key)
        {
            return match self.health(&e) {
                Health::Ok | Health::Reconnecting { .. } => Ok(e.remote),
                Health::Unavailable { reason } => fail(
                    WnError::ConnectionClosed,
                    format!(
                        "{key} is connected to {} but the connection is not available{}",
                        e.remote,
                        reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                ),
            };
        }
        if let Some(r) = self
            .store
            .remembered()?
            .into_iter()
            .find(|r| r.local == key)
        {
            return fail(
                WnError::ConnectionClosed,
                format!(
                    "{key} is remembered as {} but not connected (try `mpr restore {key}`)",
                    r.remote
                ),
            );
        }
        // Provider libraries may hold connections the table does not know.
        let askable = self.ready_providers().filter(|p| {
            p.connection_caps() & abi::WNNC_CON_GETCONNECTIONS != 0 && !p.origin().is_builtin()
        });
        match first_taker(askable, Ask::Get, |p| p.get_connection(&key, None)) {
            Ok((_, remote)) => Ok(remote),
            Err(n) if n.error == WnError::NotConnected => {
                fail(n.error, format!("{key} is not connected"))
            }
            Err(n) => Err(n.error),
        }
    }

    /// The live connections with their health, then the remembered ones that
    /// are not live (`net use`). A connection that `mpr agent` is repairing
    /// (its record, [`crate::repairs`], written by an agent that still runs)
    /// is `Reconnecting`, with the agent's reason and next attempt, where
    /// the providers alone would say `Unavailable` or `Remembered`.
    pub fn connections(&self) -> Result<Vec<ConnectionStatus>, WnError> {
        let mut out = self.probe_connections()?;
        let repairs = self.store.repairs();
        for c in &mut out {
            let repairing = matches!(c.status, ConnState::Unavailable | ConnState::Remembered)
                && !c.local.is_empty();
            if let Some(r) = repairs.iter().find(|r| {
                repairing && r.local == c.local && r.remote.eq_ignore_ascii_case(&c.remote)
            }) {
                c.status = ConnState::Reconnecting;
                c.reason = Some(r.reason.clone());
                c.next_attempt = r.next_attempt;
            }
        }
        Ok(out)
    }

    /// The listing as the providers answer it, without the agent's record:
    /// what the agent itself watches. The live connections are asked in
    /// parallel, so a listing waits for at most one mount's bound however
    /// many mounts hang.
    pub fn probe_connections(&self) -> Result<Vec<ConnectionStatus>, WnError> {
        lasterror::clear();
        self.sweep();
        let live = self.store.live()?;
        let remembered = self.store.remembered()?;
        let committed: Vec<&Live> = live.iter().filter(|e| e.is_committed()).collect();
        let healths: Vec<Health> = std::thread::scope(|s| {
            let asked: Vec<_> = committed
                .iter()
                .map(|e| s.spawn(move || self.health(e)))
                .collect();
            asked
                .into_iter()
                .map(|h| h.join().expect("a health probe panicked"))
                .collect()
        });
        let mut out = Vec::new();
        for (e, health) in committed.into_iter().zip(healths) {
            let (reason, next_attempt) = match &health {
                Health::Ok => (None, None),
                Health::Reconnecting {
                    reason,
                    next_attempt,
                } => (Some(reason.clone()), *next_attempt),
                Health::Unavailable { reason } => (reason.clone(), None),
            };
            out.push(ConnectionStatus {
                status: (&health).into(),
                reason,
                next_attempt,
                local: e.local.clone(),
                remote: e.remote.clone(),
                provider: e.provider.clone(),
                provider_name: self.provider_display(&e.provider),
                user: e.user.clone(),
                directory: e.directory.clone(),
                remembered: remembered
                    .iter()
                    .any(|r| !e.local.is_empty() && r.local == e.local),
            });
        }
        for r in remembered {
            if !live.iter().any(|e| e.is_committed() && e.local == r.local) {
                out.push(self.remembered_status(r));
            }
        }
        Ok(out)
    }

    /// The remembered connections (`HKCU\Network`), connected or not, in
    /// the order they were remembered, each with its provider's display
    /// name: what `WNetOpenEnum(RESOURCE_REMEMBERED)` lists. `status` is
    /// [`ConnState::Remembered`] and `directory` is empty.
    pub fn remembered_connections(&self) -> Result<Vec<ConnectionStatus>, WnError> {
        lasterror::clear();
        Ok(self
            .store
            .remembered()?
            .into_iter()
            .map(|r| self.remembered_status(r))
            .collect())
    }

    fn remembered_status(&self, r: Remembered) -> ConnectionStatus {
        ConnectionStatus {
            status: ConnState::Remembered,
            provider_name: self.provider_display(&r.provider),
            local: r.local,
            remote: r.remote,
            provider: r.provider,
            user: r.user,
            directory: String::new(),
            remembered: true,
            reason: None,
            next_attempt: None,
        }
    }

    /// The access name an add of `remote` to `local` reports
    /// ([`super::AddOutcome::access_name`]: the local name, or the
    /// directory of a deviceless connection), worked out without
    /// connecting, so that `WNetUseConnection` can check the caller's
    /// buffer first. `None` when a name does not validate (the add then
    /// says why). A drive picked by `CONNECT_REDIRECT` is not known in
    /// advance; it is always two characters (`Z:`).
    pub fn access_name(&self, local: Option<&str>, remote: &str) -> Option<String> {
        let remote = RemoteName::parse(remote).ok()?;
        Some(match LocalName::parse(local.unwrap_or("")).ok()? {
            Some(l) => l.display(),
            None => self.directory_for(None, &remote).display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::request::{AddApi, AddRequest};
    use super::super::testkit::World;
    use super::*;

    #[test]
    fn listing_shows_live_then_remembered_only_connections() {
        let w = World::new();
        let persistent = abi::CONNECT_UPDATE_PROFILE;
        w.router
            .add(&AddRequest::new(
                AddApi::Add,
                Some("Z:"),
                r"\\h\s",
                persistent,
            ))
            .unwrap();
        w.router
            .store()
            .update_remembered(|r| {
                r.push(Remembered {
                    local: "Y:".into(),
                    remote: r"\\h\t".into(),
                    provider: "mem".into(),
                    user: String::new(),
                    r#type: abi::RESOURCETYPE_DISK,
                });
            })
            .unwrap();
        let list = w.router.connections().unwrap();
        let states: Vec<(&str, ConnState, bool)> = list
            .iter()
            .map(|c| (c.local.as_str(), c.status, c.remembered))
            .collect();
        assert_eq!(
            states,
            [
                ("Z:", ConnState::Ok, true),
                ("Y:", ConnState::Remembered, true)
            ]
        );
        assert_eq!(list[1].provider_name, "Memory");
    }

    #[test]
    fn get_of_an_unknown_name_is_not_connected_with_a_reason() {
        let w = World::new();
        assert_eq!(
            w.router.get_connection("Q:").unwrap_err(),
            WnError::NotConnected
        );
        assert!(
            lasterror::get()
                .unwrap()
                .text
                .contains("Q: is not connected")
        );
        assert_eq!(
            w.router.get_connection("LPT1").unwrap_err(),
            WnError::BadDevType
        );
    }
}
