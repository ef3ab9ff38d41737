//! What a saved credential is for: a provider's scheme, a host and a port
//! ([`Target`]), written as a URL without a path (`smb://nas:4445`).

use mpr_core::names::{RemoteName, Scheme as NameScheme};
use std::fmt;
use std::str::FromStr;

/// The kind of server a credential is for, one per built-in provider
/// (WebDAV twice: over HTTP and over HTTPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// SMB (`smb://`, and the bare `\\host`), the `smb` provider.
    Smb,
    /// SFTP (`sftp://`), the `sftp` provider.
    Sftp,
    /// WebDAV over HTTP (`dav://`), the `webdav` provider.
    Dav,
    /// WebDAV over HTTPS (`davs://`), the `webdav` provider.
    Davs,
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 4] = [Scheme::Smb, Scheme::Sftp, Scheme::Dav, Scheme::Davs];

    /// The URL scheme, as in `smb://`.
    ///
    /// ```
    /// assert_eq!(mpr_cred::Scheme::Davs.as_str(), "davs");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Smb => "smb",
            Scheme::Sftp => "sftp",
            Scheme::Dav => "dav",
            Scheme::Davs => "davs",
        }
    }

    /// The port a target of this scheme has when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Smb => 445,
            Scheme::Sftp => 22,
            Scheme::Dav => 80,
            Scheme::Davs => 443,
        }
    }

    /// The key in `mpr.toml` of the built-in provider that serves it.
    pub fn provider_key(self) -> &'static str {
        match self {
            Scheme::Smb => "smb",
            Scheme::Sftp => "sftp",
            Scheme::Dav | Scheme::Davs => "webdav",
        }
    }

    /// The scheme of a URL scheme name, case-insensitively.
    fn from_url(s: &str) -> Option<Scheme> {
        Scheme::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The server a credential is for: scheme, host and port. The host is kept
/// in lower case; a port equal to the scheme's default is dropped, so that
/// `smb://NAS:445` and `smb://nas` are one target.
///
/// ```
/// use mpr_cred::{Scheme, Target};
/// let t: Target = "smb://NAS:4445".parse().unwrap();
/// assert_eq!((t.scheme(), t.host(), t.port()), (Scheme::Smb, "nas", 4445));
/// assert_eq!(t.to_string(), "smb://nas:4445");
/// assert_eq!(r"\\nas@445".parse::<Target>().unwrap().to_string(), "smb://nas");
/// assert_eq!("davs://[::1]:8443".parse::<Target>().unwrap().to_string(), "davs://[::1]:8443");
/// assert!("smb://nas/share".parse::<Target>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    scheme: Scheme,
    host: String,
    port: Option<u16>,
}

/// Why a text is not a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// Neither `SCHEME://host[:port]` with a known scheme nor `\\host[@port]`.
    Syntax,
    /// The scheme is not one of `smb`, `sftp`, `dav`, `davs`.
    UnknownScheme(String),
    /// There is a path (a share, a directory): a target is a server.
    HasPath,
    /// A user is written in the target; it belongs in `--user`.
    HasUser,
    /// The host is empty or not a plain host name or address.
    BadHost,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Syntax => f.write_str(
                "a target is smb://host[:port], sftp://host[:port], dav://host[:port], davs://host[:port] or \\\\host[@port]",
            ),
            TargetError::UnknownScheme(s) => write!(
                f,
                "{s}:// is not a scheme of saved credentials (smb, sftp, dav, davs)"
            ),
            TargetError::HasPath => {
                f.write_str("a target is a server without a path (no share, no directory)")
            }
            TargetError::HasUser => f.write_str("give the user with --user, not in the target"),
            TargetError::BadHost => f.write_str("the target's host is empty or not valid"),
        }
    }
}

impl std::error::Error for TargetError {}

/// Whether `host` is a host name or an address (no separators, no spaces).
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'))
        && !host.starts_with('-')
}

