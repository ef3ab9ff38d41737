/*!
The wire between a built-in provider (in the `mpr` process or libmpr) and
the file-system server it starts, `mpr-fsd`:

- [`handshake`]: the request (parameters and the password, over a pipe)
  and the replies (the exact result, then `Ready` once mounted);
- [`health`]: the health file the server keeps up to date and the router
  reads (OK, reconnecting, unavailable).

It is a crate of its own so that the providers, which are linked into
libmpr, speak to the server without linking the file system (FUSE, the
async runtime, the protocol clients).
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod handshake;
pub mod health;

pub use handshake::{Audit, AuditSinks, Dial, DialLine, Password, Protocol, Reply, Request};
pub use health::Health;
