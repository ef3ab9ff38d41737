//! The prefix cache: what the built-in providers' checks said about a
//! server's bare UNC names, kept for a while, so that the next bare name
//! to that server connects at once instead of checking again:
//! `<runtime dir>/prefixes.toml`.
//!
//! Windows' multiple UNC provider keeps such a cache of the prefixes its
//! providers claimed, each entry for a limited time; this is mpr's. An
//! entry holds, for one server (host, port and `@SSL` as written in the
//! name), the order of the providers when it was made and each one's
//! answer ("mine", "not mine" with its code and reason, or "no check"), so
//! that a bare name resolved from it goes through exactly the pass the
//! checks would give: the same provider wins, the same reasons are listed.
//! The router makes an entry only when some provider said "mine", drops it
//! when the provider's order changes, after [`TTL`], and when the provider
//! it names fails in a way that says the server may no longer be what it
//! was (then the checks run again at once; `crate::router`).
//!
//! Written atomically, mode 0600, in the runtime directory (which ends
//! with the session). It holds server names, provider keys and the
//! checks' reasons, never a user or a password. A missing or unreadable
//! file is an empty cache: a bare name then only checks as it always did.

use crate::WnError;
use crate::state::{Store, atomic_write, ensure_private_dir};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long an entry stands.
pub const TTL: Duration = Duration::from_secs(600);

/// The most entries kept (the oldest go first).
pub const MAX_ENTRIES: usize = 64;

/// One provider's answer to the check of a bare name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// The provider has no check (a provider library): asked in its turn.
    NoCheck,
    /// The server is of the provider's kind.
    Mine,
    /// Not the provider's: its code (a §6 "not mine" code) and why.
    NotMine {
        /// The `WN_*` code.
        code: u32,
        /// Why, in words.
        reason: String,
    },
    /// Not asked: an earlier provider took the name. Checked when its
    /// turn comes in a pass from the cache.
    Unasked,
}

