//! The router's edits of the live table (§8): a local name is reserved
//! before any provider is called (so of two racing processes exactly one
//! reaches a provider), committed when a provider made the connection,
//! released when none did; a dead connection is cleared before it is made
//! again. Each edit is one atomic state write under the store's lock, never
//! held across a plugin call.

use super::request::AddRequest;
use super::{Router, fail, now_secs};
use crate::WnError;
use crate::lasterror;
use crate::names::{LocalName, RemoteName};
use crate::plugin::{CancelCall, NetworkProvider};
use crate::state::{Live, Remembered};
use mpr_abi as abi;
use std::path::PathBuf;
use std::sync::Arc;

/// A name reserved in the live table for this process.
#[derive(Debug)]
pub(super) struct Reservation {
    /// The local name reserved (an auto-picked one included); `None` for
    /// a deviceless connection.
    pub local: Option<LocalName>,
    /// Its table key (empty when deviceless).
    pub key: String,
}

/// How a name is to be reserved.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pick<'a> {
    /// Exactly this local name (or deviceless with `None`).
    Exactly(Option<&'a LocalName>),
    /// The highest free drive letter not in `tried` (`CONNECT_REDIRECT`).
    FreeDrive {
        /// Letters already found taken by a provider.
        tried: &'a [char],
    },
}

impl Router {
    /// The directory a connection is reachable at: the local name's, or
    /// `<runtime>/unc/<server>[@port]/<share>` when deviceless.
    pub(super) fn directory_for(&self, local: Option<&LocalName>, remote: &RemoteName) -> PathBuf {
        if let Some(l) = local {
            return l.directory(&self.drives_dir);
        }
        let mut d = self.runtime_dir.join("unc");
        d.extend(remote.deviceless_segments());
        d
    }

    /// Reserves a local name (or a deviceless remote) in the live table.
    pub(super) fn reserve(
        &self,
        pick: Pick<'_>,
        remote: &RemoteName,
        req: &AddRequest,
    ) -> Result<Reservation, WnError> {
        let remembered = self.store.remembered()?;
        let pid = std::process::id();
        let remote_s = remote.as_str();
        self.store.update_live(|live| -> Result<Reservation, WnError> {
            let taken = |key: &str| live.iter().any(|e| e.local == key);
            let local = match pick {
                Pick::Exactly(l) => l.cloned(),
                Pick::FreeDrive { tried } => {
                    let free = ('C'..='Z').rev().find(|c| {
                        let key = format!("{c}:");
                        !tried.contains(c)
                            && !taken(&key)
                            && !remembered.iter().any(|r| r.local == key)
                    });
                    match free {
                        Some(c) => Some(LocalName::Drive(c)),
                        None => {
                            return fail(
                                WnError::NoMoreEntries,
                                "no free drive letter is left (C: to Z: are in use or remembered)",
                            );
                        }
                    }
                }
            };
            let key = match &local {
                Some(l) => l.display(),
                None => String::new(),
            };
            let holder = live.iter().find(|e| match &local {
                Some(_) => e.local == key,
                None => e.local.is_empty() && e.remote.eq_ignore_ascii_case(remote_s),
            });
            if let Some(e) = holder {
                let what = if e.is_committed() {
                    "already connected"
                } else {
                    "being connected"
                };
                let text = match &local {
                    Some(_) => format!("{key} is {what} to {}", e.remote),
                    None => format!("{} is {what} without a local name", e.remote),
                };
                return fail(WnError::AlreadyConnected, text);
            }
            if local.is_some()
                && req.asks_to_remember()
                && let Some(r) = remembered
                    .iter()
                    .find(|r| r.local == key && !r.remote.eq_ignore_ascii_case(remote_s))
            {
                return fail(
                    WnError::DeviceAlreadyRemembered,
                    format!(
                        "{key} is remembered as a connection to {}; forget it first with `mpr use {key} --delete`",
                        r.remote
                    ),
                );
            }
            live.push(Live {
                local: key.clone(),
                remote: remote_s.to_string(),
                provider: String::new(),
                user: String::new(),
                directory: String::new(),
                pending_pid: Some(pid),
                since: now_secs(),
            });
            Ok(Reservation { local, key })
        })?
    }

