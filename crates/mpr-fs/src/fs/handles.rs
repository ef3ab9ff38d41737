//! Open handles: what the kernel's file handle number stands for.
//!
//! A file handle keeps the back end's handle together with what is needed
//! to open it again after the session was re-established (its path, kept
//! current across renames, and its flags), the session generation it was
//! opened in, the end-of-file position for `O_APPEND` writes, whether it
//! was written since the last flush, what is read ahead for it
//! ([`ReadAhead`]) and its writes not landed yet ([`WriteQueue`]). A
//! directory handle keeps the listing taken when it was opened, so that
//! `readdir` offsets stay stable while the program reads it.

use crate::backend::{FileKind, OpenFlags, RelPath};
use crate::fs::inodes::Ino;
use crate::fs::prefetch::ReadAhead;
use crate::fs::writeback::WriteQueue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The back end's handle and the session it belongs to.
#[derive(Debug)]
pub struct HandleState<H> {
    /// The handle; `None` once it could not be opened again.
    pub handle: Option<Arc<H>>,
    /// The session generation it was opened in; a handle of an older
    /// session is opened again by path before it is used.
    pub generation: u64,
}

/// One open file.
#[derive(Debug)]
pub struct OpenFile<H> {
    /// The inode it was opened on.
    pub ino: Ino,
    path: Mutex<RelPath>,
    /// How it was opened (without `create`/`truncate`, which only hold
    /// for the first open).
    pub flags: OpenFlags,
    /// Whether writes go to the end of file (`O_APPEND`).
    pub append: bool,
    /// The size at open (or after a truncate through this mount), the
    /// floor for the first `O_APPEND` write.
    append_pos: AtomicU64,
    dirty: AtomicBool,
    /// Its file was removed or replaced through this mount while it was
    /// open: its path names another file (or none), so it is never opened
    /// again by path, nor touched by what happens at that path.
    detached: AtomicBool,
    /// A conflict of this file was reported ([`crate::events::Events`]).
    conflict_reported: AtomicBool,
    /// The back end's handle; read-locked while a call uses it,
    /// write-locked to open it again.
    pub state: tokio::sync::RwLock<HandleState<H>>,
    /// What is read ahead for it.
    pub read_ahead: ReadAhead,
    /// Its writes answered but not landed yet.
    pub queue: WriteQueue,
}

impl<H> OpenFile<H> {
    /// A freshly opened file of `size` bytes.
    pub fn new(
        ino: Ino,
        path: RelPath,
        flags: OpenFlags,
        append: bool,
        handle: H,
        generation: u64,
        size: u64,
    ) -> OpenFile<H> {
        OpenFile {
            ino,
            path: Mutex::new(path),
            flags: OpenFlags {
                create: false,
                exclusive: false,
                truncate: false,
                ..flags
            },
            append,
            append_pos: AtomicU64::new(size),
            dirty: AtomicBool::new(false),
            detached: AtomicBool::new(false),
            conflict_reported: AtomicBool::new(false),
            state: tokio::sync::RwLock::new(HandleState {
                handle: Some(Arc::new(handle)),
                generation,
            }),
            read_ahead: ReadAhead::default(),
            queue: WriteQueue::default(),
        }
    }

    /// Whether a conflict of this file is to be reported: true the first
    /// time only.
    pub fn first_conflict(&self) -> bool {
        !self.conflict_reported.swap(true, Ordering::SeqCst)
    }

    /// The path it is open at now.
    pub fn path(&self) -> RelPath {
        self.path.lock().expect("handle path lock").clone()
    }

    /// Where the next `O_APPEND` write goes at the least.
    pub fn append_pos(&self) -> u64 {
        self.append_pos.load(Ordering::SeqCst)
    }

    /// The floor for the next `O_APPEND` write (the size the server
    /// reported at open), once: later writes follow the kernel's size.
    pub fn take_floor(&self) -> u64 {
        self.append_pos.swap(0, Ordering::SeqCst)
    }

    /// Notes that the file now ends at `end` (after a write through this
    /// handle, or a truncate of the file through this mount).
    pub fn set_end(&self, end: u64, grow_only: bool) {
        if grow_only {
            self.append_pos.fetch_max(end, Ordering::SeqCst);
        } else {
            self.append_pos.store(end, Ordering::SeqCst);
        }
    }

    /// Whether its file was removed or replaced while it was open.
    pub fn is_detached(&self) -> bool {
        self.detached.load(Ordering::SeqCst)
    }

    /// Marks it written since the last flush.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Clears the written mark, returning whether it was set.
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::SeqCst)
    }
}

/// One directory entry of a listing handed to the kernel.
#[derive(Debug, Clone)]
pub struct DirSlot {
    /// Its inode number.
    pub ino: Ino,
    /// Its kind.
    pub kind: FileKind,
    /// Its name (`.` and `..` included).
    pub name: String,
}

/// Open files and directories by handle number.
#[derive(Debug)]
pub struct HandleTable<H> {
    next: AtomicU64,
    files: Mutex<HashMap<u64, Arc<OpenFile<H>>>>,
    dirs: Mutex<HashMap<u64, Arc<Vec<DirSlot>>>>,
}

impl<H> Default for HandleTable<H> {
    fn default() -> Self {
        HandleTable {
            next: AtomicU64::new(1),
            files: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
        }
    }
}

