/*!
The built-in network providers: `sftp`, `smb` and `webdav`.

**State of this crate:** the FUSE launchers are the subject of the "Real
providers" issue and are not written yet. Until then each built-in provider
is registered (so `order`, `mpr provider list` and explicit `--provider`
behave as specified) and answers every add with `WN_BAD_NETNAME` (the "not
mine" answer of §6) plus an extended error that says why, so cycling passes
over them and connections go to the provider libraries in `order`.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use mpr_core::config::ProviderEntry;
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider};
use mpr_core::{WnError, lasterror};
use std::path::Path;
use std::sync::Arc;

/// Makes the built-in provider for a configuration entry, if there is one.
pub fn builtin(entry: &ProviderEntry) -> Option<Arc<dyn NetworkProvider>> {
    let net_type = match entry.key.as_str() {
        "sftp" => 0x00FE_0000,
        "smb" => mpr_abi::WNNC_NET_SMB,
        "webdav" => mpr_abi::WNNC_NET_DAV,
        _ => return None,
    };
    Some(Arc::new(Pending {
        key: entry.key.clone(),
        name: entry.name.clone(),
        net_type,
    }))
}

/// A built-in provider whose FUSE launcher is not available yet.
#[derive(Debug)]
struct Pending {
    key: String,
    name: String,
    net_type: u32,
}

impl Pending {
    fn unavailable<T>(&self) -> Result<T, WnError> {
        lasterror::set(
            WnError::BadNetName.code(),
            format!(
                "the built-in {} provider is not available in this build yet",
                self.key
            ),
            self.name.clone(),
        );
        Err(WnError::BadNetName)
    }
}

impl NetworkProvider for Pending {
    fn key(&self) -> &str {
        &self.key
    }

    fn display_name(&self) -> &str {
        &self.name
    }

    fn connection_caps(&self) -> u32 {
        mpr_abi::WNNC_CON_ADDCONNECTION3
            | mpr_abi::WNNC_CON_CANCELCONNECTION
            | mpr_abi::WNNC_CON_GETCONNECTIONS
    }

    fn net_type(&self) -> u32 {
        self.net_type
    }

    fn origin(&self) -> String {
        "built-in".into()
    }

    fn add_connection(&self, _call: &ConnectCall<'_>) -> Result<(), WnError> {
        self.unavailable()
    }

    fn cancel_connection(&self, _call: &CancelCall<'_>) -> Result<(), WnError> {
        Err(WnError::NotConnected)
    }

    fn get_connection(&self, _local: &str, _directory: Option<&Path>) -> Result<String, WnError> {
        Err(WnError::NotConnected)
    }
}
