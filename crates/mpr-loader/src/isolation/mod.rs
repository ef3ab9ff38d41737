//! Process isolation of notifyees (spec §7.10): [`IsolatedNotifier`].
//!
//! A notifyee registered with `isolation = "process"` runs in a host
//! process, the `mpr-notifyee-host` program ([`host_main`] is all of it),
//! started by the router with one end of a socketpair as its standard
//! input. The host vets and loads the library through the same trust checks
//! and the same loader as an in-process notifyee and serves PRE and POST
//! calls one at a time (the private modules `host` and `wire` describe that
//! side and the frames).
//!
//! For the router, an [`IsolatedNotifier`] is a [`ConnectNotifier`] like any
//! other. What differs is how a call can fail:
//!
//! - every call has a deadline (`timeout_ms`, default 10 s). A host that
//!   has not answered by then is killed with `SIGKILL`, and the call is
//!   [`CallFailure::TimedOut`];
//! - a host that dies during a call (a signal, an exit) is
//!   [`CallFailure::Crashed`], with the signal or status;
//! - a host that cannot be started, or whose library is refused or cannot
//!   be loaded, is [`CallFailure::LoadFailed`].
//!
//! The router applies the notifyee's policy to these (`veto` or
//! `advisory`). A host that is gone is started again at the next call (a
//! new *generation*). The context a notifyee keeps lives in its host: the
//! router holds an opaque value made of the host's generation and an id,
//! and a POST whose context belongs to a host that has died since is not
//! delivered ([`CallFailure::Crashed`], saying so), because the pointer it
//! stood for died with that host.
//!
//! Calls to one isolated notifyee are serialised (one host, one channel):
//! concurrent operations wait for each other's calls to it, and the deadline
//! of a call starts once it has the channel.
//!
//! The host program is looked for, in order, next to the running program
//! (the `mpr` binary, or a program using libmpr.so), next to the shared
//! object that contains this code (libmpr.so itself), in `$MPR_LIBEXEC_DIR`,
//! and in the directory `make install` puts it in ([`INSTALL_LIBEXEC_DIR`]).
//! The first one that exists must pass the same trust checks as a plugin
//! (it runs plugin code), or the notifyee cannot be loaded. It runs as the
//! caller, with the caller's environment and working directory.

mod host;
mod wire;

pub use host::host_main;

use mpr_core::plugin::{AddNotice, CallFailure, CancelNotice, ConnectNotifier, NotifyInfo, Phase};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use wire::{CallRequest, ChannelError, Op, Reply, Request};

/// The file name of the host program.
pub const HOST_PROGRAM: &str = "mpr-notifyee-host";

/// Where `make install` puts the host program: `$(LIBEXECDIR)/mpr`, passed
/// to the build as `MPR_INSTALL_LIBEXEC_DIR`; `/usr/local/libexec/mpr` (the
/// Makefile's default) when built otherwise.
pub const INSTALL_LIBEXEC_DIR: &str = match option_env!("MPR_INSTALL_LIBEXEC_DIR") {
    Some(d) => d,
    None => "/usr/local/libexec/mpr",
};

/// The environment variable naming a directory to look for the host in.
pub const LIBEXEC_ENV: &str = "MPR_LIBEXEC_DIR";

/// How long a host that has closed its channel may take to become a
/// zombie before it is killed (its exit is already under way).
const REAP_GRACE: Duration = Duration::from_millis(500);

// A context is (generation << 32) | id in a `usize`.
const _: () = assert!(usize::BITS >= 64, "process isolation needs 64-bit pointers");

/// The directories the host program is looked for in, in order (see the
/// module documentation); duplicates removed.
pub fn host_search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(d);
    }
    if let Some(d) = own_object_dir() {
        dirs.push(d);
    }
    if let Some(d) = std::env::var_os(LIBEXEC_ENV).filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from(INSTALL_LIBEXEC_DIR));
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let new = !seen.contains(d);
        seen.push(d.clone());
        new
    });
    dirs
}

