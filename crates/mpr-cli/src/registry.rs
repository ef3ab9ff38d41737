//! The registry verbs: `mpr notifyee list|add|remove` and `mpr provider
//! list`. Registering edits the system `mpr.toml` in place (comments,
//! order and layout kept), under a lock on its directory, and replaces it
//! atomically; the result is parsed again before it is written, so a file
//! mpr could not read is never written.

use crate::UsageError;
use crate::output::{Cell, Out, Style, Table, stdout_line};
use anyhow::{Context, Result, anyhow};
use mpr_abi as abi;
use mpr_core::config::{self, Config, Isolation, NotifyeeEntry, Policy};
use mpr_core::event::{Event, RegistryAction, RegistryEvent, RegistryKind};
use mpr_core::plugin::ConnectNotifier;
use mpr_core::router::ProviderSlot;
use mpr_core::{WnError, lasterror, trust};
use mpr_loader::notifyee::NotifyeeLoad;
use mpr_setup::Paths;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The hint for a system configuration that cannot be written.
const ROOT_HINT: &str = "the notifyees are registered in the system configuration: run this as root (e.g. with sudo), or point MPR_CONFIG_DIR at a directory of yours";

/// The options of a new registration.
#[derive(Debug, Clone)]
pub struct NewNotifyee {
    /// The registration name.
    pub name: OsString,
    /// The library path as given.
    pub path: OsString,
    /// `--isolation`.
    pub isolation: Option<Isolation>,
    /// `--policy`.
    pub policy: Option<Policy>,
    /// `--timeout-ms`.
    pub timeout_ms: Option<u64>,
}

/// A failure that the caller reports as `WN_*` (exit 1): the code, its
/// message (set as the extended error) and a hint.
struct Failure(WnError, String, Option<String>);

fn failure(e: WnError, message: impl Into<String>, hint: Option<&str>) -> Failure {
    Failure(e, message.into(), hint.map(str::to_string))
}

fn report(out: Out, f: Failure) -> ExitCode {
    let Failure(e, message, hint) = f;
    lasterror::set(e.code(), message, "mpr");
    out.failure_with_hint(e, hint.as_deref())
}

fn paths() -> Result<Paths> {
    Paths::from_env().map_err(|e| UsageError(e.to_string()).into())
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The rule of `mpr.toml` for registration names (kept in step with
/// `mpr_core::config`, which checks it again when the file is read).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{name:?} is not a valid notifyee name (letters, digits, '-', '_', '.'; at most 64)"
        ));
    }
    Ok(())
}

/// The SHA-256 of a file, in hex; `None` if it cannot be read or is not a
/// regular file of a plugin's size (a FIFO would block, `/dev/zero` never
/// end).
pub fn sha256_file(path: &Path) -> Option<String> {
    let mut f = trust::open_regular(path, trust::MAX_PLUGIN_LEN).ok()?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

/// What loading a notifyee says about it.
enum Verdict {
    /// Passed the checks and exports (add, cancel).
    Ok(bool, bool),
    /// Refused by the trust checks or not loadable.
    Refused(String),
    /// Exports neither function.
    Ignored(String),
}

/// Which of the two functions a vetted library exports, loading it as a
/// connect would: in this process, or, for `isolation = "process"`, in a
/// notifyee host (so that a library whose constructor crashes cannot take
/// `mpr notifyee list|add` down with it). `Ok(Err(why))`: it exports
/// neither.
fn exports(
    vetted: trust::VettedPlugin,
    name: &str,
    isolation: Isolation,
    timeout_ms: u64,
) -> Result<Result<(bool, bool), String>, String> {
    match isolation {
        Isolation::InProcess => match mpr_loader::load_notifyee(vetted)? {
            NotifyeeLoad::Loaded(l) => Ok(Ok((l.handles_add(), l.handles_cancel()))),
            NotifyeeLoad::NoExports(why) => Ok(Err(why)),
        },
        Isolation::Process => {
            let path = vetted.path().to_path_buf();
            drop(vetted);
            let timeout = std::time::Duration::from_millis(timeout_ms);
            match mpr_loader::isolation::IsolatedNotifier::start(name, &path, timeout)? {
                mpr_loader::isolation::Started::Ready(n) => {
                    Ok(Ok((n.handles_add(), n.handles_cancel())))
                }
                mpr_loader::isolation::Started::NoExports(why) => Ok(Err(why)),
            }
        }
    }
}

/// Checks and loads a notifyee library as a connect would (the trust
/// checks, then its exports).
fn verdict(entry: &NotifyeeEntry) -> Verdict {
    match trust::vet(&entry.path) {
        Err(r) => Verdict::Refused(r.reason),
        Ok(v) => match exports(v, &entry.name, entry.isolation, entry.timeout_ms) {
            Ok(Ok((add, cancel))) => Verdict::Ok(add, cancel),
            Ok(Err(why)) => Verdict::Ignored(why),
            Err(why) => Verdict::Refused(why),
        },
    }
}

fn exports_text(add: bool, cancel: bool) -> &'static str {
    match (add, cancel) {
        (true, true) => "add, cancel",
        (true, false) => "add",
        (false, true) => "cancel",
        (false, false) => "-",
    }
}

