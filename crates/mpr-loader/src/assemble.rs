//! From `mpr.toml` to router slots.

use crate::LoadError;
use crate::isolation::IsolatedNotifier;
use crate::notifyee::load_notifyee;
use crate::provider::load_provider;
use mpr_core::config::{Config, Isolation, NotifyeeEntry, ProviderEntry};
use mpr_core::plugin::{ConnectNotifier, NetworkProvider};
use mpr_core::router::{NotifyeeSlot, NotifyeeState, ProviderSlot};
use mpr_core::trust;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Makes a built-in provider for a configuration entry without a `path`.
pub type Builtins<'a> = &'a dyn Fn(&ProviderEntry) -> Option<Arc<dyn NetworkProvider>>;

/// Loads the providers and notifyees of `config`; `libexec_dir`
/// (`$MPR_LIBEXEC_DIR`) is where else to look for the notifyee host
/// ([`crate::isolation::find_host`]).
///
/// Nothing here fails: a plugin that is refused or cannot be loaded becomes
/// a `Refused` slot with its reason (the router applies the policy), and
/// each such event is also pushed to `warnings` for the caller to show.
pub fn assemble(
    config: &Config,
    builtins: Builtins<'_>,
    load_notifyees: bool,
    libexec_dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> (Vec<ProviderSlot>, Vec<NotifyeeSlot>) {
    let providers = config
        .providers
        .iter()
        .map(|entry| {
            let refused = |reason: String, warnings: &mut Vec<String>| {
                warnings.push(format!("provider {}: {reason}", entry.key));
                ProviderSlot::Refused {
                    key: entry.key.clone(),
                    name: entry.name.clone(),
                    path: entry.path.clone().unwrap_or_default(),
                    reason,
                }
            };
            match &entry.path {
                None => match builtins(entry) {
                    Some(p) => ProviderSlot::Ready(p),
                    None => refused("no such built-in provider".into(), warnings),
                },
                Some(path) => match trust::vet(path) {
                    Err(r) => refused(r.to_string(), warnings),
                    Ok(v) => match load_provider(v, &entry.key, &entry.name, warnings) {
                        Ok(p) => ProviderSlot::Ready(Arc::new(p)),
                        Err(why) => refused(why.to_string(), warnings),
                    },
                },
            }
        })
        .collect();
    let notifyees = if load_notifyees {
        config
            .notifyees
            .iter()
            .map(|n| load_notifyee_slot(n, libexec_dir, warnings))
            .collect()
    } else {
        Vec::new()
    };
    (providers, notifyees)
}

/// Loads one registered notifyee as a connect does: the trust checks, then
/// the library, in this process or, with `isolation = "process"`, in a
/// host process started here ([`IsolatedNotifier`], which vets the library
/// again in its host). `libexec_dir` is as for [`assemble`].
///
/// A library that exports neither notify function is
/// [`LoadError::NoNotifyExports`] ([`LoadError::is_ignored`]).
pub fn load_registered_notifyee(
    n: &NotifyeeEntry,
    libexec_dir: Option<&Path>,
) -> Result<Arc<dyn ConnectNotifier>, LoadError> {
    let vetted = trust::vet(&n.path).map_err(LoadError::NotTrusted)?;
    Ok(match n.isolation {
        Isolation::InProcess => Arc::new(load_notifyee(vetted)?),
        Isolation::Process => {
            // Only the check is wanted here: the library is mapped by the host.
            drop(vetted);
            let timeout = Duration::from_millis(n.timeout_ms);
            Arc::new(IsolatedNotifier::start(
                &n.name,
                &n.path,
                timeout,
                libexec_dir,
            )?)
        }
    })
}

/// Loads one notifyee into its slot ([`load_registered_notifyee`]): a
/// failure becomes a `Refused` slot, a library without exports an
/// `Ignored` one, each with a line in `warnings`.
pub fn load_notifyee_slot(
    n: &NotifyeeEntry,
    libexec_dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> NotifyeeSlot {
    let state = match load_registered_notifyee(n, libexec_dir) {
        Ok(l) => NotifyeeState::Ready(l),
        Err(e) if e.is_ignored() => {
            warnings.push(format!("notifyee {}: ignored: {e}", n.name));
            NotifyeeState::Ignored(e.to_string())
        }
        Err(e) => {
            warnings.push(format!("notifyee {}: {e}", n.name));
            NotifyeeState::Refused(e.to_string())
        }
    };
    NotifyeeSlot {
        name: n.name.clone(),
        path: n.path.clone(),
        isolation: n.isolation,
        policy: n.policy,
        state,
    }
}
