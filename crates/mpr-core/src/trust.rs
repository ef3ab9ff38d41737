//! Trusted loading (spec §3): a plugin is checked before any `dlopen`.
//!
//! The plugin file and every directory above it must be owned by root or by
//! the effective user (only root when the effective user is root), and must
//! not be group- or world-writable. A symlink is followed and its target
//! checked the same way. The file is then opened with `O_NOFOLLOW`, and the
//! checks are repeated on the open handle, so that what was checked is what
//! gets loaded (the loader maps `/proc/self/fd/N`).
//!
//! **Decision:** a world-writable parent directory with the sticky bit set
//! and owned by root (such as `/tmp`) is accepted, because nobody else can
//! rename or replace the entries of another owner in it.

use std::fmt;
use std::fs::{File, Metadata};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a plugin was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The path as registered.
    pub path: PathBuf,
    /// The reason, naming the offending file or directory.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused plugin {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for Refusal {}

/// A plugin file that passed the checks, held open.
///
/// Only [`vet`] builds one; the loader takes it and loads exactly this open
/// file.
#[derive(Debug)]
pub struct VettedPlugin {
    path: PathBuf,
    real: PathBuf,
    file: File,
}

impl VettedPlugin {
    /// The path as registered.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The resolved path (symlinks followed).
    pub fn real_path(&self) -> &Path {
        &self.real
    }

    /// The open file that was checked.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Checks `path` for the effective user and opens it.
pub fn vet(path: &Path) -> Result<VettedPlugin, Refusal> {
    vet_as(path, rustix::process::geteuid().as_raw())
}

/// Checks `path` as if the effective user were `euid`.
pub fn vet_as(path: &Path, euid: u32) -> Result<VettedPlugin, Refusal> {
    let refuse = |reason: String| Refusal {
        path: path.to_path_buf(),
        reason,
    };
    let real = std::fs::canonicalize(path).map_err(|e| refuse(format!("cannot resolve: {e}")))?;
    let shown = |p: &Path| {
        if real != path {
            format!("{} (target of the symlink)", p.display())
        } else {
            p.display().to_string()
        }
    };
    let mut dirs: Vec<&Path> = real.ancestors().skip(1).collect();
    dirs.reverse();
    for dir in dirs {
        let md = std::fs::symlink_metadata(dir)
            .map_err(|e| refuse(format!("cannot inspect {}: {e}", dir.display())))?;
        check_owner_mode(&md, euid, true)
            .map_err(|why| refuse(format!("directory {} {why}", dir.display())))?;
    }
    let before = std::fs::symlink_metadata(&real)
        .map_err(|e| refuse(format!("cannot inspect {}: {e}", shown(&real))))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&real)
        .map_err(|e| refuse(format!("cannot open {}: {e}", shown(&real))))?;
    let md = file
        .metadata()
        .map_err(|e| refuse(format!("cannot inspect {}: {e}", shown(&real))))?;
    if !md.file_type().is_file() {
        return Err(refuse(format!("{} is not a regular file", shown(&real))));
    }
    if (md.dev(), md.ino()) != (before.dev(), before.ino()) {
        return Err(refuse(format!(
            "{} changed while it was being checked",
            shown(&real)
        )));
    }
    check_owner_mode(&md, euid, false).map_err(|why| refuse(format!("{} {why}", shown(&real))))?;
    Ok(VettedPlugin {
        path: path.to_path_buf(),
        real,
        file,
    })
}

