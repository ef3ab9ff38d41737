//! Read-ahead: on a sequential read pattern of a handle, a window of the
//! next few MiB is asked of the back end in parallel (several
//! [`Backend::read`](crate::backend::Backend::read) calls in flight), and the
//! kernel's small reads (128 KiB: its own read-ahead on a FUSE mount) are
//! answered from it. A network file system's throughput is bound by the
//! requests in flight, not by each one's size; this is how mountpoint-s3
//! reads, and how `smbclient` does.
//!
//! The rules, so that nothing stale is ever served:
//!
//! - Each handle has its own window, and a new handle starts without one
//!   (close-to-open: an `open` also drops the windows of the file's other
//!   handles, so bytes fetched before an open that found the file changed
//!   are never served after it).
//! - A write, a truncate or a cut of the file through any handle drops the
//!   windows of all its handles, after the change has reached the server.
//! - A read more than a chunk away from where the last one ended (random
//!   access) drops the window; a window is only started on the second
//!   sequential read, so a small file read whole in one request costs
//!   nothing more. The kernel's reads of one sequential pass arrive out of
//!   order now and then: a read up to a chunk behind the others is still
//!   answered from the window (or read directly, if it lies just before
//!   the window's start), and never drops it.
//! - No chunk starts at or past the file's size as the kernel knows it
//!   (the kernel reads no further).
//! - Fetched bytes older than the attribute TTL are not served.
//! - A fetch that failed is never an answer: the window is dropped and the
//!   read is made directly (with the reconnect and retry of every call).
//!
//! Memory is bounded per handle (the window's size) and in total (a
//! [`Budget`] shared by all handles: past it, no more is fetched ahead).

use crate::error::FsError;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The size of one read asked of the back end ahead of time.
pub const CHUNK: u32 = 1024 * 1024;

/// How far behind the furthest read a chunk is kept, and how far from where
/// the last read ended a read still counts as sequential. The kernel's reads
/// of one sequential pass reach the file system out of order now and then
/// (its read-ahead has several requests in flight, and the session answers
/// them on several threads), and a read a little behind the others must
/// still find its chunk: dropping the window for it would throw away every
/// fetch in flight and read that piece on its own.
const SLACK: u64 = CHUNK as u64;

/// The bytes fetched ahead by all handles together, and its bound.
#[derive(Debug)]
pub struct Budget {
    used: AtomicU64,
    max: u64,
}

impl Budget {
    /// A budget of `max` bytes.
    pub fn new(max: u64) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicU64::new(0),
            max,
        })
    }

    /// The bytes reserved now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    fn reserve(self: &Arc<Self>, len: u64) -> Option<Reservation> {
        let before = self.used.fetch_add(len, Ordering::SeqCst);
        if before + len > self.max {
            self.used.fetch_sub(len, Ordering::SeqCst);
            return None;
        }
        Some(Reservation {
            budget: self.clone(),
            len,
        })
    }
}

/// Bytes of the [`Budget`] held until the fetch and its chunk are both
/// gone.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    len: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.len, Ordering::SeqCst);
    }
}

/// What one fetch gave (`None` while in flight).
type Fetched = Option<Result<Bytes, FsError>>;

/// One read asked ahead of time.
#[derive(Debug)]
pub struct Chunk {
    offset: u64,
    len: u32,
    started: Instant,
    rx: watch::Receiver<Fetched>,
    _reservation: Arc<Reservation>,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }

    /// Waits for the fetch; `None` when it failed (or its task is gone).
    async fn get(&self) -> Option<Bytes> {
        let mut rx = self.rx.clone();
        let r = rx.wait_for(Option::is_some).await.ok()?;
        match &*r {
            Some(Ok(d)) => Some(d.clone()),
            _ => None,
        }
    }

    /// Whether it is done and came back short (the end of file is in it).
    fn is_short(&self) -> bool {
        matches!(&*self.rx.borrow(), Some(Ok(d)) if d.len() < self.len as usize)
    }
}

