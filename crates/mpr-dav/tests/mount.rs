//! mpr's own file system over the WebDAV back end, through a real mount on
//! the loopback `rclone serve webdav`, tried as a user's programs would:
//! ordinary `std::fs` calls, one operation family per test, each checked on
//! the server's disk too (what `close` and `fsync` claim must be there).

mod common;

use common::DavMount;
use mpr_fs::testing::util::{errno, pattern};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::time::{Duration, SystemTime};

const EPERM: i32 = 1;
const ENOENT: i32 = 2;
const ENOTEMPTY: i32 = 39;
const ESTALE: i32 = 116;

#[test]
fn files_written_and_read_back_whole_and_in_ranges() {
    let m = DavMount::new("readwrite");
    let data = pattern(3 << 20, 7);
    fs::write(m.at("big"), &data).unwrap();
    assert!(
        fs::read(m.server("big")).unwrap() == data,
        "on the server after close"
    );
    assert!(fs::read(m.at("big")).unwrap() == data, "read back whole");
    let f = File::open(m.at("big")).unwrap();
    let mut buf = vec![0u8; 1000];
    f.read_exact_at(&mut buf, 2_000_000).unwrap();
    assert_eq!(buf, data[2_000_000..2_001_000]);
    // A file made on the server reads through the mount.
    fs::write(m.server("theirs"), b"from the server").unwrap();
    assert_eq!(fs::read(m.at("theirs")).unwrap(), b"from the server");
    assert_eq!(fs::metadata(m.at("theirs")).unwrap().len(), 15);
}

#[test]
fn in_place_edits_through_a_read_write_descriptor() {
    let m = DavMount::new("inplace");
    fs::write(m.at("f"), b"hello world").unwrap();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("f"))
        .unwrap();
    f.seek(SeekFrom::Start(6)).unwrap();
    f.write_all(b"WORLD").unwrap();
    f.write_all_at(b"J", 0).unwrap();
    let mut s = String::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "Jello WORLD");
    // Not yet on the server: uploaded at fsync and close.
    f.sync_all().unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"Jello WORLD");
    f.write_all_at(b"!", 11).unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"Jello WORLD!");
    assert_eq!(fs::read(m.at("f")).unwrap(), b"Jello WORLD!");
}

#[test]
fn appends_go_to_the_end() {
    let m = DavMount::new("append");
    fs::write(m.at("log"), b"one\n").unwrap();
    for line in [&b"two\n"[..], b"three\n"] {
        let mut f = OpenOptions::new().append(true).open(m.at("log")).unwrap();
        f.write_all(line).unwrap();
    }
    assert_eq!(fs::read(m.server("log")).unwrap(), b"one\ntwo\nthree\n");
    // A colleague appends on the server; our next `>>` goes after it.
    let mut theirs = OpenOptions::new()
        .append(true)
        .open(m.server("log"))
        .unwrap();
    theirs.write_all(b"theirs\n").unwrap();
    drop(theirs);
    std::thread::sleep(Duration::from_millis(1100));
    let mut f = OpenOptions::new().append(true).open(m.at("log")).unwrap();
    f.write_all(b"four\n").unwrap();
    drop(f);
    assert_eq!(
        fs::read(m.server("log")).unwrap(),
        b"one\ntwo\nthree\ntheirs\nfour\n"
    );
}

#[test]
fn truncation_by_o_trunc_ftruncate_and_truncate() {
    let m = DavMount::new("truncate");
    fs::write(m.at("f"), b"0123456789").unwrap();
    // `: > f` empties it, on the server at once.
    let f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.at("f"))
        .unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"");
    drop(f);
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 0);
    fs::write(m.at("f"), b"0123456789").unwrap();
    let f = OpenOptions::new().write(true).open(m.at("f")).unwrap();
    f.set_len(4).unwrap();
    assert_eq!(f.metadata().unwrap().len(), 4);
    f.set_len(6).unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"0123\0\0");
    // truncate(2) by name.
    OpenOptions::new()
        .write(true)
        .open(m.at("f"))
        .unwrap()
        .set_len(2)
        .unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"01");
}

