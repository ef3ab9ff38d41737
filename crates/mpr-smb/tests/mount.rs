//! mpr's own file system over the SMB back end, through a real mount on the
//! loopback smbd, tried as a user's programs would: with ordinary `std::fs`
//! calls, one operation family per test, each checked on the server's disk
//! too (what `close`, `fsync` and friends claim must really be there).
//! The last test stops and starts a private smbd under a live mount.

mod common;

use common::mounted::{SmbMount, config, errno, eventually};
use common::smbd::PrivateSmbd;
use mpr_fs::health::Health;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::time::{Duration, Instant, SystemTime};

const EPERM: i32 = 1;
const EIO: i32 = 5;
const ENOSYS: i32 = 38;
const ENOTEMPTY: i32 = 39;
const EOPNOTSUPP: i32 = 95;
const MIB: usize = 1 << 20;

#[test]
fn in_place_edits_through_a_read_write_descriptor() {
    let m = SmbMount::new("inplace");
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
    assert_eq!(fs::read(m.at("f")).unwrap(), b"Jello WORLD");
}

#[test]
fn appends_go_to_the_end_including_after_a_colleagues_append() {
    let m = SmbMount::new("append");
    fs::write(m.at("log"), b"one\n").unwrap();
    for line in [&b"two\n"[..], b"three\n"] {
        // `>>`: a fresh O_APPEND descriptor each time.
        let mut f = OpenOptions::new().append(true).open(m.at("log")).unwrap();
        f.write_all(line).unwrap();
    }
    assert_eq!(fs::read(m.server("log")).unwrap(), b"one\ntwo\nthree\n");
    // Another machine appends; our next `>>` goes after its line.
    m.colleague.append("log", b"theirs\n");
    let mut f = OpenOptions::new().append(true).open(m.at("log")).unwrap();
    f.write_all(b"four\n").unwrap();
    f.write_all(b"five\n").unwrap();
    drop(f);
    let want = b"one\ntwo\nthree\ntheirs\nfour\nfive\n";
    assert_eq!(fs::read(m.server("log")).unwrap(), want);
    assert_eq!(fs::read(m.at("log")).unwrap(), want);
    // O_APPEND with O_CREAT makes the file.
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
fn truncate_and_ftruncate_on_a_write_only_descriptor() {
    let m = SmbMount::new("truncate");
    fs::write(m.at("f"), b"0123456789").unwrap();
    let f = OpenOptions::new().write(true).open(m.at("f")).unwrap();
    f.set_len(4).unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"0123");
    assert_eq!(f.metadata().unwrap().len(), 4);
    // Pre-sizing, as downloaders do: grows with zeros.
    f.set_len(8).unwrap();
    f.write_all_at(b"ab", 6).unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"0123\0\0ab");
    assert_eq!(fs::read(m.at("f")).unwrap(), b"0123\0\0ab");
    // `truncate -s` (its own open and ftruncate) and `: > f` (O_TRUNC).
    let st = std::process::Command::new("truncate")
        .args(["-s", "3"])
        .arg(m.at("f"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(fs::read(m.at("f")).unwrap(), b"012");
    File::create(m.at("f")).unwrap();
    assert_eq!(fs::metadata(m.server("f")).unwrap().len(), 0);
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 0);
}

#[test]
fn rename_over_an_existing_file_is_an_atomic_save() {
    let m = SmbMount::new("atomic");
    fs::write(m.at("doc"), b"old content").unwrap();
    fs::write(m.at("doc.tmp"), b"new").unwrap();
    fs::rename(m.at("doc.tmp"), m.at("doc")).unwrap();
    assert_eq!(fs::read(m.at("doc")).unwrap(), b"new");
    assert_eq!(fs::read(m.server("doc")).unwrap(), b"new");
    assert!(!m.server("doc.tmp").exists());
    assert!(!m.at("doc.tmp").exists());

    // Again while the target is open (a viewer holds it): the save
    // succeeds, the next open sees the new file, and the descriptor that
    // was open keeps reading the old one, as on a local disk.
    let mut viewer = File::open(m.at("doc")).unwrap();
    fs::write(m.at("doc.tmp"), b"newer content").unwrap();
    fs::rename(m.at("doc.tmp"), m.at("doc")).unwrap();
    assert_eq!(fs::read(m.at("doc")).unwrap(), b"newer content");
    assert_eq!(fs::read(m.server("doc")).unwrap(), b"newer content");
    let mut s = String::new();
    viewer.read_to_string(&mut s).unwrap();
    assert_eq!(s, "new");
}

