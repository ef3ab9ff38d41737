//! The checks made before anything is notified (§5, §7.1): malformed names
//! and flags, a bad resource type, an unknown provider, a local name the
//! live table already shows connected. A request that fails here is never
//! seen by a notifyee or a provider.

use super::request::{ADD_FLAGS_ALLOWED, AddApi, AddRequest, CANCEL_FLAGS_ALLOWED, CancelRequest};
use super::{Router, fail};
use crate::WnError;
use crate::names::{LocalName, MAX_NAME_UNITS, RemoteName, is_remote_form};
use crate::plugin::NetworkProvider;
use mpr_abi as abi;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

/// An add request that passed validation.
#[derive(Debug)]
pub(super) struct ValidAdd<'r> {
    /// The local name (`None`: deviceless, or auto-pick).
    pub local: Option<LocalName>,
    /// The remote name, normalised.
    pub remote: RemoteName,
    /// The provider asked for, if any (`None`: cycle).
    pub explicit: Option<&'r Arc<dyn NetworkProvider>>,
}

/// What a cancel names.
#[derive(Debug, Clone)]
pub(super) enum CancelTarget {
    /// A local name.
    Local(LocalName),
    /// A deviceless connection, by its remote name.
    Remote(RemoteName),
}

impl CancelTarget {
    /// The name as the table and the notifyees see it.
    pub fn display(&self) -> String {
        match self {
            CancelTarget::Local(l) => l.display(),
            CancelTarget::Remote(r) => r.as_str().to_string(),
        }
    }

    /// The local name's table key, if it is one.
    pub fn local_key(&self) -> Option<String> {
        match self {
            CancelTarget::Local(l) => Some(l.display()),
            CancelTarget::Remote(_) => None,
        }
    }
}

/// A name as an error message shows it: at most 80 characters, NUL as ␀.
fn shown(raw: &str) -> String {
    raw.chars()
        .take(80)
        .map(|c| if c == '\0' { '\u{2400}' } else { c })
        .collect()
}

impl Router {
    pub(super) fn validate_add(&self, req: &AddRequest) -> Result<ValidAdd<'_>, WnError> {
        if req.flags & !ADD_FLAGS_ALLOWED != 0 {
            return fail(
                WnError::BadValue,
                format!(
                    "unknown connection flag bits {:#x}",
                    req.flags & !ADD_FLAGS_ALLOWED
                ),
            );
        }
        let Some(remote_raw) = req.remote.as_deref() else {
            return fail(WnError::BadNetName, "no remote name was given");
        };
        let remote = RemoteName::parse(remote_raw).or_else(|e| {
            fail(
                e,
                format!(
                    "{:?} is not a valid remote name (expected \\\\server\\share or a provider URL, at most {MAX_NAME_UNITS} characters)",
                    shown(remote_raw)
                ),
            )
        })?;
        let local_raw = req.local.as_deref().unwrap_or("");
        let local = LocalName::parse(local_raw).or_else(|e| {
            let why = if e == WnError::BadDevType {
                "printers and serial devices are not supported"
            } else {
                "expected a drive letter A:-Z: or an absolute directory outside /proc, /sys and /dev"
            };
            fail(
                e,
                format!("{:?} is not a valid local name: {why}", shown(local_raw)),
            )
        })?;
        check_type(req, local.is_some())?;
        check_credentials(req)?;
        let explicit = match req.provider.as_deref() {
            None | Some("") => None,
            Some(p) => Some(self.find_provider(p)?),
        };
        if let Some(l) = &local {
            self.check_not_connected(l, &remote)?;
            if let LocalName::Path(p) = l {
                check_directory(p)?;
            }
        }
        Ok(ValidAdd {
            local,
            remote,
            explicit,
        })
    }

    /// A local name the table shows connected is taken, unless it is a
    /// dead connection to the same resource, which this add repairs (§5).
    fn check_not_connected(&self, local: &LocalName, remote: &RemoteName) -> Result<(), WnError> {
        let key = local.display();
        let Some(e) = self
            .store
            .live()?
            .into_iter()
            .find(|e| e.is_committed() && e.local == key)
        else {
            return Ok(());
        };
        let repair = e.remote.eq_ignore_ascii_case(remote.as_str()) && !self.health(&e).is_live();
        if repair {
            return Ok(());
        }
        fail(
            WnError::AlreadyConnected,
            format!("{key} is already connected to {}", e.remote),
        )
    }

    pub(super) fn validate_cancel(&self, req: &CancelRequest) -> Result<CancelTarget, WnError> {
        if req.flags & !CANCEL_FLAGS_ALLOWED != 0 {
            return fail(
                WnError::BadValue,
                format!(
                    "unknown cancel flag bits {:#x}",
                    req.flags & !CANCEL_FLAGS_ALLOWED
                ),
            );
        }
        let raw = req.name.as_str();
        if is_remote_form(raw) {
            return RemoteName::parse(raw)
                .map(CancelTarget::Remote)
                .or_else(|e| fail(e, format!("{:?} is not a valid remote name", shown(raw))));
        }
        match LocalName::parse(raw) {
            Ok(Some(l)) => Ok(CancelTarget::Local(l)),
            Ok(None) => fail(WnError::BadLocalName, "no name was given to disconnect"),
            Err(e) => fail(
                e,
                format!("{:?} is not a valid local or remote name", shown(raw)),
            ),
        }
    }
}

