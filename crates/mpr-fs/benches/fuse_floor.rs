//! The floor of mpr's own file system on this machine: a cold 64 MiB
//! sequential read (`dd bs=1M` after dropping the page cache of the file)
//! and a 64 MiB write (`dd bs=1M conv=fsync`) through a real FUSE mount of
//! the in-memory back end, so no network and no server is involved. What a
//! network back end adds is on top of this (docs/performance.md).
//!
//! `cargo bench -p mpr-fs --bench fuse_floor [-- RUNS]` (as root, or with
//! `fusermount3`); prints the median and range of the runs, and the
//! process's own CPU time per run (the file system's threads and the
//! memory back end; `dd` is a child and not counted).

use mpr_fs::fs::FsConfig;
use mpr_fs::testing::{MemBackend, mount};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const MIB: usize = 64;

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(11);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let at = dir.path().join("m");
    std::fs::create_dir(&at).expect("the mount point");
    let m = mount(MemBackend::new(), &at, FsConfig::default())
        .unwrap_or_else(|e| panic!("mounting needs /dev/fuse and fusermount3: {e}"));
    let data: Vec<u8> = (0..(MIB << 20) as u32)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 12)) as u8)
        .collect();
    let src = dir.path().join("src");
    std::fs::write(&src, &data).expect("the source file");
    let file = at.join("big");
    std::fs::write(&file, &data).expect("the file through the mount");

    let drop_cache = || {
        dd(&[
            &format!("if={}", file.display()),
            "iflag=nocache",
            "count=0",
        ])
    };
    let (read, read_cpu) = timed(runs, drop_cache, |_| {
        dd(&[&format!("if={}", file.display()), "of=/dev/null", "bs=1M"]);
    });
    let (write, write_cpu) = timed(
        runs,
        || {},
        |i| {
            dd(&[
                &format!("if={}", src.display()),
                &format!("of={}", at.join(format!("w{i}")).display()),
                "bs=1M",
                "conv=fsync",
            ]);
        },
    );
    println!(
        "mpr-fs over memory, {MIB} MiB, {runs} runs, ms: median (min-max); CPU of the file system per run"
    );
    println!(
        "cold read (dd bs=1M)          {} ; CPU {read_cpu:.1}",
        summary(read)
    );
    println!(
        "write (dd bs=1M conv=fsync)   {} ; CPU {write_cpu:.1}",
        summary(write)
    );
    m.unmount();
}

/// Runs `prepare` (untimed) then `run` (timed) `runs` times: the times,
/// and the process's CPU milliseconds per run (both included).
fn timed(runs: usize, mut prepare: impl FnMut(), mut run: impl FnMut(usize)) -> (Vec<f64>, f64) {
    let before = cpu_ms();
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        prepare();
        let t = Instant::now();
        run(i);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (times, (cpu_ms() - before) / runs as f64)
}

fn dd(args: &[&str]) {
    let st = Command::new("dd")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .expect("dd");
    assert!(st.success(), "dd {args:?}");
}

fn summary(mut t: Vec<f64>) -> String {
    t.sort_by(f64::total_cmp);
    format!("{:.1} ({:.1}-{:.1})", t[t.len() / 2], t[0], t[t.len() - 1])
}

/// This process's user and system time so far, in milliseconds.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string(Path::new("/proc/self/stat")).expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // utime and stime, in clock ticks of 10 ms (USER_HZ).
    let ticks: f64 = fields[11..13]
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    ticks * 10.0
}
