//! Adding a connection: validation, the notification rounds around the
//! provider phase, and the phase itself (reserve the name, ask the
//! providers, commit or release).

use super::claims::{self, Claims};
use super::cycle::{Ask, first_taker};
use super::notify::{Notice, Rounds};
use super::observe::{OpNames, micros, operation};
use super::request::{AddOutcome, AddRequest};
use super::table::{Pick, Reservation};
use super::validate::ValidAdd;
use super::{Router, fail, op_id};
use crate::WnError;
use crate::event::{Event, OpKind, ProviderEvent, ProviderStartEvent, Status};
use crate::lasterror;
use crate::names::{LocalName, RemoteName};
use crate::plugin::{ConnectCall, NetworkProvider, Secret};
use crate::prefixes::{self, Answer};
use mpr_abi as abi;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Whether the request leaves its drive to be picked (`CONNECT_REDIRECT`
/// without a local name): where the connection goes is known only once a
/// free drive is reserved.
fn auto_picks(req: &AddRequest) -> bool {
    let named = matches!(
        req.local.as_deref().map(LocalName::parse),
        Some(Ok(Some(_)))
    );
    !named && req.flags & abi::CONNECT_REDIRECT != 0
}

/// Where a provider call belongs, for its events.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallSite<'a> {
    /// The operation's id.
    pub id: &'a str,
    /// Add or restore.
    pub op: OpKind,
    /// The notification round.
    pub round: u32,
}

impl Router {
    /// Adds a connection (`WNetAddConnection*`, `WNetUseConnection`,
    /// `mpr use`), with notifications.
    pub fn add(&self, req: &AddRequest) -> Result<AddOutcome, WnError> {
        lasterror::clear();
        self.sweep();
        let started = Instant::now();
        let id = op_id();
        let valid = match self.validate_add(req) {
            Ok(v) => v,
            Err(e) => {
                let names = OpNames {
                    local: req.local.as_deref().unwrap_or(""),
                    remote: req.remote.as_deref().unwrap_or(""),
                    user: req.user.as_deref().unwrap_or(""),
                    provider: None,
                };
                self.observers
                    .emit(|| operation(&id, OpKind::Add, &names, Err(e), started, false));
                return Err(e);
            }
        };
        // The provider asked by name, or every provider that may be asked
        // in turn, gets ready while the name is reserved and the notifyees
        // are asked (unless the drive is still to be picked, when where it
        // goes is not known yet); what no connect took goes at the end.
        let ready: Vec<&Arc<dyn NetworkProvider>> = match valid.explicit {
            Some(p) => vec![p],
            None => self.adders().collect(),
        };
        let ready_dir = (!auto_picks(req)).then(|| {
            let dir = self.directory_for(valid.local.as_ref(), &valid.remote);
            for p in &ready {
                p.get_ready(valid.remote.as_str(), &dir);
            }
            dir
        });
        let _over = ready_dir.as_ref().map(|dir| claims::Over {
            providers: &ready,
            directory: dir,
        });
        let local_text = valid.local.as_ref().map(LocalName::display);
        let requested_provider = valid.explicit.map(|p| p.display_name());
        let rounds = Rounds {
            id: &id,
            notice: Notice::Add {
                owner: req.owner,
                r#type: req.r#type,
                local: local_text.as_deref(),
                remote: valid.remote.as_str(),
                flags: req.flags,
            },
            requested_provider,
        };
        let result = self.notify_rounds(&rounds, |round| {
            let site = CallSite {
                id: &id,
                op: OpKind::Add,
                round,
            };
            self.add_provider_phase(req, &valid, site)
        });
        let names = OpNames {
            local: result
                .as_ref()
                .ok()
                .and_then(|o| o.local.as_deref())
                .or(local_text.as_deref())
                .unwrap_or(""),
            remote: valid.remote.as_str(),
            user: req.user.as_deref().unwrap_or(""),
            provider: result.as_ref().ok().map(|o| o.provider.as_str()),
        };
        let status = result.as_ref().map(|_| ()).map_err(|e| *e);
        self.observers
            .emit(|| operation(&id, OpKind::Add, &names, status, started, true));
        result
    }

    /// The ready providers that can make a connection, in order.
    fn adders(&self) -> impl Iterator<Item = &Arc<dyn NetworkProvider>> {
        self.ready_providers().filter(|p| {
            p.connection_caps() & (abi::WNNC_CON_ADDCONNECTION | abi::WNNC_CON_ADDCONNECTION3) != 0
        })
    }

