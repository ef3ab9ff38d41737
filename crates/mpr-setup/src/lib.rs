/*!
Turns the environment and `mpr.toml` into a ready [`Router`]: the one place
that reads `MPR_*`/`XDG_*` variables, loads the configuration files and
assembles providers and notifyees. The `mpr` command and `libmpr.so` both
start here, so they see the same router, the same plugins and the same
state.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod paths;

pub use paths::Paths;

use mpr_core::Journal;
use mpr_core::config::{Config, ConfigError, UserConfig};
use mpr_core::journal::Sink;
use mpr_core::router::{Router, RouterParts};
use mpr_core::state::Store;
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
}

impl Setup {
    /// Resolves the paths and reads both configuration files.
    pub fn from_env() -> Result<(Setup, UserConfig), SetupError> {
        let paths = Paths::from_env()?;
        let lookup = |n: &str| std::env::var(n).ok();
        let config = Config::load(&paths.config_file(), &lookup).map_err(SetupError::Config)?;
        let user = UserConfig::load(&paths.user_config, &lookup).map_err(SetupError::Config)?;
        Ok((Setup { paths, config }, user))
    }
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

/// Builds the router from the environment, with the audit journal as its
/// first observer. Warnings (refused or ignored plugins) are returned for
/// the caller to show.
pub fn router_from_env(load: Load) -> Result<(Router, Vec<String>), SetupError> {
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
    let runtime_dir = setup.paths.runtime_dir.clone();
    let builtins = |e: &mpr_core::config::ProviderEntry| mpr_providers::builtin(e, &runtime_dir);
    let (providers, notifyees) =
        mpr_loader::assemble(&setup.config, &builtins, load.notifyees, &mut warnings);
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
    Ok((router, warnings))
}
