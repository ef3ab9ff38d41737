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
//! object that contains this code (libmpr.so itself), in the directory the
//! caller names (`$MPR_LIBEXEC_DIR`, which `mpr-setup` reads: this crate
//! reads no environment), and in the directory `make install` puts it in
//! ([`INSTALL_LIBEXEC_DIR`]).
//! The first one that exists must pass the same trust checks as a plugin
//! (it runs plugin code), or the notifyee cannot be loaded. It runs as the
//! caller, with the caller's environment and working directory.

#[doc(hidden)]
pub mod fuzzing;
mod host;
mod wire;

pub use host::host_main;

use crate::LoadError;
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
/// `mpr-setup` reads it and passes the directory in; this crate only names
/// it in messages.
pub const LIBEXEC_ENV: &str = "MPR_LIBEXEC_DIR";

/// How long a host that has closed its channel may take to become a
/// zombie before it is killed (its exit is already under way).
const REAP_GRACE: Duration = Duration::from_millis(500);

// A context is (generation << 32) | id in a `usize`.
const _: () = assert!(usize::BITS >= 64, "process isolation needs 64-bit pointers");

/// The directories the host program is looked for in, in order (see the
/// module documentation), with `libexec_dir` (`$MPR_LIBEXEC_DIR`) before
/// the install directory; duplicates removed.
pub fn host_search_path(libexec_dir: Option<&Path>) -> Vec<PathBuf> {
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
    if let Some(d) = libexec_dir.filter(|d| !d.as_os_str().is_empty()) {
        dirs.push(d.to_path_buf());
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
    let here = own_object_dir as fn() -> Option<PathBuf> as usize;
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

/// Finds the host program (searching [`host_search_path`]) and checks it
/// like a plugin.
pub fn find_host(libexec_dir: Option<&Path>) -> Result<PathBuf, LoadError> {
    let dirs = host_search_path(libexec_dir);
    let Some(exe) = dirs
        .iter()
        .map(|d| d.join(HOST_PROGRAM))
        .find(|p| p.is_file())
    else {
        return Err(LoadError::HostMissing { looked: dirs });
    };
    mpr_core::trust::vet(&exe)
        .map(|_| exe)
        .map_err(LoadError::HostNotTrusted)
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
    /// the host program found by [`find_host`] (`libexec_dir` is
    /// `$MPR_LIBEXEC_DIR`).
    ///
    /// The caller has already vetted `path` (spec §7.10: the trust checks
    /// run in the router before the host starts, and again in the host).
    /// An `Err` is the reason the notifyee cannot be used; a library that
    /// exports neither notify function is [`LoadError::NoNotifyExports`].
    pub fn start(
        name: &str,
        path: &Path,
        timeout: Duration,
        libexec_dir: Option<&Path>,
    ) -> Result<IsolatedNotifier, LoadError> {
        let host = find_host(libexec_dir)?;
        Self::start_with_host(&host, name, path, timeout)
    }

    /// Like [`IsolatedNotifier::start`] with a given host program (tests,
    /// benchmarks).
    pub fn start_with_host(
        host_exe: &Path,
        name: &str,
        path: &Path,
        timeout: Duration,
    ) -> Result<IsolatedNotifier, LoadError> {
        let mut state = State {
            generation: 1,
            host: None,
            out: Vec::new(),
            inb: Vec::new(),
        };
        let (host, add, cancel) = spawn(
            host_exe,
            name,
            path,
            timeout,
            &mut state.out,
            &mut state.inb,
        )?;
        state.host = Some(host);
        Ok(IsolatedNotifier {
            name: name.to_string(),
            path: path.to_path_buf(),
            host_exe: host_exe.to_path_buf(),
            timeout,
            add,
            cancel,
            state: Mutex::new(state),
        })
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
        .map_err(|e| CallFailure::LoadFailed(e.to_string()))?;
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
) -> Result<(Host, bool, bool), LoadError> {
    let (ours, theirs) = UnixStream::pair().map_err(LoadError::Socketpair)?;
    // Whatever the library prints goes to the caller's standard error:
    // standard output may be a `--json` result.
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(LoadError::DupStderr)?;
    let child = {
        // The command holds the host's end of the channel until it is
        // dropped, at the end of this block: only the host may hold it, or
        // the router would never see the channel close when the host dies.
        let mut cmd = Command::new(host_exe);
        cmd.arg(name)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::inherit());
        cmd.spawn().map_err(|source| LoadError::HostSpawn {
            host: host_exe.to_path_buf(),
            source,
        })?
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
            Err(LoadError::HostVersion {
                host: host_exe.to_path_buf(),
                theirs: protocol,
                ours: wire::PROTOCOL,
            })
        }
        Ok(Reply::NoExports(_)) => {
            let _ = reap(Some(host));
            Err(LoadError::NoNotifyExports {
                path: path.to_path_buf(),
            })
        }
        Ok(Reply::LoadFailed(why)) => {
            let _ = reap(Some(host));
            Err(LoadError::InHost(why))
        }
        Ok(other) => {
            kill(Some(host));
            Err(LoadError::HostProtocol(format!(
                "it answered {other:?} to Load"
            )))
        }
        Err(ChannelError::TimedOut) => {
            kill(Some(host));
            Err(LoadError::HostTimedOut {
                path: path.to_path_buf(),
                ms: timeout.as_millis(),
            })
        }
        Err(ChannelError::Protocol(why)) => {
            kill(Some(host));
            Err(LoadError::HostProtocol(why))
        }
        Err(ChannelError::Closed | ChannelError::Io(_)) => {
            let how = reap(Some(host));
            Err(LoadError::HostDied {
                path: path.to_path_buf(),
                how,
            })
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
        let dirs = host_search_path(None);
        assert_eq!(dirs.last().unwrap(), Path::new(INSTALL_LIBEXEC_DIR));
        let exe_dir = std::env::current_exe().unwrap();
        assert_eq!(dirs[0], exe_dir.parent().unwrap());
    }

    #[test]
    fn the_libexec_directory_comes_just_before_the_install_directory() {
        let without = host_search_path(None);
        let with = host_search_path(Some(Path::new("/opt/mpr/libexec")));
        assert_eq!(with.len(), without.len() + 1, "{with:?}");
        assert_eq!(with[with.len() - 2], Path::new("/opt/mpr/libexec"));
        assert_eq!(with.last().unwrap(), Path::new(INSTALL_LIBEXEC_DIR));
        // An empty value is no directory; the install directory is not
        // listed twice.
        assert_eq!(host_search_path(Some(Path::new(""))), without);
        assert_eq!(
            host_search_path(Some(Path::new(INSTALL_LIBEXEC_DIR))),
            without
        );
    }

    #[test]
    fn a_missing_host_names_where_it_was_looked_for() {
        let libexec = Path::new("/nonexistent/mpr-libexec");
        if Path::new(INSTALL_LIBEXEC_DIR).join(HOST_PROGRAM).exists()
            || std::env::current_exe()
                .unwrap()
                .with_file_name(HOST_PROGRAM)
                .exists()
        {
            return; // Installed, or built next to this test: nothing to miss.
        }
        match find_host(Some(libexec)) {
            Err(LoadError::HostMissing { looked }) => {
                assert!(looked.iter().any(|d| d == libexec), "{looked:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn this_code_is_found_in_its_own_object() {
        // In a test binary the code is in the executable itself.
        let exe = std::env::current_exe().unwrap().canonicalize().unwrap();
        assert_eq!(own_object_dir().unwrap(), exe.parent().unwrap());
    }
}
