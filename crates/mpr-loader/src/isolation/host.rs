//! The serving side: the body of the `mpr-notifyee-host` program.
//!
//! The router starts the host with one end of a socketpair as standard
//! input and its own standard error as standard output. The host moves the
//! socket off fd 0 (a notifyee that reads standard input gets `/dev/null`,
//! and one that prints gets the caller's standard error, never the socket),
//! vets and loads the library exactly as the router would in-process
//! ([`mpr_core::trust::vet`], then [`crate::load_notifyee`]), and then
//! serves calls one at a time until the router closes the socket.
//!
//! Contexts stay here: a non-NULL `lpContext` left by PRE is stored under a
//! fresh id, the router gets the id, and the POST that brings the id back
//! gets the original pointer. An id is forgotten after its POST unless that
//! POST returned `WN_RETRY` (the router then hands it back once more).
//!
//! If the router goes away while a call is running (it was killed, or it
//! gave up at the deadline), a watchdog thread sees the socket hang up and
//! kills the host, so a hung notifyee never outlives its router.

use super::wire::{self, CallRequest, ChannelError, Op, Reply, Request};
use crate::notifyee::LoadedNotifier;
use mpr_abi as abi;
use mpr_core::plugin::{AddNotice, CancelNotice, ConnectNotifier, NotifyInfo, Phase};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs the host: the whole of `mpr-notifyee-host`'s `main`.
///
/// Exits 0 when the router closes the channel, 2 when started by hand
/// (standard input is not the router's socket), 1 on a channel error.
pub fn host_main() -> ExitCode {
    let chan = match take_channel() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("mpr-notifyee-host: {why}");
            eprintln!(
                "mpr-notifyee-host runs a notifyee library for mpr under process \
                 isolation (isolation = \"process\" in mpr.toml); mpr starts it, \
                 it is not meant to be run by hand"
            );
            return ExitCode::from(2);
        }
    };
    no_core_dumps();
    let in_call = Arc::new(AtomicBool::new(false));
    start_watchdog(&chan, Arc::clone(&in_call));
    match serve(&chan, &in_call) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpr-notifyee-host: {e}");
            ExitCode::from(1)
        }
    }
}

/// Takes the socket from fd 0 and puts `/dev/null` there instead.
fn take_channel() -> Result<UnixStream, String> {
    let stdin = std::io::stdin();
    let st = rustix::fs::fstat(stdin.as_fd()).map_err(|e| format!("standard input: {e}"))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Socket {
        return Err("standard input is not a socket".into());
    }
    let fd = stdin
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("cannot duplicate the channel: {e}"))?;
    let null = std::fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    rustix::stdio::dup2_stdin(&null).map_err(|e| format!("cannot replace standard input: {e}"))?;
    Ok(UnixStream::from(fd))
}

/// A crash is reported to the router and audited; a core file written into
/// the caller's working directory would only be litter. (A core handler
/// that is a pipe, as with systemd-coredump, is not affected.)
fn no_core_dumps() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let old = getrlimit(Resource::Core);
    let _ = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: old.maximum,
        },
    );
}

