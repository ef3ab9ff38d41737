//! Reading mpr's own small files (settings, state, journal) safely.
//!
//! A settings or state path can be anything a user or an accident put there:
//! a named pipe would block a plain `open` for ever, a device or a huge file
//! would be read without end. Every read of such a file goes through
//! [`read_regular`], which opens without blocking, follows symbolic links (an
//! administrator may link a configuration from elsewhere) and refuses
//! anything that is not a regular file of a sane size.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest settings or state file mpr reads (16 MiB).
pub const MAX_LEN: u64 = 16 << 20;

/// The `open` flags that keep a FIFO from blocking and a terminal from
/// becoming the controlling one.
pub const NONBLOCK_NOCTTY: i32 =
    (rustix::fs::OFlags::NONBLOCK.bits() | rustix::fs::OFlags::NOCTTY.bits()) as i32;

/// Opens `path` for reading with [`NONBLOCK_NOCTTY`].
pub fn open_nonblocking(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(NONBLOCK_NOCTTY)
        .open(path)
}

/// Reads the whole of the regular file at `path`.
///
/// A missing file keeps [`io::ErrorKind::NotFound`] so that callers can treat
/// it as "use the defaults". Anything other than a regular file, or a file
/// larger than [`MAX_LEN`], is [`io::ErrorKind::InvalidInput`] with a message
/// naming what was found.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    if let Some(kind) = crate::trust::FileKind::of(meta.file_type()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {kind}, not a regular file"),
        ));
    }
    if meta.len() > MAX_LEN {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read: never take more than the limit.
    (&mut file).take(MAX_LEN + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LEN {
        return Err(too_big());
    }
    Ok(bytes)
}

/// [`read_regular`], then UTF-8.
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    let bytes = read_regular(path)?;
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

fn too_big() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("is larger than {} MiB", MAX_LEN >> 20),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_and_a_link_to_one_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.toml");
        std::fs::write(&f, "x = 1\n").unwrap();
        let l = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        assert_eq!(read_regular_to_string(&f).unwrap(), "x = 1\n");
        assert_eq!(read_regular_to_string(&l).unwrap(), "x = 1\n");
    }

    #[test]
    fn a_missing_file_stays_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular(&dir.path().join("none")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_fifo_is_refused_at_once_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = read_regular(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn a_directory_a_device_and_bad_utf8_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular(dir.path()).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let e = read_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let f = dir.path().join("bad");
        std::fs::write(&f, [b'a', 0xff]).unwrap();
        let e = read_regular_to_string(&f).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("byte 1"), "{e}");
    }
}
