/*!
The SMB 2/3 back end of mpr's own file system: [`SmbBackend`] implements
[`mpr_fs::Backend`] on the pure-Rust [`smb2`] client.

# What it speaks

- SMB 2.0.2 up to 3.1.1 (the client offers 3.1.1 first), with signing
  whenever the session is not a guest's (AES-CMAC/GMAC on SMB 3), and
  encryption (AES-128/256-CCM/GCM) when the server asks for it for the
  whole session or for the share (see [`SmbBackend::connect`]; the
  NEGOTIATE says the client can encrypt, which `smb2` leaves out: see
  `negotiate.rs`).
- NTLMv2 with a user name, password and domain. (`smb2` also has Kerberos;
  the handshake's [`Request`] has no ticket cache to name yet, so this back
  end does not offer it.)
- Reads and writes go out as plain SMB2 READ/WRITE requests on a shared
  connection: every call of the layer above runs on a clone of the one
  [`smb2::client::connection::Connection`], whose clones share its credit
  window and send queue, so concurrent calls are in flight together (no
  lock around the client). A call larger than one request is split into
  requests sent together.

# Sessions, generations and reconnects

[`SmbBackend::connect`] builds a new session (TCP, negotiate, session
setup, tree connect, a check of the base path) and replaces the old one. The
client's own reconnect is off: a lost connection or an expired session
answers [`FsError::Disconnected`], and the layer above calls `connect`
again. A [`SmbHandle`] remembers the generation it was opened in; used after
a reconnect it answers `Disconnected` too (the server forgot it with the old
session), so the layer above opens the file again.

# Runtime

`smb2` spawns its reader and writer tasks on the current tokio runtime, so
every method must be called from inside one (a multi-threaded runtime lets
calls run in parallel).
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod handed;
mod negotiate;
mod read_answer;
pub mod status;

use mpr_fs::handshake::{Password, Request};
use mpr_fs::{
    Attr, Backend, Bytes, ConnectError, DirEntry, FileKind, FsError, OpenFlags, RelPath, StatFs,
    Times,
};
use negotiate::Asking;
use smb2::client::connection::Connection;
use smb2::client::session::Session;
use smb2::client::tree::{FileInfo, RenameOptions, Tree};
use smb2::crypto::encryption::Cipher;
use smb2::msg::close::CloseRequest;
use smb2::msg::create::{
    CreateDisposition, CreateRequest, CreateResponse, ImpersonationLevel, ShareAccess,
};
use smb2::msg::flush::FlushRequest;
use smb2::msg::query_info::InfoType;
use smb2::msg::read::{ReadRequest, SMB2_CHANNEL_NONE};
use smb2::msg::set_info::SetInfoRequest;
use smb2::msg::write::{WriteRequest, WriteResponse};
use smb2::pack::WriteCursor;
use smb2::pack::{FileTime, ReadCursor, Unpack};
use smb2::transport::{ConnectOptions, TcpTransport};
use smb2::types::flags::{Capabilities, FileAccessMask, FileAttributes};
use smb2::types::{Command, CreditCharge, FileId, OplockLevel};
use smb2::{ErrorKind, FileTimes};
use status::code;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

/// The SMB port when none is given.
pub const DEFAULT_PORT: u16 = 445;

/// The largest payload of one READ or WRITE request this back end sends
/// (capped further by what the server negotiated). 1 MiB costs 16 credits,
/// so many requests fit in the server's window at once.
pub const MAX_CHUNK: u32 = 1 << 20;

/// How long any one request may wait for its answer (the `smb2` client's
/// own default), the handshake's included.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// `CreateOptions`: the open must not be a directory.
const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;
/// `CreateOptions`: the open must be a directory.
const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
/// `FileInformationClass` FileEndOfFileInformation (MS-FSCC 2.4.14).
const FILE_END_OF_FILE_INFORMATION: u8 = 20;

/// Where and as whom to connect.
#[derive(Clone)]
pub struct SmbConfig {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The share's name.
    pub share: String,
    /// The path inside the share that is the root of the mount
    /// (`/`-separated; empty for the share's root).
    pub base: RelPath,
    /// The user name (empty: guest).
    pub user: String,
    /// The domain or workgroup (empty: the server's own).
    pub domain: String,
    /// The password.
    pub password: Password,
    /// The bound on the whole connect (TCP, authentication, share, path).
    pub connect_timeout: Duration,
}

impl fmt::Debug for SmbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmbConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("share", &self.share)
            .field("base", &self.base)
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &self.password)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl SmbConfig {
    /// The configuration a handshake [`Request`] asks for; an invalid base
    /// path is [`FsError::Connect`] with [`ConnectError::NoSuchShare`].
    pub fn from_request(req: &Request) -> Result<SmbConfig, FsError> {
        let base = RelPath::new(req.path.trim_matches('/')).map_err(|e| {
            FsError::Connect(ConnectError::NoSuchShare(format!(
                "the path {:?} is not valid: {e}",
                req.path
            )))
        })?;
        Ok(SmbConfig {
            host: req.host.clone(),
            port: req.port.unwrap_or(DEFAULT_PORT),
            share: req.share.clone(),
            base,
            user: req.user.clone().unwrap_or_default(),
            domain: req.domain.clone().unwrap_or_default(),
            password: req.password.clone().unwrap_or_default(),
            connect_timeout: Duration::from_secs(req.op_timeout_secs.max(1)),
        })
    }
}

/// One established session: the connection (cloned per call), the share
/// and what the server negotiated.
struct Live {
    /// Kept so the session lives as long as this value.
    _session: Session,
    conn: Connection,
    tree: Arc<Tree>,
    generation: u64,
    max_read: u32,
    max_write: u32,
    /// Set once a call saw the session die, so later calls fail at once.
    dead: AtomicBool,
}

/// An open file: the server's file id and the session generation it
/// belongs to.
#[derive(Debug)]
pub struct SmbHandle {
    file_id: FileId,
    generation: u64,
}

/// The SMB back end.
pub struct SmbBackend {
    config: SmbConfig,
    live: RwLock<Option<Arc<Live>>>,
    generation: AtomicU64,
    connecting: tokio::sync::Mutex<()>,
    /// A TCP connection to the server that the provider started and
    /// handed over, for the first connect.
    handed: Mutex<Option<std::net::TcpStream>>,
    /// A connection negotiated already, for the first connect.
    negotiated: Mutex<Option<Negotiated>>,
}

impl fmt::Debug for SmbBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmbBackend")
            .field("config", &self.config)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SmbBackend {
    /// A back end for `config`, not yet connected (call
    /// [`Backend::connect`]).
    pub fn new(config: SmbConfig) -> SmbBackend {
        SmbBackend {
            config,
            live: RwLock::new(None),
            generation: AtomicU64::new(0),
            connecting: tokio::sync::Mutex::new(()),
            handed: Mutex::new(None),
            negotiated: Mutex::new(None),
        }
    }

    /// The back end, with `socket`, on which a connect to the server has
    /// been started (it may still be under way), for its first session:
    /// the server's accept then overlaps this process's start. If that
    /// connect fails, the back end connects by itself, as without it.
    pub fn with_handed_socket(self, socket: std::net::TcpStream) -> SmbBackend {
        *self.handed.lock().unwrap_or_else(PoisonError::into_inner) = Some(socket);
        self
    }

    /// Connects to `host:port` (on `socket` if it connects) and
    /// negotiates, within `wait`: whether an SMB server is there, asked on
    /// the connection a session will then use. Must run on a tokio runtime.
    pub async fn dial(
        host: &str,
        port: u16,
        socket: Option<std::net::TcpStream>,
        wait: Duration,
    ) -> Result<Negotiated, ConnectError> {
        let opened = open_connection(host, port, socket, wait);
        let conn = tokio::time::timeout(wait, opened).await.map_err(|_| {
            ConnectError::Unreachable(format!("no answer within {} ms", wait.as_millis()))
        })??;
        Ok(Negotiated {
            host: host.to_string(),
            port,
            conn,
        })
    }

    /// The back end, with a connection a [`SmbBackend::dial`] negotiated,
    /// for its first session if it is to this back end's server.
    pub fn with_negotiated(self, negotiated: Negotiated) -> SmbBackend {
        *self
            .negotiated
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(negotiated);
        self
    }

    /// Its configuration.
    pub fn config(&self) -> &SmbConfig {
        &self.config
    }

    /// Whether a session is established and not known to be lost.
    pub fn is_connected(&self) -> bool {
        self.current().is_ok()
    }

    /// Drops the session (the connection closes); later calls answer
    /// [`FsError::Disconnected`] until the next connect.
    pub fn disconnect(&self) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The dialect and security the current session negotiated, for logs
    /// and tests.
    pub fn session_info(&self) -> Option<SessionInfo> {
        let live = self.current().ok()?;
        let params = live.conn.params()?;
        Some(SessionInfo {
            dialect: format!("{:?}", params.dialect),
            signing_required: params.signing_required,
            cipher: params.cipher.map(|c| format!("{c:?}")),
            encrypted: live.conn.should_encrypt(),
            share_requires_encryption: live.tree.encrypt_data,
            max_read: live.max_read,
            max_write: live.max_write,
        })
    }

    fn current(&self) -> Result<Arc<Live>, FsError> {
        let live = self
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| FsError::Disconnected("not connected".into()))?;
        if live.dead.load(Ordering::Relaxed) || live.conn.is_disconnected() {
            return Err(FsError::Disconnected(
                "the connection to the server was lost".into(),
            ));
        }
        Ok(live)
    }

    fn for_handle(&self, handle: &SmbHandle) -> Result<Arc<Live>, FsError> {
        let live = self.current()?;
        if live.generation != handle.generation {
            return Err(FsError::Disconnected(
                "the file was opened in a session that has ended".into(),
            ));
        }
        Ok(live)
    }

    /// The path inside the share for a path inside the mount.
    fn full(&self, path: &RelPath) -> String {
        match (self.config.base.is_root(), path.is_root()) {
            (true, _) => path.as_str().to_string(),
            (false, true) => self.config.base.as_str().to_string(),
            (false, false) => format!("{}/{}", self.config.base.as_str(), path.as_str()),
        }
    }

    /// A negotiated connection to the server: on the handed-over socket if
    /// there is one and it connected, else on a new one.
    async fn open_connection(&self) -> Result<Connection, ConnectError> {
        let handed = self
            .handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let c = &self.config;
        open_connection(&c.host, c.port, handed, c.connect_timeout).await
    }

    /// The connection a [`Negotiated`] dial left for this back end's
    /// server, if there is one.
    fn take_negotiated(&self) -> Option<Connection> {
        let n = self
            .negotiated
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        (n.host == self.config.host && n.port == self.config.port && !n.conn.is_disconnected())
            .then_some(n.conn)
    }

    async fn establish(&self) -> Result<Live, ConnectError> {
        let c = &self.config;
        let mut conn = match self.take_negotiated() {
            Some(conn) => conn,
            None => self.open_connection().await?,
        };
        let session = Session::setup(&mut conn, &c.user, c.password.expose(), &c.domain)
            .await
            .map_err(connect_error)?;
        let tree = Tree::connect(&mut conn, &c.share)
            .await
            .map_err(connect_error)?;
        if tree.encrypt_data && !conn.should_encrypt() {
            // The share (not the whole session) asks for encryption; smb2
            // records that but encrypts only for a session that asks, so
            // encrypt the whole connection with the session's keys.
            let cipher = conn.params().and_then(|p| {
                // SMB 3.0 and 3.0.2 have no negotiate contexts: a server
                // that can encrypt says so with its capability, and the
                // cipher is AES-128-CCM (MS-SMB2 3.2.5.2).
                p.cipher.or_else(|| {
                    p.capabilities
                        .contains(Capabilities::ENCRYPTION)
                        .then_some(Cipher::Aes128Ccm)
                })
            });
            match (&session.encryption_key, &session.decryption_key, cipher) {
                (Some(enc), Some(dec), Some(cipher)) => {
                    conn.activate_encryption(enc.clone(), dec.clone(), cipher)
                }
                _ => {
                    return Err(ConnectError::Other(
                        "the share requires encryption, which this session cannot do".into(),
                    ));
                }
            }
        }
        let params = conn.params();
        let max_read = params
            .as_ref()
            .map_or(65536, |p| p.max_read_size)
            .clamp(65536, MAX_CHUNK);
        let max_write = params
            .map_or(65536, |p| p.max_write_size)
            .clamp(65536, MAX_CHUNK);
        let mut probe = conn.clone();
        if !c.base.is_root() {
            match tree.stat(&mut probe, c.base.as_str()).await {
                Ok(info) if info.is_directory => {}
                Ok(_) => {
                    return Err(ConnectError::NoSuchShare(format!(
                        "{} is not a directory in the share",
                        c.base
                    )));
                }
                Err(e) => {
                    return Err(match connect_error(e) {
                        ConnectError::NoSuchShare(why) => {
                            ConnectError::NoSuchShare(format!("{} in the share: {why}", c.base))
                        }
                        other => other,
                    });
                }
            }
        }
        Ok(Live {
            _session: session,
            conn,
            tree: Arc::new(tree),
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            max_read,
            max_write,
            dead: AtomicBool::new(false),
        })
    }

    /// Maps a client error and, when it means the session is gone, marks
    /// it so.
    fn fail(&self, live: &Live, e: smb2::Error) -> FsError {
        let err = fs_error(e);
        if matches!(err, FsError::Disconnected(_)) {
            live.dead.store(true, Ordering::Relaxed);
        }
        err
    }

    fn fail_status(&self, live: &Live, status: u32) -> FsError {
        let err = status::fs_error(status);
        if matches!(err, FsError::Disconnected(_)) {
            live.dead.store(true, Ordering::Relaxed);
        }
        err
    }

    /// Sends one request and returns its body, or the mapped error.
    async fn call(
        &self,
        live: &Live,
        command: Command,
        body: &dyn smb2::pack::Pack,
        charge: u16,
    ) -> Result<Vec<u8>, FsError> {
        let frame = live
            .conn
            .execute_with_credits(command, body, Some(live.tree.tree_id), CreditCharge(charge))
            .await
            .map_err(|e| self.fail(live, e))?;
        let st = frame.header.status.0;
        if st != code::SUCCESS {
            return Err(self.fail_status(live, st));
        }
        Ok(frame.body)
    }

    /// The name a CREATE carries for a path inside the share.
    fn wire_name(&self, live: &Live, full: &str) -> String {
        let enc = smb2::encode_path(full);
        if live.tree.is_dfs {
            if enc.is_empty() {
                format!("{}\\{}", self.config.host, self.config.share)
            } else {
                format!("{}\\{}\\{}", self.config.host, self.config.share, enc)
            }
        } else {
            enc
        }
    }

    async fn create(
        &self,
        live: &Live,
        full: &str,
        access: u32,
        disposition: CreateDisposition,
        options: u32,
        attributes: u32,
    ) -> Result<CreateResponse, FsError> {
        let req = CreateRequest {
            requested_oplock_level: OplockLevel::None,
            impersonation_level: ImpersonationLevel::Impersonation,
            desired_access: FileAccessMask::new(access | FileAccessMask::SYNCHRONIZE),
            file_attributes: attributes,
            share_access: ShareAccess(
                ShareAccess::FILE_SHARE_READ
                    | ShareAccess::FILE_SHARE_WRITE
                    | ShareAccess::FILE_SHARE_DELETE,
            ),
            create_disposition: disposition,
            create_options: options,
            name: self.wire_name(live, full),
            create_contexts: vec![],
        };
        let body = self.call(live, Command::Create, &req, 1).await?;
        CreateResponse::unpack(&mut ReadCursor::new(&body))
            .map_err(|e| FsError::Io(format!("a CREATE answer could not be read: {e}")))
    }

    async fn close_id(&self, live: &Live, file_id: FileId) -> Result<(), FsError> {
        let req = CloseRequest { flags: 0, file_id };
        self.call(live, Command::Close, &req, 1).await.map(drop)
    }

    async fn set_eof(&self, live: &Live, file_id: FileId, size: u64) -> Result<(), FsError> {
        let req = SetInfoRequest {
            info_type: InfoType::File,
            file_info_class: FILE_END_OF_FILE_INFORMATION,
            additional_information: 0,
            file_id,
            buffer: size.to_le_bytes().to_vec(),
        };
        self.call(live, Command::SetInfo, &req, 1).await.map(drop)
    }

    async fn read_chunk(
        &self,
        live: &Live,
        file_id: FileId,
        offset: u64,
        len: u32,
    ) -> Result<Bytes, FsError> {
        let req = ReadRequest {
            padding: 0x50,
            flags: 0,
            length: len,
            offset,
            file_id,
            minimum_count: 0,
            channel: SMB2_CHANNEL_NONE,
            remaining_bytes: 0,
            read_channel_info: vec![],
        };
        let frame = live
            .conn
            .execute_with_credits(
                Command::Read,
                &req,
                Some(live.tree.tree_id),
                CreditCharge(charge(len as usize)),
            )
            .await
            .map_err(|e| self.fail(live, e))?;
        match frame.header.status.0 {
            code::SUCCESS => read_answer::data(frame.body)
                .map_err(|e| FsError::Io(format!("a READ answer could not be read: {e}"))),
            code::END_OF_FILE => Ok(Bytes::new()),
            st => Err(self.fail_status(live, st)),
        }
    }

    async fn write_chunk(
        &self,
        live: &Live,
        file_id: FileId,
        offset: u64,
        data: &[u8],
    ) -> Result<(), FsError> {
        let mut done = 0usize;
        while done < data.len() {
            let part = &data[done..];
            let req = WriteBody {
                offset: offset + done as u64,
                file_id,
                data: part,
            };
            let body = self
                .call(live, Command::Write, &req, charge(part.len()))
                .await?;
            let resp = WriteResponse::unpack(&mut ReadCursor::new(&body))
                .map_err(|e| FsError::Io(format!("a WRITE answer could not be read: {e}")))?;
            if resp.count == 0 {
                return Err(FsError::Io("the server wrote nothing".into()));
            }
            done += resp.count as usize;
        }
        Ok(())
    }

    async fn rename_once(&self, live: &Live, from: &str, to: &str) -> Result<(), FsError> {
        let mut conn = live.conn.clone();
        live.tree
            .rename_with(
                &mut conn,
                from,
                to,
                RenameOptions::new().replace_if_exists(true),
            )
            .await
            .map_err(|e| self.fail(live, e))
    }

    async fn stat_full(&self, live: &Live, full: &str) -> Result<Attr, FsError> {
        let mut conn = live.conn.clone();
        live.tree
            .stat(&mut conn, full)
            .await
            .map(|i| attr_from_info(&i))
            .map_err(|e| self.fail(live, e))
    }
}

/// What the current session negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The dialect, e.g. `Smb3_1_1`.
    pub dialect: String,
    /// Whether the server requires signing.
    pub signing_required: bool,
    /// The cipher the negotiate chose, if any.
    pub cipher: Option<String>,
    /// Whether this connection encrypts.
    pub encrypted: bool,
    /// Whether the share asked for encryption.
    pub share_requires_encryption: bool,
    /// The largest READ this back end sends.
    pub max_read: u32,
    /// The largest WRITE this back end sends.
    pub max_write: u32,
}

/// Credits for a payload (one per 64 KiB, at least one; MS-SMB2 3.1.5.2).
fn charge(len: usize) -> u16 {
    len.div_ceil(65536).max(1) as u16
}

fn time(t: FileTime) -> SystemTime {
    t.to_system_time().unwrap_or(SystemTime::UNIX_EPOCH)
}

fn attr_from_info(i: &FileInfo) -> Attr {
    Attr {
        kind: if i.is_directory {
            FileKind::Directory
        } else {
            FileKind::File
        },
        size: if i.is_directory { 0 } else { i.size },
        mtime: time(i.modified),
        atime: time(i.accessed),
        ctime: time(i.changed),
        perm: None,
        readonly: i.attributes.contains(FileAttributes::READONLY),
    }
}

fn attr_from_create(r: &CreateResponse) -> Attr {
    let dir = r.file_attributes & FileAttributes::DIRECTORY != 0;
    Attr {
        kind: if dir {
            FileKind::Directory
        } else {
            FileKind::File
        },
        size: if dir { 0 } else { r.end_of_file },
        mtime: time(r.last_write_time),
        atime: time(r.last_access_time),
        ctime: time(r.change_time),
        perm: None,
        readonly: r.file_attributes & FileAttributes::READONLY != 0,
    }
}

/// Maps a client error of a file operation.
fn fs_error(e: smb2::Error) -> FsError {
    if let smb2::Error::Protocol { status, .. } = &e {
        return status::fs_error(status.0);
    }
    match e.kind() {
        ErrorKind::ConnectionLost | ErrorKind::SessionExpired | ErrorKind::TimedOut => {
            FsError::Disconnected(e.to_string())
        }
        ErrorKind::InvalidName => FsError::InvalidName(e.to_string()),
        ErrorKind::Unsupported => FsError::NotSupported,
        _ => FsError::Io(e.to_string()),
    }
}

/// A TCP connection to `host:port` (on `handed` if it connects, else a
/// new one, within `timeout`), negotiated with what every session of this
/// back end asks for (`negotiate.rs`).
async fn open_connection(
    host: &str,
    port: u16,
    handed: Option<std::net::TcpStream>,
    timeout: Duration,
) -> Result<Connection, ConnectError> {
    // The server's name as a tree connect's UNC path gives it.
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let (mut conn, asking) = if let Some(socket) = handed
        && let Ok(stream) = handed::finish_connect(socket, timeout).await
    {
        Asking::connection(Arc::new(handed::Handed::new(stream)), name)
    } else {
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let t = TcpTransport::connect_with(&addr, ConnectOptions::with_timeout(timeout))
            .await
            .map_err(connect_error)?;
        Asking::connection(Arc::new(t), name)
    };
    negotiate::negotiate(&mut conn, &asking).await?;
    Ok(conn)
}

/// A connection to an SMB server on which NEGOTIATE has been answered: a
/// bare UNC name's check, made on the connection the session will use
/// ([`SmbBackend::dial`], [`SmbBackend::with_negotiated`]).
pub struct Negotiated {
    host: String,
    port: u16,
    conn: Connection,
}

impl fmt::Debug for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Negotiated")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Negotiated {
    /// The dialect the server chose, in words.
    pub fn dialect(&self) -> String {
        self.conn
            .params()
            .map_or_else(|| "SMB".into(), |p| format!("{:?}", p.dialect))
    }
}

/// Maps a client error of the connect.
fn connect_error(e: smb2::Error) -> ConnectError {
    match &e {
        smb2::Error::Protocol { status, .. } => status::connect_error(status.0),
        // A Samba set to map a bad password to guest offers a guest session.
        smb2::Error::GuestSessionRefused { .. } => ConnectError::BadPassword,
        smb2::Error::Auth { message } => ConnectError::LogonFailure(message.clone()),
        smb2::Error::SignatureInvalid { .. } => ConnectError::Identity(e.to_string()),
        smb2::Error::ConnectFailed { .. } | smb2::Error::Io(_) | smb2::Error::Timeout => {
            ConnectError::Unreachable(e.to_string())
        }
        _ => match e.kind() {
            ErrorKind::ConnectionLost | ErrorKind::TimedOut => {
                ConnectError::Unreachable(e.to_string())
            }
            _ => ConnectError::Other(e.to_string()),
        },
    }
}

impl Backend for SmbBackend {
    type Handle = SmbHandle;

    /// Connects, authenticates, opens the share and checks the base path,
    /// then replaces the session (handles of the old one answer
    /// [`FsError::Disconnected`]). When the share asks for encryption and
    /// the session does not, the whole connection is encrypted with the
    /// session's keys. Bounded by [`SmbConfig::connect_timeout`].
    async fn connect(&self) -> Result<(), FsError> {
        let _one = self.connecting.lock().await;
        let bound = self.config.connect_timeout;
        let live = match tokio::time::timeout(bound, self.establish()).await {
            Ok(Ok(live)) => live,
            Ok(Err(e)) => return Err(FsError::Connect(e)),
            Err(_) => {
                return Err(FsError::Connect(ConnectError::Unreachable(format!(
                    "no answer within {} s",
                    bound.as_secs()
                ))));
            }
        };
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(live));
        Ok(())
    }

    async fn stat(&self, path: &RelPath) -> Result<Attr, FsError> {
        let live = self.current()?;
        self.stat_full(&live, &self.full(path)).await
    }

    async fn list(&self, dir: &RelPath) -> Result<Vec<DirEntry>, FsError> {
        let live = self.current()?;
        let mut conn = live.conn.clone();
        let entries = live
            .tree
            .list_directory(&mut conn, &self.full(dir))
            .await
            .map_err(|e| self.fail(&live, e))?;
        Ok(entries
            .into_iter()
            .filter(|e| e.name != "." && e.name != "..")
            .map(|e| DirEntry {
                attr: Attr {
                    kind: if e.is_directory {
                        FileKind::Directory
                    } else {
                        FileKind::File
                    },
                    size: if e.is_directory { 0 } else { e.size },
                    mtime: time(e.modified),
                    // Listings carry no access time in the class smb2 asks.
                    atime: time(e.modified),
                    ctime: time(e.changed),
                    perm: None,
                    readonly: e.attributes.contains(FileAttributes::READONLY),
                },
                name: e.name,
            })
            .collect())
    }

    async fn open(&self, path: &RelPath, flags: OpenFlags) -> Result<(SmbHandle, Attr), FsError> {
        let live = self.current()?;
        let mut access = FileAccessMask::FILE_READ_ATTRIBUTES;
        if flags.read {
            access |= FileAccessMask::FILE_READ_DATA;
        }
        if flags.write || flags.truncate {
            access |= FileAccessMask::FILE_WRITE_DATA
                | FileAccessMask::FILE_APPEND_DATA
                | FileAccessMask::FILE_WRITE_ATTRIBUTES;
        }
        let disposition = match (flags.create, flags.exclusive, flags.truncate) {
            (true, true, _) => CreateDisposition::FileCreate,
            (true, false, true) => CreateDisposition::FileOverwriteIf,
            (true, false, false) => CreateDisposition::FileOpenIf,
            (false, _, true) => CreateDisposition::FileOverwrite,
            (false, _, false) => CreateDisposition::FileOpen,
        };
        let resp = self
            .create(
                &live,
                &self.full(path),
                access,
                disposition,
                FILE_NON_DIRECTORY_FILE,
                FileAttributes::NORMAL,
            )
            .await?;
        Ok((
            SmbHandle {
                file_id: resp.file_id,
                generation: live.generation,
            },
            attr_from_create(&resp),
        ))
    }

    async fn read(&self, handle: &SmbHandle, offset: u64, len: u32) -> Result<Bytes, FsError> {
        let live = self.for_handle(handle)?;
        let chunk = live.max_read;
        if len <= chunk {
            return self.read_chunk(&live, handle.file_id, offset, len).await;
        }
        // Several requests in flight at once, joined in order.
        let mut parts = Vec::new();
        let mut pos = 0u32;
        while pos < len {
            let n = chunk.min(len - pos);
            parts.push(self.read_chunk(&live, handle.file_id, offset + u64::from(pos), n));
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

    async fn write(&self, handle: &SmbHandle, offset: u64, data: &[u8]) -> Result<(), FsError> {
        let live = self.for_handle(handle)?;
        let chunk = live.max_write as usize;
        if data.len() <= chunk {
            return self.write_chunk(&live, handle.file_id, offset, data).await;
        }
        let parts = data
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| self.write_chunk(&live, handle.file_id, offset + (i * chunk) as u64, c))
            .collect();
        join_all(parts).await.into_iter().collect()
    }

    async fn set_len(&self, handle: &SmbHandle, size: u64) -> Result<(), FsError> {
        let live = self.for_handle(handle)?;
        self.set_eof(&live, handle.file_id, size).await
    }

    async fn truncate(&self, path: &RelPath, size: u64) -> Result<(), FsError> {
        let live = self.current()?;
        let resp = self
            .create(
                &live,
                &self.full(path),
                FileAccessMask::FILE_WRITE_DATA,
                CreateDisposition::FileOpen,
                FILE_NON_DIRECTORY_FILE,
                0,
            )
            .await?;
        let set = self.set_eof(&live, resp.file_id, size).await;
        let closed = self.close_id(&live, resp.file_id).await;
        set.and(closed)
    }

    /// SMB stores no modes, but it has the read-only attribute, which the
    /// drive shows as a file's mode without write bits: `chmod a-w` sets it
    /// and giving the write bits back clears it, as `attrib +r` and `-r`
    /// do on Windows. Any other mode, and any mode of a directory (where
    /// Windows gives the attribute another meaning), is `EPERM`.
    async fn set_perm(&self, path: &RelPath, perm: u16) -> Result<(), FsError> {
        let live = self.current()?;
        let full = self.full(path);
        let mut conn = live.conn.clone();
        let info = live
            .tree
            .stat(&mut conn, &full)
            .await
            .map_err(|e| self.fail(&live, e))?;
        let attr = attr_from_info(&info);
        if attr.kind != FileKind::File {
            return Err(FsError::NotPermitted);
        }
        let shown = |readonly: bool| {
            mpr_fs::fs::shown_perm(&Attr {
                readonly,
                ..attr.clone()
            })
        };
        let readonly = if perm == shown(true) {
            true
        } else if perm == shown(false) {
            false
        } else {
            return Err(FsError::NotPermitted);
        };
        let mut bits = info.attributes.0 & FileAttributes::SETTABLE & !FileAttributes::READONLY;
        if readonly {
            bits |= FileAttributes::READONLY;
        }
        if bits == 0 {
            // No attribute at all is "leave them as they are" on the wire.
            bits = FileAttributes::NORMAL;
        }
        live.tree
            .set_times(
                &mut conn,
                &full,
                FileTimes::new().set_attributes(FileAttributes(bits)),
            )
            .await
            .map_err(|e| self.fail(&live, e))
    }

    async fn set_times(&self, path: &RelPath, times: Times) -> Result<(), FsError> {
        let live = self.current()?;
        let mut ft = FileTimes::new();
        if let Some(a) = times.atime {
            ft = ft.set_accessed(a);
        }
        if let Some(m) = times.mtime {
            ft = ft.set_modified(m);
        }
        if times.atime.is_none() && times.mtime.is_none() {
            // Nothing to change; still answer whether the path exists.
            return self.stat_full(&live, &self.full(path)).await.map(drop);
        }
        let mut conn = live.conn.clone();
        live.tree
            .set_times(&mut conn, &self.full(path), ft)
            .await
            .map_err(|e| self.fail(&live, e))
    }

    async fn flush(&self, handle: &SmbHandle) -> Result<(), FsError> {
        let live = self.for_handle(handle)?;
        let req = FlushRequest {
            file_id: handle.file_id,
        };
        self.call(&live, Command::Flush, &req, 1).await.map(drop)
    }

    async fn close(&self, handle: SmbHandle) -> Result<(), FsError> {
        let live = match self.for_handle(&handle) {
            Ok(live) => live,
            // The server let go of the handle with its session; every write
            // it acknowledged had reached it.
            Err(_) if self.current().is_ok() => return Ok(()),
            Err(e) => return Err(e),
        };
        self.close_id(&live, handle.file_id).await
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Attr, FsError> {
        let live = self.current()?;
        let resp = self
            .create(
                &live,
                &self.full(path),
                FileAccessMask::FILE_READ_ATTRIBUTES,
                CreateDisposition::FileCreate,
                FILE_DIRECTORY_FILE,
                FileAttributes::DIRECTORY,
            )
            .await?;
        self.close_id(&live, resp.file_id).await?;
        Ok(attr_from_create(&resp))
    }

    async fn rmdir(&self, path: &RelPath) -> Result<(), FsError> {
        let live = self.current()?;
        let mut conn = live.conn.clone();
        live.tree
            .delete_directory(&mut conn, &self.full(path))
            .await
            .map_err(|e| self.fail(&live, e))
    }

    async fn unlink(&self, path: &RelPath) -> Result<(), FsError> {
        let live = self.current()?;
        let mut conn = live.conn.clone();
        live.tree
            .delete_file(&mut conn, &self.full(path))
            .await
            .map_err(|e| self.fail(&live, e))
    }

    /// SET_INFO FileRenameInformation with ReplaceIfExists. SMB cannot
    /// replace a directory by rename, so a directory renamed over an empty
    /// directory removes that one first (not atomic; POSIX allows only an
    /// empty one there anyway), and the kinds are checked to answer as
    /// POSIX does (`EISDIR`, `ENOTDIR`).
    async fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), FsError> {
        let live = self.current()?;
        let (f, t) = (self.full(from), self.full(to));
        if from == to {
            return self.stat_full(&live, &f).await.map(drop);
        }
        let first = match self.rename_once(&live, &f, &t).await {
            Ok(()) => return Ok(()),
            Err(e @ (FsError::Exists | FsError::PermissionDenied | FsError::Busy)) => e,
            Err(e) => return Err(e),
        };
        let (Ok(src), Ok(dst)) = (
            self.stat_full(&live, &f).await,
            self.stat_full(&live, &t).await,
        ) else {
            return Err(first);
        };
        match (src.kind, dst.kind) {
            (FileKind::Directory, FileKind::Directory) => {
                self.rmdir(to).await?;
                self.rename_once(&live, &f, &t).await
            }
            (FileKind::Directory, _) => Err(FsError::NotDirectory),
            (_, FileKind::Directory) => Err(FsError::IsDirectory),
            _ => Err(first),
        }
    }

    async fn statfs(&self) -> Result<StatFs, FsError> {
        let live = self.current()?;
        let mut conn = live.conn.clone();
        let info = live
            .tree
            .fs_info(&mut conn)
            .await
            .map_err(|e| self.fail(&live, e))?;
        let unit = u64::from(info.bytes_per_sector) * u64::from(info.sectors_per_unit);
        let unit = if unit == 0 { 4096 } else { unit };
        Ok(StatFs {
            block_size: u32::try_from(unit).unwrap_or(u32::MAX),
            blocks: info.total_bytes / unit,
            free: info.total_free_bytes / unit,
            available: info.free_bytes / unit,
        })
    }
}

/// An SMB2 WRITE request that borrows its data (`smb2`'s `WriteRequest`
/// owns it, which would copy every write once more before it is packed).
struct WriteBody<'a> {
    offset: u64,
    file_id: FileId,
    data: &'a [u8],
}

impl smb2::pack::Pack for WriteBody<'_> {
    fn pack(&self, cursor: &mut WriteCursor) {
        // The layout of [MS-SMB2] 2.2.21, as `WriteRequest` packs it: the
        // data right after the 48 bytes of the fixed part (header 64 +
        // 48 = 0x70), no channel, no flags.
        cursor.write_u16_le(WriteRequest::STRUCTURE_SIZE);
        cursor.write_u16_le(0x70);
        cursor.write_u32_le(self.data.len() as u32);
        cursor.write_u64_le(self.offset);
        cursor.write_u64_le(self.file_id.persistent);
        cursor.write_u64_le(self.file_id.volatile);
        cursor.write_u32_le(0); // Channel
        cursor.write_u32_le(0); // RemainingBytes
        cursor.write_u16_le(0); // WriteChannelInfoOffset
        cursor.write_u16_le(0); // WriteChannelInfoLength
        cursor.write_u32_le(0); // Flags
        if self.data.is_empty() {
            // StructureSize 49 counts one byte of the buffer.
            cursor.write_u8(0);
        } else {
            cursor.write_bytes(self.data);
        }
    }
}

/// Awaits futures together (they share one connection, so their requests
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

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_fs::handshake::Protocol;

    fn request(path: &str, port: Option<u16>) -> Request {
        Request {
            protocol: Protocol::Smb,
            host: "server".into(),
            port,
            share: "share".into(),
            path: path.into(),
            user: Some("u".into()),
            domain: None,
            password: Some(Password::new("secret".into())),
            mountpoint: "/m".into(),
            health_file: "/h".into(),
            op_timeout_secs: 15,
            options: Default::default(),
            audit: None,
        }
    }

    #[test]
    fn a_request_becomes_a_config() {
        let c = SmbConfig::from_request(&request("/a/b/", None)).unwrap();
        assert_eq!(c.port, DEFAULT_PORT);
        assert_eq!(c.base.as_str(), "a/b");
        assert_eq!(c.connect_timeout, Duration::from_secs(15));
        assert!(!format!("{c:?}").contains("secret"));
        let c = SmbConfig::from_request(&request("", Some(4450))).unwrap();
        assert!(c.base.is_root());
        assert_eq!(c.port, 4450);
        assert!(matches!(
            SmbConfig::from_request(&request("a/../b", None)),
            Err(FsError::Connect(ConnectError::NoSuchShare(_)))
        ));
    }

    #[test]
    fn paths_are_joined_under_the_base() {
        let mut c = SmbConfig::from_request(&request("", None)).unwrap();
        let b = SmbBackend::new(c.clone());
        assert_eq!(b.full(&RelPath::new("x/y").unwrap()), "x/y");
        assert_eq!(b.full(&RelPath::root()), "");
        c.base = RelPath::new("base dir").unwrap();
        let b = SmbBackend::new(c);
        assert_eq!(b.full(&RelPath::new("x/y").unwrap()), "base dir/x/y");
        assert_eq!(b.full(&RelPath::root()), "base dir");
    }

    #[test]
    fn a_borrowed_write_packs_as_smb2s_own() {
        use smb2::pack::Pack;
        let file_id = FileId {
            persistent: 0x0102_0304_0506_0708,
            volatile: 0x1112_1314_1516_1718,
        };
        for data in [&b""[..], b"hello"] {
            let mut ours = WriteCursor::new();
            WriteBody {
                offset: 77,
                file_id,
                data,
            }
            .pack(&mut ours);
            let mut theirs = WriteCursor::new();
            WriteRequest {
                data_offset: 0x70,
                offset: 77,
                file_id,
                channel: 0,
                remaining_bytes: 0,
                write_channel_info_offset: 0,
                write_channel_info_length: 0,
                flags: 0,
                data: data.to_vec(),
            }
            .pack(&mut theirs);
            assert_eq!(ours.into_inner(), theirs.into_inner());
        }
    }

    #[test]
    fn requests_are_charged_a_credit_per_64_kib() {
        assert_eq!(charge(0), 1);
        assert_eq!(charge(1), 1);
        assert_eq!(charge(65536), 1);
        assert_eq!(charge(65537), 2);
        assert_eq!(charge(MAX_CHUNK as usize), 16);
    }

    #[test]
    fn client_errors_map_to_disconnected_or_their_status() {
        assert!(matches!(
            fs_error(smb2::Error::Disconnected),
            FsError::Disconnected(_)
        ));
        assert!(matches!(
            connect_error(smb2::Error::Timeout),
            ConnectError::Unreachable(_)
        ));
    }
}