/// A fetch to start: where, how much, and the sender of its result.
#[derive(Debug)]
pub struct Fetch {
    /// The offset to read at.
    pub offset: u64,
    /// How much to read.
    pub len: u32,
    /// Where the result goes.
    pub tx: watch::Sender<Fetched>,
    /// Held by the fetch's task until it ends.
    pub reservation: Arc<Reservation>,
}

/// How a handle reads ahead.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest window (0: no read-ahead).
    pub window: u64,
    /// How long fetched bytes may be served.
    pub max_age: Duration,
    /// The file's size as the kernel was last told it, if known: the
    /// kernel reads no further, so no chunk starts at or past it (a file
    /// that grew is read past it directly until the window catches up).
    pub size: Option<u64>,
}

/// The read-ahead state of one handle.
#[derive(Debug, Default)]
pub struct ReadAhead {
    inner: Mutex<Window>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Window {
    /// Contiguous chunks, in order.
    chunks: VecDeque<Arc<Chunk>>,
    /// Where the last read ended: the next sequential read starts here.
    next: u64,
    /// Where the last read started (with `next`: the last read, which the
    /// session's thread and then a task may both plan).
    last: u64,
    /// Whether the last read was sequential (the one before ended where
    /// it started).
    sequential: bool,
    /// The window's size now (grows as it is consumed).
    size: u64,
    /// Reads served from the window (for tests).
    hits: u64,
}

/// What a read gets from the window: the chunks that cover it (to wait
/// for) and the fetches to start.
#[derive(Debug)]
pub struct Plan {
    /// The chunks covering the read, in order (empty: read directly).
    pub covering: Vec<Arc<Chunk>>,
    /// New fetches to start.
    pub fetches: Vec<Fetch>,
}

impl ReadAhead {
    /// Drops the window (the file changed, or a fetch failed); fetches in
    /// flight finish, and their bytes are thrown away.
    pub fn reset(&self) {
        let mut w = self.inner.lock().expect("read-ahead lock");
        w.chunks.clear();
        w.size = 0;
        w.sequential = false;
    }

    /// How many reads were answered from the window.
    pub fn hits(&self) -> u64 {
        self.inner.lock().expect("read-ahead lock").hits
    }

    /// Keeps the task of a fetch (to wait for it before the handle is
    /// closed: it holds the back end's handle).
    pub fn track(&self, task: JoinHandle<()>) {
        let mut t = self.tasks.lock().expect("read-ahead tasks lock");
        t.retain(|h| !h.is_finished());
        t.push(task);
    }

