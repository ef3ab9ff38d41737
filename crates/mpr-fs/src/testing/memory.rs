//! An in-memory [`Backend`] that behaves like a POSIX directory tree (the
//! errors Linux gives), with sparse files (so 64-bit offsets can be tested
//! without the memory), and with faults to inject: a lost session, a
//! server that refuses or cannot be reached, failing or hanging calls.
//!
//! Two kinds of handle: by default a handle is the server's and dies with
//! the session (as SMB's); [`MemBackend::staged`] gives handles that keep
//! a local copy, written without the server and uploaded at flush and
//! close, which survive a reconnect (as WebDAV's).

use crate::backend::{Attr, Backend, DirEntry, FileKind, OpenFlags, RelPath, StatFs, Times};
use crate::error::{ConnectError, FsError};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const CHUNK: u64 = 64 * 1024;

#[derive(Debug, Default, Clone)]
struct FileData {
    size: u64,
    /// Chunks of `CHUNK` bytes by index; a missing chunk reads as zeros.
    chunks: BTreeMap<u64, Vec<u8>>,
    mtime: Option<SystemTime>,
    atime: Option<SystemTime>,
}

impl FileData {
    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        if offset >= self.size {
            return Vec::new();
        }
        let end = self.size.min(offset + u64::from(len));
        let mut out = vec![0u8; (end - offset) as usize];
        let mut pos = offset;
        while pos < end {
            let idx = pos / CHUNK;
            let within = (pos % CHUNK) as usize;
            let n = ((CHUNK - within as u64).min(end - pos)) as usize;
            if let Some(c) = self.chunks.get(&idx) {
                let dst = (pos - offset) as usize;
                out[dst..dst + n].copy_from_slice(&c[within..within + n]);
            }
            pos += n as u64;
        }
        out
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut pos = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let idx = pos / CHUNK;
            let within = (pos % CHUNK) as usize;
            let n = ((CHUNK as usize) - within).min(rest.len());
            let c = self
                .chunks
                .entry(idx)
                .or_insert_with(|| vec![0; CHUNK as usize]);
            c[within..within + n].copy_from_slice(&rest[..n]);
            pos += n as u64;
            rest = &rest[n..];
        }
        self.size = self.size.max(offset + data.len() as u64);
        self.mtime = Some(SystemTime::now());
    }

    fn set_len(&mut self, size: u64) {
        if size < self.size {
            let first_gone = size.div_ceil(CHUNK);
            self.chunks.retain(|&i, _| i < first_gone);
            if !size.is_multiple_of(CHUNK)
                && let Some(c) = self.chunks.get_mut(&(size / CHUNK))
            {
                c[(size % CHUNK) as usize..].fill(0);
            }
        }
        self.size = size;
        self.mtime = Some(SystemTime::now());
    }
}

#[derive(Debug, Clone, Copy)]
enum Node {
    File(u64),
    Dir(SystemTime),
}

#[derive(Debug)]
struct State {
    tree: BTreeMap<RelPath, Node>,
    files: HashMap<u64, FileData>,
    next_file: u64,
    connected: bool,
    session: u64,
    /// A session that no longer answers (see [`MemBackend::wedge`]).
    wedged: Option<u64>,
}

/// What the next connects answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFault {
    /// They succeed.
    None,
    /// They fail with this error (the server is down, or refuses).
    Fail(ConnectError),
}

#[derive(Debug)]
struct Faults {
    connect: ConnectFault,
    fail_next: Vec<FsError>,
    delay: Option<Duration>,
    hang_next: u32,
}

/// An open file of [`MemBackend`].
#[derive(Debug)]
pub struct MemHandle {
    file: u64,
    session: u64,
    write: bool,
    /// A staged handle's local copy (`None` for a server handle).
    stage: Option<Mutex<Stage>>,
}

/// What a staged handle holds: its local copy, and whether it differs
/// from what was uploaded last.
#[derive(Debug)]
struct Stage {
    data: FileData,
    dirty: bool,
}

/// A directory tree in memory behind the [`Backend`] trait.
#[derive(Debug, Clone)]
pub struct MemBackend {
    staged: bool,
    flush_at_close: bool,
    flushes: Arc<AtomicU64>,
    state: Arc<Mutex<State>>,
    faults: Arc<Mutex<Faults>>,
    connects: Arc<AtomicU64>,
    calls: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
    most_in_flight: Arc<AtomicU64>,
}

impl Default for MemBackend {
    fn default() -> Self {
        MemBackend::new()
    }
}

