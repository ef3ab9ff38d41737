//! The `webdav` provider: mpr's own file system, one `mpr-fsd` per
//! connection, on its WebDAV back end (`mpr-dav`).
//!
//! Names: `dav://[user@]host[:port]/path` (HTTP), `davs://…` (HTTPS), and
//! the Windows redirector's `\\host[@SSL][@port]\path`. The server gets the
//! request (URL parts, user, the password, `ca_file`) over a pipe, checks
//! the login and the path with a `PROPFIND`, mounts, and only then answers
//! `Ready`; a refusal comes back with its exact `WN_*` code (bad password,
//! no such path, unreachable, a certificate that is not trusted). The
//! password never reaches an argv, an environment or a file.

use crate::options::WebDavOptions;
use crate::{Failure, fsd};
use mpr_core::WnError;
use mpr_core::names::{RemoteName, Scheme};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider, NotMine, Origin};
use mpr_core::router::Health as RouterHealth;
use mpr_handshake::{Audit, AuditSinks, Password, Protocol, Request};
use std::path::{Path, PathBuf};

/// Where a WebDAV name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// HTTPS (`davs://`, or `@SSL` in a UNC name) rather than HTTP.
    pub https: bool,
    /// The host.
    pub host: String,
    /// The port, if not the scheme's.
    pub port: Option<u16>,
    /// The user named in a URL, if any.
    pub user: Option<String>,
    /// The path on the server, `/`-separated, without leading or trailing
    /// `/` (empty: the server's root).
    pub path: String,
    /// The URL, ending with `/` (for messages).
    pub url: String,
}

/// Parses a remote name for WebDAV; `WN_BAD_NETNAME` if it is not one.
pub fn target(remote: &str) -> Result<Target, WnError> {
    let p = RemoteName::parse(remote)?.parts()?;
    let (https, rest) = match p.scheme {
        Scheme::Dav => (false, format!("{}{}", p.authority(), p.path)),
        Scheme::Davs => (true, format!("{}{}", p.authority(), p.path)),
        Scheme::Unc => (p.ssl, format!("{}/{}", p.authority(), p.path)),
        _ => return Err(WnError::BadNetName),
    };
    if rest.starts_with('-') || rest.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(WnError::BadNetName);
    }
    let mut url = format!("{}://{rest}", if https { "https" } else { "http" });
    if !url.ends_with('/') {
        url.push('/');
    }
    Ok(Target {
        https,
        host: p.host,
        port: p.port,
        user: p.user,
        path: p.path.trim_matches('/').to_string(),
        url,
    })
}

/// Parses a remote name for WebDAV into a URL; `WN_BAD_NETNAME` if it is
/// not one.
pub fn url(remote: &str) -> Result<String, WnError> {
    target(remote).map(|t| t.url)
}

/// The built-in WebDAV provider.
#[derive(Debug)]
pub struct WebDav {
    pub(crate) name: String,
    pub(crate) opts: WebDavOptions,
    pub(crate) runtime_dir: PathBuf,
    pub(crate) fsd_dirs: Vec<PathBuf>,
    /// The audit sinks `mpr-fsd` records a conflict in.
    pub(crate) audit: AuditSinks,
}

impl WebDav {
    /// Sends a bare HTTP request and waits briefly for an HTTP answer; on a
    /// TLS port, a connection is enough.
    fn probe_http(&self, t: &Target) -> Result<(), NotMine> {
        let (https, host) = (t.https, t.host.as_str());
        let port = t.port.unwrap_or(if https { 443 } else { 80 });
        let wait = self.opts.connect_timeout.min(crate::probe::WAIT);
        // The same opening as the other checks, not an HTTP request: an
        // HTTP server answers its malformed first line with `400` at once,
        // while an SMB server would read "OPTI" as a frame length and wait
        // for the rest until the check gave up.
        let hello = crate::probe::opening();
        let (hello, expect): (Option<&[u8]>, &[u8]) = if https {
            (None, b"")
        } else {
            (Some(&hello), b"HTTP/")
        };
        crate::probe::greeting(host, port, wait, hello, expect).map_err(|why| NotMine {
            code: WnError::BadNetPath,
            reason: format!("no web server at {host}:{port}: {why}"),
        })
    }
}

impl NetworkProvider for WebDav {
    fn key(&self) -> &str {
        "webdav"
    }

