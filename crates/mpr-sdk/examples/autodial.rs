//! `autodial`: when an add fails because the network is not there, run a
//! command that brings it up (a VPN, a dial-up link: the RAS case), and ask
//! mpr to try once more.
//!
//! The command is `$MPR_AUTODIAL_COMMAND`, run with `/bin/sh -c` as the
//! caller, with the caller's environment plus:
//!
//! | variable | value |
//! |---|---|
//! | `MPR_AUTODIAL_REMOTE` | the remote name (`\\server\share`) |
//! | `MPR_AUTODIAL_SERVER` | its server (empty if none) |
//! | `MPR_AUTODIAL_LOCAL` | the local name (empty if none) |
//! | `MPR_AUTODIAL_ERROR` | the failure code (e.g. `1203`) |
//!
//! No secret is passed (a notifyee never sees a password). Its standard
//! input is `/dev/null` and its output goes to standard error. It may take
//! `$MPR_AUTODIAL_TIMEOUT_MS` (default 30 000) before it is killed. Under
//! process isolation, set the notifyee's `timeout_ms` above that.
//!
//! How it works: when the command is set, every add PRE keeps a context.
//! In the POST of a failed add whose result is a network error
//! (`ERROR_BAD_NETPATH` 53, `WN_BAD_NETNAME` 67, `WN_NO_NET_OR_BAD_PATH`
//! 1203, `WN_NO_NETWORK` 1222), and only the first time for that
//! operation, it runs the command; if the command exits 0 it answers
//! `WN_RETRY`, keeping its context, and mpr makes a new attempt (spec
//! §7.6). The POST of that attempt finds the context marked "dialled" and
//! lets the result stand. Cancels are left alone. Without the variable it
//! keeps nothing and costs nothing.
//!
//! Build: `cargo build --release -p mpr-sdk --example mpr_autodial`, then
//! register `target/release/examples/libmpr_autodial.so`.

use mpr_sdk::{AddInfo, Notifyee, Post, Pre, WnError};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The notifyee (no state: the command is read from the environment).
#[derive(Debug, Default)]
struct Autodial;

/// Per operation: whether the command already ran for it.
#[derive(Debug)]
struct Attempt {
    dialled: bool,
}

const DEFAULT_TIMEOUT_MS: u64 = 30_000;

fn command() -> Option<String> {
    std::env::var("MPR_AUTODIAL_COMMAND")
        .ok()
        .filter(|c| !c.trim().is_empty())
}

/// The failures that mean "no network (yet)".
fn is_network_error(e: WnError) -> bool {
    matches!(
        e,
        WnError::BadNetPath | WnError::BadNetName | WnError::NoNetOrBadPath | WnError::NoNetwork
    )
}

/// Runs the command; `true` if it exited 0 in time.
fn dial(cmd: &str, add: &AddInfo, error: WnError) -> bool {
    let timeout = std::env::var("MPR_AUTODIAL_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::null(), Stdio::from);
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env("MPR_AUTODIAL_REMOTE", add.remote.as_deref().unwrap_or(""))
        .env("MPR_AUTODIAL_SERVER", add.server().unwrap_or(""))
        .env("MPR_AUTODIAL_LOCAL", add.local.as_deref().unwrap_or(""))
        .env("MPR_AUTODIAL_ERROR", error.code().to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mpr autodial: cannot run /bin/sh: {e}");
            return false;
        }
    };
    let t = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return true,
            Ok(Some(status)) => {
                eprintln!("mpr autodial: the command failed ({status}); no retry");
                return false;
            }
            Ok(None) if t.elapsed() < Duration::from_millis(timeout) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("mpr autodial: the command took longer than {timeout} ms; killed");
                return false;
            }
            Err(e) => {
                eprintln!("mpr autodial: cannot wait for the command: {e}");
                return false;
            }
        }
    }
}

impl Notifyee for Autodial {
    type Context = Attempt;

    fn add_pre(&self, _add: &AddInfo, _retrying: bool) -> Pre<Attempt> {
        if command().is_some() {
            Pre::keep(Attempt { dialled: false })
        } else {
            Pre::proceed()
        }
    }

    fn add_post(
        &self,
        add: &AddInfo,
        result: Result<(), WnError>,
        mut attempt: Attempt,
    ) -> Post<Attempt> {
        let (Err(e), false, Some(cmd)) = (result, attempt.dialled, command()) else {
            return Post::Done(Ok(()));
        };
        if !is_network_error(e) {
            return Post::Done(Ok(()));
        }
        attempt.dialled = true;
        if dial(&cmd, add, e) {
            Post::Retry(attempt)
        } else {
            Post::Done(Ok(()))
        }
    }
}

mpr_sdk::export_notifyee!(Autodial);
