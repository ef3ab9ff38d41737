/*!
Remote and local names (spec §4): parsing, normalisation, validation.

The router validates only what is common to every provider: a remote
name is non-empty, has no NUL, is at most [`MAX_NAME_UNITS`] UTF-16 units
and has a non-empty server part; in a UNC name, a `@port` after the
server is a number from 0 to 65535 (so that every UNC name has
[`RemoteName::unc`] parts). Everything else is the provider's.

This crate is the one place that takes a remote name apart:
[`RemoteName::parts`] gives the scheme, user, host, port and path that the
built-in providers read (they do not parse names themselves),
[`RemoteName::deviceless_segments`] the directory of a deviceless
connection, and [`server_of`] the server that a notifyee built with
`mpr-sdk` judges. It depends on `mpr-error` only, so that the SDK can use
it without linking the router; `mpr_core::names` re-exports it.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use mpr_error::WnError;
use std::path::{Component, Path, PathBuf};

/// The longest name the router accepts, in UTF-16 code units.
pub const MAX_NAME_UNITS: usize = 4096;

/// The URL schemes providers accept besides UNC names.
pub const URL_SCHEMES: &[&str] = &["sftp", "smb", "dav", "davs"];

/// The form of a remote name: UNC, or a URL of some scheme.
///
/// ```
/// use mpr_names::Scheme;
/// assert_eq!(Scheme::from_url_scheme("SFTP"), Scheme::Sftp);
/// assert_eq!(Scheme::from_url_scheme("acme"), Scheme::Other("acme".into()));
/// assert_eq!(Scheme::Davs.as_str(), "davs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `\\server[@SSL][@port]\share[\path]` (or with `/`).
    Unc,
    /// `sftp://`.
    Sftp,
    /// `smb://`.
    Smb,
    /// `dav://` (WebDAV over HTTP).
    Dav,
    /// `davs://` (WebDAV over HTTPS).
    Davs,
    /// Any other URL scheme (a provider library's), as written.
    Other(String),
}

impl Scheme {
    /// The scheme of a URL, matched case-insensitively.
    pub fn from_url_scheme(s: &str) -> Scheme {
        match s.to_ascii_lowercase().as_str() {
            "sftp" => Scheme::Sftp,
            "smb" => Scheme::Smb,
            "dav" => Scheme::Dav,
            "davs" => Scheme::Davs,
            _ => Scheme::Other(s.to_string()),
        }
    }

    /// The scheme as written in a URL (`unc` for a UNC name).
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Unc => "unc",
            Scheme::Sftp => "sftp",
            Scheme::Smb => "smb",
            Scheme::Dav => "dav",
            Scheme::Davs => "davs",
            Scheme::Other(s) => s,
        }
    }
}

/// A remote name taken apart: what the built-in providers connect to.
///
/// ```
/// use mpr_names::{RemoteName, Scheme};
/// let p = RemoteName::parse("sftp://bob@[::1]:2222/srv/data").unwrap().parts().unwrap();
/// assert_eq!(p.scheme, Scheme::Sftp);
/// assert_eq!((p.user.as_deref(), p.host.as_str(), p.port), (Some("bob"), "::1", Some(2222)));
/// assert_eq!(p.path, "/srv/data");
/// assert_eq!(p.authority(), "bob@[::1]:2222");
///
/// let p = RemoteName::parse(r"\\nas@SSL@8443\files\a").unwrap().parts().unwrap();
/// assert_eq!((p.scheme, p.host.as_str(), p.port, p.ssl), (Scheme::Unc, "nas", Some(8443), true));
/// assert_eq!(p.path, "files/a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParts {
    /// UNC or the URL scheme.
    pub scheme: Scheme,
    /// The user written before `@` in a URL's authority (a UNC name has
    /// none). `Some("")` for `sftp://@host`.
    pub user: Option<String>,
    /// The host (name or address; an IPv6 address without brackets).
    pub host: String,
    /// The port: `:PORT` in a URL, `@PORT` in a UNC name.
    pub port: Option<u16>,
    /// `@SSL` in a UNC name (the WebDAV redirector's HTTPS marker).
    pub ssl: bool,
    /// The path. For a URL: everything after the authority as written,
    /// empty or starting with `/`. For a UNC name: the share and the path
    /// below it, `/`-separated, without a leading `/` (empty for
    /// `\\server`).
    pub path: String,
}

impl RemoteParts {
    /// `[user@]host[:port]`, the host in brackets if it is an IPv6 address.
    pub fn authority(&self) -> String {
        let mut a = String::new();
        if let Some(u) = &self.user {
            a.push_str(u);
            a.push('@');
        }
        if self.host.contains(':') {
            a.push('[');
            a.push_str(&self.host);
            a.push(']');
        } else {
            a.push_str(&self.host);
        }
        if let Some(p) = self.port {
            a.push(':');
            a.push_str(&p.to_string());
        }
        a
    }

    /// The non-empty `/`-separated pieces of [`path`](Self::path).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }
}

/// A URL's authority (`[user@]host[:port]`, IPv6 hosts in brackets),
/// split but not checked.
struct Authority<'a> {
    /// Before the last `@`, if there is one.
    user: Option<&'a str>,
    /// The host, without brackets.
    host: &'a str,
    /// What follows the host: `Some("")`, or `Some(":PORT")` with the port
    /// text unchecked; `None` when an IPv6 host has no `]` or something
    /// other than `:PORT` follows it.
    tail: Option<&'a str>,
}

impl<'a> Authority<'a> {
    fn split(authority: &'a str) -> Authority<'a> {
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, tail) = if let Some(v6) = hostport.strip_prefix('[') {
            match v6.split_once(']') {
                Some((h, t)) if t.is_empty() || t.starts_with(':') => (h, Some(t)),
                Some((h, _)) => (h, None),
                None => (v6, None),
            }
        } else {
            match hostport.rfind(':') {
                Some(i) => (&hostport[..i], Some(&hostport[i..])),
                None => (hostport, Some("")),
            }
        };
        Authority { user, host, tail }
    }
}

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
    /// use mpr_names::RemoteName;
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
            let server = url_host(rest);
            if server.is_empty() {
                return Err(WnError::BadNetName);
            }
            return Ok(RemoteName {
                text: raw.to_string(),
                server: server.to_string(),
            });
        }
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

    /// The name taken apart ([`RemoteParts`]); `WN_BAD_NETNAME` when a URL's
    /// port is not a number from 0 to 65535 or something other than
    /// `:PORT` follows an IPv6 host in brackets. A UNC name always has
    /// parts.
    pub fn parts(&self) -> Result<RemoteParts, WnError> {
        if let Some(u) = self.unc() {
            let mut path = u.share;
            if !u.path.is_empty() {
                path.push('/');
                path.push_str(&u.path.replace('\\', "/"));
            }
            return Ok(RemoteParts {
                scheme: Scheme::Unc,
                user: None,
                host: u.server,
                port: u.port,
                ssl: u.ssl,
                path,
            });
        }
        let (scheme, rest) = self.text.split_once("://").ok_or(WnError::BadNetName)?;
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let Authority { user, host, tail } = Authority::split(authority);
        let port = match tail.ok_or(WnError::BadNetName)? {
            "" => None,
            t => Some(t[1..].parse::<u16>().map_err(|_| WnError::BadNetName)?),
        };
        Ok(RemoteParts {
            scheme: Scheme::from_url_scheme(scheme),
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
            ssl: false,
            path: path.to_string(),
        })
    }

    /// The path pieces, below `<runtime>/unc`, of the directory a deviceless
    /// connection to this name gets: `server[@port]` and the share for a UNC
    /// name (`@SSL` left out), every non-empty piece after `scheme://` for a
    /// URL (`.` and `..` left out).
    ///
    /// ```
    /// use mpr_names::RemoteName;
    /// let seg = |s: &str| RemoteName::parse(s).unwrap().deviceless_segments();
    /// assert_eq!(seg(r"\\srv@SSL@8443\share\a\b"), ["srv@8443", "share"]);
    /// assert_eq!(seg(r"\\srv"), ["srv"]);
    /// assert_eq!(seg("sftp://bob@h:22//home/../x"), ["bob@h:22", "home", "x"]);
    /// ```
    pub fn deviceless_segments(&self) -> Vec<String> {
        match self.unc() {
            Some(u) => {
                let server = match u.port {
                    Some(p) => format!("{}@{p}", u.server),
                    None => u.server,
                };
                let mut out = vec![server];
                if !u.share.is_empty() {
                    out.push(u.share);
                }
                out
            }
            None => {
                let rest = self.text.split_once("://").map_or("", |(_, r)| r);
                rest.split('/')
                    .filter(|p| !p.is_empty() && *p != "." && *p != "..")
                    .map(str::to_string)
                    .collect()
            }
        }
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

/// Whether `raw` is written as a remote name rather than a local one: it
/// starts with `\\` or `//` (a UNC name) or contains `://` (a URL). Says
/// nothing of its validity: [`RemoteName::parse`] does.
///
/// ```
/// use mpr_names::is_remote_form;
/// assert!(is_remote_form(r"\\srv\share") && is_remote_form("//srv") && is_remote_form("sftp://h"));
/// assert!(!is_remote_form("Z:") && !is_remote_form("/mnt/x") && !is_remote_form(r"\srv"));
/// ```
pub fn is_remote_form(raw: &str) -> bool {
    is_unc(raw) || raw.contains("://")
}

/// Whether `raw` starts as a UNC name does (`\\` or `//`).
fn is_unc(raw: &str) -> bool {
    raw.starts_with(r"\\") || raw.starts_with("//")
}

/// The host of a URL, from the text after `scheme://` (a slice of it).
fn url_host(rest: &str) -> &str {
    Authority::split(rest.split('/').next().unwrap_or("")).host
}

/// The server of a remote name, as [`RemoteName::server`] gives it but
/// borrowed from `raw`: `server` for `\\server\share`, `//server/share`
/// and `\\server@8443\dav` (the decorations dropped), the host of a URL
/// (`sftp://user@host:22/path` gives `host`, `[::1]` gives `::1`). `None`
/// when `raw` is not a valid remote name.
///
/// ```
/// use mpr_names::server_of;
/// assert_eq!(server_of("//files@SSL/share"), Some("files"));
/// assert_eq!(server_of("davs://u@[::1]:8443/x"), Some("::1"));
/// assert_eq!(server_of(r"\\files\\share"), None, "doubled separator");
/// ```
pub fn server_of(raw: &str) -> Option<&str> {
    let name = RemoteName::parse(raw).ok()?;
    match raw.split_once("://") {
        Some((_, rest)) => Some(url_host(rest)),
        // The server is the start of the text after `\\` or `//`, which
        // normalising changes only in its separators.
        None => raw.get(2..2 + name.server.len()),
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
    /// use mpr_names::LocalName;
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

    fn parts(s: &str) -> Result<RemoteParts, WnError> {
        RemoteName::parse(s)?.parts()
    }

    #[test]
    fn parts_of_every_form_the_providers_take() {
        let p = parts("sftp://bob@h.example:2222/srv/data").unwrap();
        assert_eq!(
            p,
            RemoteParts {
                scheme: Scheme::Sftp,
                user: Some("bob".into()),
                host: "h.example".into(),
                port: Some(2222),
                ssl: false,
                path: "/srv/data".into(),
            }
        );
        let p = parts(r"\\h@22022\export\sub\dir").unwrap();
        assert_eq!(
            (p.scheme, p.user, p.host.as_str(), p.port, p.path.as_str()),
            (Scheme::Unc, None, "h", Some(22022), "export/sub/dir")
        );
        let p = parts("//h/share/x/").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.path.as_str()),
            ("h", None, "share/x")
        );
        assert_eq!(parts(r"\\h").unwrap().path, "");
        let p = parts("sftp://[::1]:22/x").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", Some(22)));
        assert_eq!(parts("sftp://[::1]/x").unwrap().port, None);
        let p = parts("smb://srv:445/share/x").unwrap();
        assert_eq!(
            (p.scheme, p.host.as_str(), p.port, p.path.as_str()),
            (Scheme::Smb, "srv", Some(445), "/share/x")
        );
        assert_eq!(parts("SMB://u@srv/s").unwrap().user.as_deref(), Some("u"));
        let p = parts("dav://h:8080/files").unwrap();
        assert_eq!((p.scheme, p.port), (Scheme::Dav, Some(8080)));
        let p = parts("davs://h").unwrap();
        assert_eq!(
            (p.scheme, p.port, p.path.as_str()),
            (Scheme::Davs, None, "")
        );
        let p = parts(r"\\h@SSL@443\dir").unwrap();
        assert_eq!((p.ssl, p.port, p.path.as_str()), (true, Some(443), "dir"));
        let p = parts(r"\\h@443@ssl\dir").unwrap();
        assert_eq!((p.ssl, p.port), (true, Some(443)));
        // The last `@` ends the user; the first `/` ends the authority.
        let p = parts("sftp://a@b@h/x@y:1").unwrap();
        assert_eq!(
            (p.user.as_deref(), p.host.as_str(), p.path.as_str()),
            (Some("a@b"), "h", "/x@y:1")
        );
        assert_eq!(parts("sftp://@h/x").unwrap().user.as_deref(), Some(""));
        assert_eq!(
            parts("acme://h/x").unwrap().scheme,
            Scheme::Other("acme".into())
        );
        for bad in [
            "sftp://h:notaport/y",
            "sftp://h:/y",
            "sftp://h:65536/y",
            "dav://[::1]x/y",
            "dav://[::1/y",
        ] {
            assert_eq!(parts(bad), Err(WnError::BadNetName), "{bad:?}");
        }
    }

    #[test]
    fn authority_writes_the_parts_back() {
        for a in ["h", "bob@h:22", "[::1]:2222", "u@[fe80::1]", "a@b@h"] {
            let p = parts(&format!("dav://{a}/x")).unwrap();
            assert_eq!(p.authority(), a);
        }
        let p = parts(r"\\h@SSL@8443\s").unwrap();
        assert_eq!(p.authority(), "h:8443");
        assert_eq!(p.segments().collect::<Vec<_>>(), ["s"]);
    }

    #[test]
    fn deviceless_segments_of_both_forms() {
        let seg = |s: &str| RemoteName::parse(s).unwrap().deviceless_segments();
        assert_eq!(seg(r"\\srv@2222\share\a"), ["srv@2222", "share"]);
        assert_eq!(seg(r"\\srv@SSL\share"), ["srv", "share"]);
        assert_eq!(seg("//srv"), ["srv"]);
        assert_eq!(seg("davs://[::1]:443/./a//b/"), ["[::1]:443", "a", "b"]);
    }

    /// The router's former `directory_for` split, kept to check that
    /// [`RemoteName::deviceless_segments`] gives the same directory.
    fn old_deviceless(remote: &RemoteName) -> Vec<String> {
        match remote.unc() {
            Some(u) => {
                let server = match u.port {
                    Some(p) => format!("{}@{p}", u.server),
                    None => u.server.clone(),
                };
                let mut d = vec![server];
                if !u.share.is_empty() {
                    d.push(u.share.clone());
                }
                d
            }
            None => {
                let rest = remote.as_str().split_once("://").map_or("", |(_, r)| r);
                rest.split('/')
                    .filter(|p| !p.is_empty() && *p != "." && *p != "..")
                    .map(str::to_string)
                    .collect()
            }
        }
    }

    #[test]
    fn servers_borrowed_from_the_text() {
        for (raw, server) in [
            (r"\\srv\share", Some("srv")),
            ("//srv@2222/x/", Some("srv")),
            (r"\\srv@SSL", Some("srv")),
            ("sftp://a@b@h:22/x", Some("h")),
            ("dav://[fe80::1]/x", Some("fe80::1")),
            ("sftp://h:1:2/x", Some("h:1")),
            (r"\\h@x\s", None),
            (r"\\/srv\x", None),
            ("sftp:///x", None),
            ("Z:", None),
        ] {
            assert_eq!(server_of(raw), server, "{raw:?}");
        }
    }

    #[test]
    fn remote_forms_are_told_from_local_names() {
        for remote in [r"\\", "//", r"\\srv\s", "//srv", "sftp://h", "x://"] {
            assert!(is_remote_form(remote), "{remote:?}");
        }
        for local in ["", "Z:", "/mnt/x", r"\srv", r"/\srv", "sftp:/h"] {
            assert!(!is_remote_form(local), "{local:?}");
        }
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
        fn parts_agree_with_the_name(s in "(sftp://|smb://|dav://|davs://|\\\\\\\\|//)[a-z@:\\[\\]0-9/\\\\.]{0,24}") {
            if let Ok(r) = RemoteName::parse(&s) {
                prop_assert_eq!(r.deviceless_segments(), old_deviceless(&r));
                if let Ok(p) = r.parts() {
                    prop_assert_eq!(&p.host, r.server());
                    prop_assert_eq!(p.scheme == Scheme::Unc, r.unc().is_some());
                }
                if r.unc().is_some() {
                    prop_assert!(r.parts().is_ok());
                }
            }
        }

        #[test]
        fn url_parts_round_trip(
            scheme in "(sftp|smb|dav|davs|acme)",
            user in proptest::option::of("[a-z][a-z0-9._-]{0,8}"),
            host in "([a-z][a-z0-9.-]{0,12}|[0-9a-f]{1,4}(:[0-9a-f]{0,4}){1,4})",
            port in proptest::option::of(any::<u16>()),
            path in "(/[A-Za-z0-9._ -]{0,8}){0,3}",
        ) {
            let p = RemoteParts {
                scheme: Scheme::from_url_scheme(&scheme),
                user,
                host,
                port,
                ssl: false,
                path,
            };
            let text = format!("{scheme}://{}{}", p.authority(), p.path);
            prop_assert_eq!(parts(&text).unwrap(), p);
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
        fn server_of_agrees_with_parse(s in "(sftp://|dav://|\\\\\\\\|//|/\\\\)?[a-z@:\\[\\]0-9/\\\\.]{0,24}") {
            let parsed = RemoteName::parse(&s).ok();
            prop_assert_eq!(server_of(&s), parsed.as_ref().map(RemoteName::server));
            if parsed.is_some() {
                prop_assert!(is_remote_form(&s));
            }
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
