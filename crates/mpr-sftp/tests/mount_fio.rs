//! fio on mpr's own file system over the loopback sshd: a sequential write
//! job and a random read-write job, both with `--verify=crc32c` (every
//! block written is read back and checked). fio must be installed
//! (`scripts/ci-deps.sh`); a missing fio fails the test, it never skips.

mod common;

use common::mounted::SftpMount;
use std::process::Command;

/// Runs fio in `dir` with `args`; fails with fio's own words.
fn fio(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("fio")
        .arg(format!("--directory={}", dir.display()))
        .args([
            "--ioengine=psync",
            "--verify=crc32c",
            "--do_verify=1",
            "--verify_fatal=1",
            "--end_fsync=1",
            "--group_reporting",
            // No `*-verify.state` files left in the crate's folder.
            "--verify_state_save=0",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "fio cannot be run ({e}): install it with `bash scripts/ci-deps.sh` (package fio)"
            )
        });
    assert!(
        out.status.success(),
        "fio {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("err= 0"),
        "fio {args:?} reported an error:\n{text}"
    );
}

#[test]
fn fio_sequential_write_verifies() {
    let m = SftpMount::new("fio-write");
    fio(
        &m.path(),
        &["--name=seqwrite", "--rw=write", "--bs=1M", "--size=32M"],
    );
    // Its file is on the server, whole.
    let f = m.server("seqwrite.0.0");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 32 << 20);
}

#[test]
fn fio_random_read_write_verifies() {
    let m = SftpMount::new("fio-randrw");
    fio(
        &m.path(),
        &[
            "--name=randrw",
            "--rw=randrw",
            "--rwmixread=50",
            "--bs=4k",
            "--size=16M",
            "--randseed=42",
        ],
    );
    assert_eq!(
        std::fs::metadata(m.server("randrw.0.0")).unwrap().len(),
        16 << 20
    );
}
