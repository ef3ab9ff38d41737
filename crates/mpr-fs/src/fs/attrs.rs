//! The attribute cache: what the server last said about a path, kept for
//! a short time (at most the configured TTL, ≤ 1 s by default) so that a
//! listing followed by a `stat` of each entry, or a lookup followed by a
//! `getattr`, costs one round trip and not two. The kernel is told the
//! remaining lifetime of an entry as its TTL, so the total staleness of an
//! attribute is bounded by the TTL, never twice it.
//!
//! There are no negative entries here: a name the server does not have is
//! asked again every time it reaches this layer. The kernel may remember
//! it for `FsConfig::negative_ttl` (100 ms; see `fuse.rs`), so that a
//! program's repeated looks at a name before it creates it cost one
//! request. The directory
//! listings themselves are never cached (each `opendir` asks the server;
//! see `fs::DirHandle`).

use crate::backend::{Attr, RelPath};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

/// Attributes by path, each with its expiry.
#[derive(Debug)]
pub struct AttrCache {
    ttl: Duration,
    entries: HashMap<RelPath, (Attr, Instant)>,
}

impl AttrCache {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> AttrCache {
        AttrCache {
            ttl,
            entries: HashMap::new(),
        }
    }

    /// The cached attributes of `path` and how long they stay valid, if
    /// they still are.
    pub fn get(&self, path: &RelPath, now: Instant) -> Option<(Attr, Duration)> {
        let (attr, expires) = self.entries.get(path)?;
        let left = expires.checked_duration_since(now)?;
        (!left.is_zero()).then(|| (attr.clone(), left))
    }

    /// Remembers what the server just said; returns the TTL to give the
    /// kernel.
    pub fn insert(&mut self, path: &RelPath, attr: Attr, now: Instant) -> Duration {
        if self.ttl.is_zero() {
            return Duration::ZERO;
        }
        if self.entries.len() > 65_536 {
            self.entries.retain(|_, (_, e)| *e > now);
        }
        self.entries.insert(path.clone(), (attr, now + self.ttl));
        self.ttl
    }

    /// Updates the size of a cached entry after a write or truncate made
    /// through this mount (the server's copy grew or shrank the same way).
    pub fn set_size(&mut self, path: &RelPath, size: u64) {
        if let Some((a, _)) = self.entries.get_mut(path) {
            a.size = size;
            a.mtime = SystemTime::now();
        }
    }

    /// Forgets `path` and everything below it (after a change the cache
    /// cannot predict: rename, removal).
    pub fn invalidate_tree(&mut self, path: &RelPath) {
        if path.is_root() {
            self.entries.clear();
            return;
        }
        let prefix = format!("{}/", path.as_str());
        self.entries
            .retain(|p, _| p != path && !p.as_str().starts_with(&prefix));
    }

    /// Forgets `path` only.
    pub fn invalidate(&mut self, path: &RelPath) {
        self.entries.remove(path);
    }
}

/// What the kernel knows of each inode: the attributes it was last given
/// (shown for a file removed while open), and the content version (size
/// and modification time) the file had when it was last opened. An `open`
/// that finds that same version on the server lets the kernel keep its
/// page cache (`FOPEN_KEEP_CACHE`); any other makes it drop it.
#[derive(Debug, Default)]
pub struct Versions {
    opened: HashMap<u64, (u64, SystemTime)>,
    last: HashMap<u64, Attr>,
}

impl Versions {
    /// Records the attributes the kernel was just given for `ino`.
    pub fn note_attr(&mut self, ino: u64, attr: &Attr) {
        self.last.insert(ino, attr.clone());
    }

    /// The attributes the kernel was last given for `ino`.
    pub fn last_attr(&self, ino: u64) -> Option<Attr> {
        self.last.get(&ino).cloned()
    }

    /// Records the version `ino` had when it was just opened.
    pub fn opened(&mut self, ino: u64, attr: &Attr) {
        self.opened.insert(ino, (attr.size, attr.mtime));
        self.note_attr(ino, attr);
    }

