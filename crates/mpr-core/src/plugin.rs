//! The two plugin roles as the router sees them: [`NetworkProvider`] and
//! [`ConnectNotifier`]. Built-in providers implement them in Rust; the
//! loader wraps C libraries (`NP*`, `AddConnectNotify`) behind them.

use crate::WnError;
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A password, wiped from memory when dropped and never printed.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a password.
    pub fn new(s: String) -> Secret {
        Secret(Zeroizing::new(s))
    }

    /// The password text, for handing to a provider.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An add request as one provider receives it (`NPAddConnection3`).
#[derive(Debug)]
pub struct ConnectCall<'a> {
    /// The owner window (opaque; 0 is NULL).
    pub owner: usize,
    /// `RESOURCETYPE_*`.
    pub r#type: u32,
    /// The local name as providers see it (`Z:` upper-cased, or a path);
    /// `None` for a deviceless connection.
    pub local: Option<&'a str>,
    /// The remote name, normalised.
    pub remote: &'a str,
    /// Where the resource must become reachable (the local name's
    /// directory, or `<runtime>/unc/<server>/<share>` when deviceless).
    pub directory: &'a Path,
    /// The password, if one was given (`Some("")` means "no password").
    pub password: Option<&'a Secret>,
    /// The user name, if one was given.
    pub user: Option<&'a str>,
    /// The `CONNECT_*` flags.
    pub flags: u32,
    /// The provider's [`claim`](NetworkProvider::claim) of this (bare UNC)
    /// name already said yes: it need not check again.
    pub claimed: bool,
}

/// A provider's "not mine" to a [`claim`](NetworkProvider::claim): the
/// code (one §6 treats as "not mine", such as `ERROR_BAD_NETPATH`) and
/// why, for the message that lists every provider's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotMine {
    /// The code.
    pub code: WnError,
    /// Why, in words.
    pub reason: String,
}

/// A provider's answer to a claim: `None` when it has no check.
pub type Claim = Option<Result<(), NotMine>>;

/// A cancel request as one provider receives it (`NPCancelConnection`).
#[derive(Debug)]
pub struct CancelCall<'a> {
    /// The name as the caller gave it (drive letters upper-cased).
    pub name: &'a str,
    /// The directory of the connection, when the router knows it.
    pub directory: Option<&'a Path>,
    /// The `CONNECT_*` flags of the cancel (0 or `CONNECT_UPDATE_PROFILE`).
    pub flags: u32,
    /// Cancel even with open files.
    pub force: bool,
}

/// Where a provider comes from.
///
/// ```
/// use mpr_core::plugin::Origin;
/// assert_eq!(Origin::BuiltIn.to_string(), "built-in");
/// let lib = Origin::Library("/usr/lib/acme.so".into());
/// assert_eq!(lib.to_string(), "/usr/lib/acme.so");
/// assert!(!lib.is_builtin());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built into mpr (`mpr-providers`).
    BuiltIn,
    /// A provider library (`NP*` exports) at this path.
    Library(PathBuf),
}

impl Origin {
    /// Whether the provider is built into mpr.
    pub fn is_builtin(&self) -> bool {
        matches!(self, Origin::BuiltIn)
    }

    /// The library path, for a provider library.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Origin::BuiltIn => None,
            Origin::Library(p) => Some(p),
        }
    }
}

