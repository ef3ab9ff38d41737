//! The audit journal (spec §8): one JSON [`Record`] per line in
//! `<state dir>/journal.jsonl`, appended with one `write` per record so
//! that concurrent processes never interleave. It is an [`Observer`] of the
//! router's events and writes down every audited one. It never holds a
//! password: events are built from names, codes and durations only.

use crate::event::{Event, Observer, Record};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where records go; `None` discards them (benchmarks, tests).
#[derive(Debug, Clone, Default)]
pub struct Journal {
    path: Option<PathBuf>,
}

impl Journal {
    /// A journal appending to `path`.
    pub fn to_file(path: PathBuf) -> Journal {
        Journal { path: Some(path) }
    }

    /// A journal that records nothing.
    pub fn disabled() -> Journal {
        Journal { path: None }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one record for `event`, stamped with the time, the pid, the
    /// uid and the schema version. Events that are not audited (progress)
    /// are skipped. A failure to write is reported on stderr once per
    /// record and does not fail the operation.
    pub fn write(&self, event: &Event) {
        let Some(path) = &self.path else { return };
        if !event.is_audited() {
            return;
        }
        let mut line = match serde_json::to_string(&Record::now(event)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mpr: warning: cannot encode a journal record: {e}");
                return;
            }
        };
        line.push('\n');
        let written = path
            .parent()
            .map_or(Ok(()), crate::state::ensure_private_dir)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
            })
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "mpr: warning: cannot write the journal {}: {e}",
                path.display()
            );
        }
    }
}

impl Observer for Journal {
    fn is_active(&self) -> bool {
        self.path.is_some()
    }

    fn event(&self, event: &Event) {
        self.write(event);
    }
}
