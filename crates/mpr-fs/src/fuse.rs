//! The `fuser` adapter: it only translates the kernel's callbacks into
//! calls on [`Fs`] and the answers back. Each call that may reach the
//! server runs as a task on the tokio runtime, so a slow operation never
//! holds up the others (the session's threads only read requests and hand
//! them over).

use crate::backend::{Attr, Backend, FileKind, Special};
use crate::error::FsError;
use crate::fs::{Fs, SetAttr, shown_perm};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, Notifier, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    Request, TimeOrNow, WriteFlags,
};
use std::ffi::OsStr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use tokio::runtime::Handle;

/// The largest write the kernel sends in one request.
const MAX_WRITE: u32 = 1024 * 1024;

/// [`Fs`] as a `fuser` file system.
#[derive(Debug)]
pub struct FuseFs<B: Backend> {
    fs: Arc<Fs<B>>,
    rt: Handle,
    notifier: Arc<OnceLock<Notifier>>,
}

impl<B: Backend> FuseFs<B> {
    /// The adapter for `fs`, running its calls on `rt`; `notifier` is
    /// filled once the session exists (to tell the kernel to drop what it
    /// cached of a file that changed on the server).
    pub fn new(fs: Arc<Fs<B>>, rt: Handle, notifier: Arc<OnceLock<Notifier>>) -> FuseFs<B> {
        FuseFs { fs, rt, notifier }
    }

    fn spawn<F>(&self, f: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.rt.spawn(f);
    }
}

fn errno(e: &FsError) -> Errno {
    Errno::from_i32(e.errno())
}

fn kind(k: FileKind) -> FileType {
    match k {
        FileKind::File => FileType::RegularFile,
        FileKind::Directory => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
        FileKind::Special(Special::Fifo) => FileType::NamedPipe,
        FileKind::Special(Special::Socket) => FileType::Socket,
        FileKind::Special(Special::CharDevice) => FileType::CharDevice,
        FileKind::Special(Special::BlockDevice) => FileType::BlockDevice,
    }
}

/// A name that does not exist, as an entry the kernel keeps for its TTL
/// (a negative entry: inode 0), so that the next lookup of the name within
/// it does not reach the file system. Creating the name through the mount
/// replaces it at once.
fn absent(uid: u32, gid: u32) -> FileAttr {
    file_attr(0, &Attr::stand_in(FileKind::File), uid, gid)
}

/// The kernel's attributes for `attr`, owned by the mounting user.
pub fn file_attr(ino: u64, attr: &Attr, uid: u32, gid: u32) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: attr.size,
        blocks: attr.size.div_ceil(512),
        atime: attr.atime,
        mtime: attr.mtime,
        ctime: attr.ctime,
        crtime: attr.ctime,
        kind: kind(attr.kind),
        perm: shown_perm(attr),
        nlink: if attr.kind == FileKind::Directory {
            2
        } else {
            1
        },
        uid,
        gid,
        rdev: 0,
        // The I/O size programs take from `st_blksize` (cp, cat and stdio
        // size their buffers by it): as large as one request to the server,
        // as the kernel's own SMB client reports. With 64 KiB, `cp` wrote
        // in 128 KiB requests, one at a time, and took 1.6 times as long.
        blksize: MAX_WRITE,
        flags: 0,
    }
}

fn name_of(name: &OsStr) -> Result<String, FsError> {
    name.to_str()
        .map(str::to_string)
        .ok_or_else(|| FsError::InvalidName(name.to_string_lossy().into_owned()))
}

fn time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

