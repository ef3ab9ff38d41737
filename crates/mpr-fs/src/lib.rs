/*!
mpr's own network file system: one FUSE server per connection, the
file-system logic written once, and one back end per protocol.

# Layout

- [`backend`]: the [`Backend`] trait a protocol implements (paths inside
  the share, plain types, `async`), and its types.
- [`error`]: [`FsError`] with its one errno mapping, and [`ConnectError`]
  with its one `WN_*` mapping.
- [`handshake`] and [`health`] (re-exported from the `mpr-handshake`
  crate, which the providers link without the file system): parameters
  and password in over a pipe, the exact result out, `Ready` only once
  mounted; the mount's health (OK, reconnecting, unavailable) as the
  server publishes it for the router.
- [`events`]: what the file system reports beyond a program's error (a
  conflict), for the server to write to the audit journal.
- [`fs`]: the file system over any back end, in plain Rust (unit-tested
  without a mount): the inode table, the attribute cache with its expiry
  (close-to-open coherence), open handles, bounded waits, reconnect with
  backoff, health.
- [`fuse`]: the `fuser` adapter, which only translates the kernel's
  callbacks into calls on [`fs::Fs`]; [`session`]: mounting through
  `fusermount3` and unmounting on a signal.
- `testing` (feature `testing`): an in-memory back end with faults to
  inject, the reference-model harness any mounted directory can be
  checked with, and the back ends' mount fixture.

This follows mountpoint-s3, which keeps its file-system logic apart from
the `fuser` adapter and tests each layer on its own.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backend;
pub mod error;
pub mod events;
pub mod fs;
pub mod fuse;
pub use mpr_handshake::{handshake, health};
pub mod session;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use backend::{Attr, Backend, DirEntry, FileKind, OpenFlags, RelPath, Special, StatFs, Times};
/// What [`Backend::read`] answers (the `bytes` crate's, so that back ends
/// need no version of their own).
pub use bytes::Bytes;
pub use error::{ConnectError, FsError};
