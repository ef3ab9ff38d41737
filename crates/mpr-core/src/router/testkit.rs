//! In-memory parts for the router's unit tests: a provider that records
//! its calls, scripted notifyees, and an observer that keeps every event.
//! (The real providers and C plugins are tested in crates/mpr-cli/tests.)

use super::{NotifyeeSlot, NotifyeeState, ProviderSlot, Router, RouterParts};
use crate::WnError;
use crate::config::{Isolation, Policy};
use crate::event::{Event, Observer};
use crate::lasterror;
use crate::plugin::{
    AddNotice, CallFailure, CancelCall, CancelNotice, ConnectCall, ConnectNotifier,
    NetworkProvider, NotifyInfo, Origin, Phase,
};
use crate::state::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The lines the parts of one world write, in call order.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A provider that takes every request (or fails with a set error) and
/// logs `provider add` / `provider cancel`.
#[derive(Debug)]
pub struct Memory {
    log: Log,
    failure: Mutex<Option<WnError>>,
}

impl Memory {
    /// From now on every add fails with `e`.
    pub fn fail_with(&self, e: WnError) {
        *self.failure.lock().unwrap() = Some(e);
    }
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
    fn origin(&self) -> Origin {
        Origin::Library(PathBuf::from("test"))
    }
    fn add_connection(&self, _call: &ConnectCall<'_>) -> Result<(), WnError> {
        self.log.lock().unwrap().push("provider add".into());
        match *self.failure.lock().unwrap() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    fn cancel_connection(&self, _call: &CancelCall<'_>) -> Result<(), WnError> {
        self.log.lock().unwrap().push("provider cancel".into());
        Ok(())
    }
    fn get_connection(&self, _local: &str, _directory: Option<&Path>) -> Result<String, WnError> {
        Err(WnError::NotSupported)
    }
}

/// A provider that gives one fixed answer, explaining itself in the
/// extended error under its own key.
#[derive(Debug)]
pub struct Scripted {
    key: String,
    answer: Result<(), WnError>,
}

impl Scripted {
    /// A provider `key` answering `answer`.
    pub fn new(key: &str, answer: Result<(), WnError>) -> Scripted {
        Scripted {
            key: key.to_string(),
            answer,
        }
    }

    /// Any add call.
    pub fn call() -> ConnectCall<'static> {
        ConnectCall {
            owner: 0,
            r#type: mpr_abi::RESOURCETYPE_DISK,
            local: None,
            remote: r"\\h\s",
            directory: Path::new("/nonexistent"),
            password: None,
            user: None,
            flags: 0,
            claimed: false,
        }
    }
}

impl NetworkProvider for Scripted {
    fn key(&self) -> &str {
        &self.key
    }
    fn display_name(&self) -> &str {
        &self.key
    }
    fn connection_caps(&self) -> u32 {
        mpr_abi::WNNC_CON_ADDCONNECTION3
    }
    fn origin(&self) -> Origin {
        Origin::Library(PathBuf::from("test"))
    }
    fn add_connection(&self, _call: &ConnectCall<'_>) -> Result<(), WnError> {
        if let Err(e) = self.answer {
            lasterror::set(
                e.code(),
                format!("{} says {}", self.key, e.name()),
                &self.key,
            );
        }
        self.answer
    }
    fn cancel_connection(&self, _call: &CancelCall<'_>) -> Result<(), WnError> {
        self.answer
    }
    fn get_connection(&self, _local: &str, _directory: Option<&Path>) -> Result<String, WnError> {
        self.answer.map(|()| r"\\h\s".to_string())
    }
}

/// How a scripted notifyee answers.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    pre: u32,
    post: u32,
    context: usize,
}

impl Script {
    /// Success everywhere, no context (so no POST).
    pub fn plain() -> Script {
        Script {
            pre: 0,
            post: 0,
            context: 0,
        }
    }

    /// Success everywhere, keeping a context (so a POST comes).
    pub fn keep() -> Script {
        Script {
            context: 1,
            ..Script::plain()
        }
    }

    /// PRE answers `code`.
    pub fn pre(code: u32) -> Script {
        Script {
            pre: code,
            ..Script::plain()
        }
    }

    /// POST answers `code`.
    pub fn post(self, code: u32) -> Script {
        Script { post: code, ..self }
    }
}

/// A notifyee following a [`Script`], logging `<name> <phase> <status in>`.
#[derive(Debug)]
struct Notifyee {
    name: String,
    script: Script,
    log: Log,
}

impl Notifyee {
    fn answer(&self, info: &mut NotifyInfo) -> Result<u32, CallFailure> {
        let phase = match info.phase {
            Phase::Pre => "pre",
            Phase::Post => "post",
        };
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {phase} {}", self.name, info.operation_status));
        Ok(match info.phase {
            Phase::Pre => {
                info.context = self.script.context;
                self.script.pre
            }
            Phase::Post => self.script.post,
        })
    }
}

impl ConnectNotifier for Notifyee {
    fn handles_add(&self) -> bool {
        true
    }
    fn handles_cancel(&self) -> bool {
        true
    }
    fn add_notify(&self, info: &mut NotifyInfo, _add: &AddNotice<'_>) -> Result<u32, CallFailure> {
        self.answer(info)
    }
    fn cancel_notify(
        &self,
        info: &mut NotifyInfo,
        _cancel: &CancelNotice<'_>,
    ) -> Result<u32, CallFailure> {
        self.answer(info)
    }
}

/// Keeps every event.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Observer for Recorder {
    fn event(&self, event: &Event) {
        self.events.lock().unwrap().push(event.clone());
    }
}

/// A router over a [`Memory`] provider, scripted notifyees, an in-memory
/// store and a [`Recorder`].
#[derive(Debug)]
pub struct World {
    pub router: Router,
    pub provider: Arc<Memory>,
    log: Log,
    recorder: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

impl World {
    /// No notifyees.
    pub fn new() -> World {
        World::with_notifyees(&[])
    }

    /// Notifyees in registration order.
    pub fn with_notifyees(scripts: &[(&str, Script)]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let log: Log = Arc::default();
        let provider = Arc::new(Memory {
            log: log.clone(),
            failure: Mutex::new(None),
        });
        let recorder = Arc::new(Recorder::default());
        let notifyees = scripts
            .iter()
            .map(|(name, script)| NotifyeeSlot {
                name: name.to_string(),
                path: PathBuf::from(format!("/{name}.so")),
                isolation: Isolation::InProcess,
                policy: Policy::Veto,
                state: NotifyeeState::Ready(Arc::new(Notifyee {
                    name: name.to_string(),
                    script: *script,
                    log: log.clone(),
                })),
            })
            .collect();
        let router = Router::new(RouterParts {
            providers: vec![ProviderSlot::Ready(provider.clone())],
            notifyees,
            store: Store::memory(),
            drives_dir: dir.path().join("drives"),
            runtime_dir: dir.path().join("run"),
            observers: vec![recorder.clone()],
            max_retry_rounds: 3,
        });
        World {
            router,
            provider,
            log,
            recorder,
            _dir: dir,
        }
    }

    /// What was called, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// What was observed, in order.
    pub fn events(&self) -> Vec<Event> {
        self.recorder.events.lock().unwrap().clone()
    }
}
