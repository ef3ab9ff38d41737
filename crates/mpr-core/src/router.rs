//! The router: validation, connection notifications, provider selection and
//! state (spec §5–§8).
//!
//! Decisions are kept apart from acting on them: [`Router::add`] and
//! [`Router::cancel`] validate first (no notification for a request that
//! fails validation), then run notification rounds around the provider
//! phase (`Router::notify_rounds`), and commit state under a lock that is
//! never held across a plugin call.

use crate::config::{Isolation, Policy};
use crate::lasterror::{self, LastError};
use crate::names::{LocalName, RemoteName};
use crate::plugin::{
    AddNotice, CallFailure, CancelCall, CancelNotice, ConnectCall, ConnectNotifier,
    NetworkProvider, NotifyInfo, Phase, Secret,
};
use crate::state::{Live, Remembered, Store};
use crate::{Journal, WnError, fields};
use mpr_abi as abi;
use serde_json::Value;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The `CONNECT_*` bits an add request may carry.
pub const ADD_FLAGS_ALLOWED: u32 = abi::CONNECT_UPDATE_PROFILE
    | abi::CONNECT_UPDATE_RECENT
    | abi::CONNECT_TEMPORARY
    | abi::CONNECT_INTERACTIVE
    | abi::CONNECT_PROMPT
    | abi::CONNECT_NEED_DRIVE
    | abi::CONNECT_REFCOUNT
    | abi::CONNECT_REDIRECT
    | abi::CONNECT_CURRENT_MEDIA
    | abi::CONNECT_DEFERRED
    | abi::CONNECT_COMMANDLINE
    | abi::CONNECT_CMD_SAVECRED
    | abi::CONNECT_CRED_RESET
    | abi::CONNECT_REQUIRE_INTEGRITY
    | abi::CONNECT_REQUIRE_PRIVACY
    | abi::CONNECT_WRITE_THROUGH_SEMANTICS
    | abi::CONNECT_GLOBAL_MAPPING;

/// The `CONNECT_*` bits a cancel request may carry.
pub const CANCEL_FLAGS_ALLOWED: u32 = abi::CONNECT_UPDATE_PROFILE;

/// Which API an add request came through (their validation differs, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddApi {
    /// `WNetAddConnection`: persistent, any type, no provider.
    Legacy,
    /// `WNetAddConnection2` / `3`.
    Add,
    /// `WNetUseConnection` and the CLI: `CONNECT_REDIRECT` auto-picks a drive.
    Use,
}

/// An add request (`NETRESOURCE` plus credentials and flags).
#[derive(Debug, Clone)]
pub struct AddRequest {
    /// Which API.
    pub api: AddApi,
    /// Owner window (opaque; 0 is NULL).
    pub owner: usize,
    /// `RESOURCETYPE_*`.
    pub r#type: u32,
    /// The local name (`None` or empty: deviceless, or auto-pick with
    /// `CONNECT_REDIRECT`).
    pub local: Option<String>,
    /// The remote name (`None` is a NULL pointer).
    pub remote: Option<String>,
    /// The provider (`None` or empty: cycle).
    pub provider: Option<String>,
    /// The password.
    pub password: Option<Secret>,
    /// The user name.
    pub user: Option<String>,
    /// `CONNECT_*` flags.
    pub flags: u32,
}

impl AddRequest {
    /// A disk connection request through `api` with no credentials.
    pub fn new(api: AddApi, local: Option<&str>, remote: &str, flags: u32) -> AddRequest {
        AddRequest {
            api,
            owner: 0,
            r#type: abi::RESOURCETYPE_DISK,
            local: local.map(str::to_string),
            remote: Some(remote.to_string()),
            provider: None,
            password: None,
            user: None,
            flags,
        }
    }
}

/// What a successful add made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The local name connected (auto-picked ones included), if any.
    pub local: Option<String>,
    /// The remote name, normalised.
    pub remote: String,
    /// The provider key.
    pub provider: String,
    /// The provider display name.
    pub provider_name: String,
    /// The access name (`WNetUseConnection`): the local name, or the
    /// directory of a deviceless connection.
    pub access_name: String,
    /// Where the resource is reachable.
    pub directory: PathBuf,
    /// Whether a local name was redirected (`CONNECT_LOCALDRIVE`).
    pub redirected: bool,
    /// Whether it was remembered.
    pub remembered: bool,
}

/// A cancel request.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    /// A local name or a remote name (deviceless connections).
    pub name: String,
    /// 0 or `CONNECT_UPDATE_PROFILE` (forget the remembered connection).
    pub flags: u32,
    /// Cancel even with open files.
    pub force: bool,
}

/// What a successful cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOutcome {
    /// The name, normalised.
    pub name: String,
    /// The provider key that cancelled.
    pub provider: String,
    /// Its display name.
    pub provider_name: String,
    /// Whether a remembered connection was forgotten.
    pub forgotten: bool,
}

/// The health of a live connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Connected and answering.
    Ok,
    /// In the table, but the provider says it is gone.
    Unavailable,
}

/// One line of `net use`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// `OK`, `Unavailable` or `Remembered`.
    pub status: &'static str,
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
}

/// The result of restoring one remembered connection.
#[derive(Debug, Clone)]
pub struct RestoreResult {
    /// The remembered connection.
    pub entry: Remembered,
    /// `Ok(true)`: reconnected; `Ok(false)`: was already connected.
    pub result: Result<bool, WnError>,
    /// The detail of a failure.
    pub detail: Option<String>,
}

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
    /// The audit journal.
    pub journal: Journal,
    /// The bound on retry rounds.
    pub max_retry_rounds: u32,
}

/// The Multiple Provider Router.
#[derive(Debug)]
pub struct Router {
    parts: RouterParts,
}

/// Which operation a notification round serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Cancel,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Cancel => "cancel",
        }
    }
}

/// What the provider phase reports to the notification rounds.
struct PhaseResult {
    result: Result<(), WnError>,
    /// The display name of the provider that succeeded.
    provider_name: Option<String>,
    /// The local name after auto-pick.
    local: Option<String>,
}

/// A validated add: local name, remote name, explicit provider.
type ValidAdd<'a> = (
    Option<LocalName>,
    RemoteName,
    Option<&'a Arc<dyn NetworkProvider>>,
);

