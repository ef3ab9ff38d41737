//! Progress for slow work: after 300 ms a spinner on standard error (only
//! when it is a terminal) says what is going on and which provider is
//! being called. [`InFlight`] learns that as an observer of the router's
//! events (a provider call starts, a provider call ends).

use mpr_core::event::{Event, Observer};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long work may take before the spinner appears.
pub const DELAY: Duration = Duration::from_millis(300);

/// The provider calls in flight: (provider key, display name).
#[derive(Debug, Default)]
pub struct InFlight {
    calls: Mutex<Vec<(String, String)>>,
}

impl InFlight {
    fn start(&self, key: &str, name: &str) {
        if let Ok(mut c) = self.calls.lock() {
            c.push((key.to_string(), name.to_string()));
        }
    }

    fn end(&self, key: &str) {
        if let Ok(mut c) = self.calls.lock()
            && let Some(i) = c.iter().position(|(k, _)| k == key)
        {
            c.remove(i);
        }
    }

    /// The providers being called, if any: `trying Acme Network`.
    fn describe(&self) -> Option<String> {
        let c = self.calls.lock().ok()?;
        let mut names: Vec<&str> = c.iter().map(|(_, n)| n.as_str()).collect();
        names.dedup();
        (!names.is_empty()).then(|| format!("trying {}", names.join(", ")))
    }
}

impl Observer for InFlight {
    fn event(&self, event: &Event) {
        match event {
            Event::ProviderStart(s) => self.start(&s.provider, &s.provider_name),
            Event::Provider(p) => self.end(&p.provider),
            _ => {}
        }
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

    use mpr_core::event::{OpKind, ProviderEvent, ProviderStartEvent};

    fn started(key: &str, name: &str) -> Event {
        Event::ProviderStart(ProviderStartEvent {
            op_id: "1".into(),
            op: OpKind::Add,
            provider: key.into(),
            provider_name: name.into(),
            target: "Z: to \\\\acme\\s".into(),
        })
    }

    fn ended(key: &str) -> Event {
        Event::Provider(ProviderEvent {
            op_id: "1".into(),
            op: OpKind::Add,
            round: Some(0),
            provider: key.into(),
            local: None,
            name: None,
            remote: None,
            force: None,
            result: 0,
            result_name: "WN_SUCCESS".into(),
            duration_us: 1,
        })
    }

    #[test]
    fn in_flight_names_the_provider_and_forgets_it() {
        let f = InFlight::default();
        assert_eq!(f.describe(), None);
        f.event(&started("acme", "Acme Network"));
        assert_eq!(f.describe().unwrap(), "trying Acme Network");
        f.event(&started("smb", "SMB"));
        assert_eq!(f.describe().unwrap(), "trying Acme Network, SMB");
        f.event(&ended("acme"));
        f.event(&ended("smb"));
        assert_eq!(f.describe(), None);
    }
}
