//! fio on mpr's own file system over the loopback sshd: a sequential write
//! job and a random read-write job, both with `--verify=crc32c` (every
//! block written is read back and checked). fio must be installed
//! (`scripts/ci-deps.sh`); a missing fio fails the test, it never skips.

mod common;

use common::mounted::SftpMount;
use mpr_fs::testing::util::fio;

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
