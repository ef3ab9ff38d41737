//! The providers' claims of a bare UNC name: every built-in provider's
//! check started at once, or replayed from the prefix cache
//! ([`crate::prefixes`]) when the checks answered for that server lately.

use crate::plugin::{Claim, NetworkProvider, NotMine};
use crate::prefixes::Answer;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};

/// Tells every provider, when dropped, that the connect a bare name's
/// checks ran for (or the one the providers got ready for) is over
/// ([`NetworkProvider::claims_over`]).
pub(super) struct Over<'a> {
    pub(super) providers: &'a [&'a Arc<dyn NetworkProvider>],
    pub(super) directory: &'a Path,
}

impl Drop for Over<'_> {
    fn drop(&mut self) {
        for p in self.providers {
            p.claims_over(self.directory);
        }
    }
}

/// One provider's claim, as far as it is known.
enum Slot {
    /// No claims for this name (a URL names its kind): asked in its turn.
    NoClaims,
    /// Its check runs in a thread of its own.
    Running(Receiver<Claim>),
    /// Its check is started only if its answer is needed (a remembered
    /// pass that goes past the provider the cache names).
    Later(Arc<dyn NetworkProvider>),
    /// Its answer.
    Known(Claim),
}

/// The claims of one bare name, in the providers' order. A thread whose
/// answer is not needed (an earlier provider took the name) runs out its
/// bound on its own; nobody waits for it.
pub(super) struct Claims {
    slots: Vec<Mutex<Slot>>,
    /// The name checked.
    remote: String,
    /// Where the connection will be made.
    directory: PathBuf,
}

impl Claims {
    /// No checks (a URL names its provider's kind itself).
    pub(super) fn none(n: usize) -> Claims {
        Claims {
            slots: (0..n).map(|_| Mutex::new(Slot::NoClaims)).collect(),
            remote: String::new(),
            directory: PathBuf::new(),
        }
    }

    /// Starts every provider's check of `remote`, to be connected at
    /// `directory`.
    pub(super) fn start(
        providers: &[&Arc<dyn NetworkProvider>],
        remote: &str,
        directory: &Path,
    ) -> Claims {
        let slots = providers
            .iter()
            .map(|p| {
                let (tx, rx) = std::sync::mpsc::channel();
                let p2 = Arc::clone(p);
                let (remote2, directory2) = (remote.to_string(), directory.to_path_buf());
                let spawned =
                    std::thread::Builder::new()
                        .name("mpr-claim".into())
                        .spawn(move || {
                            let _ = tx.send(p2.claim(&remote2, &directory2));
                        });
                Mutex::new(match spawned {
                    Ok(_) => Slot::Running(rx),
                    // Without a thread, the check runs when its turn comes.
                    Err(_) => Slot::Later(Arc::clone(p)),
                })
            })
            .collect();
        Claims {
            slots,
            remote: remote.to_string(),
            directory: directory.to_path_buf(),
        }
    }

    /// The answers the cache kept; a provider it has no answer for is
    /// checked when (and only if) its turn comes.
    pub(super) fn remembered(
        providers: &[&Arc<dyn NetworkProvider>],
        remote: &str,
        directory: &Path,
        answers: &[Answer],
    ) -> Claims {
        let slots = providers
            .iter()
            .zip(answers)
            .map(|(p, a)| {
                Mutex::new(match a {
                    Answer::NoCheck => Slot::Known(None),
                    Answer::Mine => Slot::Known(Some(Ok(()))),
                    Answer::NotMine { reason, .. } => Slot::Known(Some(Err(NotMine {
                        code: a.error().unwrap_or(crate::WnError::BadNetName),
                        reason: reason.clone(),
                    }))),
                    Answer::Unasked => Slot::Later(Arc::clone(p)),
                })
            })
            .collect();
        Claims {
            slots,
            remote: remote.to_string(),
            directory: directory.to_path_buf(),
        }
    }

    /// Provider `i`'s answer, once it has one.
    pub(super) fn answer(&self, i: usize) -> Claim {
        let mut slot = self
            .slots
            .get(i)?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let claim = match &*slot {
            Slot::NoClaims => return None,
            Slot::Known(c) => return c.clone(),
            Slot::Running(rx) => rx.recv().ok().flatten(),
            Slot::Later(p) => p.claim(&self.remote, &self.directory),
        };
        *slot = Slot::Known(claim.clone());
        claim
    }

    /// The answers had so far, for the cache: [`Answer::Unasked`] for a
    /// provider whose answer was not needed.
    pub(super) fn seen(&self) -> Vec<Answer> {
        self.slots
            .iter()
            .map(
                |s| match &*s.lock().unwrap_or_else(PoisonError::into_inner) {
                    Slot::Known(None) => Answer::NoCheck,
                    Slot::Known(Some(Ok(()))) => Answer::Mine,
                    Slot::Known(Some(Err(n))) => Answer::NotMine {
                        code: n.code.code(),
                        reason: n.reason.clone(),
                    },
                    _ => Answer::Unasked,
                },
            )
            .collect()
    }
}
