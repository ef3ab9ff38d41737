//! The router's validation through its Rust API, with an in-memory provider
//! and a recording notifier (unit level; the C plugins are exercised in
//! crates/mpr-cli/tests).

use mpr_core::WnError;
use mpr_core::config::{Isolation, Policy};
use mpr_core::plugin::{
    AddNotice, CallFailure, CancelCall, CancelNotice, ConnectCall, ConnectNotifier,
    NetworkProvider, NotifyInfo,
};
use mpr_core::router::{
    AddApi, AddRequest, CancelRequest, NotifyeeSlot, NotifyeeState, ProviderSlot, Router,
    RouterParts,
};
use mpr_core::state::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Memory {
    calls: Mutex<Vec<String>>,
}

impl NetworkProvider for Memory {
    fn key(&self) -> &str {
        "mem"
    }
    fn display_name(&self) -> &str {
        "Memory"
    }
    fn connection_caps(&self) -> u32 {
        mpr_abi::WNNC_CON_ADDCONNECTION3 | mpr_abi::WNNC_CON_CANCELCONNECTION
    }
    fn origin(&self) -> mpr_core::plugin::Origin {
        mpr_core::plugin::Origin::Library("test".into())
    }
    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("add {}", call.remote));
        Ok(())
    }
    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("cancel {}", call.name));
        Ok(())
    }
    fn get_connection(&self, _local: &str, _directory: Option<&Path>) -> Result<String, WnError> {
        Err(WnError::NotSupported)
    }
}

#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl ConnectNotifier for Recorder {
    fn handles_add(&self) -> bool {
        true
    }
    fn handles_cancel(&self) -> bool {
        true
    }
    fn add_notify(&self, info: &mut NotifyInfo, add: &AddNotice<'_>) -> Result<u32, CallFailure> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("add {:?} {}", info.phase, add.remote));
        info.context = 1;
        Ok(0)
    }
    fn cancel_notify(
        &self,
        info: &mut NotifyInfo,
        c: &CancelNotice<'_>,
    ) -> Result<u32, CallFailure> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("cancel {:?} {}", info.phase, c.name));
        info.context = 1;
        Ok(0)
    }
}

struct World {
    router: Router,
    provider: Arc<Memory>,
    notifier: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(Memory::default());
    let notifier = Arc::new(Recorder::default());
    let router = Router::new(RouterParts {
        providers: vec![ProviderSlot::Ready(provider.clone())],
        notifyees: vec![NotifyeeSlot {
            name: "rec".into(),
            path: PathBuf::from("/rec.so"),
            isolation: Isolation::InProcess,
            policy: Policy::Veto,
            state: NotifyeeState::Ready(notifier.clone()),
        }],
        store: Store::memory(),
        drives_dir: dir.path().join("drives"),
        runtime_dir: dir.path().join("run"),
        observers: Vec::new(),
        max_retry_rounds: 3,
    });
    World {
        router,
        provider,
        notifier,
        _dir: dir,
    }
}

impl World {
    fn untouched(&self) {
        assert!(
            self.provider.calls.lock().unwrap().is_empty(),
            "the provider was called"
        );
        assert!(
            self.notifier.calls.lock().unwrap().is_empty(),
            "a notifyee was called"
        );
        assert!(self.router.connections().unwrap().is_empty());
    }
}

fn req(api: AddApi, local: Option<&str>, remote: &str, flags: u32) -> AddRequest {
    AddRequest::new(api, local, remote, flags)
}

#[test]
fn names_with_nul_are_rejected_before_any_notification() {
    let w = world();
    assert_eq!(
        w.router
            .add(&req(AddApi::Add, Some("Z:"), "\\\\srv\\sh\0are", 0)),
        Err(WnError::BadNetName)
    );
    assert_eq!(
        w.router
            .add(&req(AddApi::Add, Some("/mnt/a\0b"), "\\\\srv\\share", 0)),
        Err(WnError::BadLocalName)
    );
    let c = CancelRequest {
        name: "Z:\0".into(),
        flags: 0,
        force: false,
    };
    assert_eq!(w.router.cancel(&c), Err(WnError::BadLocalName));
    w.untouched();
}

