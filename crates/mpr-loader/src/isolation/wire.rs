//! The protocol between the router and a notifyee host: frames over a Unix
//! socketpair.
//!
//! A frame is a little-endian `u32` length followed by that many bytes: a
//! tag byte, then the message's fields in a fixed order (integers
//! little-endian, a string as a presence byte, a `u32` byte length and UTF-8
//! bytes). The exchange is strictly one request, one reply:
//!
//! - `Load { protocol, path }` → `Loaded { protocol, add, cancel }`,
//!   `NoExports(why)` or `LoadFailed(why)`; always the first exchange.
//! - `Call(..)` → `Returned { status, context }` or `Error(why)`.
//!
//! Contexts cross as host-side ids (`u32`, 0 = NULL): the pointer a
//! notifyee stored stays in the host. No password is ever part of a
//! message (`NOTIFYADD` and `NOTIFYCANCEL` carry none).

use rustix::net::{RecvFlags, SendFlags};
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// The protocol version; a host that speaks another one is refused.
pub(crate) const PROTOCOL: u32 = 1;

/// The largest frame either side accepts (names are at most 4 096 UTF-16
/// units, so real frames stay far below this).
const MAX_FRAME: usize = 1 << 20;

/// Which notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `AddConnectNotify`.
    Add,
    /// `CancelConnectNotify`.
    Cancel,
}

/// One notifyee call, as the host makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallRequest {
    /// Add or cancel.
    pub(crate) op: Op,
    /// `true` for POST.
    pub(crate) post: bool,
    /// `dwOperationStatus`.
    pub(crate) status: u32,
    /// The host-side id of the context (POST), 0 for none.
    pub(crate) context: u32,
    /// `hwndOwner` (opaque).
    pub(crate) owner: u64,
    /// `dwType` (add).
    pub(crate) r#type: u32,
    /// `dwAddFlags` / `dwFlags`.
    pub(crate) flags: u32,
    /// `fForce` (cancel).
    pub(crate) force: bool,
    /// Add: local, remote, provider. Cancel: name, provider, unused.
    pub(crate) strings: [Option<String>; 3],
}

/// Router → host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Vet and load the library at `path`.
    Load {
        /// The router's [`PROTOCOL`].
        protocol: u32,
        /// The library, as registered (bytes of the path).
        path: Vec<u8>,
    },
    /// Call the notifyee.
    Call(CallRequest),
}

/// Host → router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Loaded; which functions it exports.
    Loaded {
        /// The host's [`PROTOCOL`].
        protocol: u32,
        /// `AddConnectNotify` is exported.
        add: bool,
        /// `CancelConnectNotify` is exported.
        cancel: bool,
    },
    /// Loaded, but it exports neither function.
    NoExports(String),
    /// Refused by the trust checks or not loadable.
    LoadFailed(String),
    /// The call returned.
    Returned {
        /// What the notifyee returned.
        status: u32,
        /// The host-side id of the context it left (PRE), 0 for NULL.
        context: u32,
    },
    /// The request could not be served (a protocol error).
    Error(String),
}

const T_LOAD: u8 = 1;
const T_CALL: u8 = 2;
const T_LOADED: u8 = 11;
const T_NO_EXPORTS: u8 = 12;
const T_LOAD_FAILED: u8 = 13;
const T_RETURNED: u8 = 14;
const T_ERROR: u8 = 15;

/// Appends fields to a frame being built.
struct Out<'a>(&'a mut Vec<u8>);

impl Out<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        // Longer strings are refused by the reader (MAX_FRAME); none occurs.
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.bytes(s.as_bytes());
            }
        }
    }
}

/// Reads fields from a received frame.
struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated message".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }
    fn opt_str(&mut self) -> Result<Option<String>, String> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            t => Err(format!("bad string tag {t}")),
        }
    }
    fn bool(&mut self) -> Result<bool, String> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(format!("bad boolean {t}")),
        }
    }
    fn end(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("trailing bytes in a message".into())
        }
    }
}

