//! Remote and local names (spec §4): parsing, normalisation, validation.
//!
//! The router validates only what is common to every provider: a remote
//! name is non-empty, has no NUL, is at most [`MAX_NAME_UNITS`] UTF-16 units
//! and has a non-empty server part; in a UNC name, a `@port` after the
//! server is a number from 0 to 65535 (so that every UNC name has
//! [`RemoteName::unc`] parts). Everything else is the provider's.

use crate::WnError;
use std::path::{Component, Path, PathBuf};

/// The longest name the router accepts, in UTF-16 code units.
pub const MAX_NAME_UNITS: usize = 4096;

/// The URL schemes providers accept besides UNC names.
pub const URL_SCHEMES: &[&str] = &["sftp", "smb", "dav", "davs"];

/// A validated remote name, normalised (`//s/x` becomes `\\s\x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteName {
    text: String,
    server: String,
}

/// The parts of a UNC name `\\server[@port]\share[\path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncParts {
    /// The server (host name or address), without the port.
    pub server: String,
    /// The port written as `@PORT`, if any.
    pub port: Option<u16>,
    /// Whether `@SSL` was written (the WebDAV redirector's HTTPS marker).
    pub ssl: bool,
    /// The share, possibly empty (`\\server`).
    pub share: String,
    /// The path below the share, without leading separator, possibly empty.
    pub path: String,
}

impl RemoteName {
    /// Parses and validates a remote name.
    ///
    /// ```
    /// use mpr_core::names::RemoteName;
    /// let r = RemoteName::parse("//srv/share/dir").unwrap();
    /// assert_eq!(r.as_str(), r"\\srv\share\dir");
    /// assert_eq!(r.server(), "srv");
    /// assert!(RemoteName::parse("").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<RemoteName, WnError> {
        if raw.is_empty() || raw.contains('\0') || utf16_len(raw) > MAX_NAME_UNITS {
            return Err(WnError::BadNetName);
        }
        if let Some((scheme, rest)) = raw.split_once("://") {
            if scheme.is_empty()
                || !scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Err(WnError::BadNetName);
            }
            let authority = rest.split('/').next().unwrap_or("");
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let server = strip_port(host);
            if server.is_empty() {
                return Err(WnError::BadNetName);
            }
            return Ok(RemoteName {
                text: raw.to_string(),
                server: server.to_string(),
            });
        }
        let is_unc = |s: &str| s.starts_with(r"\\") || s.starts_with("//");
        if !is_unc(raw) {
            return Err(WnError::BadNetName);
        }
        let body = raw[2..].replace('/', "\\");
        let body = body.trim_end_matches('\\');
        let server_part = body.split('\\').next().unwrap_or("");
        // A port that `unc` cannot read would leave a UNC name without UNC
        // parts (found by the `names` fuzz target).
        let bad_port = server_decorations(server_part).is_none();
        let server = server_part.split('@').next().unwrap_or("");
        if server.is_empty() || bad_port || body.contains(r"\\") {
            return Err(WnError::BadNetName);
        }
        Ok(RemoteName {
            text: format!(r"\\{body}"),
            server: server.to_string(),
        })
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The server part.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The URL scheme, if this is a URL form.
    pub fn scheme(&self) -> Option<&str> {
        self.text.split_once("://").map(|(s, _)| s)
    }

    /// The UNC parts, if this is a UNC name (not a URL).
    pub fn unc(&self) -> Option<UncParts> {
        let body = self.text.strip_prefix(r"\\")?;
        let mut it = body.splitn(3, '\\');
        let server_part = it.next()?;
        let server = server_part.split('@').next().unwrap_or("");
        let (ssl, port) = server_decorations(server_part)?;
        Some(UncParts {
            server: server.to_string(),
            port,
            ssl,
            share: it.next().unwrap_or("").to_string(),
            path: it.next().unwrap_or("").to_string(),
        })
    }
}

/// The `@SSL` and `@PORT` decorations after a UNC server name (the WebDAV
/// redirector's forms, in either order, each at most once); `None` if
/// anything else follows an `@`.
fn server_decorations(server_part: &str) -> Option<(bool, Option<u16>)> {
    let (mut ssl, mut port) = (false, None);
    for d in server_part.split('@').skip(1) {
        if d.eq_ignore_ascii_case("SSL") && !ssl {
            ssl = true;
        } else if port.is_none() {
            port = Some(d.parse::<u16>().ok()?);
        } else {
            return None;
        }
    }
    Some((ssl, port))
}

fn strip_port(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// The number of UTF-16 code units of `s`.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// A validated local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LocalName {
    /// A drive letter `A:`–`Z:`, upper-cased.
    Drive(char),
    /// An absolute directory path, lexically normalised.
    Path(PathBuf),
}

