//! A quick "is this server of my kind?" check for bare UNC names, which any
//! provider may be asked about: connect, speak first (so that a server of
//! another kind answers or hangs up at once instead of waiting for us), and
//! read the first bytes of the answer within a short wait. The router runs
//! every provider's check at once (`NetworkProvider::claim`).
//!
//! A provider that will open a connection to the address anyway may offer
//! to ask there instead ([`offer_dial`]): the SMB provider's server, got
//! ready while the name was reserved, dials and negotiates on the
//! connection its session will use, and an answered NEGOTIATE is what the
//! exchange of [`opening`] would have heard. The exchange itself goes out
//! as before when the dial says no, finds nothing to dial with, or has not
//! answered within [`DIAL_GRACE`].

use std::io::{Read, Write};
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long a bare UNC name waits for a greeting before it is "not mine".
pub const WAIT: Duration = Duration::from_millis(1500);

/// What the SSH and SMB checks say first, chosen so that each kind of
/// server on the port answers at once (measured against OpenSSH, Samba and
/// Go's HTTP server): an SMB2 NEGOTIATE in its session framing, which an
/// SMB server answers with an SMB2 header, then an empty line, on which an
/// HTTP server answers `400` to the line of bytes before it. An SSH server
/// sends its identification first whatever the client says (an SSH
/// identification line from us would leave an SMB server waiting for the
/// rest of a frame it reads from it).
pub fn opening() -> Vec<u8> {
    let mut m = smb2_negotiate();
    m.extend_from_slice(b"\r\n");
    m
}

/// An SMB2 NEGOTIATE request (dialects 2.0.2 and 2.1) in its 4-byte
/// session framing: any SMB2/3 server answers it with an SMB2 header,
/// whatever dialect it will settle on.
pub fn smb2_negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(108);
    // The SMB2 header (64 bytes): protocol id, structure size, credit
    // charge, status, command (NEGOTIATE = 0), credits asked, flags, next
    // command, message id, process id, tree id, session id, signature.
    m.extend_from_slice(b"\xFESMB");
    m.extend_from_slice(&64u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&[0u8; 4 + 4 + 8 + 4 + 4 + 8 + 16]);
    // NEGOTIATE: structure size 36, two dialects, signing enabled, no
    // capabilities, a client GUID, no start time, then the dialects.
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&2u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(b"mpr-probe-client");
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(&0x0202u16.to_le_bytes());
    m.extend_from_slice(&0x0210u16.to_le_bytes());
    let len = u32::try_from(m.len()).expect("a short message");
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    framed
}

/// Connects to `host:port`, writes `hello` if any, and checks that the
/// answer, past its first `skip` bytes, starts with `expect`. The error
/// says why not, for the message.
pub fn greeting(
    host: &str,
    port: u16,
    wait: Duration,
    hello: Option<&[u8]>,
    expect: &[u8],
) -> Result<(), String> {
    answer_at(host, port, wait, hello, 0, expect)
}

/// [`greeting`], with the expected bytes `skip` bytes into the answer.
///
/// Checks that say something first share one exchange per address: the
/// built-in providers all say [`opening`], so when their checks of one
/// `host:port` start together (a bare name with a port names one server for
/// all of them), one connection asks and every check reads its answer from
/// what that server said. A server that forks per connection (`smbd`) then
/// starts one process for the checks instead of one per provider.
pub fn answer_at(
    host: &str,
    port: u16,
    wait: Duration,
    hello: Option<&[u8]>,
    skip: usize,
    expect: &[u8],
) -> Result<(), String> {
    let heard = match hello {
        Some(h) => shared_exchange(host, port, wait, h)?,
        None => exchange(host, port, wait, None, skip + expect.len())?,
    };
    heard.check(skip, expect)
}

/// How many bytes of an answer an exchange waits for: enough for every
/// built-in check (an SMB2 header's protocol id after the 4-byte framing).
const ANSWER_LEN: usize = 8;

/// How long after an exchange began a check of the same address that says
/// the same thing takes its answer instead of asking again: the checks of
/// one bare name start within this of each other.
const SHARE_FOR: Duration = WAIT;

/// How long an exchange waits for an offered dial before it asks on a
/// connection of its own too (then the first answer wins). An SMB server
/// on the local network answers a dial in a few milliseconds.
pub const DIAL_GRACE: Duration = Duration::from_millis(20);