    /// Reserves the local name, runs the providers, commits. With
    /// `CONNECT_REDIRECT` and no local name, a drive a provider finds taken
    /// is skipped for the next free one.
    fn add_provider_phase(
        &self,
        req: &AddRequest,
        valid: &ValidAdd<'_>,
        site: CallSite<'_>,
    ) -> Result<AddOutcome, WnError> {
        let auto_pick = auto_picks(req);
        if let Some(l) = &valid.local {
            self.clear_dead(&l.display(), &valid.remote)?;
        }
        let mut tried: Vec<char> = Vec::new();
        loop {
            let pick = if auto_pick {
                Pick::FreeDrive { tried: &tried }
            } else {
                Pick::Exactly(valid.local.as_ref())
            };
            let reservation = self.reserve(pick, &valid.remote, req)?;
            match self.connect(req, &reservation, &valid.remote, valid.explicit, site) {
                Ok(outcome) => return Ok(outcome),
                Err(e) => {
                    self.release(&reservation);
                    match (&reservation.local, auto_pick, e) {
                        (Some(LocalName::Drive(c)), true, WnError::AlreadyConnected) => {
                            tried.push(*c);
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// Connects a reserved name through the providers and commits it.
    pub(super) fn connect(
        &self,
        req: &AddRequest,
        reservation: &Reservation,
        remote: &RemoteName,
        explicit: Option<&Arc<dyn NetworkProvider>>,
        site: CallSite<'_>,
    ) -> Result<AddOutcome, WnError> {
        let local = reservation.local.as_ref();
        let (provider, directory) = self.add_once(req, local, remote, explicit, site)?;
        let remembered = self.commit_add(req, reservation, remote, provider, directory)?;
        let directory = self.directory_for(local, remote);
        let local = local.map(LocalName::display);
        Ok(AddOutcome {
            access_name: local
                .clone()
                .unwrap_or_else(|| directory.display().to_string()),
            redirected: local.is_some(),
            local,
            remote: remote.as_str().to_string(),
            provider: provider.key().to_string(),
            provider_name: provider.display_name().to_string(),
            directory,
            remembered,
        })
    }

    /// One pass over the providers (or the one asked for): the provider
    /// that made the connection, and where.
    fn add_once<'p>(
        &'p self,
        req: &AddRequest,
        local: Option<&LocalName>,
        remote: &RemoteName,
        explicit: Option<&'p Arc<dyn NetworkProvider>>,
        site: CallSite<'_>,
    ) -> Result<(&'p Arc<dyn NetworkProvider>, PathBuf), WnError> {
        let directory = self.directory_for(local, remote);
        if local.is_some()
            && let Err(e) = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&directory)
        {
            return fail(
                WnError::BadLocalName,
                format!("cannot create the directory {}: {e}", directory.display()),
            );
        }
        let local_s = local.map(LocalName::display);
        let call = ConnectCall {
            owner: req.owner,
            r#type: req.r#type,
            local: local_s.as_deref(),
            remote: remote.as_str(),
            directory: &directory,
            password: req.password.as_ref(),
            user: req.user.as_deref(),
            flags: req.flags,
            claimed: false,
        };
        // A saved password (the keyring's) stands in for a missing one.
        let add =
            |p: &Arc<dyn NetworkProvider>, call: &ConnectCall| match self.saved_password(p, call) {
                Some(saved) => self.call_add(
                    p,
                    &ConnectCall {
                        password: Some(&saved),
                        ..*call
                    },
                    site,
                ),
                None => self.call_add(p, call, site),
            };
        if let Some(p) = explicit {
            return add(p, &call).map(|()| (p, directory.clone()));
        }
        let capable: Vec<&Arc<dyn NetworkProvider>> = self.adders().collect();
        // A bare UNC name may be anybody's: every provider's check starts
        // at once, and the order still decides (a provider waits for its
        // own check's answer only when its turn comes). What the checks
        // said about a server lately is not asked again (the prefix cache).
        let order: Vec<String> = capable.iter().map(|p| p.key().to_string()).collect();
        let server = match remote.scheme() {
            None => remote
                .parts()
                .ok()
                .map(|p| prefixes::server_key(&p.host, p.port, p.ssl)),
            Some(_) => None,
        };
        // Whatever the checks readied for the connect goes when it is over
        // (told here only for a drive picked on the way: otherwise `add`
        // tells every provider, once, for the directory it got ready).
        let _over = server
            .as_ref()
            .filter(|_| auto_picks(req))
            .map(|_| claims::Over {
                providers: &capable,
                directory: &directory,
            });
        let cached = server.as_deref().and_then(|s| self.store.prefix(s, &order));
        let claims = match (&server, &cached) {
            (None, _) => Claims::none(capable.len()),
            (Some(_), Some(p)) => {
                Claims::remembered(&capable, remote.as_str(), &directory, &p.answers)
            }
            (Some(_), None) => Claims::start(&capable, remote.as_str(), &directory),
        };
        let failed: std::cell::RefCell<Vec<(usize, WnError)>> = Default::default();
        let pass = |claims: &Claims| {
            let try_one = |p: &Arc<dyn NetworkProvider>| {
                let i = capable
                    .iter()
                    .position(|c| Arc::ptr_eq(c, p))
                    .expect("a capable provider");
                let r = match claims.answer(i) {
                    None => add(p, &call),
                    Some(Ok(())) => add(
                        p,
                        &ConnectCall {
                            claimed: true,
                            ..call
                        },
                    ),
                    Some(Err(not_mine)) => {
                        lasterror::set(
                            not_mine.code.code(),
                            not_mine.reason,
                            p.display_name().to_string(),
                        );
                        return Err(not_mine.code);
                    }
                };
                if let Err(e) = r {
                    failed.borrow_mut().push((i, e));
                }
                r
            };
            first_taker(capable.iter().copied(), Ask::Add, try_one)
        };
        let mut result = pass(&claims);
        if let Some(server) = &server {
            match &cached {
                None => {
                    let seen = claims.seen();
                    if seen.contains(&Answer::Mine) {
                        self.store.remember_prefix(server, &order, seen);
                    }
                }
                Some(p) => {
                    // The provider the cache names failed as if the server
                    // were not what it was: the entry goes. If no provider
                    // after it took the name, ask the checks again; if they
                    // now say otherwise, the name goes where they say.
                    let mine = p.answers.iter().position(|a| *a == Answer::Mine);
                    let stale = failed
                        .borrow()
                        .iter()
                        .any(|(i, e)| Some(*i) == mine && server_may_have_changed(*e));
                    if stale {
                        self.store.forget_prefix(server);
                    }
                    if let (true, true, Some(mine)) = (stale, result.is_err(), mine) {
                        let fresh = Claims::start(&capable, remote.as_str(), &directory);
                        let agree = (0..=mine).all(|i| {
                            let _ = fresh.answer(i);
                            fresh.seen()[i].says_the_same_as(&p.answers[i])
                        });
                        if agree {
                            self.store
                                .remember_prefix(server, &order, p.answers.clone());
                        } else {
                            result = pass(&fresh);
                            let seen = fresh.seen();
                            if seen.contains(&Answer::Mine) {
                                self.store.remember_prefix(server, &order, seen);
                            }
                        }
                    }
                }
            }
        }
        let ended = match result {
            Ok((p, ())) => return Ok((p, directory.clone())),
            Err(ended) => ended,
        };
        if ended.asked == 0 {
            return fail(
                WnError::NoNetwork,
                "no provider can add connections (see `mpr provider list`)",
            );
        }
        let e = ended.error;
        if lasterror::get().is_none() {
            let why = if ended.reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", ended.reasons.join("; "))
            };
            let text = match e {
                WnError::BadNetName => {
                    Some(format!("no provider accepted {}{why}", remote.as_str()))
                }
                WnError::NoNetOrBadPath => Some(format!(
                    "no provider accepted {}, and a provider's network is unavailable{why}",
                    remote.as_str()
                )),
                _ => None,
            };
            if let Some(text) = text {
                lasterror::set(e.code(), text, "mpr");
            }
        }
        Err(e)
    }

    /// The password saved for this provider, server and user, when the
    /// call has a user and no password and saved credentials are in use.
    fn saved_password(
        &self,
        p: &Arc<dyn NetworkProvider>,
        call: &ConnectCall<'_>,
    ) -> Option<Secret> {
        let saved = self.saved.as_ref()?;
        let user = call.user.filter(|u| !u.is_empty())?;
        if call.password.is_some() {
            return None;
        }
        saved.password(p.key(), call.remote, user)
    }

    /// One `NPAddConnection3`, between its two events.
    fn call_add(
        &self,
        p: &Arc<dyn NetworkProvider>,
        call: &ConnectCall<'_>,
        site: CallSite<'_>,
    ) -> Result<(), WnError> {
        let t = self.observers.clock();
        if t.is_some() {
            self.observers.emit(|| {
                Event::ProviderStart(ProviderStartEvent {
                    op_id: site.id.to_string(),
                    op: site.op,
                    provider: p.key().to_string(),
                    provider_name: p.display_name().to_string(),
                    target: match call.local {
                        Some(l) => format!("{l} to {}", call.remote),
                        None => call.remote.to_string(),
                    },
                })
            });
        }
        lasterror::clear();
        let r = p.add_connection(call);
        if let Some(t) = t {
            self.observers.emit(|| {
                let status = Status::of(&r);
                Event::Provider(ProviderEvent {
                    op_id: site.id.to_string(),
                    op: site.op,
                    round: Some(site.round),
                    provider: p.key().to_string(),
                    local: Some(call.local.unwrap_or("").to_string()),
                    name: None,
                    remote: Some(call.remote.to_string()),
                    force: None,
                    result: status.0,
                    result_name: status.name().to_string(),
                    duration_us: micros(t),
                })
            });
        }
        r
    }
}

/// Whether a failure of the provider the prefix cache named can mean that
/// the server is no longer of its kind (gone, or another server on the
/// port), so that the checks must be asked again.
fn server_may_have_changed(e: WnError) -> bool {
    matches!(
        e,
        WnError::BadNetName
            | WnError::BadNetPath
            | WnError::NoNetOrBadPath
            | WnError::NoNetwork
            | WnError::NetError
            | WnError::NetNameDeleted
            | WnError::ExtendedError
            | WnError::NotSupported
    )
}

#[cfg(test)]
mod tests {
    use super::super::testkit::World;
    use super::*;
    use crate::event::Event;
    use crate::plugin::NotMine;

    #[test]
    fn one_operation_id_joins_every_event_of_an_add() {
        let w = World::new();
        w.router
            .add(&AddRequest::new(
                super::super::AddApi::Add,
                Some("Z:"),
                r"\\h\s",
                0,
            ))
            .unwrap();
        let events = w.events();
        let ids: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::ProviderStart(s) => Some(s.op_id.as_str()),
                Event::Provider(p) => Some(p.op_id.as_str()),
                Event::Operation(o) => Some(o.op_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 3, "{events:?}");
        assert!(ids.iter().all(|i| *i == ids[0]));
        assert!(matches!(events.last(), Some(Event::Operation(o)) if o.result == 0 && o.notified));
    }

    /// A provider that records the password each add hands it.
    #[derive(Debug)]
    struct Seer {
        key: &'static str,
        answer: Result<(), WnError>,
        seen: std::sync::Mutex<Vec<Option<String>>>,
    }

    impl NetworkProvider for Seer {
        fn key(&self) -> &str {
            self.key
        }
        fn display_name(&self) -> &str {
            self.key
        }
        fn connection_caps(&self) -> u32 {
            abi::WNNC_CON_ADDCONNECTION3
        }
        fn origin(&self) -> crate::plugin::Origin {
            crate::plugin::Origin::BuiltIn
        }
        fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
            let pw = call.password.map(|p| p.expose().to_string());
            self.seen.lock().unwrap().push(pw);
            self.answer
        }
        fn cancel_connection(&self, _: &crate::plugin::CancelCall<'_>) -> Result<(), WnError> {
            Ok(())
        }
        fn get_connection(&self, _: &str, _: Option<&std::path::Path>) -> Result<String, WnError> {
            Err(WnError::NotSupported)
        }
    }

    /// One password, saved for provider `b`, user `bob`, server `h`.
    #[derive(Debug)]
    struct OneSaved;

    impl super::super::SavedCredentials for OneSaved {
        fn password(&self, provider: &str, remote: &str, user: &str) -> Option<Secret> {
            (provider == "b" && remote.starts_with(r"\\h\") && user == "bob")
                .then(|| Secret::new("pw-b".into()))
        }
    }

    #[test]
    fn a_saved_password_reaches_only_its_provider_and_only_when_none_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let seer = |key, answer| {
            Arc::new(Seer {
                key,
                answer,
                seen: Default::default(),
            })
        };
        let (a, b) = (seer("a", Err(WnError::BadNetName)), seer("b", Ok(())));
        let mut router = super::super::Router::new(super::super::RouterParts {
            providers: vec![
                super::super::ProviderSlot::Ready(a.clone()),
                super::super::ProviderSlot::Ready(b.clone()),
            ],
            notifyees: vec![],
            store: crate::state::Store::memory(),
            drives_dir: dir.path().join("drives"),
            runtime_dir: dir.path().join("run"),
            observers: vec![],
            max_retry_rounds: 1,
        });
        router.use_saved_credentials(Arc::new(OneSaved));
        let add = |remote: &str, user: Option<&str>, password: Option<&str>| {
            let mut req = AddRequest::new(super::super::AddApi::Use, None, remote, 0);
            req.user = user.map(str::to_string);
            req.password = password.map(|p| Secret::new(p.into()));
            router.add(&req).unwrap();
            let last = |p: &Seer| p.seen.lock().unwrap().last().cloned().flatten();
            (last(&a), last(&b))
        };
        // The saved password goes to b only: a is asked without one.
        assert_eq!(
            add(r"\\h\s", Some("bob"), None),
            (None, Some("pw-b".into()))
        );
        // A password given wins; another user or server, or no user, gets none.
        assert_eq!(
            add(r"\\h\t", Some("bob"), Some("given")),
            (Some("given".into()), Some("given".into()))
        );
        assert_eq!(add(r"\\h\u", Some("eve"), None), (None, None));
        assert_eq!(add(r"\\g\s", Some("bob"), None), (None, None));
        assert_eq!(add(r"\\h\v", None, None), (None, None));
    }

    #[test]
    fn a_drive_picked_for_the_caller_is_the_highest_free_one() {
        let w = World::new();
        let req = AddRequest::new(
            super::super::AddApi::Use,
            None,
            r"\\h\s",
            abi::CONNECT_REDIRECT,
        );
        let o = w.router.add(&req).unwrap();
        assert_eq!(o.local.as_deref(), Some("Z:"));
        let o = w
            .router
            .add(&AddRequest::new(
                super::super::AddApi::Use,
                None,
                r"\\h\t",
                abi::CONNECT_REDIRECT,
            ))
            .unwrap();
        assert_eq!(o.local.as_deref(), Some("Y:"));
    }

    /// A provider whose claim takes `delay` and answers `claim`, and whose
    /// connects are logged with whether they came claimed.
    #[derive(Debug)]
    struct Claimer {
        key: &'static str,
        delay: std::time::Duration,
        claim: Option<Result<(), WnError>>,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl NetworkProvider for Claimer {
        fn key(&self) -> &str {
            self.key
        }
        fn display_name(&self) -> &str {
            self.key
        }
        fn connection_caps(&self) -> u32 {
            abi::WNNC_CON_ADDCONNECTION3
        }
        fn origin(&self) -> crate::plugin::Origin {
            crate::plugin::Origin::BuiltIn
        }
        fn claim(&self, _remote: &str, _: &std::path::Path) -> Option<Result<(), NotMine>> {
            std::thread::sleep(self.delay);
            self.claim.map(|r| {
                r.map_err(|code| NotMine {
                    code,
                    reason: format!("{} says no", self.key),
                })
            })
        }
        fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("{} add claimed={}", self.key, call.claimed));
            if self.claim.is_none() {
                return Err(WnError::BadNetName);
            }
            Ok(())
        }
        fn cancel_connection(&self, _call: &crate::plugin::CancelCall<'_>) -> Result<(), WnError> {
            Ok(())
        }
        fn get_connection(
            &self,
            _local: &str,
            _directory: Option<&std::path::Path>,
        ) -> Result<String, WnError> {
            Err(WnError::NotConnected)
        }
    }

    /// A provider's key, how long its claim takes (ms), and its answer.
    type ClaimScript = (&'static str, u64, Option<Result<(), WnError>>);

    /// Adds `remote` over providers claiming as `claims`: the provider that
    /// took it, the log, and the time it took.
    fn race(
        remote: &str,
        claims: &[ClaimScript],
    ) -> (Result<String, WnError>, Vec<String>, std::time::Duration) {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let providers = claims
            .iter()
            .map(|(key, ms, claim)| {
                super::super::ProviderSlot::Ready(Arc::new(Claimer {
                    key,
                    delay: std::time::Duration::from_millis(*ms),
                    claim: *claim,
                    log: log.clone(),
                }) as Arc<dyn NetworkProvider>)
            })
            .collect();
        let router = Router::new(super::super::RouterParts {
            providers,
            notifyees: Vec::new(),
            store: crate::state::Store::memory(),
            drives_dir: dir.path().join("drives"),
            runtime_dir: dir.path().join("run"),
            observers: Vec::new(),
            max_retry_rounds: 3,
        });
        let start = Instant::now();
        let r = router
            .add(&AddRequest::new(super::super::AddApi::Add, None, remote, 0))
            .map(|o| o.provider);
        let took = start.elapsed();
        let log = log.lock().unwrap().clone();
        (r, log, took)
    }

    #[test]
    fn claims_run_at_once_and_the_order_still_decides() {
        let no = Some(Err(WnError::BadNetPath));
        // The first says no slowly, the second yes: both checks overlap.
        let (r, log, took) = race(r"\\h\s", &[("a", 300, no), ("b", 300, Some(Ok(())))]);
        assert_eq!(r, Ok("b".into()));
        assert_eq!(log, ["b add claimed=true"]);
        assert!(took < std::time::Duration::from_millis(550), "{took:?}");
        // Both say yes: the first in order wins, even when it answers last.
        let (r, log, _) = race(
            r"\\h\s",
            &[("a", 200, Some(Ok(()))), ("b", 0, Some(Ok(())))],
        );
        assert_eq!(r, Ok("a".into()));
        assert_eq!(log, ["a add claimed=true"]);
        // A provider without a check is asked in its turn, unclaimed.
        let (r, log, _) = race(r"\\h\s", &[("a", 0, None), ("b", 0, Some(Ok(())))]);
        assert_eq!(r, Ok("b".into()));
        assert_eq!(log, ["a add claimed=false", "b add claimed=true"]);
        // Every check says no: "not mine" from everyone, with the reasons.
        let (r, log, _) = race(r"\\h\s", &[("a", 0, no), ("b", 0, no)]);
        assert_eq!(r, Err(WnError::BadNetName));
        assert!(log.is_empty(), "{log:?}");
        let text = lasterror::get().unwrap().text;
        assert!(
            text.contains("a says no") && text.contains("b says no"),
            "{text}"
        );
    }

    #[test]
    fn a_url_runs_no_claims() {
        let (r, log, _) = race("smb://h/s", &[("a", 0, Some(Ok(())))]);
        assert_eq!(r, Ok("a".into()));
        assert_eq!(log, ["a add claimed=false"]);
    }

    /// A built-in provider for the prefix cache: whether its kind of
    /// server is there and how its connect fails can change between adds,
    /// and its checks are counted.
    #[derive(Debug)]
    struct Kind {
        key: &'static str,
        mine: std::sync::Mutex<bool>,
        fails: std::sync::Mutex<Option<WnError>>,
        checks: std::sync::atomic::AtomicUsize,
        log: Arc<std::sync::Mutex<Vec<String>>>,
        /// The directories its checks were given, and those it was told
        /// the connect was over for.
        claimed_at: std::sync::Mutex<Vec<std::path::PathBuf>>,
        over_at: std::sync::Mutex<Vec<std::path::PathBuf>>,
        /// The directories it was told to get ready for.
        ready_at: std::sync::Mutex<Vec<std::path::PathBuf>>,
    }

    impl Kind {
        fn new(
            key: &'static str,
            mine: bool,
            log: &Arc<std::sync::Mutex<Vec<String>>>,
        ) -> Arc<Kind> {
            Arc::new(Kind {
                key,
                mine: std::sync::Mutex::new(mine),
                fails: std::sync::Mutex::new(None),
                checks: Default::default(),
                log: log.clone(),
                claimed_at: Default::default(),
                over_at: Default::default(),
                ready_at: Default::default(),
            })
        }
        /// The directories its checks were given, those it was told the
        /// connect was over for, and those it was told to get ready for.
        fn told(&self) -> (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>) {
            (
                self.claimed_at.lock().unwrap().clone(),
                self.over_at.lock().unwrap().clone(),
                self.ready_at.lock().unwrap().clone(),
            )
        }
        fn checks(&self) -> usize {
            self.checks.load(std::sync::atomic::Ordering::SeqCst)
        }
        fn set(&self, mine: bool, fails: Option<WnError>) {
            *self.mine.lock().unwrap() = mine;
            *self.fails.lock().unwrap() = fails;
        }
    }

    impl NetworkProvider for Kind {
        fn key(&self) -> &str {
            self.key
        }
        fn display_name(&self) -> &str {
            self.key
        }
        fn connection_caps(&self) -> u32 {
            abi::WNNC_CON_ADDCONNECTION3
        }
        fn origin(&self) -> crate::plugin::Origin {
            crate::plugin::Origin::BuiltIn
        }
        fn claim(&self, _remote: &str, dir: &std::path::Path) -> Option<Result<(), NotMine>> {
            self.claimed_at.lock().unwrap().push(dir.to_path_buf());
            self.checks
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(if *self.mine.lock().unwrap() {
                Ok(())
            } else {
                Err(NotMine {
                    code: WnError::BadNetPath,
                    reason: format!("not a {} server", self.key),
                })
            })
        }
        fn get_ready(&self, _remote: &str, dir: &std::path::Path) {
            self.ready_at.lock().unwrap().push(dir.to_path_buf());
        }
        fn claims_over(&self, dir: &std::path::Path) {
            self.over_at.lock().unwrap().push(dir.to_path_buf());
        }
        fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("{} add {}", self.key, call.remote));
            match *self.fails.lock().unwrap() {
                Some(e) => {
                    lasterror::set(e.code(), format!("{} failed", self.key), self.key);
                    Err(e)
                }
                None => Ok(()),
            }
        }
        fn cancel_connection(&self, _call: &crate::plugin::CancelCall<'_>) -> Result<(), WnError> {
            Ok(())
        }
        fn get_connection(
            &self,
            _local: &str,
            _directory: Option<&std::path::Path>,
        ) -> Result<String, WnError> {
            Err(WnError::NotConnected)
        }
    }

    /// A router, its providers `a` and `b`, their connects' log, and the
    /// scratch directory.
    type Kinds = (
        Router,
        Arc<Kind>,
        Arc<Kind>,
        Arc<std::sync::Mutex<Vec<String>>>,
        tempfile::TempDir,
    );

    /// A router over built-in providers `a` (first, whose check says "not
    /// mine") and `b` (whose check says "mine"), with a memory store.
    fn kinds() -> Kinds {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let (a, b) = (Kind::new("a", false, &log), Kind::new("b", true, &log));
        let router = Router::new(super::super::RouterParts {
            providers: vec![
                super::super::ProviderSlot::Ready(a.clone() as Arc<dyn NetworkProvider>),
                super::super::ProviderSlot::Ready(b.clone() as Arc<dyn NetworkProvider>),
            ],
            notifyees: Vec::new(),
            store: crate::state::Store::memory(),
            drives_dir: dir.path().join("drives"),
            runtime_dir: dir.path().join("run"),
            observers: Vec::new(),
            max_retry_rounds: 3,
        });
        (router, a, b, log, dir)
    }

    fn add_bare(router: &Router, remote: &str) -> Result<String, WnError> {
        router
            .add(&AddRequest::new(super::super::AddApi::Add, None, remote, 0))
            .map(|o| o.provider)
    }

    #[test]
    fn what_the_checks_readied_is_let_go_once_the_connect_is_over() {
        let (router, a, b, _log, _dir) = kinds();
        let told = Kind::told;
        assert_eq!(add_bare(&router, r"\\h\s1"), Ok("b".into()));
        for k in [&a, &b] {
            let (claimed, over, ready) = told(k);
            assert_eq!(claimed.len(), 1, "{}", k.key);
            assert_eq!(
                ready, claimed,
                "got ready before the checks, for their directory"
            );
            assert_eq!(over, claimed, "told once, for the directory checked");
        }
        // A connect that fails is over too.
        b.set(true, Some(WnError::BadNetPath));
        assert!(add_bare(&router, r"\\g\s").is_err());
        for k in [&a, &b] {
            let (claimed, over, _) = told(k);
            assert_eq!(over.len(), 2, "{}", k.key);
            assert_eq!(over.last(), claimed.last());
        }
        // A URL runs no checks; what the providers got ready for it goes
        // all the same.
        let _ = add_bare(&router, "smb://h/s");
        let (claimed, over, ready) = told(&a);
        assert_eq!(claimed.len(), 2);
        assert_eq!((ready.len(), over.len()), (3, 3));
        assert_eq!(over.last(), ready.last());
        // A drive picked on the way is got ready by the checks only, and
        // let go once.
        b.set(true, None);
        let req = AddRequest::new(
            super::super::AddApi::Use,
            None,
            r"\\f\s",
            abi::CONNECT_REDIRECT,
        );
        assert_eq!(router.add(&req).map(|o| o.provider), Ok("b".into()));
        let (claimed, over, ready) = told(&b);
        assert_eq!(ready.len(), 3, "nothing readied before the drive is known");
        assert_eq!(over.len(), 4);
        assert_eq!(over.last(), claimed.last());
    }

    #[test]
    fn a_provider_asked_by_name_gets_ready_and_lets_go_once_the_connect_is_over() {
        let (router, a, b, _log, dir) = kinds();
        // What it was told to get ready for, and that the connect was over.
        let told = |k: &Kind| {
            let (_, over, ready) = k.told();
            (ready, over)
        };
        let named = |local: Option<&str>, flags: u32| {
            let mut req = AddRequest::new(super::super::AddApi::Use, local, r"\\h\s", flags);
            req.provider = Some("b".into());
            router.add(&req).map(|o| o.provider)
        };
        assert_eq!(named(Some("X:"), 0), Ok("b".into()));
        let (ready, over) = told(&b);
        assert_eq!(ready, [dir.path().join("drives").join("X")]);
        assert_eq!(over, ready, "told once, for the directory readied");
        assert_eq!(
            (a.checks(), b.checks()),
            (0, 0),
            "no checks for a named one"
        );
        assert_eq!(
            told(&a),
            (vec![], vec![]),
            "the other provider is not asked"
        );
        // A connect that fails is over too.
        b.set(true, Some(WnError::BadNetPath));
        assert_eq!(named(Some("Y:"), 0), Err(WnError::BadNetPath));
        let (ready, over) = told(&b);
        assert_eq!(ready.len(), 2);
        assert_eq!(over, ready);
        // A drive still to be picked: where it goes is not known, so
        // nothing is readied.
        b.set(true, None);
        assert_eq!(named(None, abi::CONNECT_REDIRECT), Ok("b".into()));
        assert_eq!(told(&b).0.len(), 2);
        assert_eq!(told(&b).1.len(), 2);
    }

    #[test]
    fn a_second_bare_name_to_a_server_asks_no_checks() {
        let (router, a, b, log, _dir) = kinds();
        assert_eq!(add_bare(&router, r"\\h\s1"), Ok("b".into()));
        assert_eq!((a.checks(), b.checks()), (1, 1));
        // The same server (its host in any case): straight to `b`.
        assert_eq!(add_bare(&router, r"\\h\s2"), Ok("b".into()));
        assert_eq!(add_bare(&router, r"\\H\s3"), Ok("b".into()));
        assert_eq!((a.checks(), b.checks()), (1, 1));
        // Another port is another server: checked.
        assert_eq!(add_bare(&router, r"\\h@99\s"), Ok("b".into()));
        assert_eq!((a.checks(), b.checks()), (2, 2));
        assert_eq!(
            *log.lock().unwrap(),
            [
                r"b add \\h\s1",
                r"b add \\h\s2",
                r"b add \\H\s3",
                r"b add \\h@99\s"
            ]
        );
        // A URL names its kind: neither checks nor the cache.
        let _ = add_bare(&router, "smb://h/s4");
        assert_eq!((a.checks(), b.checks()), (2, 2));
    }

    #[test]
    fn a_server_that_changed_kind_is_checked_again_and_goes_where_the_checks_say() {
        let (router, a, b, log, _dir) = kinds();
        assert_eq!(add_bare(&router, r"\\h\s1"), Ok("b".into()));
        // Now an `a` server answers on that port.
        a.set(true, None);
        b.set(false, Some(WnError::BadNetPath));
        assert_eq!(add_bare(&router, r"\\h\s2"), Ok("a".into()));
        // `a` was checked again; `b`'s check runs beside it and need not
        // have finished when the first provider in order claimed the name.
        assert_eq!(a.checks(), 2);
        assert!((1..=2).contains(&b.checks()), "{}", b.checks());
        assert_eq!(
            *log.lock().unwrap(),
            [r"b add \\h\s1", r"b add \\h\s2", r"a add \\h\s2"]
        );
        // And the cache says so from now on: no check is asked again.
        assert_eq!(add_bare(&router, r"\\h\s3"), Ok("a".into()));
        assert_eq!(a.checks(), 2);
        assert!((1..=2).contains(&b.checks()), "{}", b.checks());
    }

    #[test]
    fn a_failure_the_checks_confirm_asks_each_provider_once() {
        let (router, a, b, log, _dir) = kinds();
        assert_eq!(add_bare(&router, r"\\h\s1"), Ok("b".into()));
        // A wrong password is the server's own answer: no checks again.
        b.set(true, Some(WnError::BadPassword));
        assert_eq!(add_bare(&router, r"\\h\s2"), Err(WnError::BadPassword));
        assert_eq!((a.checks(), b.checks()), (1, 1));
        // No such share: the checks are asked again, still say `b`, and
        // `b`'s answer stands without a second connect.
        b.set(true, Some(WnError::BadNetName));
        assert_eq!(add_bare(&router, r"\\h\s3"), Err(WnError::BadNetName));
        assert_eq!((a.checks(), b.checks()), (2, 2));
        assert_eq!(
            log.lock()
                .unwrap()
                .iter()
                .filter(|l| l.ends_with("s3"))
                .count(),
            1
        );
        // The entry stands.
        b.set(true, None);
        assert_eq!(add_bare(&router, r"\\h\s4"), Ok("b".into()));
        assert_eq!((a.checks(), b.checks()), (2, 2));
    }
}
