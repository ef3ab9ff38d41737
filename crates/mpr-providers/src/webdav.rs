//! The `webdav` provider: `rclone mount` per connection, after an
//! `rclone lsjson --stat` check (the mount itself is lazy and would hide
//! every error behind `EIO`).
//!
//! Names: `dav://host[:port]/path` (HTTP), `davs://host[:port]/path`
//! (HTTPS), and the Windows redirector's `\\host[@SSL][@port]\path`. The
//! password reaches rclone through its environment (`RCLONE_WEBDAV_PASS`,
//! in rclone's obscured form), never through an argv.

use crate::helper::{Helper, Start, log_path};
use crate::options::WebDavOptions;
use crate::{Failure, mount};
use mpr_core::WnError;
use mpr_core::names::{RemoteName, Scheme};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider, NotMine, Origin, Secret};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FSTYPES: &[&str] = &["fuse.rclone"];

/// Where a WebDAV name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// HTTPS (`davs://`, or `@SSL` in a UNC name) rather than HTTP.
    pub https: bool,
    /// The host.
    pub host: String,
    /// The port, if not the scheme's.
    pub port: Option<u16>,
    /// The URL handed to rclone, ending with `/`.
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
}

/// rclone's environment for one connection.
fn rclone_env(cmd: &mut Command, url: &str, user: Option<&str>, obscured: Option<&str>) {
    cmd.env("RCLONE_CONFIG", "/dev/null")
        .env("RCLONE_WEBDAV_URL", url)
        .env("RCLONE_WEBDAV_VENDOR", "other")
        .env_remove("RCLONE_WEBDAV_PASS")
        .env_remove("RCLONE_WEBDAV_USER");
    if let Some(u) = user {
        cmd.env("RCLONE_WEBDAV_USER", u);
    }
    if let Some(p) = obscured {
        cmd.env("RCLONE_WEBDAV_PASS", p);
    }
}

impl WebDav {
    /// Sends a bare HTTP request and waits briefly for an HTTP answer; on a
    /// TLS port, a connection is enough.
    fn probe_http(&self, t: &Target) -> Result<(), NotMine> {
        let (https, host) = (t.https, t.host.as_str());
        let port = t.port.unwrap_or(if https { 443 } else { 80 });
        let wait = self.opts.connect_timeout.min(crate::probe::WAIT);
        let hello = format!("OPTIONS / HTTP/1.0\r\nHost: {host}\r\n\r\n");
        let (hello, expect): (Option<&[u8]>, &[u8]) = if https {
            (None, b"")
        } else {
            (Some(hello.as_bytes()), b"HTTP/")
        };
        crate::probe::greeting(host, port, wait, hello, expect).map_err(|why| NotMine {
            code: WnError::BadNetPath,
            reason: format!("no web server at {host}:{port}: {why}"),
        })
    }

