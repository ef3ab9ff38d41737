//! The session with the server, kept alive in one place: every back-end
//! call is bounded, a lost session ([`FsError::Disconnected`]) is
//! re-established with backoff by one task while the other operations wait
//! for that same reconnect (within their own bound), and the mount's
//! [`Health`] is kept and published as it changes.

use crate::backend::Backend;
use crate::error::{ConnectError, FsError};
use crate::health::Health;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How the session is kept.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The first pause between two connect attempts.
    pub backoff_initial: Duration,
    /// The longest pause between two connect attempts.
    pub backoff_max: Duration,
    /// When every operation for this long failed with an I/O error, the
    /// mount is published as unavailable.
    pub failing_window: Duration,
}

/// Whether a connect error will not heal by waiting (a refused password,
/// a share that is gone): the mount is then unavailable, not reconnecting.
pub fn is_permanent(e: &ConnectError) -> bool {
    match e {
        ConnectError::BadPassword
        | ConnectError::LogonFailure(_)
        | ConnectError::AccessDenied(_)
        | ConnectError::NoSuchShare(_)
        | ConnectError::Identity(_)
        | ConnectError::HostKey(_) => true,
        ConnectError::Unreachable(_) | ConnectError::Other(_) => false,
    }
}

/// Whether an operation's error means the server did not answer it (an
/// I/O failure), as opposed to an answer such as "no such file".
pub fn is_io_failure(e: &FsError) -> bool {
    matches!(
        e,
        FsError::Io(_) | FsError::TimedOut | FsError::Disconnected(_) | FsError::Connect(_)
    )
}

/// The mount's health, published to a file on every change.
#[derive(Debug)]
pub struct HealthState {
    file: Option<PathBuf>,
    current: Mutex<Option<Health>>,
    failing_since: Mutex<Option<Instant>>,
    window: Duration,
}

impl HealthState {
    fn new(file: Option<PathBuf>, window: Duration) -> HealthState {
        HealthState {
            file,
            current: Mutex::new(None),
            failing_since: Mutex::new(None),
            window,
        }
    }

    /// The health now (OK before anything happened).
    pub fn get(&self) -> Health {
        self.current
            .lock()
            .expect("health lock")
            .clone()
            .unwrap_or(Health::Ok)
    }

    /// Sets and publishes the health, if it changed.
    pub fn set(&self, h: Health) {
        let mut cur = self.current.lock().expect("health lock");
        if cur.as_ref() == Some(&h) {
            return;
        }
        if let Some(path) = &self.file {
            // A failed write of the health file must not fail the file
            // system's operation; the router then sees the last state.
            let _ = h.publish(path);
        }
        *cur = Some(h);
    }

    /// The server answered: the mount is OK.
    fn answered(&self) {
        *self.failing_since.lock().expect("health lock") = None;
        self.set(Health::Ok);
    }

    /// An operation failed with an I/O error: if every operation failed so
    /// for the whole window, the mount is unavailable (a share whose every
    /// operation fails is not OK).
    fn failed(&self, reason: &FsError) {
        let now = Instant::now();
        let since = *self
            .failing_since
            .lock()
            .expect("health lock")
            .get_or_insert(now);
        if now.duration_since(since) >= self.window {
            // While a reconnect is under way, it owns the state.
            if !matches!(self.get(), Health::Reconnecting { .. }) {
                self.set(Health::Unavailable {
                    reason: reason.to_string(),
                });
            }
        }
    }
}

/// The session: its generation (a number that grows with each reconnect,
/// so open handles know they must be opened again), the reconnect lock and
/// the health.
#[derive(Debug)]
pub struct Connection {
    generation: AtomicU64,
    /// Tells waiting operations that the generation moved on.
    replaced: tokio::sync::watch::Sender<u64>,
    reconnecting: tokio::sync::Mutex<()>,
    checking: AtomicBool,
    policy: Policy,
    /// The mount's health.
    pub health: HealthState,
}

impl Connection {
    /// A connection (not yet connected) publishing its health to `file`.
    pub fn new(policy: Policy, file: Option<PathBuf>) -> Connection {
        Connection {
            generation: AtomicU64::new(0),
            replaced: tokio::sync::watch::Sender::new(0),
            reconnecting: tokio::sync::Mutex::new(()),
            checking: AtomicBool::new(false),
            health: HealthState::new(file, policy.failing_window),
            policy,
        }
    }

    /// The session generation now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Returns once the session of generation `seen` has been replaced
    /// (at once if it already is).
    pub async fn replaced(&self, seen: u64) {
        let mut rx = self.replaced.subscribe();
        // The sender lives as long as `self`: the wait ends only by a change.
        let _ = rx.wait_for(|g| *g != seen).await;
    }

    /// Claims the one check of the session (see `Fs::check_session`):
    /// false if one is under way.
    pub fn start_check(&self) -> bool {
        !self.checking.swap(true, Ordering::SeqCst)
    }

    /// The check of the session is over.
    pub fn end_check(&self) {
        self.checking.store(false, Ordering::SeqCst);
    }

    /// Records how an operation ended, for the health.
    pub fn observe<T>(&self, r: &Result<T, FsError>) {
        match r {
            Err(e) if is_io_failure(e) => self.health.failed(e),
            _ => self.health.answered(),
        }
    }

    /// Re-establishes the session lost in generation `seen` (because of
    /// `reason`), retrying with backoff until `deadline`. If another
    /// operation re-established it meanwhile, returns at once.
    pub async fn reconnect<B: Backend>(
        &self,
        backend: &B,
        seen: u64,
        reason: String,
        deadline: Instant,
    ) -> Result<(), FsError> {
        let _guard = tokio::time::timeout_at(deadline.into(), self.reconnecting.lock())
            .await
            .map_err(|_| FsError::TimedOut)?;
        if self.generation() != seen {
            return Ok(());
        }
        let mut delay = self.policy.backoff_initial;
        let mut reason = reason;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(FsError::TimedOut);
            }
            // A mount given up for now (the share is gone, the password
            // refused) stays Unavailable while it tries again, instead of
            // flapping through Reconnecting on every attempt.
            if !matches!(self.health.get(), Health::Unavailable { .. }) {
                self.health.set(Health::Reconnecting {
                    reason: reason.clone(),
                    next_attempt: epoch_secs(SystemTime::now()),
                });
            }
            match tokio::time::timeout_at(deadline.into(), backend.connect()).await {
                Err(_) => return Err(FsError::TimedOut),
                Ok(Ok(())) => {
                    let now = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                    self.replaced.send_replace(now);
                    self.health.answered();
                    return Ok(());
                }
                Ok(Err(FsError::Connect(e))) if is_permanent(&e) => {
                    self.health.set(Health::Unavailable {
                        reason: e.to_string(),
                    });
                    return Err(FsError::Connect(e));
                }
                Ok(Err(e)) => reason = e.to_string(),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FsError::TimedOut);
            }
            let pause = delay.min(left);
            self.health.set(Health::Reconnecting {
                reason: reason.clone(),
                next_attempt: epoch_secs(SystemTime::now() + pause),
            });
            tokio::time::sleep(pause).await;
            delay = (delay * 2).min(self.policy.backoff_max);
        }
    }
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
