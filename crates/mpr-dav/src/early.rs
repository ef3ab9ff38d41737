//! The upload of a new file, started while the file is still written.
//!
//! A file created by an open is uploaded while it is written: the `PUT`
//! starts at the first write, its body follows the
//! staging file as the writes land, and the flush, `fsync` or close that
//! would have uploaded the whole file only ends the body and waits for the
//! answer. The upload of a large new file written in order then overlaps
//! the writes instead of following them (a 64 MiB file spent a fifth of
//! its time being written to the staging file before its upload began).
//! The `PUT` is sent only once the server is found to hold the version the
//! open made, as an ordinary upload checks first.
//!
//! Only a new file: an existing file cut by `O_TRUNC` is uploaded at the
//! flush as before, so that a colleague's save made while it is written is
//! found then (a conflict) rather than overwritten by an upload already
//! under way. A file a colleague creates under the same new name while it
//! is written here is not told apart.
//!
//! While the body is sent the server holds what has been sent, as a disk
//! shows a file being written as far as it is written. The body is never
//! cut short (a `PUT` broken off can leave a server with part of a file or
//! with none): a change to bytes already sent, a size change, or a write
//! after the end was declared *spoils* the upload instead. It still runs
//! to its end, and the flush then uploads the whole file again the
//! ordinary way, so the server ends with exactly the file.
//!
//! Writes land in any order (the file system queues several at once); the
//! body is sent as far as the writes from the start have landed without a
//! gap, and, once the end is declared, to the end (a gap never written is
//! zeros, as in the staging file). A change to the staging file runs under
//! this upload's lock ([`Early::change`]), and the body reads under it too,
//! so no piece is read while it is being written.

use crate::http::{Body, Http};
use crate::staging::Staging;
use bytes::Bytes;
use mpr_fs::FsError;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How much of the staging file the body reads at a time.
const PIECE: u64 = 1 << 20;

/// Pieces read ahead of what the request has sent.
const QUEUED: usize = 4;

/// A change to the staging file while an upload follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `len` bytes written at `at`.
    Write {
        /// Where.
        at: u64,
        /// How many bytes.
        len: u64,
    },
    /// Anything else (a size change): the upload is spoiled.
    Other,
}

/// What became of the request.
#[derive(Debug)]
pub enum Sent {
    /// Not sent: the check before it failed (the server's version is not
    /// the open's, or it could not be asked). The server is as it was.
    Withheld,
    /// The server answered.
    Answered(StatusCode),
    /// No answer (the connection failed): the server may hold part of it.
    Failed(FsError),
}

/// How an upload ended.
#[derive(Debug)]
pub struct Outcome {
    /// What became of the request.
    pub sent: Sent,
    /// The body is not the file (see the module's text): upload again.
    pub spoiled: bool,
}

/// An upload under way (see the module's text).
#[derive(Debug)]
pub struct Early {
    shared: Arc<Shared>,
    task: JoinHandle<Sent>,
}

#[derive(Debug)]
struct Shared {
    progress: Mutex<Progress>,
    tick: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Progress {
    /// Every byte before this has landed.
    avail: u64,
    /// Landed ranges past `avail` (start → end).
    ahead: BTreeMap<u64, u64>,
    /// What the body has read of the staging file.
    read_to: u64,
    /// The file's length, once declared: the body ends there.
    end: Option<u64>,
    spoiled: bool,
}

impl Progress {
    fn changed(&mut self, c: Change) {
        let Change::Write { at, len } = c else {
            self.spoiled = true;
            return;
        };
        if self.end.is_some() || at < self.read_to {
            self.spoiled = true;
        }
        let end = at.saturating_add(len);
        if at <= self.avail {
            self.avail = self.avail.max(end);
        } else {
            let e = self.ahead.entry(at).or_insert(end);
            *e = (*e).max(end);
        }
        while let Some((&s, &e)) = self.ahead.first_key_value() {
            if s > self.avail {
                break;
            }
            self.avail = self.avail.max(e);
            self.ahead.remove(&s);
        }
    }
}

impl Early {
    /// Starts a `PUT` of `url` (with `headers`, `If-Match` among them)
    /// whose body follows `staging`, which must be empty now, once `check`
    /// (that the server still has the version the open made) says yes.
    pub fn start(
        http: Arc<Http>,
        url: Url,
        headers: HeaderMap,
        staging: Arc<Staging>,
        check: impl Future<Output = bool> + Send + 'static,
    ) -> Early {
        let (tick, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            progress: Mutex::new(Progress::default()),
            tick,
        });
        let (tx, rx) = mpsc::channel(QUEUED);
        let body = Body::Live(Arc::new(Mutex::new(Some(LiveBody { rx }))));
        let pumped = shared.clone();
        let task = tokio::spawn(async move {
            let put = async {
                if !check.await {
                    return Sent::Withheld;
                }
                match http.send(Method::PUT, &url, headers, body).await {
                    Ok(r) => Sent::Answered(r.status()),
                    Err(e) => Sent::Failed(e),
                }
            };
            let (sent, ()) = tokio::join!(put, pump(pumped, staging, tx));
            sent
        });
        Early { shared, task }
    }

