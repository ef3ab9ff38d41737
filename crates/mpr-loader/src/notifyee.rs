//! Notifyee libraries: `AddConnectNotify` / `CancelConnectNotify`.

use mpr_abi::{
    self as abi, NETRESOURCEW, NOTIFYADD, NOTIFYCANCEL, NOTIFYINFO, PF_AddConnectNotify,
    PF_CancelConnectNotify,
};
use mpr_core::plugin::{AddNotice, CallFailure, CancelNotice, ConnectNotifier, NotifyInfo, Phase};
use mpr_core::trust::VettedPlugin;
use mpr_ffi::wide::to_wide;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::Arc;

/// A notifyee library loaded into this process.
pub struct LoadedNotifier {
    path: PathBuf,
    add: Option<PF_AddConnectNotify>,
    cancel: Option<PF_CancelConnectNotify>,
    _lib: Arc<crate::Mapped>,
}

impl std::fmt::Debug for LoadedNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedNotifier")
            .field("path", &self.path)
            .field("add", &self.add.is_some())
            .field("cancel", &self.cancel.is_some())
            .finish()
    }
}

/// The outcome of loading a notifyee.
#[derive(Debug)]
pub enum NotifyeeLoad {
    /// It exports at least one of the two functions.
    Loaded(LoadedNotifier),
    /// It exports neither (ignored at load time, spec §3).
    NoExports(String),
}

/// Loads a vetted notifyee library and resolves its two exports.
pub fn load_notifyee(plugin: VettedPlugin) -> Result<NotifyeeLoad, String> {
    let path = plugin.path().to_path_buf();
    let lib = crate::open_vetted(plugin)?;
    // SAFETY: the symbol is declared in npapi.h with the type
    // `PF_AddConnectNotify`, which is what a notifyee must export (spec §2);
    // the pointer is copied out and kept next to `lib`, which outlives it.
    let add = unsafe { lib.lib.get::<PF_AddConnectNotify>(b"AddConnectNotify\0") }
        .ok()
        .map(|s| *s);
    // SAFETY: as above, for `PF_CancelConnectNotify`.
    let cancel = unsafe {
        lib.lib
            .get::<PF_CancelConnectNotify>(b"CancelConnectNotify\0")
    }
    .ok()
    .map(|s| *s);
    if add.is_none() && cancel.is_none() {
        return Ok(NotifyeeLoad::NoExports(format!(
            "{} exports neither AddConnectNotify nor CancelConnectNotify",
            path.display()
        )));
    }
    Ok(NotifyeeLoad::Loaded(LoadedNotifier {
        path,
        add,
        cancel,
        _lib: lib,
    }))
}

fn wide_opt(s: Option<&str>) -> Option<Vec<u16>> {
    s.map(to_wide)
}

fn ptr(v: &mut Option<Vec<u16>>) -> *mut u16 {
    v.as_mut().map_or(std::ptr::null_mut(), |v| v.as_mut_ptr())
}

fn notify_info(info: &NotifyInfo) -> NOTIFYINFO {
    NOTIFYINFO {
        dwNotifyStatus: match info.phase {
            Phase::Pre => abi::NOTIFY_PRE,
            Phase::Post => abi::NOTIFY_POST,
        },
        dwOperationStatus: info.operation_status,
        lpContext: std::ptr::with_exposed_provenance_mut::<c_void>(info.context),
    }
}

impl ConnectNotifier for LoadedNotifier {
    fn handles_add(&self) -> bool {
        self.add.is_some()
    }

    fn handles_cancel(&self) -> bool {
        self.cancel.is_some()
    }

    fn add_notify(&self, info: &mut NotifyInfo, add: &AddNotice<'_>) -> Result<u32, CallFailure> {
        let Some(f) = self.add else {
            return Ok(abi::WN_SUCCESS);
        };
        let mut local = wide_opt(add.local);
        let mut remote = Some(to_wide(add.remote));
        let mut provider = wide_opt(add.provider);
        let mut na = NOTIFYADD {
            hwndOwner: std::ptr::with_exposed_provenance_mut::<c_void>(add.owner),
            NetResource: NETRESOURCEW {
                dwScope: 0,
                dwType: add.r#type,
                dwDisplayType: 0,
                dwUsage: 0,
                lpLocalName: ptr(&mut local),
                lpRemoteName: ptr(&mut remote),
                lpComment: std::ptr::null_mut(),
                lpProvider: ptr(&mut provider),
            },
            dwAddFlags: add.flags,
        };
        let mut ni = notify_info(info);
        // SAFETY: `f` has the npapi.h type `PF_AddConnectNotify` (resolved by
        // that name from a vetted library that is still loaded); both
        // structs and the strings they point to live until the call returns.
        let r = unsafe { f(&mut ni, &mut na) };
        info.context = ni.lpContext.expose_provenance();
        Ok(r)
    }

    fn cancel_notify(
        &self,
        info: &mut NotifyInfo,
        cancel: &CancelNotice<'_>,
    ) -> Result<u32, CallFailure> {
        let Some(f) = self.cancel else {
            return Ok(abi::WN_SUCCESS);
        };
        let mut name = Some(to_wide(cancel.name));
        let mut provider = wide_opt(cancel.provider);
        let mut nc = NOTIFYCANCEL {
            lpName: ptr(&mut name),
            lpProvider: ptr(&mut provider),
            dwFlags: cancel.flags,
            fForce: i32::from(cancel.force),
        };
        let mut ni = notify_info(info);
        // SAFETY: `f` has the npapi.h type `PF_CancelConnectNotify` from a
        // vetted, still-loaded library; the structs and strings outlive the
        // call.
        let r = unsafe { f(&mut ni, &mut nc) };
        info.context = ni.lpContext.expose_provenance();
        Ok(r)
    }
}
