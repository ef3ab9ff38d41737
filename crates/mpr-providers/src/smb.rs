//! The `smb` provider: mpr's own file system, one `mpr-fsd` per
//! connection, on its SMB 2/3 back end.
//!
//! Names: `\\host[@port]\share[\path]` and `smb://host[:port]/share[/path]`.
//! The server gets the request (host, port, share, path, user, domain and
//! the password) over a pipe, connects and authenticates, opens the share
//! and the path, mounts, and only then answers `Ready`; a refusal comes back
//! with its exact `WN_*` code (bad password, no such share, unreachable,
//! access denied). `mpr use` returns after that answer: no lazy mount, no
//! probe afterwards. The health the server publishes (OK, reconnecting,
//! unavailable) is what the listing shows; nothing here waits on the mount.

use crate::fsd;
use crate::options::SmbOptions;
use mpr_core::WnError;
use mpr_core::names::{RemoteName, Scheme};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider, NotMine, Origin};
use mpr_core::router::Health as RouterHealth;
use mpr_handshake::{Audit, AuditSinks, Password, Protocol, Request};
use std::path::{Path, PathBuf};

/// Where an SMB name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The server.
    pub host: String,
    /// The port, if not 445.
    pub port: Option<u16>,
    /// The share.
    pub share: String,
    /// The path inside the share, `/`-separated, possibly empty.
    pub path: String,
}

/// Parses a remote name for SMB; `WN_BAD_NETNAME` if it is not one.
pub fn parse(remote: &str) -> Result<Target, WnError> {
    let p = RemoteName::parse(remote)?.parts()?;
    if !matches!(p.scheme, Scheme::Smb | Scheme::Unc) {
        return Err(WnError::BadNetName);
    }
    // The first piece of the path is the share (a user in an `smb://` URL
    // is not used: the user comes with the request).
    let path = p.path.trim_matches('/');
    let (share, path) = path.split_once('/').unwrap_or((path, ""));
    let t = Target {
        host: p.host,
        port: p.port,
        share: share.to_string(),
        path: path.to_string(),
    };
    let bad = |s: &str| {
        s.is_empty()
            || s.starts_with('-')
            || s.contains(['"', '/', ':'])
            || s.chars().any(char::is_control)
    };
    if bad(&t.host)
        || t.share.is_empty()
        || t.share.contains(['"', '/'])
        || t.path.contains(['"', ','])
        || t.share.contains(',')
    {
        return Err(WnError::BadNetName);
    }
    Ok(t)
}

/// The built-in SMB provider.
#[derive(Debug)]
pub struct Smb {
    pub(crate) name: String,
    pub(crate) opts: SmbOptions,
    pub(crate) runtime_dir: PathBuf,
    pub(crate) login: String,
    pub(crate) fsd_dirs: Vec<PathBuf>,
    /// The audit sinks `mpr-fsd` records a conflict in.
    pub(crate) audit: AuditSinks,
}

/// A user name as `DOMAIN\user` (or `DOMAIN/user`) and plain `user`: the
/// domain, if any, and the user.
fn split_domain(user: &str) -> (Option<&str>, &str) {
    match user.split_once(['\\', '/']) {
        Some((d, u)) => (Some(d), u),
        None => (None, user),
    }
}

impl NetworkProvider for Smb {
    fn key(&self) -> &str {
        "smb"
    }

    fn display_name(&self) -> &str {
        &self.name
    }

    fn connection_caps(&self) -> u32 {
        crate::BUILTIN_CAPS
    }

    fn net_type(&self) -> u32 {
        mpr_abi::WNNC_NET_SMB
    }

    fn origin(&self) -> Origin {
        Origin::BuiltIn
    }

    fn claims_over(&self, directory: &Path) {
        crate::probe::withdraw_dials(directory);
        crate::spare::discard(directory);
    }

    /// The server the connect needs, started while the name is reserved
    /// and the notifyees are asked. Nothing goes to the network: a
    /// notifyee may still veto the connect. For a bare UNC name, whose
    /// checks may come, that server is offered to them to dial the SMB
    /// port ([`crate::probe::offer_dial`]): the check is then made on the
    /// connection the session will use.
    fn get_ready(&self, remote: &str, directory: &Path) {
        let Ok(t) = parse(remote) else { return };
        fsd::get_ready(&self.fsd_dirs, directory);
        if RemoteName::parse(remote).is_ok_and(|r| r.scheme().is_none()) {
            let port = t.port.unwrap_or(445);
            let (host, dir) = (t.host.clone(), directory.to_path_buf());
            let gone = dir.clone();
            crate::probe::offer_dial(
                &t.host,
                port,
                directory,
                crate::probe::Dialer {
                    dial: Box::new(move |wait| crate::spare::dial(&dir, &host, port, wait)),
                    abandon: Box::new(move || crate::spare::abandon_dial(&gone)),
                },
            );
        }
    }

