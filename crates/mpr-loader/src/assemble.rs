//! From `mpr.toml` to router slots.

use crate::isolation::{IsolatedNotifier, Started};
use crate::notifyee::{NotifyeeLoad, load_notifyee};
use crate::provider::load_provider;
use mpr_core::config::{Config, Isolation, NotifyeeEntry, ProviderEntry};
use mpr_core::plugin::NetworkProvider;
use mpr_core::router::{NotifyeeSlot, NotifyeeState, ProviderSlot};
use mpr_core::trust;
use std::sync::Arc;
use std::time::Duration;

/// Makes a built-in provider for a configuration entry without a `path`.
pub type Builtins<'a> = &'a dyn Fn(&ProviderEntry) -> Option<Arc<dyn NetworkProvider>>;

/// Loads the providers and notifyees of `config`.
///
/// Nothing here fails: a plugin that is refused or cannot be loaded becomes
/// a `Refused` slot with its reason (the router applies the policy), and
/// each such event is also pushed to `warnings` for the caller to show.
pub fn assemble(
    config: &Config,
    builtins: Builtins<'_>,
    load_notifyees: bool,
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
                        Err(why) => refused(why, warnings),
                    },
                },
            }
        })
        .collect();
    let notifyees = if load_notifyees {
        config
            .notifyees
            .iter()
            .map(|n| load_notifyee_slot(n, warnings))
            .collect()
    } else {
        Vec::new()
    };
    (providers, notifyees)
}

/// Loads one notifyee into its slot: in this process, or, with
/// `isolation = "process"`, in a host process started here
/// ([`IsolatedNotifier`]). Either way the trust checks run here first; an
/// isolated library is then vetted again and loaded by its host.
pub fn load_notifyee_slot(n: &NotifyeeEntry, warnings: &mut Vec<String>) -> NotifyeeSlot {
    let refused = |why: String, warnings: &mut Vec<String>| {
        warnings.push(format!("notifyee {}: {why}", n.name));
        NotifyeeState::Refused(why)
    };
    let ignored = |why: String, warnings: &mut Vec<String>| {
        warnings.push(format!("notifyee {}: ignored: {why}", n.name));
        NotifyeeState::Ignored(why)
    };
    let state = match (trust::vet(&n.path), n.isolation) {
        (Err(r), _) => refused(r.to_string(), warnings),
        (Ok(v), Isolation::InProcess) => match load_notifyee(v) {
            Ok(NotifyeeLoad::Loaded(l)) => NotifyeeState::Ready(Arc::new(l)),
            Ok(NotifyeeLoad::NoExports(why)) => ignored(why, warnings),
            Err(why) => refused(why, warnings),
        },
        (Ok(v), Isolation::Process) => {
            // Only the check is wanted here: the library is mapped by the host.
            drop(v);
            let timeout = Duration::from_millis(n.timeout_ms);
            match IsolatedNotifier::start(&n.name, &n.path, timeout) {
                Ok(Started::Ready(i)) => NotifyeeState::Ready(Arc::new(i)),
                Ok(Started::NoExports(why)) => ignored(why, warnings),
                Err(why) => refused(why, warnings),
            }
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
