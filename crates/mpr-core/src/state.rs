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
//!
//! [`Store::memory`] keeps the same two tables in memory instead, for unit
//! tests and benchmarks that must not measure or depend on file I/O; the
//! `mpr` command always uses [`Store::new`].

use crate::WnError;
use crate::lasterror;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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
    } else {
        sweep_stale_temporaries(dir, &name.to_string_lossy());
    }
    result
}

/// Removes the temporary files of writers of `name` that died before their
/// rename (a writer killed with SIGKILL cannot clean up after itself).
/// Only a dead process's file goes; the state file itself is never torn.
fn sweep_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let pid = file
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
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

impl Live {
    /// Whether the connection was made (not a reservation under way).
    pub fn is_committed(&self) -> bool {
        self.pending_pid.is_none()
    }

    /// Whether it is a reservation of process `pid` for `key`.
    pub fn is_reserved_by(&self, pid: u32, key: &str) -> bool {
        self.pending_pid == Some(pid) && self.local == key
    }
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
    /// Reservations of processes that died before committing: what they
    /// may have left behind (a mount, a helper) is still to be cleaned up
    /// by the router (`Router::sweep`), which then forgets them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    orphan: Vec<Live>,
}

impl LiveFile {
    /// Moves the reservations of dead processes to the orphans.
    fn settle(&mut self) {
        let (alive, dead): (Vec<Live>, Vec<Live>) = std::mem::take(&mut self.connection)
            .into_iter()
            .partition(reservation_alive);
        self.connection = alive;
        self.orphan.extend(dead);
    }
}

/// Where state lives: two directories, or memory ([`Store::memory`]).
#[derive(Debug, Clone)]
pub struct Store {
    state_dir: PathBuf,
    runtime_dir: PathBuf,
    /// `Some` for a memory store; clones share it.
    memory: Option<Arc<Memory>>,
}

/// The two tables of a memory store, each behind its own lock (as each file
/// has its own `.lock`).
#[derive(Debug, Default)]
struct Memory {
    remembered: Mutex<Vec<Remembered>>,
    live: Mutex<LiveFile>,
    prefixes: Mutex<Vec<crate::prefixes::Prefix>>,
}

