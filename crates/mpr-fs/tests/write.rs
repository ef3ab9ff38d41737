//! Writing through a real mount: in-place edits through read-write
//! descriptors, O_APPEND, truncate and ftruncate (write-only descriptors
//! included), fsync and close reaching the server, 0-byte files.

mod common;

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

#[test]
fn in_place_edits_through_a_read_write_descriptor() {
    let m = common::mnt();
    m.server.put("doc.txt", b"hello world");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("doc.txt"))
        .unwrap();
    f.write_all_at(b"HELLO", 0).unwrap();
    let mut buf = [0u8; 11];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"HELLO world");
    drop(f);
    assert_eq!(m.server.get("doc.txt").unwrap(), b"HELLO world");
}

#[test]
fn appends_go_to_the_end_of_file() {
    let m = common::mnt();
    m.server.put("log", b"one\n");
    for line in ["two\n", "three\n"] {
        let mut f = OpenOptions::new().append(true).open(m.at("log")).unwrap();
        f.write_all(line.as_bytes()).unwrap();
    }
    assert_eq!(m.server.get("log").unwrap(), b"one\ntwo\nthree\n");
    // A colleague appends on the server; our next append follows theirs.
    std::thread::sleep(std::time::Duration::from_millis(10));
    m.server.put("log", b"one\ntwo\nthree\nserver\n");
    let mut f = OpenOptions::new().append(true).open(m.at("log")).unwrap();
    f.write_all(b"four\n").unwrap();
    drop(f);
    assert_eq!(
        m.server.get("log").unwrap(),
        b"one\ntwo\nthree\nserver\nfour\n"
    );
}

#[test]
fn ftruncate_works_on_a_write_only_descriptor() {
    let m = common::mnt();
    m.server.put("f", b"0123456789");
    let f = OpenOptions::new().write(true).open(m.at("f")).unwrap();
    f.set_len(3).unwrap();
    assert_eq!(m.server.get("f").unwrap(), b"012");
    f.set_len(5).unwrap();
    assert_eq!(m.server.get("f").unwrap(), b"012\0\0");
    drop(f);
    // Pre-sizing a new file, as downloaders do.
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(m.at("pre"))
        .unwrap();
    f.set_len(1 << 20).unwrap();
    drop(f);
    assert_eq!(fs::metadata(m.at("pre")).unwrap().len(), 1 << 20);
}

#[test]
fn o_trunc_and_redirect_replace_the_content() {
    let m = common::mnt();
    m.server.put("f", b"old content");
    fs::write(m.at("f"), b"new").unwrap();
    assert_eq!(m.server.get("f").unwrap(), b"new");
    // `: > file`
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.at("f"))
        .unwrap();
    assert_eq!(m.server.get("f").unwrap(), b"");
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 0);
}

#[test]
fn fsync_and_close_reach_the_server_before_they_return() {
    let m = common::mnt();
    let mut f = fs::File::create(m.at("f")).unwrap();
    f.write_all(b"durable").unwrap();
    f.sync_all().unwrap();
    assert_eq!(m.server.get("f").unwrap(), b"durable");
    f.seek(SeekFrom::End(0)).unwrap();
    f.write_all(b"!").unwrap();
    drop(f);
    assert_eq!(m.server.get("f").unwrap(), b"durable!");
}

#[test]
fn empty_files_can_be_created() {
    let m = common::mnt();
    fs::File::create(m.at("empty")).unwrap();
    assert_eq!(m.server.get("empty").unwrap(), b"");
    assert_eq!(fs::metadata(m.at("empty")).unwrap().len(), 0);
    let e = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(m.at("empty"))
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
}

#[test]
fn large_sequential_writes_arrive_whole() {
    let m = common::mnt();
    let data: Vec<u8> = (0..8 * 1024 * 1024 + 5).map(|i| (i % 241) as u8).collect();
    fs::write(m.at("big"), &data).unwrap();
    assert_eq!(m.server.get("big").unwrap(), data);
    assert_eq!(fs::read(m.at("big")).unwrap(), data);
}
