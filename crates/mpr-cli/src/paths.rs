//! Where things live, from the environment (the core never reads it).

use anyhow::{Context, Result, bail};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The resolved directories.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `$MPR_CONFIG_DIR`, else `/etc/mpr`.
    pub config_dir: PathBuf,
    /// The per-user configuration file.
    pub user_config: PathBuf,
    /// `$MPR_STATE_DIR`, else `$XDG_STATE_HOME/mpr`, else `~/.local/state/mpr`.
    pub state_dir: PathBuf,
    /// `$MPR_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/mpr`, else `/tmp/mpr-<uid>`.
    pub runtime_dir: PathBuf,
    /// `$MPR_DRIVES_DIR`, else the user setting, else `~/Network`.
    pub drives_dir: Option<PathBuf>,
}

fn var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Result<PathBuf> {
    var("HOME").context("HOME is not set, and mpr needs it to find your state directory")
}

impl Paths {
    /// Resolves every directory from the environment.
    pub fn from_env() -> Result<Paths> {
        let config_dir = var("MPR_CONFIG_DIR").unwrap_or_else(|| PathBuf::from("/etc/mpr"));
        let user_config = match var("XDG_CONFIG_HOME") {
            Some(d) => d.join("mpr/mpr.toml"),
            None => home()?.join(".config/mpr/mpr.toml"),
        };
        let state_dir = match (var("MPR_STATE_DIR"), var("XDG_STATE_HOME")) {
            (Some(d), _) => d,
            (None, Some(x)) => x.join("mpr"),
            (None, None) => home()?.join(".local/state/mpr"),
        };
        let uid = rustix::process::getuid().as_raw();
        let runtime_dir = match (var("MPR_RUNTIME_DIR"), var("XDG_RUNTIME_DIR")) {
            (Some(d), _) => d,
            (None, Some(x)) => x.join("mpr"),
            (None, None) => PathBuf::from(format!("/tmp/mpr-{uid}")),
        };
        for d in [&state_dir, &runtime_dir] {
            if !d.is_absolute() {
                bail!("{} must be an absolute path", d.display());
            }
        }
        // A runtime directory in a shared place must be ours and private.
        if runtime_dir.exists() {
            let md = std::fs::symlink_metadata(&runtime_dir)
                .with_context(|| format!("cannot inspect {}", runtime_dir.display()))?;
            if md.file_type().is_symlink() || md.uid() != uid || md.mode() & 0o077 != 0 {
                bail!(
                    "the runtime directory {} must be a directory owned by you with mode 0700 (it is not: refusing to use it)",
                    runtime_dir.display()
                );
            }
        }
        Ok(Paths {
            config_dir,
            user_config,
            state_dir,
            runtime_dir,
            drives_dir: var("MPR_DRIVES_DIR"),
        })
    }

    /// The system configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("mpr.toml")
    }
}
