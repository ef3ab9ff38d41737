//! Keeps docs/semantics.md true: every test it names exists (`file::test`
//! under crates/mpr-fs/tests, `src/module::test` for a unit test, and
//! `mpr-BACKEND/file::test` under crates/mpr-BACKEND/tests).

use std::path::Path;

fn tests_named(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in doc.split('`') {
        if let Some((file, test)) = part.split_once("::")
            && !test.contains(' ')
            && !file.contains(' ')
            && test
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':')
        {
            out.push(format!("{file}::{test}"));
        }
    }
    out
}

#[test]
fn every_claim_names_an_existing_test() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(crate_dir.join("../../docs/semantics.md")).unwrap();
    let named = tests_named(&doc);
    assert!(named.len() > 20, "{named:?}");
    for name in named {
        let (file, test) = name.rsplit_once("::").unwrap();
        let source = if let Some((krate, other)) = file.split_once('/')
            && krate.starts_with("mpr-")
        {
            // A claim proved by a back end's tests (mpr-smb, mpr-sftp, mpr-dav).
            crate_dir
                .join("..")
                .join(krate)
                .join("tests")
                .join(format!("{other}.rs"))
        } else if let Some(module) = file.strip_prefix("src/") {
            let (dir, sub) = module.split_once("::").unwrap_or((module, ""));
            let base = crate_dir.join("src").join(dir);
            if sub.is_empty() {
                if base.join("tests.rs").exists() {
                    base.join("tests.rs")
                } else {
                    base.with_extension("rs")
                }
            } else {
                base.join(format!("{sub}.rs"))
            }
        } else {
            crate_dir.join("tests").join(format!("{file}.rs"))
        };
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{name}: {}: {e}", source.display()));
        assert!(
            text.contains(&format!("fn {test}(")),
            "docs/semantics.md names {name}, which {} does not define",
            source.display()
        );
    }
}
