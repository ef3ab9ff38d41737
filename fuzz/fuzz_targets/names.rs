//! Fuzzes the name parsers (`mpr_core::names`) with arbitrary text.
//!
//! Invariants (the proptests in `names.rs` check the same on short inputs):
//! - neither parser panics;
//! - a remote name that parses has a non-empty server, is within
//!   `MAX_NAME_UNITS`, and its normalised text parses to the same value;
//! - a UNC remote name (`\\server[@port]\share`) has UNC parts;
//! - a local name that parses parses again, from its display form, to the
//!   same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpr_core::names::{LocalName, MAX_NAME_UNITS, RemoteName, utf16_len};

fuzz_target!(|data: &[u8]| {
    // Arbitrary bytes become arbitrary text (invalid UTF-8 becomes U+FFFD),
    // so every input exercises the parsers.
    let text = String::from_utf8_lossy(data);
    check_remote(&text);
    check_local(&text);
});

fn check_remote(text: &str) {
    let Ok(r) = RemoteName::parse(text) else {
        return;
    };
    assert!(!r.server().is_empty(), "{text:?}: empty server");
    assert!(
        utf16_len(r.as_str()) <= MAX_NAME_UNITS,
        "{text:?}: too long"
    );
    let again = RemoteName::parse(r.as_str())
        .unwrap_or_else(|e| panic!("{text:?}: normalised {:?} fails: {e:?}", r.as_str()));
    assert_eq!(again, r, "{text:?}: not idempotent");
    match r.scheme() {
        Some(_) => assert!(r.unc().is_none(), "{text:?}: a URL with UNC parts"),
        None => {
            let u = r
                .unc()
                .unwrap_or_else(|| panic!("{text:?}: UNC name {:?} has no UNC parts", r.as_str()));
            assert_eq!(u.server, r.server(), "{text:?}: two servers");
        }
    }
}

fn check_local(text: &str) {
    let Ok(Some(l)) = LocalName::parse(text) else {
        return;
    };
    let shown = l.display();
    let again = LocalName::parse(&shown)
        .unwrap_or_else(|e| panic!("{text:?}: display form {shown:?} fails: {e:?}"));
    assert_eq!(again, Some(l), "{text:?}: not idempotent");
}
