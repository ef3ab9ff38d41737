//! The file sink: one JSON [`Record`] per line in
//! `<state dir>/journal.jsonl`, appended with one `write` per record so
//! that concurrent processes never interleave.

use crate::event::{Event, Record};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A JSON Lines file of records.
#[derive(Debug, Clone)]
pub struct FileSink {
    path: PathBuf,
}

impl FileSink {
    /// A sink appending to `path` (created 0600, its directory 0700, on the
    /// first record).
    pub fn new(path: PathBuf) -> FileSink {
        FileSink { path }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one line. A failure is reported on stderr once
    /// per record and does not fail the operation.
    pub fn write(&self, record: &Record<&Event>) {
        let mut line = match serde_json::to_string(record) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mpr: warning: cannot encode a journal record: {e}");
                return;
            }
        };
        line.push('\n');
        let path = &self.path;
        let written = path
            .parent()
            .map_or(Ok(()), crate::state::ensure_private_dir)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    // A FIFO or terminal put in the journal's place must not
                    // block the connection being audited.
                    .custom_flags(crate::files::NONBLOCK_NOCTTY)
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
