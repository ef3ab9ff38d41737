//! What the router tells its observers: one typed [`Event`] per thing that
//! happened (an operation ended, a provider or notifyee was called, a
//! refused notifyee was met, a retry was refused, a notifyee was
//! registered), and the [`Observer`] trait that receives them.
//!
//! The audit journal, the progress display of `mpr` and `mpr watch` all
//! speak this type: the journal serialises each audited event into a
//! [`Record`] (the event plus when, who and the schema version), and
//! `mpr watch` reads the records back into the same type. The JSON field
//! names are the journal's documented schema (`docs/json.md`); a change to
//! a field's name, type or meaning bumps [`SCHEMA_VERSION`].
//!
//! No event ever holds a password: every field is a name, a code, a flag
//! or a duration.

use crate::config::{Isolation, Policy};
use crate::plugin::Phase;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The version of the record schema, written into every record as `v`.
pub const SCHEMA_VERSION: u32 = 1;

/// The operation an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// An add (`WNetAddConnection*`, `mpr use`).
    Add,
    /// A cancel (`WNetCancelConnection*`, `mpr use --delete`).
    Cancel,
    /// A restore of a remembered connection (never notified).
    Restore,
}

impl OpKind {
    /// `add`, `cancel` or `restore`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Cancel => "cancel",
            OpKind::Restore => "restore",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status code as the journal shows it: the number and its `WN_*` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

impl Status {
    /// The `WN_*` (or `ERROR_*`) name of the code.
    pub fn name(self) -> &'static str {
        crate::status_name(self.0)
    }

    /// Whether it is `WN_SUCCESS`.
    pub fn is_success(self) -> bool {
        self.0 == mpr_abi::WN_SUCCESS
    }

    /// The status of a result: 0 for `Ok`.
    pub fn of<T>(r: &Result<T, crate::WnError>) -> Status {
        Status(r.as_ref().err().map_or(0, |e| e.code()))
    }
}

/// An operation ended (after every round, for add and cancel; after the
/// provider call, for restore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationEvent {
    /// The operation's id, shared by every event it caused.
    #[serde(default)]
    pub op_id: String,
    /// Which operation.
    pub op: OpKind,
    /// The local name (empty when deviceless or not validated).
    pub local: String,
    /// The remote name (empty for a cancel).
    pub remote: String,
    /// The connecting user name (never a password); empty for the default.
    #[serde(default)]
    pub user: String,
    /// The provider key that made or cancelled the connection, or empty.
    pub provider: String,
    /// The result code.
    pub result: u32,
    /// Its `WN_*` name.
    pub result_name: String,
    /// Whether notifyees were told (false: validation failed, or restore).
    pub notified: bool,
    /// How long the whole operation took.
    pub duration_us: u64,
    /// Why it failed, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A provider call began (not audited: it feeds progress displays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStartEvent {
    /// The operation's id.
    #[serde(default)]
    pub op_id: String,
    /// Which operation.
    pub op: OpKind,
    /// The provider key.
    pub provider: String,
    /// Its display name.
    pub provider_name: String,
    /// What it was asked, in words (`Z: to \\host\share`).
    pub target: String,
}

/// A provider call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    /// The operation's id.
    #[serde(default)]
    pub op_id: String,
    /// Which operation.
    pub op: OpKind,
    /// The notification round (add and restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    /// The provider key.
    pub provider: String,
    /// The local name (add and restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// The name cancelled (cancel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The remote name (add and restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// `fForce` (cancel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// The provider's answer.
    pub result: u32,
    /// Its `WN_*` name.
    pub result_name: String,
    /// How long the call took.
    pub duration_us: u64,
}

/// A notifyee was called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyEvent {
    /// The operation's id.
    #[serde(default)]
    pub op_id: String,
    /// Which operation.
    pub op: OpKind,
    /// The retry round (0 first).
    pub round: u32,
    /// The registration name.
    pub notifyee: String,
    /// PRE or POST.
    pub phase: Phase,
    /// `dwOperationStatus` handed in.
    pub status_in: u32,
    /// Whether a context was held (PRE: kept one; POST: handed one back).
    pub context: bool,
    /// How it runs.
    pub isolation: Isolation,
    /// What its failures do.
    pub policy: Policy,
    /// How long the call took.
    pub duration_us: u64,
    /// What it returned, when it returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    /// The `WN_*` name of `result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_name: Option<String>,
    /// How the call failed (process isolation: crash, timeout, load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// What the failure did to the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

/// An operation met a notifyee that was refused at load time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedEvent {
    /// The operation's id.
    #[serde(default)]
    pub op_id: String,
    /// Which operation.
    pub op: OpKind,
    /// The registration name.
    pub notifyee: String,
    /// The library path.
    pub path: String,
    /// Why it was refused.
    pub reason: String,
    /// Its policy.
    pub policy: Policy,
    /// What that did to the operation.
    pub decision: String,
}