fn load_config(paths: &Paths) -> Result<Config> {
    Config::load(&paths.config_file(), &env_lookup)
        .map_err(|e| UsageError(format!("configuration error: {e}")).into())
}

/// `mpr notifyee list`.
pub fn notifyee_list(out: Out) -> Result<ExitCode> {
    let paths = paths()?;
    let config = load_config(&paths)?;
    let n = config.notifyees.len();
    let mut rows = Vec::new();
    // PRE calls the newest registration first.
    for (i, entry) in config.notifyees.iter().enumerate().rev() {
        let v = verdict(entry);
        rows.push((n - i, i + 1, entry, v, sha256_file(&entry.path)));
    }
    let items: Vec<Value> = rows
        .iter()
        .map(|(pre, reg, e, v, sha)| {
            let (trust, reason, exports) = match v {
                Verdict::Ok(a, c) => {
                    let mut x = Vec::new();
                    if *a {
                        x.push("AddConnectNotify");
                    }
                    if *c {
                        x.push("CancelConnectNotify");
                    }
                    ("ok", None, Some(x))
                }
                Verdict::Refused(r) => ("refused", Some(r.clone()), None),
                Verdict::Ignored(r) => ("ignored", Some(r.clone()), None),
            };
            json!({
                "pre_order": pre, "registration": reg, "name": e.name,
                "path": e.path.display().to_string(), "sha256": sha,
                "trust": trust, "reason": reason, "exports": exports,
                "isolation": e.isolation.as_str(), "policy": e.policy.as_str(),
                "timeout_ms": e.timeout_ms,
            })
        })
        .collect();
    let file = config.path.display().to_string();
    Ok(out.success(
        crate::commands::obj(json!({"config": file, "notifyees": items})),
        || {
            if rows.is_empty() {
                stdout_line(&format!("There are no registered notifyees (in {file})."));
                return;
            }
            let mut t = Table::new(&[
                "PRE", "Name", "Exports", "Isolation", "Policy", "SHA-256", "Path", "Trust",
            ]);
            for (pre, _, e, v, sha) in &rows {
                let (exports, trust) = match v {
                    Verdict::Ok(a, c) => (exports_text(*a, *c), Cell::styled("ok", Style::Green)),
                    Verdict::Refused(r) => ("-", Cell::styled(format!("refused: {r}"), Style::Red)),
                    Verdict::Ignored(r) => {
                        ("-", Cell::styled(format!("ignored: {r}"), Style::Yellow))
                    }
                };
                t.row(vec![
                    Cell::new(pre.to_string()),
                    Cell::new(&e.name),
                    Cell::new(exports),
                    Cell::new(e.isolation.as_str()),
                    Cell::new(e.policy.as_str()),
                    Cell::new(sha.clone().unwrap_or_else(|| "-".into())),
                    Cell::new(e.path.display().to_string()),
                    trust,
                ]);
            }
            t.print();
            stdout_line(&format!(
                "PRE calls them from top to bottom (newest registration first), POST from bottom to top. Registered in {file}."
            ));
        },
    ))
}

/// The directory holding the configuration file, created (0755) if
/// missing, checked for write permission, and locked while the file is
/// rewritten.
struct ConfigLock {
    _dir: std::fs::File,
}

