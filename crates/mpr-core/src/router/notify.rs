//! The notification rounds of §7 around a provider phase: PRE newest first
//! (a veto stops the operation), the phase, POST in registration order to
//! the notifyees holding a context, and retry rounds while a notifyee asks
//! for one after a failure, up to the configured bound.
//!
//! The rounds are generic over what the phase produces ([`Outcome`]): the
//! add's and the cancel's outcomes tell the POST round which provider
//! served the operation and which local name it got.

use super::request::{AddOutcome, CancelOutcome};
use super::{NotifyeeSlot, NotifyeeState, Router};
use crate::WnError;
use crate::config::Policy;
use crate::event::{Event, NotifyEvent, OpKind, RefusedEvent, RetryLimitEvent, Status};
use crate::lasterror;
use crate::plugin::{AddNotice, CallFailure, CancelNotice, ConnectNotifier, NotifyInfo, Phase};
use mpr_abi as abi;
use std::time::Instant;

/// What the notifyees are told about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Notice<'a> {
    /// An add (`NOTIFYADD`).
    Add {
        /// The owner window (0 is NULL).
        owner: usize,
        /// `RESOURCETYPE_*` as requested.
        r#type: u32,
        /// The local name as requested (`None`: deviceless or auto-pick).
        local: Option<&'a str>,
        /// The remote name.
        remote: &'a str,
        /// The `CONNECT_*` flags.
        flags: u32,
    },
    /// A cancel (`NOTIFYCANCEL`).
    Cancel {
        /// The name being cancelled.
        name: &'a str,
        /// The `CONNECT_*` flags.
        flags: u32,
        /// `fForce`.
        force: bool,
    },
}

impl Notice<'_> {
    fn op(&self) -> OpKind {
        match self {
            Notice::Add { .. } => OpKind::Add,
            Notice::Cancel { .. } => OpKind::Cancel,
        }
    }

    fn local(&self) -> Option<&str> {
        match self {
            Notice::Add { local, .. } => *local,
            Notice::Cancel { .. } => None,
        }
    }

    fn handled_by(&self, n: &dyn ConnectNotifier) -> bool {
        match self {
            Notice::Add { .. } => n.handles_add(),
            Notice::Cancel { .. } => n.handles_cancel(),
        }
    }

    /// One notifyee call, naming `provider` and (for an add) `local`.
    fn deliver(
        &self,
        n: &dyn ConnectNotifier,
        ni: &mut NotifyInfo,
        provider: Option<&str>,
        local: Option<&str>,
    ) -> Result<u32, CallFailure> {
        match *self {
            Notice::Add {
                owner,
                r#type,
                remote,
                flags,
                ..
            } => n.add_notify(
                ni,
                &AddNotice {
                    owner,
                    r#type,
                    local,
                    remote,
                    provider,
                    flags,
                },
            ),
            Notice::Cancel { name, flags, force } => n.cancel_notify(
                ni,
                &CancelNotice {
                    name,
                    provider,
                    flags,
                    force,
                },
            ),
        }
    }
}

/// What a successful provider phase tells the POST round.
pub(super) trait Outcome {
    /// The display name of the provider that served the operation.
    fn provider_name(&self) -> &str;
    /// The local name it ended up with (an auto-picked drive), if any.
    fn local(&self) -> Option<&str>;
}

impl Outcome for AddOutcome {
    fn provider_name(&self) -> &str {
        &self.provider_name
    }
    fn local(&self) -> Option<&str> {
        self.local.as_deref()
    }
}

impl Outcome for CancelOutcome {
    fn provider_name(&self) -> &str {
        &self.provider_name
    }
    fn local(&self) -> Option<&str> {
        None
    }
}

/// One notified operation.
#[derive(Debug)]
pub(super) struct Rounds<'a> {
    /// The operation's id (for its events).
    pub id: &'a str,
    /// What is notified.
    pub notice: Notice<'a>,
    /// The provider the caller asked for (`None` while cycling).
    pub requested_provider: Option<&'a str>,
}

/// A notifyee holding a context: its slot and the value.
#[derive(Debug, Clone, Copy)]
struct Held {
    slot: usize,
    context: usize,
}

/// What a PRE round ended with.
struct Pre {
    holders: Vec<Held>,
    veto: Option<WnError>,
}

/// What the POST round is told.
struct Post<'a> {
    round: u32,
    status: u32,
    provider: Option<&'a str>,
    local: Option<&'a str>,
    vetoed: bool,
}

