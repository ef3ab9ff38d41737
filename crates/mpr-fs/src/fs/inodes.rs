//! The inode table: the kernel names files by inode number, the back ends
//! by path. Each number keeps the path it stands for; the kernel's lookup
//! count decides when a number may be dropped ([`InodeTable::forget`]); a
//! rename moves the paths of a whole subtree, so that inodes the kernel
//! holds inside a renamed directory keep working.

use crate::backend::RelPath;
use std::collections::HashMap;

/// An inode number as the kernel sees it.
pub type Ino = u64;

/// The root directory's inode number (FUSE's fixed `FUSE_ROOT_ID`).
pub const ROOT_INO: Ino = 1;

#[derive(Debug)]
struct Node {
    path: RelPath,
    /// How many lookups the kernel holds (it gives them back with forget).
    lookups: u64,
    /// Removed or replaced on the server through this mount: the number
    /// stays valid for the kernel until forgotten, but names nothing.
    detached: bool,
}

/// Path ↔ inode number, with the kernel's lookup counts.
#[derive(Debug)]
pub struct InodeTable {
    nodes: HashMap<Ino, Node>,
    by_path: HashMap<RelPath, Ino>,
    next: Ino,
}

impl Default for InodeTable {
    fn default() -> Self {
        InodeTable::new()
    }
}

impl InodeTable {
    /// A table holding only the root.
    pub fn new() -> InodeTable {
        let mut t = InodeTable {
            nodes: HashMap::new(),
            by_path: HashMap::new(),
            next: ROOT_INO + 1,
        };
        t.nodes.insert(
            ROOT_INO,
            Node {
                path: RelPath::root(),
                lookups: 1,
                detached: false,
            },
        );
        t.by_path.insert(RelPath::root(), ROOT_INO);
        t
    }

    /// The path an inode stands for; `None` if the number is unknown or
    /// its file was removed through this mount.
    pub fn path(&self, ino: Ino) -> Option<RelPath> {
        self.nodes
            .get(&ino)
            .filter(|n| !n.detached)
            .map(|n| n.path.clone())
    }

    /// Whether the number is known at all (detached or not).
    pub fn contains(&self, ino: Ino) -> bool {
        self.nodes.contains_key(&ino)
    }

    /// The number for `path`, made if needed, and one more lookup the
    /// kernel holds on it (a reply to `lookup`, `create`, `mkdir`).
    pub fn lookup(&mut self, path: &RelPath) -> Ino {
        let ino = self.peek(path);
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.lookups += 1;
        }
        ino
    }

    /// The number for `path`, made if needed, without a lookup count (a
    /// directory listing's entry, which the kernel does not hold).
    pub fn peek(&mut self, path: &RelPath) -> Ino {
        if let Some(&ino) = self.by_path.get(path) {
            return ino;
        }
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(
            ino,
            Node {
                path: path.clone(),
                lookups: 0,
                detached: false,
            },
        );
        self.by_path.insert(path.clone(), ino);
        ino
    }

    /// The kernel gives back `n` lookups; the number is dropped at zero
    /// (never the root).
    pub fn forget(&mut self, ino: Ino, n: u64) {
        if ino == ROOT_INO {
            return;
        }
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups == 0 {
            let node = self.nodes.remove(&ino).expect("present");
            if !node.detached && self.by_path.get(&node.path) == Some(&ino) {
                self.by_path.remove(&node.path);
            }
        }
    }

    /// `path` was removed: its number (and those below it) name nothing
    /// any more.
    pub fn remove(&mut self, path: &RelPath) {
        for ino in self.subtree(path) {
            if let Some(n) = self.nodes.get_mut(&ino) {
                self.by_path.remove(&n.path);
                n.detached = true;
            }
        }
    }

    /// `from` was renamed to `to` (replacing what was there): every number
    /// at or below `from` now stands for the same place below `to`.
    pub fn rename(&mut self, from: &RelPath, to: &RelPath) {
        self.remove(to);
        let moved = self.subtree(from);
        for ino in &moved {
            if let Some(n) = self.nodes.get(ino) {
                self.by_path.remove(&n.path);
            }
        }
        for ino in moved {
            if let Some(n) = self.nodes.get_mut(&ino) {
                let rest = &n.path.as_str()[from.as_str().len()..];
                let new = format!("{}{rest}", to.as_str());
                n.path = RelPath::new(&new).expect("built from checked paths");
                self.by_path.insert(n.path.clone(), ino);
            }
        }
    }

    /// The numbers of `path` and everything below it (not detached).
    fn subtree(&self, path: &RelPath) -> Vec<Ino> {
        if path.is_root() {
            return self.by_path.values().copied().collect();
        }
        let prefix = format!("{}/", path.as_str());
        self.by_path
            .iter()
            .filter(|(p, _)| *p == path || p.as_str().starts_with(&prefix))
            .map(|(_, &i)| i)
            .collect()
    }

    /// How many numbers are kept (for tests).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether only the root is kept.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn numbers_are_stable_per_path_and_dropped_on_forget() {
        let mut t = InodeTable::new();
        let a = t.lookup(&p("a"));
        assert_ne!(a, ROOT_INO);
        assert_eq!(t.lookup(&p("a")), a);
        assert_eq!(t.path(a), Some(p("a")));
        t.forget(a, 1);
        assert_eq!(t.path(a), Some(p("a")));
        t.forget(a, 1);
        assert_eq!(t.path(a), None);
        assert!(!t.contains(a));
        t.forget(ROOT_INO, 5);
        assert_eq!(t.path(ROOT_INO), Some(RelPath::root()));
    }

    #[test]
    fn rename_moves_a_subtree_and_detaches_the_replaced_file() {
        let mut t = InodeTable::new();
        let d = t.lookup(&p("d"));
        let f = t.lookup(&p("d/f"));
        let g = t.lookup(&p("d/sub/g"));
        let other = t.lookup(&p("dx"));
        let target = t.lookup(&p("e"));
        t.rename(&p("d"), &p("e"));
        assert_eq!(t.path(d), Some(p("e")));
        assert_eq!(t.path(f), Some(p("e/f")));
        assert_eq!(t.path(g), Some(p("e/sub/g")));
        assert_eq!(
            t.path(other),
            Some(p("dx")),
            "a sibling with a common prefix stays"
        );
        assert_eq!(t.path(target), None, "the replaced entry names nothing");
        assert!(t.contains(target), "but its number lives until forgotten");
        assert_eq!(t.lookup(&p("e")), d);
        let fresh = t.lookup(&p("d"));
        assert!(fresh != d && fresh != target);
        t.forget(target, 1);
        assert!(!t.contains(target));
        assert_eq!(
            t.path(d),
            Some(p("e")),
            "forgetting a detached number keeps the new owner"
        );
    }

    #[test]
    fn remove_detaches_the_subtree() {
        let mut t = InodeTable::new();
        let d = t.lookup(&p("d"));
        let f = t.lookup(&p("d/f"));
        t.remove(&p("d"));
        assert_eq!(t.path(d), None);
        assert_eq!(t.path(f), None);
        assert_ne!(t.lookup(&p("d")), d);
    }
}
