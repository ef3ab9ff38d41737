//! The session: mount options as the mount table shows them, and the
//! session ending when the mount is unmounted from outside.

mod common;

use mpr_fs::fs::Fs;
use mpr_fs::session::{MountOptions, mount};
use mpr_fs::testing::MemBackend;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn the_mount_table_shows_fsname_and_subtype() {
    let m = common::mnt();
    let table = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let line = table
        .lines()
        .find(|l| l.split(' ').nth(1) == Some(&*m.path().to_string_lossy()))
        .expect("mounted");
    assert!(line.starts_with("mpr:test "), "{line}");
    assert!(line.contains(" fuse.mpr "), "{line}");
    assert!(line.contains("default_permissions"), "{line}");
    assert!(line.contains("nosuid") && line.contains("nodev"), "{line}");
}

#[test]
fn the_session_ends_when_unmounted_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fs = Arc::new(Fs::new(MemBackend::new(), common::config()));
    rt.block_on(fs.connect()).unwrap();
    let mounted = mount(
        fs,
        dir.path(),
        &MountOptions {
            remote: r"\\srv\share".into(),
            threads: 2,
        },
        rt.handle().clone(),
    )
    .unwrap();
    assert!(common::is_mounted(dir.path()));
    let st = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(common::eventually(Duration::from_secs(5), || !mounted.is_running()));
    mounted.join().unwrap();
    assert!(!common::is_mounted(dir.path()));
}
