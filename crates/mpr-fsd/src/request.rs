//! Reading the handshake request: one JSON line on standard input, of
//! bounded size, held in memory that is wiped when dropped (it carries the
//! password).

use mpr_abi as abi;
use mpr_fs::handshake::Request;
use std::fmt;
use std::io::{BufRead, Read};
use zeroize::Zeroizing;

/// The longest request line accepted (names, paths, options and the
/// password fit many times over).
pub const MAX_REQUEST: u64 = 64 * 1024;

/// Why no request could be read.
#[derive(Debug)]
pub enum RequestError {
    /// Standard input could not be read.
    Read(std::io::Error),
    /// It ended before a whole line came (the provider died or closed it).
    Truncated,
    /// The line is longer than [`MAX_REQUEST`].
    TooLong,
    /// The line is not a request (the JSON error, which never quotes the
    /// input, so never the password).
    Malformed(String),
}

impl RequestError {
    /// The `WN_*` code of the reply.
    pub fn code(&self) -> u32 {
        match self {
            RequestError::Read(_) | RequestError::Truncated => abi::WN_NET_ERROR,
            RequestError::TooLong | RequestError::Malformed(_) => abi::WN_BAD_VALUE,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Read(e) => write!(f, "cannot read the handshake request: {e}"),
            RequestError::Truncated => {
                f.write_str("the handshake request ended before its line did")
            }
            RequestError::TooLong => {
                write!(
                    f,
                    "the handshake request is longer than {MAX_REQUEST} bytes"
                )
            }
            RequestError::Malformed(why) => write!(f, "the handshake request is malformed: {why}"),
        }
    }
}

/// Reads one request line from `input`.
pub fn read(input: &mut impl BufRead) -> Result<Request, RequestError> {
    let mut line = Zeroizing::new(String::new());
    let n = input
        .take(MAX_REQUEST + 1)
        .read_line(&mut line)
        .map_err(RequestError::Read)?;
    if n as u64 > MAX_REQUEST {
        return Err(RequestError::TooLong);
    }
    if !line.ends_with('\n') {
        return Err(RequestError::Truncated);
    }
    serde_json::from_str(&line).map_err(|e| {
        // serde_json's messages name a line and column and the expected
        // shape, never the input's text.
        RequestError::Malformed(e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_fs::handshake::{Password, Protocol};

    fn sample() -> Request {
        Request {
            protocol: Protocol::Smb,
            host: "127.0.0.1".into(),
            port: Some(44450),
            share: "public".into(),
            path: String::new(),
            user: Some("u".into()),
            domain: None,
            password: Some(Password::new("s3cret".into())),
            mountpoint: "/m".into(),
            health_file: "/h".into(),
            op_timeout_secs: 15,
            options: Default::default(),
            audit: None,
        }
    }

    #[test]
    fn a_request_line_is_read_whole() {
        let line = format!("{}\n", serde_json::to_string(&sample()).unwrap());
        let got = read(&mut line.as_bytes()).unwrap();
        assert_eq!(got, sample());
    }

    #[test]
    fn a_truncated_or_malformed_request_is_refused_without_quoting_it() {
        let line = serde_json::to_string(&sample()).unwrap();
        assert!(matches!(
            read(&mut line.as_bytes()),
            Err(RequestError::Truncated)
        ));
        let bad = line.replace("\"smb\"", "\"nfs\"") + "\n";
        let e = read(&mut bad.as_bytes()).unwrap_err();
        assert_eq!(e.code(), abi::WN_BAD_VALUE);
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn an_endless_request_is_refused_at_the_bound() {
        let long = vec![b'x'; MAX_REQUEST as usize + 10];
        assert!(matches!(
            read(&mut long.as_slice()),
            Err(RequestError::TooLong)
        ));
    }
}