/// The directory of the object (executable or shared library) this code
/// was loaded from, read from `/proc/self/maps`.
fn own_object_dir() -> Option<PathBuf> {
    let here = host_search_path as fn() -> Vec<PathBuf> as usize;
    let maps = std::fs::read("/proc/self/maps").ok()?;
    maps.split(|&b| b == b'\n').find_map(|line| {
        // start-end perms offset dev inode [path]; the path may hold spaces.
        let mut fields = line.splitn(6, |&b| b == b' ');
        let (lo, hi) = std::str::from_utf8(fields.next()?).ok()?.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        let path = fields.nth(4)?.trim_ascii_start();
        if !(lo..hi).contains(&here) || path.first() != Some(&b'/') {
            return None;
        }
        Path::new(std::ffi::OsStr::from_bytes(path))
            .parent()
            .map(Path::to_path_buf)
    })
}

/// Finds the host program and checks it like a plugin.
pub fn find_host() -> Result<PathBuf, String> {
    let dirs = host_search_path();
    let Some(exe) = dirs
        .iter()
        .map(|d| d.join(HOST_PROGRAM))
        .find(|p| p.is_file())
    else {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(format!(
            "cannot find {HOST_PROGRAM} (looked in {}); install it with `make install` \
             or set {LIBEXEC_ENV} to its directory",
            looked.join(", ")
        ));
    };
    mpr_core::trust::vet(&exe)
        .map(|_| exe)
        .map_err(|r| format!("the notifyee host is not trusted: {}", r.reason))
}

/// What starting an isolated notifyee gave.
#[derive(Debug)]
pub enum Started {
    /// Running, and exporting at least one of the two functions.
    Ready(IsolatedNotifier),
    /// The library loaded but exports neither function (ignored, spec §3).
    NoExports(String),
}

/// A notifyee library running in a host process.
pub struct IsolatedNotifier {
    name: String,
    path: PathBuf,
    host_exe: PathBuf,
    timeout: Duration,
    add: bool,
    cancel: bool,
    state: Mutex<State>,
}

/// The host of the current generation, if it is running.
#[derive(Debug)]
struct State {
    generation: u32,
    host: Option<Host>,
    /// Reused frame buffers.
    out: Vec<u8>,
    inb: Vec<u8>,
}

/// One running host process and the router's end of its channel.
#[derive(Debug)]
struct Host {
    child: Child,
    chan: UnixStream,
}

/// How a start failed.
enum StartError {
    /// The library exports neither function.
    NoExports(String),
    /// Anything else.
    Failed(String),
}

impl fmt::Debug for IsolatedNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsolatedNotifier")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("host", &self.host_exe)
            .field("timeout", &self.timeout)
            .field("add", &self.add)
            .field("cancel", &self.cancel)
            .field("pid", &self.host_pid())
            .finish()
    }
}

impl IsolatedNotifier {
    /// Starts a host for the library at `path` (registered as `name`), with
    /// `timeout` as the deadline of every call (and of the start), using
    /// the host program found by [`find_host`].
    ///
    /// The caller has already vetted `path` (spec §7.10: the trust checks
    /// run in the router before the host starts, and again in the host).
    /// An `Err` is the reason the notifyee cannot be used.
    pub fn start(name: &str, path: &Path, timeout: Duration) -> Result<Started, String> {
        let host = find_host()?;
        Self::start_with_host(&host, name, path, timeout)
    }

    /// Like [`IsolatedNotifier::start`] with a given host program (tests,
    /// benchmarks).
    pub fn start_with_host(
        host_exe: &Path,
        name: &str,
        path: &Path,
        timeout: Duration,
    ) -> Result<Started, String> {
        let mut state = State {
            generation: 1,
            host: None,
            out: Vec::new(),
            inb: Vec::new(),
        };
        let (host, add, cancel) = match spawn(
            host_exe,
            name,
            path,
            timeout,
            &mut state.out,
            &mut state.inb,
        ) {
            Ok(x) => x,
            Err(StartError::NoExports(why)) => return Ok(Started::NoExports(why)),
            Err(StartError::Failed(why)) => return Err(why),
        };
        state.host = Some(host);
        Ok(Started::Ready(IsolatedNotifier {
            name: name.to_string(),
            path: path.to_path_buf(),
            host_exe: host_exe.to_path_buf(),
            timeout,
            add,
            cancel,
            state: Mutex::new(state),
        }))
    }

