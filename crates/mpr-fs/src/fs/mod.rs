//! The file system over any [`Backend`], in plain Rust types: what the
//! kernel asks (by inode and handle number) turned into back-end calls (by
//! path and back-end handle), with the rules every protocol shares.
//!
//! - **Bounded**: every back-end call runs within the request's bound
//!   ([`FsConfig::op_timeout`]); past it the operation fails with `EIO`.
//! - **Healing**: on [`FsError::Disconnected`] the session is re-established
//!   ([`connection`]) and the operation retried; handles of the old session
//!   are opened again by path before their next use.
//! - **Close-to-open coherence**: `open` always asks the server, and tells
//!   the kernel to keep its cached pages only when the file's size and
//!   modification time are those it had at the last open ([`Opened`]);
//!   attributes live at most [`FsConfig::attr_ttl`]; listings are never
//!   cached.
//! - **Write-behind, exact at every sync point**: a write is answered once
//!   it is queued, and several of a handle's writes are in flight at once
//!   ([`writeback`]); `flush` (each `close(2)`) and `fsync` wait for them,
//!   report any that failed, and make them durable on the server. A read,
//!   size change, `getattr`, lookup or rename of the file waits for them
//!   first.
//! - **Read-ahead**: a handle read sequentially has the next few MiB asked
//!   of the server in parallel ([`prefetch`]), never served past a change
//!   made through the mount or an open of the file.
//!
//! The `fuser` adapter (`crate::fuse`) only translates the kernel's
//! callbacks into calls on [`Fs`].

pub mod attrs;
pub mod connection;
pub mod handles;
pub mod inodes;
pub mod prefetch;
pub mod writeback;

use crate::backend::{Attr, Backend, FileKind, OpenFlags, RelPath, StatFs, Times};
use crate::error::FsError;
use crate::events::Events;
use crate::handshake::Request;
use crate::health::Health;
use attrs::{AttrCache, Versions};
use bytes::Bytes;
use connection::{Connection, Policy};
use handles::{DirSlot, HandleTable, OpenFile};
use inodes::InodeTable;
pub use inodes::{Ino, ROOT_INO};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How the file system behaves.
#[derive(Debug, Clone)]
pub struct FsConfig {
    /// The bound on one operation, reconnects included (default 15 s).
    pub op_timeout: Duration,
    /// How long attributes and names are trusted (default 1 s), here and
    /// in the kernel.
    pub attr_ttl: Duration,
    /// How long the kernel may remember that a name does not exist
    /// (default 100 ms, never longer than `attr_ttl`): long enough that a
    /// program's repeated looks at a name it is about to create (`cp`'s
    /// `stat`, then `lstat`) ask the server once, short enough that a file
    /// a colleague creates is seen at once for any practical purpose. (The
    /// kernel itself asks again at an exclusive create, whatever it
    /// remembers.)
    pub negative_ttl: Duration,
    /// The first pause between reconnect attempts (default 100 ms).
    pub backoff_initial: Duration,
    /// The longest pause between reconnect attempts (default 5 s).
    pub backoff_max: Duration,
    /// How long every operation must have failed with an I/O error before
    /// the mount is published as unavailable (default 5 s).
    pub failing_window: Duration,
    /// Where to publish the health (`None`: nowhere).
    pub health_file: Option<PathBuf>,
    /// The owner shown for every file (the mounting user).
    pub uid: u32,
    /// The group shown for every file.
    pub gid: u32,
    /// The largest read-ahead window of one handle, in bytes (default
    /// 8 MiB; 0: no read-ahead).
    pub read_ahead: u64,
    /// The bound on what all handles together have read ahead (default
    /// 64 MiB).
    pub read_ahead_total: u64,
    /// The bytes of one handle's writes that may be answered before they
    /// reached the server (default 8 MiB; 0: each write reaches the
    /// server before it is answered).
    pub write_behind: u64,
    /// Where conflicts are reported (`None`: only the program learns).
    pub events: Option<Arc<dyn Events>>,
    /// When an operation got no answer within `op_timeout`, how long a
    /// check of the session (a `stat` of the root) may wait for one
    /// (default 5 s). No answer to that either, and the session is stuck:
    /// it is replaced by a new one, as a lost session is.
    pub session_check: Duration,
}

impl Default for FsConfig {
    fn default() -> Self {
        FsConfig {
            op_timeout: Duration::from_secs(15),
            attr_ttl: Duration::from_secs(1),
            negative_ttl: Duration::from_millis(100),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            failing_window: Duration::from_secs(5),
            health_file: None,
            uid: 0,
            gid: 0,
            read_ahead: 8 << 20,
            read_ahead_total: 64 << 20,
            write_behind: 8 << 20,
            events: None,
            session_check: Duration::from_secs(5),
        }
    }
}

impl FsConfig {
    /// The configuration a handshake request asks for (bound and health
    /// file), owned by `uid`/`gid`.
    pub fn from_request(req: &Request, uid: u32, gid: u32) -> FsConfig {
        FsConfig {
            op_timeout: Duration::from_secs(req.op_timeout_secs.max(1)),
            health_file: Some(req.health_file.clone()),
            uid,
            gid,
            ..FsConfig::default()
        }
    }
}

/// The inode number for `path`, with one more lookup the kernel holds on
/// it: a new number when what the server has there is no longer of the
/// kind the kernel was last told (a dangling link whose target appeared, a
/// file replaced by a directory), because the kernel refuses to see an
/// inode change type; the old number then names nothing.
fn lookup_ino(inodes: &mut InodeTable, versions: &Versions, path: &RelPath, kind: FileKind) -> Ino {
    let current = inodes.peek(path);
    if versions.last_attr(current).is_some_and(|a| a.kind != kind) {
        inodes.remove(path);
    }
    inodes.lookup(path)
}

/// The permission bits shown for a file (the server's, or 0644 for files
/// and 0755 for directories where the protocol has none; without write
/// bits when the server says it is read-only).
pub fn shown_perm(attr: &Attr) -> u16 {
    let base = attr.perm.unwrap_or(match attr.kind {
        FileKind::Directory => 0o755,
        FileKind::File | FileKind::Symlink | FileKind::Special(_) => 0o644,
    });
    if attr.readonly { base & !0o222 } else { base }
}

/// A name the kernel may cache: its inode, attributes and for how long.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The inode number.
    pub ino: Ino,
    /// Its attributes.
    pub attr: Attr,
    /// How long the kernel may trust them.
    pub ttl: Duration,
}

