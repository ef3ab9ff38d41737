//! Crash consistency under SIGKILL, against the real sshd on 127.0.0.1 (the
//! `sftp` provider) and the real smbd (the `smb` provider), both served by
//! mpr's own `mpr-fsd`: a seeded random sequence of `mpr use NAME URL
//! --persistent`, `mpr use NAME --delete [--keep-remembered]` and `mpr
//! restore`, each killed with SIGKILL at a random moment. After every kill
//! the live table (`mpr use --json`), the mount table and the helper
//! processes must agree, and the next command must bring the name to a
//! clean state: connected and listed, or absent; never a mount or a helper
//! nobody lists.
//!
//! `MPR_CRASH_KILLS` sets the number of kills per provider (default 150
//! for sftp, 100 for smb) and
//! `MPR_CRASH_SEED` the seed (default 11); `scripts/crash-kills.sh` runs
//! 1,000. Every problem is counted (and the name cleaned by force so that
//! the run goes on); the test fails at the end if any was found, with the
//! list.

use crate::servers::Servers;
use crate::util::{Env, Run};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The local names the sequence plays with (no other test uses them).
const NAMES: [&str; 2] = ["P:", "Q:"];

/// splitmix64: a small seeded generator, so that a run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{key}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

/// One command of the sequence.
#[derive(Debug, Clone, Copy)]
enum Op {
    Use(&'static str),
    Delete(&'static str),
    DeleteKeep(&'static str),
    Restore,
}

impl Op {
    fn pick(rng: &mut Rng) -> Op {
        let name = NAMES[rng.below(NAMES.len() as u64) as usize];
        match rng.below(7) {
            0..=2 => Op::Use(name),
            3 | 4 => Op::Delete(name),
            5 => Op::DeleteKeep(name),
            _ => Op::Restore,
        }
    }

    fn args(self, t: &Target) -> Vec<String> {
        let v: Vec<&str> = match self {
            Op::Use(n) => t.connect(n),
            Op::Delete(n) => vec!["use", n, "--delete"],
            Op::DeleteKeep(n) => vec!["use", n, "--delete", "--keep-remembered"],
            Op::Restore => vec!["restore"],
        };
        v.into_iter().map(String::from).collect()
    }
}

/// What is connected: a provider, a name, and a password for it (given on
/// standard input) when its server needs one.
struct Target {
    provider: &'static str,
    url: String,
    login: Option<(String, String)>,
}

impl Target {
    /// The arguments of a persistent connect of `name`.
    fn connect<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        let mut v = vec![
            "use",
            name,
            &self.url,
            "--provider",
            self.provider,
            "--persistent",
        ];
        if let Some((user, _)) = &self.login {
            v.extend(["--user", user, "--password-stdin"]);
        }
        v
    }

    /// Spawns `mpr args`, giving it the password when it reads one.
    fn spawn(&self, e: &Env, args: &[String]) -> std::process::Child {
        let reads = args.iter().any(|a| a == "--password-stdin");
        let mut child = e
            .command()
            .args(args)
            .stdin(if reads { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let (true, Some((_, pw))) = (reads, &self.login) {
            use std::io::Write;
            // A command killed before it read is what this test does.
            let _ = child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{pw}\n").as_bytes());
        }
        child
    }
}

/// What one look at the three sources of truth found wrong.
struct World<'a> {
    e: &'a Env,
    target: Target,
    drives: PathBuf,
}

/// A name as the live table lists it: its status, if listed live.
fn listed(list: &Run, name: &str) -> Option<String> {
    list.json()["connections"].as_array().and_then(|c| {
        c.iter()
            .find(|c| c["local"] == name && c["status"] != "Remembered")
            .map(|c| c["status"].as_str().unwrap_or("").to_string())
    })
}

/// Whether `dir` itself is a mount point.
fn mounted(dir: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.display().to_string();
    text.lines()
        .any(|l| l.split(' ').nth(4) == Some(d.as_str()))
}

/// The helpers serving `dir` (its path is one of their arguments; `mpr`
/// itself and its notifyee host are not helpers), as pid and argv.
fn helpers(dir: &Path) -> Vec<(i32, String)> {
    let d = dir.display().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if status.contains("State:\tZ") {
            continue;
        }
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        // Not `mpr` itself or its notifyee host (mpr-fsd is a server).
        let program = args.first().map(|a| a.rsplit('/').next().unwrap_or(a));
        if args.contains(&d) && !program.is_some_and(|p| p == "mpr" || p == "mpr-notifyee-host") {
            out.push((pid, args.join(" ")));
        }
    }
    out
}

/// The argv of each helper serving `dir`.
fn helpers_of(dir: &Path) -> Vec<String> {
    helpers(dir).into_iter().map(|(_, c)| c).collect()
}

impl World<'_> {
    fn dir(&self, name: &str) -> PathBuf {
        self.drives.join(name.trim_end_matches(':'))
    }

    /// The next command after a kill is a listing (which cleans up after
    /// the killed one); then table, mounts and helpers must agree. A helper
    /// whose mount is gone is given a moment to exit.
    fn check(&self, after: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            problems.clear();
            let list = self.e.mpr(&["use", "--json"]);
            if list.wn() != 0 {
                problems.push(format!("{after}: the listing failed: {list:?}"));
                return problems;
            }
            for name in NAMES {
                let dir = self.dir(name);
                let status = listed(&list, name);
                let mount = mounted(&dir);
                let helpers = helpers_of(&dir);
                match (status.as_deref(), mount) {
                    (None, true) => problems.push(format!(
                        "{after}: orphan: {name} is mounted but not listed (helpers {helpers:?})"
                    )),
                    (Some("OK"), false) => problems.push(format!(
                        "{after}: disagreement: {name} is listed OK but not mounted"
                    )),
                    (Some("OK"), true) if helpers.is_empty() => problems.push(format!(
                        "{after}: disagreement: {name} is listed OK and mounted, but no helper serves it"
                    )),
                    (Some(s), true) if s != "OK" => problems.push(format!(
                        "{after}: disagreement: {name} is listed {s} but still mounted"
                    )),
                    _ => {}
                }
                if !mount && !helpers.is_empty() {
                    problems.push(format!(
                        "{after}: orphan: helpers serve {name}, which is not mounted: {helpers:?}"
                    ));
                }
            }
            if problems.is_empty() {
                return problems;
            }
            if Instant::now() >= deadline {
                self.explain_orphans(&mut problems);
                return problems;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Adds to each "helpers serve a name that is not mounted" what its
    /// server's log ends with, and whether it exited within 20 s more (a
    /// slow exit and a stuck server are different bugs).
    fn explain_orphans(&self, problems: &mut [String]) {
        for (p, name) in problems.iter_mut().flat_map(|p| {
            NAMES
                .iter()
                .find(|n| p.contains(&format!("helpers serve {n},")))
                .map(|n| (p, *n))
        }) {
            let dir = self.dir(name);
            let waited = Instant::now();
            while !helpers_of(&dir).is_empty() && waited.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let fate = if helpers_of(&dir).is_empty() {
                format!("exited {:.1} s later", waited.elapsed().as_secs_f64())
            } else {
                "still running 20 s later".to_string()
            };
            let mut logs = String::new();
            if let Ok(rd) = std::fs::read_dir(self.e.path("run/helpers")) {
                for f in rd.flatten() {
                    let n = f.file_name().to_string_lossy().into_owned();
                    if n.ends_with(&format!("_{}.log", &name[..1])) {
                        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                        let tail: Vec<&str> = text.lines().rev().take(12).collect();
                        logs.push_str(&format!(
                            "\n  {n}:\n    {}",
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
                        ));
                    }
                }
            }
            p.push_str(&format!(" ({fate}){logs}"));
        }
    }

    /// A command run to its end must leave `name` connected and listed
    /// (`connect`) or absent (otherwise).
    fn settle(&self, name: &str, connect: bool) -> Vec<String> {
        let dir = self.dir(name);
        let r: Run = if connect {
            let mut args: Vec<String> = self
                .target
                .connect(name)
                .into_iter()
                .map(String::from)
                .collect();
            args.push("--json".into());
            self.target
                .spawn(self.e, &args)
                .wait_with_output()
                .unwrap()
                .into()
        } else {
            self.e.mpr(&["use", name, "--delete", "--json"])
        };
        // 85 = WN_ALREADY_CONNECTED: a connect of a name still connected
        // (a delete killed before it unmounted); 2250 = WN_NOT_CONNECTED: a
        // delete of a name nobody has. The listing then says which it is.
        if !matches!((connect, r.wn()), (_, 0) | (true, 85) | (false, 2250)) {
            return vec![format!(
                "the next command (connect: {connect}) left {name} unclean: {r:?}"
            )];
        }
        let list = self.e.mpr(&["use", "--json"]);
        let status = listed(&list, name);
        let ok = if connect {
            status.as_deref() == Some("OK") && mounted(&dir) && !helpers_of(&dir).is_empty()
        } else {
            status.is_none() && !mounted(&dir) && self.no_helper_soon(&dir)
        };
        if ok {
            Vec::new()
        } else {
            vec![format!(
                "after the next command (connect: {connect}) {name} is listed {status:?}, mounted {}, helpers {:?}",
                mounted(&dir),
                helpers_of(&dir)
            )]
        }
    }

    fn no_helper_soon(&self, dir: &Path) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !helpers_of(dir).is_empty() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// After a problem: everything at `name` goes, by force, so that the
    /// run can go on and count further problems.
    fn scrub(&self) {
        for name in NAMES {
            let dir = self.dir(name);
            let _ = self.e.mpr(&["use", name, "--delete", "--force", "--json"]);
            for (p, _) in helpers(&dir) {
                if let Some(pid) = rustix::process::Pid::from_raw(p) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            if mounted(&dir) {
                let _ = std::process::Command::new("fusermount3")
                    .arg("-uz")
                    .arg(&dir)
                    .status();
            }
        }
    }
}

#[test]
fn commands_killed_at_random_moments_leave_table_mounts_and_helpers_agreeing() {
    let s = Servers::get();
    let target = Target {
        provider: "sftp",
        url: format!(
            "sftp://mprtest@127.0.0.1:{}{}",
            s.var("MPR_TEST_SSH_PORT"),
            s.path("MPR_TEST_SSH_EXPORT").display()
        ),
        login: None,
    };
    killed_at_random_moments(&s, target, 150);
}

#[test]
fn smb_commands_killed_at_random_moments_leave_table_mounts_and_servers_agreeing() {
    let s = Servers::get();
    let target = Target {
        provider: "smb",
        url: format!(
            "smb://127.0.0.1:{}/{}",
            s.var("MPR_TEST_SMB_PORT"),
            s.var("MPR_TEST_SMB_SHARE")
        ),
        login: Some((
            s.var("MPR_TEST_SMB_USER").to_string(),
            s.password("MPR_TEST_SMB_PASSWORD_FILE"),
        )),
    };
    killed_at_random_moments(&s, target, 100);
}

/// The seeded kill sequence against `target` (`default_kills` kills unless
/// `MPR_CRASH_KILLS` says otherwise).
fn killed_at_random_moments(s: &Servers, target: Target, default_kills: u64) {
    let kills = env_number("MPR_CRASH_KILLS", default_kills);
    let seed = env_number("MPR_CRASH_SEED", 11);
    let e = s.provider_env("");
    let w = World {
        e: &e,
        target,
        drives: e.path("drives"),
    };
    let mut rng = Rng(seed);
    let mut problems: Vec<String> = Vec::new();
    let (mut orphans, mut disagreements, mut killed, mut finished) = (0, 0, 0u64, 0u64);
    let started = Instant::now();
    while killed < kills {
        let op = Op::pick(&mut rng);
        let delay = rng.below(151);
        let mut child = w.target.spawn(&e, &op.args(&w.target));
        std::thread::sleep(Duration::from_millis(delay));
        let done_before = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        child.wait().unwrap();
        if done_before {
            finished += 1;
        } else {
            killed += 1;
        }
        let what = format!(
            "#{} {op:?} killed at {delay} ms{}",
            killed + finished,
            if done_before { " (had ended)" } else { "" }
        );
        let mut found = w.check(&what);
        if !done_before {
            // The next command brings the name to a clean state.
            let name = match op {
                Op::Use(n) | Op::Delete(n) | Op::DeleteKeep(n) => n,
                Op::Restore => NAMES[rng.below(NAMES.len() as u64) as usize],
            };
            let connect = rng.below(2) == 0;
            if found.is_empty() {
                found = w
                    .settle(name, connect)
                    .into_iter()
                    .map(|p| format!("{what}: {p}"))
                    .collect();
            }
        }
        if !found.is_empty() {
            for p in &found {
                if p.contains("orphan") {
                    orphans += 1;
                } else {
                    disagreements += 1;
                }
                eprintln!("crash: {p}");
            }
            problems.extend(found);
            w.scrub();
        }
    }
    w.scrub();
    eprintln!(
        "crash: {}: seed {seed}: {killed} kills ({finished} more commands ended before their kill) in {:.0} s: {orphans} orphans, {disagreements} disagreements",
        w.target.provider,
        started.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{}: {orphans} orphans, {disagreements} disagreements after {killed} kills (seed {seed}):\n{}",
        w.target.provider,
        problems.join("\n")
    );
}
