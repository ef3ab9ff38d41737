//! Cancelling a connection: validation, the notification rounds around the
//! provider phase, and the phase itself. A connection in the table goes to
//! the provider that made it; a name the table does not know is offered to
//! every provider in order (provider libraries may hold connections of
//! their own).

use super::cycle::{Ask, first_taker};
use super::notify::{Notice, Rounds};
use super::observe::{OpNames, micros, operation};
use super::request::{CancelOutcome, CancelRequest};
use super::validate::CancelTarget;
use super::{Router, fail, op_id};
use crate::WnError;
use crate::event::{Event, OpKind, ProviderEvent, ProviderStartEvent, Status};
use crate::lasterror;
use crate::plugin::{CancelCall, NetworkProvider};
use crate::state::Live;
use mpr_abi as abi;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

impl Router {
    /// Cancels a connection (`WNetCancelConnection*`, `mpr use --delete`),
    /// with notifications.
    pub fn cancel(&self, req: &CancelRequest) -> Result<CancelOutcome, WnError> {
        lasterror::clear();
        self.sweep();
        let started = Instant::now();
        let id = op_id();
        let target = match self.validate_cancel(req) {
            Ok(t) => t,
            Err(e) => {
                let names = OpNames {
                    local: &req.name,
                    remote: "",
                    user: "",
                    provider: None,
                };
                self.observers
                    .emit(|| operation(&id, OpKind::Cancel, &names, Err(e), started, false));
                return Err(e);
            }
        };
        let name = target.display();
        let rounds = Rounds {
            id: &id,
            notice: Notice::Cancel {
                name: &name,
                flags: req.flags,
                force: req.force,
            },
            requested_provider: None,
        };
        let result = self.notify_rounds(&rounds, |_round| {
            self.cancel_provider_phase(req, &target, &id)
        });
        let names = OpNames {
            local: &name,
            remote: "",
            user: "",
            provider: result.as_ref().ok().map(|o| o.provider.as_str()),
        };
        let status = result.as_ref().map(|_| ()).map_err(|e| *e);
        self.observers
            .emit(|| operation(&id, OpKind::Cancel, &names, status, started, true));
        result
    }

    fn cancel_provider_phase(
        &self,
        req: &CancelRequest,
        target: &CancelTarget,
        id: &str,
    ) -> Result<CancelOutcome, WnError> {
        let name = target.display();
        let local_key = target.local_key();
        let is_target = |e: &Live| match &local_key {
            Some(k) => &e.local == k,
            None => e.local.is_empty() && e.remote.eq_ignore_ascii_case(&name),
        };
        let entry = self
            .store
            .live()?
            .into_iter()
            .find(|e| e.is_committed() && is_target(e));
        let call = |p: &Arc<dyn NetworkProvider>, directory: Option<&Path>| {
            let call = CancelCall {
                name: &name,
                directory,
                flags: req.flags,
                force: req.force,
            };
            self.call_cancel(p, &call, id)
        };
        let mut result: Result<String, WnError> = match &entry {
            Some(e) => {
                let Some(p) = self.provider_by_key(&e.provider) else {
                    return fail(
                        WnError::BadProvider,
                        format!(
                            "{name} was made by provider {}, which is no longer usable",
                            e.provider
                        ),
                    );
                };
                let dir = (!e.directory.is_empty()).then(|| PathBuf::from(&e.directory));
                match call(p, dir.as_deref()) {
                    // The provider no longer has it (its helper died, say):
                    // the connection is gone, so cancelling it succeeds.
                    Ok(()) | Err(WnError::NotConnected) => Ok(p.key().to_string()),
                    Err(e) => Err(e),
                }
            }
            None => {
                let capable = self.ready_providers().filter(|p| {
                    p.connection_caps()
                        & (abi::WNNC_CON_CANCELCONNECTION | abi::WNNC_CON_CANCELCONNECTION2)
                        != 0
                });
                first_taker(capable, Ask::Cancel, |p| call(p, None))
                    .map(|(p, ())| p.key().to_string())
                    .map_err(|n| n.error)
            }
        };
        let forget = req.flags & abi::CONNECT_UPDATE_PROFILE != 0;
        // Forgetting a remembered connection that is not live succeeds.
        if result == Err(WnError::NotConnected)
            && forget
            && let Some(key) = &local_key
            && let Some(r) = self
                .store
                .remembered()?
                .into_iter()
                .find(|r| &r.local == key)
        {
            result = Ok(r.provider);
        }
        let provider = match result {
            Ok(p) => p,
            Err(WnError::NotConnected) => {
                if lasterror::get().is_none() {
                    lasterror::set(
                        WnError::NotConnected.code(),
                        format!("{name} is not connected"),
                        "mpr",
                    );
                }
                return Err(WnError::NotConnected);
            }
            Err(e) => return Err(e),
        };
        self.store
            .update_live(|live| live.retain(|e| !(e.is_committed() && is_target(e))))?;
        let mut forgotten = false;
        if forget && let Some(k) = &local_key {
            forgotten = self.store.update_remembered(|r| {
                let before = r.len();
                r.retain(|e| &e.local != k);
                before != r.len()
            })?;
        }
        Ok(CancelOutcome {
            name,
            provider_name: self.provider_display(&provider),
            provider,
            forgotten,
        })
    }

    /// One `NPCancelConnection`, between its two events.
    fn call_cancel(
        &self,
        p: &Arc<dyn NetworkProvider>,
        call: &CancelCall<'_>,
        id: &str,
    ) -> Result<(), WnError> {
        let t = self.observers.clock();
        if t.is_some() {
            self.observers.emit(|| {
                Event::ProviderStart(ProviderStartEvent {
                    op_id: id.to_string(),
                    op: OpKind::Cancel,
                    provider: p.key().to_string(),
                    provider_name: p.display_name().to_string(),
                    target: call.name.to_string(),
                })
            });
        }
        lasterror::clear();
        let r = p.cancel_connection(call);
        if let Some(t) = t {
            self.observers.emit(|| {
                let status = Status::of(&r);
                Event::Provider(ProviderEvent {
                    op_id: id.to_string(),
                    op: OpKind::Cancel,
                    round: None,
                    provider: p.key().to_string(),
                    local: None,
                    name: Some(call.name.to_string()),
                    remote: None,
                    force: Some(call.force),
                    result: status.0,
                    result_name: status.name().to_string(),
                    duration_us: micros(t),
                })
            });
        }
        r
    }
}