/// The resource type against the API and the local name (§5).
fn check_type(req: &AddRequest, has_local: bool) -> Result<(), WnError> {
    match req.r#type {
        abi::RESOURCETYPE_ANY | abi::RESOURCETYPE_DISK => {}
        abi::RESOURCETYPE_PRINT => {
            return fail(WnError::BadDevType, "printer connections are not supported");
        }
        t => {
            return fail(
                WnError::BadValue,
                format!("resource type {t} is not RESOURCETYPE_ANY, _DISK or _PRINT"),
            );
        }
    }
    if has_local && req.r#type == abi::RESOURCETYPE_ANY && req.api != AddApi::Legacy {
        return fail(
            WnError::BadValue,
            "a connection with a local name needs RESOURCETYPE_DISK",
        );
    }
    if !has_local && req.flags & abi::CONNECT_REDIRECT != 0 {
        match req.api {
            AddApi::Use if req.r#type == abi::RESOURCETYPE_DISK => {}
            AddApi::Use => {
                return fail(
                    WnError::BadValue,
                    "picking a local name needs RESOURCETYPE_DISK",
                );
            }
            _ => {
                return fail(
                    WnError::BadPointer,
                    "CONNECT_REDIRECT without a local name needs WNetUseConnection",
                );
            }
        }
    }
    Ok(())
}

/// The longest user name or password the router passes on, in bytes. No
/// protocol mpr speaks accepts more (SMB and SSH user names are far
/// shorter); a longer one is refused whole rather than cut short.
pub const MAX_CREDENTIAL_BYTES: usize = 1024;

/// The user name and password, before anything is notified: too long, or a
/// user name with a control character (a newline would split a protocol
/// line or an audit record), is refused.
fn check_credentials(req: &AddRequest) -> Result<(), WnError> {
    if let Some(user) = req.user.as_deref() {
        if user.len() > MAX_CREDENTIAL_BYTES {
            return fail(
                WnError::BadUser,
                format!(
                    "the user name is {} bytes long; at most {MAX_CREDENTIAL_BYTES} are accepted",
                    user.len()
                ),
            );
        }
        if user.chars().any(char::is_control) {
            return fail(
                WnError::BadUser,
                format!("the user name {:?} holds a control character", shown(user)),
            );
        }
    }
    if let Some(p) = &req.password
        && p.expose().len() > MAX_CREDENTIAL_BYTES
    {
        return fail(
            WnError::BadPassword,
            format!(
                "the password is {} bytes long; at most {MAX_CREDENTIAL_BYTES} are accepted",
                p.expose().len()
            ),
        );
    }
    Ok(())
}

