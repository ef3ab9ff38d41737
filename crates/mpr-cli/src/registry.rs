//! The registry verbs: `mpr notifyee list|add|remove` and `mpr provider
//! list`. Registering edits the system `mpr.toml` in place
//! ([`mpr_core::registration`] keeps comments, order and layout and checks
//! the result), under a lock on its directory, and replaces it atomically,
//! so a file mpr could not read is never written.

use crate::error::CliError;
use crate::output::{Cell, Out, Style, Table, obj, stdout_line};
use anyhow::Context;
use mpr_abi as abi;
use mpr_core::config::{self, Config, Isolation, NotifyeeEntry, Policy};
use mpr_core::event::{Event, RegistryAction, RegistryEvent, RegistryKind};
use mpr_core::registration::{self, Registration, RegistrationError};
use mpr_core::router::ProviderSlot;
use mpr_core::{WnError, lasterror, trust};
use mpr_loader::LoadError;
use mpr_setup::Paths;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

type Result<T = (), E = CliError> = std::result::Result<T, E>;

/// The hint for a system configuration that cannot be written.
const ROOT_HINT: &str = "the notifyees are registered in the system configuration: run this as root (e.g. with sudo), or point MPR_CONFIG_DIR at a directory of yours";

/// The hint for a library that fails the trust checks.
const TRUST_HINT: &str = "a plugin and every directory above it must be owned by root (or by you, when you are not root) and not group- or world-writable";

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

/// Reports the `WN_*` failure `e` of a registry verb: `message` becomes the
/// extended error, and the report carries `hint`.
fn refuse(out: Out, e: WnError, message: impl Into<String>, hint: Option<&str>) -> CliError {
    lasterror::set(e.code(), message.into(), "mpr");
    out.failure_with_hint(e, hint)
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
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

/// Which of the two notify functions a library exports.
#[derive(Debug, Clone, Copy)]
struct Exports {
    add: bool,
    cancel: bool,
}

impl Exports {
    /// The exported function names.
    fn names(self) -> Vec<&'static str> {
        let mut x = Vec::new();
        if self.add {
            x.push("AddConnectNotify");
        }
        if self.cancel {
            x.push("CancelConnectNotify");
        }
        x
    }

    /// The short form of the table.
    fn text(self) -> &'static str {
        match (self.add, self.cancel) {
            (true, true) => "add, cancel",
            (true, false) => "add",
            (false, true) => "cancel",
            (false, false) => "-",
        }
    }
}

/// What loading a notifyee says about it.
enum Verdict {
    /// Passed the checks and exports these.
    Ok(Exports),
    /// Refused by the trust checks or not loadable.
    Refused(String),
    /// Exports neither function.
    Ignored(String),
}

/// Loads a registered notifyee as a connect would
/// ([`mpr_loader::load_registered_notifyee`]: the trust checks, then in
/// this process, or, for `isolation = "process"`, in a notifyee host, so
/// that a library whose constructor crashes cannot take `mpr notifyee
/// list|add` down with it), and says which functions it exports.
fn load(entry: &NotifyeeEntry, paths: &Paths) -> Result<Exports, LoadError> {
    mpr_loader::load_registered_notifyee(entry, paths.libexec_dir.as_deref()).map(|n| Exports {
        add: n.handles_add(),
        cancel: n.handles_cancel(),
    })
}

fn verdict(entry: &NotifyeeEntry, paths: &Paths) -> Verdict {
    match load(entry, paths) {
        Ok(x) => Verdict::Ok(x),
        Err(LoadError::NotTrusted(r)) => Verdict::Refused(r.reason),
        Err(e) if e.is_ignored() => Verdict::Ignored(e.to_string()),
        Err(e) => Verdict::Refused(e.to_string()),
    }
}

