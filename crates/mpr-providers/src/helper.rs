//! Running one FUSE helper process per connection, and waiting until its
//! mount is usable.
//!
//! The helper runs in the foreground (`-f` or the equivalent) as a child in
//! its own process group, so that it outlives `mpr` and a signal to the
//! terminal does not reach it. Its output goes to a log file in the runtime
//! directory, which the provider reads to classify a failure. A password
//! reaches it on standard input, never in its argv.
//!
//! A helper is bound to the `mpr` process that starts it until its pid is
//! on record: it starts as `/bin/sh`, which waits on a pipe ("the gate")
//! and only then `exec`s the helper program (same pid, same process group).
//! `mpr` opens the gate after it has written the pid file, so a connect
//! killed at any moment leaves either a helper whose pid the next command
//! finds (and kills: [`kill_recorded`]), or a shell that reads end-of-file
//! on the gate and exits without ever mounting.

use mpr_core::plugin::Secret;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

/// The variable naming systemd's notification socket, which no helper
/// inherits (`mpr agent` runs as a `Type=notify` unit).
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Held while a gate is inheritable for a spawn, so that a helper started
/// at the same moment on another thread (a restore starts them in
/// parallel) does not inherit it too.
static SPAWNING: Mutex<()> = Mutex::new(());

/// How long [`kill_recorded`] waits for a killed helper to be gone.
const KILL_WAIT: Duration = Duration::from_secs(2);

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
    /// Spawns `cmd` in its own process group, behind its gate (see the
    /// module's docs), output to `log`, and writes `stdin_secret` (plus a
    /// newline) to its standard input. Only the program and arguments, the
    /// environment changes and the working directory of `cmd` are used. A
    /// program that is not found is `NotFound`, as [`Command::spawn`] would
    /// say.
    pub fn spawn(
        cmd: Command,
        log: &Path,
        stdin_secret: Option<&Secret>,
    ) -> std::io::Result<Helper> {
        find_program(Path::new(cmd.get_program()))?;
        if let Some(dir) = log.parent() {
            mpr_core::state::ensure_private_dir(dir)?;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(log)?;
        let err = out.try_clone()?;
        // A stale pid file must not name someone else's process.
        let _ = std::fs::remove_file(pid_path(log));
        let (gate_out, gate_in) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let mut gated = Command::new("/bin/sh");
        gated
            .arg("-c")
            .arg(format!(
                "read -r _ </proc/self/fd/{} || exit 125; exec \"$@\"",
                gate_out.as_raw_fd()
            ))
            .arg("helper-gate")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => gated.env(k, v),
                None => gated.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            gated.current_dir(d);
        }
        // Started by `mpr agent` under systemd, a helper must not speak for
        // the agent (some FUSE helpers tell NOTIFY_SOCKET they are ready).
        gated.env_remove(NOTIFY_SOCKET);
        gated.stdout(out).stderr(err).process_group(0);
        gated.stdin(if stdin_secret.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = {
            let _only_us = SPAWNING.lock().unwrap_or_else(PoisonError::into_inner);
            let set = |flags| rustix::io::fcntl_setfd(&gate_out, flags);
            let spawned = set(rustix::io::FdFlags::empty())
                .map_err(std::io::Error::from)
                .and_then(|()| gated.spawn());
            set(rustix::io::FdFlags::CLOEXEC)?;
            spawned?
        };
        if let (Some(secret), Some(mut stdin)) = (stdin_secret, child.stdin.take()) {
            let mut line = zeroize::Zeroizing::new(secret.expose().as_bytes().to_vec());
            line.push(b'\n');
            // A helper that died before reading is reported by the wait.
            let _ = stdin.write_all(&line);
        }
        let recorded = record_pid(log, child.id());
        let mut helper = Helper {
            child,
            log: log.to_path_buf(),
        };
        // Only a helper on record may start: one nobody could find again
        // would outlive a kill of this process.
        // The read end stays open here until then, so that this write
        // never meets a closed pipe (no SIGPIPE for a C program using
        // libmpr.so, even if the shell died meanwhile).
        let opened = recorded.and_then(|()| (&std::fs::File::from(gate_in)).write_all(b"go\n"));
        drop(gate_out);
        if let Err(e) = opened {
            helper.kill();
            return Err(e);
        }
        Ok(helper)
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
pub fn record_pid(log: &Path, pid: u32) -> std::io::Result<()> {
    std::fs::write(pid_path(log), pid.to_string())
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
    let pid = recorded_pid(log)?;
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
    // A helper killed inside its mount(2) still completes it: wait until it
    // is gone, so that the unmount that follows sees that mount.
    let deadline = Instant::now() + KILL_WAIT;
    while running(log) == Some(true) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits (at most `bound`) until the helper whose log is `log` has exited:
/// a server whose mount went away finishes its last requests and ends on
/// its own, a moment later.
///
/// Woken by the exit itself (a pidfd of the process, which the kernel makes
/// readable when it ends), not by looking every few milliseconds: `mpr use
/// --delete` returns as soon as the server is gone. Where no pidfd can be
/// had (a kernel before 5.3), it looks every 5 ms.
pub fn wait_exit(log: &Path, bound: Duration) {
    let deadline = Instant::now() + bound;
    if let Some(fd) = recorded_pid(log).and_then(pidfd) {
        // Opened before the check, so that an exit between the two still
        // wakes the poll.
        while running(log) == Some(true) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let Ok(timeout) = rustix::event::Timespec::try_from(left) else {
                return;
            };
            let mut fds = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        return;
    }
    while running(log) == Some(true) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The pid recorded for the helper whose log is `log`.
fn recorded_pid(log: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_path(log))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A pidfd of process `pid`, if the kernel gives one.
fn pidfd(pid: u32) -> Option<std::os::fd::OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// Forgets a helper's pid file (it has exited), keeping its log.
pub fn forget_pid(log: &Path) {
    let _ = std::fs::remove_file(pid_path(log));
}

/// `NotFound` (as `exec` would say) unless `program` names an executable
/// file: itself when it has a `/`, else one in `$PATH`.
fn find_program(program: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        executable(program)
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| executable(&d.join(program))))
    };
    if found {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(
            rustix::io::Errno::NOENT.raw_os_error(),
        ))
    }
}

/// Forgets a helper's log, pid file and private copies.
pub fn forget(log: &Path) {
    let _ = std::fs::remove_file(log);
    let _ = std::fs::remove_file(pid_path(log));
    for what in PRIVATE_COPIES {
        let _ = std::fs::remove_file(private_copy(log, what));
    }
}

/// What a provider may keep beside a helper's log ([`private_copy`]).
const PRIVATE_COPIES: [&str; 1] = ["ssh_config"];

/// Where a provider keeps a private file `what` (one of a fixed few: the
/// `ssh_config` copy) for the helper whose log is `log`; [`forget`]
/// removes it with the log.
pub fn private_copy(log: &Path, what: &str) -> PathBuf {
    log.with_extension(what)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_an_exit_ends_with_the_exit_or_the_bound() {
        let dir = std::env::temp_dir().join(format!("mpr-helper-wait-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("x.log");
        // Ends on its own after 300 ms: the wait ends with it, well before
        // its bound and not before the exit.
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        record_pid(&log, child.id()).unwrap();
        let start = Instant::now();
        wait_exit(&log, Duration::from_secs(10));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert_eq!(running(&log), Some(false));
        child.wait().unwrap();
        // One that does not end: the bound ends the wait.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        record_pid(&log, child.id()).unwrap();
        let start = Instant::now();
        wait_exit(&log, Duration::from_millis(200));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert_eq!(running(&log), Some(true));
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
