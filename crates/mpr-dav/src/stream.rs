//! Sequential reads from one streaming `GET`.
//!
//! A file opened read-only and read from start to end would otherwise be
//! one ranged `GET` per read (per 1 MiB chunk of the file system's
//! read-ahead), and WebDAV servers pay a fixed cost per request. Once a
//! handle's reads are sequential, its [`Stream`] asks once for the rest of
//! the file (`Range: bytes=N-`) and answers the following reads from that
//! answer's body as it arrives.
//!
//! The read-ahead asks for several chunks at once, and they may reach this
//! handle out of order; and when the kernel's own reads come out of order,
//! the read-ahead starts its window again a little behind. So the stream
//! keeps the last bytes it read ([`Limits::max_kept`], handed out or not):
//! a read a little ahead of its position reads through, and a read a little
//! behind it is answered from what it kept. What the stream cannot answer,
//! it leaves to the caller's ranged `GET` (the answer `None` of
//! [`Stream::read`]):
//!
//! - a read behind what it kept (a seek back), or farther ahead than
//!   [`Limits::max_ahead`] (a jump);
//! - a read past the end of the file as the last stream's answer gave it
//!   (a file that grew is read on with ranged `GET`s, as before);
//! - a read after the stream broke (a transport error, no bytes within
//!   [`Limits::stall`], an end before the length the answer announced):
//!   the stream and what it kept are dropped, so no answer ever mixes a
//!   broken stream's bytes with another request's.
//!
//! A stream starts only for a read that continues the one before (at or a
//! little past where it ended), as the file system's read-ahead does, so a
//! small file read in one request or random access costs no more than
//! before. A stream unused for [`Limits::idle`] is dropped with what it
//! kept: the server may have closed it, and its bytes are that old. The
//! stream belongs to one handle (one `open`), so a new open never reads an
//! older open's bytes (close-to-open), and it goes when the handle is
//! dropped.
//!
//! Memory per handle is bounded: at most [`Limits::max_kept`] bytes kept
//! (the oldest go first), plus the read being answered; they go with the
//! stream (found idle at the next read, broken, replaced, or the handle
//! closed).
//!
//! The logic is generic over where streams come from ([`Source`]), so that
//! it is tested on an in-memory file; the back end's source is an HTTP
//! `GET`.

use bytes::Bytes;
use mpr_fs::FsError;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How far a stream reaches, and how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The farthest past the stream's position a read may start and still
    /// be answered from it (what lies between is read through and kept);
    /// also the farthest past the previous read's end a read may start and
    /// still start a stream.
    pub max_ahead: u64,
    /// The most bytes kept of those last read from the stream.
    pub max_kept: u64,
    /// A stream unused this long is dropped.
    pub idle: Duration,
    /// The longest wait for the next piece of the body before the stream
    /// is given up (and the read made with a ranged `GET`).
    pub stall: Duration,
}

impl Default for Limits {
    /// 8 MiB ahead and kept (the file system's largest read-ahead
    /// window), 1 s idle (the attribute TTL: the read-ahead serves
    /// nothing older either), 5 s stall.
    fn default() -> Self {
        Limits {
            max_ahead: 8 << 20,
            max_kept: 8 << 20,
            idle: Duration::from_secs(1),
            stall: Duration::from_secs(5),
        }
    }
}

/// The body of a streaming answer, consumed piece by piece.
pub trait Body: Send {
    /// The next piece of the body; `Ok(None)` at its end. An error (its
    /// reason) means the stream broke.
    fn next(&mut self) -> impl Future<Output = Result<Option<Bytes>, String>> + Send;
}

/// What the server answered to a `GET` of the bytes from an offset on.
pub enum Answer<B> {
    /// The bytes from the offset asked for, to the end of the file.
    Stream {
        /// The body.
        body: B,
        /// The file's size, as the answer gave it (if it did).
        total: Option<u64>,
    },
    /// No stream from there this time (say, past the end of the file).
    Declined,
    /// The server answers a range with the whole file: no more streams
    /// for this handle.
    NoRanges,
}