#[test]
fn directories_rename_with_their_content_and_open_files() {
    let m = SmbMount::new("dirrename");
    fs::create_dir_all(m.at("d/sub")).unwrap();
    fs::write(m.at("d/sub/f"), b"inside").unwrap();
    let mut open = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("d/sub/f"))
        .unwrap();
    fs::rename(m.at("d"), m.at("e")).unwrap();
    assert!(!m.at("d").exists());
    assert_eq!(fs::read(m.at("e/sub/f")).unwrap(), b"inside");
    assert_eq!(fs::read(m.server("e/sub/f")).unwrap(), b"inside");
    // The descriptor opened before follows its file.
    open.seek(SeekFrom::End(0)).unwrap();
    open.write_all(b" and more").unwrap();
    drop(open);
    assert_eq!(fs::read(m.server("e/sub/f")).unwrap(), b"inside and more");
    // Over an empty directory, as POSIX allows.
    fs::create_dir(m.at("empty")).unwrap();
    fs::rename(m.at("e"), m.at("empty")).unwrap();
    assert_eq!(
        fs::read(m.server("empty/sub/f")).unwrap(),
        b"inside and more"
    );
}

#[test]
fn mkdir_and_rmdir_with_enotempty() {
    let m = SmbMount::new("mkdir");
    fs::create_dir(m.at("d")).unwrap();
    assert!(m.server("d").is_dir());
    assert!(fs::metadata(m.at("d")).unwrap().is_dir());
    fs::write(m.at("d/f"), b"x").unwrap();
    let e = fs::remove_dir(m.at("d")).unwrap_err();
    assert_eq!(errno(&e), ENOTEMPTY, "{e}");
    assert!(m.server("d/f").exists());
    fs::remove_file(m.at("d/f")).unwrap();
    fs::remove_dir(m.at("d")).unwrap();
    assert!(!m.server("d").exists());
    assert!(!m.at("d").exists());
    let e = fs::create_dir(m.at("missing/d")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}

#[test]
fn unicode_and_space_names() {
    let m = SmbMount::new("names");
    // (A trailing space or dot, which Windows names cannot have, also
    // round-trips through SMB, but Samba stores it on its disk as a
    // private-use character, so the server-side check below would not
    // find it by its name.)
    let names = [
        "with space.txt",
        "ü ñ 日本語 ✓.txt",
        "  leading spaces",
        "emoji 🦀",
    ];
    fs::create_dir(m.at("dir ü")).unwrap();
    for n in names {
        fs::write(m.at(&format!("dir ü/{n}")), n.as_bytes()).unwrap();
    }
    let mut listed: Vec<String> = fs::read_dir(m.at("dir ü"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(listed, want);
    for n in names {
        assert_eq!(
            fs::read(m.server(&format!("dir ü/{n}"))).unwrap(),
            n.as_bytes(),
            "{n:?} on the server"
        );
    }
    fs::rename(m.at("dir ü/emoji 🦀"), m.at("dir ü/renamed ✓")).unwrap();
    assert!(m.server("dir ü/renamed ✓").exists());
}

#[test]
fn utimens_sets_the_modification_time() {
    let m = SmbMount::new("utimens");
    fs::write(m.at("f"), b"content").unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let f = OpenOptions::new().write(true).open(m.at("f")).unwrap();
    f.set_modified(when).unwrap();
    drop(f);
    assert_eq!(
        fs::metadata(m.server("f")).unwrap().modified().unwrap(),
        when
    );
    assert!(eventually(Duration::from_secs(2), || {
        fs::metadata(m.at("f")).unwrap().modified().unwrap() == when
    }));
    // By path, with the access time too (`touch -d`).
    let st = std::process::Command::new("touch")
        .args(["-d", "2001-02-03 04:05:06Z"])
        .arg(m.at("f"))
        .status()
        .unwrap();
    assert!(st.success());
    let want = SystemTime::UNIX_EPOCH + Duration::from_secs(981_173_106);
    assert_eq!(
        fs::metadata(m.server("f")).unwrap().modified().unwrap(),
        want
    );
    assert_eq!(fs::read(m.at("f")).unwrap(), b"content", "touch keeps it");
}

#[test]
fn fsync_and_close_reach_the_server_before_they_return() {
    let m = SmbMount::new("fsync");
    let mut f = File::create(m.at("f")).unwrap();
    f.write_all(b"durable").unwrap();
    f.sync_all().unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"durable");
    f.write_all(b" and closed").unwrap();
    f.sync_data().unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"durable and closed");
    drop(f);
    let mut f = OpenOptions::new().append(true).open(m.at("f")).unwrap();
    f.write_all(b"!").unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"durable and closed!");
}