    /// Whether `attr` is the version `ino` had at its last open (so the
    /// kernel's cached pages are current).
    pub fn unchanged(&self, ino: u64, attr: &Attr) -> bool {
        self.opened.get(&ino) == Some(&(attr.size, attr.mtime))
    }

    /// A file that names nothing on the server any more (removed or
    /// replaced while open) was written through its handle up to `end`, or
    /// cut or grown to `end` (`cut`): its last attributes follow, since
    /// they are all the kernel can be told about it.
    pub fn detached_resized(&mut self, ino: u64, end: u64, cut: bool) {
        if let Some(a) = self.last.get_mut(&ino) {
            a.size = if cut { end } else { a.size.max(end) };
            a.mtime = SystemTime::now();
            a.ctime = a.mtime;
        }
    }

    /// Drops what is known of `ino` (forgotten by the kernel).
    pub fn forget(&mut self, ino: u64) {
        self.opened.remove(&ino);
        self.last.remove(&ino);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::FileKind;

    fn attr(size: u64) -> Attr {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        Attr {
            kind: FileKind::File,
            size,
            mtime: t,
            atime: t,
            ctime: t,
            perm: None,
            readonly: false,
        }
    }

    #[test]
    fn entries_expire_and_report_what_is_left() {
        let mut c = AttrCache::new(Duration::from_secs(1));
        let p = RelPath::new("a").unwrap();
        let t0 = Instant::now();
        assert_eq!(c.insert(&p, attr(3), t0), Duration::from_secs(1));
        let (a, left) = c.get(&p, t0 + Duration::from_millis(400)).unwrap();
        assert_eq!(a.size, 3);
        assert_eq!(left, Duration::from_millis(600));
        assert!(c.get(&p, t0 + Duration::from_secs(1)).is_none());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let mut c = AttrCache::new(Duration::ZERO);
        let p = RelPath::new("a").unwrap();
        let t0 = Instant::now();
        assert_eq!(c.insert(&p, attr(3), t0), Duration::ZERO);
        assert!(c.get(&p, t0).is_none());
    }

    #[test]
    fn invalidating_a_tree_spares_siblings_with_a_common_prefix() {
        let mut c = AttrCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for s in ["d", "d/x", "dx"] {
            c.insert(&RelPath::new(s).unwrap(), attr(1), t0);
        }
        c.invalidate_tree(&RelPath::new("d").unwrap());
        assert!(c.get(&RelPath::new("d").unwrap(), t0).is_none());
        assert!(c.get(&RelPath::new("d/x").unwrap(), t0).is_none());
        assert!(c.get(&RelPath::new("dx").unwrap(), t0).is_some());
    }

    #[test]
    fn versions_tell_whether_the_kernel_cache_is_current() {
        let mut v = Versions::default();
        assert!(!v.unchanged(5, &attr(1)), "nothing known: drop the cache");
        v.note_attr(5, &attr(1));
        assert!(
            !v.unchanged(5, &attr(1)),
            "only an open fills the page cache"
        );
        v.opened(5, &attr(1));
        assert!(v.unchanged(5, &attr(1)));
        assert!(!v.unchanged(5, &attr(2)));
    }

    #[test]
    fn a_detached_files_size_follows_its_writes_and_cuts() {
        let mut v = Versions::default();
        v.detached_resized(5, 10, false);
        assert!(v.last_attr(5).is_none(), "nothing known, nothing made up");
        v.note_attr(5, &attr(3));
        v.detached_resized(5, 10, false);
        assert_eq!(v.last_attr(5).unwrap().size, 10);
        v.detached_resized(5, 4, false);
        assert_eq!(v.last_attr(5).unwrap().size, 10, "a write never shrinks");
        v.detached_resized(5, 4, true);
        assert_eq!(v.last_attr(5).unwrap().size, 4);
    }
}
