//! The router: validation, connection notifications, provider selection and
//! state (spec §5–§8).
//!
//! One concern per file:
//!
//! - `request`: what callers ask for and what they get back;
//! - `validate`: the checks made before anything is notified (§5, §7.1);
//! - `cycle`: trying providers in order and the error precedence (§6);
//! - `notify`: the PRE/POST rounds, vetoes, contexts and retries (§7);
//! - `table`: reserving, committing and clearing names in the live table;
//! - `add`, `cancel`: the two notified operations, glueing the above;
//! - `status`: health, `WNetGetConnection` and the `net use` listing;
//! - `restore`: remembered connections, reconnected without notifications;
//! - `observe`: the events the router hands its [`Observer`]s.
//!
//! Decisions are kept apart from acting on them: [`Router::add`] and
//! [`Router::cancel`] validate first (no notification for a request that
//! fails validation), then run notification rounds around the provider
//! phase, and commit state under a lock that is never held across a plugin
//! call.

mod add;
mod cancel;
mod claims;
mod cycle;
mod notify;
mod observe;
mod request;
mod restore;
mod status;
mod table;
mod validate;

#[cfg(test)]
mod testkit;

pub use request::{
    ADD_FLAGS_ALLOWED, AddApi, AddOutcome, AddRequest, CANCEL_FLAGS_ALLOWED, CancelOutcome,
    CancelRequest,
};
pub use restore::RestoreResult;
pub use status::{ConnState, ConnectionStatus, Health};
pub use validate::MAX_CREDENTIAL_BYTES;

use crate::WnError;
use crate::config::{Isolation, Policy};
use crate::event::{Event, Observer};
use crate::lasterror;
use crate::plugin::{ConnectNotifier, NetworkProvider, Secret};
use crate::state::Store;
use observe::Observers;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A provider as registered: loaded, or refused with a reason.
#[derive(Debug, Clone)]
pub enum ProviderSlot {
    /// Loaded and usable.
    Ready(Arc<dyn NetworkProvider>),
    /// Registered but not usable (trust checks, load failure).
    Refused {
        /// The key.
        key: String,
        /// The display name.
        name: String,
        /// The library path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What happened to a registered notifyee at load time.
#[derive(Debug, Clone)]
pub enum NotifyeeState {
    /// Loaded.
    Ready(Arc<dyn ConnectNotifier>),
    /// Refused by the trust checks or not loadable: its policy decides.
    Refused(String),
    /// Loaded, but exports neither function: ignored.
    Ignored(String),
}

/// A registered notifyee.
#[derive(Debug, Clone)]
pub struct NotifyeeSlot {
    /// The registration name.
    pub name: String,
    /// The library path.
    pub path: PathBuf,
    /// How it runs.
    pub isolation: Isolation,
    /// What its failures do.
    pub policy: Policy,
    /// Its state.
    pub state: NotifyeeState,
}

/// Everything a router is built from.
#[derive(Debug)]
pub struct RouterParts {
    /// Providers in `order`.
    pub providers: Vec<ProviderSlot>,
    /// Notifyees in registration order.
    pub notifyees: Vec<NotifyeeSlot>,
    /// State files.
    pub store: Store,
    /// Where drive letters are mounted.
    pub drives_dir: PathBuf,
    /// The runtime directory (deviceless mounts under `unc/`).
    pub runtime_dir: PathBuf,
    /// Who is told what happens (the audit journal, progress displays).
    pub observers: Vec<Arc<dyn Observer>>,
    /// The bound on retry rounds.
    pub max_retry_rounds: u32,
}

/// Where the router finds a saved password (the user's keyring, in `mpr`)
/// for a connection asked for with a user and no password: each provider
/// is asked for its own, so a password saved for one kind of server never
/// reaches another provider.
pub trait SavedCredentials: Send + Sync + std::fmt::Debug {
    /// The password saved for `user` on the server of `remote` (a
    /// validated remote name) through the provider with key `provider`,
    /// if any. Failures are the implementation's to report; they mean
    /// `None` here.
    fn password(&self, provider: &str, remote: &str, user: &str) -> Option<Secret>;
}

/// The Multiple Provider Router.
#[derive(Debug)]
pub struct Router {
    providers: Vec<ProviderSlot>,
    notifyees: Vec<NotifyeeSlot>,
    store: Store,
    drives_dir: PathBuf,
    runtime_dir: PathBuf,
    observers: Observers,
    max_retry_rounds: u32,
    saved: Option<Arc<dyn SavedCredentials>>,
}

/// Records the router's own failure detail and returns the error.
fn fail<T>(err: WnError, text: impl Into<String>) -> Result<T, WnError> {
    lasterror::set(err.code(), text, "mpr");
    Err(err)
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new operation id: the pid and the time, unique enough to join the
/// events of one operation in the journal.
fn op_id() -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}-{}{:09}",
        std::process::id(),
        n.as_secs(),
        n.subsec_nanos()
    )
}

