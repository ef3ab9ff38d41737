//! A file-system server started ahead of its request, while the router
//! reserves the name, runs the notifications and, for a bare UNC name, the
//! providers' checks.
//!
//! Starting `mpr-fsd` (a fork and an exec, then the program's own start)
//! takes a few milliseconds on a small machine, and so do the reservation
//! of the name, the notifications and a bare name's check of its server;
//! done one after the other they add up. Since all three built-in
//! providers serve their connections with the same program, whichever of
//! them takes the name, the first of them told that a connect is coming
//! (`NetworkProvider::get_ready`, or its check) starts a server in the
//! background ([`prepare`]) for the directory the connection will be made
//! at. The connect then takes that server
//! ([`take`]) instead of starting one, and gives it its log with the
//! request (it had none before it knew which provider's connection it
//! would serve). When the connect is over, whatever it did not take goes
//! ([`discard`], from `NetworkProvider::claims_over`).
//!
//! The SMB provider also starts the TCP connection its server will speak
//! on ([`connect_early`], [`take_early`]): `smbd` forks a process for each
//! connection, and that fork then overlaps the checks too. For a bare
//! name's check it may ask the spare to [`dial`]: the spare opens that
//! connection and negotiates, and the answer is the check's, so the check
//! and the session are one connection (one `smbd` process, not two).
//!
//! Nothing depends on it: a connect that finds no spare (none was started,
//! it is still starting after [`TAKE_WAIT`], it is for another directory
//! or program) starts its server as before. A spare nobody took is stopped
//! when the connect is over, or after [`LIFE`] if nobody said so; one left
//! by a command that exits sees its request socket close and exits without
//! doing anything. It is never on record
//! as any connection's server until a connect takes it.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a spare nobody took lives: a bare name's checks end within
/// [`crate::probe::WAIT`], and its connect starts right after; a connect
/// whose notifyees take longer starts a server of its own.
pub const LIFE: Duration = Duration::from_secs(5);

/// How long a connect waits for a spare that is still starting before it
/// starts a server of its own.
pub const TAKE_WAIT: Duration = Duration::from_secs(1);

/// A started server, waiting for its request.
#[derive(Debug)]
pub struct Spare {
    /// The program it runs.
    program: PathBuf,
    /// The mount point it was started for (its argument).
    mountpoint: PathBuf,
    /// The process.
    pub child: Child,
    /// Where its request goes.
    pub stdin: UnixStream,
    /// The server it has a connection to, negotiated by a [`dial`].
    dialed: Option<(String, u16)>,
}

/// The one spare of this process.
#[derive(Debug, Default)]
enum Slot {
    /// None.
    #[default]
    Empty,
    /// Being started, for this program and mount point.
    Starting(PathBuf, PathBuf),
    /// Started.
    Ready(Spare),
    /// Started, and out on a [`dial`] (it comes back when that ends).
    Dialing(PathBuf, PathBuf),
}

impl Slot {
    /// Whether it holds (or will hold) a server of `program` (any, if
    /// `None`) for `mountpoint`.
    fn is_for(&self, program: Option<&Path>, mountpoint: &Path) -> bool {
        let (p, m) = match self {
            Slot::Empty => return false,
            Slot::Starting(p, m) | Slot::Dialing(p, m) => (p, m),
            Slot::Ready(s) => (&s.program, &s.mountpoint),
        };
        program.is_none_or(|program| p == program) && m == mountpoint
    }
}

static SLOT: Mutex<Slot> = Mutex::new(Slot::Empty);
static CHANGED: Condvar = Condvar::new();

fn slot() -> MutexGuard<'static, Slot> {
    SLOT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a server of `program` for `mountpoint` in the background, unless
/// one is there or on its way already; a spare for anything else is
/// stopped. Returns at once.
pub fn prepare(program: &Path, mountpoint: &Path) {
    let old = {
        let mut slot = slot();
        if slot.is_for(Some(program), mountpoint) {
            return;
        }
        std::mem::replace(
            &mut *slot,
            Slot::Starting(program.to_path_buf(), mountpoint.to_path_buf()),
        )
    };
    if let Slot::Ready(old) = old {
        crate::fsd::stop(old.child);
    }
    let (program, mountpoint) = (program.to_path_buf(), mountpoint.to_path_buf());
    let started = std::thread::Builder::new()
        .name("mpr-spare".into())
        .spawn(move || run(program, mountpoint));
    if started.is_err() {
        *slot() = Slot::Empty;
        CHANGED.notify_all();
    }
}

