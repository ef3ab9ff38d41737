//! Starting `mpr-fsd`, mpr's own file-system server, for one connection,
//! and reading what it publishes.
//!
//! The server runs in its own process group (a signal to the terminal does
//! not reach it) with its standard error in a log file in the runtime
//! directory. The request, password included, is one line on its standard
//! input, never in its argv, environment or a file; its replies come back
//! on its standard output: the exact failure, or `Ready` once the mount is
//! up. Its pid is recorded beside the log before anything else, so a
//! command killed mid-connect leaves a server the next command can find
//! and stop. A server started while a bare name's checks ran
//! ([`crate::spare`]) is taken instead of starting one, and gets its log
//! with the request.

use crate::helper::{self, log_path, record_pid};
use crate::{Failure, mount};
use mpr_core::WnError;
use mpr_core::plugin::CancelCall;
use mpr_core::router::Health as RouterHealth;
use mpr_handshake::{Health, Reply, Request};
use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The server's file name.
pub const PROGRAM: &str = "mpr-fsd";

/// The mount type of mpr's own file system in the mount table.
pub const FSTYPE: &str = "fuse.mpr";

/// The first of `dirs` holding an executable `mpr-fsd`.
pub fn find(dirs: &[PathBuf]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dirs.iter().map(|d| d.join(PROGRAM)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Where the server for the connection at `dir` publishes its health.
pub fn health_path(runtime_dir: &Path, key: &str, dir: &Path) -> PathBuf {
    log_path(runtime_dir, key, dir).with_extension("health")
}

/// What the server for `dir` says about its session: what it last
/// published, if it is fresh; `None` when there is nothing, or nothing
/// fresh (the server is stopped or stuck), with the reason.
pub fn health(runtime_dir: &Path, key: &str, dir: &Path) -> Result<Health, String> {
    let path = health_path(runtime_dir, key, dir);
    match mpr_handshake::health::age(&path) {
        None => Err(format!("{PROGRAM} has published no health")),
        Some(age) if age >= mpr_handshake::health::STALE_AFTER => Err(format!(
            "{PROGRAM} has not reported for {} s (stopped or stuck)",
            age.as_secs()
        )),
        Some(_) => {
            Health::read(&path).ok_or_else(|| format!("{PROGRAM}'s health file is unreadable"))
        }
    }
}

/// Gets a server ready for a connection that may come at `mountpoint`
/// ([`crate::spare`]), if `mpr-fsd` is in `dirs`.
pub fn get_ready(dirs: &[PathBuf], mountpoint: &Path) {
    if let Some(program) = find(dirs) {
        crate::spare::prepare(&program, mountpoint);
    }
}

/// The first of `dirs` holding `mpr-fsd`, or the failure (1222) saying
/// where it was looked for.
pub fn find_or_fail(dirs: &[PathBuf]) -> Result<PathBuf, Failure> {
    find(dirs).ok_or_else(|| {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        Failure::new(
            WnError::NoNetwork,
            format!(
                "cannot find {PROGRAM} (looked in {}); install mpr, or set MPR_LIBEXEC_DIR to its directory",
                looked.join(", ")
            ),
        )
    })
}

/// Connects `req` through a new server for the connection of provider
/// `key` (its log and health file in `runtime_dir`), within `timeout`. A
/// failure leaves nothing behind: no pid on record, nothing mounted, no
/// health file.
pub fn connect(
    program: &Path,
    req: &Request,
    runtime_dir: &Path,
    key: &str,
    timeout: Duration,
    handed: Option<OwnedFd>,
) -> Result<(), Failure> {
    let dir = &req.mountpoint;
    let log = log_path(runtime_dir, key, dir);
    match start(program, req, &log, timeout, handed) {
        Ok(_) => Ok(()),
        Err(failure) => {
            // The server has exited (or was stopped): its pid must not
            // name some later process.
            helper::forget_pid(&log);
            crate::clean_mount_point(dir);
            let _ = std::fs::remove_file(&req.health_file);
            Err(failure)
        }
    }
}

/// The mount source of the connection of provider `key` at `directory`
/// while its mount and its server are there; `WN_NOT_CONNECTED`
/// otherwise. The mount table and the server's pid, never the mount
/// itself: a server that hangs must not hang the listing.
pub fn live(runtime_dir: &Path, key: &str, directory: Option<&Path>) -> Result<String, WnError> {
    let dir = directory.ok_or(WnError::NotConnected)?;
    let m = mount::mounted_at(dir)
        .filter(|m| m.fstype == FSTYPE)
        .ok_or(WnError::NotConnected)?;
    if helper::running(&log_path(runtime_dir, key, dir)) == Some(false) {
        return Err(WnError::NotConnected);
    }
    Ok(m.source)
}

/// The health of the connection of provider `key` at `directory`: what
/// its server publishes, if it runs and its word is fresh.
pub fn connection_health(runtime_dir: &Path, key: &str, directory: Option<&Path>) -> RouterHealth {
    if live(runtime_dir, key, directory).is_err() {
        return RouterHealth::Unavailable {
            reason: Some(format!("its mount or its {PROGRAM} is gone")),
        };
    }
    let Some(dir) = directory else {
        return RouterHealth::Ok;
    };
    if helper::stopped(&log_path(runtime_dir, key, dir)) {
        return RouterHealth::Unavailable {
            reason: Some(format!("{PROGRAM} is stopped and does not answer")),
        };
    }
    // What the server says, if it is fresh: the mount itself is never
    // asked (that could wait as long as an operation may).
    match health(runtime_dir, key, dir) {
        Err(reason) => RouterHealth::Unavailable {
            reason: Some(reason),
        },
        Ok(Health::Ok) => RouterHealth::Ok,
        Ok(Health::Reconnecting {
            reason,
            next_attempt,
        }) => RouterHealth::Reconnecting {
            reason,
            next_attempt: Some(next_attempt),
        },
        Ok(Health::Unavailable { reason }) => RouterHealth::Unavailable {
            reason: Some(reason),
        },
    }
}

/// Cancels the connection at the call's directory served by `mpr-fsd`
/// for provider `key`, and removes its health file.
pub fn cancel(
    call: &CancelCall<'_>,
    runtime_dir: &Path,
    key: &str,
    name: &str,
) -> Result<(), WnError> {
    crate::cancel_mount(call, runtime_dir, key, name)?;
    if let Some(dir) = call.directory {
        let _ = std::fs::remove_file(health_path(runtime_dir, key, dir));
    }
    Ok(())
}

/// Starts connecting to `host:port` without waiting, when the host is an
/// address (a name is resolved by the server, as before): the socket, its
/// connect perhaps still under way, to hand to the server with the
/// request, so that the peer's accept overlaps the server's start. `None`
/// when it cannot even be started; the server then connects by itself and
/// reports what goes wrong.
pub fn start_connect(host: &str, port: u16) -> Option<OwnedFd> {
    start_connect_to(std::net::SocketAddr::new(address(host)?, port))
}

/// `host` as an IP address (`[…]` around an IPv6 one allowed), or `None`
/// for a host name.
pub fn address(host: &str) -> Option<std::net::IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// [`start_connect`] to a resolved address.
pub fn start_connect_to(addr: std::net::SocketAddr) -> Option<OwnedFd> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None).ok()?;
    match rustix::net::connect(&socket, &addr) {
        Ok(()) | Err(rustix::io::Errno::INPROGRESS) => Some(socket),
        Err(_) => None,
    }
}