    /// Drops the window and waits for the fetches in flight to end.
    pub async fn quiesce(&self) {
        self.reset();
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("read-ahead tasks lock"));
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Plans a read of `size` bytes at `offset`: which chunks answer it,
    /// and what to fetch next. An empty `covering` means: read directly.
    pub fn plan(&self, offset: u64, size: u32, limits: Limits, budget: &Arc<Budget>) -> Plan {
        let mut w = self.inner.lock().expect("read-ahead lock");
        let end = offset.saturating_add(u64::from(size));
        let mut plan = Plan {
            covering: Vec::new(),
            fetches: Vec::new(),
        };
        if limits.window == 0 || size == 0 {
            return plan;
        }
        if w.chunks
            .front()
            .is_some_and(|c| c.started.elapsed() > limits.max_age)
        {
            w.chunks.clear();
            w.size = 0;
        }
        let start = w.chunks.front().map_or(0, |c| c.offset);
        let stop = w.chunks.back().map_or(0, |c| c.end());
        let in_window = !w.chunks.is_empty() && offset >= start && offset < stop;
        // Where the last read ended, give or take a few of the kernel's
        // reads arriving out of order; never behind where the last one
        // started (a file read backwards, as `tac` does, is not
        // sequential).
        let near_next = offset >= w.last && offset.abs_diff(w.next) <= SLACK;
        if !in_window {
            if offset == w.last && end == w.next && w.chunks.is_empty() {
                // The same read planned again (its task, after the
                // session's thread found nothing ready): read directly.
                return plan;
            }
            if !w.chunks.is_empty() && offset < start && start - offset <= SLACK {
                // A late read just behind a window started by the reads
                // after it: read directly, and keep the window.
                return plan;
            }
            // Not served by the window: a new one starts at the second
            // sequential read in a row.
            w.last = offset;
            let seq = near_next && w.sequential;
            w.sequential = near_next;
            w.next = end;
            w.chunks.clear();
            if !seq {
                w.size = 0;
                return plan;
            }
            w.size = (2 * u64::from(CHUNK)).min(limits.window);
            Self::top_up(&mut w, offset, offset, end, limits.size, budget, &mut plan);
        } else {
            w.sequential = true;
            w.last = offset;
            w.next = w.next.max(end);
            // Consumed chunks go once the reads are a chunk past them (a
            // late read may still want them); each one gone grows the
            // window.
            while w.chunks.front().is_some_and(|c| c.end() + SLACK <= offset) {
                w.chunks.pop_front();
                w.size = (w.size * 2).min(limits.window).max(u64::from(CHUNK));
            }
            let from = w.chunks.back().map_or(offset, |c| c.end());
            Self::top_up(&mut w, offset, from, end, limits.size, budget, &mut plan);
        }
        plan.covering = w
            .chunks
            .iter()
            .skip_while(|c| c.end() <= offset)
            .take_while(|c| c.offset < end)
            .cloned()
            .collect();
        let covered = plan.covering.last().map_or(0, |c| c.end());
        if plan.covering.first().is_none_or(|c| c.offset > offset) || covered < end {
            // Not all of it is in the window (the budget ran out): read
            // directly; what was fetched stays for the next reads.
            plan.covering.clear();
        } else {
            w.hits += 1;
        }
        plan
    }