impl LocalName {
    /// Parses a local name; `None` for an empty name (deviceless).
    ///
    /// ```
    /// use mpr_core::names::LocalName;
    /// assert_eq!(LocalName::parse("z:").unwrap(), Some(LocalName::Drive('Z')));
    /// assert_eq!(LocalName::parse("").unwrap(), None);
    /// assert!(LocalName::parse("LPT1").is_err());
    /// assert!(LocalName::parse("/proc/x").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Option<LocalName>, WnError> {
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.contains('\0') || utf16_len(raw) > MAX_NAME_UNITS {
            return Err(WnError::BadLocalName);
        }
        let b = raw.as_bytes();
        if b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            return Ok(Some(LocalName::Drive(b[0].to_ascii_uppercase() as char)));
        }
        if is_print_device(raw) {
            return Err(WnError::BadDevType);
        }
        if !raw.starts_with('/') {
            return Err(WnError::BadLocalName);
        }
        let mut out = PathBuf::from("/");
        for c in Path::new(raw).components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(n) => out.push(n),
                Component::ParentDir | Component::Prefix(_) => return Err(WnError::BadLocalName),
            }
        }
        if out == Path::new("/") {
            return Err(WnError::BadLocalName);
        }
        for forbidden in ["/proc", "/sys", "/dev"] {
            if out.starts_with(forbidden) {
                return Err(WnError::BadLocalName);
            }
        }
        Ok(Some(LocalName::Path(out)))
    }

    /// The name as providers and users see it: `Z:` or the path.
    pub fn display(&self) -> String {
        match self {
            LocalName::Drive(c) => format!("{c}:"),
            LocalName::Path(p) => p.display().to_string(),
        }
    }

    /// The directory this name stands for, given the drives directory.
    pub fn directory(&self, drives_dir: &Path) -> PathBuf {
        match self {
            LocalName::Drive(c) => drives_dir.join(c.to_string()),
            LocalName::Path(p) => p.clone(),
        }
    }
}

/// `LPTn`, `COMn` and `PRN` name print (or serial) devices.
fn is_print_device(raw: &str) -> bool {
    let up = raw.trim_end_matches(':').to_ascii_uppercase();
    if up == "PRN" {
        return true;
    }
    ["LPT", "COM"].iter().any(|p| {
        up.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|d| d.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unc_forms() {
        let r = RemoteName::parse(r"\\host@2222\share\a\b\").unwrap();
        assert_eq!(r.as_str(), r"\\host@2222\share\a\b");
        let u = r.unc().unwrap();
        assert_eq!(
            (u.server.as_str(), u.port, u.share.as_str(), u.path.as_str()),
            ("host", Some(2222), "share", r"a\b")
        );
        assert_eq!(RemoteName::parse("//h/s").unwrap().as_str(), r"\\h\s");
        assert_eq!(RemoteName::parse(r"\\h").unwrap().unc().unwrap().share, "");
    }

    #[test]
    fn rejects_bad_remote_names() {
        for bad in [
            "",
            r"\\",
            r"\\\share",
            "//",
            "share",
            "C:",
            "a\0b",
            r"\\@22\x",
            "sftp:///x",
            "://h/x",
            r"\\h\\x",
            r"\\h@\s",
            r"\\h@x\s",
            r"\\h@65536\s",
            r"\\h@1@2\s",
            r"\\h@SSL@SSL\s",
            "//host@222\u{fffd}re/dir/",
        ] {
            assert_eq!(RemoteName::parse(bad), Err(WnError::BadNetName), "{bad:?}");
        }
        let long = format!(r"\\h\{}", "x".repeat(MAX_NAME_UNITS));
        assert_eq!(RemoteName::parse(&long), Err(WnError::BadNetName));
    }

    #[test]
    fn url_forms() {
        let r = RemoteName::parse("sftp://bob@host:22/home/bob").unwrap();
        assert_eq!((r.server(), r.scheme()), ("host", Some("sftp")));
        assert_eq!(
            RemoteName::parse("davs://[::1]:443/x").unwrap().server(),
            "::1"
        );
        assert!(r.unc().is_none());
    }

    #[test]
    fn local_names() {
        assert_eq!(
            LocalName::parse("/mnt//x/./y/").unwrap(),
            Some(LocalName::Path("/mnt/x/y".into()))
        );
        assert_eq!(LocalName::parse("LPT1"), Err(WnError::BadDevType));
        assert_eq!(LocalName::parse("lpt3:"), Err(WnError::BadDevType));
        assert_eq!(LocalName::parse("PRN"), Err(WnError::BadDevType));
        for bad in [
            "Z",
            "ZZ:",
            "1:",
            "relative/dir",
            "/",
            "/a/../b",
            "/sys/x",
            "/dev",
            "Z:\\",
        ] {
            assert_eq!(LocalName::parse(bad), Err(WnError::BadLocalName), "{bad:?}");
        }
        assert_eq!(
            LocalName::Drive('Q').directory(Path::new("/n")),
            PathBuf::from("/n/Q")
        );
    }

    proptest! {
        #[test]
        fn remote_parse_never_panics_and_is_idempotent(s in ".{0,64}") {
            if let Ok(r) = RemoteName::parse(&s) {
                let again = RemoteName::parse(r.as_str()).unwrap();
                prop_assert_eq!(&again, &r);
                prop_assert!(!r.server().is_empty());
                prop_assert_eq!(r.scheme().is_none(), r.unc().is_some());
            }
        }

        #[test]
        fn unc_round_trip(server in "[a-z0-9.-]{1,20}", share in "[A-Za-z0-9$_]{1,12}", port in proptest::option::of(1u16..)) {
            let text = match port { Some(p) => format!(r"\\{server}@{p}\{share}"), None => format!(r"\\{server}\{share}") };
            let u = RemoteName::parse(&text).unwrap().unc().unwrap();
            prop_assert_eq!(u.server, server);
            prop_assert_eq!(u.port, port);
            prop_assert_eq!(u.share, share);
        }

        #[test]
        fn local_parse_never_panics(s in ".{0,64}") {
            if let Ok(Some(l)) = LocalName::parse(&s) {
                let again = LocalName::parse(&l.display()).unwrap();
                prop_assert_eq!(again, Some(l));
            }
        }

        #[test]
        fn drive_letters_normalise(c in "[a-zA-Z]") {
            let l = LocalName::parse(&format!("{c}:")).unwrap().unwrap();
            prop_assert_eq!(l.display(), format!("{}:", c.to_ascii_uppercase()));
        }
    }
}