impl MemBackend {
    /// An empty tree; not connected until [`Backend::connect`].
    pub fn new() -> MemBackend {
        let mut tree = BTreeMap::new();
        tree.insert(RelPath::root(), Node::Dir(SystemTime::now()));
        MemBackend {
            staged: false,
            flush_at_close: true,
            flushes: Arc::new(AtomicU64::new(0)),
            state: Arc::new(Mutex::new(State {
                tree,
                files: HashMap::new(),
                next_file: 1,
                connected: false,
                session: 0,
                wedged: None,
            })),
            faults: Arc::new(Mutex::new(Faults {
                connect: ConnectFault::None,
                fail_next: Vec::new(),
                delay: None,
                hang_next: 0,
            })),
            connects: Arc::new(AtomicU64::new(0)),
            calls: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(AtomicU64::new(0)),
            most_in_flight: Arc::new(AtomicU64::new(0)),
        }
    }

    /// An empty tree whose handles stage their writes locally, upload them
    /// at flush and close, and survive a reconnect (as WebDAV's do).
    pub fn staged() -> MemBackend {
        MemBackend {
            staged: true,
            ..MemBackend::new()
        }
    }

    /// An empty tree whose acknowledged writes are in the file already,
    /// so that a `close(2)` need not flush (as SFTP's are).
    pub fn writes_land_when_answered() -> MemBackend {
        MemBackend {
            flush_at_close: false,
            ..MemBackend::new()
        }
    }

    /// How many flushes reached the back end.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::SeqCst)
    }

    /// Uploads a staged handle's copy if it changed (a server call).
    async fn upload(&self, h: &MemHandle) -> Result<(), FsError> {
        let Some(stage) = &h.stage else {
            return Ok(());
        };
        let data = {
            let st = stage.lock().expect("mem lock");
            if !st.dirty {
                return Ok(());
            }
            st.data.clone()
        };
        self.enter().await?;
        self.with(|s| {
            let f = s.files.get_mut(&h.file).ok_or(FsError::BadHandle)?;
            *f = FileData {
                mtime: Some(SystemTime::now()),
                ..data
            };
            Ok(())
        })?;
        stage.lock().expect("mem lock").dirty = false;
        Ok(())
    }

    /// Drops the session: every call fails with
    /// [`FsError::Disconnected`] until the next successful connect.
    pub fn disconnect(&self) {
        self.state.lock().expect("mem lock").connected = false;
    }

    /// Sets what the next connects answer.
    pub fn set_connect_fault(&self, f: ConnectFault) {
        self.faults.lock().expect("mem lock").connect = f;
    }

    /// The next calls (other than connect) fail with these errors, in
    /// order.
    pub fn fail_next(&self, errors: Vec<FsError>) {
        let mut f = self.faults.lock().expect("mem lock");
        f.fail_next = errors;
        f.fail_next.reverse();
    }

    /// Every call (connect included) first waits this long (a server that
    /// hangs).
    pub fn set_delay(&self, d: Option<Duration>) {
        self.faults.lock().expect("mem lock").delay = d;
    }

    /// The current session stops answering (a server process stuck for
    /// ever, a connection that carries nothing): every call on it other
    /// than connect waits for ever; a new session answers again.
    pub fn wedge(&self) {
        let mut s = self.state.lock().expect("mem lock");
        s.wedged = Some(s.session);
    }

    /// The next `n` calls (other than connect) wait for ever, while the
    /// session goes on answering the others (a slow call, not a dead
    /// server).
    pub fn hang_next(&self, n: u32) {
        self.faults.lock().expect("mem lock").hang_next = n;
    }

    /// How many connects succeeded.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst)
    }

    /// How many calls (other than connect) reached the back end.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The most calls (other than connect) that were in the back end at
    /// once since the last [`MemBackend::reset_most_in_flight`] (calls
    /// overlap while they wait out the delay of [`MemBackend::set_delay`]).
    pub fn most_in_flight(&self) -> u64 {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    /// Starts counting [`MemBackend::most_in_flight`] afresh.
    pub fn reset_most_in_flight(&self) {
        self.most_in_flight.store(0, Ordering::SeqCst);
    }

    /// Writes a whole file directly, as a colleague on the server would
    /// (creating it, and its directory must exist).
    pub fn put(&self, path: &str, data: &[u8]) {
        let p = RelPath::new(path).expect("test path");
        let mut s = self.state.lock().expect("mem lock");
        let id = match s.tree.get(&p) {
            Some(Node::File(id)) => *id,
            _ => {
                let id = s.next_file;
                s.next_file += 1;
                s.files.insert(id, FileData::default());
                s.tree.insert(p, Node::File(id));
                id
            }
        };
        let f = s.files.get_mut(&id).expect("file");
        f.set_len(0);
        f.write(0, data);
    }

    /// The content of a file, read directly (`None` if it is not one).
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        let p = RelPath::new(path).ok()?;
        let s = self.state.lock().expect("mem lock");
        match s.tree.get(&p)? {
            Node::File(id) => {
                let f = s.files.get(id)?;
                Some(f.read(0, u32::try_from(f.size).ok()?))
            }
            Node::Dir(_) => None,
        }
    }

    async fn enter(&self) -> Result<(), FsError> {
        let delay = self.faults.lock().expect("mem lock").delay;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let hang = {
            let mut f = self.faults.lock().expect("mem lock");
            let s = self.state.lock().expect("mem lock");
            let first = f.hang_next > 0;
            f.hang_next = f.hang_next.saturating_sub(1);
            first || s.wedged == Some(s.session)
        };
        if hang {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.state.lock().expect("mem lock").connected {
            return Err(FsError::Disconnected("connection reset by peer".into()));
        }
        if let Some(e) = self.faults.lock().expect("mem lock").fail_next.pop() {
            if matches!(e, FsError::Disconnected(_)) {
                self.disconnect();
            }
            return Err(e);
        }
        Ok(())
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T, FsError>) -> Result<T, FsError> {
        f(&mut self.state.lock().expect("mem lock"))
    }
}

