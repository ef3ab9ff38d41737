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
use mpr_core::plugin::NetworkProvider;
use mpr_core::router::{ProviderSlot, Router, RouterParts};
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

/// Builds the router from the environment. Warnings (refused or ignored
/// plugins) are returned for the caller to show.
pub fn router_from_env(load: Load) -> Result<(Router, Vec<String>), SetupError> {
    router_from_env_wrapped(load, &|p| p)
}

/// A function that wraps a loaded provider (see [`router_from_env_wrapped`]).
pub type ProviderWrap<'a> = &'a dyn Fn(Arc<dyn NetworkProvider>) -> Arc<dyn NetworkProvider>;

/// Like [`router_from_env`], with every loaded provider passed through
/// `wrap` before the router gets it. The `mpr` command uses this to observe
/// which provider is being called (its progress spinner names it); `wrap`
/// must return a provider that behaves exactly like the one it is given.
pub fn router_from_env_wrapped(
    load: Load,
    wrap: ProviderWrap<'_>,
) -> Result<(Router, Vec<String>), SetupError> {
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
    let (providers, notifyees) = mpr_loader::assemble(
        &setup.config,
        &builtins,
        load.notifyees,
        setup.paths.libexec_dir.as_deref(),
        &mut warnings,
    );
    let providers = providers
        .into_iter()
        .map(|slot| match slot {
            ProviderSlot::Ready(p) => ProviderSlot::Ready(wrap(p)),
            refused => refused,
        })
        .collect();
    let router = Router::new(RouterParts {
        providers,
        notifyees,
        store: Store::new(
            setup.paths.state_dir.clone(),
            setup.paths.runtime_dir.clone(),
        ),
        drives_dir,
        runtime_dir: setup.paths.runtime_dir.clone(),
        journal: Journal::to_file(setup.paths.journal_file()),
        max_retry_rounds: setup.config.max_retry_rounds,
    });
    Ok((router, warnings))
}