/// Locks a table of a memory store. A panic inside an earlier `change` only
/// poisons the lock: the table is still a valid `Vec`, so it is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// A store over the two directories (created on first write).
    pub fn new(state_dir: PathBuf, runtime_dir: PathBuf) -> Store {
        Store {
            state_dir,
            runtime_dir,
            memory: None,
        }
    }

    /// An empty store that lives in memory only, **for unit tests and
    /// benchmarks**: it behaves like a file store (same tables, same
    /// dropping of dead reservations, updates serialised per table) but
    /// touches no file, so nothing survives the process and other processes
    /// do not see it. Clones share the same tables.
    ///
    /// Do not call a store method from inside an `update_*` closure of the
    /// same table: the table's lock is held there (with files, the `flock`
    /// would block in the same way).
    ///
    /// ```
    /// use mpr_core::state::Store;
    /// let s = Store::memory();
    /// assert!(s.is_memory());
    /// assert!(s.live().unwrap().is_empty());
    /// let n = s.update_remembered(|r| r.len()).unwrap();
    /// assert_eq!(n, 0);
    /// ```
    pub fn memory() -> Store {
        Store {
            state_dir: PathBuf::new(),
            runtime_dir: PathBuf::new(),
            memory: Some(Arc::default()),
        }
    }

    /// The prefix cache of a memory store (`None` for files).
    pub(crate) fn memory_prefixes(&self) -> Option<&Mutex<Vec<crate::prefixes::Prefix>>> {
        self.memory.as_deref().map(|m| &m.prefixes)
    }

    /// Whether this is a memory store ([`Store::memory`]).
    pub fn is_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// `<state dir>/remembered.toml` (a memory store has no directory: the
    /// bare file name, where nothing is read or written).
    pub fn remembered_path(&self) -> PathBuf {
        self.state_dir.join("remembered.toml")
    }

    /// `<runtime dir>/connections.toml` (a memory store: the bare file
    /// name, as for [`Store::remembered_path`]).
    pub fn live_path(&self) -> PathBuf {
        self.runtime_dir.join("connections.toml")
    }

    /// The runtime directory (empty for a memory store).
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The remembered connections.
    pub fn remembered(&self) -> Result<Vec<Remembered>, WnError> {
        if let Some(m) = &self.memory {
            return Ok(lock(&m.remembered).clone());
        }
        let f: RememberedFile = read_toml(&self.remembered_path(), WnError::BadProfile)?;
        Ok(f.connection)
    }

    fn live_file(&self) -> Result<LiveFile, WnError> {
        let mut f: LiveFile = match &self.memory {
            Some(m) => {
                let l = lock(&m.live);
                LiveFile {
                    connection: l.connection.clone(),
                    orphan: l.orphan.clone(),
                }
            }
            None => read_toml(&self.live_path(), WnError::BadProfile)?,
        };
        f.settle();
        Ok(f)
    }

    /// The live table, reservations of dead processes left out.
    pub fn live(&self) -> Result<Vec<Live>, WnError> {
        Ok(self.live_file()?.connection)
    }

    /// The reservations of processes that died before committing, which
    /// the router has not cleaned up yet.
    pub fn orphans(&self) -> Result<Vec<Live>, WnError> {
        Ok(self.live_file()?.orphan)
    }

    /// Forgets orphans once what they left behind is cleaned up.
    pub fn forget_orphans(&self, done: &[Live]) -> Result<(), WnError> {
        self.update_live_file(|f| f.orphan.retain(|o| !done.contains(o)))
    }

    fn update_live_file<T>(&self, change: impl FnOnce(&mut LiveFile) -> T) -> Result<T, WnError> {
        if let Some(m) = &self.memory {
            let mut f = lock(&m.live);
            f.settle();
            return Ok(change(&mut f));
        }
        let path = self.live_path();
        update(&self.runtime_dir, &path, |f: &mut LiveFile| {
            f.settle();
            change(f)
        })
    }

    /// Applies `change` to the remembered connections under the lock.
    pub fn update_remembered<T>(
        &self,
        change: impl FnOnce(&mut Vec<Remembered>) -> T,
    ) -> Result<T, WnError> {
        if let Some(m) = &self.memory {
            return Ok(change(&mut lock(&m.remembered)));
        }
        let path = self.remembered_path();
        update(&self.state_dir, &path, |f: &mut RememberedFile| {
            change(&mut f.connection)
        })
    }

    /// Applies `change` to the live table under the lock. Reservations of
    /// dead processes are not in it: they become orphans ([`Store::orphans`]).
    pub fn update_live<T>(&self, change: impl FnOnce(&mut Vec<Live>) -> T) -> Result<T, WnError> {
        self.update_live_file(|f| change(&mut f.connection))
    }
}

/// Whether the process that reserved an entry still runs: its pid exists
/// and was started no later than the reservation (a reused pid was not).
fn reservation_alive(l: &Live) -> bool {
    match l.pending_pid {
        None => true,
        Some(pid) if pid == std::process::id() => true,
        Some(pid) => process_started_at(pid).is_some_and(|t| t <= l.since.saturating_add(1)),
    }
}

/// The kernel's state letter of process `pid` (`R`, `S`, `Z`, ...) and
/// when it started, in clock ticks since boot (fields 3 and 22 of
/// `/proc/PID/stat`); `None` if it does not exist. Two processes that had
/// the same pid never have the same start.
pub(crate) fn process_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Both count from the state, the first field after the parenthesised
    // command name.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18)?.parse().ok()?))
}

/// When process `pid` started, in seconds since the epoch; `None` if it
/// does not exist.
fn process_started_at(pid: u32) -> Option<u64> {
    let (_, ticks) = process_stat(pid)?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Some(boot + ticks / hz)
}