    /// Says SMB2 NEGOTIATE first: an SMB server answers with an SMB2
    /// header at once, an SSH server with its banner, an HTTP server with
    /// an error page or by hanging up.
    fn claim(&self, remote: &str, directory: &Path) -> Option<Result<(), NotMine>> {
        if RemoteName::parse(remote).ok()?.scheme().is_some() {
            return None;
        }
        let t = parse(remote).ok()?;
        let port = t.port.unwrap_or(445);
        // What the connect needs, started while the checks run (which
        // come after the notifyees' PRE round): the server, and the TCP
        // connection it will speak on (which `smbd` forks a process for),
        // unless the server dials that connection for the check.
        fsd::get_ready(&self.fsd_dirs, directory);
        if !crate::probe::dial_offered(&t.host, port) {
            crate::spare::connect_early(&t.host, port, directory);
        }
        let wait = self.opts.connect_timeout.min(crate::probe::WAIT);
        let hello = crate::probe::opening();
        Some(
            crate::probe::answer_at(&t.host, port, wait, Some(&hello), 4, b"\xFESMB").map_err(
                |why| NotMine {
                    code: WnError::BadNetPath,
                    reason: format!("no SMB server at {}:{port}: {why}", t.host),
                },
            ),
        )
    }

    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        let t = parse(call.remote)?;
        // The server's accept (smbd forks for it) goes on while mpr-fsd
        // starts.
        let port = t.port.unwrap_or(445);
        let dir = call.directory;
        // (None when the server got ready has the connection already: a
        // bare name's check dialed it.)
        let handed = if crate::spare::has_dialed(dir, &t.host, port) {
            None
        } else {
            crate::spare::take_early(&t.host, port).or_else(|| fsd::start_connect(&t.host, port))
        };
        crate::prepare_mount_point(dir, &self.name)?;
        let program = fsd::find_or_fail(&self.fsd_dirs).or_else(|f| f.report(&self.name))?;
        // A password without a user name is for the login name.
        let user = call.user.or(call.password.map(|_| self.login.as_str()));
        let (domain, user) = match user.map(split_domain) {
            Some((d, u)) => (d.map(str::to_string), Some(u.to_string())),
            None => (None, None),
        };
        let health_file = fsd::health_path(&self.runtime_dir, "smb", dir);
        let _ = std::fs::remove_file(&health_file);
        let req = Request {
            protocol: Protocol::Smb,
            host: t.host,
            port: t.port,
            share: t.share,
            path: t.path,
            user,
            domain,
            password: call.password.map(|p| Password::new(p.expose().to_string())),
            mountpoint: dir.to_path_buf(),
            health_file: health_file.clone(),
            op_timeout_secs: self.opts.operation_timeout.as_secs(),
            options: Default::default(),
            audit: Some(Audit {
                sinks: self.audit.clone(),
                local: call.local.map(str::to_string),
                remote: call.remote.to_string(),
                provider: "smb".into(),
            }),
        };
        fsd::connect(
            &program,
            &req,
            &self.runtime_dir,
            "smb",
            self.opts.connect_timeout,
            handed,
        )
        .or_else(|failure| failure.report(&self.name))
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        fsd::cancel(call, &self.runtime_dir, "smb", &self.name)
    }

    fn get_connection(&self, _local: &str, directory: Option<&Path>) -> Result<String, WnError> {
        fsd::live(&self.runtime_dir, "smb", directory)
    }

    fn health(&self, _local: &str, directory: Option<&Path>) -> RouterHealth {
        fsd::connection_health(&self.runtime_dir, "smb", directory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smb_names() {
        let t = parse(r"\\srv@4450\share\a\b").unwrap();
        assert_eq!(
            t,
            Target {
                host: "srv".into(),
                port: Some(4450),
                share: "share".into(),
                path: "a/b".into()
            }
        );
        let t = parse("smb://srv:445/share/x").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.share.as_str(), t.path.as_str()),
            ("srv", Some(445), "share", "x")
        );
        assert_eq!(
            parse(r"\\srv"),
            Err(WnError::BadNetName),
            "a share is needed"
        );
        assert_eq!(parse("sftp://srv/x"), Err(WnError::BadNetName));
        assert_eq!(parse(r"\\-o\x"), Err(WnError::BadNetName));
        assert_eq!(parse(r"\\srv\a,modules=x"), Err(WnError::BadNetName));
    }

    #[test]
    fn a_domain_comes_before_the_user() {
        assert_eq!(split_domain(r"DOM\u"), (Some("DOM"), "u"));
        assert_eq!(split_domain("DOM/u"), (Some("DOM"), "u"));
        assert_eq!(split_domain("u"), (None, "u"));
    }
}
