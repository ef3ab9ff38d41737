//! Reading the handshake request: one JSON line on standard input, of
//! bounded size, held in memory that is wiped when dropped (it carries the
//! password). `mpr` makes standard input a Unix socket and may pass, with
//! the request's bytes, a TCP socket on which it has started connecting to
//! the server and the server's log ([`read_stdin`], [`Handed`]); a pipe
//! carries the request alone.

use mpr_abi as abi;
use mpr_fs::handshake::{Dial, DialLine, Request};
use std::fmt;
use std::io::{BufRead, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use zeroize::Zeroizing;

/// The longest request line accepted (names, paths, options and the
/// password fit many times over).
pub const MAX_REQUEST: u64 = 64 * 1024;

/// Why no request could be read.
#[derive(Debug)]
pub enum RequestError {
    /// Standard input could not be read.
    Read(std::io::Error),
    /// It ended before a whole line came (the provider died or closed it).
    Truncated,
    /// The line is longer than [`MAX_REQUEST`].
    TooLong,
    /// The line is not a request (the JSON error, which never quotes the
    /// input, so never the password).
    Malformed(String),
}

impl RequestError {
    /// The `WN_*` code of the reply.
    pub fn code(&self) -> u32 {
        match self {
            RequestError::Read(_) | RequestError::Truncated => abi::WN_NET_ERROR,
            RequestError::TooLong | RequestError::Malformed(_) => abi::WN_BAD_VALUE,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Read(e) => write!(f, "cannot read the handshake request: {e}"),
            RequestError::Truncated => {
                f.write_str("the handshake request ended before its line did")
            }
            RequestError::TooLong => {
                write!(
                    f,
                    "the handshake request is longer than {MAX_REQUEST} bytes"
                )
            }
            RequestError::Malformed(why) => write!(f, "the handshake request is malformed: {why}"),
        }
    }
}

/// The descriptors that came with a request, told apart by their type.
#[derive(Debug, Default)]
pub struct Handed {
    /// A TCP socket on which `mpr` has started connecting to the server.
    pub socket: Option<OwnedFd>,
    /// The server's log, for its standard error: a server started before
    /// `mpr` knew which provider's connection it would serve (a bare name's
    /// checks were still running) was started with none.
    pub log: Option<OwnedFd>,
}

impl Handed {
    /// Files `fd` as what it is; anything else (or a second of a kind)
    /// is closed.
    fn take(&mut self, fd: OwnedFd) {
        use rustix::fs::FileType;
        let slot = match rustix::fs::fstat(&fd).map(|st| FileType::from_raw_mode(st.st_mode)) {
            Ok(FileType::Socket) => &mut self.socket,
            Ok(FileType::RegularFile) => &mut self.log,
            _ => return,
        };
        slot.get_or_insert(fd);
    }
}

/// The most descriptors a request may come with ([`Handed`]).
const MAX_HANDED: usize = 2;

/// One line from the provider: a dial (only ever first) or the request.
#[derive(Debug)]
pub enum Line {
    /// Open the connection and say whether the server answers
    /// (`mpr_fs::handshake::Dial`); the request follows.
    Dial(Dial),
    /// The request.
    Request(Box<Request>),
}

/// Reads one line from standard input, with what was passed along with it.
pub fn read_stdin() -> Result<(Line, Handed), RequestError> {
    read_line_from(std::io::stdin().as_fd())
}

/// Reads one request line from `input`, with the descriptors passed along
/// with it if `input` is a Unix socket and some were.
pub fn read_from(input: BorrowedFd<'_>) -> Result<(Request, Handed), RequestError> {
    match read_line_from(input)? {
        (Line::Request(r), handed) => Ok((*r, handed)),
        (Line::Dial(_), _) => Err(RequestError::Malformed(
            "a dial came where the request was expected".into(),
        )),
    }
}

/// Reads one line from `input` ([`read_from`]): a dial or a request. The
/// provider writes a line only once the one before is answered, so a line
/// never shares its bytes with the next.
pub fn read_line_from(input: BorrowedFd<'_>) -> Result<(Line, Handed), RequestError> {
    use rustix::io::Errno;
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
    // Room for a request of any usual size, so that the password is not
    // left behind in a smaller buffer that grew.
    let mut line = Zeroizing::new(Vec::with_capacity(16 * 1024));
    let mut buf = Zeroizing::new([0u8; 4096]);
    let mut handed = Handed::default();
    loop {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_HANDED))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = match recvmsg(
            input,
            &mut [std::io::IoSliceMut::new(&mut buf[..])],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(m) => m.bytes,
            // Not a socket (a pipe, a file): nothing can come with it.
            Err(Errno::NOTSOCK) if line.is_empty() => {
                let own = input.try_clone_to_owned().map_err(RequestError::Read)?;
                let mut reader = std::io::BufReader::new(std::fs::File::from(own));
                return read(&mut reader).map(|r| (Line::Request(Box::new(r)), Handed::default()));
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(RequestError::Read(e.into())),
        };
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = m {
                for fd in fds {
                    handed.take(fd);
                }
            }
        }
        if got == 0 {
            return Err(RequestError::Truncated);
        }
        line.extend_from_slice(&buf[..got]);
        let end = line.iter().position(|&b| b == b'\n');
        if let Some(end) = end {
            line.truncate(end + 1);
        }
        if line.len() as u64 > MAX_REQUEST {
            return Err(RequestError::TooLong);
        }
        if end.is_some() {
            break;
        }
    }
    let malformed = |e: serde_json::Error| RequestError::Malformed(e.to_string());
    if line.starts_with(DialLine::START.as_bytes()) {
        let d: DialLine = serde_json::from_slice(&line).map_err(malformed)?;
        return Ok((Line::Dial(d.dial), handed));
    }
    let req = serde_json::from_slice(&line).map_err(malformed)?;
    Ok((Line::Request(Box::new(req)), handed))
}