impl Target {
    /// A target; the host is lower-cased and a default port dropped.
    pub fn new(scheme: Scheme, host: &str, port: Option<u16>) -> Result<Target, TargetError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !valid_host(host) {
            return Err(TargetError::BadHost);
        }
        Ok(Target {
            scheme,
            host: host.to_lowercase(),
            port: port.filter(|p| *p != scheme.default_port()),
        })
    }

    /// The target of a connection to `remote` made by the provider with key
    /// `provider`: `None` for a provider library (saved credentials are for
    /// the built-in providers) or a name the provider would not take.
    ///
    /// ```
    /// use mpr_cred::Target;
    /// let t = |p, r| Target::for_connection(p, r).map(|t| t.to_string());
    /// assert_eq!(t("smb", r"\\NAS@4445\share\dir").as_deref(), Some("smb://nas:4445"));
    /// assert_eq!(t("webdav", r"\\nas@SSL\dav").as_deref(), Some("davs://nas"));
    /// assert_eq!(t("webdav", "dav://nas:8080/x").as_deref(), Some("dav://nas:8080"));
    /// assert_eq!(t("sftp", "sftp://bob@h/home").as_deref(), Some("sftp://h"));
    /// assert_eq!(t("acme", r"\\nas\share"), None);
    /// assert_eq!(t("smb", "sftp://h/x"), None);
    /// ```
    pub fn for_connection(provider: &str, remote: &str) -> Option<Target> {
        let parts = RemoteName::parse(remote).ok()?.parts().ok()?;
        let scheme = match (provider, &parts.scheme) {
            ("smb", NameScheme::Unc | NameScheme::Smb) => Scheme::Smb,
            ("sftp", NameScheme::Unc | NameScheme::Sftp) => Scheme::Sftp,
            ("webdav", NameScheme::Unc) if parts.ssl => Scheme::Davs,
            ("webdav", NameScheme::Unc | NameScheme::Dav) => Scheme::Dav,
            ("webdav", NameScheme::Davs) => Scheme::Davs,
            _ => return None,
        };
        Target::new(scheme, &parts.host, parts.port).ok()
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, in lower case (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (the scheme's default when none was named).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }
}

impl FromStr for Target {
    type Err = TargetError;

    /// Parses `SCHEME://host[:port]` (an optional trailing `/`) or a bare
    /// `\\host[@port]` (SMB).
    fn from_str(s: &str) -> Result<Target, TargetError> {
        if let Some(rest) = s.strip_prefix(r"\\").or_else(|| s.strip_prefix("//")) {
            let rest = rest.trim_end_matches(['\\', '/']);
            if rest.contains(['\\', '/']) {
                return Err(TargetError::HasPath);
            }
            let (host, port) = match rest.split_once('@') {
                None => (rest, None),
                Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| TargetError::Syntax)?)),
            };
            return Target::new(Scheme::Smb, host, port);
        }
        let (scheme, rest) = s.split_once("://").ok_or(TargetError::Syntax)?;
        let scheme =
            Scheme::from_url(scheme).ok_or_else(|| TargetError::UnknownScheme(scheme.into()))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(TargetError::HasPath);
        }
        if authority.contains('@') {
            return Err(TargetError::HasUser);
        }
        // `host`, `host:port`, `[v6]` or `[v6]:port`.
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, tail) = v6.split_once(']').ok_or(TargetError::BadHost)?;
                match tail {
                    "" => (h, None),
                    t => (h, Some(t.strip_prefix(':').ok_or(TargetError::Syntax)?)),
                }
            }
            None => match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| TargetError::Syntax)?),
        };
        Target::new(scheme, host, port)
    }
}

impl fmt::Display for Target {
    /// `scheme://host[:port]`, the port only when it is not the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<String, TargetError> {
        s.parse::<Target>().map(|t| t.to_string())
    }

    #[test]
    fn every_form_parses_and_prints_as_a_url() {
        assert_eq!(t("smb://h").unwrap(), "smb://h");
        assert_eq!(t("SMB://H:139/").unwrap(), "smb://h:139");
        assert_eq!(t("sftp://h:22").unwrap(), "sftp://h");
        assert_eq!(t("sftp://h:2222").unwrap(), "sftp://h:2222");
        assert_eq!(t("dav://127.0.0.1:48080").unwrap(), "dav://127.0.0.1:48080");
        assert_eq!(t("davs://h:443").unwrap(), "davs://h");
        assert_eq!(t(r"\\h").unwrap(), "smb://h");
        assert_eq!(t(r"\\h@44450").unwrap(), "smb://h:44450");
        assert_eq!(t(r"\\h\").unwrap(), "smb://h");
        assert_eq!(t("smb://[::1]:4445").unwrap(), "smb://[::1]:4445");
        assert_eq!(t("smb://[fe80::1]").unwrap(), "smb://[fe80::1]");
    }

    #[test]
    fn what_is_not_a_server_is_refused() {
        assert_eq!(t("smb://h/share"), Err(TargetError::HasPath));
        assert_eq!(t(r"\\h\share"), Err(TargetError::HasPath));
        assert_eq!(t("smb://bob@h"), Err(TargetError::HasUser));
        assert_eq!(
            t("http://h"),
            Err(TargetError::UnknownScheme("http".into()))
        );
        assert_eq!(t("h"), Err(TargetError::Syntax));
        assert_eq!(t("smb://h:x"), Err(TargetError::Syntax));
        assert_eq!(t("smb://h:70000"), Err(TargetError::Syntax));
        assert_eq!(t(r"\\h@ssl"), Err(TargetError::Syntax));
        assert_eq!(t("smb://"), Err(TargetError::BadHost));
        assert_eq!(t("smb://a b"), Err(TargetError::BadHost));
        assert_eq!(t("smb://-oProxy"), Err(TargetError::BadHost));
    }

    #[test]
    fn the_default_port_and_case_make_one_target() {
        let a: Target = "smb://NAS:445".parse().unwrap();
        let b: Target = r"\\nas".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.port(), 445);
    }
}