impl<B: Backend> Filesystem for FuseFs<B> {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // The kernel drops cached pages when a refreshed modification time
        // differs; O_TRUNC reaches `open` (one server call, not two); the
        // kernel may look up names in one directory in parallel; a listing
        // carries every entry's attributes (READDIRPLUS, always: `ls -l`
        // reads the whole directory before it looks at the entries), so
        // the kernel does not look each name up again.
        for cap in [
            InitFlags::FUSE_AUTO_INVAL_DATA,
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_DO_READDIRPLUS,
        ] {
            let _ = config.add_capabilities(cap);
        }
        let _ = config.set_max_write(MAX_WRITE);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let fs = self.fs.clone();
        let name = name_of(name);
        self.spawn(async move {
            let r = match name {
                Ok(n) => fs.lookup(parent.0, &n).await,
                Err(e) => Err(e),
            };
            let cfg = fs.config();
            let (uid, gid) = (cfg.uid, cfg.gid);
            let missing = cfg.negative_ttl.min(cfg.attr_ttl);
            match r {
                Ok(e) => reply.entry(&e.ttl, &file_attr(e.ino, &e.attr, uid, gid), Generation(0)),
                Err(FsError::NotFound) if !missing.is_zero() => {
                    reply.entry(&missing, &absent(uid, gid), Generation(0))
                }
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.fs.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        // Attributes in the cache are answered from this thread: one
        // hand-over to a task and back less (a `stat` after a close, the
        // kernel's permission checks of a directory it just changed).
        if let Some((a, ttl)) = self.fs.getattr_ready(ino.0) {
            let (uid, gid) = (self.fs.config().uid, self.fs.config().gid);
            reply.attr(&ttl, &file_attr(ino.0, &a, uid, gid));
            return;
        }
        let fs = self.fs.clone();
        self.spawn(async move {
            let (uid, gid) = (fs.config().uid, fs.config().gid);
            match fs.getattr(ino.0).await {
                Ok((a, ttl)) => reply.attr(&ttl, &file_attr(ino.0, &a, uid, gid)),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let fs = self.fs.clone();
        let req = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(time),
            mtime: mtime.map(time),
            fh: fh.map(|f| f.0),
        };
        self.spawn(async move {
            let (u, g) = (fs.config().uid, fs.config().gid);
            match fs.setattr(ino.0, req).await {
                Ok((a, ttl)) => reply.attr(&ttl, &file_attr(ino.0, &a, u, g)),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let fs = self.fs.clone();
        let name = name_of(name);
        self.spawn(async move {
            let r = match name {
                Ok(n) => fs.mkdir(parent.0, &n).await,
                Err(e) => Err(e),
            };
            let (uid, gid) = (fs.config().uid, fs.config().gid);
            match r {
                Ok(e) => reply.entry(&e.ttl, &file_attr(e.ino, &e.attr, uid, gid), Generation(0)),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let fs = self.fs.clone();
        let name = name_of(name);
        self.spawn(async move {
            let r = match name {
                Ok(n) => fs.unlink(parent.0, &n).await,
                Err(e) => Err(e),
            };
            empty(reply, r)
        });
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let fs = self.fs.clone();
        let name = name_of(name);
        self.spawn(async move {
            let r = match name {
                Ok(n) => fs.rmdir(parent.0, &n).await,
                Err(e) => Err(e),
            };
            empty(reply, r)
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let fs = self.fs.clone();
        let names = name_of(name).and_then(|a| Ok((a, name_of(newname)?)));
        self.spawn(async move {
            let r = match names {
                Ok((a, b)) => fs.rename(parent.0, &a, newparent.0, &b, flags.bits()).await,
                Err(e) => Err(e),
            };
            empty(reply, r)
        });
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let fs = self.fs.clone();
        let notifier = self.notifier.clone();
        self.spawn(async move {
            match fs.open(ino.0, flags.0).await {
                Ok(o) => {
                    let mut f = FopenFlags::empty();
                    if o.keep_cache {
                        f |= FopenFlags::FOPEN_KEEP_CACHE;
                    } else if let Some(n) = notifier.get() {
                        // The file changed on the server: besides its
                        // pages (dropped without FOPEN_KEEP_CACHE), the
                        // kernel must forget its size, so that the new
                        // content is read whole.
                        let _ = n.inval_inode(ino, -1, 0);
                    }
                    reply.opened(FileHandle(o.fh), f);
                }
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // Bytes already read ahead are answered from this thread: one
        // hand-over to a task and back less per request.
        let _rt = self.rt.enter();
        if let Some(d) = self.fs.read_ready(fh.0, offset, size) {
            reply.data(&d);
            return;
        }
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.read(fh.0, offset, size).await {
                Ok(d) => reply.data(&d),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let fs = self.fs.clone();
        // The one copy: the session's buffer is reused for the next request.
        let data = data.to_vec();
        self.spawn(async move {
            // Answered once queued; the task goes on until it has landed.
            fs.write_behind(fh.0, offset, &data, |r| match r {
                Ok(n) => reply.written(n),
                Err(e) => reply.error(errno(&e)),
            })
            .await;
        });
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let fs = self.fs.clone();
        self.spawn(async move { empty(reply, fs.flush(fh.0).await) });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let fs = self.fs.clone();
        self.spawn(async move { empty(reply, fs.release(fh.0).await) });
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let fs = self.fs.clone();
        self.spawn(async move { empty(reply, fs.fsync(fh.0).await) });
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.opendir(ino.0).await {
                Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.fs.readdir(fh.0, offset) {
            Ok(entries) => {
                for (next, slot) in entries {
                    if reply.add(INodeNo(slot.ino), next, kind(slot.kind), &slot.name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let fs = self.fs.clone();
        self.spawn(async move {
            let (uid, gid) = (fs.config().uid, fs.config().gid);
            let r = fs
                .readdirplus(ino.0, fh.0, offset, |e| {
                    reply.add(
                        INodeNo(e.ino),
                        e.next,
                        e.name,
                        &e.ttl,
                        &file_attr(e.ino, e.attr, uid, gid),
                        Generation(0),
                    )
                })
                .await;
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.fs.releasedir(fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Directory changes are made on the server by the call itself.
        reply.ok();
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.allocate(ino.0, fh.0, offset, length, mode).await {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.readlink(ino.0).await {
                Ok(target) => reply.data(target.as_bytes()),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.statfs().await {
                Ok(s) => reply.statfs(
                    s.blocks,
                    s.free,
                    s.available,
                    0,
                    0,
                    s.block_size,
                    crate::backend::NAME_MAX as u32,
                    s.block_size,
                ),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let fs = self.fs.clone();
        let name = name_of(name);
        self.spawn(async move {
            let r = match name {
                Ok(n) => fs.create(parent.0, &n, flags).await,
                Err(e) => Err(e),
            };
            let (uid, gid) = (fs.config().uid, fs.config().gid);
            match r {
                Ok((e, o)) => reply.created(
                    &e.ttl,
                    &file_attr(e.ino, &e.attr, uid, gid),
                    Generation(0),
                    FileHandle(o.fh),
                    FopenFlags::empty(),
                ),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &std::path::Path,
        reply: ReplyEntry,
    ) {
        reply.error(errno(&FsError::NotPermitted));
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(errno(&FsError::NotPermitted));
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(errno(&FsError::NotPermitted));
    }
}

/// Answers a call that returns nothing: done, or its errno.
fn empty(reply: ReplyEmpty, r: Result<(), FsError>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}