impl State {
    fn attr(&self, node: Node) -> Attr {
        match node {
            Node::File(id) => {
                let f = &self.files[&id];
                let t = f.mtime.unwrap_or(SystemTime::UNIX_EPOCH);
                Attr {
                    kind: FileKind::File,
                    size: f.size,
                    mtime: t,
                    atime: f.atime.unwrap_or(t),
                    ctime: t,
                    perm: None,
                    readonly: false,
                }
            }
            Node::Dir(t) => Attr {
                kind: FileKind::Directory,
                size: 0,
                mtime: t,
                atime: t,
                ctime: t,
                perm: None,
                readonly: false,
            },
        }
    }

    /// The node at `path`, checking that its parents are directories.
    fn node(&self, path: &RelPath) -> Result<Node, FsError> {
        if let Some(parent) = path.parent() {
            match self.node(&parent)? {
                Node::Dir(_) => {}
                Node::File(_) => return Err(FsError::NotDirectory),
            }
        }
        self.tree.get(path).copied().ok_or(FsError::NotFound)
    }

    fn parent_dir(&self, path: &RelPath) -> Result<(), FsError> {
        match path.parent() {
            None => Err(FsError::Busy),
            Some(p) => match self.node(&p)? {
                Node::Dir(_) => Ok(()),
                Node::File(_) => Err(FsError::NotDirectory),
            },
        }
    }

    fn has_children(&self, dir: &RelPath) -> bool {
        self.tree.keys().any(|p| p.parent().as_ref() == Some(dir))
    }

    fn touch_parent(&mut self, path: &RelPath) {
        if let Some(p) = path.parent()
            && let Some(Node::Dir(t)) = self.tree.get_mut(&p)
        {
            *t = SystemTime::now();
        }
    }

    fn file(&mut self, h: &MemHandle) -> Result<&mut FileData, FsError> {
        if h.session != self.session {
            return Err(FsError::Io("stale handle of an old session".into()));
        }
        self.files.get_mut(&h.file).ok_or(FsError::BadHandle)
    }
}

impl Backend for MemBackend {
    type Handle = MemHandle;

    fn handles_survive_reconnect(&self) -> bool {
        self.staged
    }

    fn flush_at_close(&self) -> bool {
        self.flush_at_close
    }