fn lock_config_dir(dir: &Path) -> Result<ConfigLock, Failure> {
    use std::os::unix::fs::DirBuilderExt;
    let denied = |e: &dyn std::fmt::Display| {
        failure(
            WnError::AccessDenied,
            format!(
                "cannot change the system configuration in {}: {e}",
                dir.display()
            ),
            Some(ROOT_HINT),
        )
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| denied(&e))?;
    }
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).map_err(|e| denied(&e))?;
    let f = std::fs::File::open(dir).map_err(|e| denied(&e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| denied(&e))?;
    Ok(ConfigLock { _dir: f })
}

/// Reads the configuration text (empty if missing) and parses it.
fn read_config_text(file: &Path) -> Result<(String, Config)> {
    let text = match std::fs::read(file) {
        Ok(b) => String::from_utf8(b).map_err(|_| {
            UsageError(format!(
                "configuration error: {}: not valid UTF-8",
                file.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(UsageError(format!("cannot read {}: {e}", file.display())).into());
        }
    };
    let config = Config::parse(file, &text, &env_lookup)
        .map_err(|e| UsageError(format!("configuration error: {e}")))?;
    Ok((text, config))
}

/// The file to write: the configuration file, or its target if it is a
/// symbolic link.
fn write_target(file: &Path) -> PathBuf {
    match std::fs::symlink_metadata(file) {
        Ok(md) if md.file_type().is_symlink() => {
            std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf())
        }
        _ => file.to_path_buf(),
    }
}

/// Replaces the configuration file atomically (mode 0644). Permission
/// problems are `WN_ACCESS_DENIED` (`Ok(Err)`); other I/O errors are
/// configuration errors (exit 2).
fn write_config(file: &Path, text: &str) -> Result<Result<(), Failure>> {
    let target = write_target(file);
    match mpr_core::state::atomic_write(&target, text.as_bytes(), 0o644) {
        Ok(()) => Ok(Ok(())),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Ok(Err(failure(
                WnError::AccessDenied,
                format!("cannot write {}: {e}", target.display()),
                Some(ROOT_HINT),
            )))
        }
        Err(e) => Err(UsageError(format!("cannot write {}: {e}", target.display())).into()),
    }
}

/// The entry as written to the file, and its JSON form.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The name.
    pub name: String,
    /// The path as written (may hold `$VAR`).
    pub path: String,
    /// `isolation`, if given.
    pub isolation: Option<Isolation>,
    /// `policy`, if given.
    pub policy: Option<Policy>,
    /// `timeout_ms`, if given.
    pub timeout_ms: Option<u64>,
}

impl Registration {
    fn is_short(&self) -> bool {
        self.isolation.is_none() && self.policy.is_none() && self.timeout_ms.is_none()
    }

    fn fields(&self) -> Vec<(&'static str, toml_edit::Value)> {
        let mut v = vec![("path", toml_edit::Value::from(self.path.as_str()))];
        if let Some(i) = self.isolation {
            v.push(("isolation", i.as_str().into()));
        }
        if let Some(t) = self.timeout_ms {
            v.push(("timeout_ms", toml_edit::Value::from(t as i64)));
        }
        if let Some(p) = self.policy {
            v.push(("policy", p.as_str().into()));
        }
        v
    }
}

