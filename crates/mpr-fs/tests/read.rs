//! Reading through a real mount: whole files, at offsets, 0-byte files,
//! beyond the end, and far past 4 GiB (64-bit offsets everywhere).

mod common;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

#[test]
fn reads_what_the_server_holds() {
    let m = common::mnt();
    m.server.put("hello.txt", b"hello, world\n");
    assert_eq!(fs::read(m.at("hello.txt")).unwrap(), b"hello, world\n");
    let f = fs::File::open(m.at("hello.txt")).unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(f.read_at(&mut buf, 7).unwrap(), 5);
    assert_eq!(&buf, b"world");
    assert_eq!(
        f.read_at(&mut buf, 100).unwrap(),
        0,
        "past the end reads nothing"
    );
}

#[test]
fn zero_byte_files_read_empty() {
    let m = common::mnt();
    m.server.put("empty", b"");
    assert_eq!(fs::metadata(m.at("empty")).unwrap().len(), 0);
    assert_eq!(fs::read(m.at("empty")).unwrap(), b"");
}

#[test]
fn large_files_read_whole() {
    let m = common::mnt();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 253) as u8).collect();
    m.server.put("big", &data);
    assert_eq!(fs::read(m.at("big")).unwrap(), data);
}

#[test]
fn offsets_past_4_gib_work() {
    let m = common::mnt();
    let far = 5 * 1024 * 1024 * 1024u64 + 3;
    {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(m.at("sparse"))
            .unwrap();
        f.write_all_at(b"far away", far).unwrap();
    }
    assert_eq!(fs::metadata(m.at("sparse")).unwrap().len(), far + 8);
    let mut f = fs::File::open(m.at("sparse")).unwrap();
    f.seek(SeekFrom::Start(far)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "far away");
    let mut z = [1u8; 4];
    f.read_exact_at(&mut z, far - 4).unwrap();
    assert_eq!(z, [0; 4], "the hole reads as zeros");
}

#[test]
fn a_missing_file_is_enoent() {
    let m = common::mnt();
    let e = fs::read(m.at("nope")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}