/// The spare's thread: starts it, then stops it if nobody took it within
/// [`LIFE`].
fn run(program: PathBuf, mountpoint: PathBuf) {
    let spawned = crate::fsd::spawn_process(&program, &mountpoint, Stdio::null());
    let pid = {
        let mut slot = slot();
        let wanted = matches!(&*slot, Slot::Starting(p, m) if *p == program && *m == mountpoint);
        let pid = match spawned {
            Ok((child, stdin)) if wanted => {
                let pid = child.id();
                *slot = Slot::Ready(Spare {
                    program,
                    mountpoint,
                    child,
                    stdin,
                    dialed: None,
                });
                Some(pid)
            }
            Ok((child, _)) => {
                drop(slot);
                crate::fsd::stop(child);
                CHANGED.notify_all();
                return;
            }
            Err(_) => {
                if wanted {
                    *slot = Slot::Empty;
                }
                None
            }
        };
        CHANGED.notify_all();
        pid
    };
    let Some(pid) = pid else { return };
    std::thread::sleep(LIFE);
    let unused = {
        let mut slot = slot();
        match &*slot {
            Slot::Ready(s) if s.child.id() == pid => std::mem::take(&mut *slot),
            _ => Slot::Empty,
        }
    };
    if let Slot::Ready(s) = unused {
        crate::fsd::stop(s.child);
    }
}

/// Stops the spare and closes the early connection got ready for
/// `mountpoint`, if no connect took them.
///
/// A spare still starting is waited for (at most [`TAKE_WAIT`]), so that
/// it is gone when this returns.
pub fn discard(mountpoint: &Path) {
    if let Some(s) = take_matching(None, mountpoint) {
        crate::fsd::stop(s.child);
    }
    {
        // Still starting after the wait: its thread stops it once started.
        let mut slot = slot();
        if slot.is_for(None, mountpoint) {
            *slot = Slot::Empty;
            CHANGED.notify_all();
        }
    }
    let mut early = early();
    if early.as_ref().is_some_and(|e| e.mountpoint == mountpoint) {
        *early = None;
        // Nobody waits for a name that will not be resolved here now.
        RESOLVED.notify_all();
    }
}

/// The spare started for `program` and `mountpoint`, waiting (at most
/// [`TAKE_WAIT`]) if it is still starting; `None` if there is none. A
/// spare for anything else is left alone (its own connect may want it).
pub fn take(program: &Path, mountpoint: &Path) -> Option<Spare> {
    take_matching(Some(program), mountpoint)
}

/// [`take`], of a spare of any program if `program` is `None`.
fn take_matching(program: Option<&Path>, mountpoint: &Path) -> Option<Spare> {
    take_ready(program, mountpoint, true).map(|(_, spare)| spare)
}

