//! The options of each built-in provider (`[providers.sftp]` and so on in
//! `mpr.toml`), checked here: the configuration module hands each table
//! over as written, with the line of every key, and an unknown key or a bad
//! value becomes a configuration error naming the file and the line.
//!
//! | key | providers | type | default |
//! |---|---|---|---|
//! | `connect_timeout` | all | seconds, 1 to 3600 | 30 |
//! | `ssh_config` | `sftp` | absolute path (`$VAR` expanded) | none |
//! | `operation_timeout` | `sftp`, `smb` | seconds, 1 to 3600 | 15 |

use mpr_core::config::{ConfigError, ProviderOptions, RawOption, expand_env};
use std::path::PathBuf;
use std::time::Duration;

/// The default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a file operation on mpr's own file system waits during an
/// outage before it fails, unless `operation_timeout` says otherwise.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// The longest `connect_timeout`, in seconds.
pub const MAX_CONNECT_TIMEOUT_SECS: u64 = 3600;

/// Looks up an environment variable (for `$VAR` in paths); only `mpr-setup`
/// reads the environment, and passes this in.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Which built-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `sftp`.
    Sftp,
    /// `smb`.
    Smb,
    /// `webdav`.
    WebDav,
}

impl Builtin {
    /// Every built-in provider, in the default order.
    pub const ALL: [Builtin; 3] = [Builtin::Sftp, Builtin::Smb, Builtin::WebDav];

    /// The built-in provider with this key in `mpr.toml`.
    pub fn from_key(key: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.key() == key)
    }

    /// Its key in `mpr.toml`.
    pub fn key(self) -> &'static str {
        match self {
            Builtin::Sftp => "sftp",
            Builtin::Smb => "smb",
            Builtin::WebDav => "webdav",
        }
    }

    /// Checks the options of this provider's table.
    pub fn options(
        self,
        table: &ProviderOptions,
        lookup: Lookup<'_>,
    ) -> Result<BuiltinOptions, ConfigError> {
        Ok(match self {
            Builtin::Sftp => BuiltinOptions::Sftp(SftpOptions::from_table(table, lookup)?),
            Builtin::Smb => BuiltinOptions::Smb(SmbOptions::from_table(table)?),
            Builtin::WebDav => BuiltinOptions::WebDav(WebDavOptions::from_table(table, lookup)?),
        })
    }
}

/// The checked options of one built-in provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltinOptions {
    /// `[providers.sftp]`.
    Sftp(SftpOptions),
    /// `[providers.smb]`.
    Smb(SmbOptions),
    /// `[providers.webdav]`.
    WebDav(WebDavOptions),
}

impl BuiltinOptions {
    /// Which provider they are for.
    pub fn builtin(&self) -> Builtin {
        match self {
            BuiltinOptions::Sftp(_) => Builtin::Sftp,
            BuiltinOptions::Smb(_) => Builtin::Smb,
            BuiltinOptions::WebDav(_) => Builtin::WebDav,
        }
    }
}

/// `[providers.sftp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpOptions {
    /// How long a connect may take before mpr-fsd is stopped.
    pub connect_timeout: Duration,
    /// How long one file operation may wait during an outage (the session
    /// is re-established meanwhile) before it fails with `EIO`.
    pub operation_timeout: Duration,
    /// An ssh configuration file, passed as `ssh -F`.
    pub ssh_config: Option<PathBuf>,
}

impl Default for SftpOptions {
    fn default() -> SftpOptions {
        SftpOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            ssh_config: None,
        }
    }
}

/// `[providers.smb]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbOptions {
    /// How long a connect may take before mpr-fsd is stopped.
    pub connect_timeout: Duration,
    /// How long one file operation may wait during an outage (the session
    /// is re-established meanwhile) before it fails with `EIO`.
    pub operation_timeout: Duration,
}

impl Default for SmbOptions {
    fn default() -> SmbOptions {
        SmbOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
        }
    }
}

/// `[providers.webdav]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDavOptions {
    /// How long a connect may take before mpr-fsd is stopped.
    pub connect_timeout: Duration,
    /// How long one file operation may wait during an outage (the server
    /// is asked again meanwhile) before it fails with `EIO`.
    pub operation_timeout: Duration,
    /// A PEM file of CA certificates trusted for HTTPS besides the
    /// system's (a private CA).
    pub ca_file: Option<PathBuf>,
}

impl Default for WebDavOptions {
    fn default() -> WebDavOptions {
        WebDavOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            ca_file: None,
        }
    }
}