#[test]
fn zero_byte_files() {
    let m = SmbMount::new("empty");
    File::create(m.at("e")).unwrap();
    assert_eq!(fs::metadata(m.server("e")).unwrap().len(), 0);
    assert_eq!(fs::metadata(m.at("e")).unwrap().len(), 0);
    assert_eq!(fs::read(m.at("e")).unwrap(), b"");
    fs::write(m.at("f"), b"was here").unwrap();
    // `: > f`
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.at("f"))
        .unwrap();
    assert_eq!(fs::read(m.at("f")).unwrap(), b"");
    assert_eq!(fs::metadata(m.server("f")).unwrap().len(), 0);
}

/// Deterministic bytes for block `i` of a big file (xorshift, a word at a
/// time: tests run unoptimised).
fn block(i: usize, len: usize) -> Vec<u8> {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A running checksum (FNV-1a over 64-bit words, rotated) of a stream
/// whose pieces are multiples of 8 bytes long.
fn fnv(h: &mut u64, data: &[u8]) {
    assert_eq!(data.len() % 8, 0);
    for w in data.chunks_exact(8) {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        *h = (*h ^ w).wrapping_mul(0x100_0000_01b3).rotate_left(29);
    }
}

/// 256 MiB by default (`MPR_SMB_BIG_MIB` for another size), compared by
/// checksum on the server's disk and through the mount.
#[test]
fn a_file_of_some_hundred_mib_is_written_and_read_back_whole() {
    let mib: usize = std::env::var("MPR_SMB_BIG_MIB")
        .ok()
        .map_or(256, |s| s.parse().expect("a number of MiB"));
    let m = SmbMount::new("big");
    let mut want = 0xcbf2_9ce4_8422_2325u64;
    let mut f = File::create(m.at("big.bin")).unwrap();
    for i in 0..mib {
        let b = block(i, MIB);
        fnv(&mut want, &b);
        f.write_all(&b).unwrap();
    }
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(
        fs::metadata(m.at("big.bin")).unwrap().len(),
        (mib * MIB) as u64
    );
    let sum = |path: &std::path::Path| {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut f = File::open(path).unwrap();
        let mut buf = Vec::with_capacity(MIB);
        let mut total = 0;
        loop {
            buf.clear();
            let n = (&mut f).take(MIB as u64).read_to_end(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            // Whole blocks, so that the words line up (the size is
            // checked to be whole MiB).
            buf.resize(n.next_multiple_of(8), 0);
            fnv(&mut h, &buf);
            total += n;
        }
        (total, h)
    };
    assert_eq!(
        sum(&m.server("big.bin")),
        (mib * MIB, want),
        "on the server"
    );
    assert_eq!(
        sum(&m.at("big.bin")),
        (mib * MIB, want),
        "through the mount"
    );
    // A read at an offset past 4 GiB of a sparse file (64-bit offsets).
    let f = OpenOptions::new()
        .write(true)
        .open(m.at("big.bin"))
        .unwrap();
    f.write_all_at(b"far", 5 << 30).unwrap();
    drop(f);
    let f = File::open(m.at("big.bin")).unwrap();
    let mut got = [0u8; 3];
    f.read_exact_at(&mut got, 5 << 30).unwrap();
    assert_eq!(&got, b"far");
    fs::remove_file(m.at("big.bin")).unwrap();
}

#[test]
fn a_colleagues_change_is_read_whole_at_its_new_size_on_the_next_open() {
    let m = SmbMount::new("coherence");
    fs::write(m.at("shared.txt"), b"short v1").unwrap();
    // Our reads fill the kernel's page cache and attribute cache.
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), b"short v1");
    assert_eq!(fs::metadata(m.at("shared.txt")).unwrap().len(), 8);
    let v2 = b"version 2, written by a colleague, much longer than before";
    m.colleague.put("shared.txt", v2);
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), v2, "whole, at once");
    // A change of the same size is seen too.
    let v3 = b"VERSION 2, WRITTEN BY A COLLEAGUE, MUCH LONGER THAN BEFORE";
    assert_eq!(v2.len(), v3.len());
    std::thread::sleep(Duration::from_millis(20));
    m.colleague.put("shared.txt", v3);
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), v3);
    // And a shorter one: no stale tail.
    m.colleague.put("shared.txt", b"v4");
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), b"v4");
}

