//! The `sftp` provider: mpr's own file system, one `mpr-fsd` per
//! connection, on its SFTP back end (crate `mpr-sftp`), which speaks SFTP
//! over an `ssh -s sftp` child of the system's OpenSSH.
//!
//! Names: `sftp://[user@]host[:port]/path` (an absolute path on the server)
//! and `\\host[@port]\share[\path]` (a path relative to the user's home
//! directory on the server: `\\host\export` is `~/export`). Authentication is
//! ssh's own: keys, the agent and `~/.ssh/config` work as they do for `ssh`;
//! a password given with `--password-stdin` travels in the handshake
//! request on `mpr-fsd`'s standard input and reaches ssh through
//! `SSH_ASKPASS` (`mpr-askpass` and a private socket), never in an argv or
//! an environment. Connections to the same host as the same user share one
//! ssh control master, whose socket lives in [`control_dir`].
//! `[providers.sftp] ssh_config` names an ssh configuration file passed as
//! `ssh -F`: mpr opens it first (without blocking, and only if it is a
//! regular file of sane size: a FIFO or a device there is refused at once,
//! `WN_ACCESS_DENIED`) and hands ssh a private copy of what it read, beside
//! the server's log, so that ssh reads what was checked. (ssh closes every
//! inherited descriptor when it starts, so an open `/dev/fd/N` cannot reach
//! it; and the server runs ssh again on every reconnect, so the copy lives
//! as long as the connection.)

use crate::helper::log_path;
use crate::options::SftpOptions;
use crate::{Failure, fsd};
use mpr_core::WnError;
use mpr_core::names::{RemoteName, Scheme};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider, NotMine, Origin};
use mpr_handshake::{Audit, AuditSinks, Password, Protocol, Request};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The longest control directory path whose sockets still fit a unix
/// socket address (108 bytes): ssh adds `/ssh-` and 40 hex digits (`%C`),
/// and 17 characters more while it sets a new master up.
const MAX_CONTROL_DIR: usize = 44;

/// The private directory (0700, the user's own) of the ssh control masters
/// and the askpass sockets: `<runtime>/ssh`, or, when that path is too long
/// for a socket address, `/tmp/mpr-ssh-<uid>`; `None` when neither can be
/// made private (the connections then share no master).
pub fn control_dir(runtime_dir: &Path) -> Option<PathBuf> {
    let uid = rustix::process::geteuid().as_raw();
    let first = runtime_dir.join("ssh");
    let dir = if first.as_os_str().len() <= MAX_CONTROL_DIR {
        first
    } else {
        PathBuf::from(format!("/tmp/mpr-ssh-{uid}"))
    };
    private_dir(&dir, uid).ok().map(|()| dir)
}

/// Makes `dir` (mode 0700) if it is missing, and checks that it is a
/// directory (not a link) of user `uid` that no one else may enter.
fn private_dir(dir: &Path, uid: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let m = std::fs::symlink_metadata(dir)?;
    if !m.is_dir() || m.uid() != uid {
        return Err(std::io::Error::other(format!(
            "{} is not a directory of this user",
            dir.display()
        )));
    }
    if m.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Where an SFTP name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The user from the name, if any.
    pub user: Option<String>,
    /// The host.
    pub host: String,
    /// The port, if not 22.
    pub port: Option<u16>,
    /// The path on the server (absolute, or relative to the home directory).
    pub path: String,
}

