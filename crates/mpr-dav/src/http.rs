//! The HTTP side: one `reqwest` client (HTTP/1.1, keep-alive, rustls with
//! the system's roots plus an optional private CA), authentication (Basic
//! or Digest, whichever the server asks for), and the one mapping of
//! transport failures and status codes to [`FsError`]s.

use crate::staging::{Staging, Upload};
use mpr_fs::handshake::Password;
use mpr_fs::{ConnectError, FsError};
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Client, Method, Response, StatusCode, Url};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How requests are authenticated, once the server said.
#[derive(Debug, Clone)]
enum Scheme {
    /// Not known yet: the first request goes without credentials.
    Unknown,
    /// Basic (only where the server asks for it).
    Basic,
    /// Digest, with the server's last challenge (its nonce count grows
    /// with each request).
    Digest(Box<digest_auth::WwwAuthenticateHeader>),
}

/// The client and its credentials.
pub struct Http {
    client: Client,
    user: Option<String>,
    password: Option<Password>,
    scheme: Mutex<Scheme>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("user", &self.user)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

/// A request's body, kept so the request can be sent again after an
/// authentication challenge.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// Bytes in memory (a `PROPFIND`'s question, an empty file).
    Bytes(bytes::Bytes),
    /// A staging file's content, read a piece at a time as it is sent (an
    /// upload of any size without holding it in memory).
    Staged(Arc<Staging>),
    /// The body of an upload that follows a file as it is written
    /// ([`crate::early`]): it can be sent once only.
    Live(Arc<std::sync::Mutex<Option<crate::early::LiveBody>>>),
}

impl Http {
    /// A client with the system's roots, plus the certificates of
    /// `ca_file` (PEM) if given.
    pub fn new(
        user: Option<String>,
        password: Option<Password>,
        ca_file: Option<&Path>,
        connect_timeout: Duration,
    ) -> Result<Http, FsError> {
        let mut b = Client::builder()
            .http1_only()
            .use_rustls_tls()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mpr/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = read_ca_file(path).map_err(|e| {
                FsError::Connect(ConnectError::Other(format!(
                    "cannot read the ca_file {}: {e}",
                    path.display()
                )))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                FsError::Connect(ConnectError::Other(format!(
                    "the ca_file {} holds no PEM certificate: {e}",
                    path.display()
                )))
            })?;
            if certs.is_empty() {
                return Err(FsError::Connect(ConnectError::Other(format!(
                    "the ca_file {} holds no PEM certificate",
                    path.display()
                ))));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| {
            FsError::Connect(ConnectError::Other(format!(
                "cannot set up the HTTP client: {}",
                chain(&e)
            )))
        })?;
        Ok(Http {
            client,
            user,
            password,
            scheme: Mutex::new(Scheme::Unknown),
        })
    }

