//! `GET`s of a file's bytes for reads of a handle without a local copy:
//! the ranged `GET` of one read, and the open-ended one a [`Stream`]
//! reads from (`Range: bytes=N-`, its body consumed as it arrives).
//!
//! [`Stream`]: crate::stream::Stream

use crate::http::{self, Http, status_error};
use crate::stream::{Answer, Body, Source};
use bytes::Bytes;
use mpr_fs::{FsError, RelPath};
use reqwest::header::{CONTENT_RANGE, HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many `GET`s reads have sent, of each kind (for tests and
/// diagnostics: a file read from start to end should be one stream).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadGets {
    /// Open-ended `GET`s that started a stream (or were to).
    pub streams: u64,
    /// Ranged `GET`s of one read.
    pub ranged: u64,
}

/// The counters behind [`ReadGets`].
#[derive(Debug, Default)]
pub struct Counts {
    streams: AtomicU64,
    ranged: AtomicU64,
}

impl Counts {
    /// What was counted so far.
    pub fn get(&self) -> ReadGets {
        ReadGets {
            streams: self.streams.load(Ordering::Relaxed),
            ranged: self.ranged.load(Ordering::Relaxed),
        }
    }
}

/// A file on the server, as reads see it.
pub struct FileGet<'a> {
    /// The client.
    pub http: &'a Http,
    /// The file's URL.
    pub url: Url,
    /// Its path, for messages.
    pub path: &'a RelPath,
    /// Where the requests are counted.
    pub counts: &'a Counts,
}

fn range(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(reqwest::header::RANGE, v);
    }
    h
}

impl FileGet<'_> {
    /// Up to `len` (> 0) bytes at `offset` with one ranged `GET`; fewer
    /// only at the end of the file.
    pub async fn ranged(&self, offset: u64, len: u32) -> Result<Bytes, FsError> {
        let path = self.path;
        self.counts.ranged.fetch_add(1, Ordering::Relaxed);
        let last = offset.saturating_add(u64::from(len) - 1);
        let resp = self
            .http
            .send(
                Method::GET,
                &self.url,
                range(&format!("bytes={offset}-{last}")),
                crate::http::Body::Empty,
            )
            .await?;
        let status = resp.status();
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Ok(Bytes::new());
        }
        if status != StatusCode::PARTIAL_CONTENT && status != StatusCode::OK {
            return Err(status_error(status, &format!("GET {path}")));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| FsError::Disconnected(format!("GET {path}: {}", http::chain(&e))))?;
        if status == StatusCode::OK {
            // The server sent the whole file.
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(body.len());
            let end = start.saturating_add(len as usize).min(body.len());
            return Ok(body.slice(start..end));
        }
        Ok(body.slice(..body.len().min(len as usize)))
    }
}

impl Source for FileGet<'_> {
    type Body = Response;

    async fn open(&self, from: u64) -> Result<Answer<Response>, FsError> {
        self.counts.streams.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .send(
                Method::GET,
                &self.url,
                range(&format!("bytes={from}-")),
                crate::http::Body::Empty,
            )
            .await?;
        let status = resp.status();
        match status {
            StatusCode::PARTIAL_CONTENT => {
                let cr = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(content_range);
                Ok(match cr {
                    Some((start, _, total)) if start == from => {
                        Answer::Stream { body: resp, total }
                    }
                    // Not the bytes asked for (or not said which): the
                    // ranged GETs of the reads will do.
                    _ => Answer::Declined,
                })
            }
            StatusCode::OK => Ok(Answer::NoRanges),
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(Answer::Declined),
            _ => Err(status_error(status, &format!("GET {}", self.path))),
        }
    }
}

impl Body for Response {
    async fn next(&mut self) -> Result<Option<Bytes>, String> {
        self.chunk().await.map_err(|e| http::chain(&e))
    }
}

/// A `Content-Range` of bytes: first and last offsets, and the size of
/// the file if given (`bytes 0-99/1000`, `bytes 0-99/*`).
pub fn content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.trim().split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    if last < first || total.is_some_and(|t| last >= t) {
        return None;
    }
    Some((first, last, total))
}

#[cfg(test)]
mod tests {
    use super::content_range;

    #[test]
    fn content_ranges_are_parsed_and_nonsense_refused() {
        assert_eq!(
            content_range("bytes 1000-2999999/3000000"),
            Some((1000, 2_999_999, Some(3_000_000)))
        );
        assert_eq!(content_range("bytes 0-99/*"), Some((0, 99, None)));
        for bad in [
            "",
            "bytes */1000",
            "bytes 5-4/10",
            "bytes 0-10/10",
            "items 0-1/2",
            "bytes -1-2/3",
            "bytes 0-99999999999999999999999/1",
        ] {
            assert_eq!(content_range(bad), None, "{bad:?}");
        }
    }
}