/// Starts the server for `req` and waits (at most `timeout`) for its
/// answer. `Ok` once it is mounted and serving; otherwise the exact
/// failure it reported (the server has exited), or why it could not be
/// started or did not answer (it is stopped). `handed` goes to the server
/// with the request ([`start_connect`]).
pub fn start(
    program: &Path,
    req: &Request,
    log: &Path,
    timeout: Duration,
    handed: Option<OwnedFd>,
) -> Result<u32, Failure> {
    let cannot_run = |e: std::io::Error| {
        Failure::new(
            WnError::NoNetwork,
            format!("cannot run {}: {e}", program.display()),
        )
    };
    let (mut child, stdin, log_file) = match crate::spare::take(program, &req.mountpoint) {
        Some(spare) => {
            let (child, stdin) = (spare.child, spare.stdin);
            match open_log(log).and_then(|f| record_pid(log, child.id()).map(|()| f)) {
                Ok(f) => (child, stdin, Some(f)),
                Err(e) => {
                    stop(child);
                    return Err(cannot_run(e));
                }
            }
        }
        None => {
            let (child, stdin) = spawn(program, &req.mountpoint, log).map_err(cannot_run)?;
            (child, stdin, None)
        }
    };
    let line = zeroize::Zeroizing::new(
        serde_json::to_string(req).expect("a request always serialises") + "\n",
    );
    let mut fds: Vec<BorrowedFd<'_>> = handed.iter().map(|fd| fd.as_fd()).collect();
    fds.extend(log_file.as_ref().map(|f| f.as_fd()));
    // A server that died before reading is reported below.
    let _ = send_request(&stdin, line.as_bytes(), &fds);
    drop(stdin);
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reply = String::new();
        let got = BufReader::new(stdout).read_line(&mut reply);
        let _ = tx.send(got.map(|_| reply));
    });
    let failure = match rx.recv_timeout(timeout) {
        Ok(Ok(text)) => match serde_json::from_str::<Reply>(&text) {
            Ok(Reply::Ready { pid }) => return Ok(pid),
            Ok(Reply::Failed { code, message }) => {
                let _ = child.wait();
                return Err(Failure::new(
                    WnError::from_code(code).unwrap_or(WnError::NetError),
                    message,
                ));
            }
            // A dial's answer is never the request's.
            Ok(Reply::Dialed { .. }) | Err(_) => stopped(&mut child, log),
        },
        Ok(Err(_)) => stopped(&mut child, log),
        Err(_) => {
            kill(&mut child);
            Failure::new(
                WnError::BadNetPath,
                format!(
                    "{PROGRAM} did not finish connecting within {} s: timed out",
                    timeout.as_secs()
                ),
            )
        }
    };
    Err(failure)
}