    /// Whether a password was given (a 401 is then a bad password).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    fn authorization(&self, method: &Method, url: &Url) -> Option<HeaderValue> {
        let user = self.user.as_deref()?;
        let pass = self.password.as_ref().map_or("", |p| p.expose());
        let mut scheme = self.scheme.lock().expect("auth lock");
        match &mut *scheme {
            Scheme::Unknown => None,
            // reqwest's basic_auth, in `send`.
            Scheme::Basic => None,
            Scheme::Digest(prompt) => {
                let uri = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_string(),
                };
                let ctx = digest_auth::AuthContext::new_with_method(
                    user,
                    pass,
                    uri,
                    Option::<&[u8]>::None,
                    digest_auth::HttpMethod(method.as_str().to_string().into()),
                );
                let answer = prompt.respond(&ctx).ok()?;
                let mut h = HeaderValue::from_str(&answer.to_header_string()).ok()?;
                h.set_sensitive(true);
                Some(h)
            }
        }
    }

    fn is_basic(&self) -> bool {
        matches!(*self.scheme.lock().expect("auth lock"), Scheme::Basic)
    }

    /// Learns the scheme from a 401's challenges; whether sending the
    /// request again may help.
    fn learn(&self, headers: &HeaderMap) -> bool {
        if self.user.is_none() {
            return false;
        }
        let mut scheme = self.scheme.lock().expect("auth lock");
        let challenges: Vec<&str> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if let Some(d) = challenges
            .iter()
            .find(|c| c.trim_start().to_ascii_lowercase().starts_with("digest"))
            && let Ok(prompt) = digest_auth::parse(d)
        {
            let retry = match &*scheme {
                Scheme::Digest(_) => prompt.stale,
                _ => true,
            };
            *scheme = Scheme::Digest(Box::new(prompt));
            return retry;
        }
        if challenges
            .iter()
            .any(|c| c.trim_start().to_ascii_lowercase().starts_with("basic"))
            && !matches!(*scheme, Scheme::Basic)
        {
            *scheme = Scheme::Basic;
            return true;
        }
        false
    }

    /// Sends a request (again once, with credentials, after a 401 that
    /// names a scheme); a transport failure is
    /// [`FsError::Disconnected`] with its reason.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response, FsError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut rb = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(auth) = self.authorization(&method, url) {
                rb = rb.header(reqwest::header::AUTHORIZATION, auth);
            } else if let (Some(user), true) = (&self.user, self.is_basic()) {
                rb = rb.basic_auth(user, self.password.as_ref().map(|p| p.expose()));
            }
            match &body {
                Body::Empty => {}
                Body::Bytes(b) => rb = rb.body(b.clone()),
                Body::Staged(s) => {
                    let upload = Upload::new(Arc::clone(s))
                        .map_err(|e| FsError::Io(format!("staging file: {e}")))?;
                    rb = rb.body(reqwest::Body::wrap(upload));
                }
                Body::Live(b) => {
                    let Some(live) = b.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                        return Err(FsError::Io(
                            "an upload that follows a file as it is written cannot be sent twice"
                                .into(),
                        ));
                    };
                    rb = rb.body(reqwest::Body::wrap(live));
                }
            }
            let resp = rb
                .send()
                .await
                .map_err(|e| transport(&e, url.host_str().unwrap_or("")))?;
            if resp.status() == StatusCode::UNAUTHORIZED && tries < 3 && self.learn(resp.headers())
            {
                continue;
            }
            return Ok(resp);
        }
    }
}

/// An error and its sources, in one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Why a request got no answer, in a few words: the innermost cause
/// ("connection refused", "operation timed out", a name that does not
/// resolve), without the URL and the layers reqwest and hyper add.
pub fn short_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_string();
    }
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => chain(e),
    }
}

/// Why a TLS handshake failed, in words, if `e` is one.
pub fn tls_failure(e: &reqwest::Error, host: &str) -> Option<String> {
    let text = chain(e);
    let why = if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
        "the server's certificate is not trusted: it was issued by an authority this machine does \
         not know (name the private CA's certificate with the ca_file option)"
            .to_string()
    } else if text.contains("NotValidForName") || text.contains("not valid for name") {
        let detail = text
            .find("certificate is only valid for")
            .map(|i| format!(" ({})", &text[i..]))
            .unwrap_or_default();
        format!("the server's certificate is not valid for the name {host}{detail}")
    } else if text.contains("Expired") {
        "the server's certificate has expired".to_string()
    } else if text.contains("NotValidYet") {
        "the server's certificate is not valid yet".to_string()
    } else if text.contains("SelfSigned") {
        "the server's certificate is self-signed (name it with the ca_file option to trust it)"
            .to_string()
    } else if text.contains("invalid peer certificate") || text.contains("InvalidCertificate") {
        format!("the server's certificate was refused: {text}")
    } else if text.contains("InvalidContentType")
        || text.contains("corrupt message")
        || text.contains("received corrupt")
    {
        "the TLS handshake failed: the server does not speak HTTPS on this port".to_string()
    } else if text.contains("tls") || text.contains("TLS") || text.contains("handshake") {
        format!("the TLS handshake failed: {text}")
    } else {
        return None;
    };
    Some(why)
}

