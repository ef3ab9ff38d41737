/*!
Turns the environment and `mpr.toml` into a ready [`Router`]: the one place
that reads `MPR_*`/`XDG_*` variables (and `USER`, the login name the SMB
provider uses), loads the configuration files, has the built-in providers
check their options, and assembles providers and notifyees. The `mpr`
command and `libmpr.so` both start here, so they see the same router, the
same plugins and the same state.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod paths;

pub use paths::Paths;

use mpr_core::Journal;
use mpr_core::config::ProviderEntry;
use mpr_core::config::{Config, ConfigError, UserConfig};
use mpr_core::journal::Sink;
use mpr_core::router::{Router, RouterParts};
use mpr_core::state::Store;
use mpr_providers::{Builtin, BuiltinOptions, Context};
use std::fmt;
use std::sync::Arc;

/// Why a router could not be set up (a usage or configuration error).
#[derive(Debug)]
pub enum SetupError {
    /// A configuration file is malformed (names file and line).
    Config(ConfigError),
    /// The environment is unusable (no HOME, an unsafe runtime directory).
    Environment(String),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Config(e) => write!(f, "configuration error: {e}"),
            SetupError::Environment(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for SetupError {}

/// What to load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Load the notifyees (only add and cancel need them).
    pub notifyees: bool,
}

/// The loaded system configuration and the paths it was resolved with.
#[derive(Debug)]
pub struct Setup {
    /// The directories.
    pub paths: Paths,
    /// The system configuration.
    pub config: Config,
    /// The built-in providers in `config`, their options checked.
    pub builtins: Vec<BuiltinConfig>,
}

/// A built-in provider of the configuration, ready to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinConfig {
    /// Its key in `mpr.toml`.
    pub key: String,
    /// Its display name.
    pub name: String,
    /// Its checked options.
    pub options: BuiltinOptions,
}

impl Setup {
    /// Resolves the paths, reads both configuration files and has the
    /// built-in providers check their options.
    pub fn from_env() -> Result<(Setup, UserConfig), SetupError> {
        let paths = Paths::from_env()?;
        let lookup = |n: &str| std::env::var(n).ok();
        let config = Config::load(&paths.config_file(), &lookup).map_err(SetupError::Config)?;
        let builtins = check_builtins(&config, &lookup).map_err(SetupError::Config)?;
        let user = UserConfig::load(&paths.user_config, &lookup).map_err(SetupError::Config)?;
        Ok((
            Setup {
                paths,
                config,
                builtins,
            },
            user,
        ))
    }
}

/// Has each built-in provider of `config` check its options: an unknown key
/// or a bad value is a [`ConfigError`] naming the file and the line.
/// `lookup` expands `$VAR` in paths.
pub fn check_builtins(
    config: &Config,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<BuiltinConfig>, ConfigError> {
    let mut out = Vec::new();
    for entry in config.providers.iter().filter(|e| e.path.is_none()) {
        if let Some(b) = Builtin::from_key(&entry.key) {
            out.push(BuiltinConfig {
                key: entry.key.clone(),
                name: entry.name.clone(),
                options: b.options(&entry.options, lookup)?,
            });
        }
    }
    Ok(out)
}

/// The login name (`USER`), or `guest` when it is not set.
fn login_name() -> String {
    std::env::var("USER").unwrap_or_else(|_| "guest".into())
}

/// The audit sink in use: `[journal] sink` of `config`, else journald when
/// its socket (`paths.journal_socket`) is present, else the file.
pub fn journal_sink(paths: &Paths, config: &Config) -> Sink {
    Sink::resolve(config.journal_sink, &paths.journal_socket)
}

/// The audit journal of [`journal_sink`]: the router's first observer, and
/// where `mpr notifyee add/remove` record registry changes.
pub fn journal(paths: &Paths, config: &Config) -> Journal {
    Journal::new(
        journal_sink(paths, config),
        paths.journal_file(),
        paths.journal_socket.clone(),
    )
}

/// A router built by [`router_from_env`], and what its caller should tell
/// the user about the build.
#[derive(Debug)]
pub struct Assembled {
    /// The router, with the audit journal as its first observer.
    pub router: Router,
    /// One line per plugin that the router runs without or with less: a
    /// provider or notifyee refused (trust checks, load failure) or
    /// ignored (a notifyee that exports neither notify function), or a
    /// provider function advertised but not exported. Nothing here stops
    /// the router; the caller shows them (on standard error).
    pub warnings: Vec<String>,
}

/// Builds the router from the environment, with the audit journal as its
/// first observer, and the [warnings](Assembled::warnings) for the caller
/// to show.
pub fn router_from_env(load: Load) -> Result<Assembled, SetupError> {
    let (setup, user) = Setup::from_env()?;
    let drives_dir = match setup.paths.drives_dir.clone().or(user.drives_dir) {
        Some(d) => d,
        None => setup
            .paths
            .home
            .clone()
            .ok_or_else(|| {
                SetupError::Environment("HOME is not set, and mpr needs it for ~/Network".into())
            })?
            .join("Network"),
    };
    let mut warnings = Vec::new();
    let sink = journal_sink(&setup.paths, &setup.config);
    let context = Context {
        audit: mpr_providers::AuditSinks {
            file: sink.uses_file().then(|| setup.paths.journal_file()),
            journald: sink
                .uses_journald()
                .then(|| setup.paths.journal_socket.clone()),
        },
        runtime_dir: setup.paths.runtime_dir.clone(),
        login: login_name(),
        fsd_dirs: mpr_loader::isolation::host_search_path(setup.paths.libexec_dir.as_deref()),
    };
    let builtins = |e: &ProviderEntry| {
        let b = setup.builtins.iter().find(|b| b.key == e.key)?;
        Some(mpr_providers::builtin(
            b.name.clone(),
            b.options.clone(),
            &context,
        ))
    };
    let (providers, notifyees) = mpr_loader::assemble(
        &setup.config,
        &builtins,
        load.notifyees,
        setup.paths.libexec_dir.as_deref(),
        &mut warnings,
    );
    let router = Router::new(RouterParts {
        providers,
        notifyees,
        store: Store::new(
            setup.paths.state_dir.clone(),
            setup.paths.runtime_dir.clone(),
        ),
        drives_dir,
        runtime_dir: setup.paths.runtime_dir.clone(),
        observers: vec![Arc::new(journal(&setup.paths, &setup.config))],
        max_retry_rounds: setup.config.max_retry_rounds,
    });
    Ok(Assembled { router, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("/etc/mpr/mpr.toml"), text, &|_| None).unwrap()
    }

    #[test]
    fn builtins_are_checked_and_libraries_left_alone() {
        let c = config(
            "[providers]\norder = [\"acme\", \"webdav\", \"sftp\"]\n\
             [providers.acme]\npath = \"/a.so\"\n\
             [providers.sftp]\nname = \"Secure\"\nconnect_timeout = 9\n",
        );
        let b = check_builtins(&c, &|_| None).unwrap();
        let keys: Vec<_> = b
            .iter()
            .map(|b| (b.key.as_str(), b.name.as_str()))
            .collect();
        assert_eq!(keys, [("webdav", "WebDAV"), ("sftp", "Secure")]);
        assert_eq!(
            b[1].options,
            BuiltinOptions::Sftp(mpr_providers::options::SftpOptions {
                connect_timeout: std::time::Duration::from_secs(9),
                ..Default::default()
            })
        );
    }

    #[test]
    fn a_bad_option_is_a_configuration_error_with_its_line() {
        let c = config("[providers.smb]\nname = \"S\"\nconnect_timeout = 0\n");
        let e = check_builtins(&c, &|_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/mpr/mpr.toml:3: connect_timeout must be 1 to 3600 seconds"
        );
        let shown = SetupError::Config(e).to_string();
        assert!(shown.starts_with("configuration error: "), "{shown}");
    }
}
