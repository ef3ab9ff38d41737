//! A quick "is this server of my kind?" check for bare UNC names, which any
//! provider may be asked about: connect, optionally say hello, and read the
//! first bytes of the answer within a short wait.

use std::io::{Read, Write};
use std::net::ToSocketAddrs;
use std::time::Duration;

/// How long a bare UNC name waits for a greeting before it is "not mine".
pub const WAIT: Duration = Duration::from_millis(1500);

/// Connects to `host:port`, writes `hello` if any, and checks that the
/// answer starts with `expect`. The error says why not, for the message.
pub fn greeting(
    host: &str,
    port: u16,
    wait: Duration,
    hello: Option<&[u8]>,
    expect: &[u8],
) -> Result<(), String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no address".to_string())?;
    let mut conn = std::net::TcpStream::connect_timeout(&addr, wait).map_err(|e| e.to_string())?;
    let _ = conn.set_read_timeout(Some(wait));
    if let Some(h) = hello {
        conn.write_all(h).map_err(|e| e.to_string())?;
    }
    let mut buf = vec![0u8; expect.len()];
    match conn.read_exact(&mut buf) {
        Ok(()) if buf == expect => Ok(()),
        Ok(()) => Err("it answers in another protocol".into()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!(
                "no greeting within {} ms: timed out",
                wait.as_millis()
            ))
        }
        Err(e) => Err(format!("no greeting ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_greeting_and_refuses_silence() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut a, _) = l.accept().unwrap();
            a.write_all(b"SSH-2.0-test\r\n").unwrap();
            let (_b, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        assert_eq!(greeting("127.0.0.1", port, WAIT, None, b"SSH-"), Ok(()));
        let e = greeting("127.0.0.1", port, Duration::from_millis(100), None, b"SSH-").unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        t.join().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(greeting("127.0.0.1", closed, WAIT, None, b"SSH-").is_err());
    }
}
