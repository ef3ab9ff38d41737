//! Connect, mount, report, serve: the server's life after the request.

use crate::audit::JournalEvents;
use crate::send;
use mpr_abi as abi;
use mpr_dav::{DavBackend, DavConfig};
use mpr_fs::events::Events;
use mpr_fs::fs::{Fs, FsConfig};
use mpr_fs::handshake::Dial;
use mpr_fs::handshake::{Protocol, Reply, Request};
use mpr_fs::health::{self, Health};
use mpr_fs::session::{self, MountOptions};
use mpr_fs::{Backend, FsError};
use mpr_sftp::{SftpBackend, SftpConfig};
use mpr_smb::{Negotiated, SmbBackend, SmbConfig};
use std::fmt;
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Threads reading the kernel's requests; each only hands a request to the
/// runtime, so a few keep several operations in flight.
const FUSE_THREADS: usize = 4;

/// How often an idle mount asks the server how it is while all is well
/// (a lost session then shows as reconnecting within this, and is
/// re-established without waiting for someone to use the drive).
const CHECK_OK: Duration = Duration::from_secs(5);

/// How long tasks still running when the mount is gone may take to end
/// before the server exits without them.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How often while the session is lost or failing.
const CHECK_NOT_OK: Duration = Duration::from_secs(1);

/// Why the server stopped without serving (the reply already said so) or
/// stopped serving.
#[derive(Debug)]
pub enum ServeError {
    /// The handshake failed with this reply.
    Refused(Reply),
    /// The session ended with an error.
    Session(std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Refused(Reply::Failed { code, message }) => {
                write!(f, "refused ({code}): {message}")
            }
            ServeError::Refused(r) => write!(f, "refused: {r:?}"),
            ServeError::Session(e) => write!(f, "the FUSE session failed: {e}"),
        }
    }
}

/// Answers `reply` as the handshake's failure and returns it as the error.
fn refuse(code: u32, message: String) -> ServeError {
    let reply = Reply::Failed { code, message };
    let _ = send(&mut std::io::stdout().lock(), &reply);
    ServeError::Refused(reply)
}

/// The name shown as the mount's source: the UNC form of the request.
fn remote_of(req: &Request) -> String {
    let mut s = format!(r"\\{}", req.host);
    if let Some(p) = req.port {
        s.push_str(&format!("@{p}"));
    }
    for piece in std::iter::once(req.share.as_str())
        .chain(req.path.split('/'))
        .filter(|p| !p.is_empty())
    {
        s.push('\\');
        s.push_str(piece);
    }
    s
}

/// The reply for a failed first connect.
fn connect_failure(e: &FsError, req: &Request) -> ServeError {
    let server = match req.port {
        Some(p) => format!("{}:{p}", req.host),
        None => req.host.clone(),
    };
    let at = if req.share.is_empty() {
        server.clone()
    } else {
        format!("{server}/{}", req.share)
    };
    match e {
        // The WebDAV back end's errors name the URL themselves.
        FsError::Connect(ce) if req.protocol == Protocol::Webdav => {
            refuse(ce.wn_code(), ce.to_string())
        }
        FsError::Connect(ce) => refuse(ce.wn_code(), format!("{at}: {ce}")),
        FsError::TimedOut => refuse(
            abi::ERROR_BAD_NETPATH,
            format!(
                "{server} did not answer within {} s: timed out",
                req.op_timeout_secs
            ),
        ),
        other => refuse(abi::WN_NET_ERROR, format!("{at}: {other}")),
    }
}

/// The runtime every back end and the file system run on. `main` starts
/// it before it reads the request: a server started ahead of its request
/// ([`crate`] docs) has it ready when the request comes.
pub fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mpr-fsd")
        .build()
        .map_err(|e| refuse(abi::WN_NET_ERROR, format!("cannot start the runtime: {e}")))
}

/// Answers a [`Dial`]: opens the connection to its server (on `socket`,
/// which the provider started connecting, if it connects) and negotiates.
/// The reply says whether a server of the dial's protocol answered; the
/// connection, if it did, waits for the request ([`run`]). Only SMB dials:
/// its check and its session then take one connection, where a server
/// that forks a process per connection (`smbd`) would fork two.
pub fn dial(
    rt: &tokio::runtime::Runtime,
    dial: &Dial,
    socket: Option<OwnedFd>,
) -> (Reply, Option<Negotiated>) {
    if dial.protocol != Protocol::Smb {
        let message = format!("{:?} has no dial", dial.protocol);
        return (
            Reply::Dialed {
                answered: false,
                message,
            },
            None,
        );
    }
    let wait = Duration::from_millis(dial.wait_ms.clamp(1, 60_000));
    let socket = socket.map(TcpStream::from);
    match rt.block_on(SmbBackend::dial(&dial.host, dial.port, socket, wait)) {
        Ok(n) => (
            Reply::Dialed {
                answered: true,
                message: n.dialect(),
            },
            Some(n),
        ),
        Err(e) => (
            Reply::Dialed {
                answered: false,
                message: e.to_string(),
            },
            None,
        ),
    }
}