#[test]
fn renames_and_an_editors_safe_save() {
    let m = DavMount::new("rename");
    fs::write(m.at("doc"), b"version 1").unwrap();
    // The editor's save: a new file, then renamed over the old one.
    fs::write(m.at(".doc.swp"), b"version 2").unwrap();
    fs::rename(m.at(".doc.swp"), m.at("doc")).unwrap();
    assert_eq!(fs::read(m.server("doc")).unwrap(), b"version 2");
    assert!(!m.server(".doc.swp").exists());
    // A file open for writing follows its rename.
    let mut f = OpenOptions::new().write(true).open(m.at("doc")).unwrap();
    fs::create_dir(m.at("d")).unwrap();
    fs::rename(m.at("doc"), m.at("d/moved")).unwrap();
    f.write_all(b"V").unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("d/moved")).unwrap(), b"Version 2");
    assert!(!m.server("doc").exists());
    // Directories move with what is in them.
    fs::rename(m.at("d"), m.at("e")).unwrap();
    assert_eq!(fs::read(m.at("e/moved")).unwrap(), b"Version 2");
    // A directory over a non-empty one is refused.
    fs::create_dir_all(m.at("x/y")).unwrap();
    fs::create_dir(m.at("z")).unwrap();
    let e = fs::rename(m.at("z"), m.at("x")).unwrap_err();
    assert_eq!(errno(&e), ENOTEMPTY, "{e}");
}

#[test]
fn directories_are_made_listed_and_removed_only_when_empty() {
    let m = DavMount::new("dirs");
    fs::create_dir(m.at("d")).unwrap();
    fs::create_dir(m.at("d/sub dir ü")).unwrap();
    fs::write(m.at("d/f 1"), b"x").unwrap();
    assert!(m.server("d/sub dir ü").is_dir());
    let mut names: Vec<String> = fs::read_dir(m.at("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["f 1", "sub dir ü"]);
    let e = fs::remove_dir(m.at("d")).unwrap_err();
    assert_eq!(errno(&e), ENOTEMPTY, "{e}");
    assert!(m.server("d/f 1").exists(), "nothing removed");
    fs::remove_dir(m.at("d/sub dir ü")).unwrap();
    fs::remove_file(m.at("d/f 1")).unwrap();
    fs::remove_dir(m.at("d")).unwrap();
    assert!(!m.server("d").exists());
    // A file made on the server shows in the next listing.
    fs::write(m.server("new"), b"").unwrap();
    assert!(
        fs::read_dir(m.path())
            .unwrap()
            .any(|e| e.unwrap().file_name() == "new")
    );
}

#[test]
fn unlink_removes_and_an_open_descriptor_reads_on() {
    let m = DavMount::new("unlink");
    fs::write(m.at("f"), b"still here").unwrap();
    let mut f = File::open(m.at("f")).unwrap();
    fs::remove_file(m.at("f")).unwrap();
    assert!(!m.server("f").exists());
    assert_eq!(errno(&fs::metadata(m.at("f")).unwrap_err()), ENOENT);
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "still here");
    // The name is free at once.
    fs::write(m.at("f"), b"new").unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"new");
}

#[test]
fn a_file_changed_on_the_server_is_read_whole_at_the_next_open() {
    let m = DavMount::new("coherence");
    fs::write(m.at("f"), b"short").unwrap();
    assert_eq!(fs::read(m.at("f")).unwrap(), b"short");
    fs::write(m.server("f"), b"a much longer version").unwrap();
    // Attributes live 1 s in the kernel; the next open asks the server.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(fs::read(m.at("f")).unwrap(), b"a much longer version");
    fs::write(m.server("f"), b"tiny").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(fs::read(m.at("f")).unwrap(), b"tiny");
}

