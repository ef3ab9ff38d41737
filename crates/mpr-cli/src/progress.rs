//! Progress for slow work: after 300 ms a spinner on standard error (only
//! when it is a terminal) says what is going on and which provider is
//! being called. The router does not report progress itself, so the
//! providers are wrapped ([`Watched`]) to note when each call starts and
//! ends.

use mpr_core::WnError;
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long work may take before the spinner appears.
pub const DELAY: Duration = Duration::from_millis(300);

/// The provider calls in flight: (display name, what it was asked).
#[derive(Debug, Default)]
pub struct InFlight {
    calls: Mutex<Vec<(String, String)>>,
}

impl InFlight {
    fn start(&self, who: &str, what: String) {
        if let Ok(mut c) = self.calls.lock() {
            c.push((who.to_string(), what));
        }
    }

    fn end(&self, who: &str) {
        if let Ok(mut c) = self.calls.lock()
            && let Some(i) = c.iter().position(|(w, _)| w == who)
        {
            c.remove(i);
        }
    }

    /// The providers being called, if any: `trying Acme Network`.
    fn describe(&self) -> Option<String> {
        let c = self.calls.lock().ok()?;
        let mut names: Vec<&str> = c.iter().map(|(w, _)| w.as_str()).collect();
        names.dedup();
        (!names.is_empty()).then(|| format!("trying {}", names.join(", ")))
    }
}

/// A provider that notes its calls in [`InFlight`] and otherwise behaves
/// exactly like the one it wraps (every method of [`NetworkProvider`] is
/// forwarded, including those with a default).
#[derive(Debug)]
pub struct Watched {
    inner: Arc<dyn NetworkProvider>,
    in_flight: Arc<InFlight>,
}

impl Watched {
    /// Wraps `inner`.
    pub fn wrap(
        inner: Arc<dyn NetworkProvider>,
        in_flight: Arc<InFlight>,
    ) -> Arc<dyn NetworkProvider> {
        Arc::new(Watched { inner, in_flight })
    }

    fn during<T>(&self, what: String, f: impl FnOnce() -> T) -> T {
        self.in_flight.start(self.inner.display_name(), what);
        let r = f();
        self.in_flight.end(self.inner.display_name());
        r
    }
}

impl NetworkProvider for Watched {
    fn key(&self) -> &str {
        self.inner.key()
    }

    fn display_name(&self) -> &str {
        self.inner.display_name()
    }

    fn connection_caps(&self) -> u32 {
        self.inner.connection_caps()
    }

    fn net_type(&self) -> u32 {
        self.inner.net_type()
    }

    fn origin(&self) -> mpr_core::plugin::Origin {
        self.inner.origin()
    }

    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        let what = match call.local {
            Some(l) => format!("{l} to {}", call.remote),
            None => call.remote.to_string(),
        };
        self.during(what, || self.inner.add_connection(call))
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        self.during(call.name.to_string(), || self.inner.cancel_connection(call))
    }

    fn get_connection(&self, local: &str, directory: Option<&Path>) -> Result<String, WnError> {
        self.during(local.to_string(), || {
            self.inner.get_connection(local, directory)
        })
    }
}

struct Shared {
    done: Mutex<bool>,
    wake: Condvar,
}

/// A spinner on standard error; stopped (and its line erased) by
/// [`Spinner::stop`] or when dropped.
pub struct Spinner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Spinner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spinner")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// Whether a spinner may be shown: standard error is a terminal (and not a
/// dumb one).
pub fn enabled() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

fn frames() -> &'static [&'static str] {
    let utf8 = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .is_some_and(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        });
    if utf8 {
        &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
    } else {
        &["|", "/", "-", "\\"]
    }
}

impl Spinner {
    /// Starts a spinner that appears after [`DELAY`] with `label` (and the
    /// provider calls in flight). Does nothing unless [`enabled`].
    pub fn start(label: String, in_flight: Arc<InFlight>) -> Spinner {
        let shared = Arc::new(Shared {
            done: Mutex::new(false),
            wake: Condvar::new(),
        });
        if !enabled() {
            return Spinner {
                shared,
                thread: None,
            };
        }
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            let frames = frames();
            let mut wait = DELAY;
            let mut i = 0usize;
            let mut drawn = false;
            loop {
                let Ok(guard) = s.done.lock() else { return };
                let Ok((guard, _)) = s.wake.wait_timeout_while(guard, wait, |done| !*done) else {
                    return;
                };
                if *guard {
                    break;
                }
                drop(guard);
                let detail = in_flight
                    .describe()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{} {label}{detail}", frames[i % frames.len()]);
                let _ = err.flush();
                drawn = true;
                i += 1;
                wait = Duration::from_millis(100);
            }
            if drawn {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            }
        });
        Spinner {
            shared,
            thread: Some(thread),
        }
    }

    /// Stops the spinner and erases its line.
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Ok(mut d) = self.shared.done.lock() {
            *d = true;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_names_the_provider_and_forgets_it() {
        let f = InFlight::default();
        assert_eq!(f.describe(), None);
        f.start("Acme Network", "Z: to \\\\acme\\s".into());
        assert_eq!(f.describe().unwrap(), "trying Acme Network");
        f.start("SMB", "Y: to \\\\b\\s".into());
        assert_eq!(f.describe().unwrap(), "trying Acme Network, SMB");
        f.end("Acme Network");
        f.end("SMB");
        assert_eq!(f.describe(), None);
    }
}