/// Starts a frame in `buf`: room for the length, then the tag.
fn begin(buf: &mut Vec<u8>, tag: u8) -> Out<'_> {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    buf.push(tag);
    Out(buf)
}

/// Writes the length of the frame in `buf`.
fn finish(buf: &mut [u8]) {
    let len = u32::try_from(buf.len() - 4).unwrap_or(u32::MAX);
    buf[..4].copy_from_slice(&len.to_le_bytes());
}

impl Request {
    /// The whole frame, length included, in `buf`.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Request::Load { protocol, path } => {
                let mut o = begin(buf, T_LOAD);
                o.u32(*protocol);
                o.bytes(path);
            }
            Request::Call(c) => {
                let mut o = begin(buf, T_CALL);
                o.u8(match c.op {
                    Op::Add => 1,
                    Op::Cancel => 2,
                });
                o.u8(u8::from(c.post));
                o.u32(c.status);
                o.u32(c.context);
                o.u64(c.owner);
                o.u32(c.r#type);
                o.u32(c.flags);
                o.u8(u8::from(c.force));
                for s in &c.strings {
                    o.opt_str(s.as_deref());
                }
            }
        }
        finish(buf);
    }

    /// Parses a frame body (without its length).
    pub(crate) fn decode(body: &[u8]) -> Result<Request, String> {
        let mut i = In(body);
        let r = match i.u8()? {
            T_LOAD => Request::Load {
                protocol: i.u32()?,
                path: i.bytes()?.to_vec(),
            },
            T_CALL => Request::Call(CallRequest {
                op: match i.u8()? {
                    1 => Op::Add,
                    2 => Op::Cancel,
                    t => return Err(format!("bad operation {t}")),
                },
                post: i.bool()?,
                status: i.u32()?,
                context: i.u32()?,
                owner: i.u64()?,
                r#type: i.u32()?,
                flags: i.u32()?,
                force: i.bool()?,
                strings: [i.opt_str()?, i.opt_str()?, i.opt_str()?],
            }),
            t => return Err(format!("unknown request {t}")),
        };
        i.end()?;
        Ok(r)
    }
}

impl Reply {
    /// The whole frame, length included, in `buf`.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Reply::Loaded {
                protocol,
                add,
                cancel,
            } => {
                let mut o = begin(buf, T_LOADED);
                o.u32(*protocol);
                o.u8(u8::from(*add));
                o.u8(u8::from(*cancel));
            }
            Reply::NoExports(why) => begin(buf, T_NO_EXPORTS).bytes(why.as_bytes()),
            Reply::LoadFailed(why) => begin(buf, T_LOAD_FAILED).bytes(why.as_bytes()),
            Reply::Returned { status, context } => {
                let mut o = begin(buf, T_RETURNED);
                o.u32(*status);
                o.u32(*context);
            }
            Reply::Error(why) => begin(buf, T_ERROR).bytes(why.as_bytes()),
        }
        finish(buf);
    }

    /// Parses a frame body (without its length).
    pub(crate) fn decode(body: &[u8]) -> Result<Reply, String> {
        let mut i = In(body);
        let r = match i.u8()? {
            T_LOADED => Reply::Loaded {
                protocol: i.u32()?,
                add: i.bool()?,
                cancel: i.bool()?,
            },
            T_NO_EXPORTS => Reply::NoExports(i.string()?),
            T_LOAD_FAILED => Reply::LoadFailed(i.string()?),
            T_RETURNED => Reply::Returned {
                status: i.u32()?,
                context: i.u32()?,
            },
            T_ERROR => Reply::Error(i.string()?),
            t => return Err(format!("unknown reply {t}")),
        };
        i.end()?;
        Ok(r)
    }
}

/// Why a frame could not be exchanged.
#[derive(Debug)]
pub(crate) enum ChannelError {
    /// The deadline passed.
    TimedOut,
    /// The other side closed the socket (it exited or died).
    Closed,
    /// Another I/O error.
    Io(io::Error),
    /// A malformed frame.
    Protocol(String),
}

impl std::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelError::TimedOut => f.write_str("timed out"),
            ChannelError::Closed => f.write_str("the other side closed the channel"),
            ChannelError::Io(e) => write!(f, "{e}"),
            ChannelError::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

