//! Trusted loading (spec §3): a plugin is checked before any `dlopen`.
//!
//! The plugin file and every directory above it must be owned by root or by
//! the effective user (only root when the effective user is root), and must
//! not be group- or world-writable. A symlink is followed and its target
//! checked the same way. The file is then opened with [`open_regular`]
//! (non-blocking, `O_NOFOLLOW`), and the checks are repeated on the open
//! handle, so that what was checked is what gets loaded (the loader maps
//! `/proc/self/fd/N`).
//!
//! **Decision:** the sticky bit makes no exception. A world-writable
//! directory with the sticky bit (such as `/tmp`) is refused like any other
//! world-writable directory, as OpenSSH's `StrictModes` does: anyone may
//! create names in it, so a path below it can be raced by another user.
//!
//! Every file mpr opens because configuration names it goes through
//! [`open_regular`]: a FIFO, a socket, a device, a directory or a symlink is
//! refused before anything reads from it, so no configured path can make a
//! command hang.

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

/// The largest plugin (or notifyee host program) mpr opens, in bytes: far
/// above any real shared library, far below a file that would take minutes
/// to hash.
pub const MAX_PLUGIN_LEN: u64 = 512 << 20;

/// The largest configured text file (such as an `ssh_config`) mpr opens,
/// in bytes.
pub const MAX_TEXT_LEN: u64 = 1 << 20;

/// What a configured path is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe: opening it for reading blocks until a writer comes.
    Fifo,
    /// A unix socket: it cannot be opened at all.
    Socket,
    /// A character device such as `/dev/zero`: it may never end.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A symbolic link where none may be (or a loop of them).
    Symlink,
}

impl FileKind {
    /// What `ft` is, or `None` for a regular file.
    pub(crate) fn of(ft: std::fs::FileType) -> Option<FileKind> {
        use std::os::unix::fs::FileTypeExt;
        Some(if ft.is_file() {
            return None;
        } else if ft.is_dir() {
            FileKind::Directory
        } else if ft.is_fifo() {
            FileKind::Fifo
        } else if ft.is_socket() {
            FileKind::Socket
        } else if ft.is_char_device() {
            FileKind::CharDevice
        } else if ft.is_block_device() {
            FileKind::BlockDevice
        } else {
            FileKind::Symlink
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Symlink => "a symbolic link",
        })
    }
}

/// Why [`open_regular`] refused a path; `Display` is a predicate that reads
/// after the path ("is a FIFO").
#[derive(Debug)]
pub enum Unfit {
    /// It is not a regular file.
    NotRegular(FileKind),
    /// It is a loop of symbolic links.
    SymlinkLoop,
    /// It is larger than the bound the caller gave.
    TooLarge {
        /// Its size in bytes.
        len: u64,
        /// The bound in bytes.
        max: u64,
    },
    /// It was replaced between the look at its name and the open.
    Changed,
    /// It could not be inspected or opened.
    Io(std::io::Error),
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::NotRegular(kind) => write!(f, "is {kind}, not a regular file"),
            Unfit::SymlinkLoop => f.write_str("is a loop of symbolic links"),
            Unfit::TooLarge { len, max } => {
                write!(f, "is {len} bytes, more than the {max} bytes allowed")
            }
            Unfit::Changed => f.write_str("changed while it was being checked"),
            Unfit::Io(e) => write!(f, "cannot be opened: {e}"),
        }
    }
}

/// A configured file that [`open_regular`] refused.
#[derive(Debug)]
pub struct OpenRefusal {
    /// The path as given.
    pub path: PathBuf,
    /// What is wrong with it.
    pub unfit: Unfit,
}

impl fmt::Display for OpenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path.display(), self.unfit)
    }
}

impl std::error::Error for OpenRefusal {}

/// Opens a file that configuration names, for reading, refusing anything
/// but a regular file of at most `max_len` bytes before a byte is read.
///
/// The name is looked at first (`lstat`), so that no device or FIFO is
/// even opened; the open itself uses `O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC`,
/// so that a FIFO swapped in meanwhile cannot block it, and the open handle
/// is checked again (`fstat`: type, size, and that it is the file looked
/// at). `O_NONBLOCK` is cleared before the file is returned.
///
/// ```
/// use mpr_core::trust::{open_regular, FileKind, Unfit, MAX_TEXT_LEN};
/// let r = open_regular("/dev/zero".as_ref(), MAX_TEXT_LEN).unwrap_err();
/// assert!(matches!(r.unfit, Unfit::NotRegular(FileKind::CharDevice)));
/// assert_eq!(r.to_string(), "/dev/zero is a character device, not a regular file");
/// ```
pub fn open_regular(path: &Path, max_len: u64) -> Result<File, OpenRefusal> {
    let refuse = |unfit: Unfit| OpenRefusal {
        path: path.to_path_buf(),
        unfit,
    };
    let named = std::fs::symlink_metadata(path).map_err(|e| refuse(Unfit::Io(e)))?;
    if let Some(kind) = FileKind::of(named.file_type()) {
        return Err(refuse(Unfit::NotRegular(kind)));
    }
    use rustix::fs::OFlags;
    let flags = OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            refuse(match rustix::io::Errno::from_io_error(&e) {
                Some(rustix::io::Errno::LOOP) => Unfit::NotRegular(FileKind::Symlink),
                Some(rustix::io::Errno::NXIO) => Unfit::NotRegular(FileKind::Socket),
                _ => Unfit::Io(e),
            })
        })?;
    let md = file.metadata().map_err(|e| refuse(Unfit::Io(e)))?;
    if let Some(kind) = FileKind::of(md.file_type()) {
        return Err(refuse(Unfit::NotRegular(kind)));
    }
    if (md.dev(), md.ino()) != (named.dev(), named.ino()) {
        return Err(refuse(Unfit::Changed));
    }
    if md.len() > max_len {
        return Err(refuse(Unfit::TooLarge {
            len: md.len(),
            max: max_len,
        }));
    }
    let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| refuse(Unfit::Io(e.into())))?;
    rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK)
        .map_err(|e| refuse(Unfit::Io(e.into())))?;
    Ok(file)
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
    let real = std::fs::canonicalize(path).map_err(|e| {
        refuse(match rustix::io::Errno::from_io_error(&e) {
            Some(rustix::io::Errno::LOOP) => Unfit::SymlinkLoop.to_string(),
            _ => format!("cannot resolve: {e}"),
        })
    })?;
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
        check_owner_mode(&md, euid)
            .map_err(|why| refuse(format!("directory {} {why}", dir.display())))?;
    }
    let file = open_regular(&real, MAX_PLUGIN_LEN)
        .map_err(|r| refuse(format!("{} {}", shown(&real), r.unfit)))?;
    let md = file
        .metadata()
        .map_err(|e| refuse(format!("cannot inspect {}: {e}", shown(&real))))?;
    check_owner_mode(&md, euid).map_err(|why| refuse(format!("{} {why}", shown(&real))))?;
    Ok(VettedPlugin {
        path: path.to_path_buf(),
        real,
        file,
    })
}

