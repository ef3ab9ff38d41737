//! Coherence and healing through a real mount: a file a colleague changes
//! on the server is read whole at its new size on the next open (even
//! within the attribute TTL); a lost session heals underneath the mount;
//! an outage fails calls with EIO within the bound and the mount works
//! again afterwards, with the health file telling the truth throughout.

mod common;

use mpr_fs::error::ConnectError;
use mpr_fs::fs::FsConfig;
use mpr_fs::health::Health;
use mpr_fs::testing::ConnectFault;
use std::fs;
use std::time::{Duration, Instant};

#[test]
fn a_file_changed_on_the_server_is_read_whole_at_its_new_size() {
    let m = common::mnt();
    m.server.put("shared.txt", b"short");
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), b"short");
    // Within the TTL: the kernel still holds the old size and pages.
    std::thread::sleep(Duration::from_millis(5));
    m.server
        .put("shared.txt", b"a colleague wrote a much longer text");
    assert_eq!(
        fs::metadata(m.at("shared.txt")).unwrap().len(),
        5,
        "within the TTL a stat may show the cached size (this test needs it to)"
    );
    assert_eq!(
        fs::read(m.at("shared.txt")).unwrap(),
        b"a colleague wrote a much longer text"
    );
    std::thread::sleep(Duration::from_millis(5));
    m.server.put("shared.txt", b"cut");
    assert_eq!(fs::read(m.at("shared.txt")).unwrap(), b"cut");
    assert_eq!(fs::metadata(m.at("shared.txt")).unwrap().len(), 3);
}

#[test]
fn same_size_changes_are_seen_too() {
    let m = common::mnt();
    m.server.put("f", b"aaaa");
    assert_eq!(fs::read(m.at("f")).unwrap(), b"aaaa");
    std::thread::sleep(Duration::from_millis(5));
    m.server.put("f", b"bbbb");
    assert_eq!(fs::read(m.at("f")).unwrap(), b"bbbb");
}

#[test]
fn a_missing_name_is_remembered_for_the_negative_ttl_only() {
    let mut cfg = common::config();
    cfg.negative_ttl = Duration::from_millis(500);
    let m = common::mount_with(cfg);
    let missing = |name: &str| {
        fs::metadata(m.at(name)).map_err(|e| e.kind()).err() == Some(std::io::ErrorKind::NotFound)
    };
    assert!(missing("later"));
    let asked = m.server.calls();
    assert!(missing("later"));
    assert_eq!(
        m.server.calls(),
        asked,
        "a second look within the TTL reached the server"
    );
    // Created through the mount: there at once.
    fs::write(m.at("later"), b"x").unwrap();
    assert_eq!(fs::read(m.at("later")).unwrap(), b"x");
    assert!(m.server.get("later").is_some());
    // Made on the server after a look: seen once the TTL is over.
    assert!(missing("colleague"));
    m.server.put("colleague", b"y");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(fs::read(m.at("colleague")).unwrap(), b"y");
    // Without a TTL, every look asks, and a file made on the server is
    // there at the very next one.
    let mut cfg = common::config();
    cfg.negative_ttl = Duration::ZERO;
    let m = common::mount_with(cfg);
    assert!(!m.at("x").exists());
    let asked = m.server.calls();
    assert!(!m.at("x").exists());
    assert!(m.server.calls() > asked, "the second look was not asked");
    m.server.put("x", b"z");
    assert_eq!(fs::read(m.at("x")).unwrap(), b"z");
}

#[test]
fn a_listing_that_shows_a_new_name_ends_its_negative_entry() {
    let mut cfg = common::config();
    cfg.negative_ttl = Duration::from_secs(5);
    cfg.attr_ttl = Duration::from_secs(5);
    let m = common::mount_with(cfg);
    assert!(!m.at("new").exists());
    m.server.put("new", b"made on the server");
    // Within the negative entry's life, but after a listing that shows
    // the name (READDIRPLUS replaces the kernel's negative entry).
    let names: Vec<_> = fs::read_dir(m.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["new"]);
    assert_eq!(fs::read(m.at("new")).unwrap(), b"made on the server");
}

#[test]
fn a_lost_session_heals_underneath_the_mount() {
    let m = common::mnt();
    fs::write(m.at("f"), b"before").unwrap();
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("f"))
        .unwrap();
    m.server.disconnect();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"AFTER!", 0).unwrap();
    drop(f);
    assert_eq!(m.server.get("f").unwrap(), b"AFTER!");
    assert_eq!(m.server.connects(), 2);
    assert_eq!(m.fs().health(), Health::Ok);
}

#[test]
fn an_outage_fails_calls_within_the_bound_and_the_mount_works_again() {
    let dir = tempfile::tempdir().unwrap();
    let health = dir.path().join("health.json");
    let m = common::mount_with(FsConfig {
        op_timeout: Duration::from_secs(1),
        health_file: Some(health.clone()),
        ..common::config()
    });
    fs::write(m.at("f"), b"x").unwrap();
    assert_eq!(Health::read(&health), Some(Health::Ok));
    m.server.disconnect();
    m.server
        .set_connect_fault(ConnectFault::Fail(ConnectError::Unreachable(
            "connection refused".into(),
        )));
    std::thread::sleep(Duration::from_millis(1100));
    let t0 = Instant::now();
    let e = fs::read(m.at("f")).unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.raw_os_error(), Some(5), "EIO: {e}");
    assert!(took < Duration::from_secs(3), "bounded: {took:?}");
    assert!(
        matches!(Health::read(&health), Some(Health::Reconnecting { .. })),
        "{:?}",
        Health::read(&health)
    );
    assert!(
        common::is_mounted(&m.path()),
        "the mount stays: {}",
        std::fs::read_to_string("/proc/self/mounts").unwrap()
    );
    m.server.set_connect_fault(ConnectFault::None);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(fs::read(m.at("f")).unwrap(), b"x");
    assert_eq!(Health::read(&health), Some(Health::Ok));
}

#[test]
fn a_password_no_longer_accepted_makes_the_mount_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let health = dir.path().join("health.json");
    let m = common::mount_with(FsConfig {
        health_file: Some(health.clone()),
        ..common::config()
    });
    m.server.disconnect();
    m.server
        .set_connect_fault(ConnectFault::Fail(ConnectError::BadPassword));
    let t0 = Instant::now();
    let e = fs::read_dir(m.path()).map(|_| ()).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(5));
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "no waiting on what will not heal"
    );
    match Health::read(&health) {
        Some(Health::Unavailable { reason }) => assert!(reason.contains("password"), "{reason}"),
        h => panic!("{h:?}"),
    }
}