    fn display_name(&self) -> &str {
        &self.name
    }

    fn connection_caps(&self) -> u32 {
        crate::BUILTIN_CAPS
    }

    fn net_type(&self) -> u32 {
        mpr_abi::WNNC_NET_DAV
    }

    fn origin(&self) -> Origin {
        Origin::BuiltIn
    }

    fn claims_over(&self, directory: &Path) {
        crate::spare::discard(directory);
    }

    fn claim(&self, remote: &str, directory: &Path) -> Option<Result<(), NotMine>> {
        RemoteName::parse(remote).ok()?.unc()?;
        let t = target(remote).ok()?;
        fsd::get_ready(&self.fsd_dirs, directory);
        Some(self.probe_http(&t))
    }

    /// The server the connect needs, started while the checks run or the
    /// name is reserved.
    fn get_ready(&self, remote: &str, directory: &Path) {
        if target(remote).is_ok() {
            fsd::get_ready(&self.fsd_dirs, directory);
        }
    }

    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        let t = target(call.remote)?;
        if !call.claimed && RemoteName::parse(call.remote)?.unc().is_some() {
            // A bare UNC name may be anybody's: answer "not mine" quickly
            // when no web server answers there.
            if let Err(n) = self.probe_http(&t) {
                return Failure::new(n.code, n.reason).report(&self.name);
            }
        }
        let dir = call.directory;
        crate::prepare_mount_point(dir, &self.name)?;
        let program = fsd::find_or_fail(&self.fsd_dirs).or_else(|f| f.report(&self.name))?;
        let health_file = fsd::health_path(&self.runtime_dir, "webdav", dir);
        let _ = std::fs::remove_file(&health_file);
        let mut options = serde_json::Map::new();
        options.insert("tls".into(), t.https.into());
        if let Some(ca) = &self.opts.ca_file {
            options.insert("ca_file".into(), ca.display().to_string().into());
        }
        let req = Request {
            protocol: Protocol::Webdav,
            host: t.host,
            port: t.port,
            share: String::new(),
            path: t.path,
            user: call.user.map(str::to_string).or(t.user),
            domain: None,
            password: call.password.map(|p| Password::new(p.expose().to_string())),
            mountpoint: dir.to_path_buf(),
            health_file,
            op_timeout_secs: self.opts.operation_timeout.as_secs(),
            options,
            audit: Some(Audit {
                sinks: self.audit.clone(),
                local: call.local.map(str::to_string),
                remote: call.remote.to_string(),
                provider: "webdav".into(),
            }),
        };
        fsd::connect(
            &program,
            &req,
            &self.runtime_dir,
            "webdav",
            self.opts.connect_timeout,
            None,
        )
        .or_else(|failure| failure.report(&self.name))
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        fsd::cancel(call, &self.runtime_dir, "webdav", &self.name)
    }

    fn get_connection(&self, _local: &str, directory: Option<&Path>) -> Result<String, WnError> {
        fsd::live(&self.runtime_dir, "webdav", directory)
    }

    fn health(&self, _local: &str, directory: Option<&Path>) -> RouterHealth {
        fsd::connection_health(&self.runtime_dir, "webdav", directory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webdav_urls() {
        assert_eq!(url("dav://h:8080/files").unwrap(), "http://h:8080/files/");
        assert_eq!(url("davs://h/x/").unwrap(), "https://h/x/");
        assert_eq!(
            url(r"\\h@48080\dir\sub").unwrap(),
            "http://h:48080/dir/sub/"
        );
        assert_eq!(url(r"\\h@SSL@443\dir").unwrap(), "https://h:443/dir/");
        assert_eq!(url(r"\\h").unwrap(), "http://h/");
        assert_eq!(url("sftp://h/x"), Err(WnError::BadNetName));
        assert_eq!(url(r"\\h@port\x"), Err(WnError::BadNetName));
        assert_eq!(
            url("dav://bob@[::1]:8080/a b"),
            Err(WnError::BadNetName),
            "no whitespace"
        );
        assert_eq!(url("davs://-h/x"), Err(WnError::BadNetName));
        assert_eq!(
            url("dav://bob@[::1]:8080/x").unwrap(),
            "http://bob@[::1]:8080/x/"
        );
        let t = target(r"\\h@SSL\x").unwrap();
        assert_eq!((t.https, t.host.as_str(), t.port), (true, "h", None));
    }
}
