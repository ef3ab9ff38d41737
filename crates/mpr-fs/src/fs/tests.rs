//! The logic without a mount, over the in-memory back end with faults.

use super::*;
use crate::error::{ConnectError, libc_errno};
use crate::testing::{ConnectFault, MemBackend};
use std::time::Duration;

fn cfg() -> FsConfig {
    FsConfig {
        op_timeout: Duration::from_secs(2),
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        failing_window: Duration::from_millis(200),
        ..FsConfig::default()
    }
}

async fn fs_with(cfg: FsConfig) -> (Fs<MemBackend>, MemBackend) {
    let b = MemBackend::new();
    let fs = Fs::new(b.clone(), cfg);
    fs.connect().await.unwrap();
    (fs, b)
}

const RW: i32 = oflags::O_RDWR;

#[tokio::test]
async fn lookups_give_stable_numbers_and_listings_ask_the_server() {
    let (fs, b) = fs_with(cfg()).await;
    b.put("f", b"abc");
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    assert_eq!(e.attr.size, 3);
    assert!(e.ttl <= Duration::from_secs(1));
    assert_eq!(fs.lookup(ROOT_INO, "f").await.unwrap().ino, e.ino);
    assert_eq!(
        fs.lookup(ROOT_INO, "nope").await.unwrap_err(),
        FsError::NotFound
    );
    let dh = fs.opendir(ROOT_INO).await.unwrap();
    let names: Vec<String> = fs
        .readdir(dh, 0)
        .unwrap()
        .into_iter()
        .map(|(_, s)| s.name)
        .collect();
    assert_eq!(names, [".", "..", "f"]);
    b.put("g", b"");
    let dh2 = fs.opendir(ROOT_INO).await.unwrap();
    assert_eq!(
        fs.readdir(dh2, 0).unwrap().len(),
        4,
        "a new file shows at once"
    );
    assert_eq!(
        fs.readdir(dh, 2).unwrap().len(),
        1,
        "an open listing is stable"
    );
    fs.releasedir(dh);
    fs.releasedir(dh2);
}

#[tokio::test]
async fn a_lost_session_is_reestablished_and_the_call_retried() {
    let dir = tempfile::tempdir().unwrap();
    let health = dir.path().join("health.json");
    let (fs, b) = fs_with(FsConfig {
        health_file: Some(health.clone()),
        ..cfg()
    })
    .await;
    assert_eq!(Health::read(&health), Some(Health::Ok));
    b.put("f", b"abc");
    b.disconnect();
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    assert_eq!(e.attr.size, 3);
    assert_eq!(b.connects(), 2);
    assert_eq!(fs.health(), Health::Ok);
    assert_eq!(Health::read(&health), Some(Health::Ok));
}

#[tokio::test]
async fn open_handles_are_opened_again_after_a_reconnect() {
    let (fs, b) = fs_with(cfg()).await;
    let (e, o) = fs
        .create(ROOT_INO, "f", RW | oflags::O_CREAT)
        .await
        .unwrap();
    fs.write(o.fh, 0, b"one").await.unwrap();
    b.disconnect();
    fs.write(o.fh, 3, b"two").await.unwrap();
    assert_eq!(fs.read(o.fh, 0, 100).await.unwrap(), &b"onetwo"[..]);
    fs.flush(o.fh).await.unwrap();
    fs.release(o.fh).await.unwrap();
    assert_eq!(b.get("f").unwrap(), b"onetwo");
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 6);
}

#[tokio::test]
async fn a_server_that_stays_down_fails_the_call_within_the_bound() {
    let (fs, b) = fs_with(FsConfig {
        op_timeout: Duration::from_millis(400),
        ..cfg()
    })
    .await;
    b.put("f", b"abc");
    b.disconnect();
    b.set_connect_fault(ConnectFault::Fail(ConnectError::Unreachable(
        "connection refused".into(),
    )));
    let t0 = Instant::now();
    let err = fs.lookup(ROOT_INO, "f").await.unwrap_err();
    let took = t0.elapsed();
    assert_eq!(err.errno(), libc_errno::EIO, "{err:?}");
    assert!(took >= Duration::from_millis(350), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    match fs.health() {
        Health::Reconnecting { reason, .. } => {
            assert!(reason.contains("refused"), "{reason}")
        }
        h => panic!("{h:?}"),
    }
    b.set_connect_fault(ConnectFault::None);
    assert_eq!(fs.lookup(ROOT_INO, "f").await.unwrap().attr.size, 3);
    assert_eq!(fs.health(), Health::Ok);
}

#[tokio::test]
async fn a_refused_password_makes_the_mount_unavailable_at_once() {
    let (fs, b) = fs_with(cfg()).await;
    b.disconnect();
    b.set_connect_fault(ConnectFault::Fail(ConnectError::BadPassword));
    let t0 = Instant::now();
    let err = fs.statfs().await.unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "no waiting for what will not heal"
    );
    assert_eq!(err.errno(), libc_errno::EIO);
    match fs.health() {
        Health::Unavailable { reason } => assert!(reason.contains("password"), "{reason}"),
        h => panic!("{h:?}"),
    }
}

