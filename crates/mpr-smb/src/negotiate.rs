//! The NEGOTIATE exchange, with the client's encryption capability set.
//!
//! A server of the SMB 3 family chooses a cipher only for a client that
//! says it can encrypt: the `SMB2_GLOBAL_CAP_ENCRYPTION` bit of the
//! NEGOTIATE request's capabilities (MS-SMB2 2.2.3; Samba looks at the
//! encryption negotiate context of SMB 3.1.1 only when the bit is set too).
//! `smb2` 0.39 can encrypt and offers its ciphers in the negotiate context,
//! but leaves the bit clear, so a share that requires encryption refused
//! every session. Its NEGOTIATE request cannot be changed through its API,
//! so [`Asking`] wraps the transport under a new connection: the first
//! message sent, when it is a NEGOTIATE request, goes out with the bit set,
//! and the exchange is remembered. SMB 3.1.1 derives the session's keys from
//! a hash of the bytes on the wire (the pre-authentication integrity hash,
//! MS-SMB2 3.2.5.2), which `smb2` computed over the request as it built
//! it; [`negotiate`] computes it again over what was really sent. It first
//! checks that `smb2`'s hash is the one of the request as built and the
//! answer as received, so a change in how `smb2` hashes is an error at
//! connect, never a session whose signatures fail.

use crate::{ConnectError, connect_error};
use smb2::Result;
use smb2::client::connection::Connection;
use smb2::crypto::kdf::PreauthHasher;
use smb2::transport::{ReceiveProgress, TransportReceive, TransportSend};
use smb2::types::flags::Capabilities;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A future as the `smb2` transport traits return it.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The size of an SMB2 message header.
const HEADER: usize = 64;
/// Where a NEGOTIATE request's capabilities are: the header, then
/// StructureSize, DialectCount, SecurityMode and Reserved (2 bytes each).
const CAPABILITIES: usize = HEADER + 8;
/// The header's Flags bit of a server's answer.
const FLAGS_SERVER_TO_REDIR: u32 = 0x1;

/// Whether `message` is an SMB2 NEGOTIATE, sent by a client (`answer`
/// false) or by a server (`answer` true), long enough to hold a
/// request's capabilities.
fn is_negotiate(message: &[u8], answer: bool) -> bool {
    message.len() >= CAPABILITIES + 4
        && message[..4] == [0xFE, b'S', b'M', b'B']
        // Command, at offset 12: NEGOTIATE is 0.
        && message[12..14] == [0, 0]
        && (u32::from_le_bytes([message[16], message[17], message[18], message[19]])
            & FLAGS_SERVER_TO_REDIR
            != 0)
            == answer
}

/// What went over the wire in the NEGOTIATE exchange.
#[derive(Default)]
struct Exchange {
    /// The request as `smb2` built it.
    built: Option<Vec<u8>>,
    /// The request as it was sent.
    sent: Option<Vec<u8>>,
    /// The server's answer.
    answer: Option<Vec<u8>>,
}

/// The record both halves of the transport share.
#[derive(Default)]
struct Record {
    /// Set once the request has been sent, so that later messages pass
    /// with one load.
    sent: AtomicBool,
    /// Set once the answer has been kept.
    answered: AtomicBool,
    exchange: Mutex<Exchange>,
}