/// The result of a PRE call that failed, under the `veto` policy (§7.10):
/// `WN_CANCEL` for a crash or a timeout, `WN_ACCESS_DENIED` for a library
/// that could not be loaded (as for one refused at start-up).
fn veto_for(f: &CallFailure) -> WnError {
    match f {
        CallFailure::LoadFailed(_) => WnError::AccessDenied,
        CallFailure::Crashed(_) | CallFailure::TimedOut(_) => WnError::Cancel,
    }
}

/// Records the router's own failure detail and returns the error.
fn fail<T>(err: WnError, text: impl Into<String>) -> Result<T, WnError> {
    lasterror::set(err.code(), text, "mpr");
    Err(err)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

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

/// Whether a provider answer means "not mine" (§6).
fn not_mine(e: WnError, op: Op) -> bool {
    matches!(
        e,
        WnError::BadNetName
            | WnError::BadNetPath
            | WnError::BadValue
            | WnError::BadLevel
            | WnError::NotSupported
    ) || (op == Op::Cancel && e == WnError::NotConnected)
}

/// Whether a provider answer ends cycling (nobody else can own that, §6).
fn ends_cycling(e: WnError) -> bool {
    matches!(
        e,
        WnError::AlreadyConnected | WnError::OpenFiles | WnError::ExtendedError | WnError::Cancel
    )
}

/// The error precedence of §6, fed one provider answer at a time.
#[derive(Default)]
struct Cycling {
    first_significant: Option<(WnError, Option<LastError>)>,
    saw_no_network: bool,
    /// What the providers that said "not mine" explained (provider: text).
    reasons: Vec<String>,
}

impl Cycling {
    /// Feeds one failure; `true` if cycling must stop here.
    fn feed(&mut self, e: WnError, op: Op) -> bool {
        if ends_cycling(e) {
            return true;
        }
        if e == WnError::NoNetwork {
            self.saw_no_network = true;
        } else if !not_mine(e, op) && self.first_significant.is_none() {
            self.first_significant = Some((e, lasterror::get()));
        }
        if let Some(d) = lasterror::get().filter(|d| !d.text.is_empty()) {
            self.reasons.push(format!("{}: {}", d.provider, d.text));
        }
        false
    }

    fn finish(self, default: WnError) -> WnError {
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
                    default
                }
            }
        }
    }
}

impl Router {
    /// Builds a router.
    pub fn new(parts: RouterParts) -> Router {
        Router { parts }
    }

    /// The providers in order.
    pub fn providers(&self) -> &[ProviderSlot] {
        &self.parts.providers
    }

    /// The notifyees in registration order.
    pub fn notifyees(&self) -> &[NotifyeeSlot] {
        &self.parts.notifyees
    }

    /// The state store.
    pub fn store(&self) -> &Store {
        &self.parts.store
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.parts.journal
    }

    fn ready_providers(&self) -> impl Iterator<Item = &Arc<dyn NetworkProvider>> {
        self.parts.providers.iter().filter_map(|p| match p {
            ProviderSlot::Ready(p) => Some(p),
            ProviderSlot::Refused { .. } => None,
        })
    }