/// Fails when bytes the other side sent are waiting unread. The exchange
/// is strictly one request, one reply, so a frame's last byte is the last
/// one the peer may have sent until it is asked again: anything more is a
/// protocol error, found whether it came with the frame or after it.
fn nothing_unread(sock: &UnixStream) -> Result<(), ChannelError> {
    let mut probe = [0u8; 1];
    loop {
        match rustix::net::recv(sock, &mut probe, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Ok((0, _)) => return Ok(()),
            Ok(_) => return Err(ChannelError::Protocol("unexpected extra bytes".into())),
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => return Ok(()),
            // A reset or closed peer shows at the next read or send.
            Err(_) => return Ok(()),
        }
    }
}

/// Sends a whole frame. `MSG_NOSIGNAL`: a peer that has gone away is an
/// error here, never a `SIGPIPE` (which would kill a C program using
/// libmpr.so). The socket's send timeout, if set, bounds the wait. Bytes
/// the peer sent unasked are refused first ([`nothing_unread`]).
pub(crate) fn send_frame(sock: &UnixStream, frame: &[u8]) -> Result<(), ChannelError> {
    nothing_unread(sock)?;
    let mut sent = 0;
    while sent < frame.len() {
        match rustix::net::send(sock, &frame[sent..], SendFlags::NOSIGNAL) {
            Ok(0) => return Err(ChannelError::Closed),
            Ok(n) => sent += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::PIPE | rustix::io::Errno::CONNRESET) => {
                return Err(ChannelError::Closed);
            }
            Err(rustix::io::Errno::AGAIN) => return Err(ChannelError::TimedOut),
            Err(e) => return Err(ChannelError::Io(e.into())),
        }
    }
    Ok(())
}

