//! Fuzzes the configuration loader (`mpr_core::config::Config::parse`) with
//! arbitrary UTF-8 text and an environment lookup that knows some names.
//!
//! Invariants:
//! - it never panics;
//! - every error that names a line names one within the text, and has a
//!   message;
//! - a configuration that parses keeps the rules the loader enforces
//!   (absolute plugin paths, at most 100 retry rounds, positive timeouts,
//!   no two providers answering to one key or display name, notifyee lines
//!   in the text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpr_core::config::Config;
use std::path::Path;

/// A few variables are set (absolute, relative and empty values); the
/// others are not, so both branches of `$NAME` expansion run.
fn env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/fuzz".into()),
        "LIB" => Some("lib".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    // The loader rejects non-UTF-8 files before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.matches('\n').count() + 1;
    match Config::parse(Path::new("/etc/mpr/mpr.toml"), text, &env) {
        Err(e) => {
            if let Some(l) = e.line {
                assert!((1..=lines).contains(&l), "line {l} of {lines}: {e}");
            }
            assert!(!e.message.is_empty(), "an error without a message");
        }
        Ok(c) => {
            assert!(c.max_retry_rounds <= 100);
            for (i, p) in c.providers.iter().enumerate() {
                if let Some(path) = &p.path {
                    assert!(path.is_absolute(), "provider {} path {path:?}", p.key);
                }
                // `--provider X` picks by key or display name.
                for q in &c.providers[..i] {
                    for a in [&p.key, &p.name] {
                        for b in [&q.key, &q.name] {
                            assert!(!a.eq_ignore_ascii_case(b), "two providers answer to {a}");
                        }
                    }
                }
            }
            for n in &c.notifyees {
                assert!(
                    n.path.is_absolute(),
                    "notifyee {} path {:?}",
                    n.name,
                    n.path
                );
                assert!(n.timeout_ms > 0);
                assert!((1..=lines).contains(&n.line), "notifyee line {}", n.line);
            }
        }
    }
});
