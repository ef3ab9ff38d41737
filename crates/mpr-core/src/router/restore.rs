//! Restoring remembered connections (§5, §7.7): each is reconnected
//! through the provider that made it, in parallel, and **without
//! notifications**. A live connection is left alone; a dead one is cleared
//! and made again (a repair).

use super::add::CallSite;
use super::observe::{OpNames, operation};
use super::request::{AddApi, AddRequest};
use super::table::Pick;
use super::{Router, fail, op_id};
use crate::WnError;
use crate::event::OpKind;
use crate::lasterror;
use crate::names::{LocalName, RemoteName};
use crate::state::Remembered;
use mpr_abi as abi;
use std::time::Instant;

/// The result of restoring one remembered connection.
#[derive(Debug, Clone)]
pub struct RestoreResult {
    /// The remembered connection.
    pub entry: Remembered,
    /// `Ok(true)`: reconnected; `Ok(false)`: was already connected.
    pub result: Result<bool, WnError>,
    /// The detail of a failure.
    pub detail: Option<String>,
    /// The operation id its journal records carry.
    pub op_id: String,
}

impl Router {
    /// Reconnects remembered connections (all, or one local name), in
    /// parallel, **without notifications** (§7.7).
    pub fn restore(&self, only: Option<&str>) -> Result<Vec<RestoreResult>, WnError> {
        lasterror::clear();
        self.sweep();
        let mut entries = self.store.remembered()?;
        if let Some(name) = only {
            let key = match LocalName::parse(name) {
                Ok(Some(l)) => l.display(),
                Ok(None) => return fail(WnError::BadLocalName, "no local name was given"),
                Err(e) => return fail(e, format!("{name:?} is not a valid local name")),
            };
            entries.retain(|r| r.local == key);
            if entries.is_empty() {
                return fail(
                    WnError::NotConnected,
                    format!("{key} is not a remembered connection"),
                );
            }
        }
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = entries
                .into_iter()
                .map(|entry| s.spawn(move || self.restore_entry(entry)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a restore thread panicked"))
                .collect()
        });
        Ok(results)
    }

    /// Restores one entry as one operation: every event it causes carries
    /// the same operation id.
    fn restore_entry(&self, entry: Remembered) -> RestoreResult {
        lasterror::clear();
        let started = Instant::now();
        let id = op_id();
        let result = self.restore_one(&entry, &id);
        let detail = result
            .as_ref()
            .err()
            .map(|e| lasterror::get().map_or_else(|| e.to_string(), |d| d.text));
        let names = OpNames {
            local: &entry.local,
            remote: &entry.remote,
            user: &entry.user,
            provider: Some(&entry.provider),
        };
        let status = result.as_ref().map(|_| ()).map_err(|e| *e);
        self.observers
            .emit(|| operation(&id, OpKind::Restore, &names, status, started, false));
        RestoreResult {
            entry,
            result,
            detail,
            op_id: id,
        }
    }

    fn restore_one(&self, entry: &Remembered, id: &str) -> Result<bool, WnError> {
        let Some(p) = self.provider_by_key(&entry.provider) else {
            return fail(
                WnError::BadProvider,
                format!(
                    "provider {} is not registered or not usable",
                    entry.provider
                ),
            );
        };
        let remote = RemoteName::parse(&entry.remote).or_else(|e| {
            fail(
                e,
                format!("remembered remote name {:?} is not valid", entry.remote),
            )
        })?;
        let Ok(Some(local)) = LocalName::parse(&entry.local) else {
            return fail(
                WnError::BadProfile,
                format!("remembered local name {:?} is not valid", entry.local),
            );
        };
        if let Some(e) = self
            .store
            .live()?
            .into_iter()
            .find(|e| e.local == entry.local)
        {
            if !e.is_committed() {
                return fail(
                    WnError::AlreadyConnected,
                    format!("{} is being connected by another process", entry.local),
                );
            }
            if !e.remote.eq_ignore_ascii_case(&entry.remote) {
                return fail(
                    WnError::AlreadyConnected,
                    format!("{} is connected to {} instead", entry.local, e.remote),
                );
            }
            if self.health(&e).is_live() {
                return Ok(false);
            }
            // Repair: clear the dead connection, then connect again.
            self.clear_dead(&entry.local, &remote)?;
        }
        let req = AddRequest {
            api: AddApi::Add,
            owner: 0,
            r#type: abi::RESOURCETYPE_DISK,
            local: Some(entry.local.clone()),
            remote: Some(entry.remote.clone()),
            provider: Some(entry.provider.clone()),
            password: None,
            user: (!entry.user.is_empty()).then(|| entry.user.clone()),
            flags: 0,
        };
        let reservation = self.reserve(Pick::Exactly(Some(&local)), &remote, &req)?;
        let site = CallSite {
            id,
            op: OpKind::Restore,
            round: 0,
        };
        match self.connect(&req, &reservation, &remote, Some(p), site) {
            Ok(_) => Ok(true),
            Err(e) => {
                self.release(&reservation);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{Script, World};
    use super::*;
    use crate::event::Event;

    #[test]
    fn restore_reconnects_without_notifying_and_joins_its_events_by_one_id() {
        let w = World::with_notifyees(&[("n", Script::keep())]);
        w.router
            .store()
            .update_remembered(|r| {
                r.push(Remembered {
                    local: "Z:".into(),
                    remote: r"\\h\s".into(),
                    provider: "mem".into(),
                    user: String::new(),
                    r#type: abi::RESOURCETYPE_DISK,
                });
            })
            .unwrap();
        let results = w.router.restore(None).unwrap();
        assert_eq!(results[0].result, Ok(true));
        assert_eq!(w.log(), ["provider add"], "no notifyee was called");
        let events = w.events();
        let (provider, op) = match (&events[1], &events[2]) {
            (Event::Provider(p), Event::Operation(o)) => (p, o),
            other => panic!("{other:?}"),
        };
        assert_eq!(provider.op_id, op.op_id);
        assert_eq!(
            (provider.op, op.op, op.notified),
            (OpKind::Restore, OpKind::Restore, false)
        );
        // Already connected: nothing to do.
        assert_eq!(w.router.restore(Some("z:")).unwrap()[0].result, Ok(false));
    }
}