/// Receives one frame into `buf` and returns its body. It reads the length,
/// then exactly that many bytes (never into the next frame), and refuses a
/// frame followed by bytes already waiting ([`nothing_unread`]). With a
/// deadline, every read waits at most until then (`SO_RCVTIMEO`); without
/// one it blocks.
pub(crate) fn recv_frame<'b>(
    sock: &UnixStream,
    buf: &'b mut Vec<u8>,
    deadline: Option<Instant>,
) -> Result<&'b [u8], ChannelError> {
    buf.clear();
    buf.resize(4, 0);
    let mut have = 0;
    let mut sized = false;
    let mut timeout_set = false;
    loop {
        if have == buf.len() {
            if sized {
                nothing_unread(sock)?;
                return Ok(&buf[4..]);
            }
            let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if len > MAX_FRAME {
                return Err(ChannelError::Protocol(format!(
                    "a frame of {len} bytes is too long"
                )));
            }
            buf.resize(4 + len, 0);
            sized = true;
            continue;
        }
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ChannelError::TimedOut);
            }
            sock.set_read_timeout(Some(left))
                .map_err(ChannelError::Io)?;
            timeout_set = true;
        } else if timeout_set {
            sock.set_read_timeout(None).map_err(ChannelError::Io)?;
        }
        match (&*sock).read(&mut buf[have..]) {
            Ok(0) => return Err(ChannelError::Closed),
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ChannelError::TimedOut);
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(ChannelError::Closed);
            }
            Err(e) => return Err(ChannelError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn body(frame: &[u8]) -> &[u8] {
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(len, frame.len() - 4);
        &frame[4..]
    }

    #[test]
    fn requests_round_trip() {
        let mut buf = Vec::new();
        let reqs = [
            Request::Load {
                protocol: PROTOCOL,
                path: b"/usr/lib/mpr/libx.so".to_vec(),
            },
            Request::Call(CallRequest {
                op: Op::Add,
                post: false,
                status: 0,
                context: 0,
                owner: 0xDEAD_BEEF_0000_0001,
                r#type: 1,
                flags: 0x21,
                force: false,
                strings: [Some("Z:".into()), Some(r"\\s\é".into()), None],
            }),
            Request::Call(CallRequest {
                op: Op::Cancel,
                post: true,
                status: 1223,
                context: 7,
                owner: 0,
                r#type: 0,
                flags: 1,
                force: true,
                strings: [Some(String::new()), Some("Acme".into()), None],
            }),
        ];
        for r in reqs {
            r.encode(&mut buf);
            assert_eq!(Request::decode(body(&buf)).unwrap(), r);
        }
    }

    #[test]
    fn replies_round_trip() {
        let mut buf = Vec::new();
        for r in [
            Reply::Loaded {
                protocol: PROTOCOL,
                add: true,
                cancel: false,
            },
            Reply::NoExports("neither".into()),
            Reply::LoadFailed("refused".into()),
            Reply::Returned {
                status: 1237,
                context: u32::MAX,
            },
            Reply::Error("unknown context".into()),
        ] {
            r.encode(&mut buf);
            assert_eq!(Reply::decode(body(&buf)).unwrap(), r);
        }
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let mut buf = Vec::new();
        Request::Call(CallRequest {
            op: Op::Add,
            post: false,
            status: 0,
            context: 0,
            owner: 0,
            r#type: 1,
            flags: 0,
            force: false,
            strings: [Some("Z:".into()), Some("x".into()), Some("y".into())],
        })
        .encode(&mut buf);
        let whole = body(&buf).to_vec();
        for cut in 0..whole.len() {
            assert!(Request::decode(&whole[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = whole.clone();
        extra.push(0);
        assert!(Request::decode(&extra).is_err());
        assert!(Request::decode(&[99]).is_err());
        assert!(Reply::decode(&[T_RETURNED, 1]).is_err());
        assert!(Reply::decode(&[T_ERROR, 2, 0, 0, 0, 0xFF, 0xFE]).is_err());
    }

    #[test]
    fn frames_cross_a_socket_and_time_out() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut out = Vec::new();
        Reply::Returned {
            status: 5,
            context: 9,
        }
        .encode(&mut out);
        send_frame(&a, &out).unwrap();
        let mut inb = Vec::new();
        let got = recv_frame(&b, &mut inb, None).unwrap();
        assert_eq!(
            Reply::decode(got).unwrap(),
            Reply::Returned {
                status: 5,
                context: 9
            }
        );
        let t = Instant::now();
        let deadline = t + std::time::Duration::from_millis(50);
        assert!(matches!(
            recv_frame(&b, &mut inb, Some(deadline)),
            Err(ChannelError::TimedOut)
        ));
        assert!(t.elapsed() >= std::time::Duration::from_millis(50));
        drop(a);
        assert!(matches!(
            recv_frame(&b, &mut inb, None),
            Err(ChannelError::Closed)
        ));
        assert!(matches!(send_frame(&b, &out), Err(ChannelError::Closed)));
    }

    /// A frame of any length followed by more bytes is refused, even when
    /// the frame ends where a read of a fixed size would stop (the fuzzer
    /// found a 512-byte frame with bytes after it accepted).
    #[test]
    fn a_frame_with_bytes_after_it_is_refused_at_any_length() {
        for body_len in [0usize, 1, 508, 509, 1020, 4096] {
            let mut stream = (body_len as u32).to_le_bytes().to_vec();
            stream.resize(4 + body_len, 0x41);
            let (a, b) = UnixStream::pair().unwrap();
            (&a).write_all(&stream).unwrap();
            let mut inb = Vec::new();
            assert_eq!(recv_frame(&b, &mut inb, None).unwrap().len(), body_len);
            (&a).write_all(&[0]).unwrap();
            drop(a);
            let (a, b2) = UnixStream::pair().unwrap();
            stream.push(7);
            (&a).write_all(&stream).unwrap();
            drop(a);
            assert!(
                matches!(
                    recv_frame(&b2, &mut inb, None),
                    Err(ChannelError::Protocol(_))
                ),
                "a {body_len}-byte body with a byte after it"
            );
            // The first socket has an unasked byte waiting: sending is refused.
            assert!(matches!(
                send_frame(&b, &stream),
                Err(ChannelError::Protocol(_))
            ));
        }
    }
}
