//! Running one FUSE helper process per connection, and waiting until its
//! mount is usable.
//!
//! The helper runs in the foreground (`-f` or the equivalent) as a child in
//! its own process group, so that it outlives `mpr` and a signal to the
//! terminal does not reach it. Its output goes to a log file in the runtime
//! directory, which the provider reads to classify a failure. A password
//! reaches it on standard input, never in its argv.

use mpr_core::plugin::Secret;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a start ended.
#[derive(Debug)]
pub enum Start {
    /// The mount answered the readiness probe; the helper keeps running.
    Ready,
    /// The helper exited (its log says why).
    Exited(String),
    /// Neither within the deadline: the helper was killed.
    TimedOut,
}

/// A started helper.
#[derive(Debug)]
pub struct Helper {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl Helper {
    /// Spawns `cmd` in its own process group, output to `log`, and writes
    /// `stdin_secret` (plus a newline) to its standard input.
    pub fn spawn(
        mut cmd: Command,
        log: &Path,
        stdin_secret: Option<&Secret>,
    ) -> std::io::Result<Helper> {
        if let Some(dir) = log.parent() {
            mpr_core::state::ensure_private_dir(dir)?;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(log)?;
        let err = out.try_clone()?;
        cmd.stdout(out).stderr(err).process_group(0);
        cmd.stdin(if stdin_secret.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn()?;
        if let (Some(secret), Some(mut stdin)) = (stdin_secret, child.stdin.take()) {
            let mut line = zeroize::Zeroizing::new(secret.expose().as_bytes().to_vec());
            line.push(b'\n');
            // A helper that died before reading is reported by the wait.
            let _ = stdin.write_all(&line);
        }
        record_pid(log, child.id());
        Ok(Helper {
            child,
            log: log.to_path_buf(),
        })
    }

    /// The helper's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `probe` succeeds (run on its own thread, since a FUSE
    /// call may block), the helper exits, or `timeout` passes (the helper's
    /// process group is then killed).
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        probe: impl Fn() -> bool + Send + 'static,
    ) -> Start {
        let deadline = Instant::now() + timeout;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            while !probe() {
                std::thread::sleep(Duration::from_millis(2));
                if tx.send(false).is_err() {
                    return;
                }
            }
            let _ = tx.send(true);
        });
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Start::Exited(self.tail(status.to_string()));
            }
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(true) => return Start::Ready,
                Ok(false) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Start::Exited(self.tail("probe stopped".into()));
                }
            }
            if Instant::now() >= deadline {
                self.kill();
                return Start::TimedOut;
            }
        }
    }

    /// Kills the helper's whole process group and reaps it.
    pub fn kill(&mut self) {
        let pgid = self.child.id() as i32;
        if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The log's last lines, after `status`.
    fn tail(&self, status: String) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let start = lines.len().saturating_sub(8);
        format!("{status}\n{}", lines[start..].join("\n"))
    }
}

/// Records `pid` as the helper whose log is `log` (in the pid file beside
/// it), so that a later command can find it.
pub fn record_pid(log: &Path, pid: u32) {
    let _ = std::fs::write(pid_path(log), pid.to_string());
}

/// The pid file beside a helper's log.
fn pid_path(log: &Path) -> PathBuf {
    log.with_extension("pid")
}

/// Whether the helper whose log is `log` still runs: `None` when no pid was
/// recorded. A zombie counts as dead.
pub fn running(log: &Path) -> Option<bool> {
    let state = state(log)?;
    Some(matches!(state, Some(c) if c != 'Z' && c != 'X'))
}

/// Whether the helper whose log is `log` is stopped (by a signal, or
/// traced): alive, but answering nothing.
pub fn stopped(log: &Path) -> bool {
    matches!(state(log), Some(Some('T' | 't')))
}

/// The kernel's one-letter state of the recorded helper: `None` when no
/// pid was recorded, `Some(None)` when no such process exists.
fn state(log: &Path) -> Option<Option<char>> {
    let pid: u32 = std::fs::read_to_string(pid_path(log))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the parenthesised command name.
    Some(
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next()),
    )
}

/// Kills the process group of the helper whose log is `log`, if one is
/// recorded and still runs (a helper still starting, left by a connect
/// that was killed before it committed).
pub fn kill_recorded(log: &Path) {
    if running(log) != Some(true) {
        return;
    }
    let pid = std::fs::read_to_string(pid_path(log))
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Forgets a helper's pid file (it has exited), keeping its log.
pub fn forget_pid(log: &Path) {
    let _ = std::fs::remove_file(pid_path(log));
}

/// Forgets a helper's log and pid file.
pub fn forget(log: &Path) {
    let _ = std::fs::remove_file(log);
    let _ = std::fs::remove_file(pid_path(log));
}

/// Where a provider keeps the log of the helper serving `dir`.
pub fn log_path(runtime_dir: &Path, provider: &str, dir: &Path) -> PathBuf {
    let name: String = dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    runtime_dir
        .join("helpers")
        .join(format!("{provider}{name}.log"))
}
