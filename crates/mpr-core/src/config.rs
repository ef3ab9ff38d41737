//! `mpr.toml`: provider order, provider libraries, notifyees (spec §3).
//!
//! The system file (`<config dir>/mpr.toml`) plays the role of
//! `HKLM\…\NetworkProvider`. A missing file means the built-in providers in
//! their default order and no notifyees. Any error names the file and the
//! line. The per-user file may set user options only ([`UserConfig`]).
//!
//! A provider library's table takes `path` and `name` only. The other keys
//! of a built-in provider's table are its options: this module hands them
//! over as written ([`ProviderOptions`], with the line of each), and the
//! provider checks them (`mpr-providers`, called by `mpr-setup`).

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The built-in providers, in their default order.
pub const BUILTIN_PROVIDERS: &[&str] = &["sftp", "smb", "webdav"];

/// The default bound on retry rounds (§7.6).
pub const DEFAULT_MAX_RETRY_ROUNDS: u32 = 3;

/// The default deadline of a process-isolated notifyee call.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// A configuration error: the file, the line (1-based, when known) and what
/// is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.path.display(), l, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How a notifyee is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Loaded into the router's process (faithful, fastest).
    InProcess,
    /// Loaded into a helper process (a crash or hang cannot hurt the router).
    Process,
}

/// What a notifyee's *failures* (refusal, crash, timeout) do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Fail the operation (the default).
    Veto,
    /// Record the failure and go on.
    Advisory,
}

impl Policy {
    /// The name used in the file and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Veto => "veto",
            Policy::Advisory => "advisory",
        }
    }
}

impl Isolation {
    /// The name used in the file and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::InProcess => "inprocess",
            Isolation::Process => "process",
        }
    }
}

/// One registered notifyee, in registration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyeeEntry {
    /// The registration name (the value name under `Notifyees`).
    pub name: String,
    /// The library path, environment variables expanded.
    pub path: PathBuf,
    /// How it runs.
    pub isolation: Isolation,
    /// Deadline of a call under process isolation.
    pub timeout_ms: u64,
    /// What its failures do.
    pub policy: Policy,
    /// The line of its entry.
    pub line: usize,
}

/// One provider in `order`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEntry {
    /// The key (`sftp`, `acme`).
    pub key: String,
    /// The display name (`NETRESOURCE.lpProvider` matches it or the key).
    pub name: String,
    /// The library path; `None` for a built-in provider.
    pub path: Option<PathBuf>,
    /// A built-in provider's options, as written (always empty for a
    /// provider library).
    pub options: ProviderOptions,
}

/// The options of a built-in provider: the keys of its `[providers.KEY]`
/// table other than `name`, unchecked and in file order, with where each
/// was written. The provider checks them and reports a bad one with
/// [`ProviderOptions::error`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderOptions {
    /// The configuration file they come from.
    pub file: PathBuf,
    /// The options in file order.
    pub entries: Vec<RawOption>,
}

/// One option as written in `mpr.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOption {
    /// The key (`connect_timeout`).
    pub key: String,
    /// The value, unchecked.
    pub value: toml::Value,
    /// The 1-based line of the value.
    pub line: usize,
}

impl ProviderOptions {
    /// No options, from `file`.
    pub fn empty(file: &Path) -> ProviderOptions {
        ProviderOptions {
            file: file.to_path_buf(),
            entries: Vec::new(),
        }
    }

    /// A configuration error about `option`, naming the file and its line.
    pub fn error(&self, option: &RawOption, message: String) -> ConfigError {
        ConfigError {
            path: self.file.clone(),
            line: Some(option.line),
            message,
        }
    }
}

/// The system configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from (it may not exist).
    pub path: PathBuf,
    /// Providers in the order they are tried.
    pub providers: Vec<ProviderEntry>,
    /// Notifyees in registration order.
    pub notifyees: Vec<NotifyeeEntry>,
    /// The bound on retry rounds.
    pub max_retry_rounds: u32,
    /// `[journal] sink`: where audit records go (`None`: journald when its
    /// socket is present, else the file).
    pub journal_sink: Option<crate::journal::Sink>,
}

/// Per-user options (`$XDG_CONFIG_HOME/mpr/mpr.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    /// Where drive letters are mounted (`<drives>/<LETTER>`).
    pub drives_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    router: Option<RawRouter>,
    providers: Option<RawProviders>,
    notifyees: Option<RawNotifyees>,
    journal: Option<RawJournal>,
}

