/*!
The built-in network providers: `sftp`, `smb` and `webdav`, each a launcher
that runs and supervises one FUSE server per connection (mpr's own
`mpr-fsd` for all three protocols).

- [`sftp`]: mpr's own file system over the system's `ssh`, started
  through [`fsd`]; see its module docs for names and credentials.
- [`mount`]: the mount table (the truth about a built-in connection) and
  unmounting; [`helper`]: running a helper until its mount is usable.

- [`smb`]: mpr's own file system, `mpr-fsd`, started through [`fsd`]: the
  exact handshake, and the health the server publishes.
- [`webdav`]: mpr's own file system (`mpr-fsd`) on its WebDAV back end,
  started through [`fsd`] as well.
- [`probe`]: the quick "is this server of my kind?" checks of a bare UNC
  name; [`spare`]: the server (and, for SMB, the connection) started while
  those checks run, for the connect they end in.
- [`options`]: each provider's options (`[providers.KEY]` in `mpr.toml`),
  checked here; [`Context`]: what `mpr-setup` hands every provider from the
  environment.

Each answers `WN_BAD_NETNAME` at once for a name that is not its own (a URL
of another scheme), so cycling works; why each tool was chosen is in
`docs/providers.md`.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fsd;
pub mod helper;
pub mod mount;
pub mod options;
pub mod probe;
pub mod sftp;
pub mod smb;
pub mod spare;
pub mod webdav;

use mpr_core::plugin::{CancelCall, NetworkProvider};
use mpr_core::router::Health;
use mpr_core::{WnError, lasterror};
pub use mpr_handshake::AuditSinks;
pub use options::{Builtin, BuiltinOptions, DEFAULT_CONNECT_TIMEOUT};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The connection capabilities of every built-in provider.
pub const BUILTIN_CAPS: u32 = mpr_abi::WNNC_CON_ADDCONNECTION3
    | mpr_abi::WNNC_CON_CANCELCONNECTION
    | mpr_abi::WNNC_CON_GETCONNECTIONS;

/// The network type mpr reports for SFTP (no Windows value exists; this one
/// is in a range no Windows provider uses).
pub const WNNC_NET_MPR_SFTP: u32 = 0x00FE_0000;

/// Why a connect failed: the code to return and the text for the last
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The `WN_*` code.
    pub code: WnError,
    /// What happened, in words.
    pub text: String,
}

impl Failure {
    /// A failure with `code`, saying `text`.
    pub fn new(code: WnError, text: String) -> Failure {
        Failure { code, text }
    }

    /// Records the failure as `provider`'s last error and returns its code.
    pub fn report<T>(self, provider: &str) -> Result<T, WnError> {
        lasterror::set(self.code.code(), self.text, provider);
        Err(self.code)
    }
}

/// What the built-in providers get from the environment, resolved by
/// `mpr-setup` (the providers read no environment variables themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The runtime directory (helper logs and private files).
    pub runtime_dir: PathBuf,
    /// The login name: the SMB user when a password comes without one.
    pub login: String,
    /// The directories `mpr-fsd` is looked for in, in order.
    pub fsd_dirs: Vec<PathBuf>,
    /// The audit journal's sinks, for what `mpr-fsd` records itself (a
    /// conflict on a drive).
    pub audit: AuditSinks,
}

/// Makes a built-in provider with display name `name` from its checked
/// options.
pub fn builtin(name: String, options: BuiltinOptions, ctx: &Context) -> Arc<dyn NetworkProvider> {
    let runtime_dir = ctx.runtime_dir.clone();
    match options {
        BuiltinOptions::Sftp(opts) => Arc::new(sftp::Sftp {
            name,
            opts,
            runtime_dir,
            fsd_dirs: ctx.fsd_dirs.clone(),
            audit: ctx.audit.clone(),
        }),
        BuiltinOptions::Smb(opts) => Arc::new(smb::Smb {
            name,
            opts,
            runtime_dir,
            login: ctx.login.clone(),
            fsd_dirs: ctx.fsd_dirs.clone(),
            audit: ctx.audit.clone(),
        }),
        BuiltinOptions::WebDav(opts) => Arc::new(webdav::WebDav {
            name,
            opts,
            runtime_dir,
            fsd_dirs: ctx.fsd_dirs.clone(),
            audit: ctx.audit.clone(),
        }),
    }
}

/// Makes `dir` ready to be mounted on: a dead mount there is cleared (a
/// repair), a live one is `WN_ALREADY_CONNECTED`, a missing directory is
/// created, a non-empty one refused.
pub fn prepare_mount_point(dir: &Path, provider: &str) -> Result<(), WnError> {
    if let Some(m) = mount::mounted_at(dir) {
        if mount::answers(dir) {
            lasterror::set(
                WnError::AlreadyConnected.code(),
                format!(
                    "{} is already a mount point ({} {})",
                    dir.display(),
                    m.fstype,
                    m.source
                ),
                provider,
            );
            return Err(WnError::AlreadyConnected);
        }
        let _ = mount::unmount(dir, true, provider);
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        lasterror::set(
            WnError::BadLocalName.code(),
            format!("cannot create {}: {e}", dir.display()),
            provider,
        );
        return Err(WnError::BadLocalName);
    }
    match std::fs::read_dir(dir).map(|mut it| it.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => {
            lasterror::set(
                WnError::BadLocalName.code(),
                format!("{} is not empty", dir.display()),
                provider,
            );
            Err(WnError::BadLocalName)
        }
        Err(e) => {
            lasterror::set(
                WnError::BadLocalName.code(),
                format!("cannot read {}: {e}", dir.display()),
                provider,
            );
            Err(WnError::BadLocalName)
        }
    }
}

/// Cancels a built-in connection: unmounts its directory (busy without
/// `force`: `WN_OPEN_FILES`), waits a moment for its helper to exit (not
/// when forced), then forgets the helper's log and pid.
pub fn cancel_mount(
    call: &CancelCall<'_>,
    runtime_dir: &Path,
    key: &str,
    provider: &str,
) -> Result<(), WnError> {
    let Some(dir) = call.directory else {
        return Err(WnError::NotConnected);
    };
    let log = helper::log_path(runtime_dir, key, dir);
    if call.force {
        // A helper still starting (no mount yet) would mount after this
        // cancel returned: forced, it goes first.
        helper::kill_recorded(&log);
    }
    mount::unmount(dir, call.force, provider)?;
    if !call.force {
        // Disconnected means the helper is gone too (a forced, lazy
        // unmount leaves it serving the files still open).
        helper::wait_exit(&log, std::time::Duration::from_secs(2));
    }
    helper::forget(&log);
    Ok(())
}

/// The mount source of a live built-in connection, or `WN_NOT_CONNECTED`.
pub fn live_mount(
    directory: Option<&Path>,
    fstypes: &[&str],
    runtime_dir: &Path,
    key: &str,
) -> Result<String, WnError> {
    let dir = directory.ok_or(WnError::NotConnected)?;
    let log = helper::log_path(runtime_dir, key, dir);
    mount::alive(dir, fstypes, &log)
        .map(|m| m.source)
        .ok_or(WnError::NotConnected)
}

/// The health of a built-in connection served by a helper at `directory`:
/// mounted with one of `fstypes`, its helper running, and the mount
/// answering within [`mount::ANSWER_BOUND`]; otherwise unavailable, with
/// the reason. Never waits on the mount longer than that bound.
pub fn mount_health(
    directory: Option<&Path>,
    fstypes: &[&str],
    runtime_dir: &Path,
    key: &str,
) -> Health {
    let unavailable = |r: String| Health::Unavailable { reason: Some(r) };
    let Some(dir) = directory else {
        return unavailable("it has no mount directory".into());
    };
    if !mount::mounted_at(dir).is_some_and(|m| fstypes.contains(&m.fstype.as_str())) {
        return unavailable(format!("{} is not mounted any more", dir.display()));
    }
    if helper::running(&helper::log_path(runtime_dir, key, dir)) == Some(false) {
        return unavailable("its helper has exited".into());
    }
    match mount::answer(dir).reason() {
        None => Health::Ok,
        Some(r) => unavailable(r),
    }
}

/// Maps a failure to start a helper program to `WN_NET_ERROR`, saying
/// which package provides it.
pub fn spawn_failed(
    program: &str,
    package: &str,
    provider: &str,
) -> impl Fn(std::io::Error) -> WnError {
    let (program, package, provider) = (
        program.to_string(),
        package.to_string(),
        provider.to_string(),
    );
    move |e| {
        lasterror::set(
            WnError::NetError.code(),
            format!("cannot run {program} (apt-get install {package}): {e}"),
            provider.clone(),
        );
        WnError::NetError
    }
}

/// After a failed connect: nothing may stay mounted at `dir`.
pub fn clean_mount_point(dir: &Path) {
    if mount::mounted_at(dir).is_some_and(|m| m.fstype.starts_with("fuse")) {
        let saved = lasterror::get();
        let _ = mount::unmount(dir, true, "mpr");
        match saved {
            Some(d) => lasterror::set(d.code, d.text, d.provider),
            None => lasterror::clear(),
        }
    }
}