/// The spare of `program` (any, if `None`) for `mountpoint`, taken out of
/// the slot once it is ready, with the slot still locked: waits (at most
/// [`TAKE_WAIT`]) while it is starting, and while it is out on a [`dial`]
/// if `past_dials`.
fn take_ready(
    program: Option<&Path>,
    mountpoint: &Path,
    past_dials: bool,
) -> Option<(MutexGuard<'static, Slot>, Spare)> {
    let deadline = Instant::now() + TAKE_WAIT;
    let busy = |s: &Slot| {
        matches!(s, Slot::Starting(..)) || (past_dials && matches!(s, Slot::Dialing(..)))
    };
    let mut slot = slot();
    while busy(&slot) && slot.is_for(program, mountpoint) {
        let left = deadline.checked_duration_since(Instant::now())?;
        slot = CHANGED
            .wait_timeout(slot, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    if !slot.is_for(program, mountpoint) {
        return None;
    }
    match std::mem::take(&mut *slot) {
        Slot::Ready(spare) => Some((slot, spare)),
        other => {
            *slot = other;
            None
        }
    }
}

/// Asks the spare got ready for `mountpoint` to dial `host:port` as an SMB
/// server would be (`mpr_handshake::Dial`): it connects (on a connect
/// started here for an address), negotiates, and keeps the connection for
/// its request. `Some(Ok)`: an SMB server answered; `Some(Err)`: it did not
/// (why); `None`: there is no spare to ask, or it did not answer within
/// `wait` (it is stopped then).
///
/// A connect that wants the spare while it dials waits for the dial (at
/// most [`TAKE_WAIT`]), unless the dial was abandoned ([`abandon_dial`]):
/// then the connect starts a server of its own, and the spare is stopped
/// when the dial ends.
pub fn dial(
    mountpoint: &Path,
    host: &str,
    port: u16,
    wait: Duration,
) -> Option<Result<(), String>> {
    use mpr_handshake::{Dial, DialLine, Protocol, Reply};
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut spare = {
        let (mut slot, spare) = take_ready(None, mountpoint, false)?;
        *slot = Slot::Dialing(spare.program.clone(), mountpoint.to_path_buf());
        spare
    };
    let line = DialLine {
        dial: Dial {
            protocol: Protocol::Smb,
            host: host.to_string(),
            port,
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        },
    };
    let line = serde_json::to_string(&line).expect("a dial always serialises") + "\n";
    // A connect to an address starts here, so that it is under way while
    // the server reads the line; a host name the server resolves itself.
    let socket = crate::fsd::start_connect(host, port);
    let fds: Vec<_> = socket.iter().map(|s| s.as_fd()).collect();
    let sent = crate::fsd::send_request(&spare.stdin, line.as_bytes(), &fds);
    drop(socket);
    let answer = match (sent, spare.child.stdout.take()) {
        (Ok(()), Some(mut out)) => {
            let (tx, rx) = std::sync::mpsc::channel();
            // The server writes nothing after its answer until the request
            // comes, so reading up to the line's end takes no more.
            let _ = std::thread::Builder::new()
                .name("mpr-dial".into())
                .spawn(move || {
                    let mut line = Vec::new();
                    let mut buf = [0u8; 512];
                    while !line.ends_with(b"\n") && line.len() < 4096 {
                        match out.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => line.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tx.send((out, line));
                });
            match rx.recv_timeout(wait + Duration::from_millis(500)) {
                Ok((out, line)) => {
                    spare.child.stdout = Some(out);
                    match serde_json::from_slice::<Reply>(&line) {
                        Ok(Reply::Dialed { answered: true, .. }) => Some(Ok(())),
                        Ok(Reply::Dialed { message, .. }) => Some(Err(message)),
                        _ => None,
                    }
                }
                Err(_) => None,
            }
        }
        _ => None,
    };
    let mut slot = slot();
    let back = matches!(&*slot, Slot::Dialing(p, m) if *p == spare.program && m == mountpoint);
    if back && answer.is_some() {
        if answer == Some(Ok(())) {
            spare.dialed = Some((host.to_string(), port));
        }
        *slot = Slot::Ready(spare);
        CHANGED.notify_all();
        return answer;
    }
    if back {
        *slot = Slot::Empty;
        CHANGED.notify_all();
    }
    drop(slot);
    crate::fsd::stop(spare.child);
    answer
}

/// Lets go of the spare out on a [`dial`] for `mountpoint` (the check found
/// another kind of server): nobody waits for it, and it is stopped when the
/// dial ends.
pub fn abandon_dial(mountpoint: &Path) {
    let mut slot = slot();
    if matches!(&*slot, Slot::Dialing(..)) && slot.is_for(None, mountpoint) {
        *slot = Slot::Empty;
        CHANGED.notify_all();
    }
}

/// Whether the spare for `mountpoint` holds a connection to `host:port`
/// that a [`dial`] negotiated (its connect needs no other).
pub fn has_dialed(mountpoint: &Path, host: &str, port: u16) -> bool {
    matches!(&*slot(), Slot::Ready(s) if s.mountpoint == mountpoint
        && s.dialed.as_ref().is_some_and(|(h, p)| h == host && *p == port))
}

/// A TCP connect started early.
#[derive(Debug)]
struct Early {
    host: String,
    port: u16,
    /// The mount point of the connect it is for.
    mountpoint: PathBuf,
    /// The connecting socket; `None` while a host name is being resolved.
    socket: Option<OwnedFd>,
    /// Tells this one from a later one to the same address.
    started: Instant,
}

static EARLY: Mutex<Option<Early>> = Mutex::new(None);
static RESOLVED: Condvar = Condvar::new();

fn early() -> MutexGuard<'static, Option<Early>> {
    EARLY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts connecting to `host:port` for a connect at `mountpoint` that may
/// come; closed by [`discard`], or after [`LIFE`], if nobody took it.
/// Returns at once: a host name is resolved in a thread of its own, while
/// the connect is on its way ([`take_early`] waits for the end of that).
pub fn connect_early(host: &str, port: u16, mountpoint: &Path) {
    let started = Instant::now();
    let by_name = crate::fsd::address(host).is_none();
    let socket = if by_name {
        None
    } else {
        match crate::fsd::start_connect(host, port) {
            Some(s) => Some(s),
            None => return,
        }
    };
    *early() = Some(Early {
        host: host.to_string(),
        port,
        mountpoint: mountpoint.to_path_buf(),
        socket,
        started,
    });
    let host = host.to_string();
    let _ = std::thread::Builder::new()
        .name("mpr-early".into())
        .spawn(move || {
            if by_name {
                use std::net::ToSocketAddrs;
                let first = (host.as_str(), port)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next());
                let socket = first.and_then(crate::fsd::start_connect_to);
                let mut slot = early();
                if slot.as_ref().is_some_and(|e| e.started == started) {
                    match (slot.as_mut(), socket) {
                        (Some(e), Some(s)) => e.socket = Some(s),
                        _ => *slot = None,
                    }
                    RESOLVED.notify_all();
                }
            }
            std::thread::sleep(LIFE);
            let mut slot = early();
            if slot.as_ref().is_some_and(|e| e.started == started) {
                *slot = None;
            }
        });
}

/// The connection started early to `host:port`, if there is one. A host
/// name still being resolved is waited for, at most [`TAKE_WAIT`] (the
/// server would have to resolve it as well); after that the server
/// connects by itself.
pub fn take_early(host: &str, port: u16) -> Option<OwnedFd> {
    let deadline = Instant::now() + TAKE_WAIT;
    let mut slot = early();
    let is_for = |e: &Early| e.host == host && e.port == port;
    while slot
        .as_ref()
        .is_some_and(|e| is_for(e) && e.socket.is_none())
    {
        let left = deadline.checked_duration_since(Instant::now())?;
        slot = RESOLVED
            .wait_timeout(slot, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    if slot.as_ref().is_some_and(is_for) {
        return slot.take().and_then(|e| e.socket);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for `mpr-fsd` that records its argument and what it was
    /// sent, then exits.
    fn fake_server(dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("mpr-fsd");
        std::fs::write(
            &p,
            "#!/bin/sh\necho \"$1\" > \"$1.arg\"\nhead -c 5 > \"$1.got\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    // One test for the whole life of the process-wide slot, so that no
    // other test races it.
    #[test]
    fn a_spare_is_taken_only_for_its_own_mount_point_and_once() {
        use std::io::Write;
        let d = std::env::temp_dir().join(format!("mpr-spare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let program = fake_server(&d);
        let (m1, m2) = (d.join("m1"), d.join("m2"));

        prepare(&program, &m1);
        prepare(&program, &m1);
        assert!(take(&program, &m2).is_none(), "not for another mount point");
        assert!(
            take(Path::new("/other/mpr-fsd"), &m1).is_none(),
            "not for another program"
        );
        let mut spare = take(&program, &m1).expect("the spare for m1");
        assert!(take(&program, &m1).is_none(), "taken once");
        spare.stdin.write_all(b"hello").unwrap();
        drop(spare.stdin);
        assert!(spare.child.wait().unwrap().success());
        assert_eq!(std::fs::read_to_string(d.join("m1.got")).unwrap(), "hello");
        assert_eq!(
            std::fs::read_to_string(d.join("m1.arg")).unwrap().trim(),
            m1.display().to_string(),
            "started with the mount point as its argument"
        );

        // A spare for another mount point replaces the one there.
        prepare(&program, &m1);
        prepare(&program, &m2);
        assert!(take(&program, &m1).is_none());
        assert!(take(&program, &m2).is_some());

        // One nobody took goes when its connect is over, and only then.
        prepare(&program, &m1);
        discard(&m2);
        let spare = take(&program, &m1).expect("still there");
        prepare(&program, &m1);
        std::thread::sleep(Duration::from_millis(300));
        discard(&m1);
        assert!(take(&program, &m1).is_none(), "discarded");
        crate::fsd::stop(spare.child);

        dials(&d);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A stand-in for `mpr-fsd` that answers a dial by the host it names,
    /// then records the request line.
    fn dialing_server(dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("dialing-fsd");
        std::fs::write(
            &p,
            r#"#!/bin/sh
read -r line
case "$line" in
  *'"host":"smb.example"'*) echo '{"reply":"dialed","answered":true,"message":"SMB 3.1.1"}' ;;
  *'"host":"slow.example"'*) sleep 2 ;;
  *) echo '{"reply":"dialed","answered":false,"message":"it hung up"}' ;;
esac
read -r req
echo "$req" > "$1.req"
"#,
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// [`dial`] with the slot of the test above (called from it).
    fn dials(d: &Path) {
        use std::io::Write;
        let program = dialing_server(d);
        let (m1, m2) = (d.join("d1"), d.join("d2"));
        let wait = Duration::from_secs(1);
        assert_eq!(dial(&m1, "smb.example", 445, wait), None, "no spare to ask");

        // Answered: the spare comes back holding the connection.
        prepare(&program, &m1);
        assert_eq!(dial(&m1, "smb.example", 445, wait), Some(Ok(())));
        assert!(has_dialed(&m1, "smb.example", 445));
        assert!(!has_dialed(&m1, "smb.example", 446));
        assert!(!has_dialed(&m2, "smb.example", 445));
        let mut spare = take(&program, &m1).expect("back after the dial");
        spare.stdin.write_all(b"the request\n").unwrap();
        assert!(spare.child.wait().unwrap().success());
        assert_eq!(
            std::fs::read_to_string(d.join("d1.req")).unwrap().trim(),
            "the request"
        );

        // Not answered: the spare comes back for another kind of connect.
        prepare(&program, &m1);
        let no = dial(&m1, "web.example", 80, wait).expect("an answer");
        assert_eq!(no, Err("it hung up".to_string()));
        assert!(!has_dialed(&m1, "web.example", 80));
        let spare = take(&program, &m1).expect("back after the dial");
        crate::fsd::stop(spare.child);

        // Slow, and let go of: a connect does not wait for it, and the
        // spare is stopped once the dial gives up.
        prepare(&program, &m1);
        let (dir, started) = (m1.clone(), Instant::now());
        let slow =
            std::thread::spawn(move || dial(&dir, "slow.example", 445, Duration::from_millis(100)));
        std::thread::sleep(Duration::from_millis(50));
        abandon_dial(&m1);
        let t = Instant::now();
        assert!(take(&program, &m1).is_none(), "let go of");
        assert!(t.elapsed() < Duration::from_millis(500), "not waited for");
        assert_eq!(slow.join().unwrap(), None);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(*slot(), Slot::Empty));
    }

    /// The early connection is one per process: its tests take turns.
    static EARLY_TESTS: Mutex<()> = Mutex::new(());

    #[test]
    fn a_connection_started_early_is_taken_once_for_its_address() {
        let _turn = EARLY_TESTS.lock().unwrap_or_else(PoisonError::into_inner);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let m = Path::new("/m");
        connect_early("127.0.0.1", port, m);
        assert!(take_early("127.0.0.1", port + 1).is_none());
        assert!(take_early("127.0.0.2", port).is_none());
        let socket = take_early("127.0.0.1", port).expect("the early connection");
        assert!(take_early("127.0.0.1", port).is_none(), "taken once");
        let (_, from) = listener.accept().unwrap();
        assert_eq!(
            std::net::TcpStream::from(socket).local_addr().unwrap(),
            from
        );
        connect_early("127.0.0.1", port, m);
        discard(Path::new("/other"));
        assert!(take_early("127.0.0.1", port).is_some(), "not another's");
        connect_early("127.0.0.1", port, m);
        discard(m);
        assert!(take_early("127.0.0.1", port).is_none(), "discarded");
    }

    #[test]
    fn a_connection_to_a_host_name_is_started_once_the_name_is_resolved() {
        use std::net::ToSocketAddrs;
        let _turn = EARLY_TESTS.lock().unwrap_or_else(PoisonError::into_inner);
        // Where this machine's resolver sends `localhost` first.
        let first = ("localhost", 0).to_socket_addrs().unwrap().next().unwrap();
        let listener = std::net::TcpListener::bind(first).unwrap();
        let port = listener.local_addr().unwrap().port();
        let m = Path::new("/by-name");
        connect_early("localhost", port, m);
        // Taken at once: the resolution is waited for.
        let socket = take_early("localhost", port).expect("the early connection");
        let (_, from) = listener.accept().unwrap();
        assert_eq!(
            std::net::TcpStream::from(socket).local_addr().unwrap(),
            from
        );
        // A name that does not resolve leaves nothing to take.
        connect_early("no-such-host.invalid", port, m);
        assert!(take_early("no-such-host.invalid", port).is_none());
    }
}
