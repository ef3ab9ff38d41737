/*!
Saved credentials of mpr, kept in the user's keyring: the Secret Service
(`org.freedesktop.secrets` on the D-Bus session bus), which gnome-keyring and
KeePassXC offer. Nothing is ever written elsewhere.

A credential is for a [`Target`] (a provider's scheme, a host and a port,
written `smb://host[:port]`) and a user. Each is one keyring item with the
attributes `application=mpr`, `provider` (the scheme), `host`, `port` and
`user`, and a label such as `mpr: smb://nas (alice)`; the secret is the
password. Two users of one server are two items.

```no_run
use mpr_cred::{Keyring, Target};
use mpr_core::plugin::Secret;
let keyring = Keyring::connect()?;
let nas: Target = "smb://nas".parse().unwrap();
keyring.store(&nas, "alice", &Secret::new("s3cret".into()))?;
assert!(keyring.lookup(&nas, "alice")?.is_some());
assert_eq!(keyring.delete(&nas, Some("alice"))?, 1);
# Ok::<(), mpr_cred::CredError>(())
```

[`KeyringPasswords`] hands saved passwords to the router
(`Router::use_saved_credentials`), so that a connect or restore with a user
and no password takes the one saved for that provider, server and user.

Secrets are held in [`Secret`](mpr_core::plugin::Secret) (wiped when dropped,
`***` in `Debug`); no error or `Debug` output of this crate carries one.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod store;
mod target;

pub use store::{APPLICATION, CredError, Keyring, KeyringPasswords, SCHEMA, Saved};
pub use target::{Scheme, Target, TargetError};
