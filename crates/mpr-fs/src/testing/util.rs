//! Small helpers every back end's mounted tests share: the loopback
//! fixture's settings, the mount configuration, waiting for a condition,
//! errno of an I/O error, patterned bytes, a free port, and fio.

use crate::fs::FsConfig;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The settings `scripts/test-servers.sh start` wrote to
/// `$MPR_TEST_SERVERS/env` (default `/tmp/mpr-test-servers`); panics with
/// what to do when the servers were never started.
pub fn fixture_env() -> HashMap<String, String> {
    let base = std::env::var("MPR_TEST_SERVERS").unwrap_or_else(|_| "/tmp/mpr-test-servers".into());
    let env = Path::new(&base).join("env");
    let text = std::fs::read_to_string(&env).unwrap_or_else(|e| {
        panic!(
            "the test servers are not running ({}: {e}): run `bash scripts/test-servers.sh start`",
            env.display()
        )
    });
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// The configuration a test mount gets by default: production's, owned
/// by the user running the test.
pub fn mount_config() -> FsConfig {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").expect("/proc/self");
    FsConfig {
        uid: me.uid(),
        gid: me.gid(),
        ..FsConfig::default()
    }
}

/// Processes stopped with `SIGSTOP` (a server that answers nothing while
/// its connections stay open), sent `SIGCONT` when this is dropped, however
/// the test ends, so that they can finish and exit.
#[derive(Debug)]
pub struct Stopped(Vec<u32>);

impl Stopped {
    /// Stops `pids`.
    pub fn new(pids: Vec<u32>) -> Stopped {
        signal(&pids, "-STOP");
        Stopped(pids)
    }

    /// The processes stopped.
    pub fn pids(&self) -> &[u32] {
        &self.0
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(&self.0, "-CONT");
    }
}

fn signal(pids: &[u32], sig: &str) {
    for pid in pids {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
    }
}

/// Waits up to `limit` for `f` to hold; whether it did.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The errno of an I/O error (-1 if it has none).
pub fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

/// Deterministic bytes (a counter mixed with its block number), so a
/// misplaced block is seen.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ ((i >> 12) as u8) ^ seed)
        .collect()
}

/// `len` deterministic bytes without a short period (a chunk read from
/// the wrong offset never matches by chance); `seed` picks the sequence.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Runs fio in `dir` with `--verify=crc32c` and `args`; fails with fio's
/// own words (a missing fio fails, it never skips).
pub fn fio(dir: &Path, args: &[&str]) {
    let out = Command::new("fio")
        .arg(format!("--directory={}", dir.display()))
        .args([
            "--ioengine=psync",
            "--verify=crc32c",
            "--do_verify=1",
            "--verify_fatal=1",
            "--end_fsync=1",
            "--group_reporting",
            // No `*-verify.state` files left in the crate's folder.
            "--verify_state_save=0",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "fio cannot be run ({e}): install it with `bash scripts/ci-deps.sh` (package fio)"
            )
        });
    assert!(
        out.status.success(),
        "fio {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("err= 0"),
        "fio {args:?} reported an error:\n{text}"
    );
}

/// The seeds of a reference-model run: `default`, or what the environment
/// variable `var` says (one seed, a comma list, or a range `FIRST..LAST`).
pub fn reference_seeds(var: &str, default: &[u64]) -> Vec<u64> {
    let Ok(s) = std::env::var(var) else {
        return default.to_vec();
    };
    if let Some((a, b)) = s.split_once("..") {
        let (a, b): (u64, u64) = (a.parse().expect("a number"), b.parse().expect("a number"));
        return (a..=b).collect();
    }
    s.split(',')
        .map(|x| x.trim().parse().expect("a number"))
        .collect()
}

/// The steps per seed of a reference-model run: `default`, or the
/// environment variable `var`.
pub fn reference_steps(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .map_or(default, |s| s.parse().expect("a number of steps"))
}