/// Parses a remote name for SFTP; `WN_BAD_NETNAME` if it is not one.
pub fn parse(remote: &str) -> Result<Target, WnError> {
    let p = RemoteName::parse(remote)?.parts()?;
    if !matches!(p.scheme, Scheme::Sftp | Scheme::Unc) {
        return Err(WnError::BadNetName);
    }
    // A UNC name has no user; its path (share and below) is relative to the
    // home directory, a URL's is absolute: both are passed on as written.
    let t = Target {
        user: p.user,
        host: p.host,
        port: p.port,
        path: p.path,
    };
    // Nothing that ssh could take for an option.
    let bad = |s: &str| {
        s.is_empty() || s.starts_with('-') || s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if bad(&t.host) || t.user.as_deref().is_some_and(bad) || t.path.chars().any(char::is_control) {
        return Err(WnError::BadNetName);
    }
    Ok(t)
}

/// Reads the `ssh_config` file, refusing at once (before a byte is read,
/// without blocking) anything but a regular file of sane size, and writes
/// what it read to a private copy beside the helper's `log`, for ssh.
/// Symbolic links are followed, as ssh follows them (a loop is refused);
/// the file they lead to is checked. The error is the reason, in words.
fn copy_ssh_config(path: &Path, log: &Path) -> Result<PathBuf, String> {
    let real = std::fs::canonicalize(path).map_err(|e| {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            format!("ssh_config {} is a loop of symbolic links", path.display())
        } else {
            format!("ssh_config {} cannot be opened: {e}", path.display())
        }
    })?;
    let max = mpr_core::trust::MAX_TEXT_LEN;
    let file = mpr_core::trust::open_regular(&real, max).map_err(|r| {
        if real == path {
            format!("ssh_config {r}")
        } else {
            format!(
                "ssh_config {} (which is {}) {}",
                path.display(),
                real.display(),
                r.unfit
            )
        }
    })?;
    let mut text = Vec::new();
    // Bounded: the file may have grown since it was checked.
    file.take(max)
        .read_to_end(&mut text)
        .map_err(|e| format!("ssh_config {} cannot be read: {e}", path.display()))?;
    let copy = crate::helper::private_copy(log, "ssh_config");
    copy.parent()
        .map_or(Ok(()), mpr_core::state::ensure_private_dir)
        .and_then(|()| mpr_core::state::atomic_write(&copy, &text, 0o600))
        .map_err(|e| format!("cannot copy ssh_config to {}: {e}", copy.display()))?;
    Ok(copy)
}

/// The built-in SFTP provider.
#[derive(Debug)]
pub struct Sftp {
    pub(crate) name: String,
    pub(crate) opts: SftpOptions,
    pub(crate) runtime_dir: PathBuf,
    pub(crate) fsd_dirs: Vec<PathBuf>,
    /// The audit sinks `mpr-fsd` records a conflict in.
    pub(crate) audit: AuditSinks,
}

impl Sftp {
    /// Speaks first ([`crate::probe::opening`]): an SSH server greets with
    /// its identification (`SSH-2.0-...`), an SMB or HTTP server answers
    /// in its own protocol at once. Anything but an SSH greeting: "not
    /// mine".
    fn probe_banner(&self, t: &Target) -> Result<(), NotMine> {
        let port = t.port.unwrap_or(22);
        let wait = self.opts.connect_timeout.min(crate::probe::WAIT);
        crate::probe::greeting(&t.host, port, wait, Some(&crate::probe::opening()), b"SSH-")
            .map_err(|why| NotMine {
                code: WnError::BadNetPath,
                reason: format!("no SSH server at {}:{port}: {why}", t.host),
            })
    }
}

impl NetworkProvider for Sftp {
    fn key(&self) -> &str {
        "sftp"
    }

    fn display_name(&self) -> &str {
        &self.name
    }

    fn connection_caps(&self) -> u32 {
        crate::BUILTIN_CAPS
    }

    fn net_type(&self) -> u32 {
        crate::WNNC_NET_MPR_SFTP
    }

    fn origin(&self) -> Origin {
        Origin::BuiltIn
    }

    fn claims_over(&self, directory: &Path) {
        crate::spare::discard(directory);
    }

    fn claim(&self, remote: &str, directory: &Path) -> Option<Result<(), NotMine>> {
        if RemoteName::parse(remote).ok()?.scheme().is_some() {
            return None;
        }
        let t = parse(remote).ok()?;
        fsd::get_ready(&self.fsd_dirs, directory);
        Some(self.probe_banner(&t))
    }

