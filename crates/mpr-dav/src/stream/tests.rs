//! The stream's logic on an in-memory file whose answers can break, stall,
//! end early or ignore ranges.

use super::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// An in-memory file served in pieces of `piece` bytes.
#[derive(Default)]
struct Mem {
    data: Bytes,
    piece: usize,
    /// The body breaks when it reaches this offset.
    fail_at: Option<u64>,
    /// The body stops sending at this offset (never ends).
    stall_at: Option<u64>,
    /// The body ends at this offset, although the answer announced more.
    short_at: Option<u64>,
    /// Ranges are ignored (200 with the whole file).
    whole: bool,
    opens: AtomicU64,
}

struct MemBody {
    data: Bytes,
    at: u64,
    piece: usize,
    fail_at: Option<u64>,
    stall_at: Option<u64>,
    end: u64,
}

impl Body for MemBody {
    async fn next(&mut self) -> Result<Option<Bytes>, String> {
        if self.fail_at.is_some_and(|f| self.at >= f) {
            return Err("connection reset".into());
        }
        if self.stall_at.is_some_and(|s| self.at >= s) {
            std::future::pending::<()>().await;
        }
        if self.at >= self.end {
            return Ok(None);
        }
        let mut to = (self.at + self.piece as u64).min(self.end);
        for stop in [self.fail_at, self.stall_at].into_iter().flatten() {
            if stop > self.at {
                to = to.min(stop);
            }
        }
        let b = self.data.slice(self.at as usize..to as usize);
        self.at = to;
        Ok(Some(b))
    }
}

impl Source for Mem {
    type Body = MemBody;

    async fn open(&self, from: u64) -> Result<Answer<MemBody>, FsError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        let len = self.data.len() as u64;
        if self.whole {
            return Ok(Answer::NoRanges);
        }
        if from >= len {
            return Ok(Answer::Declined);
        }
        Ok(Answer::Stream {
            body: MemBody {
                data: self.data.clone(),
                at: from,
                piece: self.piece,
                fail_at: self.fail_at,
                stall_at: self.stall_at,
                end: self.short_at.unwrap_or(len),
            },
            total: Some(len),
        })
    }
}

fn mem(len: usize, piece: usize) -> Mem {
    Mem {
        data: (0..len).map(|i| (i * 7 + i / 251) as u8).collect(),
        piece,
        ..Mem::default()
    }
}

fn limits() -> Limits {
    Limits {
        max_ahead: 4000,
        max_kept: 4000,
        idle: Duration::from_secs(60),
        stall: Duration::from_secs(60),
    }
}

impl Mem {
    fn at(&self, offset: u64, len: u32) -> &[u8] {
        let s = (offset as usize).min(self.data.len());
        let e = (s + len as usize).min(self.data.len());
        &self.data[s..e]
    }

    fn opens(&self) -> u64 {
        self.opens.load(Ordering::SeqCst)
    }
}

impl<B: Body> Stream<B> {
    async fn kept(&self) -> u64 {
        self.state
            .lock()
            .await
            .live
            .as_ref()
            .map_or(0, |l| l.kept.len)
    }
}

#[tokio::test]
async fn sequential_reads_share_one_stream_from_the_second_read_on() {
    let m = mem(10_000, 333);
    let s = Stream::new(limits());
    assert_eq!(s.read(&m, 0, 500).await.unwrap(), None, "the first read");
    assert_eq!(m.opens(), 0);
    let mut at = 500;
    while at < 10_000 {
        let d = s.read(&m, at, 700).await.unwrap().expect("from the stream");
        assert_eq!(d, m.at(at, 700), "at {at}");
        at += 700;
    }
    assert_eq!(m.opens(), 1);
    let kept = s.kept().await;
    assert!(kept <= limits().max_kept, "{kept} bytes kept");
    // Past the end: not from the stream (the caller's GET says EOF).
    assert_eq!(s.read(&m, 10_000, 700).await.unwrap(), None);
    assert_eq!(m.opens(), 1);
}