/// A dial offered for an address ([`offer_dial`]).
pub struct Dialer {
    /// Asked with the bound of the exchange, it says whether an SMB server
    /// answered a NEGOTIATE there (`None`: it could not ask).
    pub dial: Box<dyn FnOnce(Duration) -> Option<Result<(), String>> + Send>,
    /// Called when the exchange's own connection heard another kind of
    /// server first: what the dial holds need not be waited for.
    pub abandon: Box<dyn FnOnce() + Send>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer").finish_non_exhaustive()
    }
}

/// A dial offered for an address, by whom and when.
struct Offer {
    host: String,
    port: u16,
    owner: PathBuf,
    at: Instant,
    /// `None` once an exchange took it.
    dial: Option<Dialer>,
}

static OFFERS: Mutex<Vec<Offer>> = Mutex::new(Vec::new());

fn offers() -> std::sync::MutexGuard<'static, Vec<Offer>> {
    let mut o = OFFERS.lock().unwrap_or_else(PoisonError::into_inner);
    o.retain(|o| o.at.elapsed() < SHARE_FOR);
    o
}

/// Offers `dial` for the exchanges of [`opening`] with `host:port` in the
/// next [`WAIT`], for the connect at `owner` (an earlier offer for the
/// address goes). Asks nothing of the network.
pub fn offer_dial(host: &str, port: u16, owner: &Path, dial: Dialer) {
    let mut o = offers();
    o.retain(|o| !(o.host == host && o.port == port));
    o.push(Offer {
        host: host.to_string(),
        port,
        owner: owner.to_path_buf(),
        at: Instant::now(),
        dial: Some(dial),
    });
}

/// Whether a dial was offered for `host:port` lately (taken or not): its
/// connection is the one the session will use.
pub fn dial_offered(host: &str, port: u16) -> bool {
    offers().iter().any(|o| o.host == host && o.port == port)
}

/// Withdraws what was offered for the connect at `owner`.
pub fn withdraw_dials(owner: &Path) {
    offers().retain(|o| o.owner != owner);
}

/// The dial offered for `host:port`, once.
fn take_dial(host: &str, port: u16) -> Option<Dialer> {
    offers()
        .iter_mut()
        .find(|o| o.host == host && o.port == port)
        .and_then(|o| o.dial.take())
}

/// What an SMB server's answer to [`opening`] starts with: the session
/// framing (its length here unknown, so zero), then the SMB2 protocol id.
const SMB_ANSWER: &[u8; ANSWER_LEN] = b"\0\0\0\0\xFESMB";

/// The exchange of `hello` with `host:port` through `dial` first: an SMB
/// server's answer if it says one answered, else the exchange's own
/// (asked at once if the dial says no, after [`DIAL_GRACE`] if it is slow;
/// then whichever comes first).
fn dial_or_exchange(
    host: &str,
    port: u16,
    wait: Duration,
    hello: &[u8],
    dial: Dialer,
) -> Result<Heard, String> {
    enum Got {
        Dialed(Option<Result<(), String>>),
        Heard(Result<Heard, String>),
    }
    let smb = || Heard {
        bytes: SMB_ANSWER.to_vec(),
        end: End::Full,
    };
    let Dialer { dial, abandon } = dial;
    let (tx, rx) = std::sync::mpsc::channel();
    let to_dial = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("mpr-dial".into())
        .spawn(move || {
            let _ = to_dial.send(Got::Dialed(dial(wait)));
        });
    if spawned.is_err() {
        return exchange(host, port, wait, Some(hello), ANSWER_LEN);
    }
    match rx.recv_timeout(DIAL_GRACE) {
        Ok(Got::Dialed(Some(Ok(())))) => return Ok(smb()),
        Ok(_) => return exchange(host, port, wait, Some(hello), ANSWER_LEN),
        Err(_) => {}
    }
    let (h, m) = (host.to_string(), hello.to_vec());
    let spawned = std::thread::Builder::new()
        .name("mpr-probe".into())
        .spawn(move || {
            let _ = tx.send(Got::Heard(exchange(&h, port, wait, Some(&m), ANSWER_LEN)));
        });
    if spawned.is_err() {
        return exchange(host, port, wait, Some(hello), ANSWER_LEN);
    }
    loop {
        match rx.recv() {
            Ok(Got::Dialed(Some(Ok(())))) => return Ok(smb()),
            Ok(Got::Dialed(_)) => {}
            Ok(Got::Heard(h)) => {
                if !h
                    .as_ref()
                    .is_ok_and(|h| h.check(4, &SMB_ANSWER[4..]).is_ok())
                {
                    abandon();
                }
                return h;
            }
            Err(_) => return Err("the check ended without an answer".into()),
        }
    }
}