#[test]
fn a_file_removed_on_the_server_can_be_created_again_at_once() {
    let m = SmbMount::new("recreate");
    fs::write(m.at("f"), b"old").unwrap();
    // The kernel now holds the name, with its attributes, for a second.
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 3);
    m.colleague.unlink("f");
    // Within that second, `>` and `open(O_CREAT)` make it anew (the stale
    // name is looked up again), and a plain open says it is gone.
    fs::write(m.at("f"), b"new").unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"new");
    assert_eq!(fs::read(m.at("f")).unwrap(), b"new");
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 3);
    m.colleague.unlink("f");
    let e = File::open(m.at("f")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(m.at("f"))
        .unwrap();
    f.write_all(b"again").unwrap();
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"again");
}

#[test]
fn a_new_server_file_is_listed_within_a_second() {
    let m = SmbMount::new("listing");
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
    // And one removed there disappears.
    m.colleague.unlink("theirs");
    assert!(eventually(Duration::from_secs(1), || !names()
        .contains(&"theirs".to_string())));
}

#[test]
fn what_smb_cannot_do_is_refused_cleanly_never_eio() {
    let m = SmbMount::new("unsupported");
    fs::write(m.at("f"), b"data").unwrap();
    let refused = [ENOSYS, EPERM, EOPNOTSUPP];
    let e = std::os::unix::fs::symlink("f", m.at("link")).unwrap_err();
    assert!(refused.contains(&errno(&e)), "symlink: {e}");
    let e = fs::hard_link(m.at("f"), m.at("hard")).unwrap_err();
    assert!(refused.contains(&errno(&e)), "link: {e}");
    // SMB keeps no modes: only the mode shown may be "set".
    let shown = fs::metadata(m.at("f")).unwrap().permissions().mode() & 0o7777;
    assert_eq!(shown, 0o644);
    fs::set_permissions(m.at("f"), fs::Permissions::from_mode(0o644)).unwrap();
    let e = fs::set_permissions(m.at("f"), fs::Permissions::from_mode(0o755)).unwrap_err();
    assert!(refused.contains(&errno(&e)), "chmod: {e}");
    let e = std::os::unix::fs::chown(m.at("f"), Some(12345), None).unwrap_err();
    assert!(refused.contains(&errno(&e)), "chown: {e}");
    assert!(!m.server("link").exists() && !m.server("hard").exists());
    // Nothing of that upset the mount.
    assert_eq!(fs::read(m.at("f")).unwrap(), b"data");
    assert_eq!(m.fs().health(), Health::Ok);
}

/// `fallocate -l` (and `posix_fallocate`, which downloaders use to
/// pre-size a file) makes the file that long on the server, with zeros.
#[test]
fn fallocate_pre_sizes_the_file_on_the_server() {
    let m = SmbMount::new("fallocate");
    fs::write(m.at("f"), b"head").unwrap();
    let st = std::process::Command::new("fallocate")
        .args(["-l", "3MiB"])
        .arg(m.at("f"))
        .status()
        .expect("run fallocate (util-linux)");
    assert!(st.success());
    assert_eq!(fs::metadata(m.server("f")).unwrap().len(), 3 * MIB as u64);
    let data = fs::read(m.at("f")).unwrap();
    assert_eq!(&data[..4], b"head");
    assert!(data[4..].iter().all(|&b| b == 0));
    assert_eq!(data.len(), 3 * MIB);
}

