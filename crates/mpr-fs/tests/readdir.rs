//! Listings through a real mount: every listing asks the server, so a
//! file a colleague creates shows within the TTL (≤ 1 s); big directories
//! list whole.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

fn names(p: &std::path::Path) -> BTreeSet<String> {
    fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn a_new_server_file_appears_within_a_second() {
    let m = common::mnt();
    assert!(names(&m.path()).is_empty());
    m.server.put("from-colleague.txt", b"hi");
    let t0 = std::time::Instant::now();
    assert!(
        common::eventually(Duration::from_secs(1), || names(&m.path())
            .contains("from-colleague.txt")),
        "not listed within 1 s"
    );
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert_eq!(fs::read(m.at("from-colleague.txt")).unwrap(), b"hi");
}

#[test]
fn a_file_removed_on_the_server_disappears() {
    let m = common::mnt();
    m.server.put("gone", b"x");
    assert!(m.at("gone").exists());
    fs::remove_file(m.at("gone")).unwrap();
    assert!(!m.at("gone").exists());
    assert!(names(&m.path()).is_empty());
}

#[test]
fn large_directories_list_whole() {
    let m = common::mnt();
    fs::create_dir(m.at("many")).unwrap();
    for i in 0..2000 {
        m.server.put(&format!("many/file {i:04}"), b"");
    }
    let got = names(&m.at("many"));
    assert_eq!(got.len(), 2000);
    assert!(got.contains("file 1999"));
}

#[test]
fn mkdir_and_rmdir() {
    let m = common::mnt();
    fs::create_dir(m.at("d")).unwrap();
    assert!(m.at("d").is_dir());
    fs::write(m.at("d/f"), b"").unwrap();
    assert_eq!(
        fs::remove_dir(m.at("d")).unwrap_err().raw_os_error(),
        Some(39)
    );
    fs::remove_file(m.at("d/f")).unwrap();
    fs::remove_dir(m.at("d")).unwrap();
    assert!(!m.at("d").exists());
    assert_eq!(
        fs::create_dir(m.at("x/y")).unwrap_err().raw_os_error(),
        Some(2)
    );
}
