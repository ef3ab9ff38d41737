//! The output contract of every verb (docs/json.md): with --json exactly
//! one JSON object on standard output (version 1, `code`, `name`), human
//! text elsewhere; exit codes 0/1/2/3; and the documentation generated from
//! the command line (man page, completions).

use crate::util::{Env, Run, notifyee, repo};
use serde_json::Value;

/// Checks the one-object rule and returns the object.
fn one_object(r: &Run) -> Value {
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout: {r:?}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["version"], 1, "{v}");
    assert!(v["code"].is_u64() && v["name"].is_string(), "{v}");
    if v["code"] != 0 {
        assert!(v["message"].is_string(), "{v}");
        assert_eq!(r.code, 1, "{r:?}");
    } else {
        assert_eq!(v["name"], "WN_SUCCESS");
        assert_eq!(r.code, 0, "{r:?}");
    }
    v
}

#[test]
fn every_verb_prints_one_json_object() {
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    let beta = notifyee("beta");
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["use", "Z:", r"\\acme\s", "--persistent", "--json"],
            &[
                "local",
                "remote",
                "provider",
                "provider_name",
                "access_name",
                "directory",
                "remembered",
            ],
        ),
        (vec!["use", "--json"], &["connections"]),
        (vec!["get", "Z:", "--json"], &["local", "remote"]),
        (vec!["list", "--json"], &["connections"]),
        (vec!["list", "--remembered", "--json"], &["connections"]),
        (vec!["restore", "--json"], &["results"]),
        (
            vec!["use", "Z:", "--delete", "--keep-remembered", "--json"],
            &["target", "provider", "provider_name", "forgotten"],
        ),
        (vec!["restore", "Z:", "--json"], &["results"]),
        (vec!["notifyee", "list", "--json"], &["config", "notifyees"]),
        (
            vec!["notifyee", "add", "beta", beta.to_str().unwrap(), "--json"],
            &["config", "notifyee"],
        ),
        (
            vec!["notifyee", "remove", "beta", "--json"],
            &["config", "notifyee"],
        ),
        (vec!["provider", "list", "--json"], &["providers"]),
    ];
    for (args, keys) in cases {
        let r = e.mpr(&args);
        let v = one_object(&r);
        assert_eq!(v["code"], 0, "{args:?}: {r:?}");
        for k in keys {
            assert!(v.get(*k).is_some(), "{args:?}: no {k} in {v}");
        }
    }
    // Failures are objects too, and human text stays on stderr.
    for args in [
        vec!["get", "Q:", "--json"],
        vec!["use", "Z:", r"\\nobody\s", "--json"],
        vec!["notifyee", "remove", "nope", "--json"],
        vec!["restore", "Q:", "--json"],
    ] {
        let r = e.mpr(&args);
        let v = one_object(&r);
        assert_ne!(v["code"], 0, "{args:?}");
        assert!(r.stderr.starts_with("mpr: error "), "{args:?}: {r:?}");
    }
}

#[test]
fn human_output_goes_to_stdout_and_errors_to_stderr() {
    let e = Env::new();
    e.setup(&["acme"], &[]);
    let r = e.mpr(&["use", "Z:", r"\\acme\s"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        "Z: is now connected to \\\\acme\\s (Acme Network).\n"
    );
    let r = e.mpr(&["use"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "Status  Local  Remote    Provider");
    assert_eq!(lines[2], "OK      Z:     \\\\acme\\s  Acme Network");
    let r = e.mpr(&["use", "Z:", r"\\acme\t"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(
        r.stderr
            .starts_with("mpr: error 85 (WN_ALREADY_CONNECTED): Z: is already connected"),
        "{r:?}"
    );
    assert!(r.stderr.contains("\nhint: "), "{r:?}");
}

#[test]
fn usage_errors_of_the_new_verbs_exit_2() {
    let e = Env::new();
    for args in [
        vec!["notifyee"],
        vec!["notifyee", "add", "x"],
        vec!["notifyee", "add", "x", "/x.so", "--isolation", "sideways"],
        vec!["notifyee", "add", "x", "/x.so", "--policy", "maybe"],
        vec!["provider"],
        vec!["generate"],
        vec!["generate", "powershell"],
        vec!["watch", "--lines", "many"],
        vec!["--color=sometimes", "list"],
    ] {
        let r = e.mpr(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
    }
    for args in [
        vec!["--help"],
        vec!["notifyee", "add", "--help"],
        vec!["--version"],
    ] {
        assert_eq!(e.mpr(&args).code, 0, "{args:?}");
    }
}

#[test]
fn help_comes_from_the_doc_comments() {
    let e = Env::new();
    let r = e.mpr(&["notifyee", "add", "--help"]);
    assert!(
        r.stdout
            .contains("AddConnectNotify and/or CancelConnectNotify")
            && r.stdout.contains("--isolation <HOW>"),
        "{}",
        r.stdout
    );
    let r = e.mpr(&["watch", "-h"]);
    assert!(r.stdout.contains("tail -f"), "{}", r.stdout);
}

#[test]
fn committed_man_page_is_up_to_date() {
    let e = Env::new();
    let r = e.mpr(&["generate", "man"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with(".ie") && r.stdout.contains(".TH mpr 1"));
    for verb in [
        "mpr use",
        "mpr notifyee add",
        "mpr provider list",
        "mpr watch",
    ] {
        assert!(r.stdout.contains(&format!(".SS \"{verb}\"")), "{verb}");
    }
    let committed = repo().join("docs/mpr.1");
    let old = std::fs::read_to_string(&committed).unwrap_or_default();
    if old != r.stdout {
        if std::env::var_os("MPR_BLESS").is_some() {
            std::fs::write(&committed, &r.stdout).unwrap();
        } else {
            panic!(
                "docs/mpr.1 is stale: regenerate it with\n    cargo run -q -p mpr-cli -- generate man > docs/mpr.1\n(or run this test with MPR_BLESS=1)"
            );
        }
    }
}

#[test]
fn completions_for_every_shell() {
    let e = Env::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef mpr"),
        ("fish", "complete -c mpr"),
    ] {
        let r = e.mpr(&["generate", shell]);
        assert_eq!(r.code, 0, "{shell}: {r:?}");
        assert!(r.stdout.contains(marker), "{shell}");
        for verb in ["notifyee", "provider", "watch", "restore"] {
            assert!(r.stdout.contains(verb), "{shell}: {verb}");
        }
    }
    // The bash script is valid bash.
    let r = e.mpr(&["generate", "bash"]);
    let f = e.path("mpr.bash");
    std::fs::write(&f, &r.stdout).unwrap();
    let ok = std::process::Command::new("bash")
        .arg("-n")
        .arg(&f)
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn the_login_unit_runs_mpr_agent() {
    let unit = std::fs::read_to_string(repo().join("dist/mpr-agent.service")).unwrap();
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart=");
    assert!(exec.ends_with("mpr agent"), "{exec}");
    assert!(unit.contains("\nType=notify\n") && unit.contains("WantedBy=default.target"));
    let docs = std::fs::read_to_string(repo().join("docs/agent.md")).unwrap();
    assert!(
        docs.contains("systemctl --user enable --now mpr-agent.service"),
        "docs/agent.md says how to install it"
    );
}

#[test]
fn a_closed_output_pipe_is_success() {
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["generate", "bash"],
    ] {
        // The reader is gone before mpr writes: its write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = e
            .command()
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn a_failure_to_write_the_output_is_an_internal_error() {
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["generate", "man"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = e
            .command()
            .args(&args)
            .stdout(full)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains("internal error: cannot write to standard output"),
            "{args:?}: {stderr}"
        );
    }
}