/// What a server said, and how the exchange ended.
#[derive(Clone, Debug)]
struct Heard {
    bytes: Vec<u8>,
    end: End,
}

/// Why an exchange stopped reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// It had all it waited for.
    Full,
    /// The server closed (or reset) the connection first.
    HungUp,
    /// The wait (this long) ran out first.
    TimedOut(Duration),
}

const HUNG_UP: &str = "it hung up: it speaks another protocol";

impl Heard {
    /// Whether the answer, past its first `skip` bytes, starts with `expect`.
    fn check(&self, skip: usize, expect: &[u8]) -> Result<(), String> {
        match self.bytes.get(skip..skip + expect.len()) {
            Some(got) if got == expect => Ok(()),
            Some(_) => Err("it answers in another protocol".into()),
            None => Err(match self.end {
                End::HungUp | End::Full => HUNG_UP.into(),
                End::TimedOut(wait) => {
                    format!("no greeting within {} ms: timed out", wait.as_millis())
                }
            }),
        }
    }
}

/// One exchange, with the time it began, that concurrent checks share.
struct Shared {
    key: (String, u16, Vec<u8>),
    began: Instant,
    heard: OnceLock<Result<Heard, String>>,
}

/// The exchanges begun lately, by address and opening.
static RECENT: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());

/// [`exchange`] of `hello` with `host:port`, or the answer of one begun
/// with the same words there less than [`SHARE_FOR`] ago (waiting for it
/// if it is still under way).
fn shared_exchange(host: &str, port: u16, wait: Duration, hello: &[u8]) -> Result<Heard, String> {
    let key = (host.to_string(), port, hello.to_vec());
    let shared = {
        let mut recent = RECENT.lock().unwrap_or_else(PoisonError::into_inner);
        recent.retain(|s| s.began.elapsed() < SHARE_FOR);
        match recent.iter().find(|s| s.key == key) {
            Some(s) => Arc::clone(s),
            None => {
                let s = Arc::new(Shared {
                    key,
                    began: Instant::now(),
                    heard: OnceLock::new(),
                });
                recent.push(Arc::clone(&s));
                s
            }
        }
    };
    shared
        .heard
        .get_or_init(|| {
            match (hello == opening())
                .then(|| take_dial(host, port))
                .flatten()
            {
                Some(dial) => dial_or_exchange(host, port, wait, hello, dial),
                None => exchange(host, port, wait, Some(hello), ANSWER_LEN),
            }
        })
        .clone()
}