/// A transport failure (no HTTP answer): the session is gone for the layer
/// above, which reconnects; a TLS failure is the server's identity.
fn transport(e: &reqwest::Error, host: &str) -> FsError {
    match tls_failure(e, host) {
        Some(why) => FsError::Connect(ConnectError::Identity(why)),
        None => FsError::Disconnected(short_reason(e)),
    }
}

/// The error for an HTTP status that is not a success, for a file
/// operation.
pub fn status_error(status: StatusCode, what: &str) -> FsError {
    match status.as_u16() {
        401 => FsError::Disconnected(format!("{what}: the server asks to log in again (401)")),
        403 => FsError::PermissionDenied,
        404 | 410 => FsError::NotFound,
        405 => FsError::NotSupported,
        409 => FsError::NotFound,
        412 => FsError::Conflict(format!("{what}: precondition failed (412)")),
        423 => FsError::Busy,
        507 => FsError::NoSpace,
        414 => FsError::NameTooLong,
        502..=504 => FsError::Disconnected(format!("{what}: {status}")),
        _ => FsError::Io(format!("{what}: the server answered {status}")),
    }
}

/// The largest `ca_file` read (a bundle of every public root is ~250 KiB).
const MAX_CA_FILE: u64 = 4 << 20;

/// Reads a `ca_file` without ever blocking: a FIFO, device or directory in
/// its place is refused at once instead of stalling the connection.
fn read_ca_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    let mut pem = Vec::new();
    f.take(MAX_CA_FILE + 1).read_to_end(&mut pem)?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is larger than {} MiB", MAX_CA_FILE >> 20),
        ));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> Http {
        Http::new(
            Some("Mufasa".into()),
            Some(Password::new("Circle of Life".into())),
            None,
            Duration::from_secs(1),
        )
        .unwrap()
    }

    fn challenges(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn digest_is_preferred_and_answered_for_the_method_and_path() {
        let h = http();
        let url = Url::parse("http://h/dir/a%20b?x=1").unwrap();
        assert!(
            h.authorization(&Method::GET, &url).is_none(),
            "nothing before a challenge"
        );
        assert!(h.learn(&challenges(&[
            r#"Basic realm="r""#,
            r#"Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        ])));
        let v = h
            .authorization(&Method::from_bytes(b"PROPFIND").unwrap(), &url)
            .unwrap();
        let v = v.to_str().unwrap();
        assert!(v.starts_with("Digest "), "{v}");
        assert!(v.contains(r#"username="Mufasa""#), "{v}");
        assert!(v.contains(r#"uri="/dir/a%20b?x=1""#), "{v}");
        assert!(!v.contains("Circle of Life"), "never the password itself");
        assert!(!h.is_basic());
        // The same challenge again (not stale): the password is wrong, no
        // second try.
        assert!(!h.learn(&challenges(&[
            r#"Digest realm="r", nonce="n2", qop="auth""#
        ])));
        // A stale nonce: answered again.
        assert!(h.learn(&challenges(&[
            r#"Digest realm="r", nonce="n3", qop="auth", stale=true"#
        ])));
    }

    #[test]
    fn basic_only_when_asked_and_only_once() {
        let h = http();
        assert!(h.learn(&challenges(&[r#"Basic realm="mpr-test""#])));
        assert!(h.is_basic());
        assert!(!h.learn(&challenges(&[r#"Basic realm="mpr-test""#])));
        let anonymous = Http::new(None, None, None, Duration::from_secs(1)).unwrap();
        assert!(!anonymous.learn(&challenges(&[r#"Basic realm="x""#])));
    }
}
