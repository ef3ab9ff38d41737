//! File operations against the real smbd, each checked on the server's
//! side too where that is the point.

mod common;

use common::{Scratch, p, pattern};
use mpr_fs::{Backend, FileKind, FsError, OpenFlags, Times};
use std::time::{Duration, SystemTime};

const RW: OpenFlags = OpenFlags {
    read: true,
    write: true,
    create: false,
    exclusive: false,
    truncate: false,
};
const CREATE: OpenFlags = OpenFlags {
    read: true,
    write: true,
    create: true,
    exclusive: false,
    truncate: false,
};
const WRITE_ONLY: OpenFlags = OpenFlags {
    read: false,
    write: true,
    create: false,
    exclusive: false,
    truncate: false,
};

async fn put(s: &Scratch, path: &str, data: &[u8]) {
    let (h, _) = s.backend.open(&p(path), CREATE).await.unwrap();
    s.backend.set_len(&h, 0).await.unwrap();
    s.backend.write(&h, 0, data).await.unwrap();
    s.backend.close(h).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_and_list_carry_kinds_sizes_and_odd_names() {
    let s = Scratch::new("list").await;
    let b = &s.backend;
    let names = ["plain.txt", "with space.txt", "ünïcødé ✓.txt", "日本語"];
    for (i, n) in names.iter().enumerate() {
        put(&s, n, &vec![b'x'; i * 10]).await;
    }
    b.mkdir(&p("sub dir")).await.unwrap();
    let mut got = b.list(&mpr_fs::RelPath::root()).await.unwrap();
    got.sort_by(|a, b| a.name.cmp(&b.name));
    let mut want: Vec<&str> = names.to_vec();
    want.push("sub dir");
    want.sort();
    assert_eq!(
        got.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        want
    );
    for e in &got {
        if e.name == "sub dir" {
            assert_eq!(e.attr.kind, FileKind::Directory);
        } else {
            let i = names.iter().position(|n| *n == e.name).unwrap();
            assert_eq!(e.attr.kind, FileKind::File);
            assert_eq!(e.attr.size, (i * 10) as u64, "{}", e.name);
            assert_eq!(b.stat(&p(&e.name)).await.unwrap().size, (i * 10) as u64);
        }
    }
    // And on the server's side, the names are the same bytes.
    assert!(s.dir.join("ünïcødé ✓.txt").exists());
    assert!(s.dir.join("with space.txt").exists());
    assert_eq!(b.stat(&p("missing")).await, Err(FsError::NotFound));
    assert_eq!(b.list(&p("missing")).await, Err(FsError::NotFound));
    assert_eq!(b.stat(&p("missing/deeper")).await, Err(FsError::NotFound));
    assert_eq!(
        b.list(&p("plain.txt")).await.unwrap_err(),
        FsError::NotDirectory
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_a_directory_of_2000_files() {
    let s = Scratch::new("many").await;
    // Made on the server's side (as the share's user would see them).
    let dir = s.dir.join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..2000 {
        std::fs::write(dir.join(format!("file {i:04}.dat")), i.to_string()).unwrap();
    }
    let t = std::time::Instant::now();
    let got = s.backend.list(&p("many")).await.unwrap();
    let took = t.elapsed();
    assert_eq!(got.len(), 2000);
    let e = got.iter().find(|e| e.name == "file 1234.dat").unwrap();
    assert_eq!(e.attr.size, 4);
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_at_offsets_and_appends() {
    let s = Scratch::new("rw").await;
    let b = &s.backend;
    let (h, attr) = b.open(&p("f"), CREATE).await.unwrap();
    assert_eq!(attr.size, 0);
    b.write(&h, 0, b"hello world").await.unwrap();
    b.write(&h, 6, b"WORLD").await.unwrap();
    // A write past the end leaves a hole of zeros.
    b.write(&h, 20, b"end").await.unwrap();
    assert_eq!(
        b.read(&h, 0, 100).await.unwrap(),
        &b"hello WORLD\0\0\0\0\0\0\0\0\0end"[..]
    );
    assert_eq!(b.read(&h, 6, 5).await.unwrap(), &b"WORLD"[..]);
    assert_eq!(b.read(&h, 23, 10).await.unwrap(), &b""[..]);
    assert_eq!(b.read(&h, 1000, 10).await.unwrap(), &b""[..]);
    b.close(h).await.unwrap();
    assert_eq!(std::fs::read(s.dir.join("f")).unwrap().len(), 23);

    // Append: open without truncating, write at the size the open reported.
    let (h, attr) = b.open(&p("f"), RW).await.unwrap();
    assert_eq!(attr.size, 23);
    b.write(&h, attr.size, b"+more").await.unwrap();
    b.close(h).await.unwrap();
    assert_eq!(
        std::fs::read(s.dir.join("f")).unwrap(),
        b"hello WORLD\0\0\0\0\0\0\0\0\0end+more"
    );

    // A read sees what someone changed on the server since the open.
    let (h, _) = b
        .open(
            &p("f"),
            OpenFlags {
                read: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    std::fs::write(
        s.dir.join("f"),
        b"changed on the server, and longer than before",
    )
    .unwrap();
    assert_eq!(
        b.read(&h, 0, 4096).await.unwrap(),
        &b"changed on the server, and longer than before"[..]
    );
    b.close(h).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_flags_create_exclusive_and_truncate() {
    let s = Scratch::new("flags").await;
    let b = &s.backend;
    assert_eq!(b.open(&p("nope"), RW).await.unwrap_err(), FsError::NotFound);
    put(&s, "f", b"content").await;
    let excl = OpenFlags {
        exclusive: true,
        ..CREATE
    };
    assert_eq!(b.open(&p("f"), excl).await.unwrap_err(), FsError::Exists);
    let (h, _) = b.open(&p("new"), excl).await.unwrap();
    b.close(h).await.unwrap();
    let (h, attr) = b
        .open(
            &p("f"),
            OpenFlags {
                truncate: true,
                ..RW
            },
        )
        .await
        .unwrap();
    assert_eq!(attr.size, 0);
    b.close(h).await.unwrap();
    assert_eq!(std::fs::read(s.dir.join("f")).unwrap(), b"");
    b.mkdir(&p("d")).await.unwrap();
    assert_eq!(b.open(&p("d"), RW).await.unwrap_err(), FsError::IsDirectory);
    // A path through a file: Samba answers OBJECT_PATH_NOT_FOUND.
    assert_eq!(
        b.open(&p("f/x"), CREATE).await.unwrap_err(),
        FsError::NotFound
    );
    // A 0-byte file exists and reads empty.
    let (h, _) = b.open(&p("empty"), CREATE).await.unwrap();
    b.close(h).await.unwrap();
    assert_eq!(b.stat(&p("empty")).await.unwrap().size, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncates_through_a_write_only_handle_and_by_path() {
    let s = Scratch::new("trunc").await;
    let b = &s.backend;
    put(&s, "f", &pattern(10_000, 1)).await;
    let (h, _) = b.open(&p("f"), WRITE_ONLY).await.unwrap();
    b.set_len(&h, 100).await.unwrap();
    b.close(h).await.unwrap();
    assert_eq!(
        std::fs::read(s.dir.join("f")).unwrap(),
        pattern(10_000, 1)[..100]
    );
    b.truncate(&p("f"), 5000).await.unwrap();
    let back = std::fs::read(s.dir.join("f")).unwrap();
    assert_eq!(back.len(), 5000);
    assert!(back[100..].iter().all(|&c| c == 0));
    b.truncate(&p("f"), 0).await.unwrap();
    assert_eq!(b.stat(&p("f")).await.unwrap().size, 0);
    assert_eq!(b.truncate(&p("missing"), 0).await, Err(FsError::NotFound));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_replaces_a_file_and_moves_directories() {
    let s = Scratch::new("rename").await;
    let b = &s.backend;
    put(&s, "target", b"old").await;
    put(&s, "target.tmp", b"new content").await;
    // An editor's safe save: the new file replaces the old one.
    b.rename(&p("target.tmp"), &p("target")).await.unwrap();
    assert_eq!(std::fs::read(s.dir.join("target")).unwrap(), b"new content");
    assert!(!s.dir.join("target.tmp").exists());
    // SMB (unlike POSIX) refuses to replace a file that is open: Samba
    // answers STATUS_ACCESS_DENIED, and nothing changes.
    put(&s, "t2", b"second").await;
    let (h, _) = b.open(&p("target"), RW).await.unwrap();
    let r = b.rename(&p("t2"), &p("target")).await;
    b.close(h).await.unwrap();
    assert_eq!(r, Err(FsError::PermissionDenied));
    assert_eq!(std::fs::read(s.dir.join("target")).unwrap(), b"new content");
    b.rename(&p("t2"), &p("target")).await.unwrap();
    assert_eq!(std::fs::read(s.dir.join("target")).unwrap(), b"second");

    // Directory rename, with content, into another directory.
    b.mkdir(&p("d1")).await.unwrap();
    put(&s, "d1/inner", b"x").await;
    b.mkdir(&p("into")).await.unwrap();
    b.rename(&p("d1"), &p("into/d2")).await.unwrap();
    assert_eq!(std::fs::read(s.dir.join("into/d2/inner")).unwrap(), b"x");
    // Over an empty directory: replaced; over a full one: NotEmpty.
    b.mkdir(&p("empty")).await.unwrap();
    b.rename(&p("into/d2"), &p("empty")).await.unwrap();
    assert!(s.dir.join("empty/inner").exists());
    b.mkdir(&p("other")).await.unwrap();
    assert_eq!(
        b.rename(&p("other"), &p("empty")).await,
        Err(FsError::NotEmpty)
    );
    // Kinds: a file over a directory, a directory over a file.
    assert_eq!(
        b.rename(&p("target"), &p("other")).await,
        Err(FsError::IsDirectory)
    );
    assert_eq!(
        b.rename(&p("other"), &p("target")).await,
        Err(FsError::NotDirectory)
    );
    assert_eq!(
        b.rename(&p("missing"), &p("x")).await,
        Err(FsError::NotFound)
    );
    // Unicode names survive a rename.
    b.rename(&p("target"), &p("zielé ✓")).await.unwrap();
    assert!(s.dir.join("zielé ✓").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mkdir_rmdir_and_unlink() {
    let s = Scratch::new("dirs").await;
    let b = &s.backend;
    let attr = b.mkdir(&p("d")).await.unwrap();
    assert_eq!(attr.kind, FileKind::Directory);
    assert!(s.dir.join("d").is_dir());
    assert_eq!(b.mkdir(&p("d")).await, Err(FsError::Exists));
    assert_eq!(b.mkdir(&p("no/deeper")).await, Err(FsError::NotFound));
    put(&s, "d/f", b"x").await;
    assert_eq!(b.rmdir(&p("d")).await, Err(FsError::NotEmpty));
    assert_eq!(b.unlink(&p("d")).await, Err(FsError::IsDirectory));
    assert_eq!(b.rmdir(&p("d/f")).await, Err(FsError::NotDirectory));
    b.unlink(&p("d/f")).await.unwrap();
    assert!(!s.dir.join("d/f").exists());
    assert_eq!(b.unlink(&p("d/f")).await, Err(FsError::NotFound));
    b.rmdir(&p("d")).await.unwrap();
    assert!(!s.dir.join("d").exists());
    assert_eq!(b.rmdir(&p("d")).await, Err(FsError::NotFound));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_times_by_path() {
    let s = Scratch::new("times").await;
    let b = &s.backend;
    put(&s, "f", b"x").await;
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let atime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_100_000_000);
    b.set_times(
        &p("f"),
        Times {
            atime: Some(atime),
            mtime: Some(mtime),
        },
    )
    .await
    .unwrap();
    let a = b.stat(&p("f")).await.unwrap();
    assert_eq!(a.mtime, mtime);
    assert_eq!(a.atime, atime);
    let local = std::fs::metadata(s.dir.join("f")).unwrap();
    assert_eq!(local.modified().unwrap(), mtime);
    // One of them only: the other stays.
    let m2 = mtime + Duration::from_secs(60);
    b.set_times(
        &p("f"),
        Times {
            atime: None,
            mtime: Some(m2),
        },
    )
    .await
    .unwrap();
    let a = b.stat(&p("f")).await.unwrap();
    assert_eq!((a.mtime, a.atime), (m2, atime));
    // Directories too.
    b.mkdir(&p("d")).await.unwrap();
    b.set_times(
        &p("d"),
        Times {
            atime: None,
            mtime: Some(mtime),
        },
    )
    .await
    .unwrap();
    assert_eq!(b.stat(&p("d")).await.unwrap().mtime, mtime);
    assert_eq!(
        b.set_times(
            &p("missing"),
            Times {
                atime: None,
                mtime: Some(mtime)
            }
        )
        .await,
        Err(FsError::NotFound)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_and_close_reach_the_server() {
    let s = Scratch::new("flush").await;
    let b = &s.backend;
    let (h, _) = b.open(&p("f"), CREATE).await.unwrap();
    b.write(&h, 0, b"durable").await.unwrap();
    b.flush(&h).await.unwrap();
    assert_eq!(std::fs::read(s.dir.join("f")).unwrap(), b"durable");
    b.close(h).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statfs_reports_the_shares_space() {
    let s = Scratch::new("statfs").await;
    let st = s.backend.statfs().await.unwrap();
    assert!(st.block_size >= 512, "{st:?}");
    assert!(
        st.blocks > 0 && st.free <= st.blocks && st.available <= st.blocks,
        "{st:?}"
    );
}
