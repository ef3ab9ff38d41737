/*!
The body of `mpr-fsd`, mpr's file-system server: one process per
connection, started by a built-in provider and outliving the `mpr` command
that started it.

1. [`request`]: one handshake request is read from standard input (the
   password travels only there), with the server's log when it was
   started before `mpr` knew which connection it would serve; the only
   argument is the mount point, for `ps` to show, and must be the
   request's. A server started that early may first be asked to dial the
   server ([`serve::dial`]: a bare name's check, made on the connection
   the session will use);
2. [`serve`]: the back end for its protocol connects (authenticates, opens
   the share and the path) within the bound, the file system is mounted,
   and every step's outcome is one reply line on standard output: the exact
   `WN_*` failure, or `Ready` once the mount answers;
3. the server then lets go of both pipes and serves until the mount is
   unmounted (by `mpr use --delete`, `fusermount3 -u`) or SIGTERM/SIGINT
   arrives, keeping the health file up to date, and removes it on exit;
   [`audit`] writes what the user must find later (a conflict: changes
   not uploaded) to the router's audit journal.

The `mpr-fsd` binary (built beside `mpr`, installed in
`/usr/libexec/mpr`) is only a call to [`main`].
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod request;
pub mod serve;

use mpr_fs::handshake::Reply;
use std::io::Write;
use std::process::ExitCode;

/// The whole of `mpr-fsd`: handshake, connect, mount, serve.
pub fn main() -> ExitCode {
    // Started first: a server started ahead of its request has it ready
    // when the request comes (a refusal has been answered already).
    let rt = match serve::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mpr-fsd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    // A dial, if one comes, is answered first; then comes the request.
    let mut negotiated = None;
    let mut dialed = false;
    let (req, handed) = loop {
        let line = request::read_stdin().and_then(|line| match line {
            (request::Line::Dial(_), _) if dialed => Err(request::RequestError::Malformed(
                "a second dial came where the request was expected".into(),
            )),
            other => Ok(other),
        });
        match line {
            Ok((request::Line::Request(req), handed)) => break (*req, handed),
            Ok((request::Line::Dial(dial), handed)) => {
                dialed = true;
                let (reply, n) = serve::dial(&rt, &dial, handed.socket);
                negotiated = n;
                if send(&mut out, &reply).is_err() {
                    return ExitCode::from(2);
                }
            }
            Err(e) => {
                let reply = Reply::Failed {
                    code: e.code(),
                    message: e.to_string(),
                };
                let _ = send(&mut out, &reply);
                eprintln!("mpr-fsd: {e}");
                return ExitCode::from(2);
            }
        }
    };
    // A server started ahead of its request has had no log so far.
    if let Some(log) = handed.log.as_ref()
        && let Err(e) = rustix::stdio::dup2_stderr(log)
    {
        let reply = Reply::Failed {
            code: mpr_abi::WN_NET_ERROR,
            message: format!("cannot write to the log mpr passed: {e}"),
        };
        let _ = send(&mut out, &reply);
        return ExitCode::from(2);
    }
    // The one argument, if any, is the mount point, so that `ps` shows
    // which drive a server serves (as it does for other FUSE servers); the
    // request decides, and the two must agree.
    if let Some(shown) = std::env::args_os().nth(1)
        && std::path::Path::new(&shown) != req.mountpoint
    {
        let reply = Reply::Failed {
            code: mpr_abi::WN_BAD_VALUE,
            message: format!(
                "the mount point argument {} is not the request's {}",
                std::path::Path::new(&shown).display(),
                req.mountpoint.display()
            ),
        };
        let _ = send(&mut out, &reply);
        return ExitCode::from(2);
    }
    drop(out);
    match serve::run(req, handed.socket, negotiated, rt) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpr-fsd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes one reply line and flushes it.
pub(crate) fn send(out: &mut impl Write, reply: &Reply) -> std::io::Result<()> {
    let line = serde_json::to_string(reply).map_err(std::io::Error::other)?;
    writeln!(out, "{line}")?;
    out.flush()
}
