//! The differential test through a real WebDAV mount: random sequences of
//! file operations (`mpr_fs::testing::run_reference`: opens in every mode,
//! reads and writes at random offsets, appends, truncations, renames,
//! unlinks, mkdir/rmdir) applied to mpr's own file system over the
//! loopback `rclone serve webdav` and to a local directory, results and
//! trees compared after every step.
//!
//! CI runs the fixed seeds below; a long or targeted run:
//! `MPR_DAV_REF_SEED` (one seed, a comma list, or a range `FIRST..LAST`)
//! and `MPR_DAV_REF_STEPS`.

mod common;

use common::DavMount;
use mpr_fs::testing::run_reference;

/// The seeds CI runs, each for [`STEPS`] steps.
const SEEDS: [u64; 3] = [1, 2, 42];

/// Steps per seed in CI.
const STEPS: usize = 500;

fn seeds() -> Vec<u64> {
    let Ok(s) = std::env::var("MPR_DAV_REF_SEED") else {
        return SEEDS.to_vec();
    };
    if let Some((a, b)) = s.split_once("..") {
        let (a, b): (u64, u64) = (a.parse().expect("a number"), b.parse().expect("a number"));
        return (a..=b).collect();
    }
    s.split(',')
        .map(|x| x.trim().parse().expect("a number"))
        .collect()
}

fn steps() -> usize {
    std::env::var("MPR_DAV_REF_STEPS")
        .ok()
        .map_or(STEPS, |s| s.parse().expect("a number of steps"))
}

#[test]
fn random_operations_on_the_webdav_mount_agree_with_a_local_directory() {
    let m = DavMount::new("reference");
    for seed in seeds() {
        let t = std::time::Instant::now();
        run_reference(&m.path(), seed, steps()).unwrap_or_else(|d| panic!("{d}"));
        eprintln!("seed {seed}: {} steps in {:?}", steps(), t.elapsed());
    }
}