/// Appends `reg` at the end of `[notifyees]` in `text` (which must parse),
/// keeping everything else. The result is checked by parsing it again: the
/// notifyees are the old ones followed by the new one.
pub fn append_notifyee(text: &str, reg: &Registration) -> Result<String, String> {
    let path = Path::new("mpr.toml");
    let before = Config::parse(path, text, &env_lookup).map_err(|e| e.to_string())?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let fresh = !doc.contains_key("notifyees");
    // In a file of comments only, the comments are the document's trailing
    // text: keep them above the new table.
    let lead = if doc.as_table().is_empty() {
        let t = doc.trailing().as_str().unwrap_or("").to_string();
        doc.set_trailing("");
        t
    } else {
        String::new()
    };
    let item = doc.entry("notifyees").or_insert_with(toml_edit::table);
    match item {
        toml_edit::Item::Table(t) => {
            let has_subtables = t.iter().any(|(_, i)| i.is_table());
            if t.is_dotted() || (!has_subtables && !reg.is_short()) {
                // A value in the [notifyees] body (inline table for options).
                t.insert(&reg.name, toml_edit::Item::Value(inline_value(reg)));
            } else if !has_subtables {
                t.insert(&reg.name, toml_edit::value(reg.path.as_str()));
            } else {
                // Values would land before the sub-tables: add a sub-table
                // after the last one instead.
                let mut sub = toml_edit::Table::new();
                for (k, v) in reg.fields() {
                    sub.insert(k, toml_edit::Item::Value(v));
                }
                t.insert(&reg.name, toml_edit::Item::Table(sub));
            }
            if fresh {
                t.set_implicit(false);
                let prefix = if text.trim().is_empty() {
                    "# Connection notifyees, in registration order (`mpr notifyee add` appends).\n"
                        .to_string()
                } else if !lead.is_empty() {
                    format!("{}\n\n", lead.trim_end_matches('\n'))
                } else {
                    "\n".to_string()
                };
                t.decor_mut().set_prefix(prefix);
            }
        }
        toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
            let v = if reg.is_short() {
                toml_edit::Value::from(reg.path.as_str())
            } else {
                inline_value(reg)
            };
            t.insert(&reg.name, v);
        }
        _ => return Err("[notifyees] is not a table".into()),
    }
    let out = doc.to_string();
    let after = Config::parse(path, &out, &env_lookup)
        .map_err(|e| format!("internal error: the edited configuration does not parse ({e})"))?;
    let mut want: Vec<&str> = before.notifyees.iter().map(|n| n.name.as_str()).collect();
    want.push(&reg.name);
    let got: Vec<&str> = after.notifyees.iter().map(|n| n.name.as_str()).collect();
    if want != got || after.providers != before.providers {
        return Err(format!(
            "internal error: editing the configuration would give the notifyees {got:?} instead of {want:?}"
        ));
    }
    Ok(out)
}

fn inline_value(reg: &Registration) -> toml_edit::Value {
    let mut it = toml_edit::InlineTable::new();
    for (k, v) in reg.fields() {
        it.insert(k, v);
    }
    toml_edit::Value::InlineTable(it)
}

/// Removes notifyee `name` from `text`; `Ok(None)` if it is not there.
pub fn remove_notifyee(text: &str, name: &str) -> Result<Option<String>, String> {
    let path = Path::new("mpr.toml");
    let before = Config::parse(path, text, &env_lookup).map_err(|e| e.to_string())?;
    if !before.notifyees.iter().any(|n| n.name == name) {
        return Ok(None);
    }
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let removed = match doc.get_mut("notifyees") {
        Some(toml_edit::Item::Table(t)) => t.remove(name).is_some(),
        Some(toml_edit::Item::Value(toml_edit::Value::InlineTable(t))) => t.remove(name).is_some(),
        _ => false,
    };
    if !removed {
        return Err(format!(
            "internal error: notifyee {name:?} was not found in the document"
        ));
    }
    let out = doc.to_string();
    let after = Config::parse(path, &out, &env_lookup)
        .map_err(|e| format!("internal error: the edited configuration does not parse ({e})"))?;
    let want: Vec<&str> = before
        .notifyees
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| *n != name)
        .collect();
    let got: Vec<&str> = after.notifyees.iter().map(|n| n.name.as_str()).collect();
    if want != got || after.providers != before.providers {
        return Err(format!(
            "internal error: editing the configuration would give the notifyees {got:?} instead of {want:?}"
        ));
    }
    Ok(Some(out))
}

fn entry_json(e: &NotifyeeEntry) -> Value {
    json!({
        "name": e.name, "path": e.path.display().to_string(),
        "isolation": e.isolation.as_str(), "policy": e.policy.as_str(), "timeout_ms": e.timeout_ms,
    })
}

/// Makes a path given on the command line absolute (a `$VAR` path is kept
/// as written).
fn absolute(raw: &str) -> Result<String> {
    if raw.starts_with('/') || raw.starts_with('$') {
        return Ok(raw.to_string());
    }
    let cwd = std::env::current_dir().context("cannot find the current directory")?;
    let joined = cwd.join(raw);
    joined
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the current directory is not valid UTF-8"))
}