/// Kills this process if the router hangs up while a call is running.
fn start_watchdog(chan: &UnixStream, in_call: Arc<AtomicBool>) {
    let Ok(watch) = chan.try_clone() else { return };
    let spawned = std::thread::Builder::new()
        .name("mpr-host-watchdog".into())
        .spawn(move || {
            use rustix::event::{PollFd, PollFlags, poll};
            loop {
                let mut fds = [PollFd::new(&watch, PollFlags::RDHUP)];
                match poll(&mut fds, None) {
                    Ok(_) => {
                        let r = fds[0].revents();
                        if r.intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR) {
                            break;
                        }
                    }
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => return,
                }
            }
            // The router has gone. Between calls the main thread sees the
            // end of the channel and exits normally (the library's
            // destructors run); during a call nothing else would stop it.
            loop {
                if in_call.load(Ordering::SeqCst) {
                    let _ = rustix::process::kill_process(
                        rustix::process::getpid(),
                        rustix::process::Signal::KILL,
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    if let Err(e) = spawned {
        eprintln!("mpr-notifyee-host: warning: no watchdog thread: {e}");
    }
}

/// Serves the load request, then calls until the channel closes.
fn serve(chan: &UnixStream, in_call: &AtomicBool) -> Result<(), ChannelError> {
    let mut inbuf = Vec::new();
    let mut outbuf = Vec::new();
    let first = match wire::recv_frame(chan, &mut inbuf, None) {
        Ok(b) => Request::decode(b).map_err(ChannelError::Protocol)?,
        Err(ChannelError::Closed) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Request::Load { protocol, path } = first else {
        return Err(ChannelError::Protocol(
            "the first request must be Load".into(),
        ));
    };
    if protocol != wire::PROTOCOL {
        let why = format!(
            "protocol mismatch: the router speaks version {protocol}, this host {} \
             (mpr and mpr-notifyee-host come from different builds)",
            wire::PROTOCOL
        );
        Reply::LoadFailed(why).encode(&mut outbuf);
        return wire::send_frame(chan, &outbuf);
    }
    let path = Path::new(OsStr::from_bytes(&path));
    let notifier = match load(path) {
        Ok(n) => n,
        Err(reply) => {
            reply.encode(&mut outbuf);
            return wire::send_frame(chan, &outbuf);
        }
    };
    Reply::Loaded {
        protocol: wire::PROTOCOL,
        add: notifier.handles_add(),
        cancel: notifier.handles_cancel(),
    }
    .encode(&mut outbuf);
    wire::send_frame(chan, &outbuf)?;
    let mut contexts = Contexts::default();
    loop {
        let req = match wire::recv_frame(chan, &mut inbuf, None) {
            Ok(b) => Request::decode(b).map_err(ChannelError::Protocol)?,
            Err(ChannelError::Closed) => return Ok(()),
            Err(e) => return Err(e),
        };
        let reply = match req {
            Request::Call(c) => {
                in_call.store(true, Ordering::SeqCst);
                let r = call(&notifier, &mut contexts, &c);
                in_call.store(false, Ordering::SeqCst);
                r
            }
            Request::Load { .. } => Reply::Error("the library is already loaded".into()),
        };
        reply.encode(&mut outbuf);
        wire::send_frame(chan, &outbuf)?;
    }
}

/// The same two steps as an in-process load. The error crosses to the
/// router as text, a library without exports apart (it is ignored there,
/// not refused).
fn load(path: &Path) -> Result<LoadedNotifier, Reply> {
    let vetted = mpr_core::trust::vet(path).map_err(|r| Reply::LoadFailed(r.to_string()))?;
    crate::load_notifyee(vetted).map_err(|e| {
        if e.is_ignored() {
            Reply::NoExports(e.to_string())
        } else {
            Reply::LoadFailed(e.to_string())
        }
    })
}

/// The contexts notifyees left in PRE, by the id the router holds.
#[derive(Debug, Default)]
struct Contexts {
    by_id: HashMap<u32, usize>,
    last: u32,
}

impl Contexts {
    fn insert(&mut self, ptr: usize) -> u32 {
        loop {
            self.last = self.last.wrapping_add(1);
            if self.last != 0 && !self.by_id.contains_key(&self.last) {
                self.by_id.insert(self.last, ptr);
                return self.last;
            }
        }
    }
}

/// Makes one call and forms the reply.
fn call(n: &LoadedNotifier, contexts: &mut Contexts, c: &CallRequest) -> Reply {
    let ptr = match (c.post, c.context) {
        (_, 0) => 0,
        (false, _) => return Reply::Error("a PRE call carries no context".into()),
        (true, id) => match contexts.by_id.get(&id) {
            Some(&p) => p,
            None => return Reply::Error(format!("unknown context id {id}")),
        },
    };
    let mut info = NotifyInfo {
        phase: if c.post { Phase::Post } else { Phase::Pre },
        operation_status: c.status,
        context: ptr,
    };
    let [s0, s1, s2] = &c.strings;
    let owner = usize::try_from(c.owner).unwrap_or(usize::MAX);
    let r = match c.op {
        Op::Add => n.add_notify(
            &mut info,
            &AddNotice {
                owner,
                r#type: c.r#type,
                local: s0.as_deref(),
                remote: s1.as_deref().unwrap_or(""),
                provider: s2.as_deref(),
                flags: c.flags,
            },
        ),
        Op::Cancel => n.cancel_notify(
            &mut info,
            &CancelNotice {
                name: s0.as_deref().unwrap_or(""),
                provider: s1.as_deref(),
                flags: c.flags,
                force: c.force,
            },
        ),
    };
    // In-process calls never fail as such: the library is in this process.
    let status = r.unwrap_or(abi::WN_WINDOWS_ERROR);
    let context = if c.post {
        // The router keeps the id of a requester of a retry and hands it
        // back in the next round's POST; any other POST ends the context.
        if status != abi::WN_RETRY && c.context != 0 {
            contexts.by_id.remove(&c.context);
        }
        c.context
    } else if info.context != 0 {
        contexts.insert(info.context)
    } else {
        0
    };
    Reply::Returned { status, context }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_ids_are_nonzero_and_unique_across_wrap() {
        let mut c = Contexts {
            last: u32::MAX - 1,
            ..Contexts::default()
        };
        let a = c.insert(10);
        let b = c.insert(20);
        assert_eq!((a, b), (u32::MAX, 1));
        c.last = 0;
        let d = c.insert(30);
        assert_eq!(d, 2, "1 is still in use");
        assert_eq!(c.by_id.len(), 3);
    }
}