impl Answer {
    /// Whether two answers say the same (the same kind, and for "not
    /// mine" the same code; the reason's words may differ from one check
    /// to the next).
    pub fn says_the_same_as(&self, other: &Answer) -> bool {
        match (self, other) {
            (Answer::NotMine { code: a, .. }, Answer::NotMine { code: b, .. }) => a == b,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// The code of a "not mine" answer as an error (`WN_BAD_NETNAME` for
    /// a code this build does not know).
    pub fn error(&self) -> Option<WnError> {
        match self {
            Answer::NotMine { code, .. } => {
                Some(WnError::from_code(*code).unwrap_or(WnError::BadNetName))
            }
            _ => None,
        }
    }
}

/// What the checks said about one server's bare names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefix {
    /// The server as the checks saw it ([`server_key`]).
    pub server: String,
    /// The keys of the providers asked, in order.
    pub order: Vec<String>,
    /// Each provider's answer, in the same order.
    pub answers: Vec<Answer>,
    /// When the entry ends, seconds since the epoch.
    pub expires: u64,
}

/// The cache key of a bare UNC name: its host (lower case), port and
/// `@SSL`, the parts the providers' checks look at.
pub fn server_key(host: &str, port: Option<u16>, ssl: bool) -> String {
    let mut k = host.to_ascii_lowercase();
    if let Some(p) = port {
        k.push_str(&format!("@{p}"));
    }
    if ssl {
        k.push_str("@SSL");
    }
    k
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PrefixesFile {
    #[serde(default)]
    prefix: Vec<Prefix>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Store {
    /// `<runtime dir>/prefixes.toml`.
    pub fn prefixes_path(&self) -> PathBuf {
        self.runtime_dir().join("prefixes.toml")
    }

    /// The entry for `server` made with the providers in `order`, while it
    /// stands.
    pub fn prefix(&self, server: &str, order: &[String]) -> Option<Prefix> {
        let t = now();
        self.read_prefixes()
            .prefix
            .into_iter()
            .find(|p| p.server == server)
            .filter(|p| p.order == order && p.expires > t && p.answers.len() == order.len())
    }

    /// Every entry that stands, oldest first.
    pub fn prefixes(&self) -> Vec<Prefix> {
        let t = now();
        let mut v = self.read_prefixes().prefix;
        v.retain(|p| p.expires > t);
        v
    }

    /// Keeps `answers` for `server` (replacing its entry) for [`TTL`].
    /// Failing to write is not an error of the operation: the cache is an
    /// optimisation.
    pub fn remember_prefix(&self, server: &str, order: &[String], answers: Vec<Answer>) {
        let entry = Prefix {
            server: server.to_string(),
            order: order.to_vec(),
            answers,
            expires: now().saturating_add(TTL.as_secs()),
        };
        self.change_prefixes(|v| {
            v.retain(|p| p.server != server);
            v.push(entry);
        });
    }

    /// Drops the entry for `server`, if any.
    pub fn forget_prefix(&self, server: &str) {
        if self
            .read_prefixes()
            .prefix
            .iter()
            .any(|p| p.server == server)
        {
            self.change_prefixes(|v| v.retain(|p| p.server != server));
        }
    }

    fn change_prefixes(&self, f: impl FnOnce(&mut Vec<Prefix>)) {
        let t = now();
        let mut file = self.read_prefixes();
        file.prefix.retain(|p| p.expires > t);
        f(&mut file.prefix);
        let excess = file.prefix.len().saturating_sub(MAX_ENTRIES);
        file.prefix.drain(..excess);
        if let Some(m) = self.memory_prefixes() {
            *m.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = file.prefix;
            return;
        }
        if ensure_private_dir(self.runtime_dir()).is_err() {
            return;
        }
        if let Ok(text) = toml::to_string(&file) {
            let _ = atomic_write(&self.prefixes_path(), text.as_bytes(), 0o600);
        }
    }

    fn read_prefixes(&self) -> PrefixesFile {
        if let Some(m) = self.memory_prefixes() {
            return PrefixesFile {
                prefix: m
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone(),
            };
        }
        crate::files::read_regular_to_string(&self.prefixes_path())
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn order() -> Vec<String> {
        vec!["sftp".into(), "smb".into()]
    }

    fn answers() -> Vec<Answer> {
        vec![
            Answer::NotMine {
                code: WnError::BadNetPath.code(),
                reason: "not SSH".into(),
            },
            Answer::Mine,
        ]
    }

    #[test]
    fn an_entry_is_private_and_read_back_for_the_same_order() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("state"), d.path().join("run"));
        assert_eq!(s.prefix("h", &order()), None, "an empty cache");
        s.remember_prefix("h", &order(), answers());
        let mode = std::fs::metadata(s.prefixes_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let p = s.prefix("h", &order()).unwrap();
        assert_eq!(p.answers, answers());
        assert_eq!(p.answers[0].error(), Some(WnError::BadNetPath));
        let reworded = Answer::NotMine {
            code: WnError::BadNetPath.code(),
            reason: "closed at once".into(),
        };
        assert!(p.answers[0].says_the_same_as(&reworded));
        assert!(!p.answers[0].says_the_same_as(&Answer::Mine));
        assert!(!reworded.says_the_same_as(&Answer::NotMine {
            code: WnError::BadNetName.code(),
            reason: "closed at once".into(),
        }));
        // Another order, another server: no entry.
        let mut other = order();
        other.reverse();
        assert_eq!(s.prefix("h", &other), None);
        assert_eq!(s.prefix("h@22", &order()), None);
        s.forget_prefix("h");
        assert_eq!(s.prefix("h", &order()), None);
    }

    #[test]
    fn an_old_or_broken_file_is_an_empty_cache() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("state"), d.path().join("run"));
        s.remember_prefix("h", &order(), answers());
        let text = std::fs::read_to_string(s.prefixes_path()).unwrap();
        let past = text.replace(
            &format!("expires = {}", s.prefix("h", &order()).unwrap().expires),
            "expires = 1",
        );
        std::fs::write(s.prefixes_path(), past).unwrap();
        assert_eq!(s.prefix("h", &order()), None, "expired");
        std::fs::write(s.prefixes_path(), "[[prefix]]\nserver = 3\n\0").unwrap();
        assert_eq!(s.prefix("h", &order()), None, "unreadable");
        s.remember_prefix("h", &order(), answers());
        assert!(s.prefix("h", &order()).is_some(), "written over");
    }

    #[test]
    fn the_cache_is_bounded_and_a_memory_store_keeps_its_own() {
        let m = Store::memory();
        for i in 0..MAX_ENTRIES + 5 {
            m.remember_prefix(&format!("h{i}"), &order(), answers());
        }
        assert_eq!(m.read_prefixes().prefix.len(), MAX_ENTRIES);
        assert!(m.prefix("h0", &order()).is_none(), "the oldest went");
        assert!(
            m.prefix(&format!("h{}", MAX_ENTRIES + 4), &order())
                .is_some()
        );
        assert_eq!(server_key("Host", Some(445), true), "host@445@SSL");
        assert_eq!(server_key("h", None, false), "h");
    }
}