#[tokio::test]
async fn a_hanging_server_fails_the_call_within_the_bound() {
    let (fs, b) = fs_with(FsConfig {
        op_timeout: Duration::from_millis(300),
        ..cfg()
    })
    .await;
    b.set_delay(Some(Duration::from_secs(30)));
    let t0 = Instant::now();
    assert_eq!(fs.statfs().await.unwrap_err(), FsError::TimedOut);
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_session_that_answers_nothing_is_replaced_and_the_mount_heals() {
    let (fs, b) = fs_with(FsConfig {
        op_timeout: Duration::from_millis(300),
        session_check: Duration::from_millis(200),
        ..cfg()
    })
    .await;
    b.put("f", b"x");
    b.wedge();
    let t0 = Instant::now();
    assert_eq!(fs.statfs().await.unwrap_err(), FsError::TimedOut);
    assert!(t0.elapsed() < Duration::from_secs(1), "within the bound");
    // The check finds the session stuck and makes a new one; a call sent
    // on the stuck session meanwhile is sent again on the new one.
    let t1 = Instant::now();
    assert_eq!(fs.lookup(ROOT_INO, "f").await.unwrap().attr.size, 1);
    assert!(
        t1.elapsed() < Duration::from_millis(300),
        "{:?}",
        t1.elapsed()
    );
    assert_eq!(b.connects(), 2);
    assert_eq!(fs.health(), Health::Ok);
}

#[tokio::test]
async fn a_slow_call_on_a_session_that_still_answers_keeps_the_session() {
    let (fs, b) = fs_with(FsConfig {
        op_timeout: Duration::from_millis(300),
        session_check: Duration::from_millis(200),
        ..cfg()
    })
    .await;
    b.hang_next(1);
    assert_eq!(fs.statfs().await.unwrap_err(), FsError::TimedOut);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.connects(), 1, "the check was answered: no new session");
    fs.statfs().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_wait_for_one_reconnect() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    b.put("f", b"x");
    b.disconnect();
    b.set_delay(Some(Duration::from_millis(50)));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let fs = fs.clone();
            tokio::spawn(async move { fs.statfs().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(b.connects(), 2, "one reconnect for all of them");
}

#[tokio::test]
async fn a_share_whose_every_call_fails_is_not_ok() {
    let (fs, b) = fs_with(cfg()).await;
    b.fail_next(vec![FsError::Io("STATUS_IO_DEVICE_ERROR".into()); 3]);
    fs.statfs().await.unwrap_err();
    assert_eq!(fs.health(), Health::Ok, "one failure is not yet a verdict");
    tokio::time::sleep(Duration::from_millis(250)).await;
    fs.statfs().await.unwrap_err();
    match fs.health() {
        Health::Unavailable { reason } => assert!(reason.contains("DEVICE"), "{reason}"),
        h => panic!("{h:?}"),
    }
    fs.statfs().await.unwrap_err();
    fs.statfs().await.unwrap();
    assert_eq!(fs.health(), Health::Ok, "the next success heals it");
    b.fail_next(vec![FsError::NotFound]);
    fs.statfs().await.unwrap_err();
    assert_eq!(fs.health(), Health::Ok, "an answer is not an I/O failure");
}

#[tokio::test]
async fn open_keeps_the_page_cache_only_for_an_unchanged_file() {
    let (fs, b) = fs_with(cfg()).await;
    b.put("f", b"abc");
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let o1 = fs.open(e.ino, 0).await.unwrap();
    assert!(!o1.keep_cache, "the first open fills the cache");
    let o2 = fs.open(e.ino, 0).await.unwrap();
    assert!(o2.keep_cache, "nothing changed");
    tokio::time::sleep(Duration::from_millis(5)).await;
    b.put("f", b"a colleague's longer text");
    let o3 = fs.open(e.ino, 0).await.unwrap();
    assert!(!o3.keep_cache, "changed on the server: drop the cache");
    assert_eq!(
        fs.read(o3.fh, 0, 4096).await.unwrap(),
        &b"a colleague's longer text"[..]
    );
    for o in [o1, o2, o3] {
        fs.release(o.fh).await.unwrap();
    }
}

#[tokio::test]
async fn appends_start_at_the_servers_end_then_follow_the_kernel() {
    let (fs, b) = fs_with(cfg()).await;
    b.put("log", b"line1\n");
    let e = fs.lookup(ROOT_INO, "log").await.unwrap();
    let o = fs
        .open(e.ino, oflags::O_WRONLY | oflags::O_APPEND)
        .await
        .unwrap();
    // The kernel's size was stale (0): the server's size at open wins.
    fs.write(o.fh, 0, b"line2\n").await.unwrap();
    // Then the kernel's end of file, exact for writes through the mount.
    fs.write(o.fh, 12, b"line3\n").await.unwrap();
    fs.flush(o.fh).await.unwrap();
    assert_eq!(b.get("log").unwrap(), b"line1\nline2\nline3\n");
    fs.setattr(
        e.ino,
        SetAttr {
            size: Some(0),
            fh: Some(o.fh),
            ..SetAttr::default()
        },
    )
    .await
    .unwrap();
    fs.write(o.fh, 0, b"x").await.unwrap();
    assert_eq!(
        b.get("log").unwrap(),
        b"x",
        "after a truncate, the end is 0"
    );
}

#[tokio::test]
async fn a_write_only_handle_can_be_cut() {
    let (fs, b) = fs_with(cfg()).await;
    b.put("f", b"0123456789");
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let o = fs.open(e.ino, oflags::O_WRONLY).await.unwrap();
    let (a, _) = fs
        .setattr(
            e.ino,
            SetAttr {
                size: Some(4),
                fh: Some(o.fh),
                ..SetAttr::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(a.size, 4);
    assert_eq!(b.get("f").unwrap(), b"0123");
}

#[tokio::test]
async fn chmod_and_chown_succeed_only_when_nothing_changes() {
    let (fs, b) = fs_with(FsConfig {
        uid: 1000,
        gid: 1000,
        ..cfg()
    })
    .await;
    b.put("f", b"");
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let same = SetAttr {
        mode: Some(0o100644),
        uid: Some(1000),
        gid: Some(1000),
        ..SetAttr::default()
    };
    fs.setattr(e.ino, same).await.unwrap();
    for other in [
        SetAttr {
            mode: Some(0o600),
            ..SetAttr::default()
        },
        SetAttr {
            uid: Some(0),
            ..SetAttr::default()
        },
    ] {
        assert_eq!(
            fs.setattr(e.ino, other).await.unwrap_err().errno(),
            libc_errno::EPERM
        );
    }
}

#[tokio::test]
async fn renaming_a_directory_moves_open_files_and_inodes_with_it() {
    let (fs, b) = fs_with(cfg()).await;
    let d = fs.mkdir(ROOT_INO, "d").await.unwrap();
    let (f, o) = fs.create(d.ino, "f", RW | oflags::O_CREAT).await.unwrap();
    fs.rename(ROOT_INO, "d", ROOT_INO, "e", 0).await.unwrap();
    b.disconnect();
    fs.write(o.fh, 0, b"after").await.unwrap();
    assert_eq!(b.get("e/f").unwrap(), b"after", "reopened at its new path");
    assert_eq!(fs.getattr(f.ino).await.unwrap().0.size, 5);
    assert_eq!(fs.lookup(ROOT_INO, "e").await.unwrap().ino, d.ino);
    assert_eq!(
        fs.rename(ROOT_INO, "e", ROOT_INO, "x", rename_flags::RENAME_EXCHANGE)
            .await
            .unwrap_err()
            .errno(),
        libc_errno::EINVAL
    );
    b.put("y", b"");
    assert_eq!(
        fs.rename(ROOT_INO, "e", ROOT_INO, "y", rename_flags::RENAME_NOREPLACE)
            .await
            .unwrap_err(),
        FsError::Exists
    );
}

#[tokio::test]
async fn a_file_removed_while_open_keeps_its_attributes() {
    let (fs, _b) = fs_with(cfg()).await;
    let (e, o) = fs
        .create(ROOT_INO, "f", RW | oflags::O_CREAT)
        .await
        .unwrap();
    fs.write(o.fh, 0, b"abc").await.unwrap();
    fs.getattr(e.ino).await.unwrap();
    fs.unlink(ROOT_INO, "f").await.unwrap();
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 3);
    assert_eq!(fs.read(o.fh, 0, 10).await.unwrap(), &b"abc"[..]);
    fs.release(o.fh).await.unwrap();
    fs.forget(e.ino, 1);
    assert_eq!(fs.getattr(e.ino).await.unwrap_err(), FsError::NotFound);
}

#[tokio::test]
async fn a_file_removed_while_open_shows_the_size_its_own_writes_and_cuts_give() {
    let (fs, b) = fs_with(cfg()).await;
    let (e, o) = fs
        .create(ROOT_INO, "f", RW | oflags::O_CREAT)
        .await
        .unwrap();
    fs.write(o.fh, 0, b"abc").await.unwrap();
    fs.unlink(ROOT_INO, "f").await.unwrap();
    fs.write(o.fh, 5, b"xy").await.unwrap();
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 7);
    let cut = SetAttr {
        size: Some(20),
        fh: Some(o.fh),
        ..SetAttr::default()
    };
    assert_eq!(fs.setattr(e.ino, cut).await.unwrap().0.size, 20);
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 20);
    // A new file at the same name is another file: cutting it leaves the
    // open one alone, and the open one is never opened again there.
    let (n, o2) = fs
        .create(ROOT_INO, "f", RW | oflags::O_CREAT | oflags::O_TRUNC)
        .await
        .unwrap();
    assert_ne!(n.ino, e.ino);
    fs.write(o2.fh, 0, b"new").await.unwrap();
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 20);
    b.disconnect();
    assert_eq!(
        fs.read(o.fh, 0, 10).await.unwrap_err(),
        FsError::NotFound,
        "not the new file's content"
    );
    assert_eq!(fs.read(o2.fh, 0, 10).await.unwrap(), &b"new"[..]);
}

