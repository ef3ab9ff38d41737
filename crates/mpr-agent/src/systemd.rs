//! What the agent tells systemd (`Type=notify`): that it is ready, what it
//! is doing, that it stops. Without `NOTIFY_SOCKET` (not started by
//! systemd) nothing is sent.

use sd_notify::NotifyState;

/// `READY=1`, with the first status line.
pub fn ready(status: &str) {
    let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `STATUS=...`: what `systemctl --user status mpr-agent` shows.
pub fn status(status: &str) {
    let _ = sd_notify::notify(&[NotifyState::Status(status)]);
}

/// `STOPPING=1`.
pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}