    /// The pid of the running host, if one is running.
    pub fn host_pid(&self) -> Option<u32> {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.host.as_ref().map(|h| h.child.id())
    }

    /// The deadline of a call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// Makes one call in the host, starting one first if none is running.
    fn call(&self, info: &mut NotifyInfo, mut req: CallRequest) -> Result<u32, CallFailure> {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let st = &mut *guard;
        if info.phase == Phase::Post && info.context != 0 {
            let (generation, id) = split(info.context);
            if generation != st.generation || st.host.is_none() {
                return Err(CallFailure::Crashed(format!(
                    "its host died after PRE and its context died with it \
                     (host generation {generation}); POST not delivered"
                )));
            }
            req.context = id;
        }
        if st.host.is_none() {
            self.restart(st)?;
        }
        // A deadline too far to be represented is no deadline.
        let deadline = Instant::now().checked_add(self.timeout);
        let State { host, out, inb, .. } = st;
        let Some(h) = host.as_mut() else {
            return Err(CallFailure::LoadFailed("no host".into()));
        };
        Request::Call(req).encode(out);
        // The send timeout was set when the host started.
        let answer = wire::send_frame(&h.chan, out)
            .and_then(|()| wire::recv_frame(&h.chan, inb, deadline))
            .and_then(|body| Reply::decode(body).map_err(ChannelError::Protocol));
        match answer {
            Ok(Reply::Returned { status, context }) => {
                if info.phase == Phase::Pre {
                    info.context = if context == 0 {
                        0
                    } else {
                        join(st.generation, context)
                    };
                }
                Ok(status)
            }
            Ok(other) => {
                let h = st.host.take();
                kill(h);
                Err(CallFailure::Crashed(format!(
                    "the host broke the protocol ({other:?}); it was stopped"
                )))
            }
            Err(ChannelError::TimedOut) => {
                kill(st.host.take());
                Err(CallFailure::TimedOut(self.timeout_ms()))
            }
            Err(ChannelError::Protocol(why)) => {
                kill(st.host.take());
                Err(CallFailure::Crashed(format!(
                    "the host broke the protocol ({why}); it was stopped"
                )))
            }
            Err(ChannelError::Closed | ChannelError::Io(_)) => {
                let why = reap(st.host.take());
                Err(CallFailure::Crashed(why))
            }
        }
    }

    /// Starts a new generation of the host, after the old one died. The
    /// library is vetted again here first, as at the first start.
    fn restart(&self, st: &mut State) -> Result<(), CallFailure> {
        mpr_core::trust::vet(&self.path).map_err(|r| CallFailure::LoadFailed(r.to_string()))?;
        let (host, _, _) = spawn(
            &self.host_exe,
            &self.name,
            &self.path,
            self.timeout,
            &mut st.out,
            &mut st.inb,
        )
        .map_err(|e| match e {
            StartError::NoExports(why) | StartError::Failed(why) => CallFailure::LoadFailed(why),
        })?;
        st.generation = st.generation.wrapping_add(1).max(1);
        st.host = Some(host);
        Ok(())
    }
}

impl Drop for IsolatedNotifier {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(Host { mut child, chan }) = st.host.take() {
            // The end of the channel tells the host to exit (running the
            // library's destructors); it is given a moment, then killed.
            drop(chan);
            let t = Instant::now();
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => return,
                    Ok(None) if t.elapsed() < Duration::from_millis(200) => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok(None) => break,
                }
            }
            kill_child(child);
        }
    }
}

