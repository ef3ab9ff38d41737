//! Entry points for the fuzz targets in `fuzz/` (not an API: hidden from
//! the documentation, and may change with the protocol).
//!
//! The frames a notifyee host sends back are a trust boundary: the host runs
//! plugin code, and a broken or hostile one may send anything. These
//! functions expose the router's reading of them (and the host's reading of
//! requests) without making the protocol's types public.

use super::wire::{self, Reply, Request};
use std::io::Write;
use std::os::unix::net::UnixStream;

/// Decodes `body` (a frame without its length) as a host's reply; when it
/// decodes, returns the body that encoding the reply again gives, which is
/// `body` itself: the encoding is canonical.
pub fn reply_round_trip(body: &[u8]) -> Option<Vec<u8>> {
    let r = Reply::decode(body).ok()?;
    let mut buf = Vec::new();
    r.encode(&mut buf);
    Some(buf.split_off(4))
}

/// [`reply_round_trip`] for the router's requests, as the host reads them.
pub fn request_round_trip(body: &[u8]) -> Option<Vec<u8>> {
    let r = Request::decode(body).ok()?;
    let mut buf = Vec::new();
    r.encode(&mut buf);
    Some(buf.split_off(4))
}

/// Sends `stream` over a socketpair, as a host would, closes the sending
/// side, and reads one frame as the router does: its body, or `None` when
/// the reader refuses the stream (too long a frame, extra bytes, a frame
/// cut short). Streams over 64 KiB are not tried (`None`).
pub fn read_frame(stream: &[u8]) -> Option<Vec<u8>> {
    if stream.len() > 64 * 1024 {
        return None;
    }
    let (ours, theirs) = UnixStream::pair().ok()?;
    (&theirs).write_all(stream).ok()?;
    drop(theirs);
    let mut buf = Vec::new();
    wire::recv_frame(&ours, &mut buf, None)
        .ok()
        .map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_read_back_is_the_same_bytes() {
        let mut frame = Vec::new();
        Reply::Returned {
            status: 1223,
            context: 3,
        }
        .encode(&mut frame);
        let body = frame[4..].to_vec();
        assert_eq!(reply_round_trip(&body).as_deref(), Some(&body[..]));
        assert_eq!(read_frame(&frame).as_deref(), Some(&body[..]));
        assert_eq!(reply_round_trip(&body[..body.len() - 1]), None);
        assert_eq!(read_frame(&frame[..frame.len() - 1]), None);
        assert_eq!(request_round_trip(&body), None, "a reply is no request");
    }
}
