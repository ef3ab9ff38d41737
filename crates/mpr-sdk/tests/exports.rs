//! A notifyee built with the SDK exports what its author declared and
//! nothing of the host: no `WNetSetLastError*` (the host's, in
//! `mpr-loader`) and no Rust symbols.
//!
//! `cargo test` builds this crate's examples (cdylibs) into
//! `target/<profile>/examples/`, next to the `deps/` of this test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/examples/lib<name>.so`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let so = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join(format!("lib{name}.so"));
    assert!(so.exists(), "{} was not built", so.display());
    so
}

/// The defined dynamic symbols of a shared object, sorted.
fn exported(so: &Path) -> Vec<String> {
    let o = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(so)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nm (install binutils): {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut names: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn sdk_notifyees_export_only_the_two_notify_functions() {
    for name in ["mpr_policy", "mpr_autodial", "sdk_script"] {
        let got = exported(&example(name));
        assert_eq!(
            got,
            ["AddConnectNotify", "CancelConnectNotify"],
            "lib{name}.so exports {got:?}"
        );
    }
}
