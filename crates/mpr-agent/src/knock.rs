//! Whether a server answers again: a TCP connect to the port of a
//! connection's server, nothing sent. While a repair waits for its next
//! attempt, a server that starts answering again makes that attempt start
//! at once rather than at the end of its wait.

use mpr_core::names::{RemoteName, Scheme};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The address to knock at for a connection of the built-in provider
/// `provider` to `remote`: its host and its port, or the provider's
/// default port. `None` for a provider library's connection (its port is
/// unknown) or a name that does not parse.
pub fn address(provider: &str, remote: &str) -> Option<(String, u16)> {
    let parts = RemoteName::parse(remote).ok()?.parts().ok()?;
    let default = match provider {
        "sftp" => 22,
        "smb" => 445,
        "webdav" if parts.ssl || parts.scheme == Scheme::Davs => 443,
        "webdav" => 80,
        _ => return None,
    };
    Some((parts.host, parts.port.unwrap_or(default)))
}

/// Whether `host:port` accepts a TCP connection within `wait`.
pub fn answers(host: &str, port: u16, wait: Duration) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, wait).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_servers_port_or_the_providers_default() {
        assert_eq!(
            address("sftp", r"\\127.0.0.1@2222\export"),
            Some(("127.0.0.1".into(), 2222))
        );
        assert_eq!(address("smb", r"\\nas\share"), Some(("nas".into(), 445)));
        assert_eq!(address("webdav", "davs://web/x"), Some(("web".into(), 443)));
        assert_eq!(address("webdav", "dav://web/x"), Some(("web".into(), 80)));
        assert_eq!(address("acme", r"\\nas\share"), None);
    }

    #[test]
    fn a_listening_port_answers_and_a_closed_one_does_not() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(answers("127.0.0.1", port, Duration::from_secs(1)));
        // A port bound but not listening refuses, and no other process can
        // take it meanwhile (as a dropped listener's port could be).
        use rustix::net::{AddressFamily, SocketType, bind, getsockname, socket};
        let closed = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        bind(&closed, &any).unwrap();
        let addr = std::net::SocketAddr::try_from(getsockname(&closed).unwrap()).unwrap();
        assert!(!answers("127.0.0.1", addr.port(), Duration::from_secs(1)));
    }
}
