//! setattr through a real mount: utimens, truncate by path, chmod/chown
//! (only to the values shown; any other is EPERM, as the protocols store
//! no modes or owners), ownership shown as the mounting user.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, SystemTime};

#[test]
fn utimens_sets_the_modification_time() {
    let m = common::mnt();
    fs::write(m.at("f"), b"x").unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let f = fs::File::options().write(true).open(m.at("f")).unwrap();
    f.set_modified(when).unwrap();
    drop(f);
    assert_eq!(fs::metadata(m.at("f")).unwrap().modified().unwrap(), when);
}

#[test]
fn touch_of_an_existing_file_updates_it() {
    let m = common::mnt();
    m.server.put("f", b"keep me");
    let st = std::process::Command::new("touch")
        .arg(m.at("f"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(m.server.get("f").unwrap(), b"keep me");
    let age = SystemTime::now()
        .duration_since(fs::metadata(m.at("f")).unwrap().modified().unwrap())
        .unwrap_or_default();
    assert!(age < Duration::from_secs(5), "{age:?}");
}

#[test]
fn truncate_by_path() {
    let m = common::mnt();
    m.server.put("f", b"0123456789");
    let st = std::process::Command::new("truncate")
        .args(["-s", "4"])
        .arg(m.at("f"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(m.server.get("f").unwrap(), b"0123");
}

#[test]
fn chmod_to_the_shown_mode_succeeds_and_any_other_is_eperm() {
    let m = common::mnt();
    fs::write(m.at("f"), b"").unwrap();
    let meta = fs::metadata(m.at("f")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    fs::set_permissions(m.at("f"), meta.permissions()).unwrap();
    let e = fs::set_permissions(m.at("f"), fs::Permissions::from_mode(0o600)).unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(1),
        "EPERM, not EIO and not a silent success"
    );
    assert_eq!(
        fs::metadata(m.at("f")).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn files_belong_to_the_mounting_user() {
    let m = common::mnt();
    fs::write(m.at("f"), b"").unwrap();
    let meta = fs::metadata(m.at("f")).unwrap();
    let me = fs::metadata("/proc/self").unwrap();
    assert_eq!((meta.uid(), meta.gid()), (me.uid(), me.gid()));
    std::os::unix::fs::chown(m.at("f"), Some(me.uid()), Some(me.gid())).unwrap();
    assert_eq!(
        std::os::unix::fs::chown(m.at("f"), Some(me.uid() + 1), None)
            .unwrap_err()
            .raw_os_error(),
        Some(1)
    );
}

#[test]
fn symlinks_and_hard_links_are_refused_cleanly() {
    let m = common::mnt();
    fs::write(m.at("f"), b"").unwrap();
    let e = std::os::unix::fs::symlink("f", m.at("l")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(1), "EPERM");
    let e = fs::hard_link(m.at("f"), m.at("h")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(1), "EPERM");
}

/// `fallocate` without flags (what `posix_fallocate` and `fallocate -l`
/// ask) makes the file at least that long, with zeros; a range inside the
/// file changes nothing; the flags no protocol can honour (keep the size,
/// punch a hole) are EOPNOTSUPP, never a success that did nothing.
#[test]
fn fallocate_extends_with_zeros_and_refuses_what_it_cannot_do() {
    let m = common::mnt();
    fs::write(m.at("f"), b"abc").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new("fallocate")
            .args(args)
            .arg(m.at("f"))
            .output()
            .expect("run fallocate (util-linux)")
    };
    assert!(run(&["-l", "1MiB"]).status.success());
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 1 << 20);
    let mut want = b"abc".to_vec();
    want.resize(1 << 20, 0);
    assert_eq!(m.server.get("f").unwrap(), want, "on the server");
    assert_eq!(fs::read(m.at("f")).unwrap(), want);
    // Inside the file: nothing to do.
    assert!(run(&["-o", "10", "-l", "100"]).status.success());
    assert_eq!(fs::metadata(m.at("f")).unwrap().len(), 1 << 20);
    for flags in [&["-n", "-l", "4MiB"][..], &["-p", "-o", "0", "-l", "4096"]] {
        let out = run(flags);
        assert!(!out.status.success(), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        // util-linux words EOPNOTSUPP per mode ("... is unsupported").
        assert!(err.contains("supported"), "{flags:?}: {err}");
    }
    assert_eq!(m.server.get("f").unwrap(), want);
}
