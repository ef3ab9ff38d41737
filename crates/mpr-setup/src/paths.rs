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
    /// `$MPR_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/mpr`, else `/tmp/mpr-<uid>`.
    pub runtime_dir: PathBuf,
    /// `$MPR_DRIVES_DIR`, if set (else the user setting, else `~/Network`).
    pub drives_dir: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
}

fn var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Paths {
    /// Resolves every directory from the environment.
    pub fn from_env() -> Result<Paths, SetupError> {
        let home = var("HOME");
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
        let runtime_dir = match (var("MPR_RUNTIME_DIR"), var("XDG_RUNTIME_DIR")) {
            (Some(d), _) => d,
            (None, Some(x)) => x.join("mpr"),
            (None, None) => PathBuf::from(format!("/tmp/mpr-{uid}")),
        };
        for d in [&state_dir, &runtime_dir] {
            if !d.is_absolute() {
                return Err(SetupError::Environment(format!(
                    "{} must be an absolute path",
                    d.display()
                )));
            }
        }
        // A runtime directory in a shared place must be ours and private.
        if let Ok(md) = std::fs::symlink_metadata(&runtime_dir)
            && (md.file_type().is_symlink() || md.uid() != uid || md.mode() & 0o077 != 0)
        {
            return Err(SetupError::Environment(format!(
                "the runtime directory {} must be a directory owned by you with mode 0700 (refusing to use it)",
                runtime_dir.display()
            )));
        }
        Ok(Paths {
            config_dir,
            user_config,
            state_dir,
            runtime_dir,
            drives_dir: var("MPR_DRIVES_DIR"),
            home,
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