/// SMB's read-only attribute is the one mode change it can store: `chmod
/// a-w` sets it (the server then refuses writes), giving the write bits
/// back clears it; any other change stays refused.
#[test]
fn chmod_a_minus_w_sets_the_read_only_attribute_and_giving_them_back_clears_it() {
    const EACCES: i32 = 13;
    let m = SmbMount::new("readonly");
    fs::write(m.at("f"), b"data").unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    fs::set_permissions(m.at("f"), fs::Permissions::from_mode(0o444)).unwrap();
    assert_eq!(mode(&m.at("f")), 0o444);
    let listed = fs::read_dir(m.path())
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.file_name() == "f")
        .unwrap();
    assert_eq!(
        listed.metadata().unwrap().permissions().mode() & 0o7777,
        0o444
    );
    let e = OpenOptions::new().write(true).open(m.at("f")).unwrap_err();
    assert_eq!(errno(&e), EACCES, "{e}");
    assert_eq!(fs::read(m.at("f")).unwrap(), b"data");
    fs::set_permissions(m.at("f"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(mode(&m.at("f")), 0o644);
    fs::write(m.at("f"), b"again").unwrap();
    assert_eq!(fs::read(m.server("f")).unwrap(), b"again");
    // Modes SMB cannot store, and directories, stay refused.
    for bad in [0o755, 0o600, 0o400] {
        let e = fs::set_permissions(m.at("f"), fs::Permissions::from_mode(bad)).unwrap_err();
        assert_eq!(errno(&e), EPERM, "{bad:o}: {e}");
    }
    fs::create_dir(m.at("d")).unwrap();
    let e = fs::set_permissions(m.at("d"), fs::Permissions::from_mode(0o555)).unwrap_err();
    assert_eq!(errno(&e), EPERM, "{e}");
    assert_eq!(mode(&m.at("f")), 0o644);
}

/// The server stopped under a live mount: an operation fails with `EIO`
/// within the configured bound, the health says reconnecting; started
/// again, the same mount works again (a descriptor opened before too) and
/// the health is OK. A private smbd: the shared one is never stopped.
#[test]
fn a_server_stopped_and_started_again_under_a_live_mount() {
    let mut smbd = PrivateSmbd::new("outage");
    let mut smb = smbd.backend("share").config().clone();
    smb.connect_timeout = Duration::from_secs(2);
    let bound = Duration::from_secs(3);
    let cfg = mpr_fs::fs::FsConfig {
        op_timeout: bound,
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..config()
    };
    let m = SmbMount::on(smb, &smbd.dir.join("share"), cfg);
    fs::write(m.at("f"), b"before").unwrap();
    let mut open = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("f"))
        .unwrap();
    assert_eq!(m.fs().health(), Health::Ok);

    smbd.stop();
    let t = Instant::now();
    // A listing always asks the server.
    let e = fs::read_dir(m.path()).map(|_| ()).unwrap_err();
    let took = t.elapsed();
    assert_eq!(errno(&e), EIO, "{e}");
    assert!(took <= bound + Duration::from_secs(2), "took {took:?}");
    assert!(
        matches!(m.fs().health(), Health::Reconnecting { .. }),
        "{:?}",
        m.fs().health()
    );
    // Writes fail the same way, within the bound, and nothing hangs.
    let t = Instant::now();
    let e = fs::write(m.at("g"), b"during").unwrap_err();
    assert_eq!(errno(&e), EIO, "{e}");
    assert!(t.elapsed() <= bound + Duration::from_secs(2));

    smbd.start();
    assert!(
        eventually(Duration::from_secs(10), || fs::read_dir(m.path()).is_ok()),
        "the mount did not heal"
    );
    assert_eq!(fs::read(m.at("f")).unwrap(), b"before");
    open.seek(SeekFrom::End(0)).unwrap();
    open.write_all(b" and after").unwrap();
    drop(open);
    assert_eq!(
        fs::read(smbd.dir.join("share/f")).unwrap(),
        b"before and after"
    );
    fs::write(m.at("g"), b"after").unwrap();
    assert_eq!(fs::read(smbd.dir.join("share/g")).unwrap(), b"after");
    assert_eq!(m.fs().health(), Health::Ok);
    drop(m);
}

/// A server process that stops answering without closing its connection
/// (stopped here with SIGSTOP; a process stuck in the kernel or a wedged
/// middlebox does the same): the operations fail within the bound, a check
/// of the session gets no answer either, and the session is replaced by a
/// new connection (a new server process), so the mount heals by itself
/// and what was written is still there.
#[test]
fn a_server_process_that_stops_answering_is_replaced_and_the_mount_heals() {
    let smbd = PrivateSmbd::new("stuck");
    let mut smb = smbd.backend("share").config().clone();
    smb.connect_timeout = Duration::from_secs(2);
    let bound = Duration::from_secs(2);
    let cfg = mpr_fs::fs::FsConfig {
        op_timeout: bound,
        session_check: Duration::from_secs(1),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..config()
    };
    let m = SmbMount::on(smb, &smbd.dir.join("share"), cfg);
    fs::write(m.at("f"), b"before").unwrap();
    let stuck = smbd.connection_processes();
    assert!(!stuck.is_empty(), "no smbd process serves the mount");
    let _stopped = mpr_fs::testing::util::Stopped::new(stuck.clone());

    let t = Instant::now();
    let e = fs::read_dir(m.path()).map(|_| ()).unwrap_err();
    assert_eq!(errno(&e), EIO, "{e}");
    assert!(
        t.elapsed() <= bound + Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(15), || fs::read(m.at("f"))
            .is_ok_and(|d| d == b"before")),
        "the mount did not heal: {:?}",
        m.fs().health()
    );
    fs::write(m.at("g"), b"after").unwrap();
    assert_eq!(fs::read(smbd.dir.join("share/g")).unwrap(), b"after");
    assert_eq!(m.fs().health(), Health::Ok);
    let serving = smbd.connection_processes();
    assert!(
        serving.iter().any(|p| !stuck.contains(p)),
        "a new server process serves the mount: {serving:?} (stopped: {stuck:?})"
    );
}