    /// Gives a reservation back (no provider made the connection).
    pub(super) fn release(&self, r: &Reservation) {
        let pid = std::process::id();
        let _ = self
            .store
            .update_live(|live| live.retain(|e| !e.is_reserved_by(pid, &r.key)));
    }

    /// Turns the reservation into a connection; remembers it if asked.
    /// Returns whether it was remembered.
    pub(super) fn commit_add(
        &self,
        req: &AddRequest,
        r: &Reservation,
        remote: &RemoteName,
        provider: &Arc<dyn NetworkProvider>,
        directory: PathBuf,
    ) -> Result<bool, WnError> {
        let pid = std::process::id();
        let user = req.user.clone().unwrap_or_default();
        self.store.update_live(|live| {
            live.retain(|e| !e.is_reserved_by(pid, &r.key));
            live.push(Live {
                local: r.key.clone(),
                remote: remote.as_str().to_string(),
                provider: provider.key().to_string(),
                user: user.clone(),
                directory: directory.display().to_string(),
                pending_pid: None,
                since: now_secs(),
            });
        })?;
        let remember = r.local.is_some() && req.asks_to_remember();
        if remember {
            let entry = Remembered {
                local: r.key.clone(),
                remote: remote.as_str().to_string(),
                provider: provider.key().to_string(),
                user,
                r#type: abi::RESOURCETYPE_DISK,
            };
            self.store.update_remembered(|list| {
                list.retain(|e| e.local != entry.local);
                list.push(entry);
            })?;
        }
        Ok(remember)
    }

    /// Clears a dead connection of `key` to `remote` (its provider is told
    /// to drop it, forcibly, and the table forgets it), so that it can be
    /// made again. A live one, or one to another remote, is left alone.
    pub(super) fn clear_dead(&self, key: &str, remote: &RemoteName) -> Result<(), WnError> {
        let Some(e) = self.store.live()?.into_iter().find(|e| {
            e.is_committed() && e.local == key && e.remote.eq_ignore_ascii_case(remote.as_str())
        }) else {
            return Ok(());
        };
        if self.health(&e).is_live() {
            return Ok(());
        }
        if let Some(p) = self.provider_by_key(&e.provider) {
            let dir = (!e.directory.is_empty()).then(|| PathBuf::from(&e.directory));
            // The provider's answer does not matter, and must not replace
            // the extended error of the operation.
            let saved = lasterror::get();
            let _ = p.cancel_connection(&CancelCall {
                name: key,
                directory: dir.as_deref(),
                flags: 0,
                force: true,
            });
            match saved {
                Some(d) => lasterror::set(d.code, d.text, d.provider),
                None => lasterror::clear(),
            }
        }
        self.store
            .update_live(|live| live.retain(|x| !(x.is_committed() && x.local == key)))
    }
}

impl Router {
    /// Cleans up after connects whose process died before committing
    /// (killed, crashed): every provider that can cancel is told, forcibly,
    /// to drop whatever it may have made at the orphan's name and directory
    /// (a mount, a helper still starting), and the orphan is forgotten. An
    /// orphan whose name has been connected again since is only forgotten:
    /// that connect cleaned its mount point itself. Called at the start of
    /// every command that reads the table, so the next command after a
    /// kill finds a clean name; the extended error is left as it was.
    pub(super) fn sweep(&self) {
        let Ok(orphans) = self.store.orphans() else {
            return;
        };
        if orphans.is_empty() {
            return;
        }
        let saved = lasterror::get();
        let live = self.store.live().unwrap_or_default();
        for o in &orphans {
            let taken = live.iter().any(|e| {
                e.local == o.local
                    && (!o.local.is_empty() || e.remote.eq_ignore_ascii_case(&o.remote))
            });
            if !taken {
                self.cancel_everywhere(o);
            }
        }
        let _ = self.store.forget_orphans(&orphans);
        match saved {
            Some(d) => lasterror::set(d.code, d.text, d.provider),
            None => lasterror::clear(),
        }
    }