fn load_config(paths: &Paths) -> Result<Config> {
    let bad =
        |e: mpr_core::config::ConfigError| CliError::Config(format!("configuration error: {e}"));
    let config = Config::load(&paths.config_file(), &env_lookup).map_err(bad)?;
    // The built-in providers' options are theirs to check, as for every
    // command that builds a router.
    mpr_setup::check_builtins(&config, &env_lookup).map_err(bad)?;
    Ok(config)
}

/// `mpr notifyee list`.
pub fn notifyee_list(out: Out) -> Result {
    let paths = Paths::from_env()?;
    let config = load_config(&paths)?;
    let n = config.notifyees.len();
    let mut rows = Vec::new();
    // PRE calls the newest registration first.
    for (i, entry) in config.notifyees.iter().enumerate().rev() {
        let v = verdict(entry, &paths);
        rows.push((n - i, i + 1, entry, v, sha256_file(&entry.path)));
    }
    let items: Vec<Value> = rows
        .iter()
        .map(|(pre, reg, e, v, sha)| {
            let (trust, reason, exports) = match v {
                Verdict::Ok(x) => ("ok", None, Some(x.names())),
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
    out.success(
        obj(json!({"config": file, "notifyees": items})),
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
                    Verdict::Ok(x) => (x.text(), Cell::styled("ok", Style::Green)),
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
    )
}

/// The directory holding the configuration file, created (0755) if
/// missing, checked for write permission, and locked while the file is
/// rewritten.
struct ConfigLock {
    _dir: std::fs::File,
}

fn lock_config_dir(out: Out, dir: &Path) -> Result<ConfigLock> {
    use std::os::unix::fs::DirBuilderExt;
    let denied = |e: &dyn std::fmt::Display| {
        refuse(
            out,
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
    let text = match mpr_core::files::read_regular_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(CliError::Config(format!(
                "configuration error: {}: not valid UTF-8",
                file.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CliError::Environment(format!(
                "cannot read {}: {e}",
                file.display()
            )));
        }
    };
    let config = Config::parse(file, &text, &env_lookup)
        .map_err(|e| CliError::Config(format!("configuration error: {e}")))?;
    Ok((text, config))
}

/// An edit of the configuration that could not be made.
fn edit_error(e: RegistrationError) -> CliError {
    match e {
        RegistrationError::Config(c) => CliError::Config(format!("configuration error: {c}")),
        inconsistent @ RegistrationError::Inconsistent { .. } => {
            CliError::Internal(anyhow::Error::new(inconsistent))
        }
    }
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
/// problems are `WN_ACCESS_DENIED`; other I/O errors make the environment
/// unusable (exit 2).
fn write_config(out: Out, file: &Path, text: &str) -> Result {
    let target = write_target(file);
    match mpr_core::state::atomic_write(&target, text.as_bytes(), 0o644) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Err(refuse(
                out,
                WnError::AccessDenied,
                format!("cannot write {}: {e}", target.display()),
                Some(ROOT_HINT),
            ))
        }
        Err(e) => Err(CliError::Environment(format!(
            "cannot write {}: {e}",
            target.display()
        ))),
    }
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
        .ok_or_else(|| CliError::Environment("the current directory is not valid UTF-8".into()))
}

/// A registered notifyee, as `notifyee add` reports it.
struct Added {
    /// The entry as read back from the file.
    entry: NotifyeeEntry,
    /// The functions it exports.
    exports: Exports,
    /// The SHA-256 of the library.
    sha256: Option<String>,
    /// The configuration file.
    file: String,
    /// How many notifyees are registered now.
    registered: usize,
}

/// `mpr notifyee add`.
pub fn notifyee_add(out: Out, new: NewNotifyee) -> Result {
    let added = add(out, new)?;
    let mut o = entry_json(&added.entry);
    o["sha256"] = json!(added.sha256);
    o["exports"] = json!(added.exports.names());
    o["pre_order"] = json!(1);
    o["registration"] = json!(added.registered);
    let file = &added.file;
    out.success(obj(json!({"config": file, "notifyee": o})), || {
        stdout_line(&format!(
            "Notifyee {} is registered in {file}; it is called first in PRE ({} registered).",
            added.entry.name, added.registered
        ));
    })
}

fn add(out: Out, new: NewNotifyee) -> Result<Added> {
    let Some(name) = new.name.to_str().map(str::to_string) else {
        return Err(refuse(
            out,
            WnError::InvalidName,
            format!(
                "the notifyee name {} is not valid UTF-8",
                new.name.to_string_lossy()
            ),
            None,
        ));
    };
    config::check_key(&name).map_err(|m| refuse(out, WnError::InvalidName, m, None))?;
    let Some(raw) = new.path.to_str() else {
        return Err(refuse(
            out,
            WnError::BadValue,
            format!(
                "the library path {} is not valid UTF-8",
                new.path.to_string_lossy()
            ),
            None,
        ));
    };
    let raw = absolute(raw)?;
    let expanded = match config::expand_env(&raw, &env_lookup) {
        Ok(p) if p.starts_with('/') => PathBuf::from(p),
        Ok(p) => {
            return Err(refuse(
                out,
                WnError::BadValue,
                format!("the library path must be absolute, not {p:?}"),
                None,
            ));
        }
        Err(m) => return Err(refuse(out, WnError::BadValue, m, None)),
    };
    let paths = Paths::from_env()?;
    let file = paths.config_file();
    let lock = lock_config_dir(out, &paths.config_dir)?;
    let (text, before) = read_config_text(&file)?;
    if let Some(old) = before.notifyees.iter().find(|n| n.name == name) {
        return Err(refuse(
            out,
            WnError::BadValue,
            format!(
                "a notifyee named {name} is already registered ({}:{}, {})",
                file.display(),
                old.line,
                old.path.display()
            ),
            Some("remove it first with `mpr notifyee remove NAME`, or choose another name"),
        ));
    }
    if let Err(e) = std::fs::metadata(&expanded) {
        return Err(refuse(
            out,
            WnError::BadValue,
            format!("cannot register {}: {e}", expanded.display()),
            None,
        ));
    }
    let candidate = NotifyeeEntry {
        name: name.clone(),
        path: expanded.clone(),
        isolation: new.isolation.unwrap_or(Isolation::InProcess),
        timeout_ms: new.timeout_ms.unwrap_or(config::DEFAULT_TIMEOUT_MS),
        policy: new.policy.unwrap_or(Policy::Veto),
        line: 0,
    };
    let exports = match load(&candidate, &paths) {
        Ok(x) => x,
        Err(LoadError::NotTrusted(r)) => {
            return Err(refuse(
                out,
                WnError::AccessDenied,
                r.to_string(),
                Some(TRUST_HINT),
            ));
        }
        Err(e) if e.is_ignored() => {
            return Err(refuse(
                out,
                WnError::BadValue,
                format!("{e}, so it is not a notifyee library"),
                Some(
                    "a notifyee must export AddConnectNotify and/or CancelConnectNotify (see include/npapi.h)",
                ),
            ));
        }
        Err(e) => return Err(refuse(out, WnError::BadValue, e.to_string(), None)),
    };
    let reg = Registration {
        name: name.clone(),
        path: raw,
        isolation: new.isolation,
        policy: new.policy,
        timeout_ms: new.timeout_ms,
    };
    let edited =
        registration::append_notifyee(&file, &text, &reg, &env_lookup).map_err(edit_error)?;
    write_config(out, &file, &edited)?;
    drop(lock);
    let after = Config::parse(&file, &edited, &env_lookup)
        .map_err(|e| CliError::Config(format!("configuration error: {e}")))?;
    let entry = after
        .notifyees
        .last()
        .cloned()
        .context("the new entry is missing from the configuration just written")?;
    let sha = sha256_file(&expanded);
    mpr_setup::journal(&paths, &after).write(&Event::Registry(RegistryEvent {
        action: RegistryAction::Add,
        kind: RegistryKind::Notifyee,
        name: name.clone(),
        path: expanded.display().to_string(),
        sha256: sha.clone(),
        config: file.display().to_string(),
    }));
    Ok(Added {
        entry,
        exports,
        sha256: sha,
        file: file.display().to_string(),
        registered: after.notifyees.len(),
    })
}

/// `mpr notifyee remove`.
pub fn notifyee_remove(out: Out, name: OsString) -> Result {
    let Some(name) = name.to_str().map(str::to_string) else {
        return Err(refuse(
            out,
            WnError::InvalidName,
            format!(
                "the notifyee name {} is not valid UTF-8",
                name.to_string_lossy()
            ),
            None,
        ));
    };
    let paths = Paths::from_env()?;
    let file = paths.config_file();
    let not_registered = |file: &Path| {
        refuse(
            out,
            WnError::BadValue,
            format!(
                "no notifyee named {name} is registered in {}",
                file.display()
            ),
            Some("`mpr notifyee list` shows the registered names"),
        )
    };
    if !file.exists() {
        return Err(not_registered(&file));
    }
    let lock = lock_config_dir(out, &paths.config_dir)?;
    let (text, before) = read_config_text(&file)?;
    let Some(entry) = before.notifyees.iter().find(|n| n.name == name).cloned() else {
        return Err(not_registered(&file));
    };
    let Some(edited) =
        registration::remove_notifyee(&file, &text, &name, &env_lookup).map_err(edit_error)?
    else {
        return Err(not_registered(&file));
    };
    write_config(out, &file, &edited)?;
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
    out.success(
        obj(json!({"config": shown, "notifyee": entry_json(&entry)})),
        || {
            stdout_line(&format!(
                "Notifyee {name} is no longer registered in {shown}."
            ))
        },
    )
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
pub fn provider_list(out: Out) -> Result {
    let router = mpr_setup::router_from_env(mpr_setup::Load { notifyees: false })?.router;
    let mut items = Vec::new();
    let mut t = Table::new(&["Order", "Key", "Name", "Capabilities", "Origin", "Status"]);
    for (i, slot) in router.providers().iter().enumerate() {
        match slot {
            ProviderSlot::Ready(p) => {
                let caps = decode_caps(p.connection_caps());
                let origin = p.origin().to_string();
                let builtin = p.origin().is_builtin();
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
    out.success(obj(json!({"providers": items})), || {
        if items.is_empty() {
            stdout_line("There are no providers.");
            return;
        }
        t.print();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_decoded() {
        assert_eq!(decode_caps(15), ["add", "cancel", "get", "add3"]);
        assert_eq!(decode_caps(0x20 | 0x100), ["cancel2", "0x100"]);
        assert!(decode_caps(0).is_empty());
    }

    #[test]
    fn exports_are_named_and_abbreviated() {
        let both = Exports {
            add: true,
            cancel: true,
        };
        assert_eq!(both.names(), ["AddConnectNotify", "CancelConnectNotify"]);
        assert_eq!(both.text(), "add, cancel");
        let cancel = Exports {
            add: false,
            cancel: true,
        };
        assert_eq!(cancel.names(), ["CancelConnectNotify"]);
        assert_eq!(cancel.text(), "cancel");
    }

    #[test]
    fn a_malformed_file_is_a_configuration_error_and_a_bad_edit_internal() {
        let config = RegistrationError::Config(config::ConfigError {
            path: "/etc/mpr/mpr.toml".into(),
            line: Some(2),
            message: "x".into(),
        });
        assert!(
            matches!(edit_error(config), CliError::Config(m) if m.starts_with("configuration error: /etc/mpr/mpr.toml:2:"))
        );
        let bad = RegistrationError::Inconsistent {
            path: "/etc/mpr/mpr.toml".into(),
            detail: "x".into(),
        };
        assert!(matches!(edit_error(bad), CliError::Internal(_)));
    }
}
