//! The README's first session, walked through as a new user would: every
//! `mpr` line of its walkthrough block, in order, against the loopback SFTP
//! server, each succeeding.

use crate::servers::{Servers, mounted_under};
use crate::util::{Env, repo};

/// Splits a shell line into words: single quotes, no escapes, `#` comments.
fn words(line: &str) -> Vec<String> {
    let line = match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[test]
fn the_readme_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("<!-- walkthrough -->")
        .nth(1)
        .expect("README has a walkthrough block");
    let block = block
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let lines: Vec<&str> = block.lines().filter(|l| l.starts_with("mpr ")).collect();
    assert!(lines.len() >= 8, "{lines:?}");
    let s = Servers::get();
    let e = Env::new();
    e.config(&format!(
        "[providers.sftp]\nssh_config = \"{}\"\n",
        s.ssh_config(&e).display()
    ));
    for line in lines {
        let args: Vec<String> = words(line)
            .into_iter()
            .skip(1)
            .map(|w| {
                w.replace(r"\\server\share", &s.sftp_unc("export"))
                    .replace(r"\\server\other", &s.sftp_unc("export2"))
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = e.mpr(&args);
        assert_eq!(r.code, 0, "`{line}` failed: {r:?}");
        if line.starts_with("mpr get") {
            assert_eq!(r.stdout.trim(), s.sftp_unc("export"));
        }
        if line.starts_with("mpr use '*'") {
            assert!(r.stdout.contains("Y:"), "{r:?}");
        }
    }
    assert_eq!(
        e.mpr(&["use", "--json"]).json()["connections"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert!(!mounted_under(&e.path("drives")));
}

#[test]
fn shell_words() {
    assert_eq!(
        words(r"mpr use Z: '\\s\x' --persistent   # note"),
        ["mpr", "use", "Z:", r"\\s\x", "--persistent"]
    );
}