impl Router {
    /// Builds a router.
    pub fn new(parts: RouterParts) -> Router {
        Router {
            providers: parts.providers,
            notifyees: parts.notifyees,
            store: parts.store,
            drives_dir: parts.drives_dir,
            runtime_dir: parts.runtime_dir,
            observers: Observers::new(parts.observers),
            max_retry_rounds: parts.max_retry_rounds,
            saved: None,
        }
    }

    /// Sets where saved passwords come from: an add or restore with a user
    /// and no password then takes the one saved for that provider, server
    /// and user.
    pub fn use_saved_credentials(&mut self, saved: Arc<dyn SavedCredentials>) {
        self.saved = Some(saved);
    }

    /// Adds an observer of the router's events (after those it was built
    /// with).
    pub fn observe(&mut self, observer: Arc<dyn Observer>) {
        self.observers.push(observer);
    }

    /// Hands `event` to the router's observers (the audit journal first):
    /// for what a caller of the router does with its results, such as the
    /// agent's repairs.
    pub fn announce(&self, event: Event) {
        self.observers.emit(|| event);
    }

    /// The providers in order.
    pub fn providers(&self) -> &[ProviderSlot] {
        &self.providers
    }

    /// The notifyees in registration order.
    pub fn notifyees(&self) -> &[NotifyeeSlot] {
        &self.notifyees
    }

    /// The state store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn ready_providers(&self) -> impl Iterator<Item = &Arc<dyn NetworkProvider>> {
        self.providers.iter().filter_map(|p| match p {
            ProviderSlot::Ready(p) => Some(p),
            ProviderSlot::Refused { .. } => None,
        })
    }

    /// Finds a provider by key or display name, case-insensitively.
    fn find_provider(&self, wanted: &str) -> Result<&Arc<dyn NetworkProvider>, WnError> {
        for slot in &self.providers {
            match slot {
                ProviderSlot::Ready(p)
                    if p.key().eq_ignore_ascii_case(wanted)
                        || p.display_name().eq_ignore_ascii_case(wanted) =>
                {
                    return Ok(p);
                }
                ProviderSlot::Refused {
                    key, name, reason, ..
                } if key.eq_ignore_ascii_case(wanted) || name.eq_ignore_ascii_case(wanted) => {
                    return fail(
                        WnError::AccessDenied,
                        format!("provider {key} is registered but not usable: {reason}"),
                    );
                }
                _ => {}
            }
        }
        fail(
            WnError::BadProvider,
            format!("no provider is called {wanted:?} (see `mpr provider list`)"),
        )
    }

    fn provider_by_key(&self, key: &str) -> Option<&Arc<dyn NetworkProvider>> {
        self.ready_providers().find(|p| p.key() == key)
    }

    fn provider_display(&self, key: &str) -> String {
        self.provider_by_key(key)
            .map_or_else(|| key.to_string(), |p| p.display_name().to_string())
    }
}
