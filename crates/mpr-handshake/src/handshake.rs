//! The exact handshake between a provider and the file-system server it
//! starts (`mpr-fsd`), over two pipes: the provider writes one
//! [`Request`] as a JSON line on the server's standard input (the password
//! travels only there: never in argv, the environment or a file), and reads
//! [`Reply`] lines from the server's standard output:
//!
//! 1. the server connects, authenticates, opens the share and checks the
//!    path (the back end's `connect`); a failure is one
//!    [`Reply::Failed`] with the exact `WN_*` code, and the server exits;
//! 2. it mounts; a failure there is [`Reply::Failed`] too;
//! 3. it answers [`Reply::Ready`] with its pid, closes both pipes and
//!    serves the mount until it is unmounted.
//!
//! `mpr use` returns only after `Ready`: no lazy mount, no separate
//! pre-check, no guessing.
//!
//! A server started ahead of its request (while a bare UNC name's checks
//! run) may first be asked to [`Dial`] the server: one `{"dial": …}` line,
//! answered by one [`Reply::Dialed`]. It opens the connection it will
//! speak on and says whether the server answered as one of its protocol
//! (for SMB: an answered NEGOTIATE), so that the check and the connect are
//! one connection to the server, not two. The request follows as before;
//! a server that was asked nothing first behaves as without it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// The protocol a mount speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SMB 2/3.
    Smb,
    /// WebDAV over HTTP or HTTPS.
    Webdav,
    /// SFTP over the system's OpenSSH.
    Sftp,
}

/// A password on its way to the server: never printed, wiped from memory
/// when dropped.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(s: String) -> Password {
        Password(Zeroizing::new(s))
    }

    /// The text, for the protocol's login.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The audit journal's sinks, as the router writes to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSinks {
    /// The journal file (`journal.jsonl`), when records go to a file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// journald's socket, when records go to the system journal.
    #[serde(default)]
    pub journald: Option<PathBuf>,
}

/// Where the server writes audit records (the router's own sinks), and
/// the names that identify the connection in them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// The sinks.
    #[serde(default)]
    pub sinks: AuditSinks,
    /// The local name of the connection (`Z:`), if it has one.
    #[serde(default)]
    pub local: Option<String>,
    /// The remote name, as the router records it.
    #[serde(default)]
    pub remote: String,
    /// The provider key (`smb`, `sftp`, `webdav`).
    #[serde(default)]
    pub provider: String,
}

/// What the provider asks for: one JSON line on the server's stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The protocol.
    pub protocol: Protocol,
    /// The server's host name or address.
    pub host: String,
    /// The port (`None`: the protocol's default).
    pub port: Option<u16>,
    /// The share (SMB), or empty.
    pub share: String,
    /// The path inside the share (or the URL path), `/`-separated.
    pub path: String,
    /// The user name (`None`: the protocol's default or guest).
    pub user: Option<String>,
    /// The domain or workgroup (SMB), if any.
    pub domain: Option<String>,
    /// The password, if any.
    pub password: Option<Password>,
    /// Where to mount.
    pub mountpoint: PathBuf,
    /// Where to publish the mount's [`crate::health::Health`].
    pub health_file: PathBuf,
    /// The bound on one operation during an outage, in seconds (default
    /// 15); also the bound on the connect.
    pub op_timeout_secs: u64,
    /// The provider's own options (e.g. a CA file, a port), as given.
    #[serde(default)]
    pub options: serde_json::Map<String, serde_json::Value>,
    /// Where events the user must find later (a conflict) are recorded
    /// (`None`: only in the server's log).
    #[serde(default)]
    pub audit: Option<Audit>,
}

/// What a server started ahead of its request may be asked first: open the
/// connection to `host:port` and say whether a server of `protocol`
/// answers there. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dial {
    /// The protocol to speak (only SMB dials; the others answer "not asked").
    pub protocol: Protocol,
    /// The server's host name or address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// How long the server may take to answer, in milliseconds.
    pub wait_ms: u64,
}

/// The line a [`Dial`] travels in: `{"dial": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialLine {
    /// The dial.
    pub dial: Dial,
}

impl DialLine {
    /// How every dial line starts, and no request line does: the server
    /// tells the two apart by it before it parses anything.
    pub const START: &'static str = r#"{"dial":"#;
}

/// What the server answers: JSON lines on its stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Mounted and serving.
    Ready {
        /// The server's pid (it outlives the provider's process).
        pid: u32,
    },
    /// The answer to a [`Dial`]; the server then waits for its request.
    Dialed {
        /// Whether a server of the dial's protocol answered (the
        /// connection is kept for the request).
        answered: bool,
        /// What happened, in words.
        message: String,
    },
    /// The connect or the mount failed; the server exits.
    Failed {
        /// The `WN_*` (or `ERROR_*`) code for the router.
        code: u32,
        /// The reason, in words (never a secret).
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_never_show_the_password_in_debug_output() {
        let r = Request {
            protocol: Protocol::Smb,
            host: "h".into(),
            port: Some(445),
            share: "s".into(),
            path: String::new(),
            user: Some("u".into()),
            domain: None,
            password: Some(Password::new("hunter2".into())),
            mountpoint: "/m".into(),
            health_file: "/h".into(),
            op_timeout_secs: 15,
            options: Default::default(),
            audit: None,
        };
        assert!(!format!("{r:?}").contains("hunter2"));
        let line = serde_json::to_string(&r).unwrap();
        let back: Request = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn replies_are_tagged_lines() {
        let line = serde_json::to_string(&Reply::Failed {
            code: 86,
            message: "bad password".into(),
        })
        .unwrap();
        assert_eq!(
            line,
            r#"{"reply":"failed","code":86,"message":"bad password"}"#
        );
    }

    #[test]
    fn a_dial_line_starts_as_no_request_does() {
        let line = serde_json::to_string(&DialLine {
            dial: Dial {
                protocol: Protocol::Smb,
                host: "h".into(),
                port: 445,
                wait_ms: 1500,
            },
        })
        .unwrap();
        assert!(line.starts_with(DialLine::START), "{line}");
        let back: DialLine = serde_json::from_str(&line).unwrap();
        assert_eq!(back.dial.port, 445);
        let r = serde_json::to_string(&Reply::Dialed {
            answered: true,
            message: "SMB 3.1.1".into(),
        })
        .unwrap();
        assert_eq!(
            r,
            r#"{"reply":"dialed","answered":true,"message":"SMB 3.1.1"}"#
        );
    }
}