/// A notifyee asked for a retry past the bound on rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryLimitEvent {
    /// The operation's id.
    #[serde(default)]
    pub op_id: String,
    /// Which operation.
    pub op: OpKind,
    /// The rounds made.
    pub rounds: u32,
    /// The notifyees that asked for yet another retry.
    pub notifyees: Vec<String>,
    /// `retry limit reached`.
    pub message: String,
}

/// What a registration change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryAction {
    /// `mpr notifyee add`.
    Add,
    /// `mpr notifyee remove`.
    Remove,
}

/// What kind of plugin a registration change concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryKind {
    /// A connection notifyee.
    Notifyee,
}

/// The plugin registry of `mpr.toml` changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEvent {
    /// Added or removed.
    pub action: RegistryAction,
    /// What was registered.
    pub kind: RegistryKind,
    /// The registration name.
    pub name: String,
    /// The library path.
    pub path: String,
    /// The SHA-256 of the library (add).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The configuration file changed.
    pub config: String,
}

/// `mpr agent` repaired a connection, or one of its attempts failed: a
/// connection that died (its helper exited, its mount stopped answering)
/// or that could not be restored at login is made again as a restore
/// makes it (without notifications). The attempt's own `operation` and
/// `provider` records carry the same `op_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairEvent {
    /// The id of the attempt's restore operation.
    #[serde(default)]
    pub op_id: String,
    /// The local name.
    pub local: String,
    /// The remote name.
    pub remote: String,
    /// The provider key.
    pub provider: String,
    /// Why it needed repairing (what the agent saw, or the failure of the
    /// attempt before).
    pub reason: String,
    /// Which attempt this was: 1 for the first.
    pub attempt: u32,
    /// The attempt's result.
    pub result: u32,
    /// Its `WN_*` name.
    pub result_name: String,
    /// How long the attempt took.
    pub duration_us: u64,
    /// Why the attempt failed, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// After a failed attempt: seconds until the next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_s: Option<u64>,
}

/// A file whose changes were not uploaded because it changed on the server
/// since it was opened (a colleague's newer version is kept): the program
/// got an error (`ESTALE`), and this record says what happened. Written by
/// the drive's file-system server (`mpr-fsd`), once per open file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictEvent {
    /// The local name of the drive, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// The remote name of the drive.
    pub remote: String,
    /// The provider key.
    pub provider: String,
    /// The file, relative to the drive's root (`/`-separated).
    pub path: String,
    /// What was found on the server (its version, or that the file is gone).
    pub reason: String,
}

/// One thing that happened, as observers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An operation ended.
    Operation(OperationEvent),
    /// A provider call began (progress only; never audited).
    ProviderStart(ProviderStartEvent),
    /// A provider call ended.
    Provider(ProviderEvent),
    /// A notifyee call.
    Notify(NotifyEvent),
    /// A refused notifyee met by an operation.
    Refused(RefusedEvent),
    /// The retry bound was reached.
    RetryLimit(RetryLimitEvent),
    /// The registry changed.
    Registry(RegistryEvent),
    /// `mpr agent` repaired a connection.
    Repair(RepairEvent),
    /// An attempt of `mpr agent` to repair a connection failed.
    RepairFailed(RepairEvent),
    /// A drive refused to overwrite a file changed on the server.
    Conflict(ConflictEvent),
}

impl Event {
    /// Whether the event belongs in the audit journal (everything but
    /// progress).
    pub fn is_audited(&self) -> bool {
        !matches!(self, Event::ProviderStart(_))
    }

    /// The `event` name in a record.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Operation(_) => "operation",
            Event::ProviderStart(_) => "provider_start",
            Event::Provider(_) => "provider",
            Event::Notify(_) => "notify",
            Event::Refused(_) => "refused",
            Event::RetryLimit(_) => "retry_limit",
            Event::Registry(_) => "registry",
            Event::Repair(_) => "repair",
            Event::RepairFailed(_) => "repair_failed",
            Event::Conflict(_) => "conflict",
        }
    }
}

/// How a part of a readable line may be coloured by whoever shows it: the
/// words are the same with colour or without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A success (`WN_SUCCESS`).
    Good,
    /// A failure, a refusal or a veto.
    Bad,
}

/// `1234` µs as ` (1.2 ms)`.
fn duration_text(us: u64) -> String {
    if us >= 1000 {
        format!(" ({:.1} ms)", us as f64 / 1000.0)
    } else {
        format!(" ({us} µs)")
    }
}

