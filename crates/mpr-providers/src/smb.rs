//! The `smb` provider: one `smbnetfs` per connection.
//!
//! Names: `\\host[@port]\share[\path]` and `smb://host[:port]/share[/path]`.
//! smbnetfs (libfuse 2) exposes a whole SMB network; its `subdir` module
//! makes the mount root the share (or the path inside it), so the share
//! appears exactly at the local name. Each connection gets a private HOME
//! (mode 0700) with its own `~/.smb` configuration; the credentials file
//! (0600) exists only until the mount has been checked, then it is removed
//! (smbnetfs keeps them in memory). Nothing secret is in any argv.
//!
//! smbnetfs mounts lazily, so the router checks the mount by reading its
//! root: `EACCES` is a refused login, `ENOENT` a missing share or path,
//! anything else (`EIO`) an unreachable server.

use crate::helper::{Helper, Start, log_path};
use crate::options::SmbOptions;
use crate::{Failure, mount};
use mpr_core::names::{RemoteName, Scheme};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider, Origin};
use mpr_core::{WnError, lasterror};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const FSTYPES: &[&str] = &["fuse.smbnetfs"];

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
}

impl Smb {
    /// The private HOME of the helper serving `dir`.
    fn home_for(&self, dir: &Path) -> PathBuf {
        let log = log_path(&self.runtime_dir, "smb", dir);
        log.with_extension("home")
    }

    /// Writes the private configuration; returns the credentials file.
    fn write_config(
        &self,
        home: &Path,
        t: &Target,
        user: Option<&str>,
        password: Option<&str>,
    ) -> std::io::Result<Option<PathBuf>> {
        let smb = home.join(".smb");
        let _ = std::fs::remove_dir_all(home);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&smb)?;
        let write = |name: &str, text: &str| -> std::io::Result<PathBuf> {
            let p = smb.join(name);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            Ok(p)
        };
        // Names are resolved through /etc/hosts and DNS only: no NetBIOS
        // broadcasts onto the local network.
        write(
            "smb.conf",
            "[global]\n   client min protocol = SMB2\n   name resolve order = host\n   disable netbios = yes\n",
        )?;
        let timeout_ms = self.opts.connect_timeout.as_millis().min(60_000);
        let mut conf = format!(
            "use_libsecret \"false\"\nsmb_query_browsers \"false\"\nsmb_timeout {timeout_ms}\n"
        );
        let creds = match user {
            Some(u) => {
                conf.push_str("include \"smbnetfs.auth\"\n");
                let (domain, user) = u.split_once(['\\', '/']).unwrap_or(("WORKGROUP", u));
                let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
                let pw = zeroize::Zeroizing::new(quote(password.unwrap_or("")));
                let line = zeroize::Zeroizing::new(format!(
                    "auth \"{}\" \"{}/{}\" \"{}\"\n",
                    t.host,
                    quote(domain),
                    quote(user),
                    pw.as_str()
                ));
                Some(write("smbnetfs.auth", &line)?)
            }
            None => None,
        };
        write("smbnetfs.conf", &conf)?;
        Ok(creds)
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

    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        let t = parse(call.remote)?;
        let dir = call.directory;
        crate::prepare_mount_point(dir, &self.name)?;
        let home = self.home_for(dir);
        // A password without a user name is for the login name.
        let user = call.user.or(call.password.map(|_| self.login.as_str()));
        let creds = self
            .write_config(&home, &t, user, call.password.map(|p| p.expose()))
            .map_err(|e| {
                lasterror::set(
                    WnError::NetError.code(),
                    format!(
                        "cannot write the smbnetfs configuration in {}: {e}",
                        home.display()
                    ),
                    self.name.clone(),
                );
                WnError::NetError
            })?;
        let server = match t.port {
            Some(p) => format!("{}:{p}", t.host),
            None => t.host.clone(),
        };
        let mut sub = format!("/{server}/{}", t.share);
        if !t.path.is_empty() {
            sub.push('/');
            sub.push_str(&t.path);
        }
        let mut cmd = Command::new("smbnetfs");
        cmd.arg(dir)
            .arg("-f")
            .arg("-o")
            .arg(format!("modules=subdir,subdir={sub}"))
            .env("HOME", &home);
        let log = log_path(&self.runtime_dir, "smb", dir);
        let mut helper = Helper::spawn(cmd, &log, None)
            .map_err(crate::spawn_failed("smbnetfs", "smbnetfs", &self.name))?;
        // The probe reads the share root: that is what authenticates.
        let outcome: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
        let seen = Arc::clone(&outcome);
        let probe_dir = dir.to_path_buf();
        let started = helper.wait_ready(self.opts.connect_timeout, move || {
            if !mount::mounted_at(&probe_dir).is_some_and(|m| FSTYPES.contains(&m.fstype.as_str()))
            {
                return false;
            }
            match std::fs::read_dir(&probe_dir) {
                Ok(_) => true,
                Err(e) => {
                    *seen.lock().unwrap() = Some(e);
                    true
                }
            }
        });
        if let Some(c) = creds {
            let _ = std::fs::remove_file(c);
        }
        let at = format!("{server}/{}", t.share);
        let failure = match started {
            Start::Ready => match outcome.lock().unwrap().take() {
                None => return Ok(()),
                Some(e) => match e.raw_os_error().map(rustix::io::Errno::from_raw_os_error) {
                    Some(rustix::io::Errno::ACCESS) | Some(rustix::io::Errno::PERM) => {
                        let code = if call.password.is_some() {
                            WnError::BadPassword
                        } else {
                            WnError::LogonFailure
                        };
                        Failure::new(code, format!("{at} refused the login ({e})"))
                    }
                    Some(rustix::io::Errno::NOENT) | Some(rustix::io::Errno::NOTDIR) => {
                        Failure::new(
                            WnError::BadNetName,
                            format!("{server} has no share or path {:?} ({e})", sub),
                        )
                    }
                    _ => Failure::new(
                        WnError::BadNetPath,
                        format!("cannot reach an SMB server at {server} ({e})"),
                    ),
                },
            },
            Start::Exited(log) => {
                Failure::new(WnError::NetError, format!("smbnetfs stopped: {log}"))
            }
            Start::TimedOut => Failure::new(
                WnError::BadNetPath,
                format!(
                    "{server} did not answer within {} s: timed out",
                    self.opts.connect_timeout.as_secs()
                ),
            ),
        };
        helper.kill();
        crate::clean_mount_point(dir);
        let _ = std::fs::remove_dir_all(&home);
        failure.report(&self.name)
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        crate::cancel_mount(call, &self.runtime_dir, "smb", &self.name)?;
        if let Some(dir) = call.directory {
            let _ = std::fs::remove_dir_all(self.home_for(dir));
        }
        Ok(())
    }

    fn get_connection(&self, _local: &str, directory: Option<&Path>) -> Result<String, WnError> {
        crate::live_mount(directory, FSTYPES, &self.runtime_dir, "smb")
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
}