/// Writes the request line to the server's standard input, `fds` (the
/// socket, the log: the server tells them apart) passed along with its
/// first bytes.
pub(crate) fn send_request(
    stdin: &UnixStream,
    line: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("no room for the descriptors"));
    }
    let mut sent = sendmsg(
        stdin,
        &[std::io::IoSlice::new(line)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    // The rest, if the socket took only part; never a SIGPIPE (libmpr's
    // host process may not ignore it) if the server is gone.
    while sent < line.len() {
        match rustix::net::send(stdin, &line[sent..], SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Spawns the server with its stderr to `log`, its pid recorded. The
/// server needs no start gate like the other helpers (see `helper.rs`): it
/// does nothing before it has read its whole request, which is written
/// only once the pid is on record, and a killed `mpr` closes the socket, so
/// the server exits at once.
fn spawn(program: &Path, mountpoint: &Path, log: &Path) -> std::io::Result<(Child, UnixStream)> {
    let err = open_log(log)?;
    let (mut child, ours) = spawn_process(program, mountpoint, err.into())?;
    if let Err(e) = record_pid(log, child.id()) {
        kill(&mut child);
        return Err(e);
    }
    Ok((child, ours))
}

/// Creates (or empties) the server's log, in a private directory.
fn open_log(log: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = log.parent() {
        mpr_core::state::ensure_private_dir(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(log)
}

/// Starts the server's process: its mount point as its argument (for
/// `ps`), own process group, stdin one end of a Unix socket pair (the
/// other is returned: the request goes there), stdout piped, stderr to
/// `stderr`. Nothing is recorded.
pub(crate) fn spawn_process(
    program: &Path,
    mountpoint: &Path,
    stderr: Stdio,
) -> std::io::Result<(Child, UnixStream)> {
    let (ours, theirs) = UnixStream::pair()?;
    let child = Command::new(program)
        .arg(mountpoint)
        .env_remove(crate::helper::NOTIFY_SOCKET)
        .stdin(OwnedFd::from(theirs))
        .stdout(Stdio::piped())
        .stderr(stderr)
        .process_group(0)
        .spawn()?;
    Ok((child, ours))
}

/// Stops a server that was never given a request, and reaps it.
pub(crate) fn stop(mut child: Child) {
    kill(&mut child);
}

/// The failure for a server that exited without a reply: its log says why.
fn stopped(child: &mut Child, log: &Path) -> Failure {
    kill(child);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = tail.len().saturating_sub(8);
    Failure::new(
        WnError::NetError,
        format!(
            "{PROGRAM} stopped without answering: {}",
            tail[start..].join("\n")
        ),
    )
}

/// Stops the server's process group and reaps it.
fn kill(child: &mut Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_found_only_as_an_executable_file() {
        let d = tempfile_dir("find");
        assert_eq!(find(std::slice::from_ref(&d)), None);
        std::fs::create_dir(d.join(PROGRAM)).unwrap();
        assert_eq!(
            find(std::slice::from_ref(&d)),
            None,
            "a directory is not it"
        );
        std::fs::remove_dir(d.join(PROGRAM)).unwrap();
        std::fs::write(d.join(PROGRAM), "").unwrap();
        assert_eq!(find(std::slice::from_ref(&d)), None, "not executable");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join(PROGRAM), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            find(&[PathBuf::from("/nonexistent"), d.clone()]),
            Some(d.join(PROGRAM))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A fresh directory of this test process, one per `test` (the tests
    /// run at once).
    fn tempfile_dir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mpr-fsd-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_server_that_exits_without_a_reply_is_reported_with_its_log() {
        let d = tempfile_dir("start").join("x");
        std::fs::create_dir_all(&d).unwrap();
        let log = d.join("helpers").join("smb_x.log");
        let req: Request = serde_json::from_str(
            r#"{"protocol":"smb","host":"h","port":null,"share":"s","path":"",
                "user":null,"domain":null,"password":null,"mountpoint":"/m",
                "health_file":"/h","op_timeout_secs":1}"#,
        )
        .unwrap();
        let e = start(
            Path::new("/bin/false"),
            &req,
            &log,
            Duration::from_secs(5),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, WnError::NetError, "{e:?}");
        assert!(e.text.contains("stopped without answering"), "{e:?}");
        let e = start(
            Path::new("/nonexistent/mpr-fsd"),
            &req,
            &log,
            Duration::from_secs(5),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, WnError::NoNetwork, "{e:?}");
        let _ = std::fs::remove_dir_all(d.parent().unwrap());
    }

    #[test]
    fn a_connect_to_an_address_is_started_and_handed_over_with_the_request() {
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let socket = start_connect("127.0.0.1", port).expect("a connect is started");
        assert!(
            start_connect("localhost", port).is_none(),
            "a name is left to the server"
        );
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_request(&ours, b"{}\n", &[socket.as_fd()]).unwrap();
        drop(socket);
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut buf = [0u8; 8];
        let got = recvmsg(
            &theirs,
            &mut [std::io::IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::empty(),
        )
        .unwrap();
        assert_eq!(&buf[..got.bytes], b"{}\n");
        let handed = control
            .drain()
            .find_map(|m| match m {
                RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
                _ => None,
            })
            .expect("the socket came along");
        let (_accepted, from) = listener.accept().unwrap();
        let handed = std::net::TcpStream::from(handed);
        assert_eq!(handed.local_addr().unwrap(), from);
    }
}