fn split(context: usize) -> (u32, u32) {
    let v = context as u64;
    ((v >> 32) as u32, v as u32)
}

fn join(generation: u32, id: u32) -> usize {
    ((u64::from(generation) << 32) | u64::from(id)) as usize
}

/// Starts a host and loads the library in it.
fn spawn(
    host_exe: &Path,
    name: &str,
    path: &Path,
    timeout: Duration,
    out: &mut Vec<u8>,
    inb: &mut Vec<u8>,
) -> Result<(Host, bool, bool), StartError> {
    let fail = |why: String| StartError::Failed(why);
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| fail(format!("cannot create a socketpair: {e}")))?;
    // Whatever the library prints goes to the caller's standard error:
    // standard output may be a `--json` result.
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| fail(format!("cannot duplicate standard error: {e}")))?;
    let child = {
        // The command holds the host's end of the channel until it is
        // dropped, at the end of this block: only the host may hold it, or
        // the router would never see the channel close when the host dies.
        let mut cmd = Command::new(host_exe);
        cmd.arg(name)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::inherit());
        cmd.spawn()
            .map_err(|e| fail(format!("cannot start {}: {e}", host_exe.display())))?
    };
    let host = Host { child, chan: ours };
    let deadline = Instant::now().checked_add(timeout);
    Request::Load {
        protocol: wire::PROTOCOL,
        path: path.as_os_str().as_bytes().to_vec(),
    }
    .encode(out);
    let answer = host
        .chan
        .set_write_timeout(Some(timeout))
        .map_err(ChannelError::Io)
        .and_then(|()| wire::send_frame(&host.chan, out))
        .and_then(|()| wire::recv_frame(&host.chan, inb, deadline))
        .and_then(|body| Reply::decode(body).map_err(ChannelError::Protocol));
    let ms = timeout.as_millis();
    match answer {
        Ok(Reply::Loaded {
            protocol: wire::PROTOCOL,
            add,
            cancel,
        }) => {
            host.chan.set_read_timeout(None).ok();
            Ok((host, add, cancel))
        }
        Ok(Reply::Loaded { protocol, .. }) => {
            kill(Some(host));
            Err(fail(format!(
                "{} speaks protocol {protocol}, not {} (mpr and the host come from \
                 different builds)",
                host_exe.display(),
                wire::PROTOCOL
            )))
        }
        Ok(Reply::NoExports(why)) => {
            let _ = reap(Some(host));
            Err(StartError::NoExports(why))
        }
        Ok(Reply::LoadFailed(why)) => {
            let _ = reap(Some(host));
            Err(fail(why))
        }
        Ok(other) => {
            kill(Some(host));
            Err(fail(format!(
                "the notifyee host answered {other:?} to Load"
            )))
        }
        Err(ChannelError::TimedOut) => {
            kill(Some(host));
            Err(fail(format!(
                "loading {} in the notifyee host took longer than {ms} ms; it was killed",
                path.display()
            )))
        }
        Err(ChannelError::Protocol(why)) => {
            kill(Some(host));
            Err(fail(format!("the notifyee host broke the protocol: {why}")))
        }
        Err(ChannelError::Closed | ChannelError::Io(_)) => {
            let why = reap(Some(host));
            Err(fail(format!(
                "the notifyee host died while loading {}: {why}",
                path.display()
            )))
        }
    }
}

/// Kills a host (`SIGKILL`) and reaps it without waiting long: a process
/// stuck in the kernel (a hung network file system) may take its time to
/// die, and the caller must not; a thread then waits for it.
fn kill(host: Option<Host>) {
    if let Some(Host { child, chan }) = host {
        drop(chan);
        kill_child(child);
    }
}

/// `SIGKILL`, then [`wait_bounded`].
fn kill_child(mut child: Child) {
    let _ = child.kill();
    wait_bounded(child, REAP_GRACE);
}