/// A directory local name must be a directory of the user's, not a
/// symlink, and empty (§4). A missing one is created later.
fn check_directory(p: &Path) -> Result<(), WnError> {
    let bad = |why: String| fail(WnError::BadLocalName, why);
    let md = match std::fs::symlink_metadata(p) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return bad(format!("cannot inspect {}: {e}", p.display())),
    };
    if md.file_type().is_symlink() {
        return bad(format!("{} is a symbolic link", p.display()));
    }
    if !md.is_dir() {
        return bad(format!("{} is not a directory", p.display()));
    }
    let euid = rustix::process::geteuid().as_raw();
    if md.uid() != euid {
        return bad(format!(
            "{} is owned by uid {}, not by you (uid {euid})",
            p.display(),
            md.uid()
        ));
    }
    match std::fs::read_dir(p).map(|mut it| it.next().is_some()) {
        Ok(true) => bad(format!("{} is not empty", p.display())),
        Ok(false) => Ok(()),
        Err(e) => bad(format!("cannot read {}: {e}", p.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::World;
    use super::*;

    #[test]
    fn oversized_credentials_and_odd_user_names_are_refused() {
        let w = World::new();
        let mut req = AddRequest::new(AddApi::Add, Some("Z:"), r"\\h\s", 0);
        req.user = Some("u".repeat(MAX_CREDENTIAL_BYTES));
        req.password = Some(crate::plugin::Secret::new("p".repeat(MAX_CREDENTIAL_BYTES)));
        assert!(w.router.validate_add(&req).is_ok());
        req.user = Some("u".repeat(MAX_CREDENTIAL_BYTES + 1));
        assert_eq!(w.router.validate_add(&req).unwrap_err(), WnError::BadUser);
        req.user = Some("u\nx".into());
        assert_eq!(w.router.validate_add(&req).unwrap_err(), WnError::BadUser);
        req.user = Some(r"DOMAIN\üser".into());
        assert!(w.router.validate_add(&req).is_ok());
        req.password = Some(crate::plugin::Secret::new(
            "p".repeat(MAX_CREDENTIAL_BYTES + 1),
        ));
        assert_eq!(
            w.router.validate_add(&req).unwrap_err(),
            WnError::BadPassword
        );
    }

    #[test]
    fn unknown_flag_bits_are_bad_values() {
        let w = World::new();
        let mut req = AddRequest::new(AddApi::Add, Some("Z:"), r"\\h\s", 0x8000_0000);
        assert_eq!(w.router.validate_add(&req).unwrap_err(), WnError::BadValue);
        req.flags = 0;
        assert!(w.router.validate_add(&req).is_ok());
    }

    #[test]
    fn printers_are_bad_device_types_and_odd_types_bad_values() {
        let w = World::new();
        let mut req = AddRequest::new(AddApi::Add, Some("Z:"), r"\\h\s", 0);
        req.r#type = abi::RESOURCETYPE_PRINT;
        assert_eq!(
            w.router.validate_add(&req).unwrap_err(),
            WnError::BadDevType
        );
        req.r#type = 7;
        assert_eq!(w.router.validate_add(&req).unwrap_err(), WnError::BadValue);
    }

    #[test]
    fn redirect_without_a_local_name_needs_the_use_api() {
        let w = World::new();
        let req = AddRequest::new(AddApi::Add, None, r"\\h\s", abi::CONNECT_REDIRECT);
        assert_eq!(
            w.router.validate_add(&req).unwrap_err(),
            WnError::BadPointer
        );
        let req = AddRequest::new(AddApi::Use, None, r"\\h\s", abi::CONNECT_REDIRECT);
        assert!(w.router.validate_add(&req).unwrap().local.is_none());
    }

    #[test]
    fn an_unknown_provider_is_refused_before_anything_else_happens() {
        let w = World::new();
        let mut req = AddRequest::new(AddApi::Add, Some("Z:"), r"\\h\s", 0);
        req.provider = Some("nope".into());
        assert_eq!(
            w.router.validate_add(&req).unwrap_err(),
            WnError::BadProvider
        );
        req.provider = Some("MEMORY".into());
        assert!(w.router.validate_add(&req).unwrap().explicit.is_some());
    }

    #[test]
    fn cancel_names_are_local_or_remote() {
        let w = World::new();
        let t = |name: &str, flags| {
            w.router.validate_cancel(&CancelRequest {
                name: name.into(),
                flags,
                force: false,
            })
        };
        assert!(matches!(t("z:", 0), Ok(CancelTarget::Local(_))));
        assert!(matches!(t(r"\\h\s", 0), Ok(CancelTarget::Remote(_))));
        assert_eq!(t("", 0).unwrap_err(), WnError::BadLocalName);
        assert_eq!(t("Z:", 4).unwrap_err(), WnError::BadValue);
    }

    #[test]
    fn long_names_are_cut_and_nul_made_visible_in_messages() {
        assert_eq!(shown("a\0b"), "a\u{2400}b");
        assert_eq!(shown(&"x".repeat(200)).chars().count(), 80);
    }
}
