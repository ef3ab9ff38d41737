//! The project's documents stand on their own: every relative link in
//! `README.md` and `docs/*.md` names a file inside the repository that
//! exists, so a person with only a clone can follow each one.

use crate::util::repo;
use std::path::{Component, Path, PathBuf};

/// The targets of the inline links `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// `path` with `.` and `..` resolved lexically (the file need not exist).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

// See: issue 14 (the README linked ../shared/MPR-SPEC.md, outside the
// repository).
#[test]
fn every_relative_link_in_the_docs_stays_inside_the_repository() {
    let root = repo();
    let mut files = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            files.push(e.path());
        }
    }
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for t in link_targets(&text) {
            if t.contains("://") || t.starts_with('#') || t.starts_with("mailto:") {
                continue;
            }
            let file = t.split('#').next().unwrap();
            let target = normalise(&f.parent().unwrap().join(file));
            if !target.starts_with(&root) || !target.exists() {
                bad.push(format!("{}: {t}", f.display()));
            }
        }
    }
    assert!(
        files.iter().any(|f| f.ends_with("docs/contract.md")),
        "docs/contract.md, the contract reference, is missing"
    );
    assert!(
        bad.is_empty(),
        "links outside the repository or to nothing:\n{}",
        bad.join("\n")
    );
}

#[test]
fn link_targets_finds_inline_links() {
    assert_eq!(
        link_targets("see [a](docs/a.md) and [`b`](../b.md#x), not [c]"),
        ["docs/a.md", "../b.md#x"]
    );
}
