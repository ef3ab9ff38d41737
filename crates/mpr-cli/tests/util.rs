//! Test environment: a private configuration, state, runtime and drives
//! directory per test, C plugins compiled from `tests/c/*.c` once per
//! variant, and a runner for the real `mpr` binary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `id FLAG USER` of a local account: its uid (`-u`) or gid (`-g`).
pub fn account_id(user: &str, flag: &str) -> u32 {
    let o = std::process::Command::new("id")
        .args([flag, user])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the local account {user} is missing: {o:?}"
    );
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// Where the tests make their files: Cargo's scratch directory, or
/// `MPR_TEST_SCRATCH` when the tests run as a user who cannot write there
/// (scripts/test-unprivileged.sh).
pub fn scratch() -> PathBuf {
    std::env::var_os("MPR_TEST_SCRATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

/// A directory for compiled plugins whose ancestors pass the trust checks.
fn plugin_dir() -> PathBuf {
    let d = scratch().join("plugins");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles `tests/c/<source>` into a shared library named `<out>.so` with
/// the given `-D` definitions, once per process.
pub fn compile(source: &str, out: &str, defines: &[&str]) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    if let Some(p) = cache.get(out) {
        return p.clone();
    }
    let path = plugin_dir().join(format!("lib{out}.so"));
    let tmp = plugin_dir().join(format!("lib{out}.so.{}.tmp", std::process::id()));
    let mut cmd = Command::new("cc");
    cmd.args([
        "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1",
    ])
    .arg("-I")
    .arg(repo().join("include"))
    .args(defines.iter().map(|d| format!("-D{d}")))
    .arg("-o")
    .arg(&tmp)
    .arg(repo().join("tests/c").join(source));
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cc (install gcc: apt-get install gcc): {e}"));
    assert!(
        o.status.success(),
        "compiling {source} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &path).unwrap();
    cache.insert(out.to_string(), path.clone());
    path
}

/// A scriptable notifyee (tests/c/notifyee_script.c) tagged `name`.
pub fn notifyee(name: &str) -> PathBuf {
    compile(
        "notifyee_script.c",
        &format!("notify_{name}"),
        &[&format!("NOTIFYEE_NAME=\"{name}\"")],
    )
}

/// A scriptable provider (tests/c/provider_script.c) tagged `tag`.
pub fn provider(tag: &str) -> PathBuf {
    compile(
        "provider_script.c",
        &format!("np_{tag}"),
        &[&format!("PROVIDER_TAG=\"{tag}\"")],
    )
}

/// One test's private world.
pub struct Env {
    pub root: tempfile::TempDir,
}

impl Drop for Env {
    /// A test that failed half-way may leave drives mounted below its
    /// root: they are unmounted (lazily, deepest first) before the root is
    /// removed, so that removing it never reaches through a mount into a
    /// server's files and no server process is left serving a dead test.
    fn drop(&mut self) {
        let mut points = mount_points_under(self.root.path());
        points.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in points {
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(m)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The mount points at or below `dir` (from `/proc/self/mountinfo`).
pub fn mount_points_under(dir: &std::path::Path) -> Vec<String> {
    let d = dir.display().to_string();
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| *m == d || m.starts_with(&format!("{d}/")))
        .map(str::to_string)
        .collect()
}

/// One parsed log line of the scriptable plugins.
#[derive(Debug, Clone)]
pub struct Call {
    /// `N` (notifyee) or `P` (provider).
    pub kind: char,
    /// The notifyee name or provider tag.
    pub who: String,
    /// `add`, `cancel` (notifyees); `add`, `add3`, `cancel`, `get` (providers).
    pub op: String,
    /// `pre` / `post` for notifyees, empty for providers.
    pub phase: String,
    pub fields: HashMap<String, String>,
}

impl Call {
    pub fn get(&self, k: &str) -> &str {
        self.fields
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no field {k} in {self:?}"))
    }

    /// `alpha:pre` style short form for order assertions.
    pub fn short(&self) -> String {
        if self.kind == 'N' {
            format!("{}:{}", self.who, self.phase)
        } else {
            format!("np:{}:{}", self.who, self.op)
        }
    }
}

/// The result of one `mpr` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON object printed with --json.
    pub fn json(&self) -> serde_json::Value {
        let line = self
            .stdout
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no JSON on stdout; stderr: {}", self.stderr));
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}; stderr: {}", self.stderr))
    }

    /// The `WN_*` code of a --json run.
    pub fn wn(&self) -> u64 {
        self.json()["code"].as_u64().unwrap()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Env {
    pub fn new() -> Env {
        let base = scratch().join("envs");
        std::fs::create_dir_all(&base).unwrap();
        let root = tempfile::tempdir_in(&base).unwrap();
        // Plain directories with default permissions, as any harness makes
        // them: a runtime directory named by MPR_RUNTIME_DIR is used as is.
        for d in ["etc", "state", "run", "drives", "t"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        Env { root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// The MPRTEST_DIR of the scriptable plugins.
    pub fn tdir(&self) -> PathBuf {
        self.path("t")
    }

    /// Writes `mpr.toml`.
    pub fn config(&self, text: &str) {
        std::fs::write(self.path("etc/mpr.toml"), text).unwrap();
    }

    /// Registers providers (in order) and notifyees (in registration order),
    /// compiling the scriptable plugins.
    pub fn setup(&self, providers: &[&str], notifyees: &[&str]) {
        self.setup_with(providers, notifyees, "");
    }

    pub fn setup_with(&self, providers: &[&str], notifyees: &[&str], extra: &str) {
        let mut t = String::from("[providers]\norder = [");
        t.push_str(
            &providers
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", "),
        );
        t.push_str("]\n");
        for p in providers {
            t.push_str(&format!(
                "[providers.{p}]\npath = \"{}\"\nname = \"{} Network\"\n",
                provider(p).display(),
                cap(p)
            ));
        }
        t.push_str("[notifyees]\n");
        for n in notifyees {
            t.push_str(&format!("{n} = \"{}\"\n", notifyee(n).display()));
        }
        t.push_str(extra);
        self.config(&t);
    }

    /// Writes a plugin behaviour file (`<name>.conf` or `np-<tag>.conf`).
    pub fn behave(&self, file: &str, text: &str) {
        std::fs::write(self.tdir().join(file), text).unwrap();
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mpr"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("MPR_CONFIG_DIR", self.path("etc"))
            .env("MPR_STATE_DIR", self.path("state"))
            .env("MPR_RUNTIME_DIR", self.path("run"))
            .env("MPR_DRIVES_DIR", self.path("drives"))
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("MPRTEST_DIR", self.tdir())
            // No system journal: the tests read the file sink (journald.rs
            // sets the real socket where it tests that sink).
            .env("MPR_JOURNAL_SOCKET", self.path("no-journald-socket"))
            // Where libmpr.so in a C program finds the notifyee host (`mpr`
            // finds the one next to itself first).
            .env(
                "MPR_LIBEXEC_DIR",
                std::path::Path::new(env!("CARGO_BIN_EXE_mpr-notifyee-host"))
                    .parent()
                    .unwrap(),
            )
            .stdin(Stdio::null());
        c
    }

    pub fn mpr(&self, args: &[&str]) -> Run {
        self.command().args(args).output().unwrap().into()
    }

    /// Runs `mpr` with `input` on standard input.
    pub fn mpr_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // mpr may exit (a usage error) before it reads its input: a broken
        // pipe here is that, not a failure of the test.
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap().into()
    }

    /// `mpr use LOCAL REMOTE [--provider PROVIDER] --user USER
    /// --password-stdin --json`, with `input` (the password and its line
    /// end, or whatever the test feeds) on standard input.
    pub fn use_password(
        &self,
        local: &str,
        remote: &str,
        provider: Option<&str>,
        user: &str,
        input: &str,
    ) -> Run {
        let mut args = vec!["use", local, remote];
        if let Some(p) = provider {
            args.extend(["--provider", p]);
        }
        args.extend(["--user", user, "--password-stdin", "--json"]);
        self.mpr_stdin(&args, input)
    }

    /// The calls logged by the scriptable plugins, in order.
    pub fn calls(&self) -> Vec<Call> {
        let text = std::fs::read_to_string(self.tdir().join("log")).unwrap_or_default();
        text.lines().map(parse_call).collect()
    }

    /// Notifyee calls only, as `name:phase`.
    pub fn notes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.kind == 'N')
            .map(|c| c.short())
            .collect()
    }

    pub fn clear_log(&self) {
        let _ = std::fs::remove_file(self.tdir().join("log"));
    }

    /// The audit journal records.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.path("state/journal.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn parse_call(line: &str) -> Call {
    let mut parts = line.split('\t');
    let kind = parts.next().unwrap().chars().next().unwrap();
    let who = parts.next().unwrap().to_string();
    let op = parts.next().unwrap().to_string();
    let mut phase = String::new();
    let mut fields = HashMap::new();
    for p in parts {
        match p.split_once('=') {
            Some((k, v)) => {
                fields.insert(k.to_string(), v.to_string());
            }
            None => phase = p.to_string(),
        }
    }
    Call {
        kind,
        who,
        op,
        phase,
        fields,
    }
}

/// A loopback TCP port where nothing listens, held for as long as the
/// value lives: the socket is bound but never listens, so a connect is
/// refused and no other process can take the port meanwhile (a port of a
/// dropped listener may be handed to another test's server at once).
pub struct ClosedPort {
    _socket: rustix::fd::OwnedFd,
    /// The port.
    pub port: u16,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        use rustix::net::{AddressFamily, SocketType, bind, getsockname, socket};
        let socket = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        bind(&socket, &any).unwrap();
        let addr = getsockname(&socket).unwrap();
        let addr = std::net::SocketAddr::try_from(addr).unwrap();
        ClosedPort {
            _socket: socket,
            port: addr.port(),
        }
    }
}
