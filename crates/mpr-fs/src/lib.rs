/*!
mpr's own network file system: one FUSE server per connection, the
file-system logic written once, and one back end per protocol.

# Layout

- [`backend`]: the [`Backend`] trait a protocol implements (paths inside
  the share, plain types, `async`), and its types.
- [`error`]: [`FsError`] with its one errno mapping, and [`ConnectError`]
  with its one `WN_*` mapping.
- [`handshake`]: the exact handshake between a provider and the server it
  starts: parameters and password in over a pipe, the exact result out,
  `Ready` only once mounted.
- [`health`]: the mount's health (OK, reconnecting, unavailable) as the
  server publishes it for the router.

Above the trait, and written once for every protocol (in the spirit of
mountpoint-s3, which keeps its file-system logic apart from the `fuser`
adapter): the inode table and attribute cache with their expiry
(close-to-open coherence), open handles, bounded waits, reconnect with
backoff, and the `fuser` adapter that only translates callbacks.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backend;
pub mod error;
pub mod handshake;
pub mod health;

pub use backend::{Attr, Backend, DirEntry, FileKind, OpenFlags, RelPath, StatFs, Times};
pub use error::{ConnectError, FsError};
