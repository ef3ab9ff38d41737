//! The loopback test servers (scripts/test-servers.sh): their settings, and
//! configuration snippets for the built-in providers.

use crate::util::Env;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The fixture's settings (`test-servers.sh env`).
pub struct Servers {
    vars: HashMap<String, String>,
}

impl Servers {
    /// Reads the settings the running fixture wrote; fails with what to do
    /// when the servers are not running.
    pub fn get() -> Servers {
        let base =
            std::env::var("MPR_TEST_SERVERS").unwrap_or_else(|_| "/tmp/mpr-test-servers".into());
        let env = Path::new(&base).join("env");
        let text = std::fs::read_to_string(&env).unwrap_or_else(|e| {
            panic!("the test servers are not running ({}: {e}): run `bash scripts/test-servers.sh start` (scripts/test.sh does)", env.display())
        });
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.trim_matches('\'').trim_matches('"').to_string(),
                )
            })
            .collect();
        let s = Servers { vars };
        let probe = std::net::TcpStream::connect(("127.0.0.1", s.port("MPR_TEST_SSH_PORT")));
        assert!(
            probe.is_ok(),
            "sshd of the test servers does not answer: run `bash scripts/test-servers.sh start`"
        );
        s
    }

    pub fn var(&self, k: &str) -> &str {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("{k} is missing from the test servers' env"))
    }

    pub fn port(&self, k: &str) -> u16 {
        self.var(k).parse().unwrap()
    }

    pub fn path(&self, k: &str) -> PathBuf {
        PathBuf::from(self.var(k))
    }

    pub fn password(&self, k: &str) -> String {
        std::fs::read_to_string(self.var(k))
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// An ssh configuration for the test user (key, known hosts).
    pub fn ssh_config(&self, e: &Env) -> PathBuf {
        let p = e.path("ssh_config");
        std::fs::write(
            &p,
            format!(
                "Host 127.0.0.1\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
                self.var("MPR_TEST_SSH_USER"),
                self.var("MPR_TEST_SSH_KEY"),
                self.var("MPR_TEST_SSH_KNOWN_HOSTS")
            ),
        )
        .unwrap();
        p
    }

    /// A test world whose `mpr.toml` orders the built-in providers, points
    /// sftp at the fixture's ssh configuration (plus `extra` lines in its
    /// table) and registers the scriptable notifyee `watcher`.
    pub fn provider_env(&self, extra: &str) -> Env {
        let e = Env::new();
        e.config(&format!(
            "[providers]\norder = [\"sftp\", \"smb\", \"webdav\"]\n[providers.sftp]\nssh_config = \"{}\"\n{extra}\n[notifyees]\nwatcher = \"{}\"\n",
            self.ssh_config(&e).display(),
            crate::util::notifyee("watcher").display()
        ));
        e
    }

    /// `\\127.0.0.1@PORT\export` for SFTP.
    pub fn sftp_unc(&self, share: &str) -> String {
        format!(r"\\127.0.0.1@{}\{share}", self.var("MPR_TEST_SSH_PORT"))
    }
}

/// Whether anything is mounted at or below `dir`.
pub fn mounted_under(dir: &Path) -> bool {
    !crate::util::mount_points_under(dir).is_empty()
}

/// Helper processes serving mounts under `dir` that are still alive.
pub fn helpers_under(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if status.contains("State:\tZ") {
            continue;
        }
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        // Not `mpr` itself or its notifyee host (mpr's own `mpr-fsd` is a
        // server like any helper); judged by the program alone, since a
        // helper's argv may say "mpr" too (the test user `mprtest` is in
        // every SFTP source).
        let program = cmd.split(' ').next().unwrap_or("");
        let program = program.rsplit('/').next().unwrap_or(program);
        if cmd.contains(&d) && program != "mpr" && program != "mpr-notifyee-host" {
            out.push(cmd);
        }
    }
    out
}

/// The pid recorded for the helper or server of `provider` serving `dir`
/// (beside its log in the runtime directory `run`), if it still runs.
pub fn recorded_server(run: &Path, provider: &str, dir: &Path) -> Option<u32> {
    let name: String = dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let pid: u32 =
        std::fs::read_to_string(run.join("helpers").join(format!("{provider}{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()?;
    alive(pid).then_some(pid)
}

/// Whether process `pid` runs (a zombie does not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .is_ok_and(|s| !s.contains("State:\tZ") && !s.contains("State:\tX"))
}

/// Every process's argv, joined.
pub fn all_cmdlines() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            all.push_str(&String::from_utf8_lossy(&cmd).replace('\0', " "));
            all.push('\n');
        }
    }
    all
}
