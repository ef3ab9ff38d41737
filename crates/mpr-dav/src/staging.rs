//! Staging files: a private local copy of a file open for writing, with
//! no name (`O_TMPFILE`, or a name removed at once where the file system
//! has no `O_TMPFILE`), mode 0600, in the runtime directory. It holds the
//! file's content while it is written and is gone when its handle is
//! closed (or the server process dies): nothing to clean up.

use rustix::fs::{Mode, OFlags};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A staging file.
#[derive(Debug)]
pub struct Staging {
    file: File,
}

impl Staging {
    /// A new, empty staging file in `dir`.
    pub fn new(dir: &Path) -> std::io::Result<Staging> {
        let mode = Mode::RUSR | Mode::WUSR;
        let fd = match rustix::fs::open(dir, OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC, mode)
        {
            Ok(fd) => fd,
            Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR) => {
                // No O_TMPFILE here: a fresh name, removed at once.
                let mut n = 0u32;
                loop {
                    let name = dir.join(format!(
                        ".mpr-dav-staging-{}-{}-{n}",
                        std::process::id(),
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_nanos())
                    ));
                    match rustix::fs::open(
                        &name,
                        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC,
                        mode,
                    ) {
                        Ok(fd) => {
                            let _ = std::fs::remove_file(&name);
                            break fd;
                        }
                        Err(rustix::io::Errno::EXIST) if n < 100 => n += 1,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Staging {
            file: File::from(fd),
        })
    }

    /// Reads up to `len` bytes at `offset` (fewer at the end).
    pub fn read(&self, offset: u64, len: u32) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        let mut got = 0;
        while got < buf.len() {
            let n = self.file.read_at(&mut buf[got..], offset + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// Writes all of `data` at `offset`.
    pub fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all_at(data, offset)
    }

    /// Sets the size.
    pub fn set_len(&self, size: u64) -> std::io::Result<()> {
        self.file.set_len(size)
    }

    /// The size.
    pub fn size(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// The whole content.
    pub fn contents(&self) -> std::io::Result<Vec<u8>> {
        let len = self.size()?;
        let mut buf = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
        self.file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_staging_file_is_private_nameless_and_holds_what_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let s = Staging::new(dir.path()).unwrap();
        assert_eq!(s.file.metadata().unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        s.write(0, b"hello").unwrap();
        s.write(7, b"!").unwrap();
        assert_eq!(s.contents().unwrap(), b"hello\0\0!");
        assert_eq!(s.read(3, 100).unwrap(), b"lo\0\0!");
        s.set_len(2).unwrap();
        assert_eq!(s.contents().unwrap(), b"he");
    }
}