/// ` -> WN_X`, painted good for success and bad otherwise.
fn result_text(name: &str, paint: &dyn Fn(Tone, &str) -> String) -> String {
    let tone = if name == "WN_SUCCESS" {
        Tone::Good
    } else {
        Tone::Bad
    };
    format!(" -> {}", paint(tone, name))
}

impl Event {
    /// The event in words, on one line, without the time, pid or uid: the
    /// body of what `mpr watch` prints and of the system journal's
    /// `MESSAGE`. `paint` colours a part (results, refusals, failures); it
    /// must return the words it is given, with or without colour codes.
    pub fn describe(&self, paint: &dyn Fn(Tone, &str) -> String) -> String {
        match self {
            Event::Operation(o) => {
                let mut t = o.op.to_string();
                for x in [&o.local, &o.remote] {
                    if !x.is_empty() {
                        t.push(' ');
                        t.push_str(x);
                    }
                }
                if !o.provider.is_empty() {
                    t.push_str(&format!(" via {}", o.provider));
                }
                t.push_str(&result_text(&o.result_name, paint));
                t.push_str(&duration_text(o.duration_us));
                if !o.notified {
                    t.push_str(", not notified");
                }
                if let Some(m) = o.message.as_deref().filter(|m| !m.is_empty()) {
                    t.push_str(&format!(": {m}"));
                }
                t
            }
            Event::ProviderStart(p) => format!("{} {} {}", p.provider, p.op, p.target),
            Event::Provider(p) => {
                let target = [&p.local, &p.name, &p.remote]
                    .into_iter()
                    .filter_map(|x| x.as_deref().filter(|x| !x.is_empty()))
                    .collect::<Vec<_>>()
                    .join(" ");
                format!(
                    "{} {} {target}{}{}",
                    p.provider,
                    p.op,
                    result_text(&p.result_name, paint),
                    duration_text(p.duration_us)
                )
            }
            Event::Notify(n) => {
                let mut t = format!(
                    "{} {} {} status={}",
                    n.notifyee,
                    n.op,
                    n.phase.as_str(),
                    n.status_in
                );
                match (&n.failure, &n.result_name) {
                    (Some(f), _) => t.push_str(&format!(
                        " -> {}: {}",
                        paint(Tone::Bad, f),
                        n.decision.as_deref().unwrap_or("")
                    )),
                    (None, Some(name)) => t.push_str(&result_text(name, paint)),
                    (None, None) => {}
                }
                if n.context {
                    t.push_str(" (context)");
                }
                t.push_str(&duration_text(n.duration_us));
                t
            }
            Event::Refused(f) => format!(
                "notifyee {} ({}) {}: {}; {}",
                f.notifyee,
                f.path,
                paint(Tone::Bad, "refused"),
                f.reason,
                f.decision
            ),
            Event::RetryLimit(l) => format!(
                "{}: {} after {} rounds ({})",
                l.op,
                l.message,
                l.rounds,
                l.notifyees.join(", ")
            ),
            Event::Registry(g) => {
                let action = match g.action {
                    RegistryAction::Add => "add",
                    RegistryAction::Remove => "remove",
                };
                format!("{action} notifyee {} ({})", g.name, g.path)
            }
            Event::Repair(r) | Event::RepairFailed(r) => {
                let mut t = format!(
                    "{} {} via {} (attempt {}; {}){}{}",
                    r.local,
                    r.remote,
                    r.provider,
                    r.attempt,
                    r.reason,
                    result_text(&r.result_name, paint),
                    duration_text(r.duration_us)
                );
                if let Some(m) = r.message.as_deref().filter(|m| !m.is_empty()) {
                    t.push_str(&format!(": {m}"));
                }
                if let Some(s) = r.retry_in_s {
                    t.push_str(&format!("; next attempt in {s} s"));
                }
                t
            }
            Event::Conflict(c) => format!(
                "{}{} via {}: {} {}: {}",
                c.local
                    .as_deref()
                    .map(|l| format!("{l} "))
                    .unwrap_or_default(),
                c.remote,
                c.provider,
                c.path,
                paint(Tone::Bad, "not uploaded"),
                c.reason
            ),
        }
    }

    /// [`Event::describe`] without colour.
    pub fn summary(&self) -> String {
        self.describe(&|_, s| s.to_string())
    }
}

/// An event as the journal stores it: when, by whom, which schema. `E`
/// is [`Event`] when reading and `&Event` when writing (no copy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record<E = Event> {
    /// Seconds since the epoch, `"<seconds>.<microseconds>"`.
    pub ts: String,
    /// The event and its fields (`event` names its kind).
    #[serde(flatten)]
    pub event: E,
    /// The process that wrote it.
    pub pid: u32,
    /// The real user id of that process.
    pub uid: u32,
    /// The schema version ([`SCHEMA_VERSION`]); records written before
    /// versioning carry none and read as 0.
    #[serde(default)]
    pub v: u32,
}

