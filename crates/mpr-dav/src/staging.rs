//! Staging files: a private local copy of a file open for writing, with
//! no name (`O_TMPFILE`, or a name removed at once where the file system
//! has no `O_TMPFILE`), mode 0600, in the runtime directory. It holds the
//! file's content while it is written and is gone when its handle is
//! closed (or the server process dies): nothing to clean up.

use rustix::fs::{Mode, OFlags};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

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
    #[cfg(test)]
    pub fn contents(&self) -> std::io::Result<Vec<u8>> {
        let len = self.size()?;
        let mut buf = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
        self.file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// How much of a staging file an upload reads at a time.
const PIECE: u32 = 1 << 20;

/// A staging file's content as a request body: read a piece at a time as
/// the request is sent, so an upload of many GiB never sits in memory.
/// Its length is the file's size when it is made, and the request says
/// so (`Content-Length`: some servers refuse a chunked `PUT`).
///
/// A file cut shorter while it is sent (an `ftruncate` through another
/// descriptor during an upload) is completed with zeros up to the length
/// stated: the cut marked the file changed, so it is uploaded again at
/// its next flush or close, and the upload under way neither fails (a
/// spurious `EIO` for the program that asked for it) nor sends less than
/// it said.
///
/// The pieces are read where the body is polled: a `pread` of a file this
/// process has just written, from the page cache.
#[derive(Debug)]
pub struct Upload {
    staging: Arc<Staging>,
    at: u64,
    len: u64,
}

impl Upload {
    /// The whole of `staging`, as it is now.
    pub fn new(staging: Arc<Staging>) -> std::io::Result<Upload> {
        let len = staging.size()?;
        Ok(Upload {
            staging,
            at: 0,
            len,
        })
    }
}

impl http_body::Body for Upload {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        let left = self.len - self.at;
        if left == 0 {
            return Poll::Ready(None);
        }
        let want = u32::try_from(left).map_or(PIECE, |l| l.min(PIECE));
        Poll::Ready(Some(match self.staging.read(self.at, want) {
            Ok(mut piece) => {
                if piece.is_empty() {
                    piece = vec![0; want as usize];
                }
                self.at += piece.len() as u64;
                Ok(http_body::Frame::data(piece.into()))
            }
            Err(e) => Err(e),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.at == self.len
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len - self.at)
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

    #[test]
    fn an_upload_reads_the_whole_file_in_pieces_of_its_announced_length() {
        use http_body::Body;
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(Staging::new(dir.path()).unwrap());
        let content: Vec<u8> = (0..(2 * PIECE + 12345)).map(|i| (i % 251) as u8).collect();
        s.write(0, &content).unwrap();
        let mut up = Upload::new(Arc::clone(&s)).unwrap();
        assert_eq!(up.size_hint().exact(), Some(content.len() as u64));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut got = Vec::new();
        let mut pieces = 0;
        while let Poll::Ready(Some(frame)) = Pin::new(&mut up).poll_frame(&mut cx) {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= PIECE as usize);
            got.extend_from_slice(&data);
            pieces += 1;
        }
        assert!(up.is_end_stream());
        assert_eq!(pieces, 3);
        assert_eq!(got, content);
        // A file cut short while it is sent still gives the length stated,
        // what is left of it then zeros.
        let mut up = Upload::new(Arc::clone(&s)).unwrap();
        s.set_len(10).unwrap();
        let mut got = Vec::new();
        while let Poll::Ready(Some(frame)) = Pin::new(&mut up).poll_frame(&mut cx) {
            got.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        assert_eq!(got.len(), content.len());
        assert_eq!(&got[..10], &content[..10]);
        assert!(got[10..].iter().all(|&b| b == 0));
    }
}