    fn cancel_everywhere(&self, o: &Live) {
        let Ok(remote) = RemoteName::parse(&o.remote) else {
            return;
        };
        let local = LocalName::parse(&o.local).ok().flatten();
        let directory = self.directory_for(local.as_ref(), &remote);
        let name = if o.local.is_empty() {
            &o.remote
        } else {
            &o.local
        };
        let call = CancelCall {
            name,
            directory: Some(&directory),
            flags: 0,
            force: true,
        };
        for p in self.ready_providers().filter(|p| {
            p.connection_caps() & (abi::WNNC_CON_CANCELCONNECTION | abi::WNNC_CON_CANCELCONNECTION2)
                != 0
        }) {
            let _ = p.cancel_connection(&call);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::request::{AddApi, AddRequest};
    use super::super::testkit::World;
    use super::*;

    fn req() -> AddRequest {
        AddRequest::new(AddApi::Use, None, r"\\h\s", abi::CONNECT_REDIRECT)
    }

    #[test]
    fn a_reserved_name_is_taken_until_released() {
        let w = World::new();
        let remote = RemoteName::parse(r"\\h\s").unwrap();
        let z = LocalName::Drive('Z');
        let r = w
            .router
            .reserve(Pick::Exactly(Some(&z)), &remote, &req())
            .unwrap();
        let again = w.router.reserve(Pick::Exactly(Some(&z)), &remote, &req());
        assert_eq!(again.unwrap_err(), WnError::AlreadyConnected);
        assert!(lasterror::get().unwrap().text.contains("being connected"));
        w.router.release(&r);
        assert!(
            w.router
                .reserve(Pick::Exactly(Some(&z)), &remote, &req())
                .is_ok()
        );
    }

    #[test]
    fn free_drives_are_picked_from_z_downwards_skipping_tried_ones() {
        let w = World::new();
        let remote = RemoteName::parse(r"\\h\s").unwrap();
        let first = w
            .router
            .reserve(Pick::FreeDrive { tried: &[] }, &remote, &req())
            .unwrap();
        assert_eq!(first.key, "Z:");
        let next = w
            .router
            .reserve(Pick::FreeDrive { tried: &['Y'] }, &remote, &req())
            .unwrap();
        assert_eq!(next.key, "X:");
    }

    #[test]
    fn orphans_of_dead_connects_are_cancelled_once_then_forgotten() {
        let w = World::new();
        let dead = |local: &str| Live {
            local: local.into(),
            remote: r"\\h\s".into(),
            provider: String::new(),
            user: String::new(),
            directory: String::new(),
            // No process has this pid (pid_max is at most 2^22).
            pending_pid: Some(u32::MAX - 1),
            since: now_secs(),
        };
        w.router
            .store()
            .update_live(|l| {
                l.push(dead("Y:"));
                l.push(dead("Z:"));
            })
            .unwrap();
        // Z: was connected again since: its orphan is only forgotten.
        let z = LocalName::Drive('Z');
        let remote = RemoteName::parse(r"\\h\s").unwrap();
        let r = w
            .router
            .reserve(Pick::Exactly(Some(&z)), &remote, &req())
            .unwrap();
        assert_eq!(w.router.store().orphans().unwrap().len(), 2);
        w.router.sweep();
        assert_eq!(w.log(), ["provider cancel"], "only Y: is cancelled");
        assert!(w.router.store().orphans().unwrap().is_empty());
        w.router.sweep();
        assert_eq!(w.log().len(), 1, "an orphan is cleaned once");
        w.router.release(&r);
    }

    #[test]
    fn deviceless_directories_live_under_the_runtime_unc_tree() {
        let w = World::new();
        let remote = RemoteName::parse(r"\\host@8080\share").unwrap();
        let d = w.router.directory_for(None, &remote);
        assert!(d.ends_with("run/unc/host@8080/share"), "{}", d.display());
        let url = RemoteName::parse("sftp://host/a/../b").unwrap();
        let d = w.router.directory_for(None, &url);
        assert!(d.ends_with("run/unc/host/a/b"), "{}", d.display());
    }
}
