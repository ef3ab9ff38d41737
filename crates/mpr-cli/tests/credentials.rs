//! Passwords (spec §8): `--password-stdin` reaches the provider and nothing
//! else: not the command line or environment of any process, not the
//! journal, not the state files, not the output.

use crate::util::Env;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PW: &str = "Pw-In-Stdin-4242";

/// Every process's command line and environment that holds `needle`.
fn processes_holding(needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for d in dir.flatten() {
        let name = d.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        for what in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(d.path().join(what))
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(format!("{pid}/{what}"));
            }
        }
    }
    found
}

#[test]
fn password_stdin_never_shows_in_any_process_list_or_journal() {
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    e.behave("np-acme.conf", "delay_ms=1500\n");
    let mut child = e
        .command()
        .args([
            "use",
            "Z:",
            r"\\acme\s",
            "--user",
            "bob",
            "--password-stdin",
            "--persistent",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PW}\n").as_bytes())
        .unwrap();
    // Scan /proc over and over while the provider sleeps in the connect.
    let t = Instant::now();
    let mut scans = 0;
    while child.try_wait().unwrap().is_none() {
        let seen = processes_holding(PW.as_bytes());
        assert!(seen.is_empty(), "the password is visible in {seen:?}");
        scans += 1;
        assert!(t.elapsed() < Duration::from_secs(30), "mpr hangs");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        scans > 10,
        "the scan ran during the connect ({scans} scans)"
    );
    let r: crate::util::Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.wn(), 0, "{r:?}");
    let add = e
        .calls()
        .into_iter()
        .find(|c| c.kind == 'P')
        .expect("the provider was called");
    assert_eq!(
        add.get("pwlen"),
        PW.len().to_string(),
        "it got the password"
    );
    for f in [
        "state/journal.jsonl",
        "state/remembered.toml",
        "run/connections.toml",
        "t/log",
    ] {
        let text = std::fs::read_to_string(e.path(f)).unwrap();
        assert!(!text.contains(PW), "{f} holds the password");
    }
    assert!(!r.stdout.contains(PW) && !r.stderr.contains(PW));
}

#[test]
fn password_stdin_takes_the_first_line_only() {
    let e = Env::new();
    e.setup(&["acme"], &[]);
    let r = e.mpr_stdin(
        &["use", "Z:", r"\\acme\s", "--password-stdin", "--json"],
        "first\r\nsecond line\n",
    );
    assert_eq!(r.wn(), 0, "{r:?}");
    let add = e.calls().into_iter().find(|c| c.kind == 'P').unwrap();
    assert_eq!(add.get("pwlen"), "5");
    // An empty standard input is an empty password (not "no password").
    let r = e.mpr_stdin(
        &["use", "Y:", r"\\acme\t", "--password-stdin", "--json"],
        "",
    );
    assert_eq!(r.wn(), 0, "{r:?}");
    let add = e
        .calls()
        .into_iter()
        .filter(|c| c.kind == 'P')
        .nth(1)
        .unwrap();
    assert_eq!(add.get("pwlen"), "0");
}