#[tokio::test]
async fn appends_after_a_cut_of_a_file_removed_while_open_start_at_the_cut() {
    let (fs, b) = fs_with(cfg()).await;
    b.put("f", b"0123456789");
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let app = fs.open(e.ino, RW | oflags::O_APPEND).await.unwrap();
    let rw = fs.open(e.ino, RW).await.unwrap();
    fs.unlink(ROOT_INO, "f").await.unwrap();
    let cut = SetAttr {
        size: Some(4),
        fh: Some(rw.fh),
        ..SetAttr::default()
    };
    fs.setattr(e.ino, cut).await.unwrap();
    // The kernel puts the append at its size, 4; the size at open (10)
    // must no longer be the floor.
    fs.write(app.fh, 4, b"ab").await.unwrap();
    assert_eq!(fs.read(rw.fh, 0, 100).await.unwrap(), &b"0123ab"[..]);
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 6);
}

#[tokio::test]
async fn a_file_replaced_by_a_rename_while_open_is_detached_too() {
    let (fs, b) = fs_with(cfg()).await;
    b.put("target", b"old");
    b.put("tmp", b"fresh!");
    let t = fs.lookup(ROOT_INO, "target").await.unwrap();
    let o = fs.open(t.ino, RW).await.unwrap();
    fs.rename(ROOT_INO, "tmp", ROOT_INO, "target", 0)
        .await
        .unwrap();
    fs.write(o.fh, 3, b"4567").await.unwrap();
    assert_eq!(fs.getattr(t.ino).await.unwrap().0.size, 7);
    assert_eq!(
        b.get("target").unwrap(),
        b"fresh!",
        "the new file is untouched"
    );
}

#[tokio::test]
async fn files_removed_or_replaced_while_open_are_moved_aside_and_removed() {
    let (fs, b) = fs_with(cfg()).await;
    let (_, o) = fs
        .create(ROOT_INO, "f", RW | oflags::O_CREAT)
        .await
        .unwrap();
    fs.write(o.fh, 0, b"abc").await.unwrap();
    fs.unlink(ROOT_INO, "f").await.unwrap();
    assert_eq!(b.get("f"), None);
    assert!(
        b.list(&RelPath::root()).await.unwrap().is_empty(),
        "moved aside, then removed on the server"
    );
    assert_eq!(fs.read(o.fh, 0, 10).await.unwrap(), &b"abc"[..]);
    // The name is free at once.
    let (t, second) = fs
        .create(ROOT_INO, "f", RW | oflags::O_CREAT | oflags::O_EXCL)
        .await
        .unwrap();
    fs.write(second.fh, 0, b"second").await.unwrap();

    b.put("new", b"new");
    let viewer = fs.open(t.ino, 0).await.unwrap();
    fs.rename(ROOT_INO, "new", ROOT_INO, "f", 0).await.unwrap();
    assert_eq!(b.get("f").unwrap(), b"new");
    let names: Vec<String> = b
        .list(&RelPath::root())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["f"], "nothing left aside");
    assert_eq!(fs.read(viewer.fh, 0, 10).await.unwrap(), &b"second"[..]);
    assert_eq!(fs.read(o.fh, 0, 10).await.unwrap(), &b"abc"[..]);
}

