//! Renames through a real mount: an editor's atomic save over an existing
//! file, directory renames (with open files inside), Unicode and
//! space-containing names, and what renameat2 flags do.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;

#[test]
fn atomic_save_replaces_an_existing_file() {
    let m = common::mnt();
    m.server.put("doc.txt", b"version 1");
    let old = fs::File::open(m.at("doc.txt")).unwrap();
    let mut tmp = fs::File::create(m.at(".doc.txt.swp")).unwrap();
    tmp.write_all(b"version 2, longer").unwrap();
    tmp.sync_all().unwrap();
    drop(tmp);
    fs::rename(m.at(".doc.txt.swp"), m.at("doc.txt")).unwrap();
    assert_eq!(fs::read(m.at("doc.txt")).unwrap(), b"version 2, longer");
    assert_eq!(m.server.get("doc.txt").unwrap(), b"version 2, longer");
    assert!(!m.at(".doc.txt.swp").exists());
    let mut buf = [0u8; 9];
    old.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(
        &buf, b"version 1",
        "a descriptor open before keeps the old file"
    );
}

#[test]
fn directories_rename_with_their_content() {
    let m = common::mnt();
    fs::create_dir_all(m.at("proj/src")).unwrap();
    fs::write(m.at("proj/src/main.rs"), b"fn main() {}").unwrap();
    let f = fs::OpenOptions::new()
        .append(true)
        .open(m.at("proj/src/main.rs"))
        .unwrap();
    fs::rename(m.at("proj"), m.at("project")).unwrap();
    (&f).write_all(b"\n").unwrap();
    drop(f);
    assert_eq!(
        fs::read(m.at("project/src/main.rs")).unwrap(),
        b"fn main() {}\n"
    );
    assert!(!m.at("proj").exists());
    assert_eq!(
        m.server.get("project/src/main.rs").unwrap(),
        b"fn main() {}\n"
    );
}

#[test]
fn unicode_and_spaces_in_names() {
    let m = common::mnt();
    let names = [
        "naïve café.txt",
        "日本語 ファイル",
        "  leading and trailing  ",
        "emoji 🎉",
    ];
    for n in names {
        fs::write(m.at(n), n.as_bytes()).unwrap();
    }
    fs::rename(m.at(names[0]), m.at("Ünïcödé renamed")).unwrap();
    let mut listed: Vec<String> = fs::read_dir(m.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    let mut want: Vec<String> = names[1..].iter().map(|s| s.to_string()).collect();
    want.push("Ünïcödé renamed".into());
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(
        fs::read(m.at("Ünïcödé renamed")).unwrap(),
        names[0].as_bytes()
    );
}

#[test]
fn rename_errors_are_the_usual_ones() {
    let m = common::mnt();
    fs::create_dir(m.at("d")).unwrap();
    fs::write(m.at("d/x"), b"").unwrap();
    fs::create_dir(m.at("e")).unwrap();
    fs::write(m.at("f"), b"").unwrap();
    let errno = |r: std::io::Result<()>| r.unwrap_err().raw_os_error().unwrap();
    assert_eq!(errno(fs::rename(m.at("e"), m.at("d"))), 39, "ENOTEMPTY");
    assert_eq!(errno(fs::rename(m.at("f"), m.at("e"))), 21, "EISDIR");
    assert_eq!(errno(fs::rename(m.at("e"), m.at("f"))), 20, "ENOTDIR");
    assert_eq!(errno(fs::rename(m.at("nope"), m.at("g"))), 2, "ENOENT");
    fs::rename(m.at("e"), m.at("d/x2")).unwrap();
    assert!(m.at("d/x2").is_dir());
}
