//! The audit journal (spec §8): an [`Observer`] of the router's events that
//! writes down every audited one, stamped as a [`Record`], to the sinks
//! chosen by `[journal] sink` in `mpr.toml`:
//!
//! - [`file`](mod@file): JSON Lines in `<state dir>/journal.jsonl` (one user's own
//!   file);
//! - [`journald`]: the system journal, with structured fields, a stable
//!   `MESSAGE_ID` per event kind and the whole record in `MPR_RECORD`
//!   (docs/audit.md);
//! - both.
//!
//! With no setting, journald is used when its socket is present and the file
//! otherwise ([`Sink::resolve`]). A sink that cannot write warns on stderr and
//! never fails the operation. No sink ever receives a password: events are
//! built from names, codes and durations only.

pub mod file;
pub mod journald;

pub use file::FileSink;
pub use journald::JournaldSink;

use crate::event::{Event, Observer, Record};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// The default path of systemd-journald's native socket.
pub const DEFAULT_JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Where audit records go (`[journal] sink` in `mpr.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    /// The system journal (systemd-journald).
    Journald,
    /// `<state dir>/journal.jsonl`.
    File,
    /// Both.
    Both,
}

impl Sink {
    /// The name used in `mpr.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sink::Journald => "journald",
            Sink::File => "file",
            Sink::Both => "both",
        }
    }

    /// The sink in use: `setting` when the configuration names one, else
    /// journald when its socket is present and the file otherwise.
    pub fn resolve(setting: Option<Sink>, socket: &Path) -> Sink {
        setting.unwrap_or(if socket_present(socket) {
            Sink::Journald
        } else {
            Sink::File
        })
    }

    /// Whether records go to the system journal.
    pub fn uses_journald(self) -> bool {
        matches!(self, Sink::Journald | Sink::Both)
    }

    /// Whether records go to the file.
    pub fn uses_file(self) -> bool {
        matches!(self, Sink::File | Sink::Both)
    }
}

/// Whether `path` is a socket (journald is listening there, or was).
pub fn socket_present(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// The audit journal: the sinks records go to; none discards them
/// (benchmarks, tests).
#[derive(Debug, Default)]
pub struct Journal {
    file: Option<FileSink>,
    journald: Option<JournaldSink>,
}

impl Journal {
    /// A journal appending to the file `path` only.
    pub fn to_file(path: PathBuf) -> Journal {
        Journal {
            file: Some(FileSink::new(path)),
            journald: None,
        }
    }

    /// A journal sending to the journald socket `socket` only.
    pub fn to_journald(socket: PathBuf) -> Journal {
        Journal {
            file: None,
            journald: Some(JournaldSink::new(socket)),
        }
    }

    /// The journal of `sink`: the file `path`, the journald `socket`, or
    /// both.
    pub fn new(sink: Sink, path: PathBuf, socket: PathBuf) -> Journal {
        Journal {
            file: sink.uses_file().then(|| FileSink::new(path)),
            journald: sink.uses_journald().then(|| JournaldSink::new(socket)),
        }
    }

    /// A journal that records nothing.
    pub fn disabled() -> Journal {
        Journal::default()
    }

    /// The file, if records go to one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(FileSink::path)
    }

    /// The journald socket, if records go to the system journal.
    pub fn socket(&self) -> Option<&Path> {
        self.journald.as_ref().map(JournaldSink::socket)
    }

    /// Writes one record for `event`, stamped with the time, the pid, the
    /// uid and the schema version, to every sink. Events that are not
    /// audited (progress) are skipped. A failure is reported on stderr and
    /// does not fail the operation.
    pub fn write(&self, event: &Event) {
        if !event.is_audited() || (self.file.is_none() && self.journald.is_none()) {
            return;
        }
        let record = Record::now(event);
        if let Some(f) = &self.file {
            f.write(&record);
        }
        if let Some(j) = &self.journald {
            j.send(&record);
        }
    }
}

impl Observer for Journal {
    fn is_active(&self) -> bool {
        self.file.is_some() || self.journald.is_some()
    }

    fn event(&self, event: &Event) {
        self.write(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_setting_journald_is_used_when_its_socket_is_there() {
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("socket");
        assert_eq!(Sink::resolve(None, &sock), Sink::File, "missing");
        let plain = d.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(Sink::resolve(None, &plain), Sink::File, "not a socket");
        let _server = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
        assert_eq!(Sink::resolve(None, &sock), Sink::Journald);
        assert_eq!(Sink::resolve(Some(Sink::File), &sock), Sink::File);
        assert_eq!(
            Sink::resolve(Some(Sink::Both), Path::new("/nonexistent")),
            Sink::Both
        );
    }

    #[test]
    fn each_sink_choice_builds_its_sinks() {
        let (p, s) = (PathBuf::from("/j.jsonl"), PathBuf::from("/s"));
        let j = Journal::new(Sink::File, p.clone(), s.clone());
        assert_eq!((j.path(), j.socket()), (Some(p.as_path()), None));
        let j = Journal::new(Sink::Journald, p.clone(), s.clone());
        assert_eq!((j.path(), j.socket()), (None, Some(s.as_path())));
        let j = Journal::new(Sink::Both, p.clone(), s.clone());
        assert_eq!(
            (j.path(), j.socket()),
            (Some(p.as_path()), Some(s.as_path()))
        );
        assert!(!Journal::disabled().is_active());
    }
}