/// Connects to `host:port`, writes `hello` if any, and reads up to `want`
/// bytes of the answer within `wait`.
fn exchange(
    host: &str,
    port: u16,
    wait: Duration,
    hello: Option<&[u8]>,
    want: usize,
) -> Result<Heard, String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no address".to_string())?;
    let deadline = Instant::now() + wait;
    let mut conn = std::net::TcpStream::connect_timeout(&addr, wait).map_err(|e| e.to_string())?;
    // A server of another protocol may close at once, even before it has
    // read what we sent (then the kernel resets the connection): that is
    // a hang-up too.
    let hung_up = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
        )
    };
    if let Some(Err(e)) = hello.map(|h| conn.write_all(h)) {
        return if hung_up(&e) {
            Ok(Heard {
                bytes: Vec::new(),
                end: End::HungUp,
            })
        } else {
            Err(e.to_string())
        };
    }
    let mut bytes = vec![0u8; want];
    let mut filled = 0;
    let end = loop {
        if filled == want {
            break End::Full;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break End::TimedOut(wait);
        }
        let _ = conn.set_read_timeout(Some(left));
        match conn.read(&mut bytes[filled..]) {
            Ok(0) => break End::HungUp,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break End::TimedOut(wait);
            }
            Err(e) if hung_up(&e) => break End::HungUp,
            Err(e) => return Err(format!("no greeting ({e})")),
        }
    };
    bytes.truncate(filled);
    Ok(Heard { bytes, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_greeting_and_refuses_silence() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut a, _) = l.accept().unwrap();
            a.write_all(b"SSH-2.0-test\r\n").unwrap();
            let (_b, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        assert_eq!(greeting("127.0.0.1", port, WAIT, None, b"SSH-"), Ok(()));
        let e = greeting("127.0.0.1", port, Duration::from_millis(100), None, b"SSH-").unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        t.join().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(greeting("127.0.0.1", closed, WAIT, None, b"SSH-").is_err());
    }

    #[test]
    fn the_smb2_negotiate_is_framed_and_sized() {
        let m = smb2_negotiate();
        assert_eq!(m.len(), 4 + 64 + 36 + 4);
        assert_eq!(&m[..4], &(104u32).to_be_bytes());
        assert_eq!(&m[4..8], b"\xFESMB");
        // The NEGOTIATE body starts right after the 64-byte header.
        assert_eq!(u16::from_le_bytes([m[68], m[69]]), 36);
        assert_eq!(u16::from_le_bytes([m[70], m[71]]), 2);
    }

    #[test]
    fn a_server_that_hangs_up_is_not_mine_at_once() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (a, _) = l.accept().unwrap();
            drop(a);
        });
        let start = std::time::Instant::now();
        let e = greeting("127.0.0.1", port, WAIT, Some(&opening()), b"SSH-").unwrap_err();
        assert!(e.contains("hung up"), "{e}");
        assert!(start.elapsed() < WAIT);
        t.join().unwrap();
    }

    fn dialer(
        answer: Option<Result<(), String>>,
        after: Duration,
        abandoned: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Dialer {
        let abandoned = std::sync::Arc::clone(abandoned);
        Dialer {
            dial: Box::new(move |_| {
                std::thread::sleep(after);
                answer
            }),
            abandon: Box::new(move || abandoned.store(true, std::sync::atomic::Ordering::SeqCst)),
        }
    }

    #[test]
    fn a_dial_that_an_smb_server_answered_is_every_checks_answer() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let owner = Path::new("/probe-test/answered");
        let abandoned = Default::default();
        offer_dial(
            "127.0.0.1",
            port,
            owner,
            dialer(Some(Ok(())), Duration::ZERO, &abandoned),
        );
        assert!(dial_offered("127.0.0.1", port));
        let smb = answer_at("127.0.0.1", port, WAIT, Some(&opening()), 4, b"\xFESMB");
        let ssh = greeting("127.0.0.1", port, WAIT, Some(&opening()), b"SSH-");
        assert_eq!(smb, Ok(()));
        assert!(ssh.unwrap_err().contains("another protocol"));
        // Nobody connected: the dial's connection was the check.
        assert_eq!(
            l.accept().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        assert!(!abandoned.load(std::sync::atomic::Ordering::SeqCst));
        // Still offered (taken), until its connect is over.
        assert!(dial_offered("127.0.0.1", port));
        withdraw_dials(owner);
        assert!(!dial_offered("127.0.0.1", port));
    }

    #[test]
    fn a_dial_that_says_no_or_is_slow_leaves_the_check_to_its_own_connection() {
        for (answer, after) in [
            (Some(Err("it hung up".to_string())), Duration::ZERO),
            (None, Duration::ZERO),
            (Some(Ok(())), Duration::from_millis(400)),
        ] {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let server = std::thread::spawn(move || {
                let (mut a, _) = l.accept().unwrap();
                a.write_all(b"SSH-2.0-test\r\n").unwrap();
                std::thread::sleep(Duration::from_millis(100));
            });
            let owner = Path::new("/probe-test/no");
            let abandoned = Default::default();
            let slow = !after.is_zero();
            offer_dial("127.0.0.1", port, owner, dialer(answer, after, &abandoned));
            let start = Instant::now();
            let ssh = greeting("127.0.0.1", port, WAIT, Some(&opening()), b"SSH-");
            assert_eq!(ssh, Ok(()));
            assert!(
                start.elapsed() < Duration::from_millis(300),
                "not waited for"
            );
            // A slow dial is let go of when another kind of server answered.
            assert_eq!(abandoned.load(std::sync::atomic::Ordering::SeqCst), slow);
            server.join().unwrap();
            withdraw_dials(owner);
        }
    }

    #[test]
    fn checks_of_one_address_share_one_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut a, _) = l.accept().unwrap();
            let mut buf = [0u8; 16];
            let _ = a.read(&mut buf).unwrap();
            a.write_all(b"\0\0\0\x40\xFESMB").unwrap();
            l.set_nonblocking(true).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            l.accept().is_ok()
        });
        let checks: Vec<_> = [(0, &b"SSH-"[..]), (4, &b"\xFESMB"[..]), (0, &b"HTTP/"[..])]
            .into_iter()
            .map(|(skip, expect)| {
                std::thread::spawn(move || {
                    answer_at("127.0.0.1", port, WAIT, Some(&opening()), skip, expect)
                })
            })
            .collect();
        let said: Vec<_> = checks.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(said[1], Ok(()));
        assert_eq!(said[0], Err("it answers in another protocol".to_string()));
        assert_eq!(said[2], Err("it answers in another protocol".to_string()));
        assert!(!server.join().unwrap(), "a second connection was made");
    }
}