/// `[journal]`: where the audit records go.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJournal {
    sink: Option<crate::journal::Sink>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouter {
    max_retry_rounds: Option<Spanned<u32>>,
}

/// A `[providers.KEY]` table: `path` and `name`, and every other key as
/// written (a built-in provider's options, which the provider checks).
struct RawProvider {
    path: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    options: Vec<(String, Spanned<toml::Value>)>,
}

impl<'de> Deserialize<'de> for RawProvider {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawProvider;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a provider table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawProvider, A::Error> {
                let mut out = RawProvider {
                    path: None,
                    name: None,
                    options: Vec::new(),
                };
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "path" => out.path = Some(m.next_value()?),
                        "name" => out.name = Some(m.next_value()?),
                        _ => out.options.push((key, m.next_value()?)),
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

struct RawProviders {
    order: Option<Spanned<Vec<Spanned<String>>>>,
    entries: Vec<(String, Spanned<RawProvider>)>,
}

impl<'de> Deserialize<'de> for RawProviders {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawProviders;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table with `order` and one table per provider")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawProviders, A::Error> {
                let mut out = RawProviders {
                    order: None,
                    entries: Vec::new(),
                };
                while let Some(key) = m.next_key::<String>()? {
                    if key == "order" {
                        out.order = Some(m.next_value()?);
                    } else {
                        out.entries.push((key, m.next_value()?));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifyeeFull {
    path: Spanned<String>,
    isolation: Option<Spanned<String>>,
    timeout_ms: Option<Spanned<u64>>,
    policy: Option<Spanned<String>>,
}

enum RawNotifyee {
    Short(String),
    Full(RawNotifyeeFull),
}

impl<'de> Deserialize<'de> for RawNotifyee {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNotifyee;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a library path, or a table with `path` and options")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNotifyee, E> {
                Ok(RawNotifyee::Short(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawNotifyee, A::Error> {
                RawNotifyeeFull::deserialize(de::value::MapAccessDeserializer::new(m))
                    .map(RawNotifyee::Full)
            }
        }
        d.deserialize_any(V)
    }
}

struct RawNotifyees(Vec<(String, Spanned<RawNotifyee>)>);

impl<'de> Deserialize<'de> for RawNotifyees {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNotifyees;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of notifyee names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawNotifyees, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    v.push((k, m.next_value()?));
                }
                Ok(RawNotifyees(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The message of a TOML error about `text`. A few of toml's errors have an
/// empty message (a lone carriage return, found by the `config` fuzz
/// target); then the character the parser stopped at says what is wrong.
pub(crate) fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim();
    if !message.is_empty() {
        return message.to_string();
    }
    let at = e.span().and_then(|s| text.get(s.start..));
    match at.and_then(|t| t.chars().next()) {
        Some(c) => format!("invalid TOML: unexpected {c:?}"),
        None => "invalid TOML".to_string(),
    }
}

/// Expands `$NAME` and `${NAME}` (REG_EXPAND_SZ). An unset variable is an error.
pub fn expand_env(raw: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(b) = after.strip_prefix('{') {
            let end = b
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {raw:?}"))?;
            (&b[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() {
            return Err(format!(
                "a lone `$` in {raw:?} (write the variable as ${{NAME}})"
            ));
        }
        let val = lookup(name)
            .ok_or_else(|| format!("environment variable {name} is not set (in {raw:?})"))?;
        out.push_str(&val);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Config {
    /// The configuration of a missing file: built-ins, no notifyees.
    pub fn builtin(path: PathBuf) -> Config {
        Config {
            providers: BUILTIN_PROVIDERS
                .iter()
                .map(|k| builtin_entry(k, &path))
                .collect(),
            path,
            notifyees: Vec::new(),
            max_retry_rounds: DEFAULT_MAX_RETRY_ROUNDS,
            journal_sink: None,
        }
    }

    /// Loads `path`; a missing file is [`Config::builtin`].
    pub fn load(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        match crate::files::read_regular_to_string(path) {
            Ok(text) => Config::parse(path, &text, lookup),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::builtin(path.to_path_buf()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(ConfigError {
                path: path.to_path_buf(),
                line: None,
                message: e.to_string(),
            }),
            Err(e) => Err(ConfigError {
                path: path.to_path_buf(),
                line: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }

    /// Parses the text of `path`.
    pub fn parse(
        path: &Path,
        text: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        // `path` below is a provider's library path.
        let file = path;
        let err = |offset: Option<usize>, message: String| ConfigError {
            path: path.to_path_buf(),
            line: offset.map(|o| line_of(text, o)),
            message,
        };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| err(e.span().map(|s| s.start), toml_message(&e, text)))?;
        let journal_sink = raw.journal.and_then(|j| j.sink);
        let max_retry_rounds = match raw.router.and_then(|r| r.max_retry_rounds) {
            Some(v) if *v.get_ref() > 100 => {
                return Err(err(
                    Some(v.span().start),
                    "max_retry_rounds must be at most 100".into(),
                ));
            }
            Some(v) => v.into_inner(),
            None => DEFAULT_MAX_RETRY_ROUNDS,
        };

        let mut defined: Vec<ProviderEntry> = Vec::new();
        let mut order_keys: Option<Vec<Spanned<String>>> = None;
        if let Some(p) = raw.providers {
            order_keys = p.order.map(Spanned::into_inner);
            for (key, entry) in p.entries {
                let start = entry.span().start;
                let entry = entry.into_inner();
                check_key(&key).map_err(|m| err(Some(start), m))?;
                let builtin = BUILTIN_PROVIDERS.contains(&key.as_str());
                let path = match (entry.path, builtin) {
                    (Some(p), true) => {
                        return Err(err(
                            Some(p.span().start),
                            format!("`{key}` is a built-in provider and takes no `path`"),
                        ));
                    }
                    (Some(p), false) => {
                        let span = p.span().start;
                        let expanded =
                            expand_env(p.get_ref(), lookup).map_err(|m| err(Some(span), m))?;
                        if !expanded.starts_with('/') {
                            return Err(err(
                                Some(span),
                                format!(
                                    "provider `{key}`: path must be absolute, not {expanded:?}"
                                ),
                            ));
                        }
                        Some(PathBuf::from(expanded))
                    }
                    (None, true) => None,
                    (None, false) => {
                        return Err(err(
                            Some(start),
                            format!("provider `{key}` needs a `path` (it is not built in)"),
                        ));
                    }
                };
                let name = match entry.name {
                    Some(n) if n.get_ref().trim().is_empty() => {
                        return Err(err(
                            Some(n.span().start),
                            "a provider display name cannot be empty".into(),
                        ));
                    }
                    Some(n) => n.into_inner(),
                    None => builtin_entry(&key, file).name,
                };
                let mut options = ProviderOptions::empty(file);
                for (k, v) in entry.options {
                    let at = v.span().start;
                    if !builtin {
                        let message = if k == "ssh_config" {
                            format!("`ssh_config` applies to the sftp provider, not `{key}`")
                        } else {
                            format!(
                                "provider `{key}` is a library and takes only `path` and `name`, not `{k}`"
                            )
                        };
                        return Err(err(Some(at), message));
                    }
                    options.entries.push(RawOption {
                        key: k,
                        value: v.into_inner(),
                        line: line_of(text, at),
                    });
                }
                defined.push(ProviderEntry {
                    key,
                    name,
                    path,
                    options,
                });
            }
        }
        let providers = match order_keys {
            Some(keys) => {
                let mut out: Vec<ProviderEntry> = Vec::new();
                for k in keys {
                    let start = k.span().start;
                    let key = k.into_inner();
                    if out.iter().any(|p| p.key.eq_ignore_ascii_case(&key)) {
                        return Err(err(
                            Some(start),
                            format!("provider `{key}` appears twice in `order`"),
                        ));
                    }
                    let entry = match defined.iter().find(|p| p.key == key) {
                        Some(e) => e.clone(),
                        None if BUILTIN_PROVIDERS.contains(&key.as_str()) => {
                            builtin_entry(&key, file)
                        }
                        None => {
                            return Err(err(
                                Some(start),
                                format!(
                                    "`order` names provider `{key}`, which is neither built in nor defined as [providers.{key}]"
                                ),
                            ));
                        }
                    };
                    out.push(entry);
                }
                out
            }
            None => {
                let mut out: Vec<ProviderEntry> = BUILTIN_PROVIDERS
                    .iter()
                    .map(|k| {
                        defined
                            .iter()
                            .find(|p| p.key == *k)
                            .cloned()
                            .unwrap_or_else(|| builtin_entry(k, file))
                    })
                    .collect();
                out.extend(defined.iter().filter(|p| p.path.is_some()).cloned());
                out
            }
        };
        // `--provider X` and `lpProvider` match a key or a display name,
        // case-insensitively: each must pick exactly one provider.
        let answers = |p: &ProviderEntry| [p.key.clone(), p.name.clone()];
        for (i, p) in providers.iter().enumerate() {
            for q in &providers[..i] {
                let clash = answers(p)
                    .into_iter()
                    .find(|a| answers(q).iter().any(|b| b.eq_ignore_ascii_case(a)));
                if let Some(name) = clash {
                    return Err(err(
                        None,
                        format!("two providers answer to the name {name:?}"),
                    ));
                }
            }
        }

        let mut notifyees = Vec::new();
        for (name, entry) in raw.notifyees.map(|n| n.0).unwrap_or_default() {
            let start = entry.span().start;
            let line = line_of(text, start);
            check_key(&name).map_err(|m| err(Some(start), m))?;
            let (path_raw, path_at, isolation, timeout_ms, policy) = match entry.into_inner() {
                RawNotifyee::Short(p) => (
                    p,
                    start,
                    Isolation::InProcess,
                    DEFAULT_TIMEOUT_MS,
                    Policy::Veto,
                ),
                RawNotifyee::Full(f) => {
                    let isolation = match f.isolation {
                        None => Isolation::InProcess,
                        Some(s) => match s.get_ref().as_str() {
                            "inprocess" => Isolation::InProcess,
                            "process" => Isolation::Process,
                            other => {
                                return Err(err(
                                    Some(s.span().start),
                                    format!(
                                        "isolation must be \"inprocess\" or \"process\", not {other:?}"
                                    ),
                                ));
                            }
                        },
                    };
                    let policy = match f.policy {
                        None => Policy::Veto,
                        Some(s) => match s.get_ref().as_str() {
                            "veto" => Policy::Veto,
                            "advisory" => Policy::Advisory,
                            other => {
                                return Err(err(
                                    Some(s.span().start),
                                    format!(
                                        "policy must be \"veto\" or \"advisory\", not {other:?}"
                                    ),
                                ));
                            }
                        },
                    };
                    let timeout_ms = match f.timeout_ms {
                        Some(t) if *t.get_ref() == 0 => {
                            return Err(err(
                                Some(t.span().start),
                                "timeout_ms must be positive".into(),
                            ));
                        }
                        Some(t) => t.into_inner(),
                        None => DEFAULT_TIMEOUT_MS,
                    };
                    let at = f.path.span().start;
                    (f.path.into_inner(), at, isolation, timeout_ms, policy)
                }
            };
            let expanded = expand_env(&path_raw, lookup).map_err(|m| err(Some(path_at), m))?;
            if !expanded.starts_with('/') {
                return Err(err(
                    Some(path_at),
                    format!("notifyee `{name}`: path must be absolute, not {expanded:?}"),
                ));
            }
            notifyees.push(NotifyeeEntry {
                name,
                path: PathBuf::from(expanded),
                isolation,
                timeout_ms,
                policy,
                line,
            });
        }
        Ok(Config {
            path: path.to_path_buf(),
            providers,
            notifyees,
            max_retry_rounds,
            journal_sink,
        })
    }
}

/// Checks a provider key or notifyee name: letters, digits, `-`, `_` and
/// `.`, at most 64 bytes. The `Err` is the message.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty()
        || key.len() > 64
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{key:?} is not a valid name (letters, digits, '-', '_', '.'; at most 64)"
        ));
    }
    Ok(())
}

fn builtin_entry(key: &str, file: &Path) -> ProviderEntry {
    let name = match key {
        "sftp" => "SFTP",
        "smb" => "SMB",
        "webdav" => "WebDAV",
        other => other,
    };
    ProviderEntry {
        key: key.to_string(),
        name: name.to_string(),
        path: None,
        options: ProviderOptions::empty(file),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    drives_dir: Option<Spanned<String>>,
}

impl UserConfig {
    /// Loads the per-user file; a missing file gives the defaults.
    ///
    /// It may set user options only: `[providers]` or `[notifyees]` there is
    /// an error, because plugins come only from the system file.
    pub fn load(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<UserConfig, ConfigError> {
        let text = match crate::files::read_regular_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UserConfig::default()),
            Err(e) => {
                return Err(ConfigError {
                    path: path.to_path_buf(),
                    line: None,
                    message: format!("cannot read: {e}"),
                });
            }
        };
        let err = |offset: Option<usize>, message: String| ConfigError {
            path: path.to_path_buf(),
            line: offset.map(|o| line_of(&text, o)),
            message,
        };
        let raw: RawUser = toml::from_str(&text).map_err(|e| {
            let mut msg = toml_message(&e, &text);
            if msg.contains("providers") || msg.contains("notifyees") {
                msg.push_str(" (plugins can be registered only in the system configuration)");
            }
            err(e.span().map(|s| s.start), msg)
        })?;
        let drives_dir = match raw.drives_dir {
            None => None,
            Some(d) => {
                let at = d.span().start;
                let v = expand_env(d.get_ref(), lookup).map_err(|m| err(Some(at), m))?;
                if !v.starts_with('/') {
                    return Err(err(
                        Some(at),
                        format!("drives_dir must be absolute, not {v:?}"),
                    ));
                }
                Some(PathBuf::from(v))
            }
        };
        Ok(UserConfig { drives_dir })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/home/u".to_string())
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/mpr/mpr.toml"), text, &env)
    }

    #[test]
    fn spec_example_parses() {
        let c = parse(
            r#"
[providers]
order = ["sftp", "smb", "webdav", "acme"]

[providers.acme]
path = "/usr/lib/acme/libacme_np.so"
name = "Acme Network"

[notifyees]
audit = "/usr/lib/mpr/notifyees/libmpr_audit.so"
[notifyees.vpn]
path = "${HOME}/lib/libautodial.so"
isolation = "process"
"#,
        )
        .unwrap();
        let keys: Vec<_> = c.providers.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["sftp", "smb", "webdav", "acme"]);
        assert_eq!(c.providers[3].name, "Acme Network");
        assert_eq!(c.notifyees.len(), 2);
        assert_eq!(c.notifyees[0].name, "audit");
        assert_eq!(
            c.notifyees[1].path,
            PathBuf::from("/home/u/lib/libautodial.so")
        );
        assert_eq!(c.notifyees[1].isolation, Isolation::Process);
        assert_eq!(c.notifyees[1].policy, Policy::Veto);
        assert_eq!(c.max_retry_rounds, 3);
    }

    #[test]
    fn registration_order_is_file_order() {
        let c = parse("[notifyees]\nz = \"/z.so\"\na = \"/a.so\"\nm = \"/m.so\"\n").unwrap();
        let names: Vec<_> = c.notifyees.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["z", "a", "m"]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("[providers]\norder = [\"sftp\",\n  \"nope\"]\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("/etc/mpr/mpr.toml:3:"), "{e}");
        let e = parse("[notifyees]\nx = 5\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse("[router]\nmax_retry_rounds = \"x\"\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse("this is not toml\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        let e = parse("[notifyees]\nx = \"relative.so\"\n").unwrap_err();
        assert!(e.message.contains("absolute"), "{e}");
        let e = parse("[notifyees.x]\npath = \"/x.so\"\npolicy = \"maybe\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("[notifyees]\nx = \"$NOPE/x.so\"\n").unwrap_err();
        assert!(e.message.contains("NOPE"), "{e}");
        let e = parse("[bogus]\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        // toml says nothing about a lone carriage return; we still do.
        let e = parse("\r\0[providers.sftp]\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        assert_eq!(e.message, r"invalid TOML: unexpected '\r'", "{e}");
    }

    #[test]
    fn builtin_options_are_handed_over_as_written_with_their_lines() {
        let c = parse(
            "[providers.sftp]\nname = \"Secure\"\nconnect_timeout = 0\n\nbogus = \"x\"\n[providers.smb]\n",
        )
        .unwrap();
        let sftp = &c.providers[0];
        assert_eq!((sftp.key.as_str(), sftp.name.as_str()), ("sftp", "Secure"));
        let o = &sftp.options;
        assert_eq!(o.file, PathBuf::from("/etc/mpr/mpr.toml"));
        let got: Vec<_> = o
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.clone(), e.line))
            .collect();
        assert_eq!(
            got,
            [
                ("connect_timeout", toml::Value::Integer(0), 3),
                ("bogus", toml::Value::String("x".into()), 5)
            ]
        );
        let e = o.error(&o.entries[1], "no".into());
        assert_eq!(e.to_string(), "/etc/mpr/mpr.toml:5: no");
        assert!(c.providers[1].options.entries.is_empty());
        assert!(
            Config::builtin("/x".into()).providers[2]
                .options
                .entries
                .is_empty()
        );
    }

    #[test]
    fn a_library_takes_only_path_and_name() {
        let e = parse("[providers.acme]\npath = \"/a.so\"\nconnect_timeout = 5\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("takes only `path` and `name`"), "{e}");
        let e = parse("[providers.acme]\npath = \"/a.so\"\nssh_config = \"/c\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert_eq!(
            e.message,
            "`ssh_config` applies to the sftp provider, not `acme`"
        );
    }

    #[test]
    fn the_journal_sink_is_one_of_three_names() {
        use crate::journal::Sink;
        assert_eq!(parse("").unwrap().journal_sink, None);
        assert_eq!(parse("[journal]\n").unwrap().journal_sink, None);
        for (name, sink) in [
            ("journald", Sink::Journald),
            ("file", Sink::File),
            ("both", Sink::Both),
        ] {
            let c = parse(&format!("[journal]\nsink = \"{name}\"\n")).unwrap();
            assert_eq!(c.journal_sink, Some(sink));
        }
        let e =
            parse("[router]\nmax_retry_rounds = 2\n[journal]\nsink = \"syslog\"\n").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.message.contains("syslog"), "{e}");
        let e = parse("[journal]\nsinks = \"file\"\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn refuses_two_providers_answering_to_one_name() {
        for text in [
            // Keys that differ in case only.
            "[providers.acme]\npath = \"/a.so\"\nname = \"A\"\n\
             [providers.ACME]\npath = \"/b.so\"\nname = \"B\"\n",
            // A display name that is another provider's key, either way round.
            "[providers]\norder = [\"acme\", \"sftp\"]\n\
             [providers.acme]\npath = \"/a.so\"\nname = \"sftp\"\n",
            "[providers]\norder = [\"beta\", \"alpha\"]\n\
             [providers.alpha]\npath = \"/a.so\"\nname = \"One\"\n\
             [providers.beta]\npath = \"/b.so\"\nname = \"ALPHA\"\n",
            // Two equal display names.
            "[providers.a]\npath = \"/a.so\"\nname = \"Net\"\n\
             [providers.b]\npath = \"/b.so\"\nname = \"net\"\n",
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains("two providers answer"), "{text}: {e}");
        }
        // A provider's own key and name may be the same.
        assert!(parse("[providers.acme]\npath = \"/a.so\"\nname = \"ACME\"\n").is_ok());
    }

    #[test]
    fn missing_order_means_builtins_then_libraries() {
        let c = parse("[providers.acme]\npath = \"/a.so\"\n").unwrap();
        let keys: Vec<_> = c.providers.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["sftp", "smb", "webdav", "acme"]);
        assert_eq!(c.providers[3].name, "acme");
    }

    #[test]
    fn missing_file_is_builtin() {
        let d = tempfile::tempdir().unwrap();
        let c = Config::load(&d.path().join("mpr.toml"), &env).unwrap();
        assert_eq!(c.providers.len(), 3);
        assert!(c.notifyees.is_empty());
    }

    #[test]
    fn user_file_cannot_add_code() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("mpr.toml");
        std::fs::write(&p, "drives_dir = \"${HOME}/drives\"\n").unwrap();
        assert_eq!(
            UserConfig::load(&p, &env).unwrap().drives_dir,
            Some("/home/u/drives".into())
        );
        std::fs::write(&p, "[notifyees]\nx = \"/x.so\"\n").unwrap();
        let e = UserConfig::load(&p, &env).unwrap_err();
        assert!(e.message.contains("system configuration"), "{e}");
    }

    #[test]
    fn expand_env_forms() {
        assert_eq!(expand_env("$HOME/x", &env).unwrap(), "/home/u/x");
        assert_eq!(expand_env("a${HOME}b", &env).unwrap(), "a/home/ub");
        assert!(expand_env("${HOME", &env).is_err());
        assert!(expand_env("$", &env).is_err());
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "(\\[|\\]|[a-z_]{1,8}|=|\"|/|\\.|\n| |[0-9]){0,60}") {
            let _ = parse(&s);
        }

        #[test]
        fn notifyee_tables_round_trip(names in proptest::collection::vec("[a-z][a-z0-9_-]{0,10}", 1..8)) {
            let mut uniq = names.clone();
            uniq.dedup();
            let mut seen = std::collections::HashSet::new();
            uniq.retain(|n| seen.insert(n.clone()));
            let text: String = std::iter::once("[notifyees]\n".to_string())
                .chain(uniq.iter().map(|n| format!("{n} = \"/lib/{n}.so\"\n")))
                .collect();
            let c = parse(&text).unwrap();
            let got: Vec<_> = c.notifyees.iter().map(|n| n.name.clone()).collect();
            prop_assert_eq!(got, uniq);
        }
    }
}