/// `mpr notifyee add`.
pub fn notifyee_add(out: Out, new: NewNotifyee) -> Result<ExitCode> {
    match add(new)? {
        Ok((entry, exports, sha, file, pre_total)) => {
            let mut obj = entry_json(&entry);
            obj["sha256"] = json!(sha);
            obj["exports"] = json!(exports);
            obj["pre_order"] = json!(1);
            obj["registration"] = json!(pre_total);
            Ok(out.success(
                crate::commands::obj(json!({"config": file, "notifyee": obj})),
                || {
                    stdout_line(&format!(
                        "Notifyee {} is registered in {file}; it is called first in PRE ({} registered).",
                        entry.name, pre_total
                    ));
                },
            ))
        }
        Err(f) => Ok(report(out, f)),
    }
}

type Added = (
    NotifyeeEntry,
    Vec<&'static str>,
    Option<String>,
    String,
    usize,
);

fn add(new: NewNotifyee) -> Result<Result<Added, Failure>> {
    let Some(name) = new.name.to_str().map(str::to_string) else {
        return Ok(Err(failure(
            WnError::InvalidName,
            format!(
                "the notifyee name {} is not valid UTF-8",
                new.name.to_string_lossy()
            ),
            None,
        )));
    };
    if let Err(m) = check_name(&name) {
        return Ok(Err(failure(WnError::InvalidName, m, None)));
    }
    let Some(raw) = new.path.to_str() else {
        return Ok(Err(failure(
            WnError::BadValue,
            format!(
                "the library path {} is not valid UTF-8",
                new.path.to_string_lossy()
            ),
            None,
        )));
    };
    let raw = absolute(raw)?;
    let expanded = match config::expand_env(&raw, &env_lookup) {
        Ok(p) if p.starts_with('/') => PathBuf::from(p),
        Ok(p) => {
            return Ok(Err(failure(
                WnError::BadValue,
                format!("the library path must be absolute, not {p:?}"),
                None,
            )));
        }
        Err(m) => return Ok(Err(failure(WnError::BadValue, m, None))),
    };
    let paths = paths()?;
    let file = paths.config_file();
    let lock = match lock_config_dir(&paths.config_dir) {
        Ok(l) => l,
        Err(f) => return Ok(Err(f)),
    };
    let (text, before) = read_config_text(&file)?;
    if let Some(old) = before.notifyees.iter().find(|n| n.name == name) {
        return Ok(Err(failure(
            WnError::BadValue,
            format!(
                "a notifyee named {name} is already registered ({}:{}, {})",
                file.display(),
                old.line,
                old.path.display()
            ),
            Some("remove it first with `mpr notifyee remove NAME`, or choose another name"),
        )));
    }
    if let Err(e) = std::fs::metadata(&expanded) {
        return Ok(Err(failure(
            WnError::BadValue,
            format!("cannot register {}: {e}", expanded.display()),
            None,
        )));
    }
    let vetted = match trust::vet(&expanded) {
        Ok(v) => v,
        Err(r) => {
            return Ok(Err(failure(
                WnError::AccessDenied,
                r.to_string(),
                Some(
                    "a plugin and every directory above it must be owned by root (or by you, when you are not root) and not group- or world-writable",
                ),
            )));
        }
    };
    let isolation = new.isolation.unwrap_or(Isolation::InProcess);
    let timeout_ms = new.timeout_ms.unwrap_or(config::DEFAULT_TIMEOUT_MS);
    let exports = match exports(vetted, &name, isolation, timeout_ms) {
        Ok(Ok((add, cancel))) => {
            let mut x = Vec::new();
            if add {
                x.push("AddConnectNotify");
            }
            if cancel {
                x.push("CancelConnectNotify");
            }
            x
        }
        Ok(Err(why)) => {
            return Ok(Err(failure(
                WnError::BadValue,
                format!("{why}, so it is not a notifyee library"),
                Some(
                    "a notifyee must export AddConnectNotify and/or CancelConnectNotify (see include/npapi.h)",
                ),
            )));
        }
        Err(why) => return Ok(Err(failure(WnError::BadValue, why, None))),
    };
    let reg = Registration {
        name: name.clone(),
        path: raw,
        isolation: new.isolation,
        policy: new.policy,
        timeout_ms: new.timeout_ms,
    };
    let edited = append_notifyee(&text, &reg).map_err(|m| anyhow!(UsageError(m)))?;
    if let Err(f) = write_config(&file, &edited)? {
        return Ok(Err(f));
    }
    drop(lock);
    let after =
        Config::parse(&file, &edited, &env_lookup).map_err(|e| UsageError(e.to_string()))?;
    let entry = after
        .notifyees
        .last()
        .cloned()
        .ok_or_else(|| anyhow!("internal error: the new entry is missing"))?;
    let sha = sha256_file(&expanded);
    mpr_setup::journal(&paths, &after).write(&Event::Registry(RegistryEvent {
        action: RegistryAction::Add,
        kind: RegistryKind::Notifyee,
        name: name.clone(),
        path: expanded.display().to_string(),
        sha256: sha.clone(),
        config: file.display().to_string(),
    }));
    Ok(Ok((
        entry,
        exports,
        sha,
        file.display().to_string(),
        after.notifyees.len(),
    )))
}

