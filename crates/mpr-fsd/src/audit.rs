//! What the file system reports beyond a program's error, written to the
//! router's audit journal: the same sinks (`journal.jsonl`, journald) the
//! router of the connect wrote to, so `mpr watch` and `journalctl` show a
//! conflict beside the connect that made the drive.

use mpr_core::event::{ConflictEvent, Event};
use mpr_core::journal::{Journal, Sink};
use mpr_fs::events::Events;
use mpr_fs::handshake::Audit;

/// [`Events`] written to the audit journal, naming the connection.
#[derive(Debug)]
pub struct JournalEvents {
    journal: Journal,
    local: Option<String>,
    remote: String,
    provider: String,
}

impl JournalEvents {
    /// The journal `audit` names; `None` when it names no sink.
    pub fn new(audit: &Audit) -> Option<JournalEvents> {
        let sinks = &audit.sinks;
        let sink = match (&sinks.file, &sinks.journald) {
            (Some(_), Some(_)) => Sink::Both,
            (Some(_), None) => Sink::File,
            (None, Some(_)) => Sink::Journald,
            (None, None) => return None,
        };
        Some(JournalEvents {
            journal: Journal::new(
                sink,
                sinks.file.clone().unwrap_or_default(),
                sinks.journald.clone().unwrap_or_default(),
            ),
            local: audit.local.clone(),
            remote: audit.remote.clone(),
            provider: audit.provider.clone(),
        })
    }
}

impl Events for JournalEvents {
    fn conflict(&self, path: &str, reason: &str) {
        self.journal.write(&Event::Conflict(ConflictEvent {
            local: self.local.clone(),
            remote: self.remote.clone(),
            provider: self.provider.clone(),
            path: path.to_string(),
            reason: reason.to_string(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_fs::handshake::AuditSinks;

    #[test]
    fn a_conflict_is_one_record_in_the_journal_file() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("journal.jsonl");
        let audit = Audit {
            sinks: AuditSinks {
                file: Some(file.clone()),
                journald: None,
            },
            local: Some("X:".into()),
            remote: "dav://h/p".into(),
            provider: "webdav".into(),
        };
        assert!(JournalEvents::new(&Audit::default()).is_none());
        let j = JournalEvents::new(&audit).unwrap();
        j.conflict("a/f.txt", "changed on the server");
        let text = std::fs::read_to_string(&file).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["event"], "conflict");
        assert_eq!(v["local"], "X:");
        assert_eq!(v["remote"], "dav://h/p");
        assert_eq!(v["provider"], "webdav");
        assert_eq!(v["path"], "a/f.txt");
        assert_eq!(v["reason"], "changed on the server");
    }
}