impl fmt::Display for Origin {
    /// `built-in`, or the library path (as output shows it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::Library(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A network provider (the `NP*` interface).
pub trait NetworkProvider: Send + Sync + fmt::Debug {
    /// The key in `mpr.toml` (`sftp`, `acme`).
    fn key(&self) -> &str;
    /// The display name (`NETRESOURCE.lpProvider`).
    fn display_name(&self) -> &str;
    /// `NPGetCaps(WNNC_CONNECTION)`: which connection functions exist.
    fn connection_caps(&self) -> u32;
    /// `NPGetCaps(WNNC_NET_TYPE)`.
    fn net_type(&self) -> u32 {
        0
    }
    /// Where it comes from: built into mpr, or a library.
    fn origin(&self) -> Origin;
    /// Makes a connection.
    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError>;
    /// Cancels a connection. `WN_NOT_CONNECTED` means "not mine".
    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError>;
    /// The remote name behind a live local name (`NPGetConnection`);
    /// `WN_NOT_CONNECTED` when it is not (or no longer) connected.
    fn get_connection(&self, local: &str, directory: Option<&Path>) -> Result<String, WnError>;
    /// For a bare UNC name (`\\\\host\\share`, which any provider may own): a
    /// quick, bounded check that the server is of this provider's kind,
    /// which the router runs for all providers at once before it asks them
    /// in order. `None`: no such check (the provider is asked in its turn
    /// as usual). A provider that said yes is then asked to connect with
    /// [`ConnectCall::claimed`] set; one that said no is passed over with
    /// its reason, as if its connect had answered "not mine".
    ///
    /// `directory` is where the connection will be made if this provider
    /// takes the name, so that a provider may get ready for the connect
    /// while its check runs (the built-in providers start their
    /// file-system server then); what it readied and no connect took goes
    /// at [`claims_over`](NetworkProvider::claims_over).
    fn claim(&self, remote: &str, directory: &Path) -> Claim {
        let _ = (remote, directory);
        None
    }
    /// A connect of `remote` at `directory` is coming, asked of this
    /// provider by name or of every provider in turn: it may get ready for
    /// it now (the built-in providers start their file-system server),
    /// while the router reserves the name and runs the notifications. It comes before the notifyees' `PRE`
    /// round, which may still veto the connect, so nothing may reach the
    /// server yet. Called at most once per operation, never blocks for
    /// long; what it readied and no connect took goes at
    /// [`claims_over`](NetworkProvider::claims_over).
    fn get_ready(&self, remote: &str, directory: &Path) {
        let _ = (remote, directory);
    }
    /// The connect a bare name's checks ran for, or that [`get_ready`]
    /// was called for, is over (made by this provider or another, or
    /// failed): whatever [`claim`] or [`get_ready`] readied for
    /// `directory` and no connect took goes now.
    ///
    /// [`claim`]: NetworkProvider::claim
    /// [`get_ready`]: NetworkProvider::get_ready
    fn claims_over(&self, directory: &Path) {
        let _ = directory;
    }
    /// The health of a live connection. By default what
    /// [`get_connection`](NetworkProvider::get_connection) says: connected
    /// is OK, anything else unavailable. A provider that knows more (mpr's
    /// own file system publishes its health) says so, with the reason; it
    /// must answer without waiting on the mount.
    fn health(&self, local: &str, directory: Option<&Path>) -> crate::router::Health {
        match self.get_connection(local, directory) {
            Ok(_) => crate::router::Health::Ok,
            Err(_) => crate::router::Health::Unavailable { reason: None },
        }
    }
}

/// `dwNotifyStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before the operation.
    Pre,
    /// After the operation.
    Post,
}

impl Phase {
    /// `pre` or `post`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pre => "pre",
            Phase::Post => "post",
        }
    }
}

/// `NOTIFYINFO`, with the context as an opaque value (0 is NULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyInfo {
    /// PRE or POST.
    pub phase: Phase,
    /// PRE: `WN_SUCCESS` or `WN_RETRY`; POST: the operation's result.
    pub operation_status: u32,
    /// The notifyee's context: 0 in PRE; in POST what it stored in PRE.
    pub context: usize,
}

/// `NOTIFYADD`, as owned-for-the-call Rust values.
#[derive(Debug, Clone, Copy)]
pub struct AddNotice<'a> {
    /// The owner window (0 is NULL).
    pub owner: usize,
    /// `RESOURCETYPE_*` as requested.
    pub r#type: u32,
    /// The local name (`None` is NULL).
    pub local: Option<&'a str>,
    /// The remote name.
    pub remote: &'a str,
    /// The provider (`None` while the router cycles; in a successful POST
    /// the display name of the provider that connected).
    pub provider: Option<&'a str>,
    /// The `CONNECT_*` flags.
    pub flags: u32,
}

/// `NOTIFYCANCEL`, as owned-for-the-call Rust values.
#[derive(Debug, Clone, Copy)]
pub struct CancelNotice<'a> {
    /// The name being cancelled.
    pub name: &'a str,
    /// `None` in PRE; in a successful POST the provider that cancelled.
    pub provider: Option<&'a str>,
    /// The `CONNECT_*` flags of the cancel.
    pub flags: u32,
    /// `fForce`.
    pub force: bool,
}

/// A notifyee call that did not return normally (process isolation only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The host died (signal or exit) during the call.
    Crashed(String),
    /// No answer within the deadline.
    TimedOut(u64),
    /// The library could not be loaded in the host.
    LoadFailed(String),
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallFailure::Crashed(why) => write!(f, "crashed ({why})"),
            CallFailure::TimedOut(ms) => write!(f, "timed out after {ms} ms"),
            CallFailure::LoadFailed(why) => write!(f, "could not be loaded ({why})"),
        }
    }
}

/// A connection notifyee (`AddConnectNotify` / `CancelConnectNotify`).
pub trait ConnectNotifier: Send + Sync + fmt::Debug {
    /// Whether it exports `AddConnectNotify`.
    fn handles_add(&self) -> bool;
    /// Whether it exports `CancelConnectNotify`.
    fn handles_cancel(&self) -> bool;
    /// Calls `AddConnectNotify`; returns the raw status it returned.
    fn add_notify(&self, info: &mut NotifyInfo, add: &AddNotice<'_>) -> Result<u32, CallFailure>;
    /// Calls `CancelConnectNotify`; returns the raw status it returned.
    fn cancel_notify(
        &self,
        info: &mut NotifyInfo,
        cancel: &CancelNotice<'_>,
    ) -> Result<u32, CallFailure>;
}