    /// Runs `f`, a change to the staging file, under the upload's lock,
    /// and notes it; one that failed spoils the upload (what it was to
    /// write is not in the file).
    pub fn change<T>(
        &self,
        c: Change,
        f: impl FnOnce() -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let mut p = self.shared.progress.lock().expect("early upload lock");
        let r = f();
        match r {
            Ok(_) => p.changed(c),
            Err(_) => p.spoiled = true,
        }
        drop(p);
        self.shared.tick.send_modify(|t| *t += 1);
        r
    }

    /// Declares the file's length: the body ends there. Call it where no
    /// change can come between reading the length and this.
    pub fn declare_end(&self, len: u64) {
        let mut p = self.shared.progress.lock().expect("early upload lock");
        if p.end.is_none() {
            if len < p.read_to {
                p.spoiled = true;
            }
            p.end = Some(len);
        }
        drop(p);
        self.shared.tick.send_modify(|t| *t += 1);
    }

    /// Waits for the answer (after [`Early::declare_end`]).
    pub async fn finish(mut self) -> Outcome {
        let sent = match (&mut self.task).await {
            Ok(s) => s,
            Err(e) => Sent::Failed(FsError::Io(format!("the upload's task ended: {e}"))),
        };
        let spoiled = self
            .shared
            .progress
            .lock()
            .expect("early upload lock")
            .spoiled;
        Outcome { sent, spoiled }
    }
}

impl Drop for Early {
    /// An upload given up (a flush dropped by its bound while it waited)
    /// ends here, not later: the next upload, of the whole file, is then
    /// the last one to reach the server.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the body does next.
enum Step {
    Send(Bytes),
    Fail(std::io::Error),
    Wait,
    Done,
}

/// Feeds the body: the staging file as far as it has landed, to the end
/// once that is declared.
async fn pump(
    shared: Arc<Shared>,
    staging: Arc<Staging>,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
) {
    let mut tick = shared.tick.subscribe();
    loop {
        tick.borrow_and_update();
        let step = {
            let mut p = shared.progress.lock().expect("early upload lock");
            let limit = p.end.unwrap_or(p.avail);
            if p.read_to < limit {
                let want = (limit - p.read_to).min(PIECE);
                // `want` ≤ PIECE, so it fits.
                match staging.read(p.read_to, want as u32) {
                    Ok(mut d) => {
                        // Past the staging file's end (cut meanwhile,
                        // which spoiled this): zeros, as many as promised.
                        d.resize(want as usize, 0);
                        p.read_to += want;
                        Step::Send(Bytes::from(d))
                    }
                    Err(e) => Step::Fail(e),
                }
            } else if p.end.is_some() {
                Step::Done
            } else {
                Step::Wait
            }
        };
        match step {
            Step::Send(b) => {
                if tx.send(Ok(b)).await.is_err() {
                    // The request ended (answered early, or failed).
                    return;
                }
            }
            Step::Fail(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
            Step::Done => return,
            Step::Wait => {
                if tick.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The body of an upload under way: the pieces [`pump`] sends, of a
/// length not known in advance (sent chunked).
#[derive(Debug)]
pub struct LiveBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl http_body::Body for LiveBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|piece| piece.map(|r| r.map(http_body::Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(at: u64, len: u64) -> Change {
        Change::Write { at, len }
    }

    #[test]
    fn writes_landing_out_of_order_make_one_run_from_the_start() {
        let mut p = Progress::default();
        p.changed(w(1 << 20, 1 << 20));
        assert_eq!(p.avail, 0, "a gap before it");
        p.changed(w(3 << 20, 1 << 20));
        p.changed(w(0, 1 << 20));
        assert_eq!(p.avail, 2 << 20);
        p.changed(w(2 << 20, 1 << 20));
        assert_eq!(p.avail, 4 << 20);
        assert!(p.ahead.is_empty() && !p.spoiled);
    }

    #[test]
    fn a_change_to_what_was_sent_or_after_the_end_spoils_the_upload() {
        let mut p = Progress {
            read_to: 100,
            avail: 100,
            ..Default::default()
        };
        p.changed(w(100, 10));
        assert!(!p.spoiled, "past what was sent");
        p.changed(w(99, 1));
        assert!(p.spoiled, "a byte already sent");
        let mut p = Progress::default();
        p.changed(Change::Other);
        assert!(p.spoiled, "a size change");
        let mut p = Progress {
            end: Some(0),
            ..Default::default()
        };
        p.changed(w(0, 1));
        assert!(p.spoiled, "after the end was declared");
    }
}
