//! The agent's loop: one thread that decides, and short-lived threads that
//! do what may take long (a restore attempt, a look at the connections, a
//! knock at a server) and report back on a channel. The deciding thread
//! never waits on a mount, a provider or a server, so a hung mount holds up
//! only the thread that asked it.

use crate::backoff::Backoff;
use crate::knock;
use crate::netlink;
use crate::systemd::Notifier;
use mpr_core::WnError;
use mpr_core::event::{Event, RepairEvent, Status};
use mpr_core::repairs::{AgentId, Repair};
use mpr_core::router::{ConnState, ConnectionStatus, RestoreResult, Router};
use mpr_core::state::{Remembered, ensure_private_dir};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How the agent paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How often the connections are looked at when the network does not
    /// change (5 s).
    pub interval: Duration,
    /// The wait between attempts to repair one connection.
    pub backoff: Backoff,
    /// How long a knock at a server waits for its port to accept (1 s).
    pub knock_wait: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            interval: Duration::from_secs(5),
            backoff: Backoff::default(),
            knock_wait: Duration::from_secs(1),
        }
    }
}

/// Why the agent cannot run.
#[derive(Debug)]
pub enum AgentError {
    /// Another agent of this user runs already (it holds the lock).
    AlreadyRunning {
        /// The lock file.
        lock: PathBuf,
    },
    /// A file of the agent's could not be made or read.
    Io {
        /// What was being done, with the path.
        what: String,
        /// The failure.
        error: std::io::Error,
    },
    /// The state (remembered connections) could not be read.
    State {
        /// The router's code.
        code: WnError,
        /// Its detail.
        detail: String,
    },
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::AlreadyRunning { lock } => write!(
                f,
                "another mpr agent of yours runs already (it holds {})",
                lock.display()
            ),
            AgentError::Io { what, error } => write!(f, "cannot {what}: {error}"),
            AgentError::State { detail, .. } => f.write_str(detail),
        }
    }
}

impl std::error::Error for AgentError {}

/// What wakes the deciding thread.
enum Wake {
    /// The network changed (netlink).
    Network,
    /// Stop (a signal).
    Stop,
    /// A look at the connections ended.
    Checked(Checked),
    /// A restore attempt ended.
    Attempted(Attempted),
}

/// What a look at the connections found.
struct Checked {
    /// The connections as the providers see them, and the remembered
    /// ones; or why they could not be read.
    found: Result<(Vec<ConnectionStatus>, Vec<Remembered>), String>,
    /// For repairs waiting: whether their server answers.
    knocks: Vec<(String, bool)>,
    /// Whether a network change asked for it.
    network: bool,
}

/// How an attempt ended.
struct Attempted {
    local: String,
    results: Result<Vec<RestoreResult>, WnError>,
    took: Duration,
    /// After a failure: whether the server's port answered.
    server_answers: Option<bool>,
}

/// Stops a running agent from another thread (a signal handler's).
#[derive(Debug, Clone)]
pub struct Stopper(Sender<Wake>);

impl Stopper {
    /// Asks the agent to stop: it removes its record and returns.
    pub fn stop(&self) {
        let _ = self.0.send(Wake::Stop);
    }
}

impl fmt::Debug for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wake::Network => "Network",
            Wake::Stop => "Stop",
            Wake::Checked(_) => "Checked",
            Wake::Attempted(_) => "Attempted",
        })
    }
}

/// A remembered connection the agent is making again.
#[derive(Debug)]
struct Slot {
    entry: Remembered,
    /// Why it needed repairing: what the agent saw, or that the agent
    /// started (the journal's `reason`).
    cause: String,
    /// Why it is not connected now: the cause, then the failure of the
    /// last attempt (what the listing shows).
    reason: String,
    /// Failed attempts in a row.
    failures: u32,
    /// When the next attempt may start.
    due: Instant,
    /// The same, in seconds since the epoch (for the record).
    next_attempt: Option<u64>,
    /// An attempt runs.
    running: bool,
    /// A restore at the agent's start that has not failed yet (its
    /// success is a restore, not a repair).
    at_login: bool,
    /// Whether the server's port did not answer after the last failure.
    server_down: Option<bool>,
    /// When the last attempt ended.
    last_end: Option<Instant>,
}

/// The agent of one user: restores the remembered connections, watches
/// every live one, and repairs the remembered ones that die.
#[derive(Debug)]
pub struct Agent {
    router: Arc<Router>,
    options: Options,
    me: AgentId,
    tx: Sender<Wake>,
    rx: Receiver<Wake>,
    slots: BTreeMap<String, Slot>,
    /// Connections seen live at the last look.
    live: usize,
    /// Looks taken.
    checks: u64,
    /// What systemd is told.
    notifier: Notifier,
    /// Holds `<runtime dir>/agent.lock` for the agent's life.
    _lock: File,
}

