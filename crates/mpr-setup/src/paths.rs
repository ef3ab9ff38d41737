//! Where things live, from the environment (the core never reads it).

use crate::SetupError;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The resolved directories.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `$MPR_CONFIG_DIR`, else `/etc/mpr`.
    pub config_dir: PathBuf,
    /// The per-user configuration file (`$XDG_CONFIG_HOME/mpr/mpr.toml`).
    pub user_config: PathBuf,
    /// `$MPR_STATE_DIR`, else `$XDG_STATE_HOME/mpr`, else `~/.local/state/mpr`.
    pub state_dir: PathBuf,
    /// `$MPR_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/mpr`, else `/tmp/mpr-<uid>`
    /// (which must be the caller's own, mode 0700, not a symlink).
    pub runtime_dir: PathBuf,
    /// `$MPR_DRIVES_DIR`, if set (else the user setting, else `~/Network`).
    pub drives_dir: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$MPR_LIBEXEC_DIR`, if set: another directory to look for the
    /// notifyee host in, before the one `make install` uses (the loader's
    /// `INSTALL_LIBEXEC_DIR`).
    pub libexec_dir: Option<PathBuf>,
    /// systemd-journald's socket: `$MPR_JOURNAL_SOCKET`, else
    /// `/run/systemd/journal/socket`.
    pub journal_socket: PathBuf,
}

fn var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Paths {
    /// Resolves every directory from the environment.
    pub fn from_env() -> Result<Paths, SetupError> {
        // $HOME, else the home directory of the account (a caller that
        // cleared its environment still has one).
        let home = var("HOME").or_else(|| passwd_home(rustix::process::getuid().as_raw()));
        let need_home = |what: &str| {
            home.clone().ok_or_else(|| {
                SetupError::Environment(format!("HOME is not set, and mpr needs it for {what}"))
            })
        };
        let config_dir = var("MPR_CONFIG_DIR").unwrap_or_else(|| PathBuf::from("/etc/mpr"));
        let user_config = match var("XDG_CONFIG_HOME") {
            Some(d) => d.join("mpr/mpr.toml"),
            None => need_home("your configuration file")?.join(".config/mpr/mpr.toml"),
        };
        let state_dir = match (var("MPR_STATE_DIR"), var("XDG_STATE_HOME")) {
            (Some(d), _) => d,
            (None, Some(x)) => x.join("mpr"),
            (None, None) => need_home("your state directory")?.join(".local/state/mpr"),
        };
        let uid = rustix::process::getuid().as_raw();
        let (runtime_dir, shared) = match (var("MPR_RUNTIME_DIR"), var("XDG_RUNTIME_DIR")) {
            (Some(d), _) => (d, false),
            (None, Some(x)) => (x.join("mpr"), false),
            (None, None) => (PathBuf::from(format!("/tmp/mpr-{uid}")), true),
        };
        for d in [&state_dir, &runtime_dir] {
            if !d.is_absolute() {
                return Err(SetupError::Environment(format!(
                    "{} must be an absolute path",
                    d.display()
                )));
            }
        }
        // The fallback in /tmp is a name anybody could have taken first: it
        // must be ours and private (mpr creates it 0700). A directory named
        // by the environment is the user's own choice and is used as it is.
        if shared {
            check_private(&runtime_dir, uid)?;
        }
        Ok(Paths {
            config_dir,
            user_config,
            state_dir,
            runtime_dir,
            drives_dir: var("MPR_DRIVES_DIR"),
            home,
            libexec_dir: var(mpr_loader::isolation::LIBEXEC_ENV),
            journal_socket: var("MPR_JOURNAL_SOCKET")
                .unwrap_or_else(|| PathBuf::from(mpr_core::journal::DEFAULT_JOURNAL_SOCKET)),
        })
    }

    /// The system configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("mpr.toml")
    }

    /// The audit journal.
    pub fn journal_file(&self) -> PathBuf {
        self.state_dir.join("journal.jsonl")
    }
}

/// The home directory of `uid` in `/etc/passwd`, if it has one.
fn passwd_home(uid: u32) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok()? == uid && f[5].starts_with('/'))
            .then(|| PathBuf::from(f[5]))
    })
}

/// An existing directory must be a real directory of `uid` with no access
/// for others; a missing one is fine (it is created 0700).
fn check_private(dir: &std::path::Path, uid: u32) -> Result<(), SetupError> {
    match std::fs::symlink_metadata(dir) {
        Ok(md)
            if md.file_type().is_symlink()
                || !md.is_dir()
                || md.uid() != uid
                || md.mode() & 0o077 != 0 =>
        {
            Err(SetupError::Environment(format!(
                "the runtime directory {} must be a directory owned by you with mode 0700 (refusing to use it)",
                dir.display()
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_account_has_a_home_in_passwd() {
        let uid = rustix::process::getuid().as_raw();
        let home = passwd_home(uid).expect("the test user has a passwd entry");
        assert!(home.is_absolute());
        assert_eq!(passwd_home(u32::MAX - 7), None);
    }

    #[test]
    fn the_shared_fallback_must_be_private() {
        let uid = rustix::process::getuid().as_raw();
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("mpr-x");
        assert!(check_private(&dir, uid).is_ok(), "missing: created later");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_private(&dir, uid).is_ok());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_private(&dir, uid).is_err(), "readable by others");
        assert!(check_private(&dir, uid + 1).is_err(), "someone else's");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(check_private(&link, uid).is_err(), "a symlink");
    }
}