/// Reaps a host whose channel closed and says how it ended.
fn reap(host: Option<Host>) -> String {
    let Some(Host { mut child, chan }) = host else {
        return "the host is gone".into();
    };
    drop(chan);
    let t = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return describe(status),
            // Someone else reaped it (a program's own SIGCHLD handler).
            Err(_) => return "the host exited (status unknown)".into(),
            Ok(None) if t.elapsed() < REAP_GRACE => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(None) => {
                kill_child(child);
                return "the host closed its channel and was killed".into();
            }
        }
    }
}

/// Waits up to `grace` for `child`, then leaves the wait to a thread.
fn wait_bounded(mut child: Child, grace: Duration) {
    let t = Instant::now();
    while t.elapsed() < grace {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    let _ = std::thread::Builder::new()
        .name("mpr-host-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        });
}

/// "killed by signal 11 (SIGSEGV)", "exited with status 3".
fn describe(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = match sig {
            1 => "SIGHUP",
            2 => "SIGINT",
            3 => "SIGQUIT",
            4 => "SIGILL",
            5 => "SIGTRAP",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            13 => "SIGPIPE",
            14 => "SIGALRM",
            15 => "SIGTERM",
            31 => "SIGSYS",
            _ => "",
        };
        if name.is_empty() {
            format!("killed by signal {sig}")
        } else {
            format!("killed by signal {sig} ({name})")
        }
    } else {
        match status.code() {
            Some(c) => format!("exited with status {c}"),
            None => "ended".into(),
        }
    }
}

impl ConnectNotifier for IsolatedNotifier {
    fn handles_add(&self) -> bool {
        self.add
    }

    fn handles_cancel(&self) -> bool {
        self.cancel
    }

    fn add_notify(&self, info: &mut NotifyInfo, add: &AddNotice<'_>) -> Result<u32, CallFailure> {
        let req = CallRequest {
            op: Op::Add,
            post: info.phase == Phase::Post,
            status: info.operation_status,
            context: 0,
            owner: add.owner as u64,
            r#type: add.r#type,
            flags: add.flags,
            force: false,
            strings: [
                add.local.map(str::to_string),
                Some(add.remote.to_string()),
                add.provider.map(str::to_string),
            ],
        };
        self.call(info, req)
    }

    fn cancel_notify(
        &self,
        info: &mut NotifyInfo,
        cancel: &CancelNotice<'_>,
    ) -> Result<u32, CallFailure> {
        let req = CallRequest {
            op: Op::Cancel,
            post: info.phase == Phase::Post,
            status: info.operation_status,
            context: 0,
            owner: 0,
            r#type: 0,
            flags: cancel.flags,
            force: cancel.force,
            strings: [
                Some(cancel.name.to_string()),
                cancel.provider.map(str::to_string),
                None,
            ],
        };
        self.call(info, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_carry_the_generation() {
        let c = join(3, 0xFFFF_FFFF);
        assert_ne!(c, 0);
        assert_eq!(split(c), (3, 0xFFFF_FFFF));
        assert_eq!(split(join(1, 1)), (1, 1));
    }

    #[test]
    fn exit_statuses_are_described() {
        assert_eq!(
            describe(ExitStatus::from_raw(11)),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(6)),
            "killed by signal 6 (SIGABRT)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(describe(ExitStatus::from_raw(40)), "killed by signal 40");
    }

    #[test]
    fn the_search_path_ends_with_the_install_directory() {
        let dirs = host_search_path();
        assert_eq!(dirs.last().unwrap(), Path::new(INSTALL_LIBEXEC_DIR));
        let exe_dir = std::env::current_exe().unwrap();
        assert_eq!(dirs[0], exe_dir.parent().unwrap());
    }

    #[test]
    fn this_code_is_found_in_its_own_object() {
        // In a test binary the code is in the executable itself.
        let exe = std::env::current_exe().unwrap().canonicalize().unwrap();
        assert_eq!(own_object_dir().unwrap(), exe.parent().unwrap());
    }
}