/// `mpr notifyee remove`.
pub fn notifyee_remove(out: Out, name: OsString) -> Result<ExitCode> {
    let Some(name) = name.to_str().map(str::to_string) else {
        let f = failure(
            WnError::InvalidName,
            format!(
                "the notifyee name {} is not valid UTF-8",
                name.to_string_lossy()
            ),
            None,
        );
        return Ok(report(out, f));
    };
    let paths = paths()?;
    let file = paths.config_file();
    let not_registered = |file: &Path| {
        failure(
            WnError::BadValue,
            format!(
                "no notifyee named {name} is registered in {}",
                file.display()
            ),
            Some("`mpr notifyee list` shows the registered names"),
        )
    };
    if !file.exists() {
        return Ok(report(out, not_registered(&file)));
    }
    let lock = match lock_config_dir(&paths.config_dir) {
        Ok(l) => l,
        Err(f) => return Ok(report(out, f)),
    };
    let (text, before) = read_config_text(&file)?;
    let Some(entry) = before.notifyees.iter().find(|n| n.name == name).cloned() else {
        return Ok(report(out, not_registered(&file)));
    };
    let edited = match remove_notifyee(&text, &name) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(report(out, not_registered(&file))),
        Err(m) => return Err(UsageError(m).into()),
    };
    if let Err(f) = write_config(&file, &edited)? {
        return Ok(report(out, f));
    }
    drop(lock);
    mpr_setup::journal(&paths, &before).write(&Event::Registry(RegistryEvent {
        action: RegistryAction::Remove,
        kind: RegistryKind::Notifyee,
        name: name.clone(),
        path: entry.path.display().to_string(),
        sha256: None,
        config: file.display().to_string(),
    }));
    let shown = file.display().to_string();
    Ok(out.success(
        crate::commands::obj(json!({"config": shown, "notifyee": entry_json(&entry)})),
        || {
            stdout_line(&format!(
                "Notifyee {name} is no longer registered in {shown}."
            ))
        },
    ))
}

/// The names of the `WNNC_CONNECTION` bits, in bit order.
const CAPS: &[(u32, &str)] = &[
    (abi::WNNC_CON_ADDCONNECTION, "add"),
    (abi::WNNC_CON_CANCELCONNECTION, "cancel"),
    (abi::WNNC_CON_GETCONNECTIONS, "get"),
    (abi::WNNC_CON_ADDCONNECTION3, "add3"),
    (abi::WNNC_CON_ADDCONNECTION4, "add4"),
    (abi::WNNC_CON_CANCELCONNECTION2, "cancel2"),
    (abi::WNNC_CON_GETPERFORMANCE, "performance"),
    (abi::WNNC_CON_DEFER, "defer"),
];

/// Decodes `NPGetCaps(WNNC_CONNECTION)`; unknown bits appear as hex.
pub fn decode_caps(caps: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = caps;
    for &(bit, name) in CAPS {
        if caps & bit != 0 {
            out.push(name.to_string());
            rest &= !bit;
        }
    }
    for i in 0..32 {
        if rest & (1 << i) != 0 {
            out.push(format!("{:#x}", 1u32 << i));
        }
    }
    out
}

