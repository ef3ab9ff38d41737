/*!
The WebDAV back end of mpr's own file system: [`DavBackend`] implements
[`mpr_fs::Backend`] over HTTP/1.1 (keep-alive, rustls with the system's
roots plus an optional private CA, Basic or Digest authentication).

# What it speaks

- Listings are `PROPFIND` with `Depth: 1`, attributes `PROPFIND` with
  `Depth: 0` (kind, size, modification time, ETag); hrefs are
  percent-decoded and taken relative to the base URL.
- Reads of a file opened read-only are ranged `GET`s; once a handle's
  reads are sequential, they come from one open-ended `GET` streamed as
  it arrives (the `stream` module: one request for a file read from start to end,
  instead of one per read).
- Directories: `MKCOL`, `DELETE` (only once a listing showed the directory
  empty: a WebDAV `DELETE` of a collection removes everything below it),
  `MOVE` with `Overwrite: T` (after checking what POSIX `rename` checks).
- Writes are staged: a file opened for writing is copied into a private
  staging file ([`staging`]: no name, mode 0600, in the runtime directory),
  written there (in-place edits, appends, `O_TRUNC`, `ftruncate`), and
  uploaded with one `PUT` when it is flushed, fsynced or closed, its body
  read from the staging file as it is sent ([`staging::Upload`]).

# Colleagues' changes: the ETag check

A handle remembers the version (the ETag, or size and time where the
server gives none) of the file it was opened on. Before an upload it asks
the server for the version now (`PROPFIND`, asked a second time 100 ms
later when it differs: a server can answer from just before a save it took
a moment ago); if someone else changed or removed the file meanwhile, the
upload is refused with
[`FsError::Conflict`] (`ESTALE` for the program), the server keeps the
colleague's version, and the log says so. The `PUT` carries `If-Match` as
well, for servers that honour it (`rclone serve webdav` 1.60 ignores it,
which is why the check is made first by this back end itself).

# Reconnects

HTTP has no session: a request that gets no answer (refused, reset, timed
out) is [`FsError::Disconnected`], and the layer above calls
[`Backend::connect`] (a `PROPFIND` of the base) with backoff until the
server answers again. A handle lives on this side (its staging file), so
it survives: [`Backend::handles_survive_reconnect`] is `true`, and what was
written before or during an outage is uploaded once the server is back.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod early;
mod get;
mod http;
mod paths;
mod propfind;
pub mod staging;
mod stream;
#[cfg(test)]
mod tests;

pub use get::ReadGets;
use get::{Counts, FileGet};
use http::{Http, status_error};
use mpr_fs::handshake::{Password, Request};
use mpr_fs::{
    Attr, Backend, Bytes, ConnectError, DirEntry, FileKind, FsError, OpenFlags, RelPath, StatFs,
    Times,
};
use propfind::Resource;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use staging::Staging;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

/// Where and as whom to connect.
#[derive(Clone)]
pub struct DavConfig {
    /// The base URL (its path ends with `/`): the root of the mount.
    pub base: Url,
    /// The user name, if any.
    pub user: Option<String>,
    /// The password, if any.
    pub password: Option<Password>,
    /// A PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Where staging files are made (the runtime directory).
    pub staging_dir: PathBuf,
    /// The bound on establishing a TCP connection.
    pub connect_timeout: Duration,
}

impl fmt::Debug for DavConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DavConfig")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .field("password", &self.password)
            .field("ca_file", &self.ca_file)
            .field("staging_dir", &self.staging_dir)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl DavConfig {
    /// The configuration a handshake [`Request`] asks for: `host`, `port`
    /// and `path` make the URL; the options `tls` (HTTPS), `ca_file` and
    /// `staging_dir` (default: the directory of the health file).
    pub fn from_request(req: &Request) -> Result<DavConfig, FsError> {
        let bad = |why: String| FsError::Connect(ConnectError::Other(why));
        let tls = match req.options.get("tls") {
            None => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(other) => {
                return Err(bad(format!(
                    "the option tls must be a boolean, not {other}"
                )));
            }
        };
        let path_opt = |key: &str| -> Result<Option<PathBuf>, FsError> {
            match req.options.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if Path::new(s).is_absolute() => {
                    Ok(Some(PathBuf::from(s)))
                }
                Some(other) => Err(bad(format!(
                    "the option {key} must be an absolute path, not {other}"
                ))),
            }
        };
        let ca_file = path_opt("ca_file")?;
        let staging_dir = match path_opt("staging_dir")? {
            Some(p) => p,
            None => req
                .health_file
                .parent()
                .map_or_else(std::env::temp_dir, Path::to_path_buf),
        };
        let base = base_url(tls, &req.host, req.port, &req.path)?;
        Ok(DavConfig {
            base,
            user: req.user.clone().filter(|u| !u.is_empty()),
            password: req.password.clone(),
            ca_file,
            staging_dir,
            connect_timeout: Duration::from_secs(req.op_timeout_secs.max(1)),
        })
    }
}

/// The base URL for a host, port and (decoded, `/`-separated) path.
pub fn base_url(tls: bool, host: &str, port: Option<u16>, path: &str) -> Result<Url, FsError> {
    let scheme = if tls { "https" } else { "http" };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    let rel = RelPath::new(path.trim_matches('/')).map_err(|e| {
        FsError::Connect(ConnectError::NoSuchShare(format!(
            "the path {path:?} is not valid: {e}"
        )))
    })?;
    let root = Url::parse(&format!("{scheme}://{host}{port}/")).map_err(|e| {
        FsError::Connect(ConnectError::Other(format!(
            "{scheme}://{host}{port}/ is not a valid URL: {e}"
        )))
    })?;
    Ok(paths::url_of(&root, &rel, true))
}

/// An open file, shared by every handle open on it through this mount
/// (so that they see each other's writes, as on a local disk, and one
/// upload carries them all), and kept in the back end's list of open
/// files (which follows renames and removals made through the mount).
#[derive(Debug)]
struct Inner {
    path: Mutex<RelPath>,
    /// Removed through the mount while open: never uploaded again.
    detached: AtomicBool,
    /// The local copy (files opened for writing, and files removed while
    /// open).
    staging: Mutex<Option<Arc<Staging>>>,
    state: Mutex<Versioned>,
    /// One upload at a time.
    uploading: tokio::sync::Mutex<()>,
    /// The upload that follows the file as it is written, if one is under
    /// way ([`early`]).
    early: Mutex<Option<early::Early>>,
}

#[derive(Debug)]
struct Versioned {
    /// The version on the server the local copy is based on.
    version: Option<String>,
    /// Written since the last upload.
    dirty: bool,
    /// A local write failed: uploading would lose it.
    poisoned: Option<String>,
    /// Created by its open, here and on the server (at `version`), and not
    /// written since: its first write may start an upload that follows
    /// the writes ([`early`]).
    fresh: bool,
    /// An upload of ours failed part-way: the server may hold part of it
    /// (or nothing), so the next upload does not call the version it finds
    /// a colleague's change.
    own_partial: bool,
    /// Changes made to the local copy so far: an upload marks the copy
    /// clean only if none came while it was sent.
    changes: u64,
}

impl Versioned {
    /// The local copy changed: it is to be uploaded.
    fn changed(&mut self) {
        self.dirty = true;
        self.changes += 1;
    }
}

impl Inner {
    fn path(&self) -> RelPath {
        self.path.lock().expect("dav handle lock").clone()
    }

    fn staging(&self) -> Option<Arc<Staging>> {
        self.staging.lock().expect("dav handle lock").clone()
    }
}

/// An open file: its path (kept current across renames through the
/// mount), the version it was opened on, and its staging file; and, for
/// this open alone, the stream its sequential reads come from.
#[derive(Debug)]
pub struct DavHandle {
    inner: Arc<Inner>,
    write: bool,
    stream: stream::Stream<reqwest::Response>,
}

/// The WebDAV back end.
pub struct DavBackend {
    config: DavConfig,
    http: Arc<Http>,
    base_path: String,
    open: Mutex<Vec<Weak<Inner>>>,
    gets: Counts,
    /// Whether uploads may start while a file is written ([`early`]):
    /// until the server refuses a body of unstated length.
    early_ok: AtomicBool,
}

impl fmt::Debug for DavBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DavBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How long an upload waits before it asks a second time for a version
/// that differs from the one its copy is based on.
const RECHECK: Duration = Duration::from_millis(100);

/// A file's version: its ETag, or its size and time where the server
/// gives no ETag.
fn version_of(r: &Resource) -> String {
    r.etag.clone().unwrap_or_else(|| {
        let t = r
            .attr
            .mtime
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}:{t}", r.attr.size)
    })
}

/// One `PROPFIND` of `url` with `depth`: the raw answer.
async fn send_propfind(http: &Http, url: &Url, depth: &str) -> Result<reqwest::Response, FsError> {
    let mut h = header("depth", depth);
    h.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    http.send(
        method(b"PROPFIND"),
        url,
        h,
        http::Body::Bytes(propfind::BODY.into()),
    )
    .await
}

/// The resources a `PROPFIND` of `rel` answered, or the error its status
/// says.
async fn multistatus(
    resp: reqwest::Response,
    base_path: &str,
    rel: &RelPath,
) -> Result<Vec<Resource>, FsError> {
    let status = resp.status();
    if status != StatusCode::MULTI_STATUS {
        return Err(status_error(status, &format!("PROPFIND {rel}")));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| FsError::Disconnected(format!("PROPFIND {rel}: {}", http::chain(&e))))?;
    propfind::parse(&body, base_path)
}

/// The version of the file `rel` at `url` now (`None`: it is gone), asked
/// as [`DavBackend::version_now`] asks, by a task of its own.
async fn file_version(
    http: &Http,
    url: &Url,
    base_path: &str,
    rel: &RelPath,
) -> Result<Option<String>, FsError> {
    let resp = send_propfind(http, url, "0").await?;
    match multistatus(resp, base_path, rel).await {
        Ok(all) => Ok(all
            .iter()
            .find(|r| r.rel.as_deref() == Some(rel.as_str()))
            .map(version_of)),
        Err(FsError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_etag(v: &str) -> bool {
    v.starts_with('"') || v.starts_with("W/")
}

fn header(name: &'static str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
    h
}

fn etag_header(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn io(e: std::io::Error) -> FsError {
    FsError::Io(format!("staging file: {e}"))
}

fn method(m: &'static [u8]) -> Method {
    Method::from_bytes(m).expect("a valid method name")
}

impl DavBackend {
    /// A back end for `config`, not yet connected (call
    /// [`Backend::connect`]); a `ca_file` that cannot be read is an error
    /// here.
    pub fn new(config: DavConfig) -> Result<DavBackend, FsError> {
        let http = Http::new(
            config.user.clone(),
            config.password.clone(),
            config.ca_file.as_deref(),
            config.connect_timeout,
        )?;
        Ok(DavBackend {
            base_path: paths::base_path(&config.base),
            http: Arc::new(http),
            config,
            open: Mutex::new(Vec::new()),
            gets: Counts::default(),
            early_ok: AtomicBool::new(true),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &DavConfig {
        &self.config
    }

    /// How many `GET`s reads have sent so far, of each kind.
    pub fn read_gets(&self) -> ReadGets {
        self.gets.get()
    }

    /// A handle on `inner`, with a stream of its own: a body that sends
    /// nothing for half the operation's bound (at most 5 s) is given up.
    fn handle(&self, inner: Arc<Inner>, write: bool) -> DavHandle {
        let stall = (self.config.connect_timeout / 2)
            .clamp(Duration::from_millis(500), stream::Limits::default().stall);
        DavHandle {
            inner,
            write,
            stream: stream::Stream::new(stream::Limits {
                stall,
                ..stream::Limits::default()
            }),
        }
    }

    fn url(&self, rel: &RelPath, dir: bool) -> Url {
        paths::url_of(&self.config.base, rel, dir)
    }

    /// `PROPFIND` of `rel` with `depth`; the raw answer.
    async fn propfind_raw(
        &self,
        rel: &RelPath,
        depth: &str,
        dir: bool,
    ) -> Result<reqwest::Response, FsError> {
        let resp = send_propfind(&self.http, &self.url(rel, dir), depth).await?;
        if !dir && matches!(resp.status().as_u16(), 301 | 302 | 307 | 308) {
            // A collection named without its slash, redirected.
            return send_propfind(&self.http, &self.url(rel, true), depth).await;
        }
        Ok(resp)
    }

    async fn propfind(
        &self,
        rel: &RelPath,
        depth: &str,
        dir: bool,
    ) -> Result<Vec<Resource>, FsError> {
        let resp = self.propfind_raw(rel, depth, dir).await?;
        multistatus(resp, &self.base_path, rel).await
    }

    /// The resource `rel` itself.
    async fn resource(&self, rel: &RelPath) -> Result<Resource, FsError> {
        let all = self.propfind(rel, "0", false).await?;
        let want = rel.as_str();
        all.iter()
            .find(|r| r.rel.as_deref() == Some(want))
            .or(all.first())
            .cloned()
            .ok_or_else(|| FsError::Io(format!("PROPFIND {rel}: an empty answer")))
    }

    /// `PUT` of `body` at `rel`; `cond` is `If-Match` (a version) or
    /// `If-None-Match: *` (`None` with `create`). The new version.
    async fn put(
        &self,
        rel: &RelPath,
        body: http::Body,
        if_match: Option<&str>,
        create_only: bool,
    ) -> Result<String, FsError> {
        let mut h = HeaderMap::new();
        if let Some(v) = if_match.filter(|v| is_etag(v))
            && let Ok(v) = HeaderValue::from_str(v)
        {
            h.insert(reqwest::header::IF_MATCH, v);
        }
        if create_only {
            h.insert(
                reqwest::header::IF_NONE_MATCH,
                HeaderValue::from_static("*"),
            );
        }
        let resp = self
            .http
            .send(Method::PUT, &self.url(rel, false), h, body)
            .await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(match status.as_u16() {
                412 if create_only => FsError::Exists,
                412 => FsError::Conflict(format!(
                    "{rel} was changed on the server since it was opened (412)"
                )),
                405 => FsError::IsDirectory,
                _ => status_error(status, &format!("PUT {rel}")),
            });
        }
        // The version is asked for, not taken from the answer's `ETag`: a
        // server may compute that before the file is final (`rclone serve
        // webdav` takes it from a `stat` made before it closes the file,
        // whose modification time the close may still move), and a
        // version that is not the file's makes the next upload of this
        // handle a false conflict, which leaves the new content unsaved.
        Ok(version_of(&self.resource(rel).await?))
    }

    /// Copies the whole content of `rel` (a `GET`) into a new staging
    /// file as it arrives (never the whole file in memory); the file, and
    /// the version when the answer names it.
    async fn download_staged(&self, rel: &RelPath) -> Result<(Staging, Option<String>), FsError> {
        let s = self.new_staging()?;
        let mut resp = self
            .http
            .send(
                Method::GET,
                &self.url(rel, false),
                HeaderMap::new(),
                http::Body::Empty,
            )
            .await?;
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(status_error(status, &format!("GET {rel}")));
        }
        let etag = etag_header(&resp);
        let mut at = 0u64;
        loop {
            let chunk = resp
                .chunk()
                .await
                .map_err(|e| FsError::Disconnected(format!("GET {rel}: {}", http::chain(&e))))?;
            let Some(chunk) = chunk else { break };
            s.write(at, &chunk).map_err(io)?;
            at += chunk.len() as u64;
        }
        Ok((s, etag))
    }

    fn register(&self, inner: &Arc<Inner>) {
        let mut open = self.open.lock().expect("dav open lock");
        open.retain(|w| w.strong_count() > 0);
        open.push(Arc::downgrade(inner));
    }

    /// The open files at `path` or below it (not detached).
    fn open_at(&self, path: &RelPath) -> Vec<Arc<Inner>> {
        let prefix = format!("{}/", path.as_str());
        self.open
            .lock()
            .expect("dav open lock")
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|i| {
                let p = i.path();
                !i.detached.load(Ordering::SeqCst)
                    && (p == *path || path.is_root() || p.as_str().starts_with(&prefix))
            })
            .collect()
    }

    /// Before `path` is removed: its open files keep a local copy, so
    /// that they read on (as a removed file's descriptors do).
    async fn keep_copies(&self, path: &RelPath) {
        for i in self.open_at(path) {
            if i.staging().is_some() {
                continue;
            }
            if let Ok((s, _)) = self.download_staged(&i.path()).await {
                *i.staging.lock().expect("dav handle lock") = Some(Arc::new(s));
            }
        }
    }

    fn detach(&self, path: &RelPath) {
        for i in self.open_at(path) {
            i.detached.store(true, Ordering::SeqCst);
        }
    }

    /// Uploads a handle's staging file if it was written since the last
    /// upload, after checking that nobody changed the file on the server
    /// meanwhile.
    async fn upload(&self, inner: &Inner) -> Result<(), FsError> {
        let _one = inner.uploading.lock().await;
        self.settle_early(inner).await;
        let (version, dirty, own_partial) = {
            let st = inner.state.lock().expect("dav handle lock");
            if let Some(why) = &st.poisoned {
                return Err(FsError::Io(format!(
                    "a write to this file failed earlier ({why}): not uploading it"
                )));
            }
            (st.version.clone(), st.dirty, st.own_partial)
        };
        if !dirty {
            return Ok(());
        }
        inner.state.lock().expect("dav handle lock").fresh = false;
        let Some(staging) = inner.staging() else {
            return Ok(());
        };
        if inner.detached.load(Ordering::SeqCst) {
            // Removed through the mount: its content goes with it.
            inner.state.lock().expect("dav handle lock").dirty = false;
            return Ok(());
        }
        let path = inner.path();
        if let Some(v) = version.as_ref().filter(|_| !own_partial) {
            let mut now = self.version_now(&path).await?;
            if now.as_deref() != Some(v.as_str()) {
                // Asked once more before it is called a conflict: a server
                // can answer properties from just before a save it took a
                // moment ago (`rclone serve webdav` under load has).
                tokio::time::sleep(RECHECK).await;
                now = self.version_now(&path).await?;
            }
            if now.as_deref() != Some(v.as_str()) {
                let why = match &now {
                    Some(n) => format!(
                        "{path} was changed on the server since it was opened (version {v}, \
                         now {n}); the server keeps that version and this one is not uploaded"
                    ),
                    None => format!(
                        "{path} was removed on the server since it was opened; this version \
                         is not uploaded"
                    ),
                };
                eprintln!("mpr-dav: conflict: {why}");
                return Err(FsError::Conflict(why));
            }
        }
        // The copy stays to be uploaded until the answer: an upload given
        // up while it waits (the file system's operation bound) leaves the
        // next flush or close to send it, not a copy marked clean.
        let seen = inner.state.lock().expect("dav handle lock").changes;
        let body = http::Body::Staged(staging);
        let if_match = version.as_deref().filter(|_| !own_partial);
        match self.put(&path, body, if_match, false).await {
            Ok(v) => {
                let mut st = inner.state.lock().expect("dav handle lock");
                st.version = Some(v);
                st.own_partial = false;
                // A change made while it was sent goes with the next one.
                st.dirty = st.changes != seen;
                Ok(())
            }
            Err(e) => {
                if let FsError::Conflict(why) = &e {
                    eprintln!("mpr-dav: conflict: {why}");
                }
                Err(e)
            }
        }
    }

    /// Starts an upload that follows the writes of a file its open created
    /// ([`early`]), at the first write to land (the file system's
    /// queue may land the second piece of a file before its first): when
    /// nothing was written or uploaded since the open, nothing else is
    /// uploading it, and (checked before the `PUT` is sent) the server
    /// still has the version the open made.
    fn start_early(&self, h: &DavHandle) {
        let inner = &h.inner;
        if !h.write
            || inner.detached.load(Ordering::SeqCst)
            || !self.early_ok.load(Ordering::Relaxed)
        {
            return;
        }
        let Ok(_one) = inner.uploading.try_lock() else {
            return;
        };
        let Some(staging) = inner.staging() else {
            return;
        };
        let st = inner.state.lock().expect("dav handle lock");
        let Some(version) = st.version.clone() else {
            return;
        };
        if !st.fresh || st.dirty || st.poisoned.is_some() || st.own_partial {
            return;
        }
        if !matches!(staging.size(), Ok(0)) {
            return;
        }
        let mut slot = inner.early.lock().expect("dav handle lock");
        if slot.is_some() {
            return;
        }
        let path = inner.path();
        let url = self.url(&path, false);
        let mut headers = HeaderMap::new();
        if is_etag(&version)
            && let Ok(v) = HeaderValue::from_str(&version)
        {
            headers.insert(reqwest::header::IF_MATCH, v);
        }
        let (http, base, at) = (self.http.clone(), self.base_path.clone(), url.clone());
        let check = async move {
            matches!(file_version(&http, &at, &base, &path).await, Ok(Some(v)) if v == version)
        };
        *slot = Some(early::Early::start(
            self.http.clone(),
            url,
            headers,
            staging,
            check,
        ));
    }

    /// Ends the upload that follows this file's writes, if one is under
    /// way, and takes over what it did: the server's version when it was
    /// answered, the file to upload again when it did not carry it all.
    /// The caller holds `uploading`.
    async fn settle_early(&self, inner: &Inner) {
        let early = {
            // Under the state lock no write lands: the length declared is
            // the staging file's, and every write before it is in the body.
            let mut st = inner.state.lock().expect("dav handle lock");
            let Some(early) = inner.early.lock().expect("dav handle lock").take() else {
                return;
            };
            let len = inner.staging().and_then(|s| s.size().ok()).unwrap_or(0);
            early.declare_end(len);
            // Until the answer says otherwise, the file is still to be
            // uploaded and the server may hold part of it: a flush given
            // up while it waits (the operation bound) loses nothing.
            st.dirty = true;
            st.own_partial = true;
            early
        };
        let out = early.finish().await;
        let path = inner.path();
        let ok = matches!(out.sent, early::Sent::Answered(s) if s.is_success());
        let version = if ok {
            self.version_now(&path).await.ok().flatten()
        } else {
            None
        };
        let mut st = inner.state.lock().expect("dav handle lock");
        match (&out.sent, version) {
            (early::Sent::Answered(s), Some(v)) if s.is_success() => {
                // The server has what was sent, as of this version; a
                // change after the end was declared spoiled it.
                st.version = Some(v);
                st.own_partial = false;
                st.dirty = out.spoiled;
            }
            (early::Sent::Withheld, _) => st.own_partial = false,
            (early::Sent::Answered(s), _)
                if s.is_client_error() || *s == StatusCode::NOT_IMPLEMENTED =>
            {
                // Refused before it changed anything; a server that wants
                // the length first is not asked so again.
                if matches!(s.as_u16(), 411 | 501) {
                    self.early_ok.store(false, Ordering::Relaxed);
                }
                eprintln!(
                    "mpr-dav: {path}: an upload during the writes was refused ({s}); uploading it whole"
                );
                st.own_partial = false;
            }
            (early::Sent::Failed(e), _) => {
                // Still to upload, over what the server may hold of it.
                eprintln!(
                    "mpr-dav: {path}: an upload during the writes failed ({e}); uploading it whole"
                );
            }
            (early::Sent::Answered(s), _) => {
                // A server error, or no version after it: what the server
                // holds is not known.
                eprintln!(
                    "mpr-dav: {path}: an upload during the writes was answered {s}; uploading it whole"
                );
            }
        }
    }

    /// Ends the uploads that follow the writes of files open at `path` or
    /// below it, before the names there change: a `PUT` still under way
    /// would land after a `DELETE` or `MOVE` (and bring a removed file
    /// back).
    async fn settle_early_at(&self, path: &RelPath) {
        for i in self.open_at(path) {
            if i.early.lock().expect("dav handle lock").is_none() {
                continue;
            }
            let _one = i.uploading.lock().await;
            self.settle_early(&i).await;
        }
    }

    /// The version of `path` on the server now (`None`: it is gone).
    async fn version_now(&self, path: &RelPath) -> Result<Option<String>, FsError> {
        match self.resource(path).await {
            Ok(r) => Ok(Some(version_of(&r))),
            Err(FsError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn new_inner(
        &self,
        path: &RelPath,
        staging: Option<Staging>,
        version: Option<String>,
    ) -> Arc<Inner> {
        let inner = Arc::new(Inner {
            path: Mutex::new(path.clone()),
            detached: AtomicBool::new(false),
            staging: Mutex::new(staging.map(Arc::new)),
            state: Mutex::new(Versioned {
                version,
                dirty: false,
                poisoned: None,
                fresh: false,
                own_partial: false,
                changes: 0,
            }),
            uploading: tokio::sync::Mutex::new(()),
            early: Mutex::new(None),
        });
        self.register(&inner);
        inner
    }

    /// The open file at exactly `path`, if any.
    fn live(&self, path: &RelPath) -> Option<Arc<Inner>> {
        self.open_at(path).into_iter().find(|i| i.path() == *path)
    }

    /// The attributes of `path` with what is written through this mount
    /// and not uploaded yet (the size of its local copy).
    fn overlay(&self, path: &RelPath, attr: &mut Attr) {
        if attr.kind != FileKind::File {
            return;
        }
        if let Some(i) = self.live(path)
            && let Some(s) = i.staging()
            && let Ok(size) = s.size()
        {
            attr.size = size;
        }
    }

    /// Brings the shared open file up to date at an open (close-to-open:
    /// a copy not written locally follows the server's new version), gives
    /// it a local copy when it is opened for writing, and cuts it for
    /// `O_TRUNC` (on the server too, at once).
    async fn prepare(
        &self,
        inner: &Inner,
        path: &RelPath,
        r: &Resource,
        flags: OpenFlags,
    ) -> Result<(), FsError> {
        let seen = inner.state.lock().expect("dav handle lock").version.clone();
        let _one = inner.uploading.lock().await;
        // An upload following this file's writes ends here: what it sent
        // is the server's version now, and this open sees it.
        self.settle_early(inner).await;
        let fresh;
        let r = if inner.state.lock().expect("dav handle lock").version != seen {
            // An upload ended while this open waited for it (or just now):
            // what the server said before it is out of date.
            fresh = self.resource(path).await?;
            &fresh
        } else {
            r
        };
        let server = version_of(r);
        let (dirty, version) = {
            let st = inner.state.lock().expect("dav handle lock");
            (st.dirty, st.version.clone())
        };
        if flags.write && flags.truncate {
            let s = match inner.staging() {
                Some(s) => s,
                None => {
                    let s = Arc::new(self.new_staging()?);
                    *inner.staging.lock().expect("dav handle lock") = Some(s.clone());
                    s
                }
            };
            s.set_len(0).map_err(io)?;
            let v = if r.attr.size > 0 || dirty {
                self.put(
                    path,
                    http::Body::Bytes(Default::default()),
                    Some(&server),
                    false,
                )
                .await?
            } else {
                server
            };
            let mut st = inner.state.lock().expect("dav handle lock");
            st.version = Some(v);
            st.dirty = false;
            st.own_partial = false;
            return Ok(());
        }
        if dirty {
            // Written here and not uploaded: kept (a colleague's change
            // meanwhile is a conflict at the upload).
            return Ok(());
        }
        let staged = inner.staging().is_some();
        let stale = version.as_deref() != Some(server.as_str());
        if (staged && stale) || (flags.write && !staged) {
            let mut v = server;
            let (s, etag) = self.download_staged(path).await?;
            if let Some(e) = etag {
                v = e;
            }
            *inner.staging.lock().expect("dav handle lock") = Some(Arc::new(s));
            inner.state.lock().expect("dav handle lock").version = Some(v);
        } else if stale {
            inner.state.lock().expect("dav handle lock").version = Some(server);
        }
        Ok(())
    }

    fn new_staging(&self) -> Result<Staging, FsError> {
        Staging::new(&self.config.staging_dir).map_err(|e| {
            FsError::Io(format!(
                "cannot make a staging file in {}: {e}",
                self.config.staging_dir.display()
            ))
        })
    }

    fn write_to(
        &self,
        h: &DavHandle,
        change: early::Change,
        f: impl FnOnce(&Staging) -> std::io::Result<()>,
    ) -> Result<(), FsError> {
        let inner = &h.inner;
        if !h.write {
            return Err(FsError::BadHandle);
        }
        let Some(s) = inner.staging() else {
            return Err(FsError::BadHandle);
        };
        let mut st = inner.state.lock().expect("dav handle lock");
        if let Some(why) = &st.poisoned {
            return Err(FsError::Io(format!("an earlier write failed: {why}")));
        }
        st.fresh = false;
        let done = match &*inner.early.lock().expect("dav handle lock") {
            Some(e) => e.change(change, || f(&s)),
            None => f(&s),
        };
        match done {
            Ok(()) => {
                st.changed();
                Ok(())
            }
            Err(e) => {
                st.poisoned = Some(e.to_string());
                Err(io(e))
            }
        }
    }
}

fn now_attr(kind: FileKind, size: u64) -> Attr {
    let t = SystemTime::now();
    Attr {
        kind,
        size,
        mtime: t,
        atime: t,
        ctime: t,
        perm: None,
        readonly: false,
    }
}

impl Backend for DavBackend {
    type Handle = DavHandle;

    fn handles_survive_reconnect(&self) -> bool {
        true
    }

    async fn connect(&self) -> Result<(), FsError> {
        let at = self.config.base.as_str().to_string();
        let resp = match self.propfind_raw(&RelPath::root(), "0", true).await {
            Ok(r) => r,
            Err(FsError::Disconnected(why)) => {
                return Err(FsError::Connect(ConnectError::Unreachable(format!(
                    "{at}: {why}"
                ))));
            }
            Err(e) => return Err(e),
        };
        let status = resp.status();
        let ce = match status.as_u16() {
            207 => None,
            401 if self.http.has_password() => Some(ConnectError::BadPassword),
            401 => Some(ConnectError::LogonFailure(format!(
                "{at} asks for a user name and password"
            ))),
            403 => Some(ConnectError::AccessDenied(format!("{at}: 403 Forbidden"))),
            404 | 410 => Some(ConnectError::NoSuchShare(format!(
                "{at}: no such path on the server (404)"
            ))),
            405 | 501 => Some(ConnectError::Other(format!(
                "{at} answered {status} to PROPFIND: not a WebDAV server"
            ))),
            _ => Some(ConnectError::Other(format!("{at} answered {status}"))),
        };
        if let Some(ce) = ce {
            return Err(FsError::Connect(ce));
        }
        let body = resp.bytes().await.map_err(|e| {
            FsError::Connect(ConnectError::Unreachable(format!(
                "{at}: {}",
                http::chain(&e)
            )))
        })?;
        let all = propfind::parse(&body, &self.base_path)
            .map_err(|e| FsError::Connect(ConnectError::Other(format!("{at}: {e}"))))?;
        let me = all
            .iter()
            .find(|r| r.rel.as_deref() == Some(""))
            .or(all.first());
        match me {
            Some(r) if r.attr.kind == FileKind::Directory => Ok(()),
            Some(_) => Err(FsError::Connect(ConnectError::NoSuchShare(format!(
                "{at} is a file, not a directory"
            )))),
            None => Err(FsError::Connect(ConnectError::Other(format!(
                "{at}: an empty PROPFIND answer"
            )))),
        }
    }

    async fn stat(&self, path: &RelPath) -> Result<Attr, FsError> {
        let mut attr = self.resource(path).await?.attr;
        self.overlay(path, &mut attr);
        Ok(attr)
    }

    async fn list(&self, dir: &RelPath) -> Result<Vec<DirEntry>, FsError> {
        let all = self.propfind(dir, "1", true).await?;
        let me = dir.as_str();
        let mut out = Vec::with_capacity(all.len());
        for r in all {
            let Some(rel) = r.rel else { continue };
            if rel == me {
                if r.attr.kind != FileKind::Directory {
                    return Err(FsError::NotDirectory);
                }
                continue;
            }
            let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
            if parent != me || name.is_empty() || RelPath::root().join(name).is_err() {
                continue;
            }
            let mut attr = r.attr;
            if let Ok(child) = dir.join(name) {
                self.overlay(&child, &mut attr);
            }
            out.push(DirEntry {
                name: name.to_string(),
                attr,
            });
        }
        Ok(out)
    }

    async fn open(&self, path: &RelPath, flags: OpenFlags) -> Result<(DavHandle, Attr), FsError> {
        match self.resource(path).await {
            Ok(r) => {
                if r.attr.kind == FileKind::Directory {
                    if flags.write {
                        return Err(FsError::IsDirectory);
                    }
                    let inner = self.new_inner(path, None, None);
                    return Ok((self.handle(inner, false), r.attr));
                }
                if flags.create && flags.exclusive {
                    return Err(FsError::Exists);
                }
                let inner = match self.live(path) {
                    Some(i) => i,
                    None => self.new_inner(path, None, Some(version_of(&r))),
                };
                self.prepare(&inner, path, &r, flags).await?;
                let mut attr = r.attr;
                self.overlay(path, &mut attr);
                Ok((self.handle(inner, flags.write), attr))
            }
            Err(FsError::NotFound) if flags.create => {
                let staging = if flags.write {
                    Some(self.new_staging()?)
                } else {
                    None
                };
                // A file open here whose file is gone on the server is not
                // this one.
                self.detach(path);
                let version = self
                    .put(path, http::Body::Bytes(Default::default()), None, true)
                    .await?;
                let inner = self.new_inner(path, staging, Some(version));
                inner.state.lock().expect("dav handle lock").fresh = flags.write;
                Ok((self.handle(inner, flags.write), now_attr(FileKind::File, 0)))
            }
            Err(e) => Err(e),
        }
    }

    async fn read(&self, h: &DavHandle, offset: u64, len: u32) -> Result<Bytes, FsError> {
        if let Some(s) = h.inner.staging() {
            // A local copy now (written through another handle, or
            // removed): what the stream holds is not this file any more.
            h.stream.clear();
            return s.read(offset, len).map(Bytes::from).map_err(io);
        }
        if len == 0 {
            return Ok(Bytes::new());
        }
        let path = h.inner.path();
        let get = FileGet {
            http: &self.http,
            url: self.url(&path, false),
            path: &path,
            counts: &self.gets,
        };
        if let Some(d) = h.stream.read(&get, offset, len).await? {
            return Ok(d);
        }
        get.ranged(offset, len).await
    }

    async fn write(&self, h: &DavHandle, offset: u64, data: &[u8]) -> Result<(), FsError> {
        if !data.is_empty() {
            self.start_early(h);
        }
        let change = early::Change::Write {
            at: offset,
            len: data.len() as u64,
        };
        self.write_to(h, change, |s| s.write(offset, data))
    }

    async fn set_len(&self, h: &DavHandle, size: u64) -> Result<(), FsError> {
        self.write_to(h, early::Change::Other, |s| s.set_len(size))
    }

    async fn truncate(&self, path: &RelPath, size: u64) -> Result<(), FsError> {
        if let Some(inner) = self.live(path)
            && let Some(s) = inner.staging()
        {
            // Open here with a local copy: cut that, and upload it.
            {
                let mut st = inner.state.lock().expect("dav handle lock");
                match &*inner.early.lock().expect("dav handle lock") {
                    Some(e) => e.change(early::Change::Other, || s.set_len(size)),
                    None => s.set_len(size),
                }
                .map_err(io)?;
                st.fresh = false;
                st.changed();
            }
            return self.upload(&inner).await;
        }
        let r = self.resource(path).await?;
        if r.attr.kind == FileKind::Directory {
            return Err(FsError::IsDirectory);
        }
        let version = version_of(&r);
        let body = if size == 0 {
            http::Body::Bytes(Default::default())
        } else {
            // Through a staging file, so a file of any size is cut or
            // grown without being held in memory.
            let (staged, _) = self.download_staged(path).await?;
            staged.set_len(size).map_err(io)?;
            http::Body::Staged(Arc::new(staged))
        };
        self.put(path, body, Some(&version), false).await?;
        Ok(())
    }

    /// WebDAV has no way to set a time (`getlastmodified` is the
    /// server's, set by each upload). `touch` (the modification time, and
    /// the access time if given, set to now) is done the one way the
    /// protocol allows: the file is uploaded again, unchanged. Any other
    /// time is `EPERM`, as for any change the protocol cannot store.
    async fn set_times(&self, path: &RelPath, times: Times) -> Result<(), FsError> {
        let now = SystemTime::now();
        let near_now = |t: SystemTime| {
            let d = now.duration_since(t).unwrap_or_else(|e| e.duration());
            d <= Duration::from_secs(2)
        };
        let touch = times.mtime.is_some_and(near_now) && times.atime.is_none_or(near_now);
        if !touch {
            return Err(FsError::NotPermitted);
        }
        if let Some(inner) = self.live(path)
            && inner.staging().is_some()
        {
            inner.state.lock().expect("dav handle lock").changed();
            return self.upload(&inner).await;
        }
        let r = self.resource(path).await?;
        if r.attr.kind == FileKind::Directory {
            return Err(FsError::NotPermitted);
        }
        let version = version_of(&r);
        let (staged, _) = self.download_staged(path).await?;
        let body = http::Body::Staged(Arc::new(staged));
        self.put(path, body, Some(&version), false).await?;
        Ok(())
    }

    async fn flush(&self, h: &DavHandle) -> Result<(), FsError> {
        let r = self.upload(&h.inner).await;
        if let Err(e) = &r {
            // A program may not look at what its `close` says; the log does.
            eprintln!("mpr-dav: {}: upload at flush failed: {e}", h.inner.path());
        }
        r
    }

    async fn close(&self, h: DavHandle) -> Result<(), FsError> {
        let r = self.upload(&h.inner).await;
        if let Err(e) = &r {
            eprintln!(
                "mpr-dav: {}: closed without uploading what was written: {e}",
                h.inner.path()
            );
        }
        r
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Attr, FsError> {
        let resp = self
            .http
            .send(
                method(b"MKCOL"),
                &self.url(path, true),
                HeaderMap::new(),
                http::Body::Empty,
            )
            .await?;
        match resp.status().as_u16() {
            200..=299 => Ok(now_attr(FileKind::Directory, 0)),
            405 => Err(FsError::Exists),
            409 => Err(FsError::NotFound),
            _ => Err(status_error(resp.status(), &format!("MKCOL {path}"))),
        }
    }

    async fn rmdir(&self, path: &RelPath) -> Result<(), FsError> {
        if path.is_root() {
            return Err(FsError::Busy);
        }
        // A WebDAV DELETE removes a collection with everything in it: only
        // an empty directory may go.
        if !self.list(path).await?.is_empty() {
            return Err(FsError::NotEmpty);
        }
        let resp = self
            .http
            .send(
                Method::DELETE,
                &self.url(path, true),
                HeaderMap::new(),
                http::Body::Empty,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp.status(), &format!("DELETE {path}")));
        }
        Ok(())
    }

    async fn unlink(&self, path: &RelPath) -> Result<(), FsError> {
        if self.resource(path).await?.attr.kind == FileKind::Directory {
            return Err(FsError::IsDirectory);
        }
        self.settle_early_at(path).await;
        self.keep_copies(path).await;
        let resp = self
            .http
            .send(
                Method::DELETE,
                &self.url(path, false),
                HeaderMap::new(),
                http::Body::Empty,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp.status(), &format!("DELETE {path}")));
        }
        self.detach(path);
        Ok(())
    }

    async fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), FsError> {
        if from == to {
            self.resource(from).await?;
            return Ok(());
        }
        if to.as_str().starts_with(&format!("{}/", from.as_str())) || from.is_root() {
            return Err(FsError::InvalidArgument);
        }
        let src = self.resource(from).await?;
        let is_dir = src.attr.kind == FileKind::Directory;
        let replaces = match self.resource(to).await {
            Ok(t) => {
                match (is_dir, t.attr.kind == FileKind::Directory) {
                    (false, true) => return Err(FsError::IsDirectory),
                    (true, false) => return Err(FsError::NotDirectory),
                    (true, true) if !self.list(to).await?.is_empty() => {
                        return Err(FsError::NotEmpty);
                    }
                    _ => {}
                }
                true
            }
            Err(FsError::NotFound) => false,
            Err(e) => return Err(e),
        };
        self.settle_early_at(from).await;
        if replaces {
            self.settle_early_at(to).await;
            // What is open at the target no longer names anything there.
            self.keep_copies(to).await;
        }
        let dest = self.url(to, is_dir);
        let mut h = header("destination", dest.as_str());
        h.insert("overwrite", HeaderValue::from_static("T"));
        let resp = self
            .http
            .send(
                method(b"MOVE"),
                &self.url(from, is_dir),
                h,
                http::Body::Empty,
            )
            .await?;
        match resp.status().as_u16() {
            200..=299 => {}
            409 => return Err(FsError::NotFound),
            412 => return Err(FsError::Exists),
            _ => return Err(status_error(resp.status(), &format!("MOVE {from} {to}"))),
        }
        if replaces {
            self.detach(to);
        }
        for i in self.open_at(from) {
            let mut p = i.path.lock().expect("dav handle lock");
            let rest = &p.as_str()[from.as_str().len()..];
            if let Ok(new) = RelPath::new(&format!("{}{rest}", to.as_str())) {
                *p = new;
            }
        }
        Ok(())
    }

    async fn statfs(&self) -> Result<StatFs, FsError> {
        const BLOCK: u64 = 4096;
        let r = self.resource(&RelPath::root()).await?;
        // Without a quota (RFC 4331), a large share, as a disk with room.
        let (avail, used) = match (r.quota_available, r.quota_used) {
            (Some(a), u) => (a, u.unwrap_or(0)),
            _ => (1 << 50, 0),
        };
        Ok(StatFs {
            block_size: BLOCK as u32,
            blocks: (avail + used) / BLOCK,
            free: avail / BLOCK,
            available: avail / BLOCK,
        })
    }
}
