//! Fuzzes the reading of audit journal records (`mpr_core::event::Record`),
//! which `mpr watch` does for every line of the journal file and every
//! `MPR_RECORD` field of the system journal: a file any process of the user
//! can write to.
//!
//! Invariants:
//! - reading arbitrary text as a record never panics, and neither does
//!   putting the record into words (`describe`, `summary`, `kind`);
//! - a record that reads writes back to JSON that reads as the same record
//!   (no field is lost or changed on the way), with its `event` kind;
//! - `describe` only adds colour: the painted words, with the paint taken
//!   out, are the summary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpr_core::event::Record;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(record) = serde_json::from_str::<Record>(text) else {
        return;
    };
    let summary = record.event.summary();
    let painted = record
        .event
        .describe(&|_, s| format!("\u{1b}[1m{s}\u{1b}[0m"));
    assert_eq!(
        painted.replace("\u{1b}[1m", "").replace("\u{1b}[0m", ""),
        summary,
        "{text:?}: describe changes more than colour"
    );
    let json = serde_json::to_string(&record).expect("a record that was read is written");
    let back: Record = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{text:?} -> {json:?} does not read back: {e}"));
    assert_eq!(back, record, "{text:?} -> {json:?} reads back differently");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["event"], record.event.kind(), "{json:?}: wrong kind");
});