/// Reads one request line from `input`.
pub fn read(input: &mut impl BufRead) -> Result<Request, RequestError> {
    let mut line = Zeroizing::new(String::new());
    let n = input
        .take(MAX_REQUEST + 1)
        .read_line(&mut line)
        .map_err(RequestError::Read)?;
    if n as u64 > MAX_REQUEST {
        return Err(RequestError::TooLong);
    }
    if !line.ends_with('\n') {
        return Err(RequestError::Truncated);
    }
    serde_json::from_str(&line).map_err(|e| {
        // serde_json's messages name a line and column and the expected
        // shape, never the input's text.
        RequestError::Malformed(e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_fs::handshake::{Password, Protocol};
    use std::io::Write;

    fn sample() -> Request {
        Request {
            protocol: Protocol::Smb,
            host: "127.0.0.1".into(),
            port: Some(44450),
            share: "public".into(),
            path: String::new(),
            user: Some("u".into()),
            domain: None,
            password: Some(Password::new("s3cret".into())),
            mountpoint: "/m".into(),
            health_file: "/h".into(),
            op_timeout_secs: 15,
            options: Default::default(),
            audit: None,
        }
    }

    /// Sends `bytes` on `to` with `fds` passed along.
    fn send_with(to: &std::os::unix::net::UnixStream, bytes: &[u8], fds: &[BorrowedFd<'_>]) {
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
        sendmsg(
            to,
            &[std::io::IoSlice::new(bytes)],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
    }

    #[test]
    fn a_request_line_is_read_whole() {
        let line = format!("{}\n", serde_json::to_string(&sample()).unwrap());
        let got = read(&mut line.as_bytes()).unwrap();
        assert_eq!(got, sample());
    }

    #[test]
    fn a_truncated_or_malformed_request_is_refused_without_quoting_it() {
        let line = serde_json::to_string(&sample()).unwrap();
        assert!(matches!(
            read(&mut line.as_bytes()),
            Err(RequestError::Truncated)
        ));
        let bad = line.replace("\"smb\"", "\"nfs\"") + "\n";
        let e = read(&mut bad.as_bytes()).unwrap_err();
        assert_eq!(e.code(), abi::WN_BAD_VALUE);
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn an_endless_request_is_refused_at_the_bound() {
        let long = vec![b'x'; MAX_REQUEST as usize + 10];
        assert!(matches!(
            read(&mut long.as_slice()),
            Err(RequestError::TooLong)
        ));
    }

    #[test]
    fn a_socket_comes_with_the_request_on_a_unix_socket() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let line = serde_json::to_string(&sample()).unwrap() + "\n";
        // The line in two pieces, the socket with the first.
        let (a, b) = line.as_bytes().split_at(10);
        send_with(&ours, a, &[tcp.as_fd()]);
        (&ours).write_all(b).unwrap();
        let (req, handed) = read_from(theirs.as_fd()).unwrap();
        assert_eq!(req.host, sample().host);
        assert!(handed.log.is_none());
        let handed = std::net::TcpStream::from(handed.socket.expect("the socket came along"));
        assert_eq!(handed.peer_addr().unwrap(), listener.local_addr().unwrap());

        // Without a socket, and cut short.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        (&ours).write_all(line.as_bytes()).unwrap();
        assert!(read_from(theirs.as_fd()).unwrap().1.socket.is_none());
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        (&ours).write_all(&line.as_bytes()[..20]).unwrap();
        drop(ours);
        assert!(matches!(
            read_from(theirs.as_fd()),
            Err(RequestError::Truncated)
        ));
    }

    #[test]
    fn a_dial_comes_first_with_its_socket_and_the_request_after_it() {
        use mpr_fs::handshake::{Dial, DialLine};
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let dial = DialLine {
            dial: Dial {
                protocol: Protocol::Smb,
                host: "127.0.0.1".into(),
                port: 44450,
                wait_ms: 1500,
            },
        };
        let line = serde_json::to_string(&dial).unwrap() + "\n";
        send_with(&ours, line.as_bytes(), &[tcp.as_fd()]);
        match read_line_from(theirs.as_fd()).unwrap() {
            (Line::Dial(d), handed) => {
                assert_eq!(d, dial.dial);
                assert!(handed.socket.is_some(), "the socket came with the dial");
            }
            other => panic!("not a dial: {other:?}"),
        }
        let req = serde_json::to_string(&sample()).unwrap() + "\n";
        (&ours).write_all(req.as_bytes()).unwrap();
        assert!(matches!(
            read_line_from(theirs.as_fd()).unwrap().0,
            Line::Request(r) if *r == sample()
        ));
        // Where only a request may come, a dial is refused.
        (&ours).write_all(line.as_bytes()).unwrap();
        let e = read_from(theirs.as_fd()).unwrap_err();
        assert_eq!(e.code(), abi::WN_BAD_VALUE);
    }

    #[test]
    fn a_pipe_carries_the_request_alone() {
        let (r, mut w) = std::io::pipe().unwrap();
        let line = serde_json::to_string(&sample()).unwrap() + "\n";
        w.write_all(line.as_bytes()).unwrap();
        drop(w);
        let (req, handed) = read_from(r.as_fd()).unwrap();
        assert_eq!(req.host, sample().host);
        assert!(handed.socket.is_none() && handed.log.is_none());
    }

    #[test]
    fn a_log_and_a_socket_are_told_apart_whatever_their_order() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let log = tempfile::tempfile().unwrap();
        let (pipe, _w) = std::io::pipe().unwrap();
        let line = serde_json::to_string(&sample()).unwrap() + "\n";
        for (fds, with_log) in [
            ([tcp.as_fd(), log.as_fd()], true),
            ([log.as_fd(), tcp.as_fd()], true),
            ([pipe.as_fd(), tcp.as_fd()], false),
        ] {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            send_with(&ours, line.as_bytes(), &fds);
            let (_, handed) = read_from(theirs.as_fd()).unwrap();
            let socket = std::net::TcpStream::from(handed.socket.expect("the socket"));
            assert_eq!(socket.peer_addr().unwrap(), listener.local_addr().unwrap());
            assert_eq!(handed.log.is_some(), with_log, "a pipe is no log");
            if let Some(fd) = handed.log {
                use std::os::unix::fs::MetadataExt;
                let got = std::fs::File::from(fd).metadata().unwrap();
                assert_eq!(got.ino(), log.metadata().unwrap().ino(), "the same file");
            }
        }
    }
}