    /// Finds a provider by key or display name, case-insensitively.
    fn find_provider(&self, wanted: &str) -> Result<&Arc<dyn NetworkProvider>, WnError> {
        for slot in &self.parts.providers {
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

    /// The directory a connection is reachable at.
    fn directory_for(&self, local: Option<&LocalName>, remote: &RemoteName) -> PathBuf {
        match local {
            Some(l) => l.directory(&self.parts.drives_dir),
            None => {
                let mut d = self.parts.runtime_dir.join("unc");
                match remote.unc() {
                    Some(u) => {
                        let server = match u.port {
                            Some(p) => format!("{}@{p}", u.server),
                            None => u.server.clone(),
                        };
                        d.push(server);
                        if !u.share.is_empty() {
                            d.push(&u.share);
                        }
                    }
                    None => {
                        let rest = remote.as_str().split_once("://").map_or("", |(_, r)| r);
                        for part in rest
                            .split('/')
                            .filter(|p| !p.is_empty() && *p != "." && *p != "..")
                        {
                            d.push(part);
                        }
                    }
                }
                d
            }
        }
    }

    // ------------------------------------------------------------------
    // Add
    // ------------------------------------------------------------------

    /// Adds a connection (`WNetAddConnection*`, `WNetUseConnection`,
    /// `mpr use`), with notifications.
    pub fn add(&self, req: &AddRequest) -> Result<AddOutcome, WnError> {
        lasterror::clear();
        let started = Instant::now();
        let id = op_id();
        let valid = self.validate_add(req);
        let (local, remote, explicit) = match valid {
            Ok(v) => v,
            Err(e) => {
                self.journal_op(
                    &id,
                    "add",
                    req.local.as_deref().unwrap_or(""),
                    req.remote.as_deref().unwrap_or(""),
                    req.user.as_deref().unwrap_or(""),
                    None,
                    Err(e),
                    started,
                    false,
                );
                return Err(e);
            }
        };
        let auto_pick = local.is_none() && req.flags & abi::CONNECT_REDIRECT != 0;
        let local_text = local.as_ref().map(LocalName::display);
        let requested_provider = explicit.map(|p| p.display_name().to_string());
        let mut outcome: Option<AddOutcome> = None;
        let phase = |round: u32| -> PhaseResult {
            let r = self.add_provider_phase(
                req,
                local.as_ref(),
                &remote,
                explicit,
                auto_pick,
                &id,
                round,
            );
            match r {
                Ok(o) => {
                    let res = PhaseResult {
                        result: Ok(()),
                        provider_name: Some(o.provider_name.clone()),
                        local: o.local.clone(),
                    };
                    outcome = Some(o);
                    res
                }
                Err(e) => PhaseResult {
                    result: Err(e),
                    provider_name: None,
                    local: None,
                },
            }
        };
        let result = self.notify_rounds(
            Op::Add,
            &id,
            local_text.as_deref(),
            requested_provider.as_deref(),
            phase,
            &|ni, n, prov, loc| {
                n.add_notify(
                    ni,
                    &AddNotice {
                        owner: req.owner,
                        r#type: req.r#type,
                        local: loc,
                        remote: remote.as_str(),
                        provider: prov,
                        flags: req.flags,
                    },
                )
            },
        );
        // POST results of a successful operation are ignored (§7.6), so a
        // success here always comes with the outcome of the last round.
        let result = match (result, outcome) {
            (Ok(()), Some(o)) => Ok(o),
            (Ok(()), None) => fail(
                WnError::NetError,
                "internal error: success without an outcome",
            ),
            (Err(e), _) => Err(e),
        };
        let provider = result.as_ref().ok().map(|o| o.provider.clone());
        let shown_local = result
            .as_ref()
            .ok()
            .and_then(|o| o.local.clone())
            .or(local_text)
            .unwrap_or_default();
        self.journal_op(
            &id,
            "add",
            &shown_local,
            remote.as_str(),
            req.user.as_deref().unwrap_or(""),
            provider.as_deref(),
            result.as_ref().map(|_| ()).map_err(|e| *e),
            started,
            true,
        );
        result
    }

    fn validate_add(&self, req: &AddRequest) -> Result<ValidAdd<'_>, WnError> {
        if req.flags & !ADD_FLAGS_ALLOWED != 0 {
            return fail(
                WnError::BadValue,
                format!(
                    "unknown connection flag bits {:#x}",
                    req.flags & !ADD_FLAGS_ALLOWED
                ),
            );
        }
        let Some(remote_raw) = req.remote.as_deref() else {
            return fail(WnError::BadNetName, "no remote name was given");
        };
        let remote = RemoteName::parse(remote_raw).or_else(|e| {
            let shown: String = remote_raw.chars().take(80).map(|c| if c == '\0' { '\u{2400}' } else { c }).collect();
            fail(e, format!("{shown:?} is not a valid remote name (expected \\\\server\\share or a provider URL, at most {} characters)", crate::names::MAX_NAME_UNITS))
        })?;
        let local_raw = req.local.as_deref().unwrap_or("");
        let local = LocalName::parse(local_raw).or_else(|e| {
            let shown: String = local_raw.chars().take(80).map(|c| if c == '\0' { '\u{2400}' } else { c }).collect();
            let why = if e == WnError::BadDevType {
                "printers and serial devices are not supported".to_string()
            } else {
                "expected a drive letter A:-Z: or an absolute directory outside /proc, /sys and /dev".to_string()
            };
            fail(e, format!("{shown:?} is not a valid local name: {why}"))
        })?;
        match req.r#type {
            abi::RESOURCETYPE_ANY | abi::RESOURCETYPE_DISK => {}
            abi::RESOURCETYPE_PRINT => {
                return fail(WnError::BadDevType, "printer connections are not supported");
            }
            t => {
                return fail(
                    WnError::BadValue,
                    format!("resource type {t} is not RESOURCETYPE_ANY, _DISK or _PRINT"),
                );
            }
        }
        if local.is_some() && req.r#type == abi::RESOURCETYPE_ANY && req.api != AddApi::Legacy {
            return fail(
                WnError::BadValue,
                "a connection with a local name needs RESOURCETYPE_DISK",
            );
        }
        if local.is_none() && req.flags & abi::CONNECT_REDIRECT != 0 {
            match req.api {
                AddApi::Use if req.r#type == abi::RESOURCETYPE_DISK => {}
                AddApi::Use => {
                    return fail(
                        WnError::BadValue,
                        "picking a local name needs RESOURCETYPE_DISK",
                    );
                }
                _ => {
                    return fail(
                        WnError::BadPointer,
                        "CONNECT_REDIRECT without a local name needs WNetUseConnection",
                    );
                }
            }
        }
        let explicit = match req.provider.as_deref() {
            None | Some("") => None,
            Some(p) => Some(self.find_provider(p)?),
        };
        if let Some(l) = &local {
            let key = l.display();
            if let Some(e) = self
                .store()
                .live()?
                .into_iter()
                .find(|e| e.pending_pid.is_none() && e.local == key)
            {
                // A dead connection to the same resource is repaired by this
                // use (§5); anything else keeps the name taken.
                let repair = e.remote.eq_ignore_ascii_case(remote.as_str())
                    && self.health(&e) == Health::Unavailable;
                if !repair {
                    return fail(
                        WnError::AlreadyConnected,
                        format!("{key} is already connected to {}", e.remote),
                    );
                }
            }
            if let LocalName::Path(p) = l {
                check_directory(p)?;
            }
        }
        Ok((local, remote, explicit))
    }

    /// Reserves the local name, runs the providers, commits. `round` is the
    /// retry round (for the journal).
    #[allow(clippy::too_many_arguments)]
    fn add_provider_phase(
        &self,
        req: &AddRequest,
        local: Option<&LocalName>,
        remote: &RemoteName,
        explicit: Option<&Arc<dyn NetworkProvider>>,
        auto_pick: bool,
        id: &str,
        round: u32,
    ) -> Result<AddOutcome, WnError> {
        if let Some(l) = local {
            self.clear_dead(&l.display(), remote)?;
        }
        let mut tried: Vec<char> = Vec::new();
        loop {
            let (local_name, reserved_key) = self.reserve(local, remote, req, auto_pick, &tried)?;
            let result = self.add_once(req, local_name.as_ref(), remote, explicit, id, round);
            match result {
                Ok((provider, directory)) => {
                    let local_disp = local_name.as_ref().map(LocalName::display);
                    return self
                        .commit_add(
                            req,
                            local_name.as_ref(),
                            remote,
                            provider,
                            directory,
                            &reserved_key,
                        )
                        .map(|remembered| {
                            let directory = self.directory_for(local_name.as_ref(), remote);
                            AddOutcome {
                                access_name: local_disp
                                    .clone()
                                    .unwrap_or_else(|| directory.display().to_string()),
                                local: local_disp,
                                remote: remote.as_str().to_string(),
                                provider: provider.key().to_string(),
                                provider_name: provider.display_name().to_string(),
                                directory,
                                redirected: local_name.is_some(),
                                remembered,
                            }
                        });
                }
                Err(e) => {
                    self.release(&reserved_key);
                    match (&local_name, auto_pick, e) {
                        (Some(LocalName::Drive(c)), true, WnError::AlreadyConnected) => {
                            tried.push(*c)
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// Clears a dead connection of `key` to `remote` (its provider is told
    /// to drop it, forcibly, and the table forgets it), so that it can be
    /// made again. A live one, or one to another remote, is left alone.
    fn clear_dead(&self, key: &str, remote: &RemoteName) -> Result<(), WnError> {
        let Some(e) = self.store().live()?.into_iter().find(|e| {
            e.pending_pid.is_none()
                && e.local == key
                && e.remote.eq_ignore_ascii_case(remote.as_str())
        }) else {
            return Ok(());
        };
        if self.health(&e) == Health::Ok {
            return Ok(());
        }
        if let Some(p) = self.provider_by_key(&e.provider) {
            let dir = (!e.directory.is_empty()).then(|| PathBuf::from(&e.directory));
            let saved = lasterror::get();
            let _ = p.cancel_connection(&CancelCall {
                name: key,
                directory: dir.as_deref(),
                flags: 0,
                force: true,
            });
            match saved {
                Some(d) => lasterror::set(d.code, d.text, d.provider),
                None => lasterror::clear(),
            }
        }
        self.store()
            .update_live(|live| live.retain(|x| !(x.pending_pid.is_none() && x.local == key)))
    }

    /// Reserves a local name (or a deviceless remote) in the live table.
    fn reserve(
        &self,
        local: Option<&LocalName>,
        remote: &RemoteName,
        req: &AddRequest,
        auto_pick: bool,
        tried: &[char],
    ) -> Result<(Option<LocalName>, String), WnError> {
        let remembered = self.store().remembered()?;
        let pid = std::process::id();
        let remote_s = remote.as_str().to_string();
        let picked = self.store().update_live(|live| -> Result<(Option<LocalName>, String), WnError> {
            let taken = |key: &str| live.iter().any(|e| e.local == key);
            let candidate = if auto_pick {
                let letter = ('C'..='Z').rev().find(|c| {
                    let key = format!("{c}:");
                    !tried.contains(c) && !taken(&key) && !remembered.iter().any(|r| r.local == key)
                });
                match letter {
                    Some(c) => Some(LocalName::Drive(c)),
                    None => return fail(WnError::NoMoreEntries, "no free drive letter is left (C: to Z: are in use or remembered)"),
                }
            } else {
                local.cloned()
            };
            let key = match &candidate {
                Some(l) => {
                    let key = l.display();
                    if let Some(e) = live.iter().find(|e| e.local == key) {
                        let what = if e.pending_pid.is_some() { "being connected" } else { "already connected" };
                        return fail(WnError::AlreadyConnected, format!("{key} is {what} to {}", e.remote));
                    }
                    if req.flags & abi::CONNECT_UPDATE_PROFILE != 0 && req.flags & abi::CONNECT_TEMPORARY == 0
                        && let Some(r) = remembered.iter().find(|r| r.local == key && !r.remote.eq_ignore_ascii_case(&remote_s)) {
                            return fail(
                                WnError::DeviceAlreadyRemembered,
                                format!("{key} is remembered as a connection to {}; forget it first with `mpr use {key} --delete`", r.remote),
                            );
                        }
                    key
                }
                None => {
                    if let Some(e) = live.iter().find(|e| e.local.is_empty() && e.remote.eq_ignore_ascii_case(&remote_s)) {
                        let what = if e.pending_pid.is_some() { "being connected" } else { "already connected" };
                        return fail(WnError::AlreadyConnected, format!("{} is {what} without a local name", e.remote));
                    }
                    String::new()
                }
            };
            live.push(Live {
                local: key.clone(),
                remote: remote_s.clone(),
                provider: String::new(),
                user: String::new(),
                directory: String::new(),
                pending_pid: Some(pid),
                since: now_secs(),
            });
            Ok((candidate, key))
        })??;
        Ok(picked)
    }

    fn release(&self, key: &str) {
        let pid = std::process::id();
        let _ = self
            .store()
            .update_live(|live| live.retain(|e| !(e.pending_pid == Some(pid) && e.local == key)));
    }

    /// One pass over the providers.
    fn add_once<'p>(
        &'p self,
        req: &AddRequest,
        local: Option<&LocalName>,
        remote: &RemoteName,
        explicit: Option<&'p Arc<dyn NetworkProvider>>,
        id: &str,
        round: u32,
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
        };
        let try_one = |p: &Arc<dyn NetworkProvider>| -> Result<(), WnError> {
            let t = self.call_started();
            lasterror::clear();
            let r = p.add_connection(&call);
            // Without a journal the record is not even built.
            if let Some(t) = t {
                self.parts.journal.record(
                    "provider",
                    fields! {"op_id" => id, "op" => "add", "round" => round, "provider" => p.key(),
                    "local" => local_s.clone().unwrap_or_default(), "remote" => remote.as_str(),
                    "result" => r.err().map_or(0, WnError::code),
                    "result_name" => r.err().map_or("WN_SUCCESS", WnError::name),
                    "duration_us" => t.elapsed().as_micros() as u64},
                );
            }
            r
        };
        if let Some(p) = explicit {
            return try_one(p).map(|()| (p, directory.clone()));
        }
        let mut cycling = Cycling::default();
        let mut any = false;
        for p in self.ready_providers() {
            if p.connection_caps() & (abi::WNNC_CON_ADDCONNECTION | abi::WNNC_CON_ADDCONNECTION3)
                == 0
            {
                continue;
            }
            any = true;
            match try_one(p) {
                Ok(()) => return Ok((p, directory.clone())),
                Err(e) => {
                    if cycling.feed(e, Op::Add) {
                        return Err(e);
                    }
                }
            }
        }
        if !any {
            return fail(
                WnError::NoNetwork,
                "no provider can add connections (see `mpr provider list`)",
            );
        }
        let reasons = cycling.reasons.join("; ");
        let e = cycling.finish(WnError::BadNetName);
        if lasterror::get().is_none() {
            let why = if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({reasons})")
            };
            let text = match e {
                WnError::BadNetName => format!("no provider accepted {}{why}", remote.as_str()),
                WnError::NoNetOrBadPath => {
                    format!(
                        "no provider accepted {}, and a provider's network is unavailable{why}",
                        remote.as_str()
                    )
                }
                _ => String::new(),
            };
            if !text.is_empty() {
                lasterror::set(e.code(), text, "mpr");
            }
        }
        Err(e)
    }

    /// Turns the reservation into a connection; remembers it if asked.
    fn commit_add(
        &self,
        req: &AddRequest,
        local: Option<&LocalName>,
        remote: &RemoteName,
        provider: &Arc<dyn NetworkProvider>,
        directory: PathBuf,
        reserved_key: &str,
    ) -> Result<bool, WnError> {
        let pid = std::process::id();
        let user = req.user.clone().unwrap_or_default();
        self.store().update_live(|live| {
            live.retain(|e| !(e.pending_pid == Some(pid) && e.local == reserved_key));
            live.push(Live {
                local: reserved_key.to_string(),
                remote: remote.as_str().to_string(),
                provider: provider.key().to_string(),
                user: user.clone(),
                directory: directory.display().to_string(),
                pending_pid: None,
                since: now_secs(),
            });
        })?;
        let remember = local.is_some()
            && req.flags & abi::CONNECT_UPDATE_PROFILE != 0
            && req.flags & abi::CONNECT_TEMPORARY == 0;
        if remember {
            let entry = Remembered {
                local: reserved_key.to_string(),
                remote: remote.as_str().to_string(),
                provider: provider.key().to_string(),
                user,
                r#type: abi::RESOURCETYPE_DISK,
            };
            self.store().update_remembered(|r| {
                r.retain(|e| e.local != entry.local);
                r.push(entry);
            })?;
        }
        Ok(remember)
    }

    // ------------------------------------------------------------------
    // Cancel
    // ------------------------------------------------------------------

    /// Cancels a connection (`WNetCancelConnection*`, `mpr use --delete`),
    /// with notifications.
    pub fn cancel(&self, req: &CancelRequest) -> Result<CancelOutcome, WnError> {
        lasterror::clear();
        let started = Instant::now();
        let id = op_id();
        let target = match self.validate_cancel(req) {
            Ok(t) => t,
            Err(e) => {
                self.journal_op(
                    &id,
                    "cancel",
                    &req.name,
                    "",
                    "",
                    None,
                    Err(e),
                    started,
                    false,
                );
                return Err(e);
            }
        };
        let name = target.display();
        let mut outcome: Option<CancelOutcome> = None;
        let phase = |_round: u32| -> PhaseResult {
            match self.cancel_provider_phase(req, &target, &id) {
                Ok(o) => {
                    let r = PhaseResult {
                        result: Ok(()),
                        provider_name: Some(o.provider_name.clone()),
                        local: None,
                    };
                    outcome = Some(o);
                    r
                }
                Err(e) => PhaseResult {
                    result: Err(e),
                    provider_name: None,
                    local: None,
                },
            }
        };
        let result = self.notify_rounds(
            Op::Cancel,
            &id,
            Some(&name),
            None,
            phase,
            &|ni, n, prov, _| {
                n.cancel_notify(
                    ni,
                    &CancelNotice {
                        name: &name,
                        provider: prov,
                        flags: req.flags,
                        force: req.force,
                    },
                )
            },
        );
        let result = match (result, outcome) {
            (Ok(()), Some(o)) => Ok(o),
            (Ok(()), None) => fail(
                WnError::NetError,
                "internal error: success without an outcome",
            ),
            (Err(e), _) => Err(e),
        };
        let provider = result.as_ref().ok().map(|o| o.provider.clone());
        self.journal_op(
            &id,
            "cancel",
            &name,
            "",
            "",
            provider.as_deref(),
            result.as_ref().map(|_| ()).map_err(|e| *e),
            started,
            true,
        );
        result
    }

    fn validate_cancel(&self, req: &CancelRequest) -> Result<CancelTarget, WnError> {
        if req.flags & !CANCEL_FLAGS_ALLOWED != 0 {
            return fail(
                WnError::BadValue,
                format!(
                    "unknown cancel flag bits {:#x}",
                    req.flags & !CANCEL_FLAGS_ALLOWED
                ),
            );
        }
        let raw = req.name.as_str();
        let shown: String = raw
            .chars()
            .take(80)
            .map(|c| if c == '\0' { '\u{2400}' } else { c })
            .collect();
        if raw.starts_with(r"\\") || raw.starts_with("//") || raw.contains("://") {
            return RemoteName::parse(raw)
                .map(CancelTarget::Remote)
                .or_else(|e| fail(e, format!("{shown:?} is not a valid remote name")));
        }
        match LocalName::parse(raw) {
            Ok(Some(l)) => Ok(CancelTarget::Local(l)),
            Ok(None) => fail(WnError::BadLocalName, "no name was given to disconnect"),
            Err(e) => fail(e, format!("{shown:?} is not a valid local or remote name")),
        }
    }

    fn cancel_provider_phase(
        &self,
        req: &CancelRequest,
        target: &CancelTarget,
        id: &str,
    ) -> Result<CancelOutcome, WnError> {
        let name = target.display();
        let live = self.store().live()?;
        let entry = live.iter().find(|e| {
            e.pending_pid.is_none()
                && match target {
                    CancelTarget::Local(_) => e.local == name,
                    CancelTarget::Remote(_) => {
                        e.local.is_empty() && e.remote.eq_ignore_ascii_case(&name)
                    }
                }
        });
        let call_one = |p: &Arc<dyn NetworkProvider>,
                        directory: Option<&Path>|
         -> Result<(), WnError> {
            let t = self.call_started();
            lasterror::clear();
            let r = p.cancel_connection(&CancelCall {
                name: &name,
                directory,
                flags: req.flags,
                force: req.force,
            });
            if let Some(t) = t {
                self.parts.journal.record(
                    "provider",
                    fields! {"op_id" => id, "op" => "cancel", "provider" => p.key(), "name" => name.as_str(),
                             "force" => req.force, "result" => r.err().map_or(0, WnError::code),
                             "result_name" => r.err().map_or("WN_SUCCESS", WnError::name),
                             "duration_us" => t.elapsed().as_micros() as u64},
                );
            }
            r
        };
        let forget = req.flags & abi::CONNECT_UPDATE_PROFILE != 0;
        let mut result: Result<String, WnError>;
        if let Some(e) = entry {
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
            result = match call_one(p, dir.as_deref()) {
                Ok(()) => Ok(p.key().to_string()),
                // The provider no longer has it (its helper died, say): the
                // connection is gone, so cancelling it succeeds.
                Err(WnError::NotConnected) => Ok(p.key().to_string()),
                Err(e) => Err(e),
            };
        } else {
            let mut cycling = Cycling::default();
            result = Err(WnError::NotConnected);
            let mut decided = false;
            for p in self.ready_providers() {
                if p.connection_caps()
                    & (abi::WNNC_CON_CANCELCONNECTION | abi::WNNC_CON_CANCELCONNECTION2)
                    == 0
                {
                    continue;
                }
                match call_one(p, None) {
                    Ok(()) => {
                        result = Ok(p.key().to_string());
                        decided = true;
                        break;
                    }
                    Err(e) if cycling.feed(e, Op::Cancel) => {
                        result = Err(e);
                        decided = true;
                        break;
                    }
                    Err(_) => {}
                }
            }
            if !decided {
                result = Err(cycling.finish(WnError::NotConnected));
            }
        }
        let local_key = match target {
            CancelTarget::Local(_) => Some(name.clone()),
            CancelTarget::Remote(_) => None,
        };
        let mut forgotten = false;
        if result == Err(WnError::NotConnected)
            && forget
            && let Some(key) = &local_key
            && let Some(r) = self
                .store()
                .remembered()?
                .into_iter()
                .find(|r| &r.local == key)
        {
            result = Ok(r.provider.clone());
        }
        match result {
            Ok(provider) => {
                let pending_free = |e: &Live| e.pending_pid.is_none();
                self.store().update_live(|live| {
                    live.retain(|e| {
                        !(pending_free(e)
                            && match &local_key {
                                Some(k) => &e.local == k,
                                None => e.local.is_empty() && e.remote.eq_ignore_ascii_case(&name),
                            })
                    })
                })?;
                if forget && let Some(k) = &local_key {
                    forgotten = self.store().update_remembered(|r| {
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
            Err(WnError::NotConnected) => {
                if lasterror::get().is_none() {
                    lasterror::set(
                        WnError::NotConnected.code(),
                        format!("{name} is not connected"),
                        "mpr",
                    );
                }
                Err(WnError::NotConnected)
            }
            Err(e) => Err(e),
        }
    }

    // ------------------------------------------------------------------
    // Notification rounds (§7)
    // ------------------------------------------------------------------

    /// Runs PRE, the provider phase and POST, with retry rounds.
    ///
    /// `call` makes one notifyee call with the given provider and local
    /// name for the notice (`None` provider while cycling).
    #[allow(clippy::type_complexity)]
    fn notify_rounds(
        &self,
        op: Op,
        id: &str,
        local: Option<&str>,
        requested_provider: Option<&str>,
        mut phase: impl FnMut(u32) -> PhaseResult,
        call: &dyn Fn(
            &mut NotifyInfo,
            &dyn ConnectNotifier,
            Option<&str>,
            Option<&str>,
        ) -> Result<u32, CallFailure>,
    ) -> Result<(), WnError> {
        let slots = &self.parts.notifyees;
        // A filter rather than a collected list, and the capacities below,
        // keep the allocations per operation at one (docs/performance.md).
        let relevant = |i: &usize| match &slots[*i].state {
            NotifyeeState::Ready(n) => match op {
                Op::Add => n.handles_add(),
                Op::Cancel => n.handles_cancel(),
            },
            NotifyeeState::Refused(_) => true,
            NotifyeeState::Ignored(_) => false,
        };
        // Requesters of the previous round's retry, with the context they keep.
        let mut kept: Vec<(usize, usize)> = Vec::new();
        let mut round = 0u32;
        loop {
            let pre_status = if round == 0 {
                abi::WN_SUCCESS
            } else {
                abi::WN_RETRY
            };
            let mut holders: Vec<(usize, usize)> = Vec::with_capacity(slots.len());
            let mut veto: Option<WnError> = None;
            let mut veto_detail: Option<String> = None;
            for i in (0..slots.len()).rev().filter(relevant) {
                if kept.iter().any(|&(k, _)| k == i) {
                    continue;
                }
                let slot = &slots[i];
                let n = match &slot.state {
                    NotifyeeState::Ready(n) => n,
                    NotifyeeState::Refused(why) => {
                        self.journal_refusal(id, op, slot, why);
                        if slot.policy == Policy::Veto {
                            veto = Some(WnError::AccessDenied);
                            veto_detail = Some(format!(
                                "notifyee {} was refused and its policy is veto: {why}",
                                slot.name
                            ));
                            break;
                        }
                        continue;
                    }
                    NotifyeeState::Ignored(_) => continue,
                };
                let mut ni = NotifyInfo {
                    phase: Phase::Pre,
                    operation_status: pre_status,
                    context: 0,
                };
                let t = self.call_started();
                let r = call(&mut ni, n.as_ref(), requested_provider, local);
                if let Some(t) = t {
                    self.journal_call(
                        id,
                        op,
                        round,
                        slot,
                        Phase::Pre,
                        pre_status,
                        &r,
                        ni.context,
                        t,
                    );
                }
                match r {
                    Ok(ret) if ret == abi::WN_SUCCESS || ret == abi::WN_RETRY => {
                        if ni.context != 0 {
                            holders.push((i, ni.context));
                        }
                    }
                    Ok(ret) => {
                        let e = WnError::from_status(ret).err().unwrap_or(WnError::NetError);
                        veto = Some(e);
                        veto_detail = Some(format!(
                            "notifyee {} vetoed the operation ({})",
                            slot.name,
                            crate::error::status_name(ret)
                        ));
                        break;
                    }
                    Err(f) if slot.policy == Policy::Veto => {
                        veto = Some(veto_for(&f));
                        veto_detail =
                            Some(format!("notifyee {} {f}; its policy is veto", slot.name));
                        break;
                    }
                    Err(_) => {}
                }
            }
            let vetoed = veto.is_some();
            let phase_result = match veto {
                Some(e) => {
                    lasterror::set(e.code(), veto_detail.unwrap_or_default(), "mpr");
                    PhaseResult {
                        result: Err(e),
                        provider_name: None,
                        local: None,
                    }
                }
                None => phase(round),
            };
            let op_status = phase_result
                .result
                .err()
                .map_or(abi::WN_SUCCESS, WnError::code);
            let mut result = phase_result.result;
            // PRE ran newest first: reversed, the holders are in registration
            // order already, so the sort has little to do.
            let mut posts = holders;
            posts.reverse();
            posts.append(&mut kept);
            posts.sort_by_key(|&(i, _)| i);
            let post_provider = if op_status == abi::WN_SUCCESS {
                phase_result.provider_name.as_deref()
            } else {
                requested_provider
            };
            let post_local = phase_result.local.as_deref().or(local);
            let mut requesters: Vec<(usize, usize)> = Vec::new();
            let saved_detail = lasterror::get();
            for (i, ctx) in posts {
                let slot = &slots[i];
                let NotifyeeState::Ready(n) = &slot.state else {
                    continue;
                };
                let mut ni = NotifyInfo {
                    phase: Phase::Post,
                    operation_status: op_status,
                    context: ctx,
                };
                let t = self.call_started();
                let r = call(&mut ni, n.as_ref(), post_provider, post_local);
                if let Some(t) = t {
                    self.journal_call(id, op, round, slot, Phase::Post, op_status, &r, ctx, t);
                }
                let Ok(ret) = r else { continue };
                if op_status == abi::WN_SUCCESS || ret == abi::WN_SUCCESS {
                    continue;
                }
                if ret == abi::WN_RETRY {
                    if !vetoed {
                        requesters.push((i, ctx));
                    }
                } else {
                    let e = WnError::from_status(ret).err().unwrap_or(WnError::NetError);
                    result = Err(e);
                    lasterror::set(
                        e.code(),
                        format!(
                            "notifyee {} reported {} after the operation",
                            slot.name,
                            e.name()
                        ),
                        "mpr",
                    );
                }
            }
            if result.is_err()
                && lasterror::get().is_none()
                && let Some(d) = saved_detail
            {
                lasterror::set(d.code, d.text, d.provider);
            }
            if result.is_err() && !vetoed && !requesters.is_empty() {
                if round < self.parts.max_retry_rounds {
                    kept = requesters;
                    round += 1;
                    continue;
                }
                let names: Vec<&str> = requesters
                    .iter()
                    .map(|&(i, _)| slots[i].name.as_str())
                    .collect();
                self.parts.journal.record(
                    "retry_limit",
                    fields! {"op_id" => id, "op" => op.as_str(), "rounds" => round, "notifyees" => names.clone(),
                             "message" => "retry limit reached"},
                );
            }
            return result;
        }
    }

    /// The start of a notifyee or provider call, for its journal record; `None` without
    /// a journal, and then neither the clock is read nor `journal_call`
    /// called: both were a measurable part of the cost of a notifyee
    /// (docs/performance.md).
    fn call_started(&self) -> Option<Instant> {
        self.parts.journal.path().is_some().then(Instant::now)
    }

    #[allow(clippy::too_many_arguments)]
    fn journal_call(
        &self,
        id: &str,
        op: Op,
        round: u32,
        slot: &NotifyeeSlot,
        phase: Phase,
        status_in: u32,
        r: &Result<u32, CallFailure>,
        context: usize,
        t: Instant,
    ) {
        if self.parts.journal.path().is_none() {
            return;
        }
        let mut f = fields! {
            "op_id" => id, "op" => op.as_str(), "round" => round, "notifyee" => slot.name.as_str(),
            "phase" => phase.as_str(), "status_in" => status_in, "context" => context != 0,
            "isolation" => slot.isolation.as_str(), "policy" => slot.policy.as_str(),
            "duration_us" => t.elapsed().as_micros() as u64,
        };
        match r {
            Ok(ret) => {
                f.insert("result".into(), Value::from(*ret));
                f.insert(
                    "result_name".into(),
                    Value::from(crate::error::status_name(*ret)),
                );
            }
            Err(fail) => {
                f.insert("failure".into(), Value::from(fail.to_string()));
                // A failed POST changes no result whatever the policy (only
                // PRE failures can veto); what matters is that it was lost.
                let decision = match (phase, slot.policy, veto_for(fail)) {
                    (Phase::Post, _, _) => "POST not delivered",
                    (Phase::Pre, Policy::Veto, WnError::AccessDenied) => {
                        "vetoed the operation (WN_ACCESS_DENIED)"
                    }
                    (Phase::Pre, Policy::Veto, _) => "vetoed the operation (WN_CANCEL)",
                    (Phase::Pre, Policy::Advisory, _) => "ignored (advisory)",
                };
                f.insert("decision".into(), Value::from(decision));
            }
        }
        self.parts.journal.record("notify", f);
    }

    fn journal_refusal(&self, id: &str, op: Op, slot: &NotifyeeSlot, why: &str) {
        let decision = match slot.policy {
            Policy::Veto => "operation fails with WN_ACCESS_DENIED",
            Policy::Advisory => "ignored (advisory)",
        };
        self.parts.journal.record(
            "refused",
            fields! {"op_id" => id, "op" => op.as_str(), "notifyee" => slot.name.as_str(),
                     "path" => slot.path.display().to_string(), "reason" => why, "policy" => slot.policy.as_str(),
                     "decision" => decision},
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn journal_op(
        &self,
        id: &str,
        op: &str,
        local: &str,
        remote: &str,
        user: &str,
        provider: Option<&str>,
        r: Result<(), WnError>,
        t: Instant,
        notified: bool,
    ) {
        if self.parts.journal.path().is_none() {
            return;
        }
        let code = r.err().map_or(0, WnError::code);
        let mut f = fields! {
            "op_id" => id, "op" => op, "local" => local, "remote" => remote,
            "user" => user, "provider" => provider.unwrap_or(""), "result" => code,
            "result_name" => crate::error::status_name(code), "notified" => notified,
            "duration_us" => t.elapsed().as_micros() as u64,
        };
        if let (Err(_), Some(d)) = (r, lasterror::get()) {
            f.insert("message".into(), Value::from(d.text));
        }
        self.parts.journal.record("operation", f);
    }

    // ------------------------------------------------------------------
    // Get, enumerate, restore
    // ------------------------------------------------------------------

    fn health(&self, e: &Live) -> Health {
        let Some(p) = self.provider_by_key(&e.provider) else {
            return Health::Unavailable;
        };
        if p.connection_caps() & abi::WNNC_CON_GETCONNECTIONS == 0 {
            return Health::Ok;
        }
        if e.local.is_empty() && !p.origin().is_builtin() {
            return Health::Ok;
        }
        let dir = (!e.directory.is_empty()).then(|| PathBuf::from(&e.directory));
        match p.get_connection(&e.local, dir.as_deref()) {
            Ok(_) => Health::Ok,
            Err(_) => Health::Unavailable,
        }
    }

    /// `WNetGetConnection`: the remote name behind a local name.
    pub fn get_connection(&self, local: &str) -> Result<String, WnError> {
        lasterror::clear();
        let l = match LocalName::parse(local) {
            Ok(Some(l)) => l,
            Ok(None) => return fail(WnError::BadLocalName, "no local name was given"),
            Err(e) => return fail(e, format!("{local:?} is not a valid local name")),
        };
        let key = l.display();
        if let Some(e) = self
            .store()
            .live()?
            .into_iter()
            .find(|e| e.pending_pid.is_none() && e.local == key)
        {
            return match self.health(&e) {
                Health::Ok => Ok(e.remote),
                Health::Unavailable => fail(
                    WnError::ConnectionClosed,
                    format!(
                        "{key} is connected to {} but the connection is not available",
                        e.remote
                    ),
                ),
            };
        }
        if let Some(r) = self
            .store()
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
        let mut cycling = Cycling::default();
        for p in self.ready_providers() {
            if p.connection_caps() & abi::WNNC_CON_GETCONNECTIONS == 0 || p.origin().is_builtin() {
                continue;
            }
            match p.get_connection(&key, None) {
                Ok(remote) => return Ok(remote),
                Err(e) if e == WnError::MoreData || cycling.feed(e, Op::Cancel) => return Err(e),
                Err(_) => {}
            }
        }
        let e = cycling.finish(WnError::NotConnected);
        if e == WnError::NotConnected {
            return fail(e, format!("{key} is not connected"));
        }
        Err(e)
    }

    /// The live connections with their health, then the remembered ones that
    /// are not live (`net use`).
    pub fn connections(&self) -> Result<Vec<ConnectionStatus>, WnError> {
        lasterror::clear();
        let live = self.store().live()?;
        let remembered = self.store().remembered()?;
        let mut out = Vec::new();
        for e in live.iter().filter(|e| e.pending_pid.is_none()) {
            let status = match self.health(e) {
                Health::Ok => "OK",
                Health::Unavailable => "Unavailable",
            };
            out.push(ConnectionStatus {
                status,
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
        for r in &remembered {
            if live
                .iter()
                .any(|e| e.pending_pid.is_none() && e.local == r.local)
            {
                continue;
            }
            out.push(ConnectionStatus {
                status: "Remembered",
                local: r.local.clone(),
                remote: r.remote.clone(),
                provider: r.provider.clone(),
                provider_name: self.provider_display(&r.provider),
                user: r.user.clone(),
                directory: String::new(),
                remembered: true,
            });
        }
        Ok(out)
    }

    /// The remembered connections (`HKCU\Network`), connected or not, in
    /// the order they were remembered, each with its provider's display
    /// name: what `WNetOpenEnum(RESOURCE_REMEMBERED)` lists. `status` is
    /// `"Remembered"` and `directory` is empty.
    pub fn remembered_connections(&self) -> Result<Vec<ConnectionStatus>, WnError> {
        lasterror::clear();
        Ok(self
            .store()
            .remembered()?
            .into_iter()
            .map(|r| ConnectionStatus {
                status: "Remembered",
                provider_name: self.provider_display(&r.provider),
                local: r.local,
                remote: r.remote,
                provider: r.provider,
                user: r.user,
                directory: String::new(),
                remembered: true,
            })
            .collect())
    }

    /// The access name an add of `remote` to `local` reports
    /// ([`AddOutcome::access_name`]: the local name, or the directory of a
    /// deviceless connection), worked out without connecting, so that
    /// `WNetUseConnection` can check the caller's buffer first. `None` when
    /// a name does not validate (the add then says why). A drive picked by
    /// `CONNECT_REDIRECT` is not known in advance; it is always two
    /// characters (`Z:`).
    pub fn access_name(&self, local: Option<&str>, remote: &str) -> Option<String> {
        let remote = RemoteName::parse(remote).ok()?;
        Some(match LocalName::parse(local.unwrap_or("")).ok()? {
            Some(l) => l.display(),
            None => self.directory_for(None, &remote).display().to_string(),
        })
    }

    /// Reconnects remembered connections (all, or one local name), in
    /// parallel, **without notifications** (§7.7).
    pub fn restore(&self, only: Option<&str>) -> Result<Vec<RestoreResult>, WnError> {
        lasterror::clear();
        let mut entries = self.store().remembered()?;
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
                .map(|entry| {
                    s.spawn(move || {
                        lasterror::clear();
                        let t = Instant::now();
                        let result = self.restore_one(&entry);
                        let detail = result
                            .as_ref()
                            .err()
                            .map(|e| lasterror::get().map_or_else(|| e.to_string(), |d| d.text));
                        let id = op_id();
                        self.journal_op(
                            &id,
                            "restore",
                            &entry.local,
                            &entry.remote,
                            &entry.user,
                            Some(&entry.provider),
                            result.map(|_| ()),
                            t,
                            false,
                        );
                        RestoreResult {
                            entry,
                            result,
                            detail,
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a restore thread panicked"))
                .collect()
        });
        Ok(results)
    }

    fn restore_one(&self, entry: &Remembered) -> Result<bool, WnError> {
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
        let local = match LocalName::parse(&entry.local) {
            Ok(Some(l)) => l,
            _ => {
                return fail(
                    WnError::BadProfile,
                    format!("remembered local name {:?} is not valid", entry.local),
                );
            }
        };
        if let Some(e) = self
            .store()
            .live()?
            .into_iter()
            .find(|e| e.local == entry.local)
        {
            if e.pending_pid.is_some() {
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
            if self.health(&e) == Health::Ok {
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
        let (local_name, key) = self.reserve(Some(&local), &remote, &req, false, &[])?;
        match self.add_once(&req, local_name.as_ref(), &remote, Some(p), "restore", 0) {
            Ok((p, dir)) => {
                self.commit_add(&req, local_name.as_ref(), &remote, p, dir, &key)?;
                Ok(true)
            }
            Err(e) => {
                self.release(&key);
                Err(e)
            }
        }
    }
}

/// What a cancel names.
#[derive(Debug, Clone)]
enum CancelTarget {
    Local(LocalName),
    Remote(RemoteName),
}

impl CancelTarget {
    fn display(&self) -> String {
        match self {
            CancelTarget::Local(l) => l.display(),
            CancelTarget::Remote(r) => r.as_str().to_string(),
        }
    }
}

/// A directory local name must be a directory of the user's, not a
/// symlink, and empty (§4). A missing one is created later.
fn check_directory(p: &Path) -> Result<(), WnError> {
    let md = match std::fs::symlink_metadata(p) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return fail(
                WnError::BadLocalName,
                format!("cannot inspect {}: {e}", p.display()),
            );
        }
    };
    if md.file_type().is_symlink() {
        return fail(
            WnError::BadLocalName,
            format!("{} is a symbolic link", p.display()),
        );
    }
    if !md.is_dir() {
        return fail(
            WnError::BadLocalName,
            format!("{} is not a directory", p.display()),
        );
    }
    let euid = rustix::process::geteuid().as_raw();
    if md.uid() != euid {
        return fail(
            WnError::BadLocalName,
            format!(
                "{} is owned by uid {}, not by you (uid {euid})",
                p.display(),
                md.uid()
            ),
        );
    }
    match std::fs::read_dir(p) {
        Ok(mut it) => {
            if it.next().is_some() {
                return fail(
                    WnError::BadLocalName,
                    format!("{} is not empty", p.display()),
                );
            }
        }
        Err(e) => {
            return fail(
                WnError::BadLocalName,
                format!("cannot read {}: {e}", p.display()),
            );
        }
    }
    Ok(())
}