impl SftpOptions {
    /// Checks `[providers.sftp]`.
    pub fn from_table(
        table: &ProviderOptions,
        lookup: Lookup<'_>,
    ) -> Result<SftpOptions, ConfigError> {
        let mut o = SftpOptions::default();
        for opt in &table.entries {
            match opt.key.as_str() {
                "connect_timeout" => o.connect_timeout = connect_timeout(table, opt)?,
                "operation_timeout" => o.operation_timeout = seconds(table, opt)?,
                "ssh_config" => o.ssh_config = Some(ssh_config(table, opt, lookup)?),
                _ => return Err(unknown(table, opt, Builtin::Sftp)),
            }
        }
        Ok(o)
    }
}

impl SmbOptions {
    /// Checks `[providers.smb]`.
    pub fn from_table(table: &ProviderOptions) -> Result<SmbOptions, ConfigError> {
        let mut o = SmbOptions::default();
        for opt in &table.entries {
            match opt.key.as_str() {
                "connect_timeout" => o.connect_timeout = connect_timeout(table, opt)?,
                "operation_timeout" => o.operation_timeout = seconds(table, opt)?,
                _ => return Err(unknown(table, opt, Builtin::Smb)),
            }
        }
        Ok(o)
    }
}

impl WebDavOptions {
    /// Checks `[providers.webdav]`.
    pub fn from_table(
        table: &ProviderOptions,
        lookup: Lookup<'_>,
    ) -> Result<WebDavOptions, ConfigError> {
        let mut o = WebDavOptions::default();
        for opt in &table.entries {
            match opt.key.as_str() {
                "connect_timeout" => o.connect_timeout = connect_timeout(table, opt)?,
                "operation_timeout" => o.operation_timeout = seconds(table, opt)?,
                "ca_file" => o.ca_file = Some(absolute_path(table, opt, lookup)?),
                _ => return Err(unknown(table, opt, Builtin::WebDav)),
            }
        }
        Ok(o)
    }
}

/// `connect_timeout`: whole seconds, 1 to [`MAX_CONNECT_TIMEOUT_SECS`].
fn connect_timeout(table: &ProviderOptions, opt: &RawOption) -> Result<Duration, ConfigError> {
    seconds(table, opt)
}

/// A bound in whole seconds, 1 to [`MAX_CONNECT_TIMEOUT_SECS`].
fn seconds(table: &ProviderOptions, opt: &RawOption) -> Result<Duration, ConfigError> {
    let key = &opt.key;
    match opt.value.as_integer() {
        Some(s) if (1..=MAX_CONNECT_TIMEOUT_SECS as i64).contains(&s) => {
            Ok(Duration::from_secs(s.unsigned_abs()))
        }
        Some(_) => Err(table.error(
            opt,
            format!("{key} must be 1 to {MAX_CONNECT_TIMEOUT_SECS} seconds"),
        )),
        None => Err(table.error(
            opt,
            format!("{key} must be a whole number of seconds, not {}", opt.value),
        )),
    }
}

/// `ssh_config`: an absolute path, `$VAR` expanded.
fn ssh_config(
    table: &ProviderOptions,
    opt: &RawOption,
    lookup: Lookup<'_>,
) -> Result<PathBuf, ConfigError> {
    absolute_path(table, opt, lookup)
}

/// A path option (`ssh_config`, `ca_file`): an absolute path, `$VAR`
/// expanded.
fn absolute_path(
    table: &ProviderOptions,
    opt: &RawOption,
    lookup: Lookup<'_>,
) -> Result<PathBuf, ConfigError> {
    let key = &opt.key;
    let Some(raw) = opt.value.as_str() else {
        return Err(table.error(
            opt,
            format!("{key} must be a path (a string), not {}", opt.value),
        ));
    };
    let v = expand_env(raw, lookup).map_err(|m| table.error(opt, m))?;
    if !v.starts_with('/') {
        return Err(table.error(opt, format!("{key} must be an absolute path, not {v:?}")));
    }
    Ok(PathBuf::from(v))
}

