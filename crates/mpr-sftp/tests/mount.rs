//! mpr's own file system over the SFTP back end, through a real mount on
//! the loopback sshd, tried as a user's programs would: ordinary `std::fs`
//! calls, one operation family per test, each checked on the server's disk
//! too. The last test stops and starts a private sshd under a live mount.

mod common;

use common::mounted::{SftpMount, config};
use common::sshd::PrivateSshd;
use common::{Servers, errno, eventually};
use mpr_fs::health::Health;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

const EIO: i32 = 5;
const ENOTEMPTY: i32 = 39;

#[test]
fn reads_and_writes_whole_files_and_large_ones() {
    let m = SftpMount::new("rw");
    fs::write(m.at("small"), b"hello").unwrap();
    assert_eq!(fs::read(m.server("small")).unwrap(), b"hello");
    assert_eq!(fs::read(m.at("small")).unwrap(), b"hello");
    // Larger than one request: split and sent together, read back whole.
    let big: Vec<u8> = (0..5 * 1024 * 1024 + 123)
        .map(|i: usize| (i as u8).wrapping_mul(31) ^ (i >> 13) as u8)
        .collect();
    fs::write(m.at("big"), &big).unwrap();
    assert_eq!(fs::read(m.server("big")).unwrap(), big, "on the server");
    assert_eq!(fs::read(m.at("big")).unwrap(), big, "through the mount");
    let f = File::open(m.at("big")).unwrap();
    let mut buf = vec![0u8; 300_000];
    f.read_exact_at(&mut buf, 1_000_000).unwrap();
    assert_eq!(buf, big[1_000_000..1_300_000]);
}

#[test]
fn in_place_edits_through_a_read_write_descriptor() {
    let m = SftpMount::new("inplace");
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
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"Jello WORLD");
}

#[test]
fn appends_go_to_the_end() {
    let m = SftpMount::new("append");
    fs::write(m.at("log"), b"one\n").unwrap();
    for line in [&b"two\n"[..], b"three\n"] {
        let mut f = OpenOptions::new().append(true).open(m.at("log")).unwrap();
        f.write_all(line).unwrap();
    }
    assert_eq!(fs::read(m.server("log")).unwrap(), b"one\ntwo\nthree\n");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(m.at("new.log"))
        .unwrap();
    f.write_all(b"x").unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("new.log")).unwrap(), b"x");
}

#[test]
fn truncate_and_ftruncate() {
    let m = SftpMount::new("truncate");
    fs::write(m.at("f"), b"0123456789").unwrap();
    let f = OpenOptions::new().write(true).open(m.at("f")).unwrap();
    f.set_len(4).unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"0123");
    f.set_len(8).unwrap();
    f.write_all_at(b"ab", 6).unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"0123\0\0ab");
    let st = std::process::Command::new("truncate")
        .args(["-s", "3"])
        .arg(m.at("f"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(fs::read(m.at("f")).unwrap(), b"012");
    // `: > f` (O_TRUNC without O_CREAT).
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.at("f"))
        .unwrap();
    assert_eq!(fs::metadata(m.server("f")).unwrap().len(), 0);
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 0);
}

#[test]
fn rename_over_an_existing_file_is_an_atomic_save() {
    let m = SftpMount::new("atomic");
    fs::write(m.at("doc"), b"old content").unwrap();
    let mut viewer = File::open(m.at("doc")).unwrap();
    fs::write(m.at("doc.tmp"), b"new").unwrap();
    fs::rename(m.at("doc.tmp"), m.at("doc")).unwrap();
    assert_eq!(fs::read(m.at("doc")).unwrap(), b"new");
    assert_eq!(fs::read(m.server("doc")).unwrap(), b"new");
    assert!(!m.server("doc.tmp").exists());
    // The descriptor open before keeps the old file, as on a local disk.
    let mut s = String::new();
    viewer.read_to_string(&mut s).unwrap();
    assert_eq!(s, "old content");
    // Directories: with their content, over an empty one; not over a
    // non-empty one.
    fs::create_dir_all(m.at("d/sub")).unwrap();
    fs::write(m.at("d/sub/f"), b"inside").unwrap();
    fs::create_dir(m.at("empty")).unwrap();
    fs::rename(m.at("d"), m.at("empty")).unwrap();
    assert_eq!(fs::read(m.server("empty/sub/f")).unwrap(), b"inside");
    fs::create_dir(m.at("other")).unwrap();
    let e = fs::rename(m.at("other"), m.at("empty")).unwrap_err();
    assert_eq!(errno(&e), ENOTEMPTY, "{e}");
}