#[test]
fn oversized_names_are_rejected() {
    let w = world();
    let long = format!("\\\\srv\\{}", "s".repeat(5000));
    assert_eq!(
        w.router.add(&req(AddApi::Add, Some("Z:"), &long, 0)),
        Err(WnError::BadNetName)
    );
    let long_local = format!("/{}", "d".repeat(5000));
    assert_eq!(
        w.router
            .add(&req(AddApi::Add, Some(&long_local), "\\\\srv\\s", 0)),
        Err(WnError::BadLocalName)
    );
    w.untouched();
}

#[test]
fn unknown_flag_bits_and_bad_types_are_wn_bad_value() {
    let w = world();
    for flags in [0x0100_0000, mpr_abi::CONNECT_LOCALDRIVE, 0x0002_0000] {
        assert_eq!(
            w.router
                .add(&req(AddApi::Add, Some("Z:"), "\\\\srv\\s", flags)),
            Err(WnError::BadValue),
            "{flags:#x}"
        );
    }
    let mut r = req(AddApi::Add, Some("Z:"), "\\\\srv\\s", 0);
    r.r#type = 7;
    assert_eq!(w.router.add(&r), Err(WnError::BadValue));
    r.r#type = mpr_abi::RESOURCETYPE_ANY;
    assert_eq!(
        w.router.add(&r),
        Err(WnError::BadValue),
        "a local name needs RESOURCETYPE_DISK"
    );
    r.r#type = mpr_abi::RESOURCETYPE_PRINT;
    assert_eq!(w.router.add(&r), Err(WnError::BadDevType));
    let c = CancelRequest {
        name: "Z:".into(),
        flags: 0x8,
        force: false,
    };
    assert_eq!(w.router.cancel(&c), Err(WnError::BadValue));
    w.untouched();
}

#[test]
fn redirect_without_a_local_name_needs_use_connection() {
    let w = world();
    let r = req(AddApi::Add, None, "\\\\srv\\s", mpr_abi::CONNECT_REDIRECT);
    assert_eq!(w.router.add(&r), Err(WnError::BadPointer));
    w.untouched();
    let o = w
        .router
        .add(&req(
            AddApi::Use,
            None,
            "\\\\srv\\s",
            mpr_abi::CONNECT_REDIRECT,
        ))
        .unwrap();
    assert_eq!(o.local.as_deref(), Some("Z:"));
    assert_eq!(o.access_name, "Z:");
    assert!(o.redirected);
}

#[test]
fn legacy_add_connection_accepts_any_type_and_remembers() {
    let w = world();
    let mut r = req(
        AddApi::Legacy,
        Some("Q:"),
        "\\\\srv\\s",
        mpr_abi::CONNECT_UPDATE_PROFILE,
    );
    r.r#type = mpr_abi::RESOURCETYPE_ANY;
    let o = w.router.add(&r).unwrap();
    assert!(o.remembered);
    assert_eq!(w.router.store().remembered().unwrap()[0].local, "Q:");
    let calls = w.notifier.calls.lock().unwrap().clone();
    assert_eq!(calls, ["add Pre \\\\srv\\s", "add Post \\\\srv\\s"]);
}

#[test]
fn temporary_connections_are_never_remembered() {
    let w = world();
    let r = req(
        AddApi::Use,
        Some("T:"),
        "\\\\srv\\s",
        mpr_abi::CONNECT_UPDATE_PROFILE | mpr_abi::CONNECT_TEMPORARY,
    );
    assert!(!w.router.add(&r).unwrap().remembered);
    let r = req(
        AddApi::Use,
        None,
        "\\\\srv\\dl",
        mpr_abi::CONNECT_UPDATE_PROFILE,
    );
    assert!(
        !w.router.add(&r).unwrap().remembered,
        "deviceless connections are never remembered"
    );
    assert!(w.router.store().remembered().unwrap().is_empty());
}
