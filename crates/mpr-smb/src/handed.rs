//! A TCP connection to the server that the provider opened and handed
//! over, as the transport under the first session.
//!
//! `mpr` starts connecting to an SMB server given by its address before it
//! starts `mpr-fsd`, and passes the socket with the request. The server
//! accepts meanwhile (`smbd` forks a process for every connection), so that
//! work overlaps `mpr-fsd`'s own start instead of following it. The
//! framing is SMB2's direct TCP transport (MS-SMB2 2.1): a zero byte, a
//! 3-byte big-endian length, the message.

use smb2::transport::{ReceiveProgress, TransportReceive, TransportSend};
use smb2::{Error, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;

/// The largest message the framing can carry (its length has 3 bytes).
const MAX_FRAME: usize = (1 << 24) - 1;

/// A future as the `smb2` transport traits return it.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Waits, within `bound`, until the connect started on `socket` has
/// finished, and returns it ready for use; the error says why it did not
/// connect (then the caller connects by itself, which reports the failure
/// as it always does).
pub(crate) async fn finish_connect(
    socket: std::net::TcpStream,
    bound: Duration,
) -> std::io::Result<tokio::net::TcpStream> {
    socket.set_nonblocking(true)?;
    let stream = tokio::net::TcpStream::from_std(socket)?;
    tokio::time::timeout(bound, stream.writable())
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    // Only a connected socket has a peer.
    stream.peer_addr()?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The two halves of a connected socket, each behind its own lock so that
/// sending and receiving go on at once.
pub(crate) struct Handed {
    reader: Mutex<OwnedReadHalf>,
    writer: Mutex<OwnedWriteHalf>,
    progress: Arc<ReceiveProgress>,
}

impl Handed {
    /// The transport over `stream`.
    pub(crate) fn new(stream: tokio::net::TcpStream) -> Handed {
        let (reader, writer) = stream.into_split();
        Handed {
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            progress: Arc::new(ReceiveProgress::new()),
        }
    }
}

/// Ends the frame being received in the progress record however the
/// receive ends (done, failed or dropped).
struct Receiving<'a>(&'a ReceiveProgress);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.end_frame();
    }
}

/// A read error as the connection must see it: the peer gone is
/// [`Error::Disconnected`].
fn read_error(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::Disconnected
    } else {
        Error::Io(e)
    }
}

impl TransportSend for Handed {
    fn send<'a, 'b, 'f>(&'a self, data: &'b [u8]) -> Boxed<'f, ()>
    where
        'a: 'f,
        'b: 'f,
    {
        Box::pin(async move {
            let len = data.len();
            if len > MAX_FRAME {
                return Err(Error::invalid_data(format!(
                    "a message of {len} bytes does not fit in one frame"
                )));
            }
            let header = [0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
            let mut w = self.writer.lock().await;
            w.write_all(&header).await.map_err(Error::Io)?;
            w.write_all(data).await.map_err(Error::Io)?;
            w.flush().await.map_err(Error::Io)
        })
    }
}

impl TransportReceive for Handed {
    fn receive<'a, 'f>(&'a self) -> Boxed<'f, Vec<u8>>
    where
        'a: 'f,
    {
        Box::pin(async move {
            let mut r = self.reader.lock().await;
            let mut header = [0u8; 4];
            r.read_exact(&mut header).await.map_err(read_error)?;
            if header[0] != 0 {
                return Err(Error::invalid_data(format!(
                    "a frame must start with a zero byte, not 0x{:02X}",
                    header[0]
                )));
            }
            let len = (usize::from(header[1]) << 16)
                | (usize::from(header[2]) << 8)
                | usize::from(header[3]);
            self.progress.begin_frame(len);
            let _frame = Receiving(&self.progress);
            let mut buf = vec![0u8; len];
            let mut filled = 0;
            while filled < len {
                let n = r.read(&mut buf[filled..]).await.map_err(read_error)?;
                if n == 0 {
                    return Err(Error::Disconnected);
                }
                filled += n;
                self.progress.record(n);
            }
            Ok(buf)
        })
    }

    fn receive_progress(&self) -> Option<Arc<ReceiveProgress>> {
        Some(Arc::clone(&self.progress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_go_out_and_come_back_whole() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = l.accept().unwrap();
            let mut frame = [0u8; 4 + 3];
            s.read_exact(&mut frame).unwrap();
            assert_eq!(frame, [0, 0, 0, 3, b'a', b'b', b'c']);
            // An answer in two pieces, then a bad frame.
            s.write_all(&[0, 0, 0, 2, b'x']).unwrap();
            s.flush().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(b"y\x01\0\0\0").unwrap();
        });
        let socket = std::net::TcpStream::connect(addr).unwrap();
        let t = Handed::new(
            finish_connect(socket, Duration::from_secs(5))
                .await
                .unwrap(),
        );
        t.send(b"abc").await.unwrap();
        assert_eq!(t.receive().await.unwrap(), b"xy");
        assert!(t.receive().await.is_err());
        peer.join().unwrap();
    }
}
