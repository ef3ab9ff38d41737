//! The sample notifyees (samples/notifyees) around real connects to the
//! loopback SFTP server: audit records them, policy guards them, autodial
//! brings "the network" up and retries.

use crate::servers::{Servers, mounted_under};
use crate::util::{Env, Run, compile, repo};
use std::path::PathBuf;
use std::time::Duration;

fn env(s: &Servers, ssh_config: Option<PathBuf>, notifyees: &str) -> Env {
    let e = Env::new();
    let cfg = ssh_config.unwrap_or_else(|| s.ssh_config(&e));
    e.config(&format!(
        "[providers]\norder = [\"sftp\", \"smb\", \"webdav\"]\n[providers.sftp]\nssh_config = \"{}\"\nconnect_timeout = 10\n[notifyees]\n{notifyees}",
        cfg.display()
    ));
    e
}

fn run(e: &Env, vars: &[(&str, String)], args: &[&str]) -> Run {
    let mut c = e.command();
    for (k, v) in vars {
        c.env(k, v);
    }
    c.args(args).output().unwrap().into()
}

#[test]
fn audit_records_real_connects() {
    let s = Servers::get();
    let audit = compile("../../samples/notifyees/audit.c", "sample_audit", &[]);
    let e = env(&s, None, &format!("audit = \"{}\"\n", audit.display()));
    let file = e.path("audit.log").display().to_string();
    let vars = [("MPR_AUDIT_FILE", file.clone())];
    assert_eq!(
        run(&e, &vars, &["use", "A:", &s.sftp_unc("export"), "--json"]).wn(),
        0
    );
    assert_eq!(run(&e, &vars, &["use", "A:", "--delete", "--json"]).wn(), 0);
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("mpr-audit: add pre local=A:"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("add post") && lines[1].contains("provider=SFTP status=0"),
        "{lines:?}"
    );
    assert!(
        lines[3].contains("cancel post") && lines[3].contains("provider=SFTP status=0"),
        "{lines:?}"
    );
}

#[test]
fn policy_guards_real_connects() {
    let s = Servers::get();
    let lib = crate::sdk::copy_of("mpr_policy", "libmpr_policy.so");
    let e = env(&s, None, &format!("policy = \"{}\"\n", lib.display()));
    let allow = e.path("allowed");
    let vars = [("MPR_POLICY_ALLOWLIST", allow.display().to_string())];
    std::fs::write(&allow, "# servers\nother.example\n").unwrap();
    let r = run(&e, &vars, &["use", "B:", &s.sftp_unc("export"), "--json"]);
    assert_eq!(r.wn(), 5, "a server outside the allowlist is vetoed: {r:?}");
    assert!(!mounted_under(&e.path("drives")));
    std::fs::write(&allow, "127.0.0.1\n").unwrap();
    let r = run(&e, &vars, &["use", "B:", &s.sftp_unc("export"), "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(e.path("drives/B").read_dir().is_ok());
    assert_eq!(run(&e, &vars, &["use", "B:", "--delete", "--json"]).wn(), 0);
}

#[test]
fn autodial_brings_the_network_up_and_retries() {
    let s = Servers::get();
    let lib = crate::sdk::copy_of("mpr_autodial", "libmpr_autodial.so");
    // "The network": a loopback forwarder to sshd that only the dial command starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e0 = Env::new();
    let known = e0.path("known_hosts");
    let real = std::fs::read_to_string(s.var("MPR_TEST_SSH_KNOWN_HOSTS")).unwrap();
    let line = real.lines().next().unwrap();
    let key = line.split_once(' ').unwrap().1;
    std::fs::write(&known, format!("[127.0.0.1]:{port} {key}\n")).unwrap();
    let cfg = e0.path("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host 127.0.0.1\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
            s.var("MPR_TEST_SSH_USER"),
            s.var("MPR_TEST_SSH_KEY"),
            known.display()
        ),
    )
    .unwrap();
    let e = env(
        &s,
        Some(cfg),
        &format!("autodial = \"{}\"\n", lib.display()),
    );
    let pidfile = e.path("forwarder.pid");
    let script = repo().join("tests/support/tcp_forward.py");
    let dial = format!(
        "setsid python3 {} {port} {} {} </dev/null >/dev/null 2>&1 & for i in $(seq 50); do [ -s {} ] && exit 0; sleep 0.05; done; exit 1",
        script.display(),
        s.var("MPR_TEST_SSH_PORT"),
        pidfile.display(),
        pidfile.display()
    );
    let remote = format!("sftp://127.0.0.1:{port}{}", s.var("MPR_TEST_SSH_EXPORT"));
    let r = run(
        &e,
        &[("MPR_AUTODIAL_COMMAND", dial)],
        &["use", "D:", &remote, "--provider", "sftp", "--json"],
    );
    let forwarder = std::fs::read_to_string(&pidfile).ok();
    let kill = || {
        if let Some(pid) = &forwarder {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    };
    if r.wn() != 0 {
        kill();
        panic!("the retry after dialling did not connect: {r:?}");
    }
    assert!(forwarder.is_some(), "the dial command ran");
    assert!(
        e.path("drives/D").read_dir().is_ok(),
        "connected through the dialled network"
    );
    let rounds: Vec<serde_json::Value> = e
        .journal()
        .into_iter()
        .filter(|j| j["event"] == "provider")
        .collect();
    assert_eq!(rounds.len(), 2, "one failed attempt, one retry: {rounds:?}");
    assert_eq!(
        (rounds[0]["result"].as_u64(), rounds[1]["result"].as_u64()),
        (Some(53), Some(0))
    );
    assert_eq!(
        run(&e, &[], &["use", "D:", "--delete", "--force", "--json"]).wn(),
        0
    );
    kill();
    std::thread::sleep(Duration::from_millis(50));
    assert!(!mounted_under(&e.path("drives")));
}
