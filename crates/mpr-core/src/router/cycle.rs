//! Trying providers in order, and the error precedence of §6: "not mine"
//! answers go on to the next provider, a few answers end the cycling at
//! once (nobody else can own that), the first other failure is the one
//! reported, and "no network" is remembered for the final answer.

use crate::WnError;
use crate::lasterror::{self, LastError};
use crate::plugin::NetworkProvider;
use std::sync::Arc;

/// What is being cycled for: the "not mine" answers differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    /// `NPAddConnection*`.
    Add,
    /// `NPCancelConnection`.
    Cancel,
    /// `NPGetConnection`.
    Get,
}

impl Ask {
    /// The answer when every provider said "not mine".
    fn nobody(self) -> WnError {
        match self {
            Ask::Add => WnError::BadNetName,
            Ask::Cancel | Ask::Get => WnError::NotConnected,
        }
    }

    /// Whether a provider answer means "not mine" (§6).
    fn not_mine(self, e: WnError) -> bool {
        matches!(
            e,
            WnError::BadNetName
                | WnError::BadNetPath
                | WnError::BadValue
                | WnError::BadLevel
                | WnError::NotSupported
        ) || (self != Ask::Add && e == WnError::NotConnected)
    }

    /// Whether a provider answer ends cycling (nobody else can own that,
    /// §6; for get, a caller's buffer that is too small, too).
    fn ends(self, e: WnError) -> bool {
        matches!(
            e,
            WnError::AlreadyConnected
                | WnError::OpenFiles
                | WnError::ExtendedError
                | WnError::Cancel
        ) || (self == Ask::Get && e == WnError::MoreData)
    }
}

/// The error precedence of §6, fed one provider answer at a time.
#[derive(Debug)]
struct Precedence {
    ask: Ask,
    first_significant: Option<(WnError, Option<LastError>)>,
    saw_no_network: bool,
    /// What the providers that failed explained (`provider: text`).
    reasons: Vec<String>,
}

impl Precedence {
    fn new(ask: Ask) -> Precedence {
        Precedence {
            ask,
            first_significant: None,
            saw_no_network: false,
            reasons: Vec::new(),
        }
    }

    /// Feeds one failure; `true` if cycling must stop here.
    fn feed(&mut self, e: WnError) -> bool {
        if self.ask.ends(e) {
            return true;
        }
        let detail = lasterror::get();
        if e == WnError::NoNetwork {
            self.saw_no_network = true;
        } else if !self.ask.not_mine(e) && self.first_significant.is_none() {
            self.first_significant = Some((e, detail.clone()));
        }
        if let Some(d) = detail.filter(|d| !d.text.is_empty()) {
            self.reasons.push(format!("{}: {}", d.provider, d.text));
        }
        false
    }

    /// The final answer, with its extended error restored.
    fn finish(self) -> WnError {
        match self.first_significant {
            Some((e, detail)) => {
                match detail {
                    Some(d) => lasterror::set(d.code, d.text, d.provider),
                    None => lasterror::clear(),
                }
                e
            }
            None => {
                lasterror::clear();
                if self.saw_no_network {
                    WnError::NoNetOrBadPath
                } else {
                    self.ask.nobody()
                }
            }
        }
    }
}

/// How a pass over the providers ended without a taker.
#[derive(Debug)]
pub(super) struct NoTaker {
    /// The answer (§6 precedence).
    pub error: WnError,
    /// How many providers were asked.
    pub asked: usize,
    /// What the providers that failed explained (`provider: text`).
    pub reasons: Vec<String>,
}