/// The most entries one `readdirplus` answers (the kernel asks again from
/// the next offset; its buffer holds fewer than this).
pub const PLUS_BATCH: usize = 256;

/// One entry of a `readdirplus` answer ([`Fs::readdirplus`]).
#[derive(Debug)]
pub struct PlusEntry<'a> {
    /// The offset of the entry after it.
    pub next: u64,
    /// Its inode number.
    pub ino: Ino,
    /// Its name.
    pub name: &'a str,
    /// Its attributes.
    pub attr: &'a Attr,
    /// How long the kernel may trust the name and the attributes.
    pub ttl: Duration,
}

/// An opened file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The handle number.
    pub fh: u64,
    /// Whether the kernel may keep the pages it cached (the file is the
    /// version it had at the last open); otherwise it must drop them and
    /// its cached attributes.
    pub keep_cache: bool,
}

/// What `setattr` changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (`chmod`).
    pub mode: Option<u32>,
    /// New owner (`chown`).
    pub uid: Option<u32>,
    /// New group (`chown`).
    pub gid: Option<u32>,
    /// New size (`truncate`, `ftruncate`).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<SystemTime>,
    /// New modification time.
    pub mtime: Option<SystemTime>,
    /// The handle it was asked through (`ftruncate`, `futimens`).
    pub fh: Option<u64>,
}

/// `open(2)` flags as Linux passes them (the generic values, which every
/// architecture mpr builds for uses).
pub mod oflags {
    /// Mask of the access mode.
    pub const O_ACCMODE: i32 = 0o3;
    /// Write only.
    pub const O_WRONLY: i32 = 0o1;
    /// Read and write.
    pub const O_RDWR: i32 = 0o2;
    /// Create if missing.
    pub const O_CREAT: i32 = 0o100;
    /// With `O_CREAT`: fail if it exists.
    pub const O_EXCL: i32 = 0o200;
    /// Cut to 0 bytes.
    pub const O_TRUNC: i32 = 0o1000;
    /// Writes go to the end of file.
    pub const O_APPEND: i32 = 0o2000;
}

/// The back-end flags for raw `open(2)` flags, and whether it appends.
pub fn open_flags(flags: i32) -> (OpenFlags, bool) {
    use oflags::*;
    let acc = flags & O_ACCMODE;
    (
        OpenFlags {
            read: acc != O_WRONLY,
            write: acc == O_WRONLY || acc == O_RDWR,
            create: flags & O_CREAT != 0,
            exclusive: flags & O_EXCL != 0,
            truncate: flags & O_TRUNC != 0,
        },
        flags & O_APPEND != 0,
    )
}

/// The start of the hidden names in the mount's root under which files
/// removed or replaced while open live until their last close
/// ([`Fs::unlink`], [`Fs::rename`]).
pub const ASIDE_PREFIX: &str = ".mpr-removed-";

/// `renameat2(2)` flags the file system looks at.
pub mod rename_flags {
    /// Fail if the target exists.
    pub const RENAME_NOREPLACE: u32 = 1;
    /// Swap the two names.
    pub const RENAME_EXCHANGE: u32 = 2;
}

/// The file system over one back end.
pub struct Fs<B: Backend> {
    backend: Arc<B>,
    budget: Arc<prefetch::Budget>,
    cfg: FsConfig,
    inodes: Mutex<InodeTable>,
    attrs: Mutex<AttrCache>,
    versions: Mutex<Versions>,
    handles: HandleTable<B::Handle>,
    conn: Arc<Connection>,
}

