//! The differential test through a real SFTP mount: random sequences of
//! file operations (`mpr_fs::testing::run_reference`) applied to mpr's own
//! file system over the loopback sshd and to a local directory, results
//! and trees compared after every step.
//!
//! CI runs the fixed seeds below; a long or targeted run:
//! `MPR_SFTP_REF_SEED` (one seed, a comma list, or a range `FIRST..LAST`)
//! and `MPR_SFTP_REF_STEPS`.

mod common;

use common::mounted::SftpMount;
use mpr_fs::testing::run_reference;
use mpr_fs::testing::util::{reference_seeds, reference_steps};

/// The seeds CI runs, each for [`STEPS`] steps.
const SEEDS: [u64; 4] = [1, 2, 42, 0x5eed_5eed_5eed_5eed];

/// Steps per seed in CI.
const STEPS: usize = 800;

fn seeds() -> Vec<u64> {
    reference_seeds("MPR_SFTP_REF_SEED", &SEEDS)
}

fn steps() -> usize {
    reference_steps("MPR_SFTP_REF_STEPS", STEPS)
}

#[test]
fn random_operations_on_the_sftp_mount_agree_with_a_local_directory() {
    let m = SftpMount::new("reference");
    for seed in seeds() {
        let t = std::time::Instant::now();
        run_reference(&m.path(), seed, steps()).unwrap_or_else(|d| panic!("{d}"));
        eprintln!("seed {seed}: {} steps in {:?}", steps(), t.elapsed());
    }
}