fn read_toml<T: for<'de> Deserialize<'de> + Default>(
    path: &Path,
    corrupt: WnError,
) -> Result<T, WnError> {
    let text = match crate::files::read_regular_to_string(path) {
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
            format!(
                "{}{at}: {}",
                path.display(),
                crate::config::toml_message(&e, &text)
            ),
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

    /// 8 threads pushing `per_thread` entries each into `s`; how many landed.
    fn hammer(s: &Store, per_thread: usize) -> usize {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for j in 0..per_thread {
                        s.update_live(|v| v.push(live(&format!("/m/{i}/{j}"))))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        s.live().unwrap().len()
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let (_d, s) = store();
        assert_eq!(hammer(&s, 10), 80);
    }

    fn remembered(local: &str) -> Remembered {
        Remembered {
            local: local.into(),
            remote: r"\\h\s".into(),
            provider: "p".into(),
            user: String::new(),
            r#type: 1,
        }
    }

    #[test]
    fn memory_store_round_trips_without_files() {
        let s = Store::memory();
        assert!(s.is_memory() && !store().1.is_memory());
        assert!(s.live().unwrap().is_empty());
        assert!(s.remembered().unwrap().is_empty());
        s.update_live(|v| v.push(live("Z:"))).unwrap();
        s.update_remembered(|v| v.push(remembered("Z:"))).unwrap();
        assert_eq!(s.live().unwrap(), vec![live("Z:")]);
        assert_eq!(s.remembered().unwrap(), vec![remembered("Z:")]);
        // The value `change` returns comes back, as with files.
        let removed = s
            .update_live(|v| {
                let before = v.len();
                v.retain(|l| l.local != "Z:");
                before - v.len()
            })
            .unwrap();
        assert_eq!(removed, 1);
        assert!(s.live().unwrap().is_empty());
        // Nothing was written anywhere.
        assert_eq!(s.live_path(), Path::new("connections.toml"));
        assert_eq!(s.remembered_path(), Path::new("remembered.toml"));
        assert!(!s.live_path().exists() && !s.remembered_path().exists());
    }

    #[test]
    fn memory_store_clones_share_and_new_stores_are_empty() {
        let s = Store::memory();
        s.clone()
            .update_remembered(|v| v.push(remembered("Y:")))
            .unwrap();
        assert_eq!(s.remembered().unwrap().len(), 1);
        assert!(Store::memory().remembered().unwrap().is_empty());
    }

    #[test]
    fn memory_store_drops_dead_reservations() {
        let s = Store::memory();
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
        // An update sees (and keeps) only the live ones too.
        let seen = s.update_live(|v| v.len()).unwrap();
        assert_eq!(seen, 1);
    }

    #[test]
    fn dead_reservations_become_orphans_until_forgotten() {
        let (_dir, file) = store();
        for s in [file, Store::memory()] {
            s.update_live(|v| {
                let mut a = live("A:");
                a.pending_pid = Some(u32::MAX - 1);
                // pid 1 runs, but it started long after 1970: a reused pid.
                let mut b = live("B:");
                b.pending_pid = Some(1);
                b.since = 0;
                // pid 1 started before now: a running reservation.
                let mut c = live("C:");
                c.pending_pid = Some(1);
                c.since = u64::MAX / 2;
                v.extend([a, b, c]);
            })
            .unwrap();
            let orphans: Vec<_> = s.orphans().unwrap().into_iter().map(|l| l.local).collect();
            assert_eq!(orphans, ["A:", "B:"]);
            // Other writers keep them.
            s.update_live(|v| v.push(live("D:"))).unwrap();
            assert_eq!(s.orphans().unwrap().len(), 2);
            let done = s.orphans().unwrap();
            s.forget_orphans(&done[..1]).unwrap();
            let left: Vec<_> = s.orphans().unwrap().into_iter().map(|l| l.local).collect();
            assert_eq!(left, ["B:"]);
            let locals: Vec<_> = s.live().unwrap().into_iter().map(|l| l.local).collect();
            assert_eq!(locals, ["C:", "D:"]);
        }
    }

    #[test]
    fn memory_store_survives_a_panicking_update() {
        let s = Store::memory();
        s.update_live(|v| v.push(live("A:"))).unwrap();
        let s2 = s.clone();
        let r = std::thread::spawn(move || {
            s2.update_live(|_| panic!("change panicked")).unwrap();
        })
        .join();
        assert!(r.is_err());
        assert_eq!(s.live().unwrap(), vec![live("A:")]);
        s.update_live(|v| v.push(live("B:"))).unwrap();
        assert_eq!(s.live().unwrap().len(), 2);
    }

    #[test]
    fn memory_store_concurrent_updates_lose_nothing() {
        assert_eq!(hammer(&Store::memory(), 100), 800);
    }
}
