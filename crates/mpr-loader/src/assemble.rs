//! From `mpr.toml` to router slots.

use crate::notifyee::{NotifyeeLoad, load_notifyee};
use crate::provider::load_provider;
use mpr_core::config::{Config, NotifyeeEntry, ProviderEntry};
use mpr_core::plugin::NetworkProvider;
use mpr_core::router::{NotifyeeSlot, NotifyeeState, ProviderSlot};
use mpr_core::trust;
use std::sync::Arc;

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

/// Loads one notifyee into its slot (in-process).
pub fn load_notifyee_slot(n: &NotifyeeEntry, warnings: &mut Vec<String>) -> NotifyeeSlot {
    let state = match trust::vet(&n.path) {
        Err(r) => {
            warnings.push(format!("notifyee {}: {r}", n.name));
            NotifyeeState::Refused(r.to_string())
        }
        Ok(v) => match load_notifyee(v) {
            Ok(NotifyeeLoad::Loaded(l)) => NotifyeeState::Ready(Arc::new(l)),
            Ok(NotifyeeLoad::NoExports(why)) => {
                warnings.push(format!("notifyee {}: ignored: {why}", n.name));
                NotifyeeState::Ignored(why)
            }
            Err(why) => {
                warnings.push(format!("notifyee {}: {why}", n.name));
                NotifyeeState::Refused(why)
            }
        },
    };
    NotifyeeSlot {
        name: n.name.clone(),
        path: n.path.clone(),
        isolation: n.isolation,
        policy: n.policy,
        state,
    }
}