impl<H> HandleTable<H> {
    /// Keeps an open file; its handle number.
    pub fn insert_file(&self, f: OpenFile<H>) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed);
        self.files
            .lock()
            .expect("handle table lock")
            .insert(fh, Arc::new(f));
        fh
    }

    /// The open file `fh`.
    pub fn file(&self, fh: u64) -> Option<Arc<OpenFile<H>>> {
        self.files
            .lock()
            .expect("handle table lock")
            .get(&fh)
            .cloned()
    }

    /// Takes out the open file `fh` (on release).
    pub fn remove_file(&self, fh: u64) -> Option<Arc<OpenFile<H>>> {
        self.files.lock().expect("handle table lock").remove(&fh)
    }

    /// Every open file whose path is `path` or below it (and still names
    /// it: detached files are left out).
    pub fn files_at(&self, path: &RelPath) -> Vec<Arc<OpenFile<H>>> {
        let prefix = format!("{}/", path.as_str());
        self.files
            .lock()
            .expect("handle table lock")
            .values()
            .filter(|f| {
                let p = f.path();
                !f.is_detached()
                    && (p == *path || path.is_root() || p.as_str().starts_with(&prefix))
            })
            .cloned()
            .collect()
    }

    /// Every open file of inode `ino` (detached or not).
    pub fn files_of(&self, ino: Ino) -> Vec<Arc<OpenFile<H>>> {
        self.files
            .lock()
            .expect("handle table lock")
            .values()
            .filter(|f| f.ino == ino)
            .cloned()
            .collect()
    }

    /// Every open file (to open them again after a reconnect).
    pub fn all_files(&self) -> Vec<Arc<OpenFile<H>>> {
        self.files
            .lock()
            .expect("handle table lock")
            .values()
            .cloned()
            .collect()
    }

    /// The paths of open files follow a rename of `from` to `to`.
    pub fn rename(&self, from: &RelPath, to: &RelPath) {
        for f in self.files_at(from) {
            let mut p = f.path.lock().expect("handle path lock");
            let rest = &p.as_str()[from.as_str().len()..];
            if let Ok(new) = RelPath::new(&format!("{}{rest}", to.as_str())) {
                *p = new;
            }
        }
    }

    /// `path` (and everything below it) was removed or replaced: the files
    /// open there no longer name anything at their paths.
    pub fn detach(&self, path: &RelPath) {
        for f in self.files_at(path) {
            f.detached.store(true, Ordering::SeqCst);
        }
    }

    /// Keeps a directory listing; its handle number.
    pub fn insert_dir(&self, slots: Vec<DirSlot>) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed);
        self.dirs
            .lock()
            .expect("handle table lock")
            .insert(fh, Arc::new(slots));
        fh
    }

    /// The listing of directory handle `fh`.
    pub fn dir(&self, fh: u64) -> Option<Arc<Vec<DirSlot>>> {
        self.dirs
            .lock()
            .expect("handle table lock")
            .get(&fh)
            .cloned()
    }

    /// Drops directory handle `fh`.
    pub fn remove_dir(&self, fh: u64) {
        self.dirs.lock().expect("handle table lock").remove(&fh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_files_follow_renames_of_their_directory() {
        let t: HandleTable<()> = HandleTable::default();
        let p = RelPath::new("d/f").unwrap();
        let fh = t.insert_file(OpenFile::new(2, p, OpenFlags::default(), false, (), 0, 0));
        t.rename(&RelPath::new("d").unwrap(), &RelPath::new("e").unwrap());
        assert_eq!(t.file(fh).unwrap().path().as_str(), "e/f");
        t.rename(&RelPath::new("e/f").unwrap(), &RelPath::new("g").unwrap());
        assert_eq!(t.file(fh).unwrap().path().as_str(), "g");
        assert!(t.remove_file(fh).is_some());
        assert!(t.file(fh).is_none());
    }

    #[test]
    fn a_detached_file_no_longer_follows_its_old_path() {
        let t: HandleTable<()> = HandleTable::default();
        let p = RelPath::new("d/f").unwrap();
        let fh = t.insert_file(OpenFile::new(
            2,
            p.clone(),
            OpenFlags::default(),
            false,
            (),
            0,
            0,
        ));
        let other = t.insert_file(OpenFile::new(
            3,
            RelPath::new("g").unwrap(),
            OpenFlags::default(),
            false,
            (),
            0,
            0,
        ));
        t.detach(&RelPath::new("d").unwrap());
        assert!(t.file(fh).unwrap().is_detached());
        assert!(!t.file(other).unwrap().is_detached());
        assert!(t.files_at(&p).is_empty());
        t.rename(&p, &RelPath::new("h").unwrap());
        assert_eq!(
            t.file(fh).unwrap().path(),
            p,
            "a rename of its old name is not its own"
        );
    }

    #[test]
    fn append_position_grows_with_writes_and_follows_truncation() {
        let f = OpenFile::new(2, RelPath::root(), OpenFlags::default(), true, (), 0, 10);
        f.set_end(5, true);
        assert_eq!(f.append_pos(), 10);
        f.set_end(15, true);
        assert_eq!(f.append_pos(), 15);
        f.set_end(3, false);
        assert_eq!(f.append_pos(), 3);
    }
}