/// Serves the connection `req` asks for on `rt`; returns when the mount is
/// gone. `handed` is a socket the provider started connecting to the
/// server on, for the first session (SMB uses it; the others close it);
/// `negotiated`, a connection a [`dial`] opened (SMB's, if it is to the
/// request's server).
pub fn run(
    req: Request,
    handed: Option<OwnedFd>,
    negotiated: Option<Negotiated>,
    rt: tokio::runtime::Runtime,
) -> Result<(), ServeError> {
    if !req.mountpoint.is_dir() {
        return Err(refuse(
            abi::WN_BAD_LOCALNAME,
            format!("{} is not a directory", req.mountpoint.display()),
        ));
    }
    let fail = |e: FsError| connect_failure(&e, &req);
    let served = match req.protocol {
        Protocol::Smb => {
            let cfg = SmbConfig::from_request(&req).map_err(fail)?;
            let backend = match (negotiated, handed) {
                (Some(n), _) => SmbBackend::new(cfg).with_negotiated(n),
                (None, Some(fd)) => SmbBackend::new(cfg).with_handed_socket(TcpStream::from(fd)),
                (None, None) => SmbBackend::new(cfg),
            };
            serve(backend, &req, &rt)
        }
        Protocol::Webdav => {
            let cfg = DavConfig::from_request(&req).map_err(fail)?;
            serve(DavBackend::new(cfg).map_err(fail)?, &req, &rt)
        }
        Protocol::Sftp => serve(SftpBackend::new(SftpConfig::from_request(&req)), &req, &rt),
    };
    // Unmounted (or never mounted): nothing is left to serve, so a task
    // still waiting on the server (a reconnect, a session's goodbye) must
    // not keep the process, which the router counts as the drive's
    // server, alive after its drive is gone.
    rt.shutdown_timeout(EXIT_GRACE);
    served
}

/// Connects `backend`, mounts it, reports `Ready` and serves.
fn serve<B: Backend>(
    backend: B,
    req: &Request,
    rt: &tokio::runtime::Runtime,
) -> Result<(), ServeError> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let cfg = FsConfig {
        events: req
            .audit
            .as_ref()
            .and_then(JournalEvents::new)
            .map(|j| Arc::new(j) as Arc<dyn Events>),
        ..FsConfig::from_request(req, uid, gid)
    };
    let fs = Arc::new(Fs::new(backend, cfg));
    rt.block_on(fs.connect())
        .map_err(|e| connect_failure(&e, req))?;
    let opts = MountOptions {
        remote: remote_of(req),
        threads: FUSE_THREADS,
    };
    rt.spawn(watch(Arc::clone(&fs), req.health_file.clone()));
    let mounted = session::mount(fs, &req.mountpoint, &opts, rt.handle().clone()).map_err(|e| {
        refuse(
            abi::WN_NO_NETWORK,
            format!(
                "cannot mount at {}: {e} (FUSE must be usable: /dev/fuse readable and writable \
                 by you, fusermount3 installed: apt-get install fuse3)",
                req.mountpoint.display()
            ),
        )
    })?;
    let pid = std::process::id();
    let _ = send(&mut std::io::stdout().lock(), &Reply::Ready { pid });
    release_pipes();
    eprintln!(
        "mpr-fsd {pid}: serving {} at {}",
        opts.remote,
        req.mountpoint.display()
    );
    let r = session::serve_until_signal(mounted);
    let _ = std::fs::remove_file(&req.health_file);
    match r {
        Ok(sig) => {
            eprintln!(
                "mpr-fsd {pid}: unmounted{}",
                sig.map(|s| format!(" on signal {s}")).unwrap_or_default()
            );
            Ok(())
        }
        Err(e) => Err(ServeError::Session(e)),
    }
}

/// Asks the server how it is, now and then, through the file system (so the
/// reconnect, the bound and the health are the operations' own): a lost
/// session is found and re-established even on a drive nobody uses, and
/// the published health never goes stale.
///
/// Every [`health::HEARTBEAT`] it also marks the health file fresh, so the
/// router can tell a server that runs from one that is stopped or stuck
/// without touching the mount. The check runs on its own task: a check
/// waiting out an outage does not stop the heartbeat.
async fn watch<B: Backend>(fs: Arc<Fs<B>>, health_file: std::path::PathBuf) {
    let checking = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut last_check = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(health::HEARTBEAT).await;
        let _ = health::touch(&health_file);
        let every = if fs.health() == Health::Ok {
            CHECK_OK
        } else {
            CHECK_NOT_OK
        };
        if last_check.elapsed() < every || checking.swap(true, Ordering::SeqCst) {
            continue;
        }
        last_check = tokio::time::Instant::now();
        let (fs, checking) = (Arc::clone(&fs), Arc::clone(&checking));
        tokio::spawn(async move {
            let _ = fs.statfs().await;
            checking.store(false, Ordering::SeqCst);
        });
    }
}

/// Points standard input and output at `/dev/null`: the provider that
/// started the server reads nothing after `Ready` and may be gone.
fn release_pipes() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_source_is_the_unc_name() {
        let mut req: Request = serde_json::from_str(
            r#"{"protocol":"smb","host":"srv","port":4450,"share":"s","path":"a/b",
                "user":null,"domain":null,"password":null,"mountpoint":"/m",
                "health_file":"/h","op_timeout_secs":15}"#,
        )
        .unwrap();
        assert_eq!(remote_of(&req), r"\\srv@4450\s\a\b");
        req.port = None;
        req.path = String::new();
        assert_eq!(remote_of(&req), r"\\srv\s");
    }
}
