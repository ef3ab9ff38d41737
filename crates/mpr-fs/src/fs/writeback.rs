//! Write-behind: the writes of one handle that were answered to the kernel
//! but have not reached the server yet.
//!
//! Without it, the kernel sends a program's writes one at a time (each
//! waits for its answer), so a sequential write is one round trip after
//! another. With it, a write is answered once it is queued here, and
//! several back-end writes of the handle are in flight at once. The rules:
//!
//! - Bounded: at most the configured bytes are queued per handle; a write
//!   past that waits (before it is answered) until some have landed.
//! - In order where it matters: a write that overlaps one still queued
//!   waits for it first, so overlapping writes land in the order they
//!   were made.
//! - Never lost silently: a queued write that failed is reported at the
//!   handle's next write, `flush` (each `close(2)`), `fsync` or release,
//!   once.
//! - Exact for everything else: `flush`, `fsync` and release wait for
//!   every queued write of the handle; a read, a size change, a `getattr`,
//!   a lookup or a rename of the file waits for the queues of all its
//!   handles ([`Fs`](super::Fs) calls [`WriteQueue::drain`]).

use crate::error::FsError;
use std::sync::Mutex;

/// The queued writes of one handle.
#[derive(Debug, Default)]
pub struct WriteQueue {
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Byte ranges queued or in flight: (ticket, start, end).
    pending: Vec<(u64, u64, u64)>,
    /// Their bytes.
    bytes: u64,
    next_ticket: u64,
    /// The first failure not reported yet.
    error: Option<FsError>,
}

/// A queued write; hand it back to [`WriteQueue::done`].
#[derive(Debug)]
#[must_use]
pub struct Ticket(u64);

impl WriteQueue {
    /// Waits until a write of `[start, end)` may be queued (no queued
    /// write overlaps it, and it fits within `limit` bytes, or the queue
    /// is empty), and queues it.
    pub async fn admit(&self, start: u64, end: u64, limit: u64) -> Ticket {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.state.lock().expect("write queue lock");
                let overlaps = s.pending.iter().any(|&(_, a, b)| a < end && start < b);
                let fits = s.pending.is_empty() || s.bytes + (end - start) <= limit;
                if !overlaps && fits {
                    let t = s.next_ticket;
                    s.next_ticket += 1;
                    s.pending.push((t, start, end));
                    s.bytes += end - start;
                    return Ticket(t);
                }
            }
            notified.await;
        }
    }

    /// A queued write ended; a failure is kept for the handle's next
    /// write, flush, fsync or release (`keep_error`), or was reported
    /// already.
    pub fn done(&self, ticket: Ticket, r: &Result<(), FsError>, keep_error: bool) {
        {
            let mut s = self.state.lock().expect("write queue lock");
            if let Some(i) = s.pending.iter().position(|&(t, _, _)| t == ticket.0) {
                let (_, a, b) = s.pending.remove(i);
                s.bytes -= b - a;
            }
            if let Err(e) = r
                && keep_error
                && s.error.is_none()
            {
                s.error = Some(e.clone());
            }
        }
        self.changed.notify_waiters();
    }

    /// Whether `ticket` is the only write queued and the last one admitted
    /// (no write of this handle was made after it).
    pub fn is_last(&self, ticket: &Ticket) -> bool {
        let s = self.state.lock().expect("write queue lock");
        s.next_ticket == ticket.0 + 1 && s.pending.len() == 1 && s.pending[0].0 == ticket.0
    }

    /// Whether writes are queued.
    pub fn is_busy(&self) -> bool {
        !self
            .state
            .lock()
            .expect("write queue lock")
            .pending
            .is_empty()
    }

    /// Waits until every queued write has ended.
    pub async fn drain(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_busy() {
                return;
            }
            notified.await;
        }
    }

    /// The failure of a queued write not reported yet (reported now).
    pub fn take_error(&self) -> Option<FsError> {
        self.state.lock().expect("write queue lock").error.take()
    }

    /// Keeps a failure to report again (when reporting it failed).
    pub fn put_error(&self, e: FsError) {
        let mut s = self.state.lock().expect("write queue lock");
        if s.error.is_none() {
            s.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn an_overlapping_write_waits_and_a_failure_is_kept_once() {
        let q = Arc::new(WriteQueue::default());
        let a = q.admit(0, 10, 100).await;
        let b = q.admit(10, 20, 100).await;
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.admit(5, 15, 100).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "it overlaps both");
        q.done(a, &Err(FsError::Io("boom".into())), true);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "it still overlaps the second");
        q.done(b, &Ok(()), true);
        let c = waiter.await.unwrap();
        q.done(c, &Ok(()), true);
        q.drain().await;
        assert_eq!(q.take_error(), Some(FsError::Io("boom".into())));
        assert_eq!(q.take_error(), None);
    }

    #[tokio::test]
    async fn the_bound_holds_a_write_until_room_is_made() {
        let q = Arc::new(WriteQueue::default());
        let a = q.admit(0, 60, 100).await;
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.admit(60, 120, 100).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        q.done(a, &Ok(()), true);
        let b = waiter.await.unwrap();
        assert!(q.is_busy());
        q.done(b, &Ok(()), true);
        assert!(!q.is_busy());
    }
}
