/*!
The plugin host: the only crate that calls `dlopen`.

A plugin file reaches [`load_notifyee`] or [`load_provider`] only as a
[`VettedPlugin`], which only [`mpr_core::trust::vet`] can build: the trust
decision is taken above this crate, and the `unsafe` here only restates it.
The open file that was checked is what gets mapped (`/proc/self/fd/N`),
with `RTLD_NOW | RTLD_LOCAL`, so unresolved symbols fail at load time.

Each loaded plugin keeps copied function pointers and, in its last field,
the `Arc<Library>` they come from: nothing is unloaded while a handle
exists ([`notifyee::LoadedNotifier`], [`provider::LoadedProvider`]). A
library that cannot be loaded gives a [`LoadError`], one variant per kind of
failure.

[`assemble()`] turns an `mpr.toml` into the slots of a
[`mpr_core::router::Router`]: in-process notifyees are loaded here, and
those registered with `isolation = "process"` run in a host process
([`isolation::IsolatedNotifier`]; the host program's `main` is
[`isolation::host_main`]).

The host side of the interface lives here too: [`exports`] has the
`WNetSetLastErrorW`/`A` that providers call back.
*/
#![deny(missing_docs)]

mod assemble;
mod error;
pub mod exports;
pub mod isolation;
pub mod notifyee;
pub mod provider;

pub use assemble::{Builtins, assemble, load_notifyee_slot, load_registered_notifyee};
pub use error::LoadError;
pub use notifyee::{LoadedNotifier, load_notifyee};
pub use provider::{LoadedProvider, load_provider};

use mpr_core::trust::VettedPlugin;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// A mapped library together with the vetted file it was mapped from.
///
/// The file stays open as long as the library is loaded: glibc recognises
/// an already-loaded object by its name, so the `/proc/self/fd/N` name of
/// a loaded library must never be reused by another file.
#[derive(Debug)]
pub(crate) struct Mapped {
    pub(crate) lib: libloading::Library,
    _vetted: VettedPlugin,
}

/// Maps the vetted file into the process.
fn open_vetted(plugin: VettedPlugin) -> Result<Arc<Mapped>, LoadError> {
    let fd_path = format!("/proc/self/fd/{}", plugin.file().as_raw_fd());
    let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL;
    // SAFETY: libloading's `open` contract is that the library's
    // initialisers are safe to run. The file passed the trust checks of
    // spec §3 (it is a `VettedPlugin`): loading it is the administrator's
    // registered decision, and we map exactly the inode that was checked.
    let lib =
        unsafe { libloading::os::unix::Library::open(Some(&fd_path), flags) }.map_err(|e| {
            LoadError::Dlopen {
                path: plugin.path().to_path_buf(),
                detail: dl_detail(&e),
            }
        })?;
    Ok(Arc::new(Mapped {
        lib: lib.into(),
        _vetted: plugin,
    }))
}

/// The useful part of a libloading error (its `Display` is terse).
fn dl_detail(e: &libloading::Error) -> String {
    use std::error::Error;
    match e.source() {
        Some(s) => s.to_string(),
        None => e.to_string(),
    }
}