    /// rclone's obscured form of the password, made by `rclone obscure -`
    /// reading it on standard input.
    fn obscure(&self, pw: &Secret) -> Result<zeroize::Zeroizing<String>, WnError> {
        let mut child = Command::new("rclone")
            .args(["obscure", "-"])
            .env("RCLONE_CONFIG", "/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(crate::spawn_failed("rclone", "rclone", &self.name))?;
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(pw.expose().as_bytes());
        }
        let out = child.wait_with_output().map_err(|_| WnError::NetError)?;
        let s = zeroize::Zeroizing::new(String::from_utf8_lossy(&out.stdout).trim().to_string());
        if !out.status.success() || s.is_empty() {
            return Failure::new(
                WnError::NetError,
                "rclone could not encode the password".into(),
            )
            .report(&self.name);
        }
        Ok(s)
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

    fn claim(&self, remote: &str) -> Option<Result<(), NotMine>> {
        RemoteName::parse(remote).ok()?.unc()?;
        Some(self.probe_http(&target(remote).ok()?))
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
        let url = t.url;
        let dir = call.directory;
        let obscured = match call.password.filter(|p| !p.expose().is_empty()) {
            Some(p) => Some(self.obscure(p)?),
            None => None,
        };
        // The check (rclone answers with an exact reason; the mount is lazy
        // and would not) and the mount run side by side: a failed check
        // kills the mount, a passed one leaves it to become ready.
        let timeout = self.opts.connect_timeout;
        let pass = obscured.as_deref().map(String::as_str);
        crate::prepare_mount_point(dir, &self.name)?;
        let spawn_err = crate::spawn_failed("rclone", "rclone", &self.name);
        let mut check = Command::new("rclone");
        check.args([
            "lsjson",
            "--stat",
            "--retries",
            "1",
            "--low-level-retries",
            "1",
        ]);
        check
            .arg("--contimeout")
            .arg(format!("{}s", timeout.as_secs().max(1)));
        check
            .arg("--timeout")
            .arg(format!("{}s", timeout.as_secs().max(1)));
        check.arg(":webdav:");
        rclone_env(&mut check, &url, call.user, pass);
        let check_log = log_path(&self.runtime_dir, "webdav-check", dir);
        let mut checker = Helper::spawn(check, &check_log, None).map_err(&spawn_err)?;
        let mut cmd = Command::new("rclone");
        cmd.args(["mount", ":webdav:"]).arg(dir).args([
            "--dir-cache-time",
            "1s",
            "--retries",
            "1",
            "--low-level-retries",
            "2",
        ]);
        rclone_env(&mut cmd, &url, call.user, pass);
        let log = log_path(&self.runtime_dir, "webdav", dir);
        let mut helper = match Helper::spawn(cmd, &log, None) {
            Ok(h) => h,
            Err(e) => {
                checker.kill();
                return Err(spawn_err(e));
            }
        };
        let checked = checker.wait_ready(timeout, || false);
        crate::helper::forget(&check_log);
        let failure = match checked {
            Start::Exited(log) if log.starts_with("exit status: 0") => None,
            Start::Exited(log) => Some(
                if log.contains("401") || log.contains("403") || log.contains("Unauthorized") {
                    let e = if call.password.is_some() {
                        WnError::BadPassword
                    } else {
                        WnError::LogonFailure
                    };
                    Failure::new(e, format!("{url} refused the login"))
                } else if log.contains("directory not found")
                    || log.contains("404")
                    || log.contains("object not found")
                {
                    Failure::new(WnError::BadNetName, format!("{url} does not exist"))
                } else {
                    let last = log
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("")
                        .to_string();
                    Failure::new(
                        WnError::BadNetPath,
                        format!("cannot reach a WebDAV server at {url} ({})", last.trim()),
                    )
                },
            ),
            Start::Ready | Start::TimedOut => Some(Failure::new(
                WnError::BadNetPath,
                format!(
                    "{url} did not answer within {} s: timed out",
                    timeout.as_secs()
                ),
            )),
        };
        if let Some(failure) = failure {
            helper.kill();
            crate::clean_mount_point(dir);
            crate::helper::forget(&log);
            return failure.report(&self.name);
        }
        let probe_dir = dir.to_path_buf();
        match helper.wait_ready(timeout, move || {
            mount::mounted_at(&probe_dir).is_some_and(|m| FSTYPES.contains(&m.fstype.as_str()))
                && std::fs::read_dir(&probe_dir).is_ok()
        }) {
            Start::Ready => Ok(()),
            Start::Exited(log) => {
                crate::clean_mount_point(dir);
                mount::local_failure(&log)
                    .unwrap_or_else(|| {
                        Failure::new(WnError::NetError, format!("rclone mount stopped: {log}"))
                    })
                    .report(&self.name)
            }
            Start::TimedOut => {
                crate::clean_mount_point(dir);
                Failure::new(
                    WnError::BadNetPath,
                    format!(
                        "{url} did not answer within {} s: timed out",
                        timeout.as_secs()
                    ),
                )
                .report(&self.name)
            }
        }
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        crate::cancel_mount(call, &self.runtime_dir, "webdav", &self.name)
    }

    fn get_connection(&self, _local: &str, directory: Option<&Path>) -> Result<String, WnError> {
        crate::live_mount(directory, FSTYPES, &self.runtime_dir, "webdav")
    }

    fn health(&self, _local: &str, directory: Option<&Path>) -> mpr_core::router::Health {
        crate::mount_health(directory, FSTYPES, &self.runtime_dir, "webdav")
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
