//! Bad input gets a clear error with its code and changes nothing.

use crate::util::Env;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// File names and contents of a directory.
type Snapshot = Vec<(String, Vec<u8>)>;

fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "journal.jsonl" {
                continue;
            }
            out.push((name, std::fs::read(e.path()).unwrap_or_default()));
        }
    }
    out.sort();
    out
}

fn env_with_connection() -> Env {
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    assert_eq!(
        e.mpr(&["use", "Y:", r"\\acme\s", "--persistent", "--json"])
            .wn(),
        0
    );
    e.clear_log();
    e
}

fn assert_unchanged(e: &Env, before: &(Snapshot, Snapshot)) {
    assert_eq!(&snapshot(&e.path("state")), &before.0, "state changed");
    assert_eq!(
        &snapshot(&e.path("run")),
        &before.1,
        "runtime state changed"
    );
    assert!(e.calls().is_empty(), "a plugin was called: {:?}", e.calls());
}

#[test]
fn oversized_names_are_rejected_with_their_codes() {
    let e = env_with_connection();
    let before = (snapshot(&e.path("state")), snapshot(&e.path("run")));
    let long_remote = format!(r"\\acme\{}", "x".repeat(5000));
    let r = e.mpr(&["use", "Z:", &long_remote, "--json"]);
    assert_eq!((r.code, r.wn()), (1, 67), "{}", r.stderr);
    assert!(r.stderr.contains("not a valid remote name"), "{}", r.stderr);
    // The journal keeps the refusal with the name cut at the longest a
    // valid one can be, marked as cut.
    let j = e.journal();
    let rec = j
        .iter()
        .rev()
        .find(|r| r["event"] == "operation")
        .expect("an operation record");
    let remote = rec["remote"].as_str().unwrap();
    assert_eq!(remote.chars().count(), 4097, "{}", remote.len());
    assert!(
        remote.starts_with(r"\\acme\xxx") && remote.ends_with("x…"),
        "{remote}"
    );
    let long_local = format!("/{}", "d".repeat(5000));
    let r = e.mpr(&["use", &long_local, r"\\acme\s", "--json"]);
    assert_eq!((r.code, r.wn()), (1, 1200));
    let r = e.mpr(&["use", &long_local, "--delete", "--json"]);
    assert_eq!((r.code, r.wn()), (1, 1200));
    let r = e.mpr(&["get", &"Z".repeat(5000), "--json"]);
    assert_eq!((r.code, r.wn()), (1, 1200));
    assert_unchanged(&e, &before);
}

#[test]
fn non_utf8_arguments_are_clear_errors() {
    let e = env_with_connection();
    let before = (snapshot(&e.path("state")), snapshot(&e.path("run")));
    let bad = OsString::from_vec(b"\\\\acme\\\xff\xfe".to_vec());
    let r: crate::util::Run = e
        .command()
        .arg("use")
        .arg("Z:")
        .arg(&bad)
        .arg("--json")
        .output()
        .unwrap()
        .into();
    assert_eq!((r.code, r.wn()), (1, 67));
    assert!(r.stderr.contains("not valid UTF-8"), "{}", r.stderr);
    let bad_local = OsString::from_vec(b"/mnt/\xff".to_vec());
    let r: crate::util::Run = e
        .command()
        .arg("use")
        .arg(&bad_local)
        .arg(r"\\acme\s")
        .arg("--json")
        .output()
        .unwrap()
        .into();
    assert_eq!((r.code, r.wn()), (1, 1200));
    assert_unchanged(&e, &before);
}

#[test]
fn malformed_config_names_file_and_line_and_exits_2() {
    let e = env_with_connection();
    let before = (snapshot(&e.path("state")), snapshot(&e.path("run")));
    e.config("[providers]\norder = [\"acme\"]\n[notifyees]\nbroken = = \"x\"\n");
    let r = e.mpr(&["use", "Z:", r"\\acme\s", "--json"]);
    assert_eq!(r.code, 2, "{r:?}");
    let path = e.path("etc/mpr.toml").display().to_string();
    assert!(r.stderr.contains(&format!("{path}:4:")), "{}", r.stderr);
    let j = r.json();
    assert_eq!(
        (j["code"].as_u64(), j["name"].as_str(), j["exit"].as_u64()),
        (Some(1206), Some("WN_BAD_PROFILE"), Some(2))
    );
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{path}:4:")),
        "{j}"
    );
    e.config("[providers]\norder = [\"acme\", \"nobody\"]\n[providers.acme]\npath = \"/x.so\"\n");
    let r = e.mpr(&["use"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!("{path}:2:")) && r.stderr.contains("nobody"),
        "{}",
        r.stderr
    );
    assert_unchanged(&e, &before);
}