/// Where streams come from.
pub trait Source: Sync {
    /// The body of an answer.
    type Body: Body;

    /// Asks for the file's bytes from `from` to its end. A request that
    /// got no answer, or an error status, is the read's error.
    fn open(&self, from: u64) -> impl Future<Output = Result<Answer<Self::Body>, FsError>> + Send;
}

/// The stream of one handle (empty until its reads are sequential).
pub struct Stream<B> {
    limits: Limits,
    state: Mutex<State<B>>,
}

impl<B> fmt::Debug for Stream<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

struct State<B> {
    live: Option<Live<B>>,
    /// Where the last read ended (`None` before the first).
    last_end: Option<u64>,
    /// The server answered a range with the whole file.
    no_ranges: bool,
    /// The end of the file as the last stream found it (or where the
    /// server declined one): no stream starts for a read past it.
    eof: Option<u64>,
}

struct Live<B> {
    /// `None` once the body has ended.
    body: Option<B>,
    /// The offset of the body's next byte.
    pos: u64,
    /// The file's size as the answer gave it; its end, once reached.
    total: Option<u64>,
    kept: Kept,
    used: Instant,
}

/// The last bytes read from the body: contiguous, in pieces as they
/// arrived, ending at the stream's position.
#[derive(Default)]
struct Kept {
    /// `(offset, bytes)`, in order, each piece following the one before.
    pieces: VecDeque<(u64, Bytes)>,
    len: u64,
}

impl Kept {
    /// Adds the piece that follows the last one.
    fn push(&mut self, at: u64, b: Bytes) {
        self.len += b.len() as u64;
        self.pieces.push_back((at, b));
    }

    /// Where the kept bytes start.
    fn start(&self) -> Option<u64> {
        self.pieces.front().map(|(at, _)| *at)
    }

    /// Drops the oldest pieces that end at or before `below` while more
    /// than `max` bytes are kept.
    fn trim(&mut self, max: u64, below: u64) {
        while self.len > max {
            match self.pieces.front() {
                Some((at, b)) if at + b.len() as u64 <= below => {
                    self.len -= b.len() as u64;
                    self.pieces.pop_front();
                }
                _ => return,
            }
        }
    }

    /// `[from, to)`, which must lie within what is kept: a view of the
    /// piece that holds it all, else a copy of the pieces it spans.
    fn get(&self, from: u64, to: u64) -> Bytes {
        let first = self
            .pieces
            .partition_point(|(at, b)| at + b.len() as u64 <= from);
        let mut parts = Vec::new();
        for (at, b) in self.pieces.range(first..) {
            if *at >= to {
                break;
            }
            let lo = (from.max(*at) - at) as usize;
            let hi = (to.min(at + b.len() as u64) - at) as usize;
            parts.push(b.slice(lo..hi));
        }
        match parts.len() {
            1 => parts.swap_remove(0),
            _ => Bytes::from(parts.concat()),
        }
    }
}

/// Why a stream cannot answer a read.
enum Miss {
    /// Not from this stream (behind it, too far ahead, past its end).
    Elsewhere,
    /// The stream broke: dropped.
    Broken,
}

impl<B: Body> Stream<B> {
    /// An empty stream with these limits.
    pub fn new(limits: Limits) -> Stream<B> {
        Stream {
            limits,
            state: Mutex::new(State {
                live: None,
                last_end: None,
                no_ranges: false,
                eof: None,
            }),
        }
    }

