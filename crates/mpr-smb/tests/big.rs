//! Large transfers and concurrent callers, as several FUSE threads make
//! them: many requests in flight on the one session.

mod common;

use common::{Scratch, p, pattern};
use mpr_fs::{Backend, OpenFlags};
use std::sync::Arc;

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_64_mib_file_is_written_and_read_back_whole() {
    let s = Arc::new(Scratch::new("big").await);
    let data = Arc::new(pattern(64 * MIB, 7));
    let flags = OpenFlags {
        read: true,
        write: true,
        create: true,
        ..Default::default()
    };
    let (h, _) = s.backend.open(&p("big.bin"), flags).await.unwrap();
    let h = Arc::new(h);
    // 1 MiB writes from 8 tasks at once, as FUSE threads would send them.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (s, h, data) = (s.clone(), h.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            for i in (t..64).step_by(8) {
                let off = i * MIB;
                s.backend
                    .write(&h, off as u64, &data[off..off + MIB])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    s.backend.flush(&h).await.unwrap();
    assert_eq!(
        std::fs::metadata(s.dir.join("big.bin")).unwrap().len(),
        64 * MIB as u64
    );
    assert!(std::fs::read(s.dir.join("big.bin")).unwrap() == *data);

    // Read back: 1 MiB reads from 8 tasks, then one 8 MiB read that the
    // back end splits into requests in flight together.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (s, h) = (s.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in (t..64).step_by(8) {
                got.push((
                    i,
                    s.backend
                        .read(&h, (i * MIB) as u64, MIB as u32)
                        .await
                        .unwrap(),
                ));
            }
            got
        }));
    }
    let mut back = vec![0u8; 64 * MIB];
    for t in tasks {
        for (i, chunk) in t.await.unwrap() {
            assert_eq!(chunk.len(), MIB);
            back[i * MIB..(i + 1) * MIB].copy_from_slice(&chunk);
        }
    }
    assert!(back == *data, "the 64 MiB came back different");
    let eight = s.backend.read(&h, 3, 8 * MIB as u32).await.unwrap();
    assert!(eight[..] == data[3..3 + 8 * MIB]);
    let tail = s
        .backend
        .read(&h, (64 * MIB - 10) as u64, 8 * MIB as u32)
        .await
        .unwrap();
    assert!(tail[..] == data[64 * MIB - 10..]);
    // One 8 MiB write, split the same way.
    let other = pattern(8 * MIB + 5, 9);
    s.backend.write(&h, 0, &other).await.unwrap();
    let h = Arc::try_unwrap(h).unwrap();
    s.backend.close(h).await.unwrap();
    let local = std::fs::read(s.dir.join("big.bin")).unwrap();
    assert!(local[..other.len()] == other[..]);
    assert!(local[other.len()..] == data[other.len()..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_work_on_many_files_at_once() {
    let s = Arc::new(Scratch::new("conc").await);
    let mut tasks = Vec::new();
    for t in 0..16u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let b = &s.backend;
            let dir = format!("t{t}");
            b.mkdir(&p(&dir)).await.unwrap();
            for i in 0..10 {
                let name = format!("{dir}/f{i}");
                let data = pattern(1000 + i * 997, t);
                let flags = OpenFlags {
                    read: true,
                    write: true,
                    create: true,
                    ..Default::default()
                };
                let (h, _) = b.open(&p(&name), flags).await.unwrap();
                b.write(&h, 0, &data).await.unwrap();
                assert_eq!(b.read(&h, 0, 1 << 16).await.unwrap(), data);
                b.close(h).await.unwrap();
                assert_eq!(b.stat(&p(&name)).await.unwrap().size, data.len() as u64);
            }
            b.rename(&p(&format!("{dir}/f0")), &p(&format!("{dir}/f1")))
                .await
                .unwrap();
            assert_eq!(b.list(&p(&dir)).await.unwrap().len(), 9);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        s.backend
            .list(&mpr_fs::RelPath::root())
            .await
            .unwrap()
            .len(),
        16
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_past_4_gib_work() {
    // Sparse on the server: 5 GiB of apparent size, a few bytes stored.
    let s = Scratch::new("huge").await;
    let flags = OpenFlags {
        read: true,
        write: true,
        create: true,
        ..Default::default()
    };
    let (h, _) = s.backend.open(&p("huge"), flags).await.unwrap();
    let off = 5u64 << 30;
    s.backend.write(&h, off, b"far out").await.unwrap();
    assert_eq!(s.backend.read(&h, off, 100).await.unwrap(), &b"far out"[..]);
    assert_eq!(
        s.backend.read(&h, off - 4, 6).await.unwrap(),
        &b"\0\0\0\0fa"[..]
    );
    s.backend.set_len(&h, off + 3).await.unwrap();
    s.backend.close(h).await.unwrap();
    assert_eq!(s.backend.stat(&p("huge")).await.unwrap().size, off + 3);
    assert_eq!(
        std::fs::metadata(s.dir.join("huge")).unwrap().len(),
        off + 3
    );
}