#[tokio::test]
async fn reads_out_of_order_within_the_window_are_answered_from_what_was_kept() {
    let m = mem(10_000, 100);
    let s = Stream::new(limits());
    assert!(s.read(&m, 0, 100).await.unwrap().is_none());
    // The read-ahead's second chunk arrives before its first.
    let d = s.read(&m, 1100, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(1100, 1000));
    assert_eq!(
        s.kept().await,
        2000,
        "100..2100, the skipped bytes with the rest"
    );
    let d = s.read(&m, 100, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(100, 1000));
    // Three at once, in any order.
    let (a, b, c) = tokio::join!(
        s.read(&m, 4100, 1000),
        s.read(&m, 2100, 1000),
        s.read(&m, 3100, 1000)
    );
    assert_eq!(a.unwrap().unwrap(), m.at(4100, 1000));
    assert_eq!(b.unwrap().unwrap(), m.at(2100, 1000));
    assert_eq!(c.unwrap().unwrap(), m.at(3100, 1000));
    assert_eq!(m.opens(), 1);
    // A part of a kept piece, then the rest.
    let d = s.read(&m, 5600, 400).await.unwrap().unwrap();
    assert_eq!(d, m.at(5600, 400));
    let d = s.read(&m, 5100, 500).await.unwrap().unwrap();
    assert_eq!(d, m.at(5100, 500));
    assert_eq!(m.opens(), 1);
}

#[tokio::test]
async fn a_read_behind_the_stream_is_left_to_a_ranged_get_and_the_stream_goes_on() {
    let m = mem(10_000, 500);
    let s = Stream::new(limits());
    s.read(&m, 0, 1000).await.unwrap();
    assert!(s.read(&m, 1000, 1000).await.unwrap().is_some());
    // Behind what the stream read (a seek back): not kept.
    assert_eq!(s.read(&m, 500, 1000).await.unwrap(), None);
    assert_eq!(s.read(&m, 0, 10).await.unwrap(), None);
    // Read again, within what it kept.
    let d = s.read(&m, 1200, 300).await.unwrap().unwrap();
    assert_eq!(d, m.at(1200, 300));
    // The sequential reader goes on from the same stream.
    let d = s.read(&m, 2000, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(2000, 1000));
    assert_eq!(m.opens(), 1);
}

#[tokio::test]
async fn a_far_jump_is_a_ranged_get_then_a_new_stream_where_reads_go_on() {
    let m = mem(100_000, 1000);
    let s = Stream::new(limits());
    s.read(&m, 0, 1000).await.unwrap();
    assert!(s.read(&m, 1000, 1000).await.unwrap().is_some());
    assert_eq!(s.read(&m, 50_000, 1000).await.unwrap(), None, "a jump");
    assert_eq!(m.opens(), 1);
    let d = s.read(&m, 51_000, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(51_000, 1000));
    assert_eq!(m.opens(), 2, "a new stream where the reads went on");
    assert_eq!(s.kept().await, 1000, "nothing of the old stream");
}

#[tokio::test]
async fn the_end_of_file_gives_a_short_read_then_none() {
    let m = mem(2500, 300);
    let s = Stream::new(limits());
    s.read(&m, 0, 1000).await.unwrap();
    let d = s.read(&m, 1000, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(1000, 1000));
    let d = s.read(&m, 2000, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(2000, 500), "short at the end");
    assert_eq!(s.read(&m, 3000, 1000).await.unwrap(), None);
}

#[tokio::test]
async fn a_body_that_ends_before_its_announced_length_is_never_served() {
    let mut m = mem(5000, 300);
    m.short_at = Some(2500);
    let s = Stream::new(limits());
    s.read(&m, 0, 1000).await.unwrap();
    assert!(s.read(&m, 1000, 1000).await.unwrap().is_some());
    assert_eq!(s.read(&m, 2000, 1000).await.unwrap(), None, "left to a GET");
    assert_eq!(s.kept().await, 0, "the broken stream is gone");
    // The next sequential read tries a new stream (which breaks again).
    assert_eq!(s.read(&m, 3000, 1000).await.unwrap(), None);
    assert_eq!(m.opens(), 2);
}

#[tokio::test]
async fn a_server_that_ignores_ranges_is_read_with_ranged_gets() {
    let mut m = mem(5000, 300);
    m.whole = true;
    let s = Stream::new(limits());
    for at in (0..5000).step_by(1000) {
        assert_eq!(s.read(&m, at, 1000).await.unwrap(), None);
    }
    assert_eq!(m.opens(), 1, "asked once");
}

