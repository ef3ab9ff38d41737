//! libmpr.so exports the WNet functions of `include/winnetwk.h`, and the
//! `WNetSetLastErrorW`/`A` that providers resolve from it (they come from
//! `mpr-loader`), and nothing that looks like Rust.
//!
//! This test also makes `cargo test --workspace` build libmpr.so (into
//! `target/<profile>/deps`), which the C tests of `mpr-cli` link against.

use std::path::PathBuf;
use std::process::Command;

const EXPORTS: &[&str] = &[
    "WNetAddConnectionW",
    "WNetAddConnectionA",
    "WNetAddConnection2W",
    "WNetAddConnection2A",
    "WNetAddConnection3W",
    "WNetAddConnection3A",
    "WNetUseConnectionW",
    "WNetUseConnectionA",
    "WNetCancelConnectionW",
    "WNetCancelConnectionA",
    "WNetCancelConnection2W",
    "WNetCancelConnection2A",
    "WNetGetConnectionW",
    "WNetGetConnectionA",
    "WNetOpenEnumW",
    "WNetOpenEnumA",
    "WNetEnumResourceW",
    "WNetEnumResourceA",
    "WNetCloseEnum",
    "WNetGetLastErrorW",
    "WNetGetLastErrorA",
    "WNetSetLastErrorW",
    "WNetSetLastErrorA",
    "WNetRestoreSingleConnectionW",
];

/// `target/<profile>/deps/libmpr.so`, next to this test binary.
fn libmpr() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let so = exe.parent().unwrap().join("libmpr.so");
    assert!(so.exists(), "{} was not built", so.display());
    so
}

#[test]
fn exports_every_wnet_function_and_no_rust_symbols() {
    let so = libmpr();
    let o = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nm (install binutils): {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let functions: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().rev();
            let name = f.next()?;
            (f.next()? == "T").then_some(name)
        })
        .collect();
    for name in EXPORTS {
        assert!(
            functions.contains(name),
            "{name} is not exported: {functions:?}"
        );
    }
    let others: Vec<&&str> = functions.iter().filter(|f| !EXPORTS.contains(f)).collect();
    assert!(others.is_empty(), "unexpected exports: {others:?}");
}

#[test]
fn every_export_is_declared_in_the_headers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let headers = std::fs::read_to_string(root.join("include/winnetwk.h")).unwrap()
        + &std::fs::read_to_string(root.join("include/npapi.h")).unwrap();
    for name in EXPORTS {
        assert!(
            headers.contains(&format!(" {name}(")),
            "{name} has no prototype in include/"
        );
    }
}