/// What a POST round ended with.
struct PostResult {
    /// Those that asked for a retry, with their contexts.
    requesters: Vec<Held>,
    /// An error that replaces the failed operation's result (§7.6).
    replaced: Option<WnError>,
}

/// One notifyee call, for its event.
struct Call<'s> {
    slot: &'s NotifyeeSlot,
    phase: Phase,
    status_in: u32,
    context: usize,
}

/// The result of a PRE call that failed, under the `veto` policy (§7.10):
/// `WN_CANCEL` for a crash or a timeout, `WN_ACCESS_DENIED` for a library
/// that could not be loaded (as for one refused at start-up).
fn veto_for(f: &CallFailure) -> WnError {
    match f {
        CallFailure::LoadFailed(_) => WnError::AccessDenied,
        CallFailure::Crashed(_) | CallFailure::TimedOut(_) => WnError::Cancel,
    }
}

impl Router {
    /// Runs PRE, the provider phase and POST, with retry rounds; `phase`
    /// gets the round number. The result is the operation's (§7.3–§7.6).
    pub(super) fn notify_rounds<T: Outcome>(
        &self,
        r: &Rounds<'_>,
        mut phase: impl FnMut(u32) -> Result<T, WnError>,
    ) -> Result<T, WnError> {
        // Requesters of the previous round's retry, with the context they keep.
        let mut kept: Vec<Held> = Vec::new();
        let mut round = 0u32;
        loop {
            let pre = self.pre_round(r, round, &kept);
            let vetoed = pre.veto.is_some();
            let result = match pre.veto {
                Some(e) => Err(e),
                None => phase(round),
            };
            // PRE ran newest first: reversed, the holders are in registration
            // order already, so the sort has little to do.
            let mut posts = pre.holders;
            posts.reverse();
            posts.append(&mut kept);
            posts.sort_by_key(|h| h.slot);
            let post = match &result {
                Ok(o) => Post {
                    round,
                    status: abi::WN_SUCCESS,
                    provider: Some(o.provider_name()),
                    local: o.local().or(r.notice.local()),
                    vetoed,
                },
                Err(e) => Post {
                    round,
                    status: e.code(),
                    provider: r.requested_provider,
                    local: r.notice.local(),
                    vetoed,
                },
            };
            let saved_detail = lasterror::get();
            let posted = self.post_round(r, &post, &posts);
            let result = match (result, posted.replaced) {
                (Err(_), Some(e)) => Err(e),
                (result, _) => result,
            };
            if result.is_err()
                && lasterror::get().is_none()
                && let Some(d) = saved_detail
            {
                lasterror::set(d.code, d.text, d.provider);
            }
            if result.is_err() && !vetoed && !posted.requesters.is_empty() {
                if round < self.max_retry_rounds {
                    kept = posted.requesters;
                    round += 1;
                    continue;
                }
                self.observers.emit(|| {
                    Event::RetryLimit(RetryLimitEvent {
                        op_id: r.id.to_string(),
                        op: r.notice.op(),
                        rounds: round,
                        notifyees: posted
                            .requesters
                            .iter()
                            .map(|h| self.notifyees[h.slot].name.clone())
                            .collect(),
                        message: "retry limit reached".into(),
                    })
                });
            }
            return result;
        }
    }

    /// PRE to every relevant notifyee newest first, except those in `kept`
    /// (they asked for this retry). Stops at a veto, whose detail becomes
    /// the extended error.
    fn pre_round(&self, r: &Rounds<'_>, round: u32, kept: &[Held]) -> Pre {
        let status_in = if round == 0 {
            abi::WN_SUCCESS
        } else {
            abi::WN_RETRY
        };
        // Capacity for all, so that PRE allocates at most once
        // (docs/performance.md).
        let mut holders = Vec::with_capacity(self.notifyees.len());
        for (i, slot) in self.notifyees.iter().enumerate().rev() {
            if kept.iter().any(|h| h.slot == i) {
                continue;
            }
            let n = match &slot.state {
                NotifyeeState::Ready(n) if r.notice.handled_by(n.as_ref()) => n,
                NotifyeeState::Ready(_) | NotifyeeState::Ignored(_) => continue,
                NotifyeeState::Refused(why) => {
                    self.emit_refused(r, slot, why);
                    if slot.policy == Policy::Veto {
                        let text = format!(
                            "notifyee {} was refused and its policy is veto: {why}",
                            slot.name
                        );
                        return vetoed(holders, WnError::AccessDenied, text);
                    }
                    continue;
                }
            };
            let mut ni = NotifyInfo {
                phase: Phase::Pre,
                operation_status: status_in,
                context: 0,
            };
            let t = self.observers.clock();
            let ret = r
                .notice
                .deliver(n.as_ref(), &mut ni, r.requested_provider, r.notice.local());
            let call = Call {
                slot,
                phase: Phase::Pre,
                status_in,
                context: ni.context,
            };
            self.emit_notify(r, round, &call, &ret, t);
            match ret {
                Ok(abi::WN_SUCCESS | abi::WN_RETRY) => {
                    if ni.context != 0 {
                        holders.push(Held {
                            slot: i,
                            context: ni.context,
                        });
                    }
                }
                Ok(code) => {
                    let e = WnError::from_status(code)
                        .err()
                        .unwrap_or(WnError::NetError);
                    let text = format!(
                        "notifyee {} vetoed the operation ({})",
                        slot.name,
                        crate::status_name(code)
                    );
                    return vetoed(holders, e, text);
                }
                Err(f) if slot.policy == Policy::Veto => {
                    let text = format!("notifyee {} {f}; its policy is veto", slot.name);
                    return vetoed(holders, veto_for(&f), text);
                }
                Err(_) => {}
            }
        }
        Pre {
            holders,
            veto: None,
        }
    }

