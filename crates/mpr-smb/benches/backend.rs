//! Loopback figures for the SMB back end against the test smbd
//! (`bash scripts/test-servers.sh start` first): connect, a 64 MiB write
//! and read in 1 MiB calls with 8 in flight (as FUSE threads send them),
//! the same with a mutex around each call (what sharing the client behind a
//! lock would cost), and listing 2,000 files. Medians of 5 (connect: 11).
//!
//! `cargo bench -p mpr-smb --bench backend`

#[path = "../tests/common/mod.rs"]
mod common;

use mpr_fs::{Backend, OpenFlags};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn transfer(
    s: &Arc<common::Scratch>,
    write: bool,
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
) -> Duration {
    let flags = OpenFlags {
        read: true,
        write: true,
        create: true,
        ..Default::default()
    };
    let (h, _) = s
        .backend
        .open(&common::p("bench.bin"), flags)
        .await
        .unwrap();
    let h = Arc::new(h);
    let data = Arc::new(common::pattern(MIB, 5));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..8 {
        let (s, h, data, lock) = (s.clone(), h.clone(), data.clone(), lock.clone());
        tasks.push(tokio::spawn(async move {
            for i in (k..64).step_by(8) {
                let _g = match &lock {
                    Some(l) => Some(l.lock().await),
                    None => None,
                };
                let off = (i * MIB) as u64;
                if write {
                    s.backend.write(&h, off, &data).await.unwrap();
                } else {
                    assert_eq!(
                        s.backend.read(&h, off, MIB as u32).await.unwrap().len(),
                        MIB
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = t.elapsed();
    let h = Arc::try_unwrap(h).unwrap();
    s.backend.close(h).await.unwrap();
    took
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let servers = common::Servers::get();
        let mut connects = Vec::new();
        for _ in 0..11 {
            let b = mpr_smb::SmbBackend::new(servers.config(""));
            let t = Instant::now();
            b.connect().await.unwrap();
            connects.push(t.elapsed());
        }
        println!(
            "connect (TCP, negotiate, session setup, tree connect): {:?}",
            median(connects)
        );
        let s = Arc::new(common::Scratch::new("bench").await);
        let lock = Some(Arc::new(tokio::sync::Mutex::new(())));
        for (name, write, lock) in [
            ("write 64 MiB, 8 in flight", true, None),
            ("read 64 MiB, 8 in flight", false, None),
            ("write 64 MiB, one at a time (mutex)", true, lock.clone()),
            ("read 64 MiB, one at a time (mutex)", false, lock.clone()),
        ] {
            let mut v = Vec::new();
            for _ in 0..5 {
                v.push(transfer(&s, write, lock.clone()).await);
            }
            let m = median(v);
            println!("{name}: {m:?} ({:.0} MiB/s)", 64.0 / m.as_secs_f64());
        }
        let dir = s.dir.join("many");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..2000 {
            std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
        }
        let mut v = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            assert_eq!(
                s.backend.list(&common::p("many")).await.unwrap().len(),
                2000
            );
            v.push(t.elapsed());
        }
        println!("list 2,000 files: {:?}", median(v));
    });
}