/// `mpr provider list`.
pub fn provider_list(out: Out) -> Result<ExitCode> {
    let (router, _warnings) = mpr_setup::router_from_env(mpr_setup::Load { notifyees: false })
        .map_err(|e| UsageError(e.to_string()))?;
    let mut items = Vec::new();
    let mut t = Table::new(&["Order", "Key", "Name", "Capabilities", "Origin", "Status"]);
    for (i, slot) in router.providers().iter().enumerate() {
        match slot {
            ProviderSlot::Ready(p) => {
                let caps = decode_caps(p.connection_caps());
                let origin = p.origin();
                let builtin = origin == "built-in";
                items.push(json!({
                    "order": i + 1, "key": p.key(), "name": p.display_name(), "status": "ready",
                    "caps": p.connection_caps(), "capabilities": caps, "net_type": p.net_type(),
                    "builtin": builtin, "path": (!builtin).then(|| origin.clone()), "reason": null,
                }));
                t.row(vec![
                    Cell::new((i + 1).to_string()),
                    Cell::new(p.key()),
                    Cell::new(p.display_name()),
                    Cell::new(if caps.is_empty() {
                        "-".to_string()
                    } else {
                        caps.join(", ")
                    }),
                    Cell::new(origin),
                    Cell::styled("ready", Style::Green),
                ]);
            }
            ProviderSlot::Refused {
                key,
                name,
                path,
                reason,
            } => {
                let path_s = path.display().to_string();
                items.push(json!({
                    "order": i + 1, "key": key, "name": name, "status": "refused",
                    "caps": null, "capabilities": null, "net_type": null,
                    "builtin": path_s.is_empty(), "path": (!path_s.is_empty()).then(|| path_s.clone()),
                    "reason": reason,
                }));
                t.row(vec![
                    Cell::new((i + 1).to_string()),
                    Cell::new(key),
                    Cell::new(name),
                    Cell::new("-"),
                    Cell::new(if path_s.is_empty() {
                        "built-in".into()
                    } else {
                        path_s
                    }),
                    Cell::styled(format!("refused: {reason}"), Style::Red),
                ]);
            }
        }
    }
    Ok(
        out.success(crate::commands::obj(json!({"providers": items})), || {
            if items.is_empty() {
                stdout_line("There are no providers.");
                return;
            }
            t.print();
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str, path: &str) -> Registration {
        Registration {
            name: name.into(),
            path: path.into(),
            isolation: None,
            policy: None,
            timeout_ms: None,
        }
    }

    fn names(text: &str) -> Vec<String> {
        Config::parse(Path::new("t"), text, &env_lookup)
            .unwrap()
            .notifyees
            .into_iter()
            .map(|n| n.name)
            .collect()
    }

    #[test]
    fn appends_to_a_missing_or_empty_file() {
        let t = append_notifyee("", &reg("audit", "/lib/a.so")).unwrap();
        assert_eq!(names(&t), ["audit"]);
        assert!(t.contains("[notifyees]\naudit = \"/lib/a.so\"\n"), "{t}");
    }

    #[test]
    fn keeps_comments_and_other_tables_and_appends_last() {
        let text = "# top comment\n[providers]\norder = [\"sftp\"] # the order\n\n[notifyees]\n# first one\nz = \"/z.so\"\na = \"/a.so\"\n\n[router]\nmax_retry_rounds = 2\n";
        let t = append_notifyee(text, &reg("m", "/m.so")).unwrap();
        assert_eq!(names(&t), ["z", "a", "m"]);
        assert!(
            t.starts_with("# top comment\n[providers]\norder = [\"sftp\"] # the order\n"),
            "{t}"
        );
        assert!(
            t.contains("# first one\nz = \"/z.so\"\na = \"/a.so\"\nm = \"/m.so\"\n"),
            "{t}"
        );
        assert!(t.contains("[router]\nmax_retry_rounds = 2\n"), "{t}");
    }

    #[test]
    fn after_sub_tables_a_sub_table_is_appended() {
        let text = "[notifyees]\na = \"/a.so\"\n[notifyees.vpn]\npath = \"/v.so\"\nisolation = \"process\"\n\n[router]\nmax_retry_rounds = 1\n";
        let mut r = reg("new", "/n.so");
        r.policy = Some(Policy::Advisory);
        let t = append_notifyee(text, &r).unwrap();
        assert_eq!(names(&t), ["a", "vpn", "new"]);
        let c = Config::parse(Path::new("t"), &t, &env_lookup).unwrap();
        assert_eq!(c.notifyees[2].policy, Policy::Advisory);
        assert_eq!(c.max_retry_rounds, 1);
        // Short form too: it must still come last.
        let t2 = append_notifyee(&t, &reg("short", "/s.so")).unwrap();
        assert_eq!(names(&t2), ["a", "vpn", "new", "short"]);
        // The new sub-table sits with the notifyees, before [router].
        assert!(
            t2.find("[notifyees.short]").unwrap() < t2.find("[router]").unwrap(),
            "{t2}"
        );
    }

    #[test]
    fn options_without_sub_tables_use_an_inline_table() {
        let mut r = reg("iso", "${HOME}/x.so");
        r.isolation = Some(Isolation::Process);
        r.timeout_ms = Some(500);
        let t = append_notifyee("[notifyees]\na = \"/a.so\"\n", &r).unwrap();
        assert_eq!(names(&t), ["a", "iso"]);
        assert!(t.contains("path = \"${HOME}/x.so\""), "{t}");
        let c = Config::parse(Path::new("t"), &t, &|n| (n == "HOME").then(|| "/h".into())).unwrap();
        assert_eq!(c.notifyees[1].isolation, Isolation::Process);
        assert_eq!(c.notifyees[1].timeout_ms, 500);
    }

    #[test]
    fn only_sub_tables_and_dotted_forms_work() {
        let t = append_notifyee("[notifyees.x]\npath = \"/x.so\"\n", &reg("y", "/y.so")).unwrap();
        assert_eq!(names(&t), ["x", "y"]);
        let t = append_notifyee("notifyees.x = \"/x.so\"\n", &reg("y", "/y.so")).unwrap();
        assert_eq!(names(&t), ["x", "y"]);
        let t = append_notifyee("notifyees = { x = \"/x.so\" }\n", &reg("y", "/y.so")).unwrap();
        assert_eq!(names(&t), ["x", "y"]);
        let t = append_notifyee("[notifyees]\n", &reg("dotted.name", "/d.so")).unwrap();
        assert_eq!(names(&t), ["dotted.name"]);
    }

    #[test]
    fn a_file_without_a_final_newline_or_with_only_comments() {
        let t = append_notifyee("[router]\nmax_retry_rounds = 2", &reg("a", "/a.so")).unwrap();
        assert_eq!(names(&t), ["a"]);
        assert!(t.starts_with("[router]\nmax_retry_rounds = 2\n"), "{t}");
        let t = append_notifyee("# only a comment\n", &reg("a", "/a.so")).unwrap();
        assert_eq!(names(&t), ["a"]);
        assert!(t.starts_with("# only a comment\n"), "{t}");
    }

    #[test]
    fn removes_only_the_named_entry() {
        let text = "# keep me\n[notifyees]\na = \"/a.so\"\nb = \"/b.so\"\n[notifyees.c]\npath = \"/c.so\"\n[router]\nmax_retry_rounds = 2\n";
        let t = remove_notifyee(text, "b").unwrap().unwrap();
        assert_eq!(names(&t), ["a", "c"]);
        let t = remove_notifyee(&t, "c").unwrap().unwrap();
        assert_eq!(names(&t), ["a"]);
        assert!(
            t.starts_with("# keep me\n") && t.contains("max_retry_rounds = 2"),
            "{t}"
        );
        assert_eq!(remove_notifyee(&t, "zz").unwrap(), None);
    }

    #[test]
    fn names_follow_the_config_rule() {
        assert!(check_name("audit-1_x.y").is_ok());
        for bad in ["", "a b", "ä", "x/y", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn caps_are_decoded() {
        assert_eq!(decode_caps(15), ["add", "cancel", "get", "add3"]);
        assert_eq!(decode_caps(0x20 | 0x100), ["cancel2", "0x100"]);
        assert!(decode_caps(0).is_empty());
    }
}