    /// The server the connect needs, started while the checks run or the
    /// name is reserved.
    fn get_ready(&self, remote: &str, directory: &Path) {
        if parse(remote).is_ok() {
            fsd::get_ready(&self.fsd_dirs, directory);
        }
    }

    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        let t = parse(call.remote)?;
        if !call.claimed && RemoteName::parse(call.remote)?.scheme().is_none() {
            // A bare UNC name may be anybody's: answer "not mine" quickly
            // when no SSH server greets us there.
            if let Err(n) = self.probe_banner(&t) {
                return Failure::new(n.code, n.reason).report(&self.name);
            }
        }
        let dir = call.directory;
        let log = log_path(&self.runtime_dir, "sftp", dir);
        let config = match &self.opts.ssh_config {
            Some(path) => Some(
                copy_ssh_config(path, &log)
                    .or_else(|why| Failure::new(WnError::AccessDenied, why).report(&self.name))?,
            ),
            None => None,
        };
        crate::prepare_mount_point(dir, &self.name)?;
        let program = fsd::find_or_fail(&self.fsd_dirs).or_else(|f| f.report(&self.name))?;
        let health_file = fsd::health_path(&self.runtime_dir, "sftp", dir);
        let _ = std::fs::remove_file(&health_file);
        let mut options = serde_json::Map::new();
        if let Some(copy) = &config {
            options.insert("ssh_config".into(), copy.display().to_string().into());
        }
        if let Some(control) = control_dir(&self.runtime_dir) {
            options.insert("control_dir".into(), control.display().to_string().into());
        }
        let req = Request {
            protocol: Protocol::Sftp,
            host: t.host.clone(),
            port: t.port,
            share: String::new(),
            path: t.path.clone(),
            user: call.user.map(str::to_string).or(t.user.clone()),
            domain: None,
            password: call
                .password
                .filter(|p| !p.expose().is_empty())
                .map(|p| Password::new(p.expose().to_string())),
            mountpoint: dir.to_path_buf(),
            health_file,
            op_timeout_secs: self.opts.operation_timeout.as_secs(),
            options,
            audit: Some(Audit {
                sinks: self.audit.clone(),
                local: call.local.map(str::to_string),
                remote: call.remote.to_string(),
                provider: "sftp".into(),
            }),
        };
        fsd::connect(
            &program,
            &req,
            &self.runtime_dir,
            "sftp",
            self.opts.connect_timeout,
            None,
        )
        .or_else(|failure| failure.report(&self.name))
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        fsd::cancel(call, &self.runtime_dir, "sftp", &self.name)
    }

    fn get_connection(&self, _local: &str, directory: Option<&Path>) -> Result<String, WnError> {
        fsd::live(&self.runtime_dir, "sftp", directory)
    }

    fn health(&self, _local: &str, directory: Option<&Path>) -> mpr_core::router::Health {
        fsd::connection_health(&self.runtime_dir, "sftp", directory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sftp_names() {
        let t = parse("sftp://bob@h.example:2222/srv/data").unwrap();
        assert_eq!(
            t,
            Target {
                user: Some("bob".into()),
                host: "h.example".into(),
                port: Some(2222),
                path: "/srv/data".into()
            }
        );
        let t = parse(r"\\h@22022\export\sub\dir").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("h", Some(22022), "export/sub/dir")
        );
        assert_eq!(parse("sftp://[::1]:22/x").unwrap().host, "::1");
        assert_eq!(parse("smb://h/share"), Err(WnError::BadNetName));
        assert_eq!(parse("dav://h/x"), Err(WnError::BadNetName));
        assert_eq!(parse("sftp://-oProxyCommand=x/y"), Err(WnError::BadNetName));
        assert_eq!(parse("sftp://-bob@h/y"), Err(WnError::BadNetName));
        assert_eq!(parse("sftp://h:notaport/y"), Err(WnError::BadNetName));
    }

    #[test]
    fn the_control_directory_is_private_and_short_enough_for_a_socket() {
        let base = std::env::temp_dir().join(format!("mpr-cd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let short = Path::new("/tmp").join(format!("mpr-cd-{}", std::process::id()));
        let d = control_dir(&short).unwrap();
        assert_eq!(d, short.join("ssh"));
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        let long = base.join("x".repeat(80));
        let d = control_dir(&long).unwrap();
        assert!(d.as_os_str().len() <= MAX_CONTROL_DIR, "{}", d.display());
        let _ = std::fs::remove_dir_all(&base);
        let _ = std::fs::remove_dir_all(&short);
    }
}
