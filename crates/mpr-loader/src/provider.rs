//! Provider libraries: the `NP*` interface.

use mpr_abi::{
    self as abi, NETRESOURCEW, PF_NPAddConnection, PF_NPAddConnection3, PF_NPCancelConnection,
    PF_NPCancelConnection2, PF_NPGetCaps, PF_NPGetConnection,
};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider};
use mpr_core::trust::VettedPlugin;
use mpr_core::{WnError, lasterror};
use mpr_ffi::wide::to_wide;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A provider library loaded into this process.
pub struct LoadedProvider {
    key: String,
    name: String,
    path: PathBuf,
    caps: u32,
    net_type: u32,
    add: Option<PF_NPAddConnection>,
    add3: Option<PF_NPAddConnection3>,
    cancel: Option<PF_NPCancelConnection>,
    cancel2: Option<PF_NPCancelConnection2>,
    get: Option<PF_NPGetConnection>,
    _lib: Arc<crate::Mapped>,
}

impl std::fmt::Debug for LoadedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedProvider")
            .field("key", &self.key)
            .field("path", &self.path)
            .field("caps", &self.caps)
            .finish()
    }
}

/// Loads a vetted provider library: `NPGetCaps` is required, and
/// `NPGetCaps(WNNC_CONNECTION)` decides which entry points are resolved. An
/// advertised function that is not exported has its bit cleared, with a
/// warning in `warnings`.
pub fn load_provider(
    plugin: VettedPlugin,
    key: &str,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<LoadedProvider, crate::LoadError> {
    let path = plugin.path().to_path_buf();
    let lib = crate::open_vetted(plugin)?;
    let shown = path.display();
    // SAFETY: `NPGetCaps` has the npapi.h type `PF_NPGetCaps`; the pointer is
    // copied and kept next to `lib`.
    let get_caps = unsafe { lib.lib.get::<PF_NPGetCaps>(b"NPGetCaps\0") }
        .map(|s| *s)
        .map_err(|_| crate::LoadError::MissingSymbol {
            path: path.clone(),
            symbol: "NPGetCaps",
        })?;
    // SAFETY: calling the provider's own NPGetCaps with a documented index.
    let mut caps = unsafe { get_caps(abi::WNNC_CONNECTION) };
    // SAFETY: as above.
    let net_type = unsafe { get_caps(abi::WNNC_NET_TYPE) };
    macro_rules! resolve {
        ($bit:expr, $ty:ty, $sym:literal) => {{
            if caps & $bit != 0 {
                // SAFETY: the symbol is declared in npapi.h with type `$ty`;
                // the pointer is copied and kept next to `lib`.
                match unsafe { lib.lib.get::<$ty>(concat!($sym, "\0").as_bytes()) } {
                    Ok(s) => Some(*s),
                    Err(_) => {
                        warnings.push(format!(
                            "{shown} advertises {} but does not export it; not used",
                            $sym
                        ));
                        caps &= !$bit;
                        None
                    }
                }
            } else {
                None
            }
        }};
    }
    let add = resolve!(
        abi::WNNC_CON_ADDCONNECTION,
        PF_NPAddConnection,
        "NPAddConnection"
    );
    let add3 = resolve!(
        abi::WNNC_CON_ADDCONNECTION3,
        PF_NPAddConnection3,
        "NPAddConnection3"
    );
    let cancel = resolve!(
        abi::WNNC_CON_CANCELCONNECTION,
        PF_NPCancelConnection,
        "NPCancelConnection"
    );
    let cancel2 = resolve!(
        abi::WNNC_CON_CANCELCONNECTION2,
        PF_NPCancelConnection2,
        "NPCancelConnection2"
    );
    let get = resolve!(
        abi::WNNC_CON_GETCONNECTIONS,
        PF_NPGetConnection,
        "NPGetConnection"
    );
    Ok(LoadedProvider {
        key: key.to_string(),
        name: name.to_string(),
        path: path.clone(),
        caps,
        net_type,
        add,
        add3,
        cancel,
        cancel2,
        get,
        _lib: lib,
    })
}

impl LoadedProvider {
    /// Maps a provider's raw status, recording an unknown one.
    fn status(&self, what: &str, raw: u32) -> Result<(), WnError> {
        let r = WnError::from_status(raw);
        if raw != 0 && WnError::from_code(raw).is_none() && lasterror::get().is_none() {
            lasterror::set(
                raw,
                format!(
                    "provider {} returned the unknown status {raw} from {what}",
                    self.key
                ),
                self.key.clone(),
            );
        }
        r
    }
}

fn ptr(v: &mut Option<Vec<u16>>) -> *mut u16 {
    v.as_mut().map_or(std::ptr::null_mut(), |v| v.as_mut_ptr())
}

impl NetworkProvider for LoadedProvider {
    fn key(&self) -> &str {
        &self.key
    }

    fn display_name(&self) -> &str {
        &self.name
    }

    fn connection_caps(&self) -> u32 {
        self.caps
    }

    fn net_type(&self) -> u32 {
        self.net_type
    }

    fn origin(&self) -> mpr_core::plugin::Origin {
        mpr_core::plugin::Origin::Library(self.path.clone())
    }

    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        let mut local = call.local.map(to_wide);
        let mut remote = Some(to_wide(call.remote));
        let mut provider = Some(to_wide(&self.name));
        let mut nr = NETRESOURCEW {
            dwScope: 0,
            dwType: call.r#type,
            dwDisplayType: 0,
            dwUsage: 0,
            lpLocalName: ptr(&mut local),
            lpRemoteName: ptr(&mut remote),
            lpComment: std::ptr::null_mut(),
            lpProvider: ptr(&mut provider),
        };
        let mut password: Option<Zeroizing<Vec<u16>>> =
            call.password.map(|s| Zeroizing::new(to_wide(s.expose())));
        let pw = password
            .as_mut()
            .map_or(std::ptr::null_mut(), |v| v.as_mut_ptr());
        let mut user = call.user.map(to_wide);
        let raw = if let Some(f) = self.add3 {
            // SAFETY: `f` is the provider's NPAddConnection3 (npapi.h type);
            // the resource, strings and password live until it returns.
            unsafe {
                f(
                    std::ptr::with_exposed_provenance_mut::<c_void>(call.owner),
                    &mut nr,
                    pw,
                    ptr(&mut user),
                    call.flags,
                )
            }
        } else if let Some(f) = self.add {
            // SAFETY: `f` is the provider's NPAddConnection; as above.
            unsafe { f(&mut nr, pw, ptr(&mut user)) }
        } else {
            return Err(WnError::NotSupported);
        };
        self.status("NPAddConnection", raw)
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        let mut name = to_wide(call.name);
        let force = i32::from(call.force);
        let raw = if let Some(f) = self.cancel2 {
            // SAFETY: `f` is the provider's NPCancelConnection2; `name` lives
            // until it returns.
            unsafe { f(name.as_mut_ptr(), force, call.flags) }
        } else if let Some(f) = self.cancel {
            // SAFETY: `f` is the provider's NPCancelConnection; as above.
            unsafe { f(name.as_mut_ptr(), force) }
        } else {
            return Err(WnError::NotSupported);
        };
        self.status("NPCancelConnection", raw)
    }

    fn get_connection(&self, local: &str, _directory: Option<&Path>) -> Result<String, WnError> {
        let Some(f) = self.get else {
            return Err(WnError::NotSupported);
        };
        let mut name = to_wide(local);
        let mut len: u32 = 260;
        for _ in 0..4 {
            let mut buf = vec![0u16; len as usize];
            let mut size = len;
            // SAFETY: `f` is the provider's NPGetConnection; `buf` holds
            // `size` units and `size` is a valid DWORD, both live across the
            // call.
            let raw = unsafe { f(name.as_mut_ptr(), buf.as_mut_ptr(), &mut size) };
            if raw == abi::WN_MORE_DATA && size > len && size <= 65_536 {
                len = size;
                continue;
            }
            self.status("NPGetConnection", raw)?;
            let end = buf.iter().position(|&u| u == 0).unwrap_or(buf.len());
            return String::from_utf16(&buf[..end]).map_err(|_| WnError::BadValue);
        }
        Err(WnError::MoreData)
    }
}
