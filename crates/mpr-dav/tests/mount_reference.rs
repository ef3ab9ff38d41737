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
use mpr_fs::testing::util::{reference_seeds, reference_steps};

/// The seeds CI runs, each for [`STEPS`] steps.
const SEEDS: [u64; 3] = [1, 2, 42];

/// Steps per seed in CI.
const STEPS: usize = 500;

fn seeds() -> Vec<u64> {
    reference_seeds("MPR_DAV_REF_SEED", &SEEDS)
}

fn steps() -> usize {
    reference_steps("MPR_DAV_REF_STEPS", STEPS)
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