#[tokio::test]
async fn a_file_removed_while_open_keeps_working_though_its_handle_was_closed() {
    let (fs, b) = fs_with(cfg()).await;
    let d = fs.mkdir(ROOT_INO, "d").await.unwrap();
    let e = fs.mkdir(ROOT_INO, "e").await.unwrap();
    b.put("e/x", b"");
    let (_, o) = fs.create(d.ino, "f", RW | oflags::O_CREAT).await.unwrap();
    // A rename that fails after the files below were closed on the
    // server (to be opened again at their next use).
    assert_eq!(
        fs.rename(ROOT_INO, "d", ROOT_INO, "e", 0)
            .await
            .unwrap_err(),
        FsError::NotEmpty
    );
    fs.unlink(d.ino, "f").await.unwrap();
    fs.write(o.fh, 0, b"still here").await.unwrap();
    assert_eq!(fs.read(o.fh, 0, 20).await.unwrap(), &b"still here"[..]);

    // The same after a lost session: the removal reconnects and opens
    // the file again before it goes.
    let (_, o) = fs.create(e.ino, "g", RW | oflags::O_CREAT).await.unwrap();
    b.disconnect();
    fs.unlink(e.ino, "g").await.unwrap();
    fs.write(o.fh, 0, b"after").await.unwrap();
    assert_eq!(fs.read(o.fh, 0, 20).await.unwrap(), &b"after"[..]);
}

#[tokio::test]
async fn listings_leave_out_what_is_moved_aside() {
    let (fs, b) = fs_with(cfg()).await;
    b.put(&format!("{ASIDE_PREFIX}x"), b"");
    fs.mkdir(ROOT_INO, "d").await.unwrap();
    b.put("d/.mpr-removed-y", b"");
    let root = fs.opendir(ROOT_INO).await.unwrap();
    let names: Vec<String> = fs
        .readdir(root, 0)
        .unwrap()
        .into_iter()
        .map(|(_, s)| s.name)
        .collect();
    assert_eq!(names, [".", "..", "d"]);
    let d = fs.lookup(ROOT_INO, "d").await.unwrap();
    let dh = fs.opendir(d.ino).await.unwrap();
    assert_eq!(fs.readdir(dh, 0).unwrap().len(), 3, "only in the root");
}

#[tokio::test]
async fn fsync_through_a_read_only_descriptor_syncs_the_file() {
    let (fs, b) = fs_with(cfg()).await;
    b.put("f", b"abc");
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let ro = fs.open(e.ino, 0).await.unwrap();
    fs.fsync(ro.fh).await.unwrap();
    let w = fs.open(e.ino, oflags::O_WRONLY).await.unwrap();
    fs.write(w.fh, 0, b"x").await.unwrap();
    fs.fsync(ro.fh).await.unwrap();
    fs.fsync(w.fh).await.unwrap();
    b.fail_next(vec![FsError::NoSpace]);
    assert_eq!(
        fs.fsync(ro.fh).await.unwrap_err(),
        FsError::NoSpace,
        "the writing descriptor's flush answers"
    );
}

#[tokio::test]
async fn unknown_handles_are_ebadf() {
    let (fs, _b) = fs_with(cfg()).await;
    assert_eq!(
        fs.read(77, 0, 1).await.unwrap_err().errno(),
        libc_errno::EBADF
    );
    assert_eq!(fs.readdir(77, 0).unwrap_err().errno(), libc_errno::EBADF);
}

/// Bytes that differ at every offset (a pattern that shows a misplaced
/// chunk).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

const K128: u32 = 128 * 1024;

