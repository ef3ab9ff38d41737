//! What callers ask the router for, and what a successful operation gives
//! back.

use crate::plugin::Secret;
use mpr_abi as abi;
use std::path::PathBuf;

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

    /// Whether a successful add is remembered (`CONNECT_UPDATE_PROFILE`
    /// without `CONNECT_TEMPORARY`); only one with a local name is.
    pub fn asks_to_remember(&self) -> bool {
        self.flags & abi::CONNECT_UPDATE_PROFILE != 0 && self.flags & abi::CONNECT_TEMPORARY == 0
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