    /// POST to `posts` in registration order: collects retry requests
    /// (ignored after a veto) and errors that replace a failure.
    fn post_round(&self, r: &Rounds<'_>, post: &Post<'_>, posts: &[Held]) -> PostResult {
        let mut out = PostResult {
            requesters: Vec::new(),
            replaced: None,
        };
        for h in posts {
            let slot = &self.notifyees[h.slot];
            let NotifyeeState::Ready(n) = &slot.state else {
                continue;
            };
            let mut ni = NotifyInfo {
                phase: Phase::Post,
                operation_status: post.status,
                context: h.context,
            };
            let t = self.observers.clock();
            let ret = r
                .notice
                .deliver(n.as_ref(), &mut ni, post.provider, post.local);
            let call = Call {
                slot,
                phase: Phase::Post,
                status_in: post.status,
                context: h.context,
            };
            self.emit_notify(r, post.round, &call, &ret, t);
            // A POST that failed to arrive, or any answer to a success,
            // changes nothing (§7.6).
            let Ok(code) = ret else { continue };
            if post.status == abi::WN_SUCCESS || code == abi::WN_SUCCESS {
                continue;
            }
            if code == abi::WN_RETRY {
                if !post.vetoed {
                    out.requesters.push(*h);
                }
                continue;
            }
            let e = WnError::from_status(code)
                .err()
                .unwrap_or(WnError::NetError);
            lasterror::set(
                e.code(),
                format!(
                    "notifyee {} reported {} after the operation",
                    slot.name,
                    e.name()
                ),
                "mpr",
            );
            out.replaced = Some(e);
        }
        out
    }

    fn emit_notify(
        &self,
        r: &Rounds<'_>,
        round: u32,
        call: &Call<'_>,
        ret: &Result<u32, CallFailure>,
        t: Option<Instant>,
    ) {
        let Some(t) = t else { return };
        self.observers.emit(|| {
            let (result, result_name, failure, decision) = match ret {
                Ok(code) => (
                    Some(*code),
                    Some(Status(*code).name().to_string()),
                    None,
                    None,
                ),
                Err(f) => {
                    // A failed POST changes no result whatever the policy
                    // (only PRE failures can veto); what matters is that it
                    // was lost.
                    let decision = match (call.phase, call.slot.policy, veto_for(f)) {
                        (Phase::Post, _, _) => "POST not delivered",
                        (Phase::Pre, Policy::Veto, WnError::AccessDenied) => {
                            "vetoed the operation (WN_ACCESS_DENIED)"
                        }
                        (Phase::Pre, Policy::Veto, _) => "vetoed the operation (WN_CANCEL)",
                        (Phase::Pre, Policy::Advisory, _) => "ignored (advisory)",
                    };
                    (None, None, Some(f.to_string()), Some(decision.to_string()))
                }
            };
            Event::Notify(NotifyEvent {
                op_id: r.id.to_string(),
                op: r.notice.op(),
                round,
                notifyee: call.slot.name.clone(),
                phase: call.phase,
                status_in: call.status_in,
                context: call.context != 0,
                isolation: call.slot.isolation,
                policy: call.slot.policy,
                duration_us: super::observe::micros(t),
                result,
                result_name,
                failure,
                decision,
            })
        });
    }