fn check_owner_mode(md: &Metadata, euid: u32) -> Result<(), String> {
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
    // No exception for the sticky bit (see the module docs).
    let sticky = if mode & 0o1000 != 0 {
        ", sticky bit or not"
    } else {
        ""
    };
    if mode & 0o002 != 0 {
        return Err(format!("is world-writable (mode {mode:04o}{sticky})"));
    }
    if mode & 0o020 != 0 {
        return Err(format!("is group-writable (mode {mode:04o}{sticky})"));
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

    /// A private directory beside the test binary (in Cargo's target dir,
    /// wherever CARGO_TARGET_DIR puts it), whose ancestors are the
    /// developer's own (not /tmp, which tests elsewhere cover).
    fn scratch() -> tempfile::TempDir {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<test binary>
        let base = exe.parent().unwrap().parent().unwrap().join("trust-tests");
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
    fn refuses_plugin_below_a_sticky_world_writable_directory() {
        // /tmp is 1777 on every machine this runs on: the sticky bit makes
        // no exception, so a private 0755 directory inside it does not help.
        let md = std::fs::metadata("/tmp").unwrap();
        assert!(
            md.mode() & 0o1777 == 0o1777,
            "this test needs /tmp to have mode 1777"
        );
        let d = tempfile::tempdir_in("/tmp").unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = plugin(d.path(), "t.so", 0o644);
        let r = vet(&p).unwrap_err();
        assert!(
            r.reason
                .contains("directory /tmp is world-writable (mode 1777, sticky bit or not)"),
            "{r}"
        );
        // A sticky directory that only its owner may write is fine.
        let d = scratch();
        let sticky = d.path().join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1755)).unwrap();
        vet(&plugin(&sticky, "s.so", 0o644)).unwrap();
    }

    /// `open_regular` on `p` (within a bound) and what it found.
    fn unfit(p: &Path) -> Unfit {
        let started = std::time::Instant::now();
        let r = open_regular(p, MAX_TEXT_LEN).unwrap_err();
        assert!(
            started.elapsed() < std::time::Duration::from_millis(100),
            "{r} took {:?}",
            started.elapsed()
        );
        assert!(r.to_string().starts_with(&p.display().to_string()), "{r}");
        r.unfit
    }

    #[test]
    fn open_regular_refuses_what_could_hang_or_never_end() {
        let d = scratch();
        let fifo = d.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(ok.success());
        assert!(matches!(unfit(&fifo), Unfit::NotRegular(FileKind::Fifo)));
        let sock = d.path().join("sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(matches!(unfit(&sock), Unfit::NotRegular(FileKind::Socket)));
        assert!(matches!(
            unfit(Path::new("/dev/zero")),
            Unfit::NotRegular(FileKind::CharDevice)
        ));
        assert!(matches!(
            unfit(d.path()),
            Unfit::NotRegular(FileKind::Directory)
        ));
        let a = d.path().join("a");
        std::os::unix::fs::symlink(d.path().join("b"), &a).unwrap();
        std::os::unix::fs::symlink(&a, d.path().join("b")).unwrap();
        assert!(matches!(unfit(&a), Unfit::NotRegular(FileKind::Symlink)));
        assert!(matches!(unfit(&d.path().join("absent")), Unfit::Io(_)));
        let big = d.path().join("big");
        std::fs::write(&big, vec![b'x'; MAX_TEXT_LEN as usize + 1]).unwrap();
        assert!(matches!(
            unfit(&big),
            Unfit::TooLarge { len, max: MAX_TEXT_LEN } if len == MAX_TEXT_LEN + 1
        ));
        // The same names through `vet`: refused with what they are.
        for (p, what) in [
            (&fifo, "is a FIFO"),
            (&sock, "is a socket"),
            (&a, "is a loop of symbolic links"),
        ] {
            let r = vet(p).unwrap_err();
            assert!(r.reason.contains(what), "{r}");
        }
    }

    #[test]
    fn open_regular_gives_a_blocking_handle_to_a_regular_file() {
        use std::io::Read;
        let d = scratch();
        let p = plugin(d.path(), "text", 0o644);
        let mut f = open_regular(&p, MAX_TEXT_LEN).unwrap();
        let fl = rustix::fs::fcntl_getfl(&f).unwrap();
        assert!(!fl.contains(rustix::fs::OFlags::NONBLOCK));
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "not really a library");
    }
}