    async fn connect(&self) -> Result<(), FsError> {
        let delay = self.faults.lock().expect("mem lock").delay;
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let fault = self.faults.lock().expect("mem lock").connect.clone();
        match fault {
            ConnectFault::Fail(e) => Err(FsError::Connect(e)),
            ConnectFault::None => {
                let mut s = self.state.lock().expect("mem lock");
                s.connected = true;
                s.session += 1;
                self.connects.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    }

    async fn stat(&self, path: &RelPath) -> Result<Attr, FsError> {
        self.enter().await?;
        self.with(|s| {
            let n = s.node(path)?;
            Ok(s.attr(n))
        })
    }

    async fn list(&self, dir: &RelPath) -> Result<Vec<DirEntry>, FsError> {
        self.enter().await?;
        self.with(|s| {
            match s.node(dir)? {
                Node::Dir(_) => {}
                Node::File(_) => return Err(FsError::NotDirectory),
            }
            Ok(s.tree
                .iter()
                .filter(|(p, _)| !p.is_root() && p.parent().as_ref() == Some(dir))
                .map(|(p, n)| DirEntry {
                    name: p.name().to_string(),
                    attr: s.attr(*n),
                })
                .collect())
        })
    }

    async fn open(&self, path: &RelPath, flags: OpenFlags) -> Result<(MemHandle, Attr), FsError> {
        self.enter().await?;
        self.with(|s| {
            let id = match s.node(path) {
                Ok(Node::Dir(_)) => {
                    if flags.write {
                        return Err(FsError::IsDirectory);
                    }
                    if flags.create && flags.exclusive {
                        return Err(FsError::Exists);
                    }
                    return Err(FsError::IsDirectory);
                }
                Ok(Node::File(id)) => {
                    if flags.create && flags.exclusive {
                        return Err(FsError::Exists);
                    }
                    if flags.truncate && flags.write {
                        s.files.get_mut(&id).expect("file").set_len(0);
                    }
                    id
                }
                Err(FsError::NotFound) if flags.create => {
                    s.parent_dir(path)?;
                    let id = s.next_file;
                    s.next_file += 1;
                    s.files.insert(
                        id,
                        FileData {
                            mtime: Some(SystemTime::now()),
                            ..FileData::default()
                        },
                    );
                    s.tree.insert(path.clone(), Node::File(id));
                    s.touch_parent(path);
                    id
                }
                Err(e) => return Err(e),
            };
            let attr = s.attr(Node::File(id));
            let stage = self.staged.then(|| {
                Mutex::new(Stage {
                    data: s.files[&id].clone(),
                    dirty: false,
                })
            });
            Ok((
                MemHandle {
                    file: id,
                    session: s.session,
                    write: flags.write,
                    stage,
                },
                attr,
            ))
        })
    }

    async fn read(&self, h: &MemHandle, offset: u64, len: u32) -> Result<Bytes, FsError> {
        if let Some(stage) = &h.stage {
            return Ok(stage
                .lock()
                .expect("mem lock")
                .data
                .read(offset, len)
                .into());
        }
        self.enter().await?;
        self.with(|s| Ok(s.file(h)?.read(offset, len).into()))
    }

    async fn write(&self, h: &MemHandle, offset: u64, data: &[u8]) -> Result<(), FsError> {
        if let Some(stage) = &h.stage {
            if !h.write {
                return Err(FsError::BadHandle);
            }
            let mut st = stage.lock().expect("mem lock");
            st.data.write(offset, data);
            st.dirty = true;
            return Ok(());
        }
        self.enter().await?;
        if !h.write {
            return Err(FsError::BadHandle);
        }
        self.with(|s| {
            s.file(h)?.write(offset, data);
            Ok(())
        })
    }

    /// As SFTP does: the attributes right after the write, in the same
    /// call (a staged handle's write reaches no server: none).
    async fn write_and_stat(
        &self,
        h: &MemHandle,
        offset: u64,
        data: &[u8],
        path: &RelPath,
    ) -> Result<Option<Attr>, FsError> {
        if h.stage.is_some() {
            return self.write(h, offset, data).await.map(|()| None);
        }
        self.enter().await?;
        if !h.write {
            return Err(FsError::BadHandle);
        }
        self.with(|s| {
            s.file(h)?.write(offset, data);
            Ok(s.node(path).ok().map(|n| s.attr(n)))
        })
    }

    async fn set_len(&self, h: &MemHandle, size: u64) -> Result<(), FsError> {
        if let Some(stage) = &h.stage {
            if !h.write {
                return Err(FsError::BadHandle);
            }
            let mut st = stage.lock().expect("mem lock");
            st.data.set_len(size);
            st.dirty = true;
            return Ok(());
        }
        self.enter().await?;
        if !h.write {
            return Err(FsError::BadHandle);
        }
        self.with(|s| {
            s.file(h)?.set_len(size);
            Ok(())
        })
    }

    async fn truncate(&self, path: &RelPath, size: u64) -> Result<(), FsError> {
        self.enter().await?;
        self.with(|s| match s.node(path)? {
            Node::File(id) => {
                s.files.get_mut(&id).expect("file").set_len(size);
                Ok(())
            }
            Node::Dir(_) => Err(FsError::IsDirectory),
        })
    }

    async fn set_times(&self, path: &RelPath, times: Times) -> Result<(), FsError> {
        self.enter().await?;
        self.with(|s| match s.node(path)? {
            Node::File(id) => {
                let f = s.files.get_mut(&id).expect("file");
                if let Some(m) = times.mtime {
                    f.mtime = Some(m);
                }
                if let Some(a) = times.atime {
                    f.atime = Some(a);
                }
                Ok(())
            }
            Node::Dir(_) => {
                if let Some(m) = times.mtime {
                    s.tree.insert(path.clone(), Node::Dir(m));
                }
                Ok(())
            }
        })
    }

    /// Like SMB, refuses to flush a handle opened without write access.
    async fn flush(&self, h: &MemHandle) -> Result<(), FsError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        if h.stage.is_some() {
            return self.upload(h).await;
        }
        self.enter().await?;
        if !h.write {
            return Err(FsError::PermissionDenied);
        }
        self.with(|s| s.file(h).map(|_| ()))
    }

    async fn close(&self, h: MemHandle) -> Result<(), FsError> {
        if h.stage.is_some() {
            return self.upload(&h).await;
        }
        self.enter().await?;
        self.with(|s| {
            // A file removed while open lives until its last close; this
            // back end keeps such data until the process ends (tests).
            s.file(&h).map(|_| ())
        })
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Attr, FsError> {
        self.enter().await?;
        self.with(|s| {
            match s.node(path) {
                Ok(_) => return Err(FsError::Exists),
                Err(FsError::NotFound) => {}
                Err(e) => return Err(e),
            }
            s.parent_dir(path)?;
            let n = Node::Dir(SystemTime::now());
            s.tree.insert(path.clone(), n);
            s.touch_parent(path);
            Ok(s.attr(n))
        })
    }

    async fn rmdir(&self, path: &RelPath) -> Result<(), FsError> {
        self.enter().await?;
        self.with(|s| match s.node(path)? {
            Node::File(_) => Err(FsError::NotDirectory),
            Node::Dir(_) if path.is_root() => Err(FsError::Busy),
            Node::Dir(_) if s.has_children(path) => Err(FsError::NotEmpty),
            Node::Dir(_) => {
                s.tree.remove(path);
                s.touch_parent(path);
                Ok(())
            }
        })
    }

    async fn unlink(&self, path: &RelPath) -> Result<(), FsError> {
        self.enter().await?;
        self.with(|s| match s.node(path)? {
            Node::Dir(_) => Err(FsError::IsDirectory),
            Node::File(_) => {
                s.tree.remove(path);
                s.touch_parent(path);
                Ok(())
            }
        })
    }

    async fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), FsError> {
        self.enter().await?;
        self.with(|s| {
            let src = s.node(from)?;
            s.parent_dir(to)?;
            let prefix = format!("{}/", from.as_str());
            if to.as_str().starts_with(&prefix) {
                return Err(FsError::InvalidArgument);
            }
            if from == to {
                return Ok(());
            }
            match (src, s.node(to)) {
                (_, Err(FsError::NotFound)) => {}
                (_, Err(e)) => return Err(e),
                (Node::File(_), Ok(Node::Dir(_))) => return Err(FsError::IsDirectory),
                (Node::Dir(_), Ok(Node::File(_))) => return Err(FsError::NotDirectory),
                (Node::Dir(_), Ok(Node::Dir(_))) if s.has_children(to) => {
                    return Err(FsError::NotEmpty);
                }
                (_, Ok(_)) => {}
            }
            s.tree.remove(to);
            let moved: Vec<(RelPath, Node)> = s
                .tree
                .iter()
                .filter(|(p, _)| *p == from || p.as_str().starts_with(&prefix))
                .map(|(p, n)| (p.clone(), *n))
                .collect();
            for (p, _) in &moved {
                s.tree.remove(p);
            }
            for (p, n) in moved {
                let rest = &p.as_str()[from.as_str().len()..];
                let new = RelPath::new(&format!("{}{rest}", to.as_str()))?;
                s.tree.insert(new, n);
            }
            s.touch_parent(from);
            s.touch_parent(to);
            Ok(())
        })
    }

    async fn statfs(&self) -> Result<StatFs, FsError> {
        self.enter().await?;
        Ok(StatFs {
            block_size: 4096,
            blocks: 1 << 30,
            free: 1 << 29,
            available: 1 << 29,
        })
    }
}