#[test]
fn a_colleagues_newer_version_is_never_overwritten_silently() {
    let m = DavMount::new("etag");
    // On the server before the drive opens it: written through the mount,
    // its close would reach the back end as a RELEASE the kernel sends when
    // it likes, and a late one uploads the copy the next descriptor shares
    // ("OURS" in it) before the colleague's save, so the `fsync` below would
    // have nothing left to upload.
    fs::write(m.server("report"), b"ours, first").unwrap();
    let colleague = m.colleague("etag");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("report"))
        .unwrap();
    f.write_all(b"OURS").unwrap();
    // Meanwhile a colleague saves their version through the server (their
    // own client's PUT: rclone's ETag is made of the time and size, and a
    // file changed on its disk behind its back is not always seen at once
    // under load).
    fs::write(colleague.at("report"), b"the colleague's version").unwrap();
    let e = f.sync_all().unwrap_err();
    assert_eq!(errno(&e), ESTALE, "{e}");
    // Reported again at every later sync while the descriptor holds the
    // refused version (and at close, which std's drop does not show).
    assert_eq!(errno(&f.sync_all().unwrap_err()), ESTALE);
    drop(f);
    assert_eq!(
        fs::read(m.server("report")).unwrap(),
        b"the colleague's version",
        "the server keeps the colleague's version"
    );
}

#[test]
fn touch_works_and_other_times_say_eperm() {
    let m = DavMount::new("times");
    fs::write(m.at("f"), b"x").unwrap();
    let before = fs::metadata(m.server("f")).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    // `touch f`: the times set to now; the file is uploaded again, as is.
    let f = File::options().write(true).open(m.at("f")).unwrap();
    f.set_modified(SystemTime::now()).unwrap();
    drop(f);
    let after = fs::metadata(m.server("f")).unwrap().modified().unwrap();
    assert!(after > before, "{before:?} {after:?}");
    assert_eq!(fs::read(m.server("f")).unwrap(), b"x");
    // The `touch` program (both times to now) too.
    let st = std::process::Command::new("touch")
        .arg(m.at("f"))
        .status()
        .unwrap();
    assert!(st.success());
    // Any other time cannot be stored: EPERM, never a silent success.
    let f = File::options().write(true).open(m.at("f")).unwrap();
    let e = f
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000))
        .unwrap_err();
    assert_eq!(errno(&e), EPERM, "{e}");
}

#[test]
fn a_new_file_is_uploaded_while_it_is_written() {
    let m = DavMount::new("early");
    let data = pattern(8 << 20, 5);
    let mut f = File::create(m.at("new")).unwrap();
    f.write_all(&data[..4 << 20]).unwrap();
    // Before any flush, the server already has the start of the file.
    let mut waited = Duration::ZERO;
    while fs::metadata(m.server("new")).map_or(0, |md| md.len()) < 1 << 20 {
        assert!(
            waited < Duration::from_secs(10),
            "nothing of the file reached the server while it was written"
        );
        std::thread::sleep(Duration::from_millis(20));
        waited += Duration::from_millis(20);
    }
    f.write_all(&data[4 << 20..]).unwrap();
    drop(f);
    assert!(
        fs::read(m.server("new")).unwrap() == data,
        "whole after close"
    );

    // Bytes already sent written again, and a write past a gap: the server
    // still ends with exactly the file.
    let mut f = File::create(m.at("rewritten")).unwrap();
    f.write_all(&data[..4 << 20]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    f.write_all_at(b"again", 0).unwrap();
    f.write_all_at(b"end", 6 << 20).unwrap();
    f.sync_all().unwrap();
    let mut want = data[..4 << 20].to_vec();
    want[..5].copy_from_slice(b"again");
    want.resize(6 << 20, 0);
    want.extend_from_slice(b"end");
    assert!(
        fs::read(m.server("rewritten")).unwrap() == want,
        "after fsync"
    );
    drop(f);
    assert!(
        fs::read(m.server("rewritten")).unwrap() == want,
        "after close"
    );
}