/// The error for a key `builtin` does not take.
fn unknown(table: &ProviderOptions, opt: &RawOption, builtin: Builtin) -> ConfigError {
    let message = if opt.key == "ssh_config" {
        format!(
            "`ssh_config` applies to the sftp provider, not `{}`",
            builtin.key()
        )
    } else {
        let takes = match builtin {
            Builtin::Sftp => "`name`, `connect_timeout`, `operation_timeout`, `ssh_config`",
            Builtin::Smb => "`name`, `connect_timeout`, `operation_timeout`",
            Builtin::WebDav => "`name`, `connect_timeout`, `operation_timeout`, `ca_file`",
        };
        format!(
            "unknown option `{}` for the {} provider (it takes {takes})",
            opt.key,
            builtin.key()
        )
    };
    table.error(opt, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_core::config::Config;
    use std::path::Path;

    fn env(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/home/u".to_string())
    }

    /// The options of built-in `key` in `text`, checked.
    fn options(key: &str, text: &str) -> Result<BuiltinOptions, ConfigError> {
        let c = Config::parse(Path::new("/etc/mpr/mpr.toml"), text, &env).unwrap();
        let entry = c.providers.iter().find(|p| p.key == key).unwrap();
        Builtin::from_key(key)
            .unwrap()
            .options(&entry.options, &env)
    }

    #[test]
    fn every_builtin_of_the_configuration_is_known_here() {
        for key in mpr_core::config::BUILTIN_PROVIDERS {
            assert_eq!(Builtin::from_key(key).map(Builtin::key), Some(*key));
        }
        assert_eq!(Builtin::from_key("acme"), None);
    }

    #[test]
    fn defaults_without_a_table() {
        assert_eq!(
            options("sftp", ""),
            Ok(BuiltinOptions::Sftp(SftpOptions::default()))
        );
        assert_eq!(
            options("webdav", "[providers.webdav]\nname = \"Web\"\n"),
            Ok(BuiltinOptions::WebDav(WebDavOptions {
                connect_timeout: Duration::from_secs(30),
                ..WebDavOptions::default()
            }))
        );
    }

    #[test]
    fn webdav_takes_a_ca_file_and_an_operation_timeout() {
        assert_eq!(
            options(
                "webdav",
                "[providers.webdav]\nca_file = \"${HOME}/ca.pem\"\noperation_timeout = 5\n"
            ),
            Ok(BuiltinOptions::WebDav(WebDavOptions {
                ca_file: Some(PathBuf::from("/home/u/ca.pem")),
                operation_timeout: Duration::from_secs(5),
                ..WebDavOptions::default()
            }))
        );
        let e = options("webdav", "[providers.webdav]\nca_file = \"ca.pem\"\n").unwrap_err();
        assert!(
            e.to_string().contains("ca_file must be an absolute path"),
            "{e}"
        );
    }

    #[test]
    fn reads_the_options() {
        let o = options(
            "sftp",
            "[providers.sftp]\nconnect_timeout = 7\nssh_config = \"${HOME}/.ssh/cfg\"\n",
        )
        .unwrap();
        assert_eq!(
            o,
            BuiltinOptions::Sftp(SftpOptions {
                connect_timeout: Duration::from_secs(7),
                operation_timeout: DEFAULT_OPERATION_TIMEOUT,
                ssh_config: Some("/home/u/.ssh/cfg".into()),
            })
        );
        assert_eq!(o.builtin(), Builtin::Sftp);
        let o = options("smb", "[providers.smb]\nconnect_timeout = 3600\n").unwrap();
        assert_eq!(
            o,
            BuiltinOptions::Smb(SmbOptions {
                connect_timeout: Duration::from_secs(3600),
                operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            })
        );
    }

    #[test]
    fn bad_options_name_the_file_and_line() {
        for (key, text, line, says) in [
            (
                "sftp",
                "[providers.sftp]\n\nconnect_timeout = 0\n",
                3,
                "1 to 3600 seconds",
            ),
            (
                "smb",
                "[providers.smb]\nconnect_timeout = 3601\n",
                2,
                "1 to 3600 seconds",
            ),
            (
                "webdav",
                "[providers.webdav]\nconnect_timeout = -1\n",
                2,
                "1 to 3600 seconds",
            ),
            (
                "sftp",
                "[providers.sftp]\nconnect_timeout = \"5\"\n",
                2,
                "whole number of seconds",
            ),
            (
                "sftp",
                "[providers.sftp]\nconnect_timeout = 1.5\n",
                2,
                "whole number of seconds",
            ),
            (
                "sftp",
                "[providers.sftp]\nssh_config = \"rel/cfg\"\n",
                2,
                "must be an absolute path",
            ),
            (
                "sftp",
                "[providers.sftp]\nssh_config = 5\n",
                2,
                "must be a path",
            ),
            (
                "sftp",
                "[providers.sftp]\nssh_config = \"$NOPE/c\"\n",
                2,
                "NOPE is not set",
            ),
            (
                "smb",
                "[providers.smb]\nname = \"S\"\nssh_config = \"/c\"\n",
                3,
                "`ssh_config` applies to the sftp provider, not `smb`",
            ),
            (
                "webdav",
                "[providers.webdav]\nssh_config = \"/c\"\n",
                2,
                "`ssh_config` applies to the sftp provider, not `webdav`",
            ),
            (
                "sftp",
                "[providers.sftp]\nconnect_timeout = 5\nport = 22\n",
                3,
                "unknown option `port` for the sftp provider",
            ),
            (
                "smb",
                "[providers]\nsmb = { timeout = 5 }\n",
                2,
                "unknown option `timeout`",
            ),
        ] {
            let e = options(key, text).unwrap_err();
            assert_eq!(e.path, Path::new("/etc/mpr/mpr.toml"), "{text}");
            assert_eq!(e.line, Some(line), "{text}: {e}");
            assert!(e.message.contains(says), "{text}: {e}");
        }
    }
}