    /// Up to `len` bytes at `offset` (fewer only at the end of the file),
    /// from the stream, starting one if this read continues the last;
    /// `Ok(None)`: not from a stream (make a ranged `GET`). An error is
    /// the [`Source`]'s, when a stream was to start.
    pub async fn read<S>(&self, src: &S, offset: u64, len: u32) -> Result<Option<Bytes>, FsError>
    where
        S: Source<Body = B>,
    {
        if len == 0 {
            return Ok(None);
        }
        let end = offset.saturating_add(u64::from(len));
        let mut st = self.state.lock().await;
        let prev = st.last_end.replace(end);
        if st
            .live
            .as_ref()
            .is_some_and(|l| l.used.elapsed() > self.limits.idle)
        {
            st.live = None;
        }
        if let Some(live) = st.live.as_mut() {
            match self.serve(live, offset, end).await {
                Ok(d) => return Ok(Some(d)),
                Err(Miss::Broken) => {
                    st.live = None;
                    return Ok(None);
                }
                Err(Miss::Elsewhere) => {}
            }
        }
        let Some(prev) = prev else {
            return Ok(None);
        };
        if st.no_ranges
            || offset < prev
            || offset - prev > self.limits.max_ahead
            || st.eof.is_some_and(|e| offset >= e)
            || st
                .live
                .as_ref()
                .is_some_and(|l| offset < l.pos || l.total.is_some_and(|t| offset >= t))
        {
            // Random access, a read behind what the stream kept, or past
            // the end of the file: the ranged GET answers it, and the
            // stream stays.
            return Ok(None);
        }
        // This read continues the last one: a stream from where that
        // ended (what lies between is kept, for the read that asks).
        st.live = None;
        let (body, total) = match src.open(prev).await? {
            Answer::Stream { body, total } => {
                st.eof = total;
                (body, total)
            }
            Answer::Declined => {
                st.eof = Some(prev);
                return Ok(None);
            }
            Answer::NoRanges => {
                st.no_ranges = true;
                return Ok(None);
            }
        };
        let live = st.live.insert(Live {
            body: Some(body),
            pos: prev,
            total,
            kept: Kept::default(),
            used: Instant::now(),
        });
        match self.serve(live, offset, end).await {
            Ok(d) => Ok(Some(d)),
            Err(Miss::Broken) => {
                st.live = None;
                Ok(None)
            }
            Err(Miss::Elsewhere) => Ok(None),
        }
    }

    /// Drops the stream and what it kept (the handle reads elsewhere now);
    /// not waiting for a read in progress.
    pub fn clear(&self) {
        if let Ok(mut st) = self.state.try_lock() {
            st.live = None;
        }
    }

    /// `[offset, end)` from the stream: from what it kept, then read
    /// through from its position. Every piece is kept as it arrives, so a
    /// read cancelled half-way leaves the stream whole.
    async fn serve(&self, live: &mut Live<B>, offset: u64, end: u64) -> Result<Bytes, Miss> {
        if live.total.is_some_and(|t| offset >= t) {
            return Err(Miss::Elsewhere);
        }
        if offset < live.pos {
            if live.kept.start().is_none_or(|s| offset < s) {
                return Err(Miss::Elsewhere);
            }
        } else if live.body.is_none() || offset - live.pos > self.limits.max_ahead {
            return Err(Miss::Elsewhere);
        }
        while live.pos < end {
            let Some(body) = live.body.as_mut() else {
                break;
            };
            match tokio::time::timeout(self.limits.stall, body.next()).await {
                Ok(Ok(Some(piece))) => {
                    if piece.is_empty() {
                        continue;
                    }
                    let n = piece.len() as u64;
                    live.kept.push(live.pos, piece);
                    live.pos += n;
                    live.kept.trim(self.limits.max_kept, offset);
                }
                Ok(Ok(None)) => {
                    live.body = None;
                    if live.total.is_some_and(|t| live.pos < t) {
                        // Shorter than announced: not to be trusted.
                        return Err(Miss::Broken);
                    }
                    live.total = Some(live.pos);
                }
                Ok(Err(_)) | Err(_) => return Err(Miss::Broken),
            }
        }
        let to = end.min(live.pos);
        if offset >= to {
            return Err(Miss::Elsewhere);
        }
        let out = live.kept.get(offset, to);
        live.used = Instant::now();
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