#[test]
fn mkdir_rmdir_and_unlink() {
    let m = SftpMount::new("mkdir");
    fs::create_dir(m.at("d")).unwrap();
    assert!(m.server("d").is_dir());
    let e = fs::create_dir(m.at("d")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    fs::write(m.at("d/f"), b"x").unwrap();
    let e = fs::remove_dir(m.at("d")).unwrap_err();
    assert_eq!(errno(&e), ENOTEMPTY, "{e}");
    assert!(m.server("d/f").exists());
    fs::remove_file(m.at("d/f")).unwrap();
    assert!(!m.server("d/f").exists());
    fs::remove_dir(m.at("d")).unwrap();
    assert!(!m.server("d").exists());
    let e = fs::create_dir(m.at("missing/d")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    let e = fs::remove_file(m.at("nothing")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}

#[test]
fn listings_show_names_and_sizes() {
    let m = SftpMount::new("list");
    for (n, len) in [("a", 1usize), ("b with space", 20), ("ü 日本", 300)] {
        fs::write(m.at(n), vec![b'x'; len]).unwrap();
    }
    fs::create_dir(m.at("sub")).unwrap();
    let mut got: Vec<(String, u64, bool)> = fs::read_dir(m.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            (
                e.file_name().into_string().unwrap(),
                if md.is_dir() { 0 } else { md.len() },
                md.is_dir(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("a".to_string(), 1, false),
            ("b with space".to_string(), 20, false),
            ("sub".to_string(), 0, true),
            ("ü 日本".to_string(), 300, false),
        ]
    );
}

/// A named pipe or a socket on the server is shown as what it is and is
/// never opened there: OpenSSH's SFTP server would wait in `open` for a
/// writer that never comes, and every other request of the drive with it
/// (before, the drive answered nothing but `EIO` until someone wrote to the
/// pipe on the server). Opened through the drive, a pipe is a pipe on this
/// machine, as on a local disk, and a socket cannot be opened (`ENXIO`).
#[test]
fn a_named_pipe_or_socket_on_the_server_is_shown_as_such_and_never_opened_there() {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    const O_NONBLOCK: i32 = 0o4000;
    const ENXIO: i32 = 6;
    let m = SftpMount::new("special");
    fs::write(m.at("file"), b"data").unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(m.server("pipe"))
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo: {made}");
    let _socket = std::os::unix::net::UnixListener::bind(m.server("sock")).unwrap();

    let mut listed: Vec<(String, bool, bool)> = fs::read_dir(m.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            (
                e.file_name().into_string().unwrap(),
                t.is_fifo(),
                t.is_socket(),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("file".to_string(), false, false),
            ("pipe".to_string(), true, false),
            ("sock".to_string(), false, true),
        ]
    );
    assert!(fs::metadata(m.at("pipe")).unwrap().file_type().is_fifo());
    assert!(fs::metadata(m.at("sock")).unwrap().file_type().is_socket());

    // The pipe opens here at once (no writer: reading gives nothing).
    let t = Instant::now();
    let mut pipe = OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(m.at("pipe"))
        .unwrap();
    let mut got = Vec::new();
    assert_eq!(pipe.read_to_end(&mut got).unwrap(), 0);
    drop(pipe);
    let e = File::open(m.at("sock")).unwrap_err();
    assert_eq!(errno(&e), ENXIO, "{e}");
    // And the drive still answers, at once.
    assert_eq!(fs::read(m.at("file")).unwrap(), b"data");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn links_on_the_server_show_what_they_point_at_and_a_dangling_one_shows_as_a_link() {
    const ENOENT: i32 = 2;
    let m = SftpMount::new("links");
    fs::write(m.server("real"), b"content").unwrap();
    fs::create_dir(m.server("dir")).unwrap();
    std::os::unix::fs::symlink("real", m.server("good")).unwrap();
    std::os::unix::fs::symlink("dir", m.server("dirlink")).unwrap();
    std::os::unix::fs::symlink("missing-target", m.server("dangling")).unwrap();

    let mut listed: Vec<(String, bool, bool, bool)> = fs::read_dir(m.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            (
                e.file_name().into_string().unwrap(),
                t.is_file(),
                t.is_dir(),
                t.is_symlink(),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("dangling".to_string(), false, false, true),
            ("dir".to_string(), false, true, false),
            ("dirlink".to_string(), false, true, false),
            ("good".to_string(), true, false, false),
            ("real".to_string(), true, false, false),
        ]
    );
    // A link that resolves is what it points at.
    assert_eq!(fs::read(m.at("good")).unwrap(), b"content");
    assert_eq!(fs::symlink_metadata(m.at("good")).unwrap().len(), 7);
    assert!(fs::symlink_metadata(m.at("dirlink")).unwrap().is_dir());
    // A dangling one is a link, says where it points, and opening it is
    // "no such file", as on a local disk.
    let meta = fs::symlink_metadata(m.at("dangling")).unwrap();
    assert!(meta.file_type().is_symlink());
    assert_eq!(
        fs::read_link(m.at("dangling")).unwrap(),
        std::path::Path::new("missing-target")
    );
    assert_eq!(errno(&File::open(m.at("dangling")).unwrap_err()), ENOENT);
    // Once its target appears on the server, it reads as that file, with
    // no error on the way (the name changed kind under the kernel).
    std::os::unix::fs::symlink("later", m.server("waiting")).unwrap();
    assert!(fs::symlink_metadata(m.at("waiting")).unwrap().is_symlink());
    fs::write(m.server("later"), b"arrived").unwrap();
    assert_eq!(fs::read(m.at("waiting")).unwrap(), b"arrived");
    let mut errors = Vec::new();
    assert!(
        eventually(Duration::from_secs(3), || {
            let read = fs::read(m.at("waiting"));
            let meta = fs::symlink_metadata(m.at("waiting"));
            for e in [read.as_ref().err(), meta.as_ref().err()]
                .into_iter()
                .flatten()
            {
                errors.push(errno(e));
            }
            read.is_ok_and(|d| d == b"arrived") && meta.is_ok_and(|m| m.is_file() && m.len() == 7)
        }),
        "it never showed as the file it now points at"
    );
    assert!(errors.is_empty(), "errors on the way: {errors:?}");
    // Removing it through the drive removes the link on the server.
    fs::remove_file(m.at("dangling")).unwrap();
    assert!(fs::symlink_metadata(m.server("dangling")).is_err());
}

/// SFTP stores modes, so `chmod` through the drive changes the file on the
/// server (a script made executable runs); `chown` to someone else stays
/// `EPERM`.
#[test]
fn chmod_changes_the_mode_on_the_server_and_chown_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    const EPERM: i32 = 1;
    let m = SftpMount::new("chmod");
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    fs::write(m.at("script"), b"#!/bin/sh\necho ran\n").unwrap();
    fs::set_permissions(m.at("script"), fs::Permissions::from_mode(0o750)).unwrap();
    assert_eq!(mode(&m.server("script")), 0o750);
    assert_eq!(mode(&m.at("script")), 0o750);
    let out = std::process::Command::new(m.at("script")).output().unwrap();
    assert_eq!(out.stdout, b"ran\n");
    fs::create_dir(m.at("d")).unwrap();
    fs::set_permissions(m.at("d"), fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(mode(&m.server("d")), 0o700);
    assert_eq!(mode(&m.at("d")), 0o700);
    // The same mode again is no change at all.
    fs::set_permissions(m.at("d"), fs::Permissions::from_mode(0o700)).unwrap();
    let e = std::os::unix::fs::chown(m.at("script"), Some(4242), None).unwrap_err();
    assert_eq!(errno(&e), EPERM, "{e}");
    assert_eq!(mode(&m.server("script")), 0o750);
}

#[test]
fn a_colleagues_change_is_read_whole_at_its_new_size_on_the_next_open() {
    let m = SftpMount::new("coherence");
    fs::write(m.at("shared.txt"), b"short v1").unwrap();
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), b"short v1");
    assert_eq!(fs::metadata(m.at("shared.txt")).unwrap().len(), 8);
    let v2 = b"version 2, written by a colleague, much longer than before";
    m.colleague.put("shared.txt", v2);
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), v2, "whole, at once");
    m.colleague.put("shared.txt", b"v3");
    assert_eq!(
        fs::read(m.at("shared.txt")).unwrap(),
        b"v3",
        "no stale tail"
    );
}

#[test]
fn a_new_server_file_is_listed_at_once() {
    let m = SftpMount::new("listing");
    fs::write(m.at("ours"), b"").unwrap();
    let names = || -> Vec<String> {
        fs::read_dir(m.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    assert_eq!(names(), ["ours"]);
    m.colleague.put("theirs", b"hello");
    let t = Instant::now();
    assert!(
        eventually(Duration::from_secs(1), || names()
            .contains(&"theirs".to_string())),
        "not listed after 1 s"
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(fs::read(m.at("theirs")).unwrap(), b"hello");
    m.colleague.unlink("theirs");
    assert!(eventually(Duration::from_secs(1), || !names()
        .contains(&"theirs".to_string())));
}

/// A listing carries each entry's attributes to the kernel (READDIRPLUS),
/// trusted for at most the TTL (1 s): a colleague's change of a file seen
/// in a listing shows within it, in its size and in what is read.
#[test]
fn a_colleagues_change_after_a_listing_shows_within_a_second() {
    let m = SftpMount::new("listing-attrs");
    fs::write(m.at("f"), b"one").unwrap();
    let sizes = || -> Vec<(String, u64)> {
        fs::read_dir(m.path())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect()
    };
    assert_eq!(sizes(), [("f".to_string(), 3)]);
    m.colleague.put("f", b"longer now");
    let t = Instant::now();
    assert!(
        eventually(Duration::from_millis(1500), || fs::metadata(m.at("f"))
            .unwrap()
            .len()
            == 10),
        "the new size is not seen"
    );
    assert!(
        t.elapsed() <= Duration::from_millis(1100),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(sizes(), [("f".to_string(), 10)]);
    assert_eq!(fs::read(m.at("f")).unwrap(), b"longer now");
}

#[test]
fn fsync_and_close_reach_the_server_before_they_return() {
    let m = SftpMount::new("fsync");
    let mut f = File::create(m.at("f")).unwrap();
    f.write_all(b"durable").unwrap();
    f.sync_all().unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"durable");
    f.write_all(b" and closed").unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"durable and closed");
}

/// The server stopped under a live mount (a private sshd; its sessions,
/// so the control master's connection, die with it): operations fail with
/// `EIO` within the bound and the health says reconnecting; started again,
/// the mount heals through a new master, a descriptor opened before works,
/// and nothing written before the outage is lost.
#[test]
fn sshd_stopped_and_started_again_under_a_live_mount() {
    let s = Servers::get();
    let mut sshd = PrivateSshd::start(&s);
    let client = sshd.client(&s);
    let mut sftp = sshd.config(&client);
    sftp.connect_timeout = Duration::from_secs(3);
    let bound = Duration::from_secs(4);
    let cfg = mpr_fs::fs::FsConfig {
        op_timeout: bound,
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..config()
    };
    let served = sshd.served.path().to_path_buf();
    let m = SftpMount::on(sftp, &served, cfg);
    fs::write(m.at("f"), b"before").unwrap();
    let mut open = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("f"))
        .unwrap();
    open.seek(SeekFrom::End(0)).unwrap();
    open.write_all(b", written").unwrap();
    open.sync_all().unwrap();
    assert_eq!(m.fs().health(), Health::Ok);

    sshd.stop();
    let t = Instant::now();
    let e = fs::read_dir(m.path()).map(|_| ()).unwrap_err();
    assert_eq!(errno(&e), EIO, "{e}");
    assert!(
        t.elapsed() <= bound + Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    assert!(
        matches!(m.fs().health(), Health::Reconnecting { .. }),
        "{:?}",
        m.fs().health()
    );

    sshd.again();
    assert!(
        eventually(Duration::from_secs(20), || fs::read_dir(m.path()).is_ok()),
        "the mount did not heal"
    );
    assert_eq!(fs::read(m.at("f")).unwrap(), b"before, written");
    open.write_all(b" and after").unwrap();
    drop(open);
    assert_eq!(
        fs::read(served.join("f")).unwrap(),
        b"before, written and after"
    );
    fs::write(m.at("g"), b"after").unwrap();
    assert_eq!(fs::read(served.join("g")).unwrap(), b"after");
    assert_eq!(m.fs().health(), Health::Ok);
    drop(m);
}

/// A server that stops answering without closing its connection (its
/// session processes stopped with SIGSTOP): operations fail within their
/// bound, the check of the session gets no answer either, and the session
/// is replaced. The shared ssh master rode that connection, so it is told
/// to leave first; otherwise the new session would go through the same
/// stuck connection. The mount heals by itself, with what was written.
#[test]
fn a_server_that_stops_answering_is_replaced_and_the_mount_heals() {
    let s = Servers::get();
    let sshd = PrivateSshd::start(&s);
    let client = sshd.client(&s);
    let mut sftp = sshd.config(&client);
    sftp.connect_timeout = Duration::from_secs(3);
    let bound = Duration::from_secs(2);
    let cfg = mpr_fs::fs::FsConfig {
        op_timeout: bound,
        session_check: Duration::from_secs(1),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..config()
    };
    let served = sshd.served.path().to_path_buf();
    let m = SftpMount::on(sftp, &served, cfg);
    fs::write(m.at("f"), b"before").unwrap();
    let before = sshd.session_processes();
    assert!(!before.is_empty(), "no sshd session serves the mount");
    let stopped = mpr_fs::testing::util::Stopped::new(before);

    let t = Instant::now();
    let e = fs::read_dir(m.path()).map(|_| ()).unwrap_err();
    assert_eq!(errno(&e), EIO, "{e}");
    assert!(
        t.elapsed() <= bound + Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(20), || fs::read(m.at("f"))
            .is_ok_and(|d| d == b"before")),
        "the mount did not heal: {:?}",
        m.fs().health()
    );
    fs::write(m.at("g"), b"after").unwrap();
    assert_eq!(fs::read(served.join("g")).unwrap(), b"after");
    assert_eq!(m.fs().health(), Health::Ok);
    let now = sshd.session_processes();
    assert!(
        now.iter().any(|p| !stopped.pids().contains(p)),
        "a new session serves the mount: {now:?} (stopped: {:?})",
        stopped.pids()
    );
    drop(m);
}