/// How long a look may run before the agent starts another one anyway
/// (every probe in it has its own bound of a few seconds).
const LOOK_GIVEN_UP: Duration = Duration::from_secs(30);

/// The shortest time between the end of an attempt and one that a network
/// change starts early.
const NETWORK_RETRY_GAP: Duration = Duration::from_secs(1);

/// Seconds since the epoch.
fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Microseconds in `d`.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Agent {
    /// Becomes the user's agent: takes the lock in the runtime directory
    /// (one agent per user and runtime directory).
    pub fn new(router: Router, options: Options) -> Result<Agent, AgentError> {
        let me = AgentId::current().ok_or_else(|| AgentError::Io {
            what: "read /proc/self/stat".into(),
            error: std::io::Error::other("no start time"),
        })?;
        let dir = router.store().runtime_dir().to_path_buf();
        let lock = dir.join("agent.lock");
        let io = |what: String| move |error| AgentError::Io { what, error };
        ensure_private_dir(&dir).map_err(io(format!("create {}", dir.display())))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock)
            .map_err(io(format!("open {}", lock.display())))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(AgentError::AlreadyRunning { lock }),
            Err(e) => return Err(io(format!("lock {}", lock.display()))(e.into())),
        }
        let (tx, rx) = mpsc::channel();
        Ok(Agent {
            router: Arc::new(router),
            options,
            me,
            tx,
            rx,
            slots: BTreeMap::new(),
            live: 0,
            checks: 0,
            notifier: Notifier::start(),
            _lock: file,
        })
    }

    /// A handle that stops [`Agent::run`] from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.tx.clone())
    }

    /// Runs until stopped: starts restoring every remembered connection
    /// (in parallel, in the background), tells systemd it is ready, then
    /// looks at the connections every [`Options::interval`] and at once
    /// after a network change, and repairs the remembered ones that die.
    pub fn run(mut self) -> Result<(), AgentError> {
        let net = self.tx.clone();
        if let Err(e) = netlink::watch(move || {
            let _ = net.send(Wake::Network);
        }) {
            eprintln!(
                "mpr agent: warning: no network change events ({e}); looking every {} s only",
                self.options.interval.as_secs()
            );
        }
        let remembered = self
            .router
            .store()
            .remembered()
            .map_err(|code| AgentError::State {
                code,
                detail: mpr_core::lasterror::get().map_or_else(|| code.to_string(), |d| d.text),
            })?;
        let now = Instant::now();
        for entry in remembered {
            self.slots.insert(
                entry.local.clone(),
                Slot {
                    entry,
                    cause: "restoring it as the agent starts".into(),
                    reason: "being restored as the agent starts".into(),
                    failures: 0,
                    due: now,
                    next_attempt: None,
                    running: false,
                    at_login: true,
                    server_down: None,
                    last_end: None,
                },
            );
        }
        self.dispatch();
        self.notifier.ready(self.status_line(false));
        let mut next_check = Instant::now();
        let mut checking = false;
        let mut look_started = Instant::now();
        let mut look_again = false;
        loop {
            let now = Instant::now();
            if checking && now.duration_since(look_started) > LOOK_GIVEN_UP {
                // Its thread hangs somewhere no bound reaches: look again
                // without it (its answer, if it ever comes, is taken too).
                eprintln!(
                    "mpr agent: warning: a look at the connections has not ended for {} s",
                    LOOK_GIVEN_UP.as_secs()
                );
                checking = false;
            }
            if !checking && now >= next_check {
                self.look(false);
                checking = true;
                look_started = now;
                next_check = now + self.options.interval;
            }
            // While a look runs, the next one waits for it (or for it to
            // be given up); the wait never ends in the past (no spinning).
            let mut until = if checking {
                look_started + LOOK_GIVEN_UP
            } else {
                next_check
            };
            for s in self.slots.values().filter(|s| !s.running) {
                until = until.min(s.due);
            }
            let until = until.max(now);
            let wake = match self.rx.recv_timeout(until.saturating_duration_since(now)) {
                Ok(w) => w,
                Err(RecvTimeoutError::Timeout) => {
                    self.dispatch();
                    continue;
                }
                // The agent holds a sender itself.
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match wake {
                Wake::Stop => break,
                Wake::Network => {
                    // Whatever waits for its next attempt tries now, but
                    // not more than once a second (a host whose routes
                    // change all the time must not undo the backoff).
                    let now = Instant::now();
                    for s in self.slots.values_mut().filter(|s| !s.running) {
                        let soonest = s.last_end.map_or(now, |t| t + NETWORK_RETRY_GAP);
                        s.due = s.due.min(soonest.max(now));
                    }
                    self.dispatch();
                    if checking {
                        look_again = true;
                    } else {
                        self.look(true);
                        checking = true;
                        look_started = now;
                        next_check = now + self.options.interval;
                    }
                }
                Wake::Checked(c) => {
                    checking = false;
                    self.checked(c);
                    if look_again {
                        look_again = false;
                        self.look(true);
                        checking = true;
                        look_started = Instant::now();
                        next_check = look_started + self.options.interval;
                    }
                }
                Wake::Attempted(a) => self.attempted(a),
            }
            self.dispatch();
        }
        self.notifier.stopping();
        self.router.store().clear_repairs(&self.me);
        Ok(())
    }

    /// Starts an attempt for every slot whose time has come.
    fn dispatch(&mut self) {
        let now = Instant::now();
        let mut started = false;
        for s in self.slots.values_mut() {
            if s.running || s.due > now {
                continue;
            }
            s.running = true;
            s.next_attempt = None;
            started = true;
            let router = self.router.clone();
            let tx = self.tx.clone();
            let local = s.entry.local.clone();
            let address = knock::address(&s.entry.provider, &s.entry.remote);
            let wait = self.options.knock_wait;
            std::thread::spawn(move || {
                let t = Instant::now();
                let results = router.restore(Some(&local));
                let took = t.elapsed();
                let failed = !matches!(&results, Ok(v) if v.iter().all(|r| r.result.is_ok()));
                let server_answers = match (failed, address) {
                    (true, Some((host, port))) => Some(knock::answers(&host, port, wait)),
                    _ => None,
                };
                let _ = tx.send(Wake::Attempted(Attempted {
                    local,
                    results,
                    took,
                    server_answers,
                }));
            });
        }
        if started {
            self.write_record();
        }
    }

    /// Looks at the connections on a thread of its own (a hung mount
    /// holds up that thread only), knocking meanwhile at the servers of
    /// the repairs that wait.
    fn look(&self, network: bool) {
        let router = self.router.clone();
        let tx = self.tx.clone();
        let wait = self.options.knock_wait;
        let to_knock: Vec<(String, String, u16)> = self
            .slots
            .values()
            .filter(|s| !s.running && s.failures > 0)
            .filter_map(|s| {
                let (host, port) = knock::address(&s.entry.provider, &s.entry.remote)?;
                Some((s.entry.local.clone(), host, port))
            })
            .collect();
        std::thread::spawn(move || {
            let (rows, knocks) = std::thread::scope(|sc| {
                let knocking: Vec<_> = to_knock
                    .iter()
                    .map(|(local, host, port)| {
                        sc.spawn(move || (local.clone(), knock::answers(host, *port, wait)))
                    })
                    .collect();
                let rows = router.probe_connections();
                let knocks: Vec<(String, bool)> =
                    knocking.into_iter().filter_map(|k| k.join().ok()).collect();
                (rows, knocks)
            });
            // The detail of a failure is this thread's last error.
            let found = rows
                .and_then(|r| Ok((r, router.store().remembered()?)))
                .map_err(|e| mpr_core::lasterror::get().map_or_else(|| e.to_string(), |d| d.text));
            let _ = tx.send(Wake::Checked(Checked {
                found,
                knocks,
                network,
            }));
        });
    }

    /// Takes in what a look found: new deaths become repairs; repairs
    /// whose connection is back (made by someone else) or no longer
    /// remembered end; a waiting repair whose server answers again tries
    /// at once.
    fn checked(&mut self, c: Checked) {
        self.checks += 1;
        let (rows, remembered) = match c.found {
            Ok(found) => found,
            Err(detail) => {
                eprintln!("mpr agent: warning: cannot read the connections: {detail}");
                return;
            }
        };
        let now = Instant::now();
        let before = self.record();
        self.live = rows
            .iter()
            .filter(|r| r.status != ConnState::Remembered)
            .count();
        for row in &rows {
            let slot = self.slots.get(&row.local);
            match row.status {
                ConnState::Unavailable if !row.local.is_empty() && slot.is_none() => {
                    let Some(entry) = remembered.iter().find(|r| {
                        r.local == row.local && r.remote.eq_ignore_ascii_case(&row.remote)
                    }) else {
                        // Not remembered: nothing to make it again from.
                        continue;
                    };
                    let cause = row
                        .reason
                        .clone()
                        .unwrap_or_else(|| "its provider says it is gone".into());
                    self.slots.insert(
                        row.local.clone(),
                        Slot {
                            entry: entry.clone(),
                            reason: cause.clone(),
                            cause,
                            failures: 0,
                            due: now,
                            next_attempt: None,
                            running: false,
                            at_login: false,
                            server_down: None,
                            last_end: None,
                        },
                    );
                }
                ConnState::Ok if slot.is_some_and(|s| !s.running) => {
                    self.slots.remove(&row.local);
                }
                _ => {}
            }
        }
        self.slots
            .retain(|local, s| s.running || remembered.iter().any(|r| &r.local == local));
        for (local, answers) in c.knocks {
            if let Some(s) = self.slots.get_mut(&local).filter(|s| !s.running) {
                if answers && s.server_down == Some(true) {
                    s.due = now;
                }
                s.server_down = Some(!answers);
            }
        }
        if self.record() != before {
            self.write_record();
        }
        self.notifier.status(self.status_line(c.network));
    }

    /// Takes in the end of an attempt: a success ends the repair (and is
    /// journalled as one, unless it was a plain restore at the start); a
    /// failure is journalled with its reason and waits for the next
    /// attempt.
    fn attempted(&mut self, a: Attempted) {
        let Some(slot) = self.slots.get_mut(&a.local) else {
            return;
        };
        slot.running = false;
        slot.last_end = Some(Instant::now());
        let r = match a.results {
            Ok(mut v) if !v.is_empty() => v.remove(0),
            // No longer remembered (forgotten meanwhile): nothing to do.
            _ => {
                self.slots.remove(&a.local);
                self.write_record();
                return;
            }
        };
        let attempt = slot.failures + 1;
        let status = Status::of(&r.result);
        let mut event = RepairEvent {
            op_id: r.op_id.clone(),
            local: r.entry.local.clone(),
            remote: r.entry.remote.clone(),
            provider: r.entry.provider.clone(),
            reason: slot.cause.clone(),
            attempt,
            result: status.0,
            result_name: status.name().to_string(),
            duration_us: micros(a.took),
            message: None,
            retry_in_s: None,
        };
        match r.result {
            Ok(restored) => {
                let plain_restore = slot.at_login && slot.failures == 0;
                self.slots.remove(&a.local);
                if restored && !plain_restore {
                    self.router.announce(Event::Repair(event));
                }
            }
            // The name is taken by another connection (made by hand
            // meanwhile): nothing of the agent's to repair.
            Err(e @ WnError::AlreadyConnected) => {
                event.message = Some(r.detail.unwrap_or_else(|| e.to_string()));
                self.slots.remove(&a.local);
                self.router.announce(Event::RepairFailed(event));
            }
            Err(e) => {
                slot.failures += 1;
                slot.at_login = false;
                let wait = self.options.backoff.wait(slot.failures);
                slot.due = Instant::now() + wait;
                slot.next_attempt = Some(epoch_now() + wait.as_secs());
                slot.server_down = a.server_answers.map(|up| !up);
                let detail = r.detail.unwrap_or_else(|| e.to_string());
                slot.reason = format!("the last attempt failed: {detail}");
                event.message = Some(detail);
                event.retry_in_s = Some(wait.as_secs());
                self.router.announce(Event::RepairFailed(event));
            }
        }
        self.write_record();
        self.notifier.status(self.status_line(false));
    }

    /// The record of what is being repaired, as the listing shows it.
    fn record(&self) -> Vec<Repair> {
        self.slots
            .values()
            .map(|s| Repair {
                local: s.entry.local.clone(),
                remote: s.entry.remote.clone(),
                provider: s.entry.provider.clone(),
                reason: s.reason.clone(),
                next_attempt: if s.running { None } else { s.next_attempt },
                attempts: s.failures,
            })
            .collect()
    }

    fn write_record(&self) {
        if self
            .router
            .store()
            .write_repairs(&self.me, &self.record())
            .is_err()
        {
            eprintln!(
                "mpr agent: warning: {}",
                mpr_core::lasterror::get().map_or_else(String::new, |d| d.text)
            );
        }
    }

    /// `watching N connections, repairing M (look K[, after a network
    /// change])`: the unit's status line.
    fn status_line(&self, network: bool) -> String {
        format!(
            "watching {} connections, repairing {} (look {}{})",
            self.live,
            self.slots.len(),
            self.checks,
            if network {
                ", after a network change"
            } else {
                ""
            }
        )
    }
}
