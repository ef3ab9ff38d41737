//! Persistent state (spec §8): atomic files under advisory locks.
//!
//! - Remembered connections (`HKCU\Network`): `<state dir>/remembered.toml`.
//! - Live connections: `<runtime dir>/connections.toml`.
//!
//! Every write goes to a temporary file in the same directory, is fsynced,
//! renamed over the old file, and the directory is fsynced: a crash at any
//! point leaves the old or the new file, never a torn one. Read-modify-write
//! cycles hold an exclusive `flock` on a sibling `.lock` file; the lock is
//! never held across a provider or notifyee call.

use crate::WnError;
use crate::lasterror;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically with the given mode.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    Ok(())
}

/// An exclusive advisory lock, released on drop.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` (created if missing) is held.
    pub fn acquire(path: &Path) -> std::io::Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(FileLock { _file: file })
    }
}

/// A remembered connection (one `HKCU\Network\<X>` subkey).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// The local name (`Z:` or a directory).
    pub local: String,
    /// The remote name.
    pub remote: String,
    /// The provider key.
    pub provider: String,
    /// The user name, empty for the default.
    #[serde(default)]
    pub user: String,
    /// `RESOURCETYPE_*` (1 = disk).
    #[serde(default = "disk")]
    pub r#type: u32,
}

fn disk() -> u32 {
    mpr_abi::RESOURCETYPE_DISK
}

/// A live connection, or a reservation while a connect is under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// The local name; empty for a deviceless connection.
    pub local: String,
    /// The remote name.
    pub remote: String,
    /// The provider key.
    pub provider: String,
    /// The user name, empty for the default.
    #[serde(default)]
    pub user: String,
    /// The directory the resource is reachable at, if the router knows it.
    #[serde(default)]
    pub directory: String,
    /// Set while a connect is under way: the process that reserved the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_pid: Option<u32>,
    /// Seconds since the epoch when it was made.
    #[serde(default)]
    pub since: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RememberedFile {
    #[serde(default)]
    connection: Vec<Remembered>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LiveFile {
    #[serde(default)]
    connection: Vec<Live>,
}

/// Where state lives.
#[derive(Debug, Clone)]
pub struct Store {
    state_dir: PathBuf,
    runtime_dir: PathBuf,
}

impl Store {
    /// A store over the two directories (created on first write).
    pub fn new(state_dir: PathBuf, runtime_dir: PathBuf) -> Store {
        Store {
            state_dir,
            runtime_dir,
        }
    }

    /// `<state dir>/remembered.toml`.
    pub fn remembered_path(&self) -> PathBuf {
        self.state_dir.join("remembered.toml")
    }

    /// `<runtime dir>/connections.toml`.
    pub fn live_path(&self) -> PathBuf {
        self.runtime_dir.join("connections.toml")
    }

    /// The remembered connections.
    pub fn remembered(&self) -> Result<Vec<Remembered>, WnError> {
        let f: RememberedFile = read_toml(&self.remembered_path(), WnError::BadProfile)?;
        Ok(f.connection)
    }

    /// The live table, reservations of dead processes dropped.
    pub fn live(&self) -> Result<Vec<Live>, WnError> {
        let f: LiveFile = read_toml(&self.live_path(), WnError::BadProfile)?;
        Ok(f.connection.into_iter().filter(reservation_alive).collect())
    }

    /// Applies `change` to the remembered connections under the lock.
    pub fn update_remembered<T>(
        &self,
        change: impl FnOnce(&mut Vec<Remembered>) -> T,
    ) -> Result<T, WnError> {
        let path = self.remembered_path();
        update(&self.state_dir, &path, |f: &mut RememberedFile| {
            change(&mut f.connection)
        })
    }

    /// Applies `change` to the live table under the lock.
    pub fn update_live<T>(&self, change: impl FnOnce(&mut Vec<Live>) -> T) -> Result<T, WnError> {
        let path = self.live_path();
        update(&self.runtime_dir, &path, |f: &mut LiveFile| {
            f.connection.retain(reservation_alive);
            change(&mut f.connection)
        })
    }
}

fn reservation_alive(l: &Live) -> bool {
    match l.pending_pid {
        None => true,
        Some(pid) => pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists(),
    }
}

fn read_toml<T: for<'de> Deserialize<'de> + Default>(
    path: &Path,
    corrupt: WnError,
) -> Result<T, WnError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(T::default()),
        Err(e) => {
            lasterror::set(
                corrupt.code(),
                format!("cannot read {}: {e}", path.display()),
                "mpr",
            );
            return Err(WnError::CannotOpenProfile);
        }
    };
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
        let at = line.map(|l| format!(":{l}")).unwrap_or_default();
        lasterror::set(
            corrupt.code(),
            format!("{}{at}: {}", path.display(), e.message().trim()),
            "mpr",
        );
        corrupt
    })
}