impl<B: Backend> std::fmt::Debug for Fs<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fs")
            .field("cfg", &self.cfg)
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Fs<B> {
    /// The file system over `backend` (not connected yet: see
    /// [`Fs::connect`]).
    pub fn new(backend: B, cfg: FsConfig) -> Fs<B> {
        let policy = Policy {
            backoff_initial: cfg.backoff_initial,
            backoff_max: cfg.backoff_max,
            failing_window: cfg.failing_window,
        };
        Fs {
            conn: Arc::new(Connection::new(policy, cfg.health_file.clone())),
            attrs: Mutex::new(AttrCache::new(cfg.attr_ttl)),
            inodes: Mutex::new(InodeTable::new()),
            versions: Mutex::new(Versions::default()),
            handles: HandleTable::default(),
            backend: Arc::new(backend),
            budget: prefetch::Budget::new(cfg.read_ahead_total),
            cfg,
        }
    }

    /// The back end (for tests and the server's own checks).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The configuration.
    pub fn config(&self) -> &FsConfig {
        &self.cfg
    }

    /// The mount's health now.
    pub fn health(&self) -> Health {
        self.conn.health.get()
    }

    /// The first connect (the handshake's), within the bound; its error
    /// is exact ([`FsError::Connect`]). On success the health is published
    /// as OK.
    pub async fn connect(&self) -> Result<(), FsError> {
        let r = tokio::time::timeout(self.cfg.op_timeout, self.backend.connect())
            .await
            .unwrap_or(Err(FsError::TimedOut));
        self.conn.observe(&r);
        r
    }

    /// Runs a back-end call within the bound, reconnecting and retrying
    /// when the session is lost; records the outcome for the health.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, FsError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, FsError>>,
    {
        let deadline = Instant::now() + self.cfg.op_timeout;
        loop {
            let generation = self.conn.generation();
            let call = tokio::time::timeout_at(deadline.into(), f());
            let r = tokio::select! {
                r = call => match r {
                    Ok(r) => r,
                    Err(_) => {
                        self.check_session(generation);
                        Err(FsError::TimedOut)
                    }
                },
                // The session this call went out on was found stuck and
                // replaced: it will never answer, so ask the new one.
                () = self.conn.replaced(generation) => continue,
            };
            let r = match r {
                Err(FsError::Disconnected(why)) => {
                    match self
                        .conn
                        .reconnect(&*self.backend, generation, why, deadline)
                        .await
                    {
                        Ok(()) => continue,
                        Err(e) => Err(e),
                    }
                }
                r => r,
            };
            self.conn.observe(&r);
            return r;
        }
    }

    /// An operation of session `generation` got no answer within its
    /// bound. If the session does not answer a `stat` of the root within
    /// `session_check` either, it is stuck (a server process waiting for
    /// ever, a connection that carries nothing), and it is replaced in the
    /// background as a lost one is, so that the mount heals instead of
    /// timing out until someone restarts it. A slow call on a session that
    /// still answers changes nothing. One check at a time.
    fn check_session(&self, generation: u64) {
        if !self.conn.start_check() {
            return;
        }
        let backend = self.backend.clone();
        let conn = self.conn.clone();
        let (bound, op_timeout) = (self.cfg.session_check, self.cfg.op_timeout);
        tokio::spawn(async move {
            let answered = tokio::time::timeout(bound, backend.stat(&RelPath::root()))
                .await
                .is_ok();
            if !answered && conn.generation() == generation {
                let why = format!(
                    "the server answered nothing for {} s",
                    op_timeout.as_secs_f64()
                );
                backend.abandon_stuck().await;
                let deadline = Instant::now() + op_timeout;
                let _ = conn.reconnect(&*backend, generation, why, deadline).await;
            }
            conn.end_check();
        });
    }

    /// Runs a call on an open file's back-end handle, opening it again by
    /// path first if it belongs to an older session.
    async fn run_handle<T, F, Fut>(&self, of: &OpenFile<B::Handle>, f: F) -> Result<T, FsError>
    where
        F: Fn(Arc<B::Handle>) -> Fut,
        Fut: Future<Output = Result<T, FsError>>,
    {
        let f = &f;
        self.run(|| async move {
            let h = self.current_handle(of).await?;
            f(h).await
        })
        .await
    }

    async fn current_handle(&self, of: &OpenFile<B::Handle>) -> Result<Arc<B::Handle>, FsError> {
        let generation = self.conn.generation();
        {
            let st = of.state.read().await;
            if st.generation == generation
                && let Some(h) = &st.handle
            {
                return Ok(h.clone());
            }
        }
        let mut st = of.state.write().await;
        if st.generation == generation
            && let Some(h) = &st.handle
        {
            return Ok(h.clone());
        }
        if self.backend.handles_survive_reconnect()
            && let Some(h) = &st.handle
        {
            // It holds what was written and not uploaded yet: opening the
            // file again by path would lose that.
            let h = h.clone();
            st.generation = generation;
            return Ok(h);
        }
        // The old handle belongs to a lost session: nothing to close.
        st.handle = None;
        if of.is_detached() {
            // Its path names another file now, or none.
            return Err(FsError::NotFound);
        }
        let (h, attr) = self.backend.open(&of.path(), of.flags).await?;
        let h = Arc::new(h);
        st.handle = Some(h.clone());
        st.generation = generation;
        if of.append {
            of.set_end(attr.size, false);
        }
        Ok(h)
    }

    fn path(&self, ino: Ino) -> Result<RelPath, FsError> {
        self.inodes
            .lock()
            .expect("inode lock")
            .path(ino)
            .ok_or(FsError::NotFound)
    }

    fn child(&self, parent: Ino, name: &str) -> Result<RelPath, FsError> {
        self.path(parent)?.join(name)
    }

    fn file(&self, fh: u64) -> Result<Arc<OpenFile<B::Handle>>, FsError> {
        self.handles.file(fh).ok_or(FsError::BadHandle)
    }

    /// Waits for the queued writes of every handle of `ino`, so that what
    /// the server says of the file, or gives of it, includes them.
    async fn settle(&self, ino: Ino) {
        for of in self.handles.files_of(ino) {
            of.queue.drain().await;
        }
    }

    /// Waits for the queued writes of the files open at `path` (and below
    /// it, with `below`).
    async fn settle_path(&self, path: &RelPath, below: bool) {
        for of in self.handles.files_at(path) {
            if below || of.path() == *path {
                of.queue.drain().await;
            }
        }
    }

    /// Waits for the queued writes of the files open in directory `dir`
    /// (before it is listed: the sizes of a listing are cached).
    async fn settle_children(&self, dir: &RelPath) {
        for of in self.handles.files_at(dir) {
            if of.path().parent().as_ref() == Some(dir) {
                of.queue.drain().await;
            }
        }
    }

    /// The file's data changed through this mount (or it was opened
    /// again): what its handles read ahead is dropped.
    fn data_changed(&self, ino: Ino) {
        for of in self.handles.files_of(ino) {
            of.read_ahead.reset();
        }
    }

    /// Remembers fresh attributes of `path`; the TTL for the kernel.
    fn remember(&self, path: &RelPath, attr: &Attr) -> Duration {
        self.attrs
            .lock()
            .expect("attr lock")
            .insert(path, attr.clone(), Instant::now())
    }

    /// The attributes of `path`: cached if fresh, else the server's.
    async fn attr_of(&self, path: &RelPath) -> Result<(Attr, Duration), FsError> {
        if let Some(hit) = self
            .attrs
            .lock()
            .expect("attr lock")
            .get(path, Instant::now())
        {
            return Ok(hit);
        }
        let attr = self.run(|| self.backend.stat(path)).await?;
        let ttl = self.remember(path, &attr);
        Ok((attr, ttl))
    }

    fn entry(&self, path: &RelPath, attr: Attr, ttl: Duration) -> Entry {
        let mut inodes = self.inodes.lock().expect("inode lock");
        let mut versions = self.versions.lock().expect("version lock");
        let ino = lookup_ino(&mut inodes, &versions, path, attr.kind);
        versions.note_attr(ino, &attr);
        Entry { ino, attr, ttl }
    }

    /// `lookup`: the entry `name` in directory `parent` (one more lookup
    /// the kernel holds on it).
    pub async fn lookup(&self, parent: Ino, name: &str) -> Result<Entry, FsError> {
        let path = self.child(parent, name)?;
        self.settle_path(&path, false).await;
        let (attr, ttl) = self.attr_of(&path).await?;
        Ok(self.entry(&path, attr, ttl))
    }

    /// `forget`: the kernel gives back `n` lookups of `ino`.
    pub fn forget(&self, ino: Ino, n: u64) {
        let mut t = self.inodes.lock().expect("inode lock");
        t.forget(ino, n);
        if !t.contains(ino) {
            self.versions.lock().expect("version lock").forget(ino);
        }
    }

    /// `getattr` answered at once, without waiting for anything: the
    /// cached attributes of `ino` while they are fresh and no write of the
    /// file is queued (what [`Fs::getattr`] would answer then). The
    /// session's thread calls it before it hands the call to a task;
    /// `None`: call [`Fs::getattr`].
    pub fn getattr_ready(&self, ino: Ino) -> Option<(Attr, Duration)> {
        if self.handles.files_of(ino).iter().any(|f| f.queue.is_busy()) {
            return None;
        }
        let path = self.path(ino).ok()?;
        let hit = self
            .attrs
            .lock()
            .expect("attr lock")
            .get(&path, Instant::now())?;
        let mut versions = self.versions.lock().expect("version lock");
        if versions
            .last_attr(ino)
            .is_some_and(|a| a.kind != hit.0.kind)
        {
            // Changed kind: [`Fs::getattr`] says so.
            return None;
        }
        versions.note_attr(ino, &hit.0);
        Some(hit)
    }

    /// `getattr`: the attributes of `ino` and how long they may be
    /// trusted. A file removed while open shows its last attributes.
    pub async fn getattr(&self, ino: Ino) -> Result<(Attr, Duration), FsError> {
        self.settle(ino).await;
        let path = match self.path(ino) {
            Ok(p) => p,
            Err(e) => {
                return self
                    .versions
                    .lock()
                    .expect("version lock")
                    .last_attr(ino)
                    .map(|a| (a, Duration::ZERO))
                    .ok_or(e);
            }
        };
        let (attr, ttl) = self.attr_of(&path).await?;
        let mut versions = self.versions.lock().expect("version lock");
        if versions.last_attr(ino).is_some_and(|a| a.kind != attr.kind) {
            // The name now stands for something of another kind: this
            // inode cannot become it (the kernel would call it bad, EIO);
            // ESTALE makes the kernel look the name up again, and the
            // lookup gives it a new inode.
            return Err(FsError::Stale);
        }
        versions.note_attr(ino, &attr);
        Ok((attr, ttl))
    }

    /// `setattr`: size (through the handle when there is one, so that a
    /// write-only descriptor can be cut), times; `chmod` to the mode shown
    /// succeeds, to another one it is the back end's (`EPERM` where the
    /// protocol has no modes); `chown` only to the owner shown (`EPERM`:
    /// no protocol stores owners the kernel could use).
    pub async fn setattr(&self, ino: Ino, req: SetAttr) -> Result<(Attr, Duration), FsError> {
        self.settle(ino).await;
        let path = self.path(ino);
        let (current, _) = match &path {
            Ok(p) => self.attr_of(p).await?,
            Err(_) => self.getattr(ino).await?,
        };
        if req.uid.is_some_and(|u| u != self.cfg.uid) || req.gid.is_some_and(|g| g != self.cfg.gid)
        {
            return Err(FsError::NotPermitted);
        }
        if let Some(mode) = req.mode
            && (mode & 0o7777) as u16 != shown_perm(&current)
        {
            let p = path.clone()?;
            let perm = (mode & 0o7777) as u16;
            self.run(|| self.backend.set_perm(&p, perm)).await?;
            self.attrs.lock().expect("attr lock").invalidate(&p);
        }
        if let Some(size) = req.size {
            if current.kind == FileKind::Directory {
                return Err(FsError::IsDirectory);
            }
            match req.fh.map(|fh| self.handles.file(fh)) {
                Some(Some(of)) => {
                    self.run_handle(&of, |h| async move { self.backend.set_len(&h, size).await })
                        .await?;
                    of.mark_dirty();
                }
                _ => {
                    let p = path.clone()?;
                    self.run(|| self.backend.truncate(&p, size)).await?;
                }
            }
            self.data_changed(ino);
            // Every descriptor of this file (removed while open or not)
            // now appends from the new end.
            for of in self.handles.files_of(ino) {
                of.set_end(size, false);
            }
            if let Ok(p) = &path {
                self.attrs.lock().expect("attr lock").invalidate(p);
            }
        }
        if req.atime.is_some() || req.mtime.is_some() {
            let p = path.clone()?;
            let times = Times {
                atime: req.atime,
                mtime: req.mtime,
            };
            self.run(|| self.backend.set_times(&p, times)).await?;
            self.attrs.lock().expect("attr lock").invalidate(&p);
        }
        match &path {
            Ok(p) => {
                let attr = self.run(|| self.backend.stat(p)).await?;
                let ttl = self.remember(p, &attr);
                self.versions
                    .lock()
                    .expect("version lock")
                    .note_attr(ino, &attr);
                Ok((attr, ttl))
            }
            Err(_) => {
                // Removed or replaced while open: what the kernel is told
                // of it from now on must hold the new size too.
                let mut v = self.versions.lock().expect("version lock");
                if let Some(size) = req.size {
                    v.detached_resized(ino, size, true);
                }
                let attr = v.last_attr(ino).unwrap_or(current);
                Ok((attr, Duration::ZERO))
            }
        }
    }

    /// `opendir`: lists the directory on the server (listings are never
    /// cached, so a file created there shows at once) and keeps the
    /// listing for `readdir`.
    pub async fn opendir(&self, ino: Ino) -> Result<u64, FsError> {
        let path = self.path(ino)?;
        self.settle_children(&path).await;
        let list = self.run(|| self.backend.list(&path)).await?;
        let mut slots = Vec::with_capacity(list.len() + 2);
        {
            let mut inodes = self.inodes.lock().expect("inode lock");
            let parent = path.parent().map_or(ROOT_INO, |p| inodes.peek(&p));
            slots.push(DirSlot {
                ino,
                kind: FileKind::Directory,
                name: ".".into(),
            });
            slots.push(DirSlot {
                ino: parent,
                kind: FileKind::Directory,
                name: "..".into(),
            });
            let mut attrs = self.attrs.lock().expect("attr lock");
            let now = Instant::now();
            for e in list {
                if path.is_root() && e.name.starts_with(ASIDE_PREFIX) {
                    // Removed while open, gone at its last close.
                    continue;
                }
                let Ok(child) = path.join(&e.name) else {
                    continue;
                };
                let ino = inodes.peek(&child);
                slots.push(DirSlot {
                    ino,
                    kind: e.attr.kind,
                    name: e.name,
                });
                attrs.insert(&child, e.attr, now);
            }
        }
        Ok(self.handles.insert_dir(slots))
    }

    /// `readdir`: the entries of the listing from `offset` on, each with
    /// the offset of the next.
    pub fn readdir(&self, fh: u64, offset: u64) -> Result<Vec<(u64, DirSlot)>, FsError> {
        let slots = self.handles.dir(fh).ok_or(FsError::BadHandle)?;
        Ok(slots
            .iter()
            .enumerate()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .map(|(i, s)| (i as u64 + 1, s.clone()))
            .collect())
    }

    /// `readdirplus`: the entries of the listing from `offset` on (at most
    /// [`PLUS_BATCH`]), each handed to `add` with its attributes, so that
    /// the kernel needs no lookup per name; `add` answers whether the
    /// reply was full (the entry was not taken), which ends the batch.
    /// Each entry taken counts as a lookup the kernel holds, as for
    /// [`Fs::lookup`] (`.` and `..` excepted, which the kernel does not
    /// keep). The attributes are those of [`Fs::lookup`] at this moment:
    /// the listing's while they are fresh (at most [`FsConfig::attr_ttl`]
    /// old, and the kernel is told what is left of it), the server's for a
    /// name changed through this mount since (its queued writes landed
    /// first); a name gone since is left out.
    pub async fn readdirplus(
        &self,
        ino: Ino,
        fh: u64,
        offset: u64,
        mut add: impl FnMut(PlusEntry<'_>) -> bool,
    ) -> Result<(), FsError> {
        let slots = self.handles.dir(fh).ok_or(FsError::BadHandle)?;
        let Ok(dir) = self.path(ino) else {
            // Removed through this mount since it was opened: as on a
            // local disk, nothing more to read.
            return Ok(());
        };
        self.settle_children(&dir).await;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut batch = Vec::new();
        for (i, slot) in slots.iter().enumerate().skip(start).take(PLUS_BATCH) {
            let next = i as u64 + 1;
            if slot.name == "." || slot.name == ".." {
                batch.push((next, slot, None));
                continue;
            }
            let Ok(child) = dir.join(&slot.name) else {
                continue;
            };
            match self.attr_of(&child).await {
                Ok(a) => batch.push((next, slot, Some((child, a)))),
                Err(FsError::NotFound) => {}
                Err(e) if batch.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        let mut inodes = self.inodes.lock().expect("inode lock");
        let mut versions = self.versions.lock().expect("version lock");
        for (next, slot, found) in batch {
            let Some((child, (attr, ttl))) = found else {
                // The kernel links neither `.` nor `..`: any directory's
                // attributes will do, trusted for no time.
                let attr = Attr::stand_in(FileKind::Directory);
                let e = PlusEntry {
                    next,
                    ino: slot.ino,
                    name: &slot.name,
                    attr: &attr,
                    ttl: Duration::ZERO,
                };
                if add(e) {
                    break;
                }
                continue;
            };
            let ino = lookup_ino(&mut inodes, &versions, &child, attr.kind);
            let e = PlusEntry {
                next,
                ino,
                name: &slot.name,
                attr: &attr,
                ttl,
            };
            if add(e) {
                inodes.forget(ino, 1);
                break;
            }
            versions.note_attr(ino, &attr);
        }
        Ok(())
    }

    /// `releasedir`.
    pub fn releasedir(&self, fh: u64) {
        self.handles.remove_dir(fh);
    }

    fn opened(&self, ino: Ino, path: RelPath, flags: i32, h: B::Handle, attr: &Attr) -> Opened {
        let (oflags, append) = open_flags(flags);
        let keep_cache = {
            let mut v = self.versions.lock().expect("version lock");
            let keep = v.unchanged(ino, attr);
            v.opened(ino, attr);
            keep
        };
        self.remember(&path, attr);
        // Close-to-open: nothing read ahead before this open is served
        // after it.
        self.data_changed(ino);
        let of = OpenFile::new(
            ino,
            path,
            oflags,
            append,
            h,
            self.conn.generation(),
            attr.size,
        );
        Opened {
            fh: self.handles.insert_file(of),
            keep_cache,
        }
    }

    /// `open`: opens on the server (so the file's attributes are fresh:
    /// close-to-open coherence).
    pub async fn open(&self, ino: Ino, flags: i32) -> Result<Opened, FsError> {
        let path = self.path(ino)?;
        self.settle(ino).await;
        let (oflags, _) = open_flags(flags);
        let oflags = OpenFlags {
            create: false,
            exclusive: false,
            ..oflags
        };
        let (h, attr) = match self.run(|| self.backend.open(&path, oflags)).await {
            Ok(r) => r,
            Err(FsError::NotFound) => {
                // Removed on the server while the kernel still holds the
                // name (for up to the TTL): forget it here, and answer
                // ESTALE, on which the kernel looks the name up again and
                // retries the open, so an `open(O_CREAT)` creates the
                // file anew instead of failing with ENOENT.
                self.removed(&path);
                return Err(FsError::Stale);
            }
            Err(e) => return Err(e),
        };
        if attr.kind == FileKind::Directory {
            let _ = tokio::time::timeout(self.cfg.op_timeout, self.backend.close(h)).await;
            return Err(FsError::IsDirectory);
        }
        if oflags.truncate {
            self.note_truncated(&path);
        }
        Ok(self.opened(ino, path, flags, h, &attr))
    }

    /// `create`: creates (or with `O_EXCL` fails on an existing file) and
    /// opens `name` in `parent`.
    pub async fn create(
        &self,
        parent: Ino,
        name: &str,
        flags: i32,
    ) -> Result<(Entry, Opened), FsError> {
        let path = self.child(parent, name)?;
        self.settle_path(&path, false).await;
        let (oflags, _) = open_flags(flags);
        let oflags = OpenFlags {
            create: true,
            ..oflags
        };
        let (h, attr) = self.run(|| self.backend.open(&path, oflags)).await?;
        self.note_truncated(&path);
        let ttl = self.remember(&path, &attr);
        let entry = self.entry(&path, attr.clone(), ttl);
        let opened = self.opened(entry.ino, path, flags, h, &attr);
        Ok((
            entry,
            Opened {
                keep_cache: false,
                ..opened
            },
        ))
    }

    fn note_truncated(&self, path: &RelPath) {
        for of in self.handles.files_at(path) {
            if of.path() == *path {
                of.set_end(0, false);
            }
        }
        self.attrs.lock().expect("attr lock").invalidate(path);
    }

    /// `read`: up to `size` bytes at `offset` (fewer only at end of file),
    /// from the handle's read-ahead when the pattern is sequential.
    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Bytes, FsError> {
        let of = self.file(fh)?;
        self.settle(of.ino).await;
        if let Some(d) = self.read_ahead(&of, offset, size).await {
            return Ok(d);
        }
        self.run_handle(
            &of,
            |h| async move { self.backend.read(&h, offset, size).await },
        )
        .await
    }

    /// `read` answered at once, without waiting for anything: from bytes
    /// the handle already read ahead, when no write of the file is queued.
    /// The session's thread calls it (within the runtime's context: it may
    /// start fetches) before it hands the read to a task; `None`: call
    /// [`Fs::read`].
    pub fn read_ready(&self, fh: u64, offset: u64, size: u32) -> Option<Bytes> {
        let of = self.handles.file(fh)?;
        if self
            .handles
            .files_of(of.ino)
            .iter()
            .any(|f| f.queue.is_busy())
        {
            return None;
        }
        let handle = {
            let st = of.state.try_read().ok()?;
            if st.generation != self.conn.generation() {
                return None;
            }
            st.handle.clone()?
        };
        let plan = self.plan_read_ahead(&of, handle, offset, size)?;
        prefetch::assemble_ready(&plan.covering, offset, size)
    }

    /// The answer to a read from the handle's read-ahead, after starting
    /// the fetches that keep its window ahead; `None`: read directly.
    async fn read_ahead(&self, of: &OpenFile<B::Handle>, offset: u64, size: u32) -> Option<Bytes> {
        let handle = {
            let st = of.state.read().await;
            if st.generation != self.conn.generation() {
                // Opened again by the direct read first.
                return None;
            }
            st.handle.clone()?
        };
        let plan = self.plan_read_ahead(of, handle, offset, size)?;
        if plan.covering.is_empty() {
            return None;
        }
        let d = prefetch::assemble(&plan.covering, offset, size).await;
        if d.is_none() {
            // A fetch failed: the direct read retries it as every call is.
            of.read_ahead.reset();
        }
        d
    }

    /// Plans a read in the handle's window and starts the fetches that
    /// keep it ahead (`None`: no read-ahead on this mount).
    fn plan_read_ahead(
        &self,
        of: &OpenFile<B::Handle>,
        handle: Arc<B::Handle>,
        offset: u64,
        size: u32,
    ) -> Option<prefetch::Plan> {
        if self.cfg.read_ahead == 0 || self.cfg.attr_ttl.is_zero() {
            return None;
        }
        let file_size = self
            .versions
            .lock()
            .expect("version lock")
            .last_attr(of.ino)
            .map(|a| a.size);
        let limits = prefetch::Limits {
            window: self.cfg.read_ahead,
            max_age: self.cfg.attr_ttl,
            size: file_size,
        };
        let mut plan = of.read_ahead.plan(offset, size, limits, &self.budget);
        for f in std::mem::take(&mut plan.fetches) {
            let backend = self.backend.clone();
            let h = handle.clone();
            let bound = self.cfg.op_timeout;
            of.read_ahead.track(tokio::spawn(async move {
                let r = tokio::time::timeout(bound, backend.read(&h, f.offset, f.len))
                    .await
                    .unwrap_or(Err(FsError::TimedOut));
                let _ = f.tx.send(Some(r));
                drop(f.reservation);
            }));
        }
        Some(plan)
    }

    /// `write` through to the server: all of `data` at `offset`, or at the
    /// end of file for an `O_APPEND` handle; it has reached the server
    /// when this returns (after the handle's writes queued before it).
    pub async fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32, FsError> {
        let mut answer = None;
        self.write_inner(fh, offset, data, false, |r| answer = Some(r))
            .await;
        answer.unwrap_or_else(|| Err(FsError::Io("the write was not answered".into())))
    }

    /// `write` behind: as [`Fs::write`], but `answer` is called as soon as
    /// the write is queued (within [`FsConfig::write_behind`] bytes per
    /// handle; at once with its error if an earlier queued write of the
    /// handle failed), and this returns once it has reached the server. A
    /// failure then is reported at the handle's next write, `flush`,
    /// `fsync` or release. With `write_behind` 0, `answer` is called when
    /// the write has reached the server.
    pub async fn write_behind(
        &self,
        fh: u64,
        offset: u64,
        data: &[u8],
        answer: impl FnOnce(Result<u32, FsError>),
    ) {
        let behind = self.cfg.write_behind > 0;
        self.write_inner(fh, offset, data, behind, answer).await;
    }

    async fn write_inner(
        &self,
        fh: u64,
        offset: u64,
        data: &[u8],
        behind: bool,
        answer: impl FnOnce(Result<u32, FsError>),
    ) {
        let of = match self.file(fh) {
            Ok(of) => of,
            Err(e) => return answer(Err(e)),
        };
        if let Some(e) = of.queue.take_error() {
            return answer(Err(e));
        }
        let Ok(len) = u32::try_from(data.len()) else {
            return answer(Err(FsError::InvalidArgument));
        };
        // The kernel puts an O_APPEND write at the end of file as it
        // knows it, which is exact for everything done through this
        // mount; the size the server reported at open is the floor for the
        // first write, so that a colleague's append made before our open
        // is not overwritten while the kernel's size was still stale.
        let at = if of.append {
            offset.max(of.take_floor())
        } else {
            offset
        };
        let Some(end) = at.checked_add(u64::from(len)) else {
            return answer(Err(FsError::InvalidArgument));
        };
        // A write that finds nothing queued (a small file's one write, or
        // the first of a burst) asks for the file's attributes with it,
        // where the back end has them at no extra wait, so that the `stat`
        // that often follows a close is answered from the cache.
        let stat_too = !of.queue.is_busy() && !of.is_detached();
        let sent = of.path();
        let ticket = of.queue.admit(at, end, self.cfg.write_behind).await;
        of.mark_dirty();
        let answer = if behind {
            answer(Ok(len));
            None
        } else {
            Some(answer)
        };
        let sent_ref = &sent;
        let r = self
            .run_handle(&of, |h| async move {
                if stat_too {
                    self.backend.write_and_stat(&h, at, data, sent_ref).await
                } else {
                    self.backend.write(&h, at, data).await.map(|()| None)
                }
            })
            .await;
        match &r {
            Ok(_) if of.is_detached() => {
                self.versions
                    .lock()
                    .expect("version lock")
                    .detached_resized(of.ino, end, false);
            }
            Ok(attr) => self.landed(&of, &ticket, &sent, attr.clone()),
            Err(_) => {}
        }
        let r = r.map(drop);
        // After it landed (or failed half way), nothing read ahead before
        // it is served.
        self.data_changed(of.ino);
        of.queue.done(ticket, &r, behind);
        if let Some(answer) = answer {
            answer(r.map(|()| len));
        }
    }

    /// A write of `of` at `sent` landed: the cached attributes of its path
    /// are dropped, or replaced by `attr`, those the server gave right
    /// after this write, when they are the file's latest: no other write
    /// of the file was made since (this is the handle's last write, and
    /// the file's only handle) and the file is still at `sent`. Checked and
    /// stored under the cache's lock, which every other write's landing
    /// takes too, so a later write's drop is never undone.
    fn landed(
        &self,
        of: &OpenFile<B::Handle>,
        ticket: &writeback::Ticket,
        sent: &RelPath,
        attr: Option<Attr>,
    ) {
        let path = of.path();
        let mut attrs = self.attrs.lock().expect("attr lock");
        match attr {
            Some(a)
                if path == *sent
                    && of.queue.is_last(ticket)
                    && self.handles.files_of(of.ino).len() == 1 =>
            {
                attrs.insert(&path, a, Instant::now());
            }
            _ => attrs.invalidate(&path),
        }
    }

    /// `flush` (each `close(2)` of a descriptor): what was written through
    /// this handle is on the server when this returns (made durable there
    /// too, unless the back end's acknowledged writes are in the server's
    /// file already: [`Backend::flush_at_close`]), or the failure of a
    /// queued write is reported.
    pub async fn flush(&self, fh: u64) -> Result<(), FsError> {
        let of = self.file(fh)?;
        of.queue.drain().await;
        if let Some(e) = of.queue.take_error() {
            return Err(e);
        }
        if !self.backend.flush_at_close() && !self.backend.handles_survive_reconnect() {
            // Every write the server acknowledged is in its file.
            return Ok(());
        }
        if !of.take_dirty() {
            return Ok(());
        }
        let r = self
            .run_handle(&of, |h| async move { self.backend.flush(&h).await })
            .await;
        if r.is_err() {
            of.mark_dirty();
        }
        self.noted(&of, r)
    }

    /// `r`, with its conflict reported to [`FsConfig::events`] (once per
    /// open file: a program that retries, then closes, makes one record).
    fn noted(&self, of: &OpenFile<B::Handle>, r: Result<(), FsError>) -> Result<(), FsError> {
        if let (Err(FsError::Conflict(why)), Some(events)) = (&r, &self.cfg.events)
            && of.first_conflict()
        {
            events.conflict(of.path().as_str(), why);
        }
        r
    }

    /// `fsync`: everything written is durable on the server when this
    /// returns. Through a descriptor that cannot write (which a server may
    /// refuse to flush: SMB answers access denied), the file's writing
    /// descriptors are flushed instead, as a local disk syncs the file
    /// whichever descriptor asks.
    pub async fn fsync(&self, fh: u64) -> Result<(), FsError> {
        let of = self.file(fh)?;
        if !of.flags.write {
            for w in self.handles.files_of(of.ino) {
                if w.flags.write {
                    self.sync_one(&w).await?;
                }
            }
            return Ok(());
        }
        self.sync_one(&of).await
    }

    async fn sync_one(&self, of: &OpenFile<B::Handle>) -> Result<(), FsError> {
        of.queue.drain().await;
        if let Some(e) = of.queue.take_error() {
            return Err(e);
        }
        of.take_dirty();
        let r = self
            .run_handle(of, |h| async move { self.backend.flush(&h).await })
            .await;
        if r.is_err() {
            of.mark_dirty();
        }
        self.noted(of, r)
    }

    /// `release`: closes the handle on the server (the last close of the
    /// file's descriptors), after its queued writes and fetches ended; a
    /// queued write that failed and was not reported yet is reported here.
    pub async fn release(&self, fh: u64) -> Result<(), FsError> {
        let of = self.handles.remove_file(fh).ok_or(FsError::BadHandle)?;
        of.queue.drain().await;
        of.read_ahead.quiesce().await;
        let unreported = of.queue.take_error();
        if self.backend.handles_survive_reconnect() && of.take_dirty() {
            // What the handle holds reaches the server through a flush,
            // which waits for a reconnect like any call; the close that
            // follows has nothing left to upload (or fails again, and
            // says so in the log).
            let r = self
                .run_handle(&of, |h| async move { self.backend.flush(&h).await })
                .await;
            if let Err(e) = self.noted(&of, r) {
                of.mark_dirty();
                let r = self.close_handle(&of).await;
                return Err(unreported.unwrap_or(r.err().unwrap_or(e)));
            }
        }
        let r = self.close_handle(&of).await;
        match unreported {
            Some(e) => Err(e),
            None => self.noted(&of, r),
        }
    }

    async fn close_handle(&self, of: &OpenFile<B::Handle>) -> Result<(), FsError> {
        let survives = self.backend.handles_survive_reconnect();
        let handle = {
            let mut st = of.state.write().await;
            if st.generation != self.conn.generation() && !survives {
                return Ok(());
            }
            st.handle.take()
        };
        let Some(mut handle) = handle else {
            return Ok(());
        };
        let deadline = Instant::now() + self.cfg.op_timeout;
        let handle = loop {
            match Arc::try_unwrap(handle) {
                Ok(h) => break h,
                // A handle that holds unsent data is never dropped unclosed:
                // wait (within the bound) for the call that still uses it.
                Err(h) if survives && Instant::now() < deadline => {
                    handle = h;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(_) if survives => {
                    return Err(FsError::Io(
                        "the file is still in use by a call that does not end".into(),
                    ));
                }
                Err(_) => return Ok(()),
            }
        };
        let r = tokio::time::timeout(self.cfg.op_timeout, self.backend.close(handle))
            .await
            .unwrap_or(Err(FsError::TimedOut));
        match r {
            // The server forgot the handle with the session (what was
            // written reached it before); a surviving handle's close that
            // could not reach the server is a failure.
            Err(FsError::Disconnected(_)) if !survives => Ok(()),
            r => {
                self.conn.observe(&r);
                r
            }
        }
    }

    /// `mkdir`.
    pub async fn mkdir(&self, parent: Ino, name: &str) -> Result<Entry, FsError> {
        let path = self.child(parent, name)?;
        let attr = self.run(|| self.backend.mkdir(&path)).await?;
        let ttl = self.remember(&path, &attr);
        Ok(self.entry(&path, attr, ttl))
    }

    /// `unlink`.
    pub async fn unlink(&self, parent: Ino, name: &str) -> Result<(), FsError> {
        let path = self.child(parent, name)?;
        self.settle_path(&path, false).await;
        if self.is_open(&path)
            && let Ok(aside) = self.move_aside(&path).await
        {
            // Its descriptors keep it; the server removes it at the last
            // close (SMB's delete-pending), and its name is free at once.
            self.removed(&path);
            self.handles.detach(&aside);
            let _ = self.run(|| self.backend.unlink(&aside)).await;
            return Ok(());
        }
        self.run(|| self.backend.unlink(&path)).await?;
        self.removed(&path);
        Ok(())
    }

    /// Whether a file is open through this mount at `path`.
    fn is_open(&self, path: &RelPath) -> bool {
        self.handles
            .files_at(path)
            .iter()
            .any(|f| f.path() == *path)
    }

    /// Moves a file that is open through this mount out of the way, to a
    /// hidden name in the mount's root (left out of its listings), before
    /// it is removed or replaced: SMB keeps the name of a removed file
    /// that is still open until its last close (and refuses a new file
    /// there meanwhile), and refuses to replace a file that is open, while
    /// it lets an open file be renamed. NFS clients do the same ("silly
    /// rename").
    async fn move_aside(&self, path: &RelPath) -> Result<RelPath, FsError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let aside = RelPath::root().join(&format!(
            "{ASIDE_PREFIX}{stamp:x}-{}-{n}",
            std::process::id()
        ))?;
        self.run(|| self.backend.rename(path, &aside)).await?;
        // Its descriptors follow it, and must hold a server handle before
        // it is removed, as it cannot be opened again by path afterwards: a
        // handle closed by `park`, or of an older session, is opened now
        // (a failure shows at the descriptor's next use).
        self.handles.rename(path, &aside);
        for of in self.handles.files_at(&aside) {
            let _ = self.run(|| self.current_handle(&of)).await;
        }
        Ok(aside)
    }

    /// Closes the back-end handles of `files` (opened again by path at
    /// their next use): SMB refuses to rename a directory while a file
    /// below it is open. A handle in use by a call right now is left open.
    async fn park(&self, files: &[Arc<OpenFile<B::Handle>>]) {
        if self.backend.handles_survive_reconnect() {
            // Such a handle is not tied to its path on the server, and
            // closing it would upload half a change.
            return;
        }
        for of in files {
            // Their queued writes and fetches hold the handle.
            of.queue.drain().await;
            of.read_ahead.quiesce().await;
            let mut st = of.state.write().await;
            let Some(h) = st.handle.take() else {
                continue;
            };
            match Arc::try_unwrap(h) {
                Ok(h) => {
                    let r = tokio::time::timeout(self.cfg.op_timeout, self.backend.close(h))
                        .await
                        .unwrap_or(Err(FsError::TimedOut));
                    self.conn.observe(&r);
                }
                Err(h) => st.handle = Some(h),
            }
        }
    }

    /// `rmdir`.
    pub async fn rmdir(&self, parent: Ino, name: &str) -> Result<(), FsError> {
        let path = self.child(parent, name)?;
        self.run(|| self.backend.rmdir(&path)).await?;
        self.removed(&path);
        Ok(())
    }

    fn removed(&self, path: &RelPath) {
        self.inodes.lock().expect("inode lock").remove(path);
        self.handles.detach(path);
        self.attrs.lock().expect("attr lock").invalidate_tree(path);
    }

    /// `rename`, replacing the target (an editor's atomic save);
    /// `RENAME_NOREPLACE` is checked first (not atomically), and
    /// `RENAME_EXCHANGE` is refused (`EINVAL`).
    pub async fn rename(
        &self,
        parent: Ino,
        name: &str,
        new_parent: Ino,
        new_name: &str,
        flags: u32,
    ) -> Result<(), FsError> {
        let from = self.child(parent, name)?;
        let to = self.child(new_parent, new_name)?;
        if flags & rename_flags::RENAME_EXCHANGE != 0 || flags & !3 != 0 {
            return Err(FsError::InvalidArgument);
        }
        self.settle_path(&from, true).await;
        self.settle_path(&to, false).await;
        if flags & rename_flags::RENAME_NOREPLACE != 0 {
            match self.run(|| self.backend.stat(&to)).await {
                Ok(_) => return Err(FsError::Exists),
                Err(FsError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        if from == to {
            self.run(|| self.backend.stat(&from)).await?;
            return Ok(());
        }
        // A file open at the target is moved aside first (its descriptors
        // keep reading it), and removed once the new file is in place.
        let aside = if self.is_open(&to)
            && self.run(|| self.backend.stat(&from)).await?.kind != FileKind::Directory
        {
            Some(self.move_aside(&to).await?)
        } else {
            None
        };
        let below: Vec<_> = self
            .handles
            .files_at(&from)
            .into_iter()
            .filter(|f| f.path() != from)
            .collect();
        self.park(&below).await;
        if let Err(e) = self.run(|| self.backend.rename(&from, &to)).await {
            if let Some(aside) = &aside
                && self.run(|| self.backend.rename(aside, &to)).await.is_ok()
            {
                self.handles.rename(aside, &to);
            }
            return Err(e);
        }
        if let Some(aside) = &aside {
            self.handles.detach(aside);
            let _ = self.run(|| self.backend.unlink(aside)).await;
        }
        self.inodes.lock().expect("inode lock").rename(&from, &to);
        self.handles.detach(&to);
        self.handles.rename(&from, &to);
        let mut attrs = self.attrs.lock().expect("attr lock");
        attrs.invalidate_tree(&from);
        attrs.invalidate_tree(&to);
        Ok(())
    }

    /// `fallocate` (`posix_fallocate`, `fallocate -l`): without flags the
    /// file is made at least `offset + length` bytes long, the new bytes
    /// reading as zeros, through the handle as `ftruncate` does; a range
    /// inside the file is already there. No protocol mpr speaks can reserve
    /// space or punch holes, so every flag (`FALLOC_FL_KEEP_SIZE`,
    /// `PUNCH_HOLE`, `ZERO_RANGE`, ...) is `EOPNOTSUPP` rather than a
    /// success that did nothing. The size compared with is the server's, so
    /// a file a colleague made longer is never cut.
    pub async fn allocate(
        &self,
        ino: Ino,
        fh: u64,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), FsError> {
        if mode != 0 {
            return Err(FsError::NotSupported);
        }
        let end = offset.checked_add(length).ok_or(FsError::InvalidArgument)?;
        self.file(fh)?;
        self.settle(ino).await;
        let size = match self.path(ino) {
            Ok(p) => {
                let attr = self.run(|| self.backend.stat(&p)).await?;
                self.remember(&p, &attr);
                if attr.kind == FileKind::Directory {
                    return Err(FsError::IsDirectory);
                }
                attr.size
            }
            Err(_) => self.getattr(ino).await?.0.size,
        };
        if end <= size {
            return Ok(());
        }
        let grow = SetAttr {
            size: Some(end),
            fh: Some(fh),
            ..SetAttr::default()
        };
        self.setattr(ino, grow).await.map(drop)
    }

    /// `statfs`.
    pub async fn statfs(&self) -> Result<StatFs, FsError> {
        self.run(|| self.backend.statfs()).await
    }

    /// `readlink`: the target of a link the back end shows.
    pub async fn readlink(&self, ino: Ino) -> Result<String, FsError> {
        let path = self.path(ino)?;
        self.run(|| self.backend.read_link(&path)).await
    }
}

#[cfg(test)]
mod tests;
