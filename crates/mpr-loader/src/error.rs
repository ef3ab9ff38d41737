//! [`LoadError`]: why a plugin library could not be loaded.

use crate::isolation::{HOST_PROGRAM, LIBEXEC_ENV};
use mpr_core::trust::Refusal;
use std::fmt;
use std::path::PathBuf;

/// Why a provider or notifyee library could not be loaded, in this process
/// or in a notifyee host. `Display` is one lowercase line naming the file.
///
/// [`LoadError::NoNotifyExports`] is the one kind that is not a refusal: a
/// notifyee that exports neither function is ignored (spec §3); callers
/// tell it apart by [`LoadError::is_ignored`].
#[derive(Debug)]
pub enum LoadError {
    /// The library failed the trust checks.
    NotTrusted(Refusal),
    /// `dlopen` failed (not a shared object, an unresolved symbol, a
    /// constructor that failed).
    Dlopen {
        /// The library.
        path: PathBuf,
        /// The dynamic loader's message.
        detail: String,
    },
    /// A provider library lacks a function every provider must export.
    MissingSymbol {
        /// The library.
        path: PathBuf,
        /// The function (`NPGetCaps`).
        symbol: &'static str,
    },
    /// A notifyee library exports neither `AddConnectNotify` nor
    /// `CancelConnectNotify`.
    NoNotifyExports {
        /// The library.
        path: PathBuf,
    },
    /// The notifyee host program is in none of the directories searched.
    HostMissing {
        /// The directories, in the order searched.
        looked: Vec<PathBuf>,
    },
    /// The notifyee host program failed the trust checks.
    HostNotTrusted(Refusal),
    /// The channel to a notifyee host could not be made.
    Socketpair(std::io::Error),
    /// Standard error could not be duplicated for the host's output.
    DupStderr(std::io::Error),
    /// The notifyee host program could not be started.
    HostSpawn {
        /// The host program.
        host: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The host speaks another version of the protocol (another build).
    HostVersion {
        /// The host program.
        host: PathBuf,
        /// Its protocol version.
        theirs: u32,
        /// Ours.
        ours: u32,
    },
    /// The host broke the protocol, or answered something else than a load
    /// result (the detail describes it).
    HostProtocol(String),
    /// The host did not answer within the deadline (it was killed).
    HostTimedOut {
        /// The library.
        path: PathBuf,
        /// The deadline, in milliseconds.
        ms: u128,
    },
    /// The host died while loading the library.
    HostDied {
        /// The library.
        path: PathBuf,
        /// How it ended ("killed by signal 11 (SIGSEGV)").
        how: String,
    },
    /// The host could not load the library: its reason, as the host
    /// reported it (the host's own [`LoadError`], as text across the
    /// process boundary).
    InHost(String),
}

impl LoadError {
    /// Whether this means "ignore the library" rather than "refuse it": a
    /// notifyee that exports neither notify function (spec §3).
    pub fn is_ignored(&self) -> bool {
        matches!(self, LoadError::NoNotifyExports { .. })
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotTrusted(r) => r.fmt(f),
            LoadError::Dlopen { path, detail } => {
                write!(f, "cannot load {}: {detail}", path.display())
            }
            LoadError::MissingSymbol { path, symbol } => write!(
                f,
                "{} does not export {symbol}, so it is not a network provider",
                path.display()
            ),
            LoadError::NoNotifyExports { path } => write!(
                f,
                "{} exports neither AddConnectNotify nor CancelConnectNotify",
                path.display()
            ),
            LoadError::HostMissing { looked } => {
                let looked: Vec<String> = looked.iter().map(|d| d.display().to_string()).collect();
                write!(
                    f,
                    "cannot find {HOST_PROGRAM} (looked in {}); install it with `make install` \
                     or set {LIBEXEC_ENV} to its directory",
                    looked.join(", ")
                )
            }
            LoadError::HostNotTrusted(r) => {
                write!(f, "the notifyee host is not trusted: {}", r.reason)
            }
            LoadError::Socketpair(e) => write!(f, "cannot create a socketpair: {e}"),
            LoadError::DupStderr(e) => write!(f, "cannot duplicate standard error: {e}"),
            LoadError::HostSpawn { host, source } => {
                write!(f, "cannot start {}: {source}", host.display())
            }
            LoadError::HostVersion { host, theirs, ours } => write!(
                f,
                "{} speaks protocol {theirs}, not {ours} (mpr and the host come from \
                 different builds)",
                host.display()
            ),
            LoadError::HostProtocol(why) => {
                write!(f, "the notifyee host broke the protocol: {why}")
            }
            LoadError::HostTimedOut { path, ms } => write!(
                f,
                "loading {} in the notifyee host took longer than {ms} ms; it was killed",
                path.display()
            ),
            LoadError::HostDied { path, how } => write!(
                f,
                "the notifyee host died while loading {}: {how}",
                path.display()
            ),
            LoadError::InHost(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::NotTrusted(r) | LoadError::HostNotTrusted(r) => Some(r),
            LoadError::Socketpair(e)
            | LoadError::DupStderr(e)
            | LoadError::HostSpawn { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn all() -> Vec<LoadError> {
        let p = || PathBuf::from("/lib/x.so");
        let refusal = || Refusal {
            path: p(),
            reason: "/lib/x.so is world-writable".into(),
        };
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        vec![
            LoadError::NotTrusted(refusal()),
            LoadError::Dlopen {
                path: p(),
                detail: "invalid ELF header".into(),
            },
            LoadError::MissingSymbol {
                path: p(),
                symbol: "NPGetCaps",
            },
            LoadError::NoNotifyExports { path: p() },
            LoadError::HostMissing {
                looked: vec![PathBuf::from("/a"), PathBuf::from("/b")],
            },
            LoadError::HostNotTrusted(refusal()),
            LoadError::Socketpair(io()),
            LoadError::DupStderr(io()),
            LoadError::HostSpawn {
                host: PathBuf::from("/h"),
                source: io(),
            },
            LoadError::HostVersion {
                host: PathBuf::from("/h"),
                theirs: 1,
                ours: 2,
            },
            LoadError::HostProtocol("a short frame".into()),
            LoadError::HostTimedOut { path: p(), ms: 5 },
            LoadError::HostDied {
                path: p(),
                how: "killed by signal 11 (SIGSEGV)".into(),
            },
            LoadError::InHost("cannot load /lib/x.so: invalid ELF header".into()),
        ]
    }

    #[test]
    fn messages_are_one_lowercase_line() {
        for e in all() {
            let m = e.to_string();
            assert!(!m.is_empty() && !m.contains('\n'), "{e:?}: {m:?}");
            assert!(!m.ends_with('.'), "{m}");
            let first = m.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{m}");
        }
    }

    #[test]
    fn only_missing_notify_exports_is_ignored() {
        let ignored: Vec<String> = all()
            .iter()
            .filter(|e| e.is_ignored())
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            ignored,
            ["/lib/x.so exports neither AddConnectNotify nor CancelConnectNotify"]
        );
    }

    #[test]
    fn messages_name_the_file_and_the_way_out() {
        let e = LoadError::HostMissing {
            looked: vec![Path::new("/a").into(), Path::new("/b").into()],
        };
        assert_eq!(
            e.to_string(),
            "cannot find mpr-notifyee-host (looked in /a, /b); install it with `make install` \
             or set MPR_LIBEXEC_DIR to its directory"
        );
        let e = LoadError::MissingSymbol {
            path: "/p.so".into(),
            symbol: "NPGetCaps",
        };
        assert_eq!(
            e.to_string(),
            "/p.so does not export NPGetCaps, so it is not a network provider"
        );
    }
}