fn update<F, T>(dir: &Path, path: &Path, change: impl FnOnce(&mut F) -> T) -> Result<T, WnError>
where
    F: for<'de> Deserialize<'de> + Serialize + Default,
{
    let io_err = |what: &str, e: std::io::Error| {
        lasterror::set(
            WnError::CannotOpenProfile.code(),
            format!("cannot {what} {}: {e}", path.display()),
            "mpr",
        );
        WnError::CannotOpenProfile
    };
    ensure_private_dir(dir).map_err(|e| io_err("create the directory of", e))?;
    let lock_path = path.with_extension("lock");
    let _lock = FileLock::acquire(&lock_path).map_err(|e| io_err("lock", e))?;
    let mut value: F = read_toml(path, WnError::BadProfile)?;
    let out = change(&mut value);
    let text =
        toml::to_string(&value).map_err(|e| io_err("serialise", std::io::Error::other(e)))?;
    atomic_write(path, text.as_bytes(), 0o600).map_err(|e| io_err("write", e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("state"), d.path().join("run"));
        (d, s)
    }

    fn live(local: &str) -> Live {
        Live {
            local: local.into(),
            remote: r"\\h\s".into(),
            provider: "p".into(),
            user: String::new(),
            directory: String::new(),
            pending_pid: None,
            since: 0,
        }
    }

    #[test]
    fn round_trips_and_is_private() {
        let (_d, s) = store();
        assert!(s.live().unwrap().is_empty());
        s.update_live(|v| v.push(live("Z:"))).unwrap();
        assert_eq!(s.live().unwrap(), vec![live("Z:")]);
        let mode = std::fs::metadata(s.live_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        s.update_remembered(|v| {
            v.push(Remembered {
                local: "Z:".into(),
                remote: r"\\h\s".into(),
                provider: "p".into(),
                user: "u".into(),
                r#type: 1,
            })
        })
        .unwrap();
        assert_eq!(s.remembered().unwrap()[0].user, "u");
    }

    #[test]
    fn dead_reservations_are_dropped() {
        let (_d, s) = store();
        s.update_live(|v| {
            let mut a = live("A:");
            a.pending_pid = Some(u32::MAX - 1);
            let mut b = live("B:");
            b.pending_pid = Some(std::process::id());
            v.push(a);
            v.push(b);
        })
        .unwrap();
        let locals: Vec<_> = s.live().unwrap().into_iter().map(|l| l.local).collect();
        assert_eq!(locals, ["B:"]);
    }

    #[test]
    fn corrupt_file_names_file_and_line() {
        let (_d, s) = store();
        std::fs::create_dir_all(s.remembered_path().parent().unwrap()).unwrap();
        std::fs::write(
            s.remembered_path(),
            "[[connection]]\nlocal = \"Z:\"\nremote = \n",
        )
        .unwrap();
        assert_eq!(s.remembered(), Err(WnError::BadProfile));
        let e = lasterror::get().unwrap();
        assert!(e.text.contains("remembered.toml:3"), "{}", e.text);
        // A failed update leaves the file as it was.
        assert_eq!(s.update_remembered(|v| v.clear()), Err(WnError::BadProfile));
        assert!(
            std::fs::read_to_string(s.remembered_path())
                .unwrap()
                .contains("remote = ")
        );
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let (_d, s) = store();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for j in 0..10 {
                        s.update_live(|v| v.push(live(&format!("/m/{i}/{j}"))))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.live().unwrap().len(), 80);
    }
}
