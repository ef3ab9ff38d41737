//! The `sftp` provider: one `sshfs` per connection.
//!
//! Names: `sftp://[user@]host[:port]/path` (an absolute path on the server)
//! and `\\host[@port]\share[\path]` (a path relative to the user's home
//! directory on the server: `\\host\export` is `~/export`). Authentication is
//! ssh's own: keys, the agent and `~/.ssh/config` work as they do for `ssh`;
//! a password given with `--password-stdin` reaches sshfs on its standard
//! input (`-o password_stdin`), never in an argv. `[providers.sftp]
//! ssh_config` names an ssh configuration file passed as `ssh -F`: mpr
//! opens it first (without blocking, and only if it is a regular file of
//! sane size: a FIFO or a device there is refused at once, `WN_ACCESS_DENIED`)
//! and hands ssh a private copy of what it read, beside the helper's log,
//! so that ssh reads what was checked. (ssh closes every inherited
//! descriptor when it starts, so an open `/dev/fd/N` cannot reach it; and
//! sshfs runs ssh again on every reconnect, so the copy lives as long as
//! the connection.)

use crate::helper::{Helper, Start, log_path};
use crate::options::SftpOptions;
use crate::{Failure, mount};
use mpr_core::WnError;
use mpr_core::names::{RemoteName, Scheme};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider, NotMine, Origin};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const FSTYPES: &[&str] = &["fuse.sshfs"];

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

    /// Maps what ssh and sshfs said to a `WN_*` code.
    fn classify(&self, log: &str, with_password: bool, t: &Target) -> Failure {
        let at = format!(
            "{}{}",
            t.host,
            t.port.map(|p| format!(":{p}")).unwrap_or_default()
        );
        // The line that says it, or the last line.
        let line = |keys: &[&str]| -> Option<String> {
            log.lines()
                .find(|l| keys.iter().any(|k| l.contains(k)))
                .map(|l| l.trim().to_string())
        };
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        if let Some(local) = mount::local_failure(log) {
            return local;
        }
        if let Some(l) = line(&[
            "Host key verification failed",
            "REMOTE HOST IDENTIFICATION HAS CHANGED",
            "host key is known",
        ]) {
            return Failure::new(
                WnError::ExtendedError,
                format!(
                    "the host key of {at} is unknown or has changed; check it with ssh first ({l})"
                ),
            );
        }
        if let Some(l) = line(&["Permission denied", "Too many authentication failures"]) {
            let e = if with_password {
                WnError::BadPassword
            } else {
                WnError::LogonFailure
            };
            return Failure::new(e, format!("{at} refused the login ({l})"));
        }
        if log.contains("No such file or directory") && !log.contains("no such identity") {
            return Failure::new(
                WnError::BadNetName,
                format!("{at} has no directory {:?}", t.path),
            );
        }
        const UNREACHABLE: &[&str] = &[
            "Connection refused",
            "Could not resolve hostname",
            "No route to host",
            "Network is unreachable",
            "Connection timed out",
            "kex_exchange_identification",
            "banner exchange",
            "Connection closed",
            "Connection reset",
        ];
        if let Some(l) = line(UNREACHABLE) {
            return Failure::new(
                WnError::BadNetPath,
                format!("cannot reach an SSH server at {at} ({l})"),
            );
        }
        Failure::new(WnError::NetError, format!("sshfs failed for {at}: {last}"))
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

    fn claim(&self, remote: &str) -> Option<Result<(), NotMine>> {
        if RemoteName::parse(remote).ok()?.scheme().is_some() {
            return None;
        }
        Some(self.probe_banner(&parse(remote).ok()?))
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
        let user = call.user.map(str::to_string).or(t.user.clone());
        let mut spec = String::new();
        if let Some(u) = &user {
            spec.push_str(u);
            spec.push('@');
        }
        if t.host.contains(':') {
            spec.push_str(&format!("[{}]", t.host));
        } else {
            spec.push_str(&t.host);
        }
        spec.push(':');
        spec.push_str(&t.path);
        let mut cmd = Command::new("sshfs");
        cmd.arg(&spec).arg(dir).arg("-f");
        if let Some(p) = t.port {
            cmd.arg("-p").arg(p.to_string());
        }
        if let Some(copy) = &config {
            cmd.arg("-F").arg(copy);
        }
        let timeout = self.opts.connect_timeout;
        let mut o = format!(
            "reconnect,ServerAliveInterval=15,ServerAliveCountMax=3,ConnectTimeout={}",
            timeout.as_secs().max(1)
        );
        let password = call.password.filter(|p| !p.expose().is_empty());
        if password.is_some() {
            o.push_str(",password_stdin,PreferredAuthentications=password,PubkeyAuthentication=no,NumberOfPasswordPrompts=1");
        } else {
            o.push_str(",BatchMode=yes");
        }
        cmd.arg("-o").arg(o);
        let mut helper = Helper::spawn(cmd, &log, password)
            .map_err(crate::spawn_failed("sshfs", "sshfs", &self.name))?;
        let probe_dir: PathBuf = dir.to_path_buf();
        let started = helper.wait_ready(timeout, move || {
            mount::mounted_at(&probe_dir).is_some_and(|m| FSTYPES.contains(&m.fstype.as_str()))
                && std::fs::read_dir(&probe_dir).is_ok()
        });
        match started {
            Start::Ready => Ok(()),
            Start::Exited(log) => {
                crate::clean_mount_point(dir);
                self.classify(&log, password.is_some(), &t)
                    .report(&self.name)
            }
            Start::TimedOut => {
                crate::clean_mount_point(dir);
                Failure::new(
                    WnError::BadNetPath,
                    format!(
                        "{} did not answer within {} s: timed out",
                        t.host,
                        timeout.as_secs()
                    ),
                )
                .report(&self.name)
            }
        }
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        crate::cancel_mount(call, &self.runtime_dir, "sftp", &self.name)
    }

    fn get_connection(&self, _local: &str, directory: Option<&Path>) -> Result<String, WnError> {
        crate::live_mount(directory, FSTYPES, &self.runtime_dir, "sftp")
    }

    fn health(&self, _local: &str, directory: Option<&Path>) -> mpr_core::router::Health {
        crate::mount_health(directory, FSTYPES, &self.runtime_dir, "sftp")
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
}