fn check_owner_mode(md: &Metadata, euid: u32, is_dir: bool) -> Result<(), String> {
    let uid = md.uid();
    if euid == 0 && uid != 0 {
        return Err(format!(
            "is owned by uid {uid}; running as root, only root-owned plugins are accepted"
        ));
    }
    if uid != 0 && uid != euid {
        return Err(format!(
            "is owned by uid {uid}, neither root nor you (uid {euid})"
        ));
    }
    let mode = md.mode() & 0o7777;
    let sticky_root_dir = is_dir && mode & 0o1000 != 0 && uid == 0;
    if mode & 0o002 != 0 && !sticky_root_dir {
        return Err(format!("is world-writable (mode {mode:04o})"));
    }
    if mode & 0o020 != 0 && !sticky_root_dir {
        return Err(format!("is group-writable (mode {mode:04o})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn euid() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    /// A private directory under the crate's target dir, whose ancestors are
    /// the developer's own (not /tmp, which tests elsewhere cover).
    fn scratch() -> tempfile::TempDir {
        let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/trust-tests");
        std::fs::create_dir_all(&base).unwrap();
        let d = tempfile::tempdir_in(&base).unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn plugin(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, b"not really a library").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn accepts_a_private_file() {
        let d = scratch();
        let p = plugin(d.path(), "ok.so", 0o644);
        let v = vet(&p).unwrap();
        assert_eq!(v.path(), p);
    }

    #[test]
    fn refuses_world_writable_plugin() {
        let d = scratch();
        let p = plugin(d.path(), "ww.so", 0o666);
        let r = vet(&p).unwrap_err();
        assert!(r.reason.contains("world-writable"), "{r}");
        assert!(r.to_string().contains("ww.so"), "{r}");
    }

    #[test]
    fn refuses_plugin_in_group_writable_directory() {
        let d = scratch();
        let sub = d.path().join("gw");
        std::fs::create_dir(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o775)).unwrap();
        let p = plugin(&sub, "p.so", 0o644);
        let r = vet(&p).unwrap_err();
        assert!(
            r.reason.contains("group-writable") && r.reason.contains("/gw"),
            "{r}"
        );
    }

    #[test]
    fn refuses_symlink_to_refused_file() {
        let d = scratch();
        let target = plugin(d.path(), "bad.so", 0o646);
        let link = d.path().join("link.so");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let r = vet(&link).unwrap_err();
        assert!(
            r.reason.contains("target of the symlink") && r.reason.contains("world-writable"),
            "{r}"
        );
        assert_eq!(r.path, link);
        let good = plugin(d.path(), "good.so", 0o644);
        let link2 = d.path().join("link2.so");
        std::os::unix::fs::symlink(&good, &link2).unwrap();
        assert_eq!(
            vet(&link2).unwrap().real_path(),
            std::fs::canonicalize(&good).unwrap()
        );
    }

    #[test]
    fn refuses_foreign_owner_when_root() {
        let d = scratch();
        let p = plugin(d.path(), "foreign.so", 0o644);
        if euid() == 0 {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
            let r = vet(&p).unwrap_err();
            assert!(r.reason.contains("only root-owned"), "{r}");
        } else {
            // As a user, a root-owned ancestor is fine but a file checked for
            // another uid is not.
            let r = vet_as(&p, euid() + 1).unwrap_err();
            assert!(r.reason.contains("neither root nor you"), "{r}");
        }
    }

    #[test]
    fn refuses_missing_and_non_regular() {
        let d = scratch();
        assert!(
            vet(&d.path().join("absent.so"))
                .unwrap_err()
                .reason
                .contains("cannot resolve")
        );
        assert!(
            vet(d.path())
                .unwrap_err()
                .reason
                .contains("not a regular file")
        );
    }

    #[test]
    fn sticky_root_directory_is_accepted() {
        // /tmp is root-owned, 1777, on every machine this runs on: a private
        // directory inside it is trusted, and the same directory without
        // the sticky bit would not be.
        let md = std::fs::metadata("/tmp").unwrap();
        assert!(
            md.uid() == 0 && md.mode() & 0o1777 == 0o1777,
            "this test needs /tmp to be root-owned with mode 1777"
        );
        let d = tempfile::tempdir_in("/tmp").unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = plugin(d.path(), "t.so", 0o644);
        vet(&p).unwrap();
        if euid() == 0 {
            // A root-owned world-writable directory without the sticky bit
            // is refused.
            let open = d.path().join("open");
            std::fs::create_dir(&open).unwrap();
            std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
            let q = plugin(&open, "q.so", 0o644);
            assert!(vet(&q).unwrap_err().reason.contains("world-writable"));
        }
    }
}