impl<E> Record<E> {
    /// Stamps `event` with the current time, pid, uid and version.
    pub fn now(event: E) -> Record<E> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Record {
            ts: format!("{}.{:06}", now.as_secs(), now.subsec_micros()),
            event,
            pid: std::process::id(),
            uid: rustix::process::getuid().as_raw(),
            v: SCHEMA_VERSION,
        }
    }
}

/// Receives the router's events (in the spirit of a search sink): the
/// journal writes them down, `mpr` shows progress from them.
///
/// Observers are called on the thread of the operation, in the order they
/// were added, and must be quick: a slow observer slows the operation.
pub trait Observer: Send + Sync + fmt::Debug {
    /// Whether this observer wants events at all. When no observer does,
    /// the router neither builds events nor reads the clock for them (a
    /// measurable part of a notifyee call's cost, docs/performance.md).
    fn is_active(&self) -> bool {
        true
    }

    /// One event.
    fn event(&self, event: &Event);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Event {
        Event::Operation(OperationEvent {
            op_id: "1-2".into(),
            op: OpKind::Add,
            local: "Z:".into(),
            remote: r"\\h\s".into(),
            user: "alice".into(),
            provider: "sftp".into(),
            result: 0,
            result_name: "WN_SUCCESS".into(),
            notified: true,
            duration_us: 12,
            message: None,
        })
    }

    #[test]
    fn records_round_trip_through_json() {
        let e = op();
        let r = Record::now(&e);
        let line = serde_json::to_string(&r).unwrap();
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!((&back.event, back.pid, &back.ts), (&e, r.pid, &r.ts));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "operation");
        assert_eq!(v["op"], "add");
        assert_eq!(v["v"], SCHEMA_VERSION);
        assert!(v.get("message").is_none(), "{line}");
    }

    #[test]
    fn records_without_a_version_read_as_version_zero() {
        let line = r#"{"ts":"1.0","event":"registry","pid":1,"uid":0,"action":"remove","kind":"notifyee","name":"a","path":"/a.so","config":"/etc/mpr/mpr.toml"}"#;
        let r: Record = serde_json::from_str(line).unwrap();
        assert_eq!(r.v, 0);
        assert!(matches!(
            r.event,
            Event::Registry(RegistryEvent {
                action: RegistryAction::Remove,
                ..
            })
        ));
    }

    #[test]
    fn notify_events_spell_phase_isolation_and_policy_as_the_file_does() {
        let e = Event::Notify(NotifyEvent {
            op_id: "x".into(),
            op: OpKind::Cancel,
            round: 1,
            notifyee: "audit".into(),
            phase: Phase::Post,
            status_in: 0,
            context: true,
            isolation: Isolation::Process,
            policy: Policy::Advisory,
            duration_us: 3,
            result: Some(0),
            result_name: Some("WN_SUCCESS".into()),
            failure: None,
            decision: None,
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["phase"], "post");
        assert_eq!(v["isolation"], "process");
        assert_eq!(v["policy"], "advisory");
        assert_eq!(v["event"], "notify");
    }

    #[test]
    fn repair_events_say_why_and_when_the_next_attempt_is() {
        let r = RepairEvent {
            op_id: "9-1".into(),
            local: "Z:".into(),
            remote: r"\\h\s".into(),
            provider: "sftp".into(),
            reason: "its helper has exited".into(),
            attempt: 2,
            result: mpr_abi::WN_BAD_NETNAME,
            result_name: "WN_BAD_NETNAME".into(),
            duration_us: 1500,
            message: Some("h refused the connection".into()),
            retry_in_s: Some(4),
        };
        let e = Event::RepairFailed(r.clone());
        assert_eq!(e.kind(), "repair_failed");
        assert!(e.is_audited());
        assert_eq!(
            e.summary(),
            r"Z: \\h\s via sftp (attempt 2; its helper has exited) -> WN_BAD_NETNAME (1.5 ms): h refused the connection; next attempt in 4 s"
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["retry_in_s"].as_u64()),
            (Some("repair_failed"), Some(4))
        );
        let ok = Event::Repair(RepairEvent {
            message: None,
            retry_in_s: None,
            ..r
        });
        let back: Event = serde_json::from_value(serde_json::to_value(&ok).unwrap()).unwrap();
        assert_eq!(back, ok);
        assert_eq!(ok.kind(), "repair");
    }

    #[test]
    fn progress_is_not_audited() {
        let e = Event::ProviderStart(ProviderStartEvent {
            op_id: "x".into(),
            op: OpKind::Add,
            provider: "smb".into(),
            provider_name: "SMB".into(),
            target: "Z:".into(),
        });
        assert!(!e.is_audited());
        assert!(op().is_audited());
        assert_eq!(e.kind(), "provider_start");
    }
}