    fn emit_refused(&self, r: &Rounds<'_>, slot: &NotifyeeSlot, why: &str) {
        self.observers.emit(|| {
            let decision = match slot.policy {
                Policy::Veto => "operation fails with WN_ACCESS_DENIED",
                Policy::Advisory => "ignored (advisory)",
            };
            Event::Refused(RefusedEvent {
                op_id: r.id.to_string(),
                op: r.notice.op(),
                notifyee: slot.name.clone(),
                path: slot.path.display().to_string(),
                reason: why.to_string(),
                policy: slot.policy,
                decision: decision.to_string(),
            })
        });
    }
}

/// A PRE round stopped by `e`, whose reason becomes the extended error.
fn vetoed(holders: Vec<Held>, e: WnError, text: String) -> Pre {
    lasterror::set(e.code(), text, "mpr");
    Pre {
        holders,
        veto: Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::request::{AddApi, AddRequest, CancelRequest};
    use super::super::testkit::{Script, World};
    use super::*;
    use crate::event::Event;

    fn add(w: &World) -> Result<AddOutcome, WnError> {
        w.router
            .add(&AddRequest::new(AddApi::Add, Some("Z:"), r"\\h\s", 0))
    }

    #[test]
    fn pre_runs_newest_first_and_post_in_registration_order_to_holders_only() {
        let w = World::with_notifyees(&[
            ("a", Script::keep()),
            ("b", Script::plain()),
            ("c", Script::keep()),
        ]);
        add(&w).unwrap();
        assert_eq!(
            w.log(),
            [
                "c pre 0",
                "b pre 0",
                "a pre 0",
                "provider add",
                "a post 0",
                "c post 0"
            ]
        );
    }

    #[test]
    fn a_veto_stops_pre_and_the_vetoer_gets_no_post_but_earlier_holders_do() {
        let w = World::with_notifyees(&[
            ("a", Script::keep()),
            ("b", Script::pre(abi::WN_CANCEL)),
            ("c", Script::keep()),
        ]);
        assert_eq!(add(&w).unwrap_err(), WnError::Cancel);
        assert_eq!(w.log(), ["c pre 0", "b pre 0", "c post 1223"]);
        assert!(lasterror::get().unwrap().text.contains("notifyee b vetoed"));
    }

    #[test]
    fn retries_stop_at_the_bound_and_the_journal_says_so() {
        let w = World::with_notifyees(&[("r", Script::keep().post(abi::WN_RETRY))]);
        w.provider.fail_with(WnError::NoNetwork);
        assert_eq!(add(&w).unwrap_err(), WnError::NoNetOrBadPath);
        // One first round plus max_retry_rounds (3) retries; the requester
        // is not PRE-notified again and keeps its context.
        let log = w.log();
        assert_eq!(log.iter().filter(|l| *l == "provider add").count(), 4);
        assert_eq!(log.iter().filter(|l| l.starts_with("r pre")).count(), 1);
        assert_eq!(log.iter().filter(|l| l.starts_with("r post")).count(), 4);
        let limits: Vec<_> = w
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::RetryLimit(l) => Some(l),
                _ => None,
            })
            .collect();
        assert_eq!(limits.len(), 1);
        assert_eq!(
            (limits[0].rounds, limits[0].notifyees.clone()),
            (3, vec!["r".to_string()])
        );
    }

    #[test]
    fn a_retry_round_pre_notifies_the_others_with_wn_retry() {
        let w = World::with_notifyees(&[
            ("r", Script::keep().post(abi::WN_RETRY)),
            ("o", Script::keep()),
        ]);
        w.provider.fail_with(WnError::NoNetwork);
        add(&w).unwrap_err();
        let log = w.log();
        assert!(log.contains(&format!("o pre {}", abi::WN_RETRY)), "{log:?}");
    }

    #[test]
    fn a_post_error_replaces_a_failure_but_not_a_success() {
        let w = World::with_notifyees(&[("p", Script::keep().post(abi::WN_ACCESS_DENIED))]);
        add(&w).unwrap();
        w.router
            .cancel(&CancelRequest {
                name: "Z:".into(),
                flags: 0,
                force: false,
            })
            .unwrap();
        w.provider.fail_with(WnError::NoNetwork);
        assert_eq!(add(&w).unwrap_err(), WnError::AccessDenied);
    }

    #[test]
    fn a_vetoed_operation_is_not_retried() {
        let w = World::with_notifyees(&[
            ("r", Script::keep().post(abi::WN_RETRY)),
            ("v", Script::pre(abi::WN_CANCEL)),
        ]);
        assert_eq!(add(&w).unwrap_err(), WnError::Cancel);
        assert_eq!(w.log(), ["v pre 0"]);
    }
}