    /// Adds chunks from `from` on until the window reaches `size` past
    /// the start of the chunk the read at `offset` is in (and at least the
    /// read's end), within the budget, and not past a chunk that found the
    /// end of file or the file's known size (`file_size`).
    fn top_up(
        w: &mut Window,
        offset: u64,
        from: u64,
        read_end: u64,
        file_size: Option<u64>,
        budget: &Arc<Budget>,
        plan: &mut Plan,
    ) {
        if w.chunks.iter().any(|c| c.is_short()) {
            return;
        }
        let base = w
            .chunks
            .iter()
            .find(|c| c.end() > offset)
            .map_or(from, |c| c.offset);
        let mut target = base.saturating_add(w.size).max(read_end);
        if let Some(size) = file_size {
            target = target.min(size);
        }
        let mut at = from;
        while at < target {
            let Some(res) = budget.reserve(u64::from(CHUNK)) else {
                break;
            };
            let res = Arc::new(res);
            let (tx, rx) = watch::channel(None);
            w.chunks.push_back(Arc::new(Chunk {
                offset: at,
                len: CHUNK,
                started: Instant::now(),
                rx,
                _reservation: res.clone(),
            }));
            plan.fetches.push(Fetch {
                offset: at,
                len: CHUNK,
                tx,
                reservation: res,
            });
            at += u64::from(CHUNK);
        }
    }
}

/// Assembles the answer to a read of `size` bytes at `offset` from the
/// chunks that cover it; `None` if a fetch failed.
pub async fn assemble(covering: &[Arc<Chunk>], offset: u64, size: u32) -> Option<Bytes> {
    let mut data = Vec::with_capacity(covering.len());
    for c in covering {
        data.push(c.get().await?);
    }
    Some(join(covering, &data, offset, size))
}

/// As [`assemble`], only if every fetch it needs is done (and none
/// failed): a read the session's thread can answer at once.
pub fn assemble_ready(covering: &[Arc<Chunk>], offset: u64, size: u32) -> Option<Bytes> {
    if covering.is_empty() {
        return None;
    }
    let mut data = Vec::with_capacity(covering.len());
    for c in covering {
        match &*c.rx.borrow() {
            Some(Ok(d)) => data.push(d.clone()),
            _ => return None,
        }
    }
    Some(join(covering, &data, offset, size))
}

/// The bytes of `[offset, offset + size)` (fewer at the end of file) from
/// the chunks that cover it. A read within one chunk (the kernel's reads
/// are 128 KiB, aligned, and the chunks 1 MiB) is a view of that chunk's
/// bytes, not a copy: the FUSE reply copies them once, into the kernel.
fn join(covering: &[Arc<Chunk>], data: &[Bytes], offset: u64, size: u32) -> Bytes {
    let end = offset + u64::from(size);
    let mut parts = Vec::with_capacity(covering.len());
    for (c, data) in covering.iter().zip(data) {
        let have = c.offset + data.len() as u64;
        let from = offset.max(c.offset);
        let to = end.min(have);
        if to > from {
            parts.push(data.slice((from - c.offset) as usize..(to - c.offset) as usize));
        }
        if have < end.min(c.end()) {
            // The end of file: nothing after it belongs to this read.
            break;
        }
    }
    match parts.len() {
        0 => Bytes::new(),
        1 => parts.swap_remove(0),
        _ => Bytes::from(parts.concat()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            window: 8 * u64::from(CHUNK),
            max_age: Duration::from_secs(1),
            size: None,
        }
    }

    #[test]
    fn a_window_starts_at_the_second_sequential_read_and_random_access_drops_it() {
        let ra = ReadAhead::default();
        let b = Budget::new(64 << 20);
        let k = 128 * 1024;
        let p = ra.plan(0, k, limits(), &b);
        assert!(p.covering.is_empty() && p.fetches.is_empty());
        let p = ra.plan(u64::from(k), k, limits(), &b);
        assert_eq!(p.fetches.len(), 2);
        assert_eq!(p.covering.len(), 1);
        assert_eq!(b.used(), 2 * u64::from(CHUNK));
        // A jump elsewhere drops the window and its memory.
        drop(p);
        let p = ra.plan(50 << 20, k, limits(), &b);
        assert!(p.covering.is_empty() && p.fetches.is_empty());
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_read_planned_twice_counts_once_and_the_next_one_starts_the_window() {
        // The session's thread plans a read, and its task plans it again
        // when nothing was ready: that is still one read.
        let ra = ReadAhead::default();
        let b = Budget::new(64 << 20);
        let k = 128 * 1024;
        for _ in 0..2 {
            let p = ra.plan(0, k, limits(), &b);
            assert!(p.covering.is_empty() && p.fetches.is_empty());
        }
        let p = ra.plan(u64::from(k), k, limits(), &b);
        assert_eq!(p.fetches.len(), 2);
        assert_eq!(p.covering.len(), 1);
        // Planned again by its task: answered from the same window.
        let again = ra.plan(u64::from(k), k, limits(), &b);
        assert!(again.fetches.is_empty());
        assert_eq!(again.covering.len(), 1);
        assert!(Arc::ptr_eq(&again.covering[0], &p.covering[0]));
    }

    #[test]
    fn late_reads_out_of_order_keep_the_window() {
        let ra = ReadAhead::default();
        let b = Budget::new(64 << 20);
        let k = 128 * 1024;
        let c = u64::from(CHUNK);
        ra.plan(0, k, limits(), &b);
        // The reads after the first arrive out of order: the window
        // starts at the third, and the second, late, is read directly
        // without dropping it.
        let p = ra.plan(2 * u64::from(k), k, limits(), &b);
        assert_eq!(p.fetches.len(), 2);
        let late = ra.plan(u64::from(k), k, limits(), &b);
        assert!(late.covering.is_empty() && late.fetches.is_empty());
        let used = b.used();
        assert_eq!(used, 2 * c);
        // The reads go on into the second chunk; one left behind in the
        // first is still answered from it, and nothing is fetched again.
        let at = 2 * u64::from(k) + c + u64::from(k);
        let p = ra.plan(at, k, limits(), &b);
        assert_eq!(p.covering.len(), 1);
        let before = p.fetches.len();
        let late = ra.plan(2 * u64::from(k) + c - u64::from(k), k, limits(), &b);
        assert_eq!(late.covering.len(), 1, "the late read found its chunk");
        assert!(late.fetches.is_empty());
        assert_eq!(b.used(), used + before as u64 * c, "nothing dropped");
    }

    #[test]
    fn a_file_read_backwards_starts_no_window() {
        let ra = ReadAhead::default();
        let b = Budget::new(64 << 20);
        let k = 128 * 1024;
        let mut at = 8 * u64::from(CHUNK);
        for _ in 0..16 {
            at -= u64::from(k);
            let p = ra.plan(at, k, limits(), &b);
            assert!(p.fetches.is_empty(), "a fetch at {at}");
        }
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn nothing_is_fetched_past_the_size_the_kernel_knows() {
        let ra = ReadAhead::default();
        let b = Budget::new(64 << 20);
        let k = 128 * 1024;
        let c = u64::from(CHUNK);
        let size = 3 * c / 2;
        let lim = Limits {
            size: Some(size),
            ..limits()
        };
        let mut offsets = Vec::new();
        let mut at = 0;
        while at < size {
            let p = ra.plan(at, k, lim, &b);
            offsets.extend(p.fetches.iter().map(|f| f.offset));
            at += u64::from(k);
        }
        assert!(!offsets.is_empty());
        assert!(offsets.iter().all(|&o| o < size), "{offsets:?}");
        // Reads past that size (the file grew) start no fetch; beyond the
        // last chunk they are read directly.
        let p = ra.plan(size, k, lim, &b);
        assert!(p.fetches.is_empty());
        let p = ra.plan(size + c, k, lim, &b);
        assert!(p.covering.is_empty() && p.fetches.is_empty());
    }

    #[test]
    fn the_total_budget_bounds_what_is_fetched() {
        let ra = ReadAhead::default();
        let b = Budget::new(u64::from(CHUNK));
        let k = 128 * 1024;
        ra.plan(0, k, limits(), &b);
        let p = ra.plan(u64::from(k), k, limits(), &b);
        assert_eq!(p.fetches.len(), 1);
        assert!(b.used() <= u64::from(CHUNK));
    }

    #[test]
    fn a_read_within_a_chunk_is_a_view_of_it_and_one_across_two_is_joined() {
        let ra = ReadAhead::default();
        let b = Budget::new(64 << 20);
        let k = 128 * 1024;
        ra.plan(0, k, limits(), &b);
        let p = ra.plan(u64::from(k), k, limits(), &b);
        // Two chunks from the second read on: [k, k + 1 MiB), and the
        // rest of the file, which ends half a MiB into the second.
        assert_eq!(p.fetches.len(), 2);
        assert_eq!(p.fetches[0].offset, u64::from(k));
        let border = u64::from(k + CHUNK);
        let file: Vec<u8> = (0..border + u64::from(CHUNK / 2))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut chunks = Vec::new();
        for f in p.fetches {
            let from = f.offset as usize;
            let to = (from + f.len as usize).min(file.len());
            let d = Bytes::copy_from_slice(&file[from..to]);
            chunks.push(d.clone());
            f.tx.send(Some(Ok(d))).unwrap();
        }
        let d = assemble_ready(&p.covering, u64::from(k), k).unwrap();
        assert_eq!(d, file[k as usize..][..k as usize]);
        let inside = chunks[0].as_ptr_range();
        assert!(inside.contains(&d.as_ptr()), "not copied");
        // Across the chunks' border, and past the end of file.
        let at = border - u64::from(k / 2);
        let p = ra.plan(at, k, limits(), &b);
        assert_eq!(p.covering.len(), 2);
        assert_eq!(
            assemble_ready(&p.covering, at, k).unwrap(),
            file[at as usize..][..k as usize]
        );
        let at = file.len() as u64 - 10;
        let p = ra.plan(at, k, limits(), &b);
        assert_eq!(
            assemble_ready(&p.covering, at, k).unwrap(),
            file[at as usize..]
        );
    }
}
