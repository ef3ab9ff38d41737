/*!
The SFTP back end of mpr's own file system: [`SftpBackend`] implements
[`mpr_fs::Backend`] over an `ssh -s sftp` child of the system's OpenSSH,
so `~/.ssh/config`, the agent, `ProxyJump`, `known_hosts`, FIDO and
certificate keys work exactly as they do for `ssh`.

# What it speaks

- SFTP version 3 with OpenSSH's extensions, through the
  [`openssh_sftp_client`] crate: many requests in flight on one channel
  (a large read or write is split at the server's limits, which the
  `limits@openssh.com` extension reports, and the pieces are sent
  together), `posix-rename@openssh.com` for a rename that replaces its
  target atomically (an editor's safe save), `fsync@openssh.com` for
  `fsync(2)`, `statvfs@openssh.com` for `statfs(2)`.
- SFTP's status codes say little (`SSH_FX_FAILURE` stands for "not
  empty", "exists", "is a directory" and more), so a failure is looked at
  again where it matters ([`status`]): an `rmdir` refused is `ENOTEMPTY`
  when the directory has entries, a `mkdir` refused is `EEXIST` when the
  name exists, and so on.

# Sessions

[`SftpBackend::connect`] starts a new `ssh` ([`ssh::command`]) and
replaces the old session; an [`SftpHandle`] of an older session answers
[`FsError::Disconnected`], so the layer above opens the file again. ssh
shares one connection per host, port and user through a control master
(a socket in a private directory), so a second connection to the same
server, and every reconnect while the server is up, skip the SSH
handshake. A master left behind by a dead one is a socket nothing listens
on: ssh removes it and becomes the master itself.

A password reaches ssh through [`askpass`]: never in an argv, the
environment or a file. On a processor with AES instructions, ssh is asked
to prefer AES-GCM unless the user's ssh configuration chose ciphers
([`ciphers`]).
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod askpass;
pub mod ciphers;
pub mod ssh;
pub mod status;

use mpr_fs::handshake::{Password, Request};
use mpr_fs::{
    Attr, Backend, Bytes, ConnectError, DirEntry, FileKind, FsError, OpenFlags, RelPath, Special,
    StatFs, Times,
};
use openssh_sftp_client::file::File;
use openssh_sftp_client::metadata::{MetaData, MetaDataBuilder};
use openssh_sftp_client::{Error, Sftp, SftpOptions, UnixTimeStamp};
use status::Kind;
use std::fmt;
use std::io::IoSlice;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncBufReadExt, AsyncSeek};

/// The size in which large reads and writes are split into requests sent
/// together: OpenSSH's own limit (256 KiB less 1 KiB of header room, as
/// its server reports with `limits@openssh.com`). The client cuts a request
/// further to whatever the server reported, and a piece answered short is
/// continued where it stopped, so a server with smaller limits is served
/// too.
pub const CHUNK: u32 = 256 * 1024 - 1024;

/// The size asked for the pipes to and from `ssh`.
const PIPE_SIZE: usize = 1 << 20;

/// The ssh program when none is named.
pub const SSH: &str = "ssh";

/// Where and as whom to connect, and how.
#[derive(Clone)]
pub struct SftpConfig {
    /// Host name, address or an alias of the ssh configuration.
    pub host: String,
    /// The port (`None`: ssh's, from its configuration or 22).
    pub port: Option<u16>,
    /// The login (`None`: ssh's, from its configuration or the local
    /// user name).
    pub user: Option<String>,
    /// The directory on the server that is the root of the mount: an
    /// absolute path, or a path relative to the login's home directory
    /// (empty: the home directory).
    pub base: String,
    /// The password, if any (then only password authentication is tried).
    pub password: Option<Password>,
    /// An ssh configuration file (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
    /// The private (0700) directory of the control masters and the
    /// askpass socket (`None`: no master is shared).
    pub control_dir: Option<PathBuf>,
    /// The askpass program (`mpr-askpass`), needed with a password.
    pub askpass_program: Option<PathBuf>,
    /// The ssh program.
    pub ssh_program: PathBuf,
    /// The `Ciphers` order asked of ssh ([`ciphers`]; `None`: ssh's own).
    pub ciphers: Option<String>,
    /// The bound on the whole connect (ssh, authentication, SFTP, the
    /// base directory).
    pub connect_timeout: Duration,
}

impl fmt::Debug for SftpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("base", &self.base)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssh_config", &self.ssh_config)
            .field("control_dir", &self.control_dir)
            .field("askpass_program", &self.askpass_program)
            .field("ssh_program", &self.ssh_program)
            .field("ciphers", &self.ciphers)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl SftpConfig {
    /// The configuration a handshake [`Request`] asks for: host, port,
    /// user, password, the path (the base directory), and from its
    /// options `ssh_config` and `control_dir` (paths). The askpass program
    /// is `mpr-askpass` beside the running program.
    pub fn from_request(req: &Request) -> SftpConfig {
        let opt = |k: &str| {
            req.options
                .get(k)
                .and_then(|v| v.as_str())
                .map(PathBuf::from)
        };
        let ssh_config = opt("ssh_config");
        SftpConfig {
            ciphers: ciphers::preference(ssh_config.as_deref()).map(String::from),
            host: req.host.clone(),
            port: req.port,
            user: req.user.clone(),
            base: req.path.clone(),
            password: req.password.clone().filter(|p| !p.expose().is_empty()),
            ssh_config,
            control_dir: opt("control_dir"),
            askpass_program: std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join(askpass::PROGRAM))),
            ssh_program: PathBuf::from(SSH),
            connect_timeout: Duration::from_secs(req.op_timeout_secs.max(1)),
        }
    }

    /// A configuration for unit tests.
    #[cfg(test)]
    pub(crate) fn for_test(host: &str, base: &str) -> SftpConfig {
        SftpConfig {
            host: host.into(),
            port: None,
            user: None,
            base: base.into(),
            password: None,
            ssh_config: None,
            control_dir: None,
            askpass_program: None,
            ssh_program: PathBuf::from(SSH),
            ciphers: None,
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// `host[:port]`, for messages.
    pub fn server(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// One established session.
struct Live {
    sftp: Sftp,
    /// The mount's root on the server: absolute, without a trailing `/`
    /// (empty for `/`).
    base: String,
    generation: u64,
    /// Set once a call saw the session die, so later calls fail at once.
    dead: AtomicBool,
    /// The ssh child (killed when the session is dropped).
    _child: tokio::process::Child,
    read_len: u32,
    write_len: u32,
    fsync: bool,
    statvfs: bool,
}

/// An open file: the server's handle and the session it belongs to.
pub struct SftpHandle {
    file: Mutex<Option<File>>,
    generation: u64,
    readable: bool,
    writable: bool,
    path: RelPath,
}

impl fmt::Debug for SftpHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpHandle")
            .field("path", &self.path)
            .field("generation", &self.generation)
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

impl SftpHandle {
    /// A copy of the file (the same server handle, its own offset) at
    /// `offset`.
    fn at(&self, offset: u64) -> Result<File, FsError> {
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(FsError::BadHandle)?;
        Pin::new(&mut f)
            .start_seek(std::io::SeekFrom::Start(offset))
            .map_err(|e| FsError::Io(e.to_string()))?;
        Ok(f)
    }
}

/// The SFTP back end.
pub struct SftpBackend {
    config: SftpConfig,
    live: RwLock<Option<Arc<Live>>>,
    generation: AtomicU64,
    connecting: tokio::sync::Mutex<Option<askpass::Server>>,
    /// ssh refused the cipher order once: it is not asked again.
    ciphers_refused: AtomicBool,
}

/// How starting ssh and its SFTP session went.
enum Start {
    /// The session, and the ssh child that carries it.
    Up(Sftp, tokio::process::Child),
    /// ssh ended first: what it said, and the client's error.
    Ended(String, openssh_sftp_client::Error),
}

impl fmt::Debug for SftpBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpBackend")
            .field("config", &self.config)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SftpBackend {
    /// A back end for `config`, not yet connected (call
    /// [`Backend::connect`]).
    pub fn new(config: SftpConfig) -> SftpBackend {
        SftpBackend {
            config,
            live: RwLock::new(None),
            generation: AtomicU64::new(0),
            connecting: tokio::sync::Mutex::new(None),
            ciphers_refused: AtomicBool::new(false),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &SftpConfig {
        &self.config
    }

    /// Whether a session is established and not known to be lost.
    pub fn is_connected(&self) -> bool {
        self.current().is_ok()
    }

    /// Drops the session (ssh ends); later calls answer
    /// [`FsError::Disconnected`] until the next connect.
    pub fn disconnect(&self) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The mount's root as the server resolved it (an absolute path).
    pub fn base(&self) -> Option<String> {
        let live = self.current().ok()?;
        Some(if live.base.is_empty() {
            "/".into()
        } else {
            live.base.clone()
        })
    }

    fn current(&self) -> Result<Arc<Live>, FsError> {
        let live = self
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| FsError::Disconnected("not connected".into()))?;
        if live.dead.load(Ordering::Relaxed) {
            return Err(FsError::Disconnected(
                "the connection to the server was lost".into(),
            ));
        }
        Ok(live)
    }

    fn for_handle(&self, handle: &SftpHandle) -> Result<Arc<Live>, FsError> {
        let live = self.current()?;
        if live.generation != handle.generation {
            return Err(FsError::Disconnected(
                "the file was opened in a session that has ended".into(),
            ));
        }
        Ok(live)
    }

    /// Maps a client error and, when it means the session is gone, marks
    /// it so.
    fn fail(&self, live: &Live, e: Error) -> FsError {
        let err = status::fs_error(e);
        if matches!(err, FsError::Disconnected(_)) {
            live.dead.store(true, Ordering::Relaxed);
        }
        err
    }

    /// The server's path of `path`.
    fn full(live: &Live, path: &RelPath) -> String {
        if path.is_root() {
            if live.base.is_empty() {
                "/".into()
            } else {
                live.base.clone()
            }
        } else {
            format!("{}/{}", live.base, path.as_str())
        }
    }

    async fn establish(&self, askpass: &mut Option<askpass::Server>) -> Result<Live, ConnectError> {
        let c = &self.config;
        let at = c.server();
        let ask = match &c.password {
            None => None,
            Some(pw) => {
                if askpass.is_none() {
                    let dir = c.control_dir.clone().unwrap_or_else(std::env::temp_dir);
                    let srv = askpass::Server::start(&dir, pw.clone()).map_err(|e| {
                        ConnectError::Other(format!(
                            "cannot make the askpass socket in {}: {e}",
                            dir.display()
                        ))
                    })?;
                    *askpass = Some(srv);
                }
                let program = c.askpass_program.clone().ok_or_else(|| {
                    ConnectError::Other(format!("no {} to give ssh the password", askpass::PROGRAM))
                })?;
                if !program.is_file() {
                    return Err(ConnectError::Other(format!(
                        "cannot find {} (ssh needs it for the password)",
                        program.display()
                    )));
                }
                let srv = askpass.as_ref().expect("made above");
                Some((program, srv.socket().to_path_buf()))
            }
        };
        let mut ciphers = c
            .ciphers
            .as_deref()
            .filter(|_| !self.ciphers_refused.load(Ordering::Relaxed));
        let (sftp, child) = loop {
            match self
                .start_ssh(askpass.as_ref(), ask.as_ref(), ciphers)
                .await?
            {
                Start::Up(sftp, child) => break (sftp, child),
                Start::Ended(text, e) => {
                    if ciphers.is_some() && ciphers::refused(&text) {
                        // This ssh does not take the order (built without
                        // AES-GCM, or older than `^`): its own choice, from
                        // now on.
                        eprintln!("mpr: ssh refused the cipher order; connecting with its own");
                        self.ciphers_refused.store(true, Ordering::Relaxed);
                        ciphers = None;
                        continue;
                    }
                    let ce = ssh::classify(&text, c.password.is_some(), &at);
                    if matches!(ce, ConnectError::Other(_)) && text.trim().is_empty() {
                        return Err(ConnectError::Other(format!(
                            "the SFTP session with {at} did not start: {e}"
                        )));
                    }
                    return Err(ce);
                }
            }
        };
        let mut fs = sftp.fs();
        let want = if c.base.is_empty() {
            "."
        } else {
            c.base.as_str()
        };
        let base = match fs.canonicalize(want).await {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => return Err(base_error(e, &at, &c.base)),
        };
        match fs.metadata(&base).await {
            Ok(m) if m.file_type().is_some_and(|t| t.is_dir()) => {}
            Ok(_) => {
                return Err(ConnectError::NoSuchShare(format!(
                    "{at} has no directory {:?} ({base} is not a directory)",
                    c.base
                )));
            }
            Err(e) => return Err(base_error(e, &at, &c.base)),
        }
        let base = base.trim_end_matches('/').to_string();
        Ok(Live {
            read_len: CHUNK,
            write_len: CHUNK,
            fsync: sftp.support_fsync(),
            statvfs: sftp.support_statvfs(),
            sftp,
            base,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            dead: AtomicBool::new(false),
            _child: child,
        })
    }

    /// Starts `ssh -s sftp` (with the askpass server armed for it, if
    /// there is a password) and the SFTP session over its pipes.
    async fn start_ssh(
        &self,
        askpass: Option<&askpass::Server>,
        ask: Option<&(PathBuf, PathBuf)>,
        ciphers: Option<&str>,
    ) -> Result<Start, ConnectError> {
        let c = &self.config;
        if let Some(srv) = askpass {
            srv.arm();
        }
        let mut cmd = ssh::command(c, ask.map(|(p, s)| (p.as_path(), s.as_path())), ciphers);
        let mut child = cmd.spawn().map_err(|e| {
            ConnectError::Other(format!("cannot run {}: {e}", c.ssh_program.display()))
        })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        // Room for a whole request or answer of the data path in each pipe
        // (64 KiB by default): a 256 KiB WRITE then goes to ssh in one
        // write, not in four with a wake-up of each side between them.
        // What the system allows of it (fs.pipe-max-size, 1 MiB by
        // default, for every user) is taken; less is not an error.
        use std::os::fd::AsFd;
        for pipe in [stdin.as_fd(), stdout.as_fd()] {
            let _ = rustix::pipe::fcntl_setpipe_size(pipe, PIPE_SIZE);
        }
        // ssh's messages: kept for the classification, and copied to our
        // standard error (the connection's log).
        let said = Arc::new(Mutex::new(String::new()));
        let said_task = {
            let said = Arc::clone(&said);
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("ssh: {line}");
                    let mut s = said.lock().unwrap_or_else(|e| e.into_inner());
                    if s.len() < 64 * 1024 {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            })
        };
        // Each request is sent at once: the client's default holds requests
        // back up to 0.5 ms to batch them, which a program's one-at-a-time
        // calls (create, write, close of small files) pay every time.
        let options = SftpOptions::new().flush_interval(Duration::ZERO);
        let started = Sftp::new(stdin, stdout, options).await;
        if let Some(srv) = askpass {
            srv.disarm();
        }
        match started {
            Ok(s) => Ok(Start::Up(s, child)),
            Err(e) => {
                // ssh ended (or speaks no SFTP): its messages say why.
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                let _ = tokio::time::timeout(Duration::from_secs(2), said_task).await;
                let text = said.lock().unwrap_or_else(|e| e.into_inner()).clone();
                Ok(Start::Ended(text, e))
            }
        }
    }

    /// The attributes of what `full` names, following links; a link
    /// whose target is missing shows as the link itself.
    async fn stat_full(&self, live: &Live, full: &str) -> Result<Attr, FsError> {
        let mut fs = live.sftp.fs();
        // The name itself first (`LSTAT`): one round trip for a file, a
        // directory or a name that does not exist (every create looks its
        // name up first); only a link costs a second, for what it points at.
        let own = attr(
            &fs.symlink_metadata(full)
                .await
                .map_err(|e| self.fail(live, e))?,
        );
        if own.kind != FileKind::Symlink {
            return Ok(own);
        }
        match fs.metadata(full).await.map_err(|e| self.fail(live, e)) {
            Ok(m) => Ok(attr(&m)),
            Err(FsError::NotFound) => Ok(own),
            Err(e) => Err(e),
        }
    }

    /// The kind of what `full` names, if anything (for a failure's
    /// reason).
    async fn kind_of(&self, live: &Live, full: &str) -> Option<FileKind> {
        self.stat_full(live, full).await.ok().map(|a| a.kind)
    }

    async fn list_full(&self, live: &Live, full: &str) -> Result<Vec<DirEntry>, FsError> {
        use futures_core::Stream;
        let mut fs = live.sftp.fs();
        let dir = fs.open_dir(full).await.map_err(|e| self.fail(live, e))?;
        let mut entries = Box::pin(dir.read_dir());
        let mut out = Vec::new();
        while let Some(entry) = std::future::poll_fn(|cx| entries.as_mut().poll_next(cx)).await {
            let entry = entry.map_err(|e| self.fail(live, e))?;
            let Some(name) = entry.filename().to_str() else {
                // Not UTF-8: no path of this file system can name it.
                continue;
            };
            if name == "." || name == ".." || name.is_empty() {
                continue;
            }
            let name = name.to_string();
            let mut a = attr(&entry.metadata());
            if a.kind == FileKind::Symlink {
                // What it points at (a link is followed on the server, so
                // a target given as a server path works); a dangling link
                // stays a link, and `readlink` shows where it points.
                let target = format!("{}/{name}", full.trim_end_matches('/'));
                if let Ok(t) = fs.metadata(&target).await {
                    a = attr(&t);
                }
            }
            out.push(DirEntry { name, attr: a });
        }
        Ok(out)
    }

    async fn read_chunk(
        &self,
        live: &Live,
        h: &SftpHandle,
        offset: u64,
        len: u32,
    ) -> Result<Bytes, FsError> {
        // The buffer the client filled is handed on as it is when it holds
        // the whole piece (a server answering short is continued).
        let mut out = bytes::BytesMut::new();
        while (out.len() as u32) < len {
            let mut f = h.at(offset + out.len() as u64)?;
            let want = len - out.len() as u32;
            match f
                .read(want, bytes::BytesMut::with_capacity(want as usize))
                .await
            {
                Ok(Some(b)) if !b.is_empty() => {
                    let short = (b.len() as u32) < want;
                    if out.is_empty() {
                        out = b;
                    } else {
                        out.extend_from_slice(&b);
                    }
                    if short {
                        break;
                    }
                }
                Ok(_) => break,
                Err(e) => return Err(self.fail(live, e)),
            }
        }
        Ok(out.freeze())
    }

    /// Writes `data` at `offset`, continuing where a piece was answered
    /// short. Sent as an `IoSlice`: the client copies it into its buffer
    /// whole, where its plain `write` serializes a slice byte by byte
    /// (half of mpr-fsd's time in a large write went there).
    async fn write_chunk(
        &self,
        live: &Live,
        h: &SftpHandle,
        offset: u64,
        data: &[u8],
    ) -> Result<(), FsError> {
        let mut done = 0usize;
        while done < data.len() {
            let mut f = h.at(offset + done as u64)?;
            let n = f
                .write_vectorized(&[IoSlice::new(&data[done..])])
                .await
                .map_err(|e| self.fail(live, e))?;
            if n == 0 {
                return Err(FsError::Io("the server wrote nothing".into()));
            }
            done += n;
        }
        Ok(())
    }

    async fn set_meta(&self, live: &Live, full: &str, m: MetaData) -> Result<(), FsError> {
        live.sftp
            .fs()
            .set_metadata(full, m)
            .await
            .map_err(|e| self.fail(live, e))
    }
}

/// The connect error for a base directory that cannot be used.
fn base_error(e: Error, at: &str, base: &str) -> ConnectError {
    match status::kind(&e) {
        Some(Kind::NoSuchFile) => {
            ConnectError::NoSuchShare(format!("{at} has no directory {base:?}"))
        }
        Some(Kind::PermissionDenied) => {
            ConnectError::AccessDenied(format!("{at} does not let you into {base:?}"))
        }
        _ => ConnectError::Other(format!("{at}: the directory {base:?} cannot be used: {e}")),
    }
}

fn time(t: Option<UnixTimeStamp>) -> SystemTime {
    t.map_or(SystemTime::UNIX_EPOCH, UnixTimeStamp::as_system_time)
}

fn attr(m: &MetaData) -> Attr {
    let kind = match m.file_type() {
        Some(t) if t.is_dir() => FileKind::Directory,
        Some(t) if t.is_symlink() => FileKind::Symlink,
        Some(t) if t.is_fifo() => FileKind::Special(Special::Fifo),
        Some(t) if t.is_socket() => FileKind::Special(Special::Socket),
        Some(t) if t.is_char_device() => FileKind::Special(Special::CharDevice),
        Some(t) if t.is_block_device() => FileKind::Special(Special::BlockDevice),
        _ => FileKind::File,
    };
    let mtime = time(m.modified());
    Attr {
        kind,
        size: if matches!(kind, FileKind::Directory | FileKind::Special(_)) {
            0
        } else {
            m.len().unwrap_or(0)
        },
        mtime,
        atime: m.accessed().map_or(mtime, UnixTimeStamp::as_system_time),
        // SFTP v3 has no change time.
        ctime: mtime,
        perm: m.permissions().map(|p| (p.as_raw().bits() & 0o7777) as u16),
        readonly: false,
    }
}

/// A time SFTP can carry (whole seconds since 1970, 32 bits).
fn stamp(t: SystemTime) -> Result<UnixTimeStamp, FsError> {
    UnixTimeStamp::new(t).map_err(|_| FsError::InvalidArgument)
}

/// Awaits two futures together, polling `a` before `b` each time, so that
/// the request `a` sends is queued on the channel before `b`'s.
async fn in_order<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.expect("ready"), rb.expect("ready"))
}

/// Awaits futures together (their requests share the channel, so they
/// are in flight at once), keeping their order.
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// How long `ssh -O exit` may take to end a stuck master.
const MASTER_EXIT_WAIT: Duration = Duration::from_secs(2);

impl Backend for SftpBackend {
    type Handle = SftpHandle;

    /// Starts ssh, authenticates (a shared master if one is up), starts
    /// SFTP and resolves the base directory, then replaces the session
    /// (handles of the old one answer [`FsError::Disconnected`]). Bounded
    /// by [`SftpConfig::connect_timeout`].
    async fn connect(&self) -> Result<(), FsError> {
        let mut askpass = self.connecting.lock().await;
        let bound = self.config.connect_timeout;
        let live = match tokio::time::timeout(bound, self.establish(&mut askpass)).await {
            Ok(Ok(live)) => live,
            Ok(Err(e)) => return Err(FsError::Connect(e)),
            Err(_) => {
                if let Some(srv) = askpass.as_ref() {
                    srv.disarm();
                }
                return Err(FsError::Connect(ConnectError::Unreachable(format!(
                    "{} did not answer within {} s: timed out",
                    self.config.server(),
                    bound.as_secs()
                ))));
            }
        };
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(live));
        Ok(())
    }

    /// The server writes what a WRITE carries before it answers (OpenSSH's
    /// `pwrite`), so an acknowledged write is in the file, seen by every
    /// client: a `close(2)` waits for the writes and needs no
    /// `fsync@openssh.com` (a round trip per file); `fsync(2)` still sends
    /// it.
    fn flush_at_close(&self) -> bool {
        false
    }

    async fn stat(&self, path: &RelPath) -> Result<Attr, FsError> {
        let live = self.current()?;
        self.stat_full(&live, &Self::full(&live, path)).await
    }

    async fn list(&self, dir: &RelPath) -> Result<Vec<DirEntry>, FsError> {
        let live = self.current()?;
        self.list_full(&live, &Self::full(&live, dir)).await
    }

    async fn open(&self, path: &RelPath, flags: OpenFlags) -> Result<(SftpHandle, Attr), FsError> {
        let live = self.current()?;
        let full = Self::full(&live, path);
        let writable = flags.write || flags.truncate;
        let readable = flags.read || !writable;
        let mut o = live.sftp.options();
        o.read(readable).write(writable);
        if flags.create {
            o.create(true)
                .create_new(flags.exclusive)
                .truncate(flags.truncate);
        }
        // The OPEN and a STAT of the same path go out together: the server
        // answers requests about one file as if they came one at a time
        // (SFTP's rule, which OpenSSH's server keeps by serving them in
        // order), so the STAT sees the file the OPEN made or opened, and
        // an open costs one round trip, not two. An O_TRUNC without a
        // create cuts the file after the OPEN: then the STAT follows that.
        let cut_after = flags.truncate && !flags.create;
        let mut fs = live.sftp.fs();
        let (opened, stat) = if cut_after {
            (o.open(&full).await, None)
        } else {
            let (f, m) = in_order(o.open(&full), fs.metadata(&full)).await;
            (f, Some(m))
        };
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                let err = self.fail(&live, e);
                if !status::is_failure(&err) {
                    return Err(err);
                }
                let kind = match stat {
                    Some(m) => m.ok().map(|m| attr(&m).kind),
                    None => self.kind_of(&live, &full).await,
                };
                return Err(match kind {
                    Some(FileKind::Directory) => FsError::IsDirectory,
                    Some(_) if flags.create && flags.exclusive => FsError::Exists,
                    _ => err,
                });
            }
        };
        let handle = SftpHandle {
            file: Mutex::new(Some(file)),
            generation: live.generation,
            readable,
            writable,
            path: path.clone(),
        };
        let meta = match stat {
            Some(m) => m,
            None => {
                // SFTP truncates only together with a create: the FSETSTAT
                // and the STAT go out together, in that order.
                let mut f = handle.at(0)?;
                let (cut, m) = in_order(f.set_len(0), fs.metadata(&full)).await;
                cut.map_err(|e| self.fail(&live, e))?;
                m
            }
        };
        let attr = attr(&meta.map_err(|e| self.fail(&live, e))?);
        if attr.kind == FileKind::Directory {
            return Err(FsError::IsDirectory);
        }
        Ok((handle, attr))
    }

    async fn read(&self, handle: &SftpHandle, offset: u64, len: u32) -> Result<Bytes, FsError> {
        let live = self.for_handle(handle)?;
        if !handle.readable {
            return Err(FsError::BadHandle);
        }
        let chunk = live.read_len;
        if len <= chunk {
            return self.read_chunk(&live, handle, offset, len).await;
        }
        let mut parts = Vec::new();
        let mut pos = 0u32;
        while pos < len {
            let n = chunk.min(len - pos);
            parts.push(self.read_chunk(&live, handle, offset + u64::from(pos), n));
            pos += n;
        }
        let mut out = Vec::with_capacity(len as usize);
        for part in join_all(parts).await {
            let part = part?;
            let short = (part.len() as u32) < chunk;
            out.extend_from_slice(&part);
            if short {
                break;
            }
        }
        Ok(out.into())
    }

    async fn write(&self, handle: &SftpHandle, offset: u64, data: &[u8]) -> Result<(), FsError> {
        let live = self.for_handle(handle)?;
        if !handle.writable {
            return Err(FsError::BadHandle);
        }
        let chunk = live.write_len as usize;
        if data.len() <= chunk {
            return self.write_chunk(&live, handle, offset, data).await;
        }
        let parts = data
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| self.write_chunk(&live, handle, offset + (i * chunk) as u64, c))
            .collect();
        join_all(parts).await.into_iter().collect()
    }

    /// A write of one request has a STAT of `path` sent right behind it:
    /// the server answers it after the write (requests about one file are
    /// answered as if they came one at a time), so its attributes include
    /// the write, and the wait is the write's alone.
    async fn write_and_stat(
        &self,
        handle: &SftpHandle,
        offset: u64,
        data: &[u8],
        path: &RelPath,
    ) -> Result<Option<Attr>, FsError> {
        let live = self.for_handle(handle)?;
        if !handle.writable {
            return Err(FsError::BadHandle);
        }
        if data.is_empty() || data.len() > live.write_len as usize {
            return self.write(handle, offset, data).await.map(|()| None);
        }
        let full = Self::full(&live, path);
        let mut f = handle.at(offset)?;
        let mut fs = live.sftp.fs();
        let bufs = [IoSlice::new(data)];
        let (wrote, stat) = in_order(f.write_vectorized(&bufs), fs.metadata(&full)).await;
        let n = wrote.map_err(|e| self.fail(&live, e))?;
        if n < data.len() {
            // The server took only part of it; the STAT came before the
            // rest.
            self.write_chunk(&live, handle, offset + n as u64, &data[n..])
                .await?;
            return Ok(None);
        }
        Ok(stat.ok().map(|m| attr(&m)))
    }

    async fn set_len(&self, handle: &SftpHandle, size: u64) -> Result<(), FsError> {
        let live = self.for_handle(handle)?;
        if !handle.writable {
            let full = Self::full(&live, &handle.path);
            return self
                .set_meta(&live, &full, MetaDataBuilder::new().len(size).create())
                .await;
        }
        let mut f = handle.at(0)?;
        f.set_len(size).await.map_err(|e| self.fail(&live, e))
    }

    async fn truncate(&self, path: &RelPath, size: u64) -> Result<(), FsError> {
        let live = self.current()?;
        let full = Self::full(&live, path);
        match self
            .set_meta(&live, &full, MetaDataBuilder::new().len(size).create())
            .await
        {
            Err(e) if status::is_failure(&e) => match self.kind_of(&live, &full).await {
                Some(FileKind::Directory) => Err(FsError::IsDirectory),
                _ => Err(e),
            },
            r => r,
        }
    }

    /// SFTP stores modes: `chmod` through the drive changes the file on
    /// the server (the server applies its own rules, as for `chmod` there).
    async fn set_perm(&self, path: &RelPath, perm: u16) -> Result<(), FsError> {
        let live = self.current()?;
        let full = Self::full(&live, path);
        let perm = openssh_sftp_client::metadata::Permissions::from(perm & 0o7777);
        self.set_meta(
            &live,
            &full,
            MetaDataBuilder::new().permissions(perm).create(),
        )
        .await
    }

    /// SFTP v3 sets both times at once, in whole seconds: a time not given
    /// is kept by sending the one the server has.
    async fn set_times(&self, path: &RelPath, times: Times) -> Result<(), FsError> {
        let live = self.current()?;
        let full = Self::full(&live, path);
        let (a, m) = match (times.atime, times.mtime) {
            // Both given (`touch`, `cp -p`): nothing to ask first.
            (Some(a), Some(m)) => (a, m),
            (a, m) => {
                let now = self.stat_full(&live, &full).await?;
                if a.is_none() && m.is_none() {
                    return Ok(());
                }
                (a.unwrap_or(now.atime), m.unwrap_or(now.mtime))
            }
        };
        let (a, m) = (stamp(a)?, stamp(m)?);
        self.set_meta(&live, &full, MetaDataBuilder::new().time(a, m).create())
            .await
    }

    async fn flush(&self, handle: &SftpHandle) -> Result<(), FsError> {
        let live = self.for_handle(handle)?;
        if !live.fsync || !handle.writable {
            // Every write the server acknowledged is in its file already.
            return Ok(());
        }
        let mut f = handle.at(0)?;
        f.sync_all().await.map_err(|e| self.fail(&live, e))
    }

    async fn close(&self, handle: SftpHandle) -> Result<(), FsError> {
        let live = match self.for_handle(&handle) {
            Ok(live) => live,
            // The server let go of the handle with its session; every write
            // it acknowledged had reached it.
            Err(_) if self.current().is_ok() => return Ok(()),
            Err(e) => return Err(e),
        };
        let file = handle.file.lock().unwrap_or_else(|e| e.into_inner()).take();
        match file {
            Some(f) => f.close().await.map_err(|e| self.fail(&live, e)),
            None => Ok(()),
        }
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Attr, FsError> {
        let live = self.current()?;
        let full = Self::full(&live, path);
        if let Err(e) = live.sftp.fs().create_dir(&full).await {
            let err = self.fail(&live, e);
            if status::is_failure(&err) && self.kind_of(&live, &full).await.is_some() {
                return Err(FsError::Exists);
            }
            return Err(err);
        }
        self.stat_full(&live, &full).await
    }

    async fn rmdir(&self, path: &RelPath) -> Result<(), FsError> {
        let live = self.current()?;
        let full = Self::full(&live, path);
        if let Err(e) = live.sftp.fs().remove_dir(&full).await {
            let err = self.fail(&live, e);
            if !status::is_failure(&err) {
                return Err(err);
            }
            return Err(match self.kind_of(&live, &full).await {
                Some(FileKind::Directory) => match self.list_full(&live, &full).await {
                    Ok(entries) if !entries.is_empty() => FsError::NotEmpty,
                    _ => err,
                },
                Some(_) => FsError::NotDirectory,
                None => FsError::NotFound,
            });
        }
        Ok(())
    }

    async fn unlink(&self, path: &RelPath) -> Result<(), FsError> {
        let live = self.current()?;
        let full = Self::full(&live, path);
        if let Err(e) = live.sftp.fs().remove_file(&full).await {
            let err = self.fail(&live, e);
            if status::is_failure(&err)
                && self.kind_of(&live, &full).await == Some(FileKind::Directory)
            {
                return Err(FsError::IsDirectory);
            }
            return Err(err);
        }
        Ok(())
    }

    /// `posix-rename@openssh.com` (`rename(2)` on the server: the target is
    /// replaced atomically) when the server has it; otherwise SFTP's own
    /// rename, which refuses an existing target, so a file there is
    /// removed first (not atomic).
    async fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), FsError> {
        let live = self.current()?;
        let (f, t) = (Self::full(&live, from), Self::full(&live, to));
        if from == to {
            return self.stat_full(&live, &f).await.map(drop);
        }
        let posix = live.sftp.support_posix_rename();
        let err = match live.sftp.fs().rename(&f, &t).await {
            Ok(()) => return Ok(()),
            Err(e) => self.fail(&live, e),
        };
        if !status::is_failure(&err) {
            return Err(err);
        }
        let (Some(src), dst) = (self.kind_of(&live, &f).await, self.kind_of(&live, &t).await)
        else {
            return Err(FsError::NotFound);
        };
        match (src, dst) {
            (FileKind::Directory, Some(FileKind::Directory)) => {
                match self.list_full(&live, &t).await {
                    Ok(entries) if !entries.is_empty() => Err(FsError::NotEmpty),
                    Ok(_) if !posix => {
                        self.rmdir(to).await?;
                        live.sftp
                            .fs()
                            .rename(&f, &t)
                            .await
                            .map_err(|e| self.fail(&live, e))
                    }
                    _ => Err(err),
                }
            }
            (FileKind::Directory, Some(_)) => Err(FsError::NotDirectory),
            (_, Some(FileKind::Directory)) => Err(FsError::IsDirectory),
            (_, Some(_)) if !posix => {
                self.unlink(to).await?;
                live.sftp
                    .fs()
                    .rename(&f, &t)
                    .await
                    .map_err(|e| self.fail(&live, e))
            }
            _ => Err(err),
        }
    }

    /// The session is stuck: it is marked lost, and the shared ssh master
    /// carrying it is told to leave (within `MASTER_EXIT_WAIT`, 2 s), so
    /// that the reconnect makes a new SSH connection. Other mounts of the
    /// same server rode that master too; they were just as stuck, and
    /// reconnect the same way.
    async fn abandon_stuck(&self) {
        if let Some(live) = self.live.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            live.dead.store(true, Ordering::Relaxed);
        }
        let Some(mut cmd) = ssh::master_exit_command(&self.config) else {
            return;
        };
        if let Ok(mut child) = cmd.spawn()
            && tokio::time::timeout(MASTER_EXIT_WAIT, child.wait())
                .await
                .is_err()
        {
            let _ = child.kill().await;
        }
    }

    async fn read_link(&self, path: &RelPath) -> Result<String, FsError> {
        let live = self.current()?;
        let target = live
            .sftp
            .fs()
            .read_link(Self::full(&live, path))
            .await
            .map_err(|e| self.fail(&live, e))?;
        target
            .into_os_string()
            .into_string()
            .map_err(|t| FsError::InvalidName(t.to_string_lossy().into_owned()))
    }

    async fn statfs(&self) -> Result<StatFs, FsError> {
        let live = self.current()?;
        if !live.statvfs {
            return Ok(StatFs::default());
        }
        let root = Self::full(&live, &RelPath::root());
        let v = live
            .sftp
            .fs()
            .statvfs(&root)
            .await
            .map_err(|e| self.fail(&live, e))?;
        let unit = if v.frsize != 0 { v.frsize } else { v.bsize };
        let unit = if unit == 0 { 4096 } else { unit };
        Ok(StatFs {
            block_size: u32::try_from(unit).unwrap_or(u32::MAX),
            blocks: v.blocks,
            free: v.bfree,
            available: v.bavail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_fs::handshake::Protocol;

    #[test]
    fn a_request_becomes_a_config_without_showing_the_password() {
        let mut options = serde_json::Map::new();
        options.insert("ssh_config".into(), "/r/helpers/sftp.ssh_config".into());
        options.insert("control_dir".into(), "/r/ssh".into());
        let req = Request {
            protocol: Protocol::Sftp,
            host: "h".into(),
            port: Some(2222),
            share: String::new(),
            path: "export/sub".into(),
            user: Some("u".into()),
            domain: None,
            password: Some(Password::new("s3cret".into())),
            mountpoint: "/m".into(),
            health_file: "/h".into(),
            op_timeout_secs: 7,
            options,
            audit: None,
        };
        let c = SftpConfig::from_request(&req);
        assert_eq!(c.server(), "h:2222");
        assert_eq!(c.base, "export/sub");
        assert_eq!(c.connect_timeout, Duration::from_secs(7));
        assert_eq!(
            c.control_dir.as_deref(),
            Some(std::path::Path::new("/r/ssh"))
        );
        assert_eq!(
            c.askpass_program.unwrap().file_name().unwrap(),
            askpass::PROGRAM
        );
        let c = SftpConfig::from_request(&req);
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