async fn read_all(fs: &Fs<MemBackend>, fh: u64, size: u64, step: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let d = fs.read(fh, at, step).await.unwrap();
        if d.is_empty() {
            break;
        }
        at += d.len() as u64;
        out.extend_from_slice(&d);
        assert!(at <= size);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_read_is_answered_from_reads_ahead_in_parallel_byte_exact() {
    let (fs, b) = fs_with(cfg()).await;
    // Not a multiple of the chunk, so that the end of file falls in one.
    let data = pattern(9 * (1 << 20) + 12_345, 7);
    b.put("big", &data);
    let e = fs.lookup(ROOT_INO, "big").await.unwrap();
    let o = fs.open(e.ino, 0).await.unwrap();
    b.set_delay(Some(Duration::from_millis(5)));
    b.reset_most_in_flight();
    let calls = b.calls();
    let got = read_all(&fs, o.fh, data.len() as u64, K128).await;
    assert!(got == data, "the bytes read are the file's");
    assert!(
        b.most_in_flight() >= 2,
        "reads ahead overlap ({} at most)",
        b.most_in_flight()
    );
    let of = fs.file(o.fh).unwrap();
    let hits = of.read_ahead.hits();
    assert!(hits >= 60, "most reads are served from the window ({hits})");
    assert!(
        b.calls() - calls < 20,
        "1 MiB fetches, not 128 KiB reads ({} calls)",
        b.calls() - calls
    );
    fs.release(o.fh).await.unwrap();
    assert_eq!(fs.budget.used(), 0, "released with the handle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_reads_are_exact_and_drop_the_window() {
    let (fs, b) = fs_with(cfg()).await;
    let data = pattern(6 << 20, 3);
    b.put("f", &data);
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let o = fs.open(e.ino, 0).await.unwrap();
    // A sequential run, then jumps back and forth, then sequential again.
    let mut offsets: Vec<u64> = (0..6).map(|i| i * u64::from(K128)).collect();
    offsets.extend([5 << 20, 17, 3 << 20, (3 << 20) + 100_000, 1 << 20]);
    offsets.extend((0..12).map(|i| (2 << 20) + i * u64::from(K128)));
    offsets.push((6 << 20) - 10);
    for at in offsets {
        let got = fs.read(o.fh, at, K128).await.unwrap();
        let end = (at as usize + K128 as usize).min(data.len());
        assert!(got == data[at as usize..end], "read at {at}");
    }
    fs.release(o.fh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_read_ahead_is_served_after_a_write_or_a_new_open() {
    let (fs, b) = fs_with(cfg()).await;
    let data = pattern(4 << 20, 1);
    b.put("f", &data);
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let r = fs.open(e.ino, 0).await.unwrap();
    fs.read(r.fh, 0, K128).await.unwrap();
    fs.read(r.fh, u64::from(K128), K128).await.unwrap();
    // The window now holds the next MiB; another handle writes in it.
    let w = fs.open(e.ino, RW).await.unwrap();
    fs.write(w.fh, 2 * u64::from(K128), b"NEW").await.unwrap();
    let got = fs.read(r.fh, 2 * u64::from(K128), 3).await.unwrap();
    assert_eq!(got, &b"NEW"[..]);
    // Queued behind, then read: the read waits for it.
    let fs = Arc::new(fs);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let f2 = fs.clone();
    let task = tokio::spawn(async move {
        f2.write_behind(w.fh, 3 * u64::from(K128), b"BEHIND", |r| {
            let _ = tx.send(r);
        })
        .await;
    });
    assert_eq!(rx.await.unwrap().unwrap(), 6);
    let got = fs.read(r.fh, 3 * u64::from(K128), 6).await.unwrap();
    assert_eq!(got, &b"BEHIND"[..]);
    task.await.unwrap();
    fs.release(w.fh).await.unwrap();
    // A colleague changes the file; our next open must not see old bytes
    // through the old handle's window either.
    fs.read(r.fh, 4 * u64::from(K128), K128).await.unwrap();
    fs.read(r.fh, 5 * u64::from(K128), K128).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let changed = pattern(4 << 20, 9);
    b.put("f", &changed);
    let r2 = fs.open(e.ino, 0).await.unwrap();
    assert!(!r2.keep_cache);
    let at = 6 * u64::from(K128);
    let got = fs.read(r.fh, at, K128).await.unwrap();
    assert!(got == changed[at as usize..(at + u64::from(K128)) as usize]);
    fs.release(r.fh).await.unwrap();
    fs.release(r2.fh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_ahead_is_retried_by_the_read() {
    let (fs, b) = fs_with(cfg()).await;
    let data = pattern(3 << 20, 5);
    b.put("f", &data);
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let o = fs.open(e.ino, 0).await.unwrap();
    fs.read(o.fh, 0, K128).await.unwrap();
    // A fetch this read starts fails; the read itself does not (it is
    // made directly, and the window starts again).
    b.fail_next(vec![FsError::Io("flaky".into())]);
    let got = fs.read(o.fh, u64::from(K128), K128).await.unwrap();
    assert!(got == data[K128 as usize..2 * K128 as usize]);
    let got = read_all(&fs, o.fh, data.len() as u64, K128).await;
    assert!(got == data);
    fs.release(o.fh).await.unwrap();
}

/// Writes `n` blocks of 1 MiB behind, as the kernel would (the next only
/// once the previous one is answered); the answers, in order.
async fn write_blocks_behind(
    fs: &Arc<Fs<MemBackend>>,
    fh: u64,
    blocks: &[Vec<u8>],
) -> (Vec<Result<u32, FsError>>, Vec<tokio::task::JoinHandle<()>>) {
    let mut answers = Vec::new();
    let mut tasks = Vec::new();
    let mut at = 0u64;
    for block in blocks {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let f = fs.clone();
        let len = block.len() as u64;
        let block = block.clone();
        tasks.push(tokio::spawn(async move {
            f.write_behind(fh, at, &block, |r| {
                let _ = tx.send(r);
            })
            .await;
        }));
        answers.push(rx.await.unwrap());
        at += len;
    }
    (answers, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_answered_when_queued_and_several_are_in_flight() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    let (e, o) = fs.create(ROOT_INO, "w", RW).await.unwrap();
    let blocks: Vec<Vec<u8>> = (0..12).map(|i| pattern(1 << 20, i)).collect();
    b.set_delay(Some(Duration::from_millis(30)));
    b.reset_most_in_flight();
    let t0 = Instant::now();
    let (answers, _tasks) = write_blocks_behind(&fs, o.fh, &blocks).await;
    assert!(answers.iter().all(|a| *a == Ok(1 << 20)));
    // 12 writes of 30 ms each, one at a time, would take 360 ms.
    assert!(
        b.most_in_flight() >= 4,
        "{} in flight at most",
        b.most_in_flight()
    );
    fs.flush(o.fh).await.unwrap();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(300), "took {took:?}");
    assert!(b.get("w").unwrap() == blocks.concat(), "landed whole");
    // The size the kernel is told includes every queued write.
    let (a, _) = fs.getattr(e.ino).await.unwrap();
    assert_eq!(a.size, 12 << 20);
    fs.release(o.fh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_of_a_handle_is_bounded() {
    let (fs, b) = fs_with(FsConfig {
        write_behind: 2 << 20,
        ..cfg()
    })
    .await;
    let fs = Arc::new(fs);
    let (_, o) = fs.create(ROOT_INO, "w", RW).await.unwrap();
    let blocks: Vec<Vec<u8>> = (0..8).map(|i| pattern(1 << 20, i)).collect();
    b.set_delay(Some(Duration::from_millis(20)));
    b.reset_most_in_flight();
    write_blocks_behind(&fs, o.fh, &blocks).await;
    assert!(b.most_in_flight() <= 2, "{}", b.most_in_flight());
    fs.release(o.fh).await.unwrap();
    assert!(b.get("w").unwrap() == blocks.concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_writes_behind_land_in_order() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    let (_, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
    b.set_delay(Some(Duration::from_millis(10)));
    let blocks = vec![
        b"aaaaaaaa".to_vec(),
        b"bbbb".to_vec(),
        b"cc".to_vec(),
        b"d".to_vec(),
    ];
    // Each at offset 2 × its index: every write overlaps the one before.
    let mut tasks = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let f = fs.clone();
        tasks.push(tokio::spawn(async move {
            f.write_behind(o.fh, 2 * i as u64, &block, |r| {
                let _ = tx.send(r);
            })
            .await;
        }));
        rx.await.unwrap().unwrap();
    }
    fs.fsync(o.fh).await.unwrap();
    assert_eq!(b.get("f").unwrap(), b"aabbccda");
    fs.release(o.fh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_queued_write_is_reported_at_fsync_and_at_close_never_lost() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    let (_, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
    b.fail_next(vec![FsError::Io("disk on fire".into())]);
    let (answers, tasks) = write_blocks_behind(&fs, o.fh, &[b"x".to_vec()]).await;
    assert_eq!(answers, [Ok(1)], "answered before it failed");
    for t in tasks {
        t.await.unwrap();
    }
    let err = fs.fsync(o.fh).await.unwrap_err();
    assert_eq!(err.errno(), libc_errno::EIO);
    // Reported once; the next write and close go on.
    fs.fsync(o.fh).await.unwrap();
    // At close (flush), too: a failure of the last write before it.
    b.fail_next(vec![FsError::Io("again".into())]);
    let (answers, _) = write_blocks_behind(&fs, o.fh, &[b"y".to_vec()]).await;
    assert_eq!(answers, [Ok(1)]);
    assert_eq!(fs.flush(o.fh).await.unwrap_err().errno(), libc_errno::EIO);
    // And at release, when no flush came between.
    b.fail_next(vec![FsError::Io("and again".into())]);
    let (answers, _) = write_blocks_behind(&fs, o.fh, &[b"z".to_vec()]).await;
    assert_eq!(answers, [Ok(1)]);
    assert_eq!(fs.release(o.fh).await.unwrap_err().errno(), libc_errno::EIO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_waits_for_queued_writes_and_flushes_only_where_the_back_end_needs_it() {
    for (b, flushed_at_close) in [
        (MemBackend::new(), 1),
        (MemBackend::writes_land_when_answered(), 0),
    ] {
        let fs = Fs::new(b.clone(), cfg());
        fs.connect().await.unwrap();
        let fs = Arc::new(fs);
        let (_, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
        b.set_delay(Some(Duration::from_millis(50)));
        let (answers, _) = write_blocks_behind(&fs, o.fh, &[b"abc".to_vec()]).await;
        assert_eq!(answers, [Ok(3)]);
        assert_eq!(b.get("f").unwrap(), b"", "answered before it landed");
        fs.flush(o.fh).await.unwrap();
        assert_eq!(b.get("f").unwrap(), b"abc", "on the server at close");
        assert_eq!(b.flushes(), flushed_at_close);
        // A failure of a queued write is still reported at close.
        b.fail_next(vec![FsError::Io("boom".into())]);
        let (answers, _) = write_blocks_behind(&fs, o.fh, &[b"d".to_vec()]).await;
        assert_eq!(answers, [Ok(1)]);
        assert_eq!(fs.flush(o.fh).await.unwrap_err().errno(), libc_errno::EIO);
        b.set_delay(None);
        // fsync always asks the server to make it durable.
        fs.fsync(o.fh).await.unwrap();
        assert_eq!(b.flushes(), flushed_at_close + 1);
        fs.release(o.fh).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_queued_write_fails_the_next_write() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    let (_, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
    b.fail_next(vec![FsError::NoSpace]);
    let (_, tasks) = write_blocks_behind(&fs, o.fh, &[b"x".to_vec()]).await;
    for t in tasks {
        t.await.unwrap();
    }
    let (answers, _) = write_blocks_behind(&fs, o.fh, &[b"y".to_vec()]).await;
    assert_eq!(answers, [Err(FsError::NoSpace)]);
    fs.release(o.fh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncate_and_a_rename_wait_for_queued_writes() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    let (e, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
    b.set_delay(Some(Duration::from_millis(20)));
    write_blocks_behind(&fs, o.fh, &[pattern(1 << 20, 1), pattern(1 << 20, 2)]).await;
    fs.setattr(
        e.ino,
        SetAttr {
            size: Some(10),
            ..SetAttr::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(b.get("f").unwrap().len(), 10, "the cut came last");
    write_blocks_behind(&fs, o.fh, &[pattern(1 << 20, 3)]).await;
    fs.rename(ROOT_INO, "f", ROOT_INO, "g", 0).await.unwrap();
    assert!(b.get("g").unwrap() == pattern(1 << 20, 3));
    fs.release(o.fh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_read_ahead_are_answered_at_once_but_never_past_a_queued_write() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    let data = pattern(4 << 20, 4);
    b.put("f", &data);
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    let o = fs.open(e.ino, RW).await.unwrap();
    assert_eq!(fs.read_ready(o.fh, 0, K128), None, "no window yet");
    fs.read(o.fh, 0, K128).await.unwrap();
    fs.read(o.fh, u64::from(K128), K128).await.unwrap();
    // The window's first MiB arrives; a read in it is answered at once.
    let at = 2 * u64::from(K128);
    assert!(
        eventually_some(|| fs.read_ready(o.fh, at, K128)).await
            == data[at as usize..][..K128 as usize]
    );
    // While a write of the file is queued, only the task may answer.
    b.set_delay(Some(Duration::from_millis(50)));
    let f2 = fs.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        f2.write_behind(o.fh, 3 * u64::from(K128), b"W", |r| {
            let _ = tx.send(r);
        })
        .await;
    });
    rx.await.unwrap().unwrap();
    assert_eq!(fs.read_ready(o.fh, 3 * u64::from(K128), 1), None);
    assert_eq!(
        fs.read(o.fh, 3 * u64::from(K128), 1).await.unwrap(),
        &b"W"[..]
    );
    task.await.unwrap();
    fs.release(o.fh).await.unwrap();
}

async fn eventually_some(f: impl Fn() -> Option<Bytes>) -> Bytes {
    for _ in 0..200 {
        if let Some(d) = f() {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never answered at once");
}

/// Writes `data` at `at` behind; its answer, and the task that ends when
/// the write has landed (or failed).
async fn write_at_behind(
    fs: &Arc<Fs<MemBackend>>,
    fh: u64,
    at: u64,
    data: &[u8],
) -> (Result<u32, FsError>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let f = fs.clone();
    let data = data.to_vec();
    let task = tokio::spawn(async move {
        f.write_behind(fh, at, &data, |r| {
            let _ = tx.send(r);
        })
        .await;
    });
    (rx.await.unwrap(), task)
}

/// A write queued while the server is down, on either kind of handle: the
/// server comes back within the bound, and the write reaches the file
/// (after the bytes written before it: never a hole of zeros).
async fn queued_write_survives_a_short_outage(b: MemBackend) {
    let fs = Arc::new(Fs::new(b.clone(), cfg()));
    fs.connect().await.unwrap();
    let (_, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
    fs.write(o.fh, 0, b"hello").await.unwrap();
    b.disconnect();
    b.set_connect_fault(ConnectFault::Fail(ConnectError::Unreachable(
        "connection refused".into(),
    )));
    let (answer, task) = write_at_behind(&fs, o.fh, 5, b" staged").await;
    assert_eq!(answer, Ok(7), "answered once queued");
    let b2 = b.clone();
    let back = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        b2.set_connect_fault(ConnectFault::None);
    });
    fs.flush(o.fh).await.unwrap();
    task.await.unwrap();
    back.await.unwrap();
    fs.release(o.fh).await.unwrap();
    assert_eq!(b.get("f").unwrap(), b"hello staged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_queued_during_a_short_outage_lands_on_server_handles() {
    queued_write_survives_a_short_outage(MemBackend::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_queued_during_a_short_outage_lands_on_staged_handles() {
    queued_write_survives_a_short_outage(MemBackend::staged()).await;
}

/// A write queued while the server stays down past the bound: the program
/// is told (at the flush of its `close(2)`), and what reaches the server
/// is never the file with a hole of zeros where the write should be. A
/// staged handle still holds the write, so it lands once the server is
/// back (at release); a server handle's write is reported lost.
async fn queued_write_in_a_long_outage_is_reported_or_lands(b: MemBackend) {
    let fs = Arc::new(Fs::new(
        b.clone(),
        FsConfig {
            op_timeout: Duration::from_millis(400),
            ..cfg()
        },
    ));
    fs.connect().await.unwrap();
    let (_, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
    fs.write(o.fh, 0, b"hello").await.unwrap();
    fs.flush(o.fh).await.unwrap();
    b.disconnect();
    b.set_connect_fault(ConnectFault::Fail(ConnectError::Unreachable(
        "connection refused".into(),
    )));
    let (answer, task) = write_at_behind(&fs, o.fh, 5, b" staged").await;
    assert_eq!(answer, Ok(7));
    task.await.unwrap();
    let err = fs.flush(o.fh).await.unwrap_err();
    assert_eq!(err.errno(), libc_errno::EIO, "{err:?}");
    b.set_connect_fault(ConnectFault::None);
    let released = fs.release(o.fh).await;
    let on_server = b.get("f").unwrap();
    if fs.backend().handles_survive_reconnect() {
        released.unwrap();
        assert_eq!(on_server, b"hello staged", "the staged write lands");
    } else {
        assert_eq!(on_server, b"hello", "reported, and no hole of zeros");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_queued_during_a_long_outage_is_reported_on_server_handles() {
    queued_write_in_a_long_outage_is_reported_or_lands(MemBackend::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_queued_during_a_long_outage_lands_later_on_staged_handles() {
    queued_write_in_a_long_outage_is_reported_or_lands(MemBackend::staged()).await;
}

#[tokio::test]
async fn staged_handles_are_kept_across_a_reconnect_and_renames_of_their_directory() {
    let b = MemBackend::staged();
    let fs = Fs::new(b.clone(), cfg());
    fs.connect().await.unwrap();
    let d = fs.mkdir(ROOT_INO, "d").await.unwrap();
    let (_, o) = fs.create(d.ino, "f", RW).await.unwrap();
    fs.write(o.fh, 0, b"one").await.unwrap();
    b.disconnect();
    fs.write(o.fh, 3, b"two").await.unwrap();
    assert_eq!(fs.read(o.fh, 0, 100).await.unwrap(), &b"onetwo"[..]);
    assert_eq!(
        b.get("d/f").unwrap(),
        b"",
        "nothing uploaded before a flush"
    );
    fs.flush(o.fh).await.unwrap();
    assert_eq!(b.get("d/f").unwrap(), b"onetwo");
    fs.write(o.fh, 6, b"!").await.unwrap();
    fs.rename(ROOT_INO, "d", ROOT_INO, "e", 0).await.unwrap();
    fs.release(o.fh).await.unwrap();
    assert_eq!(b.get("e/f").unwrap(), b"onetwo!");
}

/// Records the conflicts reported to it.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<(String, String)>>);

impl Events for Recorded {
    fn conflict(&self, path: &str, reason: &str) {
        self.0
            .lock()
            .unwrap()
            .push((path.to_string(), reason.to_string()));
    }
}

/// An upload refused because the file changed on the server is `ESTALE`
/// for the program at each try, and is reported once for the open file
/// (however often the program retries before it closes); another file's
/// conflict is reported on its own, and other errors are not conflicts.
#[tokio::test]
async fn a_conflict_is_estale_and_reported_once_per_open_file() {
    let events = Arc::new(Recorded::default());
    let b = MemBackend::staged();
    let fs = Fs::new(
        b.clone(),
        FsConfig {
            events: Some(events.clone()),
            ..cfg()
        },
    );
    fs.connect().await.unwrap();
    let d = fs.mkdir(ROOT_INO, "d").await.unwrap();
    let (_, o) = fs.create(d.ino, "f", RW).await.unwrap();
    fs.write(o.fh, 0, b"ours").await.unwrap();
    let conflict = || FsError::Conflict("d/f is version 2 on the server".into());
    b.fail_next(vec![conflict()]);
    let err = fs.flush(o.fh).await.unwrap_err();
    assert_eq!(err.errno(), libc_errno::ESTALE, "{err:?}");
    b.fail_next(vec![conflict()]);
    assert_eq!(
        fs.fsync(o.fh).await.unwrap_err().errno(),
        libc_errno::ESTALE
    );
    b.fail_next(vec![conflict()]);
    assert!(fs.release(o.fh).await.is_err());
    assert_eq!(
        *events.0.lock().unwrap(),
        [(
            "d/f".to_string(),
            "d/f is version 2 on the server".to_string()
        )]
    );

    let (_, g) = fs.create(ROOT_INO, "g", RW).await.unwrap();
    fs.write(g.fh, 0, b"x").await.unwrap();
    b.fail_next(vec![FsError::NotPermitted]);
    assert!(fs.flush(g.fh).await.is_err());
    b.fail_next(vec![conflict()]);
    assert!(fs.flush(g.fh).await.is_err());
    fs.release(g.fh).await.unwrap();
    let got = events.0.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].0, "g");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readdirplus_gives_each_entry_the_attributes_and_lookup_a_lookup_would() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    b.put("a", b"abc");
    b.put("b", b"");
    b.put("c", b"");
    let (_, o) = fs.create(ROOT_INO, "w", RW).await.unwrap();
    let dh = fs.opendir(ROOT_INO).await.unwrap();
    // Changed through the mount after the listing was taken: a write still
    // queued, a removal.
    b.set_delay(Some(Duration::from_millis(50)));
    let (answers, _) = write_blocks_behind(&fs, o.fh, &[b"12345".to_vec()]).await;
    assert_eq!(answers, [Ok(5)]);
    b.set_delay(None);
    fs.unlink(ROOT_INO, "c").await.unwrap();
    let mut got = Vec::new();
    fs.readdirplus(ROOT_INO, dh, 0, |e| {
        got.push((e.name.to_string(), e.ino, e.attr.size, e.ttl));
        false
    })
    .await
    .unwrap();
    let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(names, [".", "..", "a", "b", "w"], "a name gone is left out");
    let size = |n: &str| got.iter().find(|g| g.0 == n).unwrap().2;
    assert_eq!(size("a"), 3);
    assert_eq!(size("w"), 5, "the queued write landed first");
    for g in &got[2..] {
        assert!(g.3 <= Duration::from_secs(1), "trusted within the TTL");
    }
    // Each entry counts as a lookup: the kernel's forget of it, together
    // with the lookup below, drops the number.
    let a = got[2].1;
    assert_eq!(fs.lookup(ROOT_INO, "a").await.unwrap().ino, a);
    fs.forget(a, 1);
    assert_eq!(fs.lookup(ROOT_INO, "a").await.unwrap().ino, a, "one held");
    fs.forget(a, 2);
    assert_ne!(fs.lookup(ROOT_INO, "a").await.unwrap().ino, a, "none held");
    // A full reply ends the batch, and the entry it could not take is not
    // counted.
    let bi = got[3].1;
    let mut taken = Vec::new();
    fs.readdirplus(ROOT_INO, dh, 2, |e| {
        if !taken.is_empty() {
            return true;
        }
        taken.push(e.name.to_string());
        false
    })
    .await
    .unwrap();
    assert_eq!(taken, ["a"]);
    fs.forget(bi, 1);
    assert_ne!(
        fs.lookup(ROOT_INO, "b").await.unwrap().ino,
        bi,
        "b was held once, by the first answer"
    );
    fs.releasedir(dh);
    fs.release(o.fh).await.unwrap();
    // A directory removed through the mount while open reads as empty.
    let d = fs.mkdir(ROOT_INO, "d").await.unwrap();
    let dh = fs.opendir(d.ino).await.unwrap();
    fs.rmdir(ROOT_INO, "d").await.unwrap();
    let mut n = 0;
    fs.readdirplus(d.ino, dh, 0, |_| {
        n += 1;
        false
    })
    .await
    .unwrap();
    assert_eq!(n, 0);
    fs.releasedir(dh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_writes_attributes_are_cached_only_while_they_are_the_latest() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    let (e, o) = fs.create(ROOT_INO, "f", RW).await.unwrap();
    // A lone write brings the attributes after it: the stat after the
    // close asks the server nothing.
    write_blocks_behind(&fs, o.fh, &[b"abc".to_vec()]).await;
    fs.flush(o.fh).await.unwrap();
    let calls = b.calls();
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 3);
    assert_eq!(b.calls(), calls, "answered from the cache");
    // A burst: the first write's attributes are not the latest once a
    // second is made, so nothing stale is kept; the size is exact.
    b.set_delay(Some(Duration::from_millis(50)));
    let (answers, _) = write_blocks_behind(&fs, o.fh, &[b"defg".to_vec(), b"hijkl".to_vec()]).await;
    assert_eq!(answers, [Ok(4), Ok(5)]);
    b.set_delay(None);
    fs.flush(o.fh).await.unwrap();
    let calls = b.calls();
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 9);
    assert_eq!(b.calls(), calls + 1, "asked the server");
    // Two handles on the file: the other may have written since.
    let o2 = fs.open(e.ino, RW).await.unwrap();
    write_blocks_behind(&fs, o.fh, &[b"0123456789".to_vec()]).await;
    fs.flush(o.fh).await.unwrap();
    let calls = b.calls();
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 10);
    assert_eq!(b.calls(), calls + 1, "asked the server");
    fs.release(o2.fh).await.unwrap();
    fs.release(o.fh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getattr_is_answered_at_once_only_from_fresh_attributes_with_no_write_queued() {
    let (fs, b) = fs_with(cfg()).await;
    let fs = Arc::new(fs);
    b.put("f", b"abc");
    let e = fs.lookup(ROOT_INO, "f").await.unwrap();
    assert_eq!(
        fs.getattr_ready(e.ino).unwrap().0.size,
        3,
        "cached by the lookup"
    );
    let o = fs.open(e.ino, RW).await.unwrap();
    b.set_delay(Some(Duration::from_millis(100)));
    let (answers, tasks) = write_blocks_behind(&fs, o.fh, &[b"x".repeat(10)]).await;
    assert_eq!(answers, [Ok(10)]);
    assert!(fs.getattr_ready(e.ino).is_none(), "a write is queued");
    for t in tasks {
        t.await.unwrap();
    }
    b.set_delay(None);
    assert_eq!(fs.getattr(e.ino).await.unwrap().0.size, 10);
    fs.release(o.fh).await.unwrap();
    let short = FsConfig {
        attr_ttl: Duration::from_millis(50),
        ..cfg()
    };
    let (fs, b) = fs_with(short).await;
    b.put("g", b"");
    let e = fs.lookup(ROOT_INO, "g").await.unwrap();
    assert!(fs.getattr_ready(e.ino).is_some());
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        fs.getattr_ready(e.ino).is_none(),
        "expired: the server is asked"
    );
}