#[tokio::test]
async fn a_broken_stream_leaves_the_read_to_a_get_and_the_next_read_starts_another() {
    let mut m = mem(10_000, 400);
    m.fail_at = Some(2500);
    let s = Stream::new(limits());
    s.read(&m, 0, 1000).await.unwrap();
    assert!(s.read(&m, 1000, 1000).await.unwrap().is_some());
    assert_eq!(s.read(&m, 2000, 1000).await.unwrap(), None);
    assert_eq!(s.kept().await, 0);
    m.fail_at = None;
    let d = s.read(&m, 3000, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(3000, 1000));
    assert_eq!(m.opens(), 2);
}

#[tokio::test]
async fn a_stalled_stream_is_given_up_within_the_bound() {
    let mut m = mem(10_000, 400);
    m.stall_at = Some(1500);
    let s = Stream::new(Limits {
        stall: Duration::from_millis(50),
        ..limits()
    });
    s.read(&m, 0, 1000).await.unwrap();
    let t = Instant::now();
    assert_eq!(s.read(&m, 1000, 1000).await.unwrap(), None);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(s.kept().await, 0);
}

#[tokio::test]
async fn an_idle_stream_is_dropped_with_what_it_kept() {
    let m = mem(10_000, 400);
    let s = Stream::new(Limits {
        idle: Duration::from_millis(30),
        ..limits()
    });
    s.read(&m, 0, 1000).await.unwrap();
    assert!(s.read(&m, 2000, 1000).await.unwrap().is_some());
    assert_eq!(s.kept().await, 2000);
    tokio::time::sleep(Duration::from_millis(60)).await;
    // 1000..2000 was kept, but is too old now.
    assert_eq!(s.read(&m, 1000, 1000).await.unwrap(), None);
    let d = s.read(&m, 2000, 1000).await.unwrap().unwrap();
    assert_eq!(d, m.at(2000, 1000));
    assert_eq!(m.opens(), 2);
}

#[tokio::test]
async fn what_is_kept_stays_within_its_bound() {
    let m = mem(100_000, 100);
    let s = Stream::new(limits());
    s.read(&m, 0, 100).await.unwrap();
    let mut at = 100;
    // Every read skips 900 bytes that nobody asks for.
    while at + 1000 < 100_000 {
        let d = s.read(&m, at + 900, 100).await.unwrap().unwrap();
        assert_eq!(d, m.at(at + 900, 100));
        assert!(s.kept().await <= limits().max_kept, "{}", s.kept().await);
        at += 1000;
    }
    assert_eq!(m.opens(), 1);
}

#[tokio::test]
async fn a_cancelled_read_leaves_the_stream_whole() {
    let mut m = mem(10_000, 100);
    m.stall_at = Some(1500);
    let s = Stream::new(limits());
    s.read(&m, 0, 1000).await.unwrap();
    let r = tokio::time::timeout(Duration::from_millis(50), s.read(&m, 1000, 1000)).await;
    assert!(r.is_err(), "stalled, and cancelled by the caller's bound");
    assert_eq!(s.kept().await, 500, "what arrived is kept");
    m.stall_at = None;
    // The same stream answers what it has; the rest is past the stall.
    let d = s.read(&m, 1000, 500).await.unwrap().unwrap();
    assert_eq!(d, m.at(1000, 500));
}

#[test]
fn kept_bytes_are_joined_across_pieces_and_trimmed_oldest_first() {
    let mut k = Kept::default();
    k.push(10, Bytes::from_static(b"abcde"));
    let fgh = Bytes::from_static(b"fgh");
    k.push(15, fgh.clone());
    k.push(18, Bytes::from_static(b"ij"));
    assert_eq!(k.start(), Some(10));
    assert_eq!(k.get(12, 19), &b"cdefghi"[..]);
    // Within one piece: that piece's bytes, not a copy.
    let one = k.get(16, 18);
    assert_eq!(one, &b"gh"[..]);
    assert_eq!(one.as_ptr(), fgh[1..].as_ptr());
    // Not past what the read needs (from 16 on), even over the bound.
    k.trim(1, 16);
    assert_eq!((k.start(), k.len), (Some(15), 5));
    k.trim(2, 20);
    assert_eq!((k.start(), k.len), (Some(18), 2));
}
