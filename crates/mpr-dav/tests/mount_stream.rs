//! Reads of files opened read-only through a real mount on the loopback
//! `rclone serve webdav`: sequential reads come from one streaming `GET`
//! (`mpr_dav`'s `stream`), random ones from ranged `GET`s, and every byte
//! is the server's. A file replaced on the server between two opens is
//! read whole, new, by the second.

mod common;

use common::DavMount;
use mpr_fs::testing::util::noise;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::Duration;

/// A small deterministic generator for offsets.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Puts `data` at `rel` on the server's disk, by a rename (a replacement,
/// as a colleague's editor or upload makes it).
fn put_on_server(m: &DavMount, rel: &str, data: &[u8]) {
    let tmp = m.server(&format!(".{rel}.tmp"));
    fs::write(&tmp, data).unwrap();
    fs::rename(&tmp, m.server(rel)).unwrap();
}

#[test]
fn sequential_and_random_reads_of_a_large_file_are_the_servers_bytes() {
    let m = DavMount::new("stream");
    let len = (24 << 20) + 12_345;
    let data = noise(len, 1);
    put_on_server(&m, "big", &data);

    // Whole, from start to end: one stream, and a few ranged GETs (the
    // first reads, the read-ahead's reads that overlap what the stream
    // handed out already while its window settles, and its look past the
    // end of the file, up to 8 chunks). Ranged GETs alone would be 25.
    // Measured: 1 stream and 4 ranged GETs; the bounds leave room for a
    // loaded machine, where the read-ahead restarts its window more often.
    let before = m.fs().backend().read_gets();
    let got = fs::read(m.at("big")).unwrap();
    assert!(got == data, "read whole: not the server's bytes");
    let gets = m.fs().backend().read_gets();
    let (streams, ranged) = (gets.streams - before.streams, gets.ranged - before.ranged);
    eprintln!("24 MiB from start to end: {streams} streams, {ranged} ranged GETs");
    assert!(
        (1..=4).contains(&streams) && ranged <= 20,
        "24 MiB read from start to end took {streams} streams and {ranged} ranged GETs"
    );

    // At random offsets, interleaved with a sequential reader on the same
    // descriptor (a stream and ranged GETs side by side).
    let f = File::open(m.at("big")).unwrap();
    let mut rng = Lcg(7);
    let mut seq = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..60 {
        if i % 3 == 0 && seq < len as u64 {
            let n = f.read_at(&mut buf, seq).unwrap();
            assert!(n > 0);
            let want = &data[seq as usize..seq as usize + n];
            assert!(&buf[..n] == want, "sequential read at {seq}");
            seq += n as u64;
        } else {
            let at = rng.below(len as u64);
            let want_len = 1 + rng.below(300_000) as usize;
            let end = (at as usize + want_len).min(len);
            let mut b = vec![0u8; end - at as usize];
            f.read_exact_at(&mut b, at).unwrap();
            assert!(
                b == data[at as usize..end],
                "random read at {at}, {want_len} bytes"
            );
        }
    }

    // Two descriptors reading the file from start to end at the same time.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let p = m.at("big");
            std::thread::spawn(move || {
                let mut v = Vec::new();
                File::open(p).unwrap().read_to_end(&mut v).unwrap();
                v
            })
        })
        .collect();
    for r in readers {
        assert!(r.join().unwrap() == data, "a concurrent reader");
    }
}

#[test]
fn a_file_replaced_on_the_server_between_two_opens_is_read_new_and_whole() {
    let m = DavMount::new("stream-replace");
    let old = noise((5 << 20) + 77, 2);
    put_on_server(&m, "f", &old);
    for (round, replace_by_rename) in [(0u64, true), (1, false)] {
        // A descriptor reading part of the old file: its stream is live.
        let mut f1 = File::open(m.at("f")).unwrap();
        let mut part = vec![0u8; 3 << 20];
        f1.read_exact(&mut part).unwrap();
        let current = fs::read(m.server("f")).unwrap();
        assert!(part == current[..3 << 20], "round {round}: the old bytes");

        // Replaced (by a rename, then in place), with another length.
        let new = noise((6 << 20) + 999 + round as usize * 4096, 10 + round);
        if replace_by_rename {
            put_on_server(&m, "f", &new);
        } else {
            fs::write(m.server("f"), &new).unwrap();
        }
        // Attributes live 1 s in the kernel; the next open asks the server.
        std::thread::sleep(Duration::from_millis(1100));
        let mut f2 = File::open(m.at("f")).unwrap();
        let mut got = Vec::new();
        f2.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), new.len(), "round {round}: the new length");
        assert!(got == new, "round {round}: the new bytes, whole");
        // The first descriptor may read on (what it sees of a file
        // replaced under it is the server's business), without an error.
        let mut rest = Vec::new();
        f1.read_to_end(&mut rest).unwrap();
        drop(f1);
        assert!(
            fs::read(m.at("f")).unwrap() == new,
            "round {round}: read again"
        );
    }
}
