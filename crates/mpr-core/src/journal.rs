//! The audit journal (spec §8): one JSON object per line in
//! `<state dir>/journal.jsonl`, appended with one `write` per record so
//! that concurrent processes never interleave. It never holds a password:
//! records are built from names, codes and durations only.

use serde_json::{Map, Value};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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

    /// Appends one record: `event` plus `fields`, with a timestamp, the pid
    /// and the uid. A failure to write is reported on stderr once per
    /// record and does not fail the operation.
    pub fn record(&self, event: &str, fields: Map<String, Value>) {
        let Some(path) = &self.path else { return };
        let mut obj = Map::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        obj.insert(
            "ts".into(),
            Value::from(format!("{}.{:06}", now.as_secs(), now.subsec_micros())),
        );
        obj.insert("event".into(), Value::from(event));
        obj.insert("pid".into(), Value::from(std::process::id()));
        obj.insert(
            "uid".into(),
            Value::from(rustix::process::getuid().as_raw()),
        );
        obj.extend(fields);
        let mut line = Value::Object(obj).to_string();
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

/// Builds a JSON map from `key => value` pairs.
#[macro_export]
macro_rules! fields {
    ($($k:literal => $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_string(), serde_json::Value::from($v)); )*
        m
    }};
}