impl Record {
    fn exchange(&self) -> std::sync::MutexGuard<'_, Exchange> {
        self.exchange.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A transport whose first NEGOTIATE request asks for encryption; see the
/// module's documentation. Both halves are built by [`Asking::connection`].
pub(crate) struct Asking {
    record: Arc<Record>,
}

/// The sending half of an [`Asking`] transport.
struct AskingSend<T> {
    inner: T,
    record: Arc<Record>,
}

/// The receiving half of an [`Asking`] transport.
struct AskingReceive<T> {
    inner: T,
    record: Arc<Record>,
}

impl Asking {
    /// A connection over `transport` (both halves) whose NEGOTIATE asks for
    /// encryption, and the record [`negotiate`] needs.
    pub(crate) fn connection<T>(transport: Arc<T>, server_name: &str) -> (Connection, Asking)
    where
        T: TransportSend + TransportReceive + 'static,
    {
        let record = Arc::new(Record::default());
        let conn = Connection::from_transport(
            Box::new(AskingSend {
                inner: Arc::clone(&transport),
                record: Arc::clone(&record),
            }),
            Box::new(AskingReceive {
                inner: transport,
                record: Arc::clone(&record),
            }),
            server_name,
        );
        (conn, Asking { record })
    }
}

impl<T: TransportSend> TransportSend for AskingSend<T> {
    fn send<'a, 'b, 'f>(&'a self, data: &'b [u8]) -> Boxed<'f, ()>
    where
        'a: 'f,
        'b: 'f,
    {
        if self.record.sent.load(Ordering::Acquire) || !is_negotiate(data, false) {
            return self.inner.send(data);
        }
        let mut sent = data.to_vec();
        let caps = u32::from_le_bytes([
            sent[CAPABILITIES],
            sent[CAPABILITIES + 1],
            sent[CAPABILITIES + 2],
            sent[CAPABILITIES + 3],
        ]) | Capabilities::ENCRYPTION;
        sent[CAPABILITIES..CAPABILITIES + 4].copy_from_slice(&caps.to_le_bytes());
        {
            let mut x = self.record.exchange();
            x.built = Some(data.to_vec());
            x.sent = Some(sent.clone());
        }
        self.record.sent.store(true, Ordering::Release);
        Box::pin(async move { self.inner.send(&sent).await })
    }
}

impl<T: TransportReceive> TransportReceive for AskingReceive<T> {
    fn receive<'a, 'f>(&'a self) -> Boxed<'f, Vec<u8>>
    where
        'a: 'f,
    {
        if self.record.answered.load(Ordering::Acquire) {
            return self.inner.receive();
        }
        Box::pin(async move {
            let frame = self.inner.receive().await?;
            if !self.record.answered.load(Ordering::Acquire)
                && self.record.sent.load(Ordering::Acquire)
                && is_negotiate(&frame, true)
            {
                self.record.exchange().answer = Some(frame.clone());
                self.record.answered.store(true, Ordering::Release);
            }
            Ok(frame)
        })
    }

    fn receive_progress(&self) -> Option<Arc<ReceiveProgress>> {
        self.inner.receive_progress()
    }
}

/// The pre-authentication hash of a NEGOTIATE request and its answer.
fn hash_of(request: &[u8], answer: &[u8]) -> [u8; 64] {
    let mut h = PreauthHasher::new();
    h.update(request);
    h.update(answer);
    *h.value()
}

/// NEGOTIATE on a new connection made by [`Asking::connection`], with
/// what every session of this back end asks for, and the
/// pre-authentication hash made right for what was sent.
pub(crate) async fn negotiate(
    conn: &mut Connection,
    asking: &Asking,
) -> std::result::Result<(), ConnectError> {
    conn.set_compression_requested(true);
    // Before NEGOTIATE, so the handshake itself is bounded by it.
    conn.set_response_timeout(Some(crate::RESPONSE_TIMEOUT));
    conn.negotiate().await.map_err(connect_error)?;
    // Taken: the copies are not needed once the hash is right.
    let x = std::mem::take(&mut *asking.record.exchange());
    let (Some(built), Some(sent), Some(answer)) = (&x.built, &x.sent, &x.answer) else {
        return Err(ConnectError::Other(
            "the NEGOTIATE exchange was not seen on the connection".into(),
        ));
    };
    if conn.preauth_hasher().value() != &hash_of(built, answer) {
        return Err(ConnectError::Other(
            "the SMB client's pre-authentication hash is not the one of its NEGOTIATE exchange"
                .into(),
        ));
    }
    conn.with_preauth_hasher_mut(|h| {
        *h = PreauthHasher::new();
        h.update(sent);
        h.update(answer);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transport half that keeps what it is given.
    #[derive(Default)]
    struct Kept(Mutex<Vec<Vec<u8>>>);

    impl TransportSend for Kept {
        fn send<'a, 'b, 'f>(&'a self, data: &'b [u8]) -> Boxed<'f, ()>
        where
            'a: 'f,
            'b: 'f,
        {
            self.0.lock().unwrap().push(data.to_vec());
            Box::pin(async { Ok(()) })
        }
    }

    /// An SMB2 message of `command` with a body of 36 bytes whose
    /// capabilities are `caps`; `answer` sets the server's flag.
    fn message(command: u16, answer: bool, caps: u32) -> Vec<u8> {
        let mut m = vec![0u8; HEADER + 36];
        m[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
        m[12..14].copy_from_slice(&command.to_le_bytes());
        m[16..20].copy_from_slice(&u32::from(answer).to_le_bytes());
        m[HEADER..HEADER + 2].copy_from_slice(&36u16.to_le_bytes());
        m[CAPABILITIES..CAPABILITIES + 4].copy_from_slice(&caps.to_le_bytes());
        m
    }

    fn caps_of(m: &[u8]) -> u32 {
        u32::from_le_bytes(m[CAPABILITIES..CAPABILITIES + 4].try_into().unwrap())
    }

    #[tokio::test]
    async fn the_first_negotiate_request_goes_out_asking_for_encryption_and_nothing_else_changes() {
        let record = Arc::new(Record::default());
        let send = AskingSend {
            inner: Kept::default(),
            record: Arc::clone(&record),
        };
        // Something that is not a NEGOTIATE request passes as it is.
        let answer = message(0, true, 0x7);
        let setup = message(1, false, 0x7);
        send.send(&answer).await.unwrap();
        send.send(&setup).await.unwrap();
        let request = message(0, false, 0x7);
        send.send(&request).await.unwrap();
        send.send(&request).await.unwrap();
        let out = send.inner.0.lock().unwrap().clone();
        assert_eq!(out[0], answer);
        assert_eq!(out[1], setup);
        // The first request: the bit set, every other byte as built.
        assert_eq!(caps_of(&out[2]), 0x7 | 0x40);
        let mut back = out[2].clone();
        back[CAPABILITIES] &= !0x40;
        assert_eq!(back, request);
        // Only the first.
        assert_eq!(out[3], request);
        let x = record.exchange();
        assert_eq!(x.built.as_deref(), Some(&request[..]));
        assert_eq!(x.sent.as_deref(), Some(&out[2][..]));
        assert!(x.answer.is_none());
    }

    #[test]
    fn only_a_whole_negotiate_of_the_right_side_is_one() {
        assert!(is_negotiate(&message(0, false, 0), false));
        assert!(!is_negotiate(&message(0, false, 0), true));
        assert!(is_negotiate(&message(0, true, 0), true));
        assert!(!is_negotiate(&message(3, false, 0), false));
        assert!(!is_negotiate(
            &message(0, false, 0)[..CAPABILITIES + 3],
            false
        ));
        let mut smb1 = message(0, false, 0);
        smb1[0] = 0xFF;
        assert!(!is_negotiate(&smb1, false));
    }
}