/// Asks `providers` in order with `call` until one takes the request:
/// its answer, or the §6 answer when none did. `call` clears and sets the
/// extended error as it goes; the one returned is the one that counts.
pub(super) fn first_taker<'p, T>(
    providers: impl Iterator<Item = &'p Arc<dyn NetworkProvider>>,
    ask: Ask,
    mut call: impl FnMut(&'p Arc<dyn NetworkProvider>) -> Result<T, WnError>,
) -> Result<(&'p Arc<dyn NetworkProvider>, T), NoTaker> {
    let mut precedence = Precedence::new(ask);
    let mut asked = 0;
    for p in providers {
        asked += 1;
        match call(p) {
            Ok(t) => return Ok((p, t)),
            Err(e) if precedence.feed(e) => {
                return Err(NoTaker {
                    error: e,
                    asked,
                    reasons: precedence.reasons,
                });
            }
            Err(_) => {}
        }
    }
    let reasons = std::mem::take(&mut precedence.reasons);
    Err(NoTaker {
        error: precedence.finish(),
        asked,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Scripted;
    use super::*;

    /// Cycles over providers answering `answers` (each sets its own
    /// extended error); the final error and the providers asked.
    fn cycle(ask: Ask, answers: &[Result<(), WnError>]) -> (Result<String, WnError>, usize) {
        let providers: Vec<Arc<dyn NetworkProvider>> = answers
            .iter()
            .enumerate()
            .map(|(i, a)| Arc::new(Scripted::new(&format!("p{i}"), *a)) as Arc<dyn NetworkProvider>)
            .collect();
        let mut asked = 0;
        let r = first_taker(providers.iter(), ask, |p| {
            asked += 1;
            lasterror::clear();
            p.add_connection(&Scripted::call())
        });
        (
            r.map(|(p, ())| p.key().to_string()).map_err(|n| n.error),
            asked,
        )
    }

    #[test]
    fn the_first_success_wins_and_later_providers_are_not_asked() {
        let (r, asked) = cycle(
            Ask::Add,
            &[Err(WnError::BadNetName), Ok(()), Err(WnError::AccessDenied)],
        );
        assert_eq!((r, asked), (Ok("p1".into()), 2));
    }

    #[test]
    fn the_first_significant_error_is_reported_with_its_detail() {
        let (r, asked) = cycle(
            Ask::Add,
            &[
                Err(WnError::BadNetName),
                Err(WnError::BadPassword),
                Err(WnError::AccessDenied),
            ],
        );
        assert_eq!((r, asked), (Err(WnError::BadPassword), 3));
        assert_eq!(lasterror::get().unwrap().provider, "p1");
    }

    #[test]
    fn no_network_is_remembered_when_nobody_claims_the_name() {
        let (r, _) = cycle(
            Ask::Add,
            &[Err(WnError::NoNetwork), Err(WnError::BadNetPath)],
        );
        assert_eq!(r, Err(WnError::NoNetOrBadPath));
        // A significant error still beats it.
        let (r, _) = cycle(
            Ask::Add,
            &[Err(WnError::NoNetwork), Err(WnError::AccessDenied)],
        );
        assert_eq!(r, Err(WnError::AccessDenied));
    }

    #[test]
    fn answers_nobody_else_can_own_end_the_cycling() {
        for e in [
            WnError::AlreadyConnected,
            WnError::OpenFiles,
            WnError::ExtendedError,
            WnError::Cancel,
        ] {
            let (r, asked) = cycle(Ask::Add, &[Err(WnError::BadPassword), Err(e), Ok(())]);
            assert_eq!((r, asked), (Err(e), 2), "{e:?}");
        }
    }

    #[test]
    fn nobody_claiming_means_bad_net_name_for_add_and_not_connected_otherwise() {
        let all = [Err(WnError::BadNetName), Err(WnError::NotSupported)];
        assert_eq!(cycle(Ask::Add, &all).0, Err(WnError::BadNetName));
        assert_eq!(cycle(Ask::Cancel, &all).0, Err(WnError::NotConnected));
        assert_eq!(cycle(Ask::Get, &all).0, Err(WnError::NotConnected));
        assert!(lasterror::get().is_none());
    }

    #[test]
    fn not_connected_is_not_mine_for_cancel_but_significant_for_add() {
        let answers = [Err(WnError::NotConnected), Err(WnError::BadNetName)];
        assert_eq!(cycle(Ask::Add, &answers).0, Err(WnError::NotConnected));
        assert_eq!(
            cycle(
                Ask::Cancel,
                &[Err(WnError::NotConnected), Err(WnError::AccessDenied)]
            )
            .0,
            Err(WnError::AccessDenied)
        );
    }

    #[test]
    fn a_small_buffer_ends_a_get_at_once() {
        let (r, asked) = cycle(Ask::Get, &[Err(WnError::MoreData), Ok(())]);
        assert_eq!((r, asked), (Err(WnError::MoreData), 1));
        let (r, _) = cycle(Ask::Add, &[Err(WnError::MoreData), Ok(())]);
        assert_eq!(r, Ok("p1".into()));
    }
}
