//! What the agent tells systemd (`Type=notify`): that it is ready, what it
//! is doing, that it stops. Without `NOTIFY_SOCKET` (not started by
//! systemd) nothing is sent.
//!
//! The datagrams go out on a thread of their own: a send blocks while the
//! receiver's queue is full, and a service manager that does not read must
//! never hold up the agent. A status that finds the queue to that thread
//! full is dropped (the next one says it again).

use sd_notify::NotifyState;
use std::sync::mpsc::{self, SyncSender};

/// One message for systemd.
enum Message {
    Ready(String),
    Status(String),
    Stopping,
}

/// The agent's line to systemd.
#[derive(Debug)]
pub struct Notifier(Option<SyncSender<Message>>);

impl Notifier {
    /// Starts the sending thread, if there is a socket to send to.
    pub fn start() -> Notifier {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Notifier(None);
        }
        let (tx, rx) = mpsc::sync_channel::<Message>(8);
        let started = std::thread::Builder::new()
            .name("mpr-agent-sd-notify".into())
            .spawn(move || {
                for m in rx {
                    let _ = match &m {
                        Message::Ready(s) => {
                            sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(s)])
                        }
                        Message::Status(s) => sd_notify::notify(&[NotifyState::Status(s)]),
                        Message::Stopping => sd_notify::notify(&[NotifyState::Stopping]),
                    };
                }
            });
        Notifier(started.ok().map(|_| tx))
    }

    fn send(&self, m: Message) {
        if let Some(tx) = &self.0 {
            let _ = tx.try_send(m);
        }
    }

    /// `READY=1`, with the first status line.
    pub fn ready(&self, status: String) {
        self.send(Message::Ready(status));
    }

    /// `STATUS=...`: what `systemctl --user status mpr-agent` shows.
    pub fn status(&self, status: String) {
        self.send(Message::Status(status));
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        self.send(Message::Stopping);
    }
}