#[test]
fn corrupt_state_is_reported_not_overwritten() {
    let e = env_with_connection();
    std::fs::write(
        e.path("state/remembered.toml"),
        "[[connection]]\nlocal = \n",
    )
    .unwrap();
    let r = e.mpr(&["use", "--json"]);
    assert_eq!(r.wn(), 1206, "{r:?}");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("remembered.toml:2"),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_to_string(e.path("state/remembered.toml")).unwrap(),
        "[[connection]]\nlocal = \n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let e = Env::new();
    for args in [
        vec!["use", "--bogus"],
        vec!["use", "a", "b", "c"],
        vec!["use", "Z:", "--delete", "x"],
        vec!["frobnicate"],
    ] {
        let r = e.mpr(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "no --json, no JSON: {r:?}");
    }
    let r = e.mpr(&["use", "--bogus", "--json"]);
    assert_eq!(
        (r.code, r.wn(), r.json()["exit"].as_u64()),
        (2, 87, Some(2))
    );
}

#[test]
fn directory_local_names_must_be_empty_private_directories() {
    let e = env_with_connection();
    let full = e.path("full");
    std::fs::create_dir_all(full.join("sub")).unwrap();
    let r = e.mpr(&["use", &full.display().to_string(), r"\\acme\s", "--json"]);
    assert_eq!(r.wn(), 1200);
    assert!(r.json()["message"].as_str().unwrap().contains("not empty"));
    let link = e.path("link");
    std::os::unix::fs::symlink(e.path("drives"), &link).unwrap();
    let r = e.mpr(&["use", &link.display().to_string(), r"\\acme\s", "--json"]);
    assert_eq!(r.wn(), 1200);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("symbolic link")
    );
    assert!(e.calls().is_empty());
    let fresh = e.path("new/mount/point");
    let r = e.mpr(&["use", &fresh.display().to_string(), r"\\acme\s", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(fresh.is_dir(), "a missing directory is created");
}

#[test]
fn a_cleared_environment_is_enough() {
    // No HOME, no XDG variables: only what a harness must pass.
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    let r: crate::util::Run = e
        .command()
        .env_remove("HOME")
        .env_remove("XDG_CONFIG_HOME")
        .args(["use", "Z:", r"\\acme\s", "--json"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(e.notes(), ["alpha:pre", "alpha:post"]);
}

#[test]
fn an_oversized_password_or_user_name_is_refused_not_cut_short() {
    let e = env_with_connection();
    let before = (snapshot(&e.path("state")), snapshot(&e.path("run")));
    // A password one byte too long: refused whole, before anything happens.
    let long = "p".repeat(1025);
    let r = e.mpr_stdin(
        &["use", "Z:", r"\\acme\s", "--password-stdin", "--json"],
        &format!("{long}\n"),
    );
    assert_eq!((r.code, r.wn()), (2, 87), "{r:?}");
    assert!(r.stderr.contains("1025 bytes"), "{}", r.stderr);
    assert!(!r.stderr.contains(&long), "the password was shown");
    // A user name too long, or with a line break in it: WN_BAD_USER.
    for user in ["u".repeat(1025), "alice\nbob".to_string()] {
        let r = e.mpr(&["use", "Z:", r"\\acme\s", "--user", &user, "--json"]);
        assert_eq!((r.code, r.wn()), (1, 2202), "{r:?}");
    }
    assert_unchanged(&e, &before);
    // At the limit, both go through.
    let r = e.mpr_stdin(
        &[
            "use",
            "Z:",
            r"\\acme\s",
            "--user",
            &"u".repeat(1024),
            "--password-stdin",
            "--json",
        ],
        &"p".repeat(1024),
    );
    assert_eq!(r.wn(), 0, "{r:?}");
}
