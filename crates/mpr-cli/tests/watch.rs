//! `mpr watch`: follows the audit journal like `tail -f`.

use crate::util::Env;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// A running `mpr watch` and its output lines.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
}

impl Watcher {
    fn start(e: &Env, args: &[&str]) -> Watcher {
        let mut child = e
            .command()
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        // Wait until it is watching (it says so on stderr first).
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        err.read_line(&mut first).unwrap();
        assert!(first.contains("watching"), "{first:?}");
        std::thread::spawn(move || {
            let mut sink = String::new();
            while err.read_line(&mut sink).is_ok_and(|n| n > 0) {}
        });
        Watcher { child, lines: rx }
    }

    /// The next line, within 10 s.
    fn next(&self) -> String {
        match self.lines.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => panic!("mpr watch printed nothing"),
            Err(RecvTimeoutError::Disconnected) => panic!("mpr watch ended"),
        }
    }

    /// Lines until one contains `needle` (within 10 s).
    fn until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let l = self.next();
            let done = l.contains(needle);
            seen.push(l);
            if done {
                return seen;
            }
        }
    }

    /// Nothing more within `d`.
    fn quiet_for(&self, d: Duration) {
        if let Ok(l) = self.lines.recv_timeout(d) {
            panic!("unexpected line {l:?}");
        }
    }

    /// Sends SIGINT; the exit code.
    fn interrupt(mut self) -> i32 {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        wait(&mut self.child)
    }
}

fn wait(child: &mut Child) -> i32 {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1000);
        }
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("mpr watch did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn env() -> Env {
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    e
}

#[test]
fn json_follows_a_journal_that_does_not_exist_yet() {
    let e = env();
    assert!(!e.path("state/journal.jsonl").exists());
    let w = Watcher::start(&e, &["--json"]);
    std::thread::sleep(Duration::from_millis(300));
    // Another process appends.
    assert_eq!(e.mpr(&["use", "Z:", r"\\acme\s", "--json"]).wn(), 0);
    let lines = w.until("\"event\":\"operation\"");
    let records: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let last = records.last().unwrap();
    assert_eq!((&last["op"], &last["local"]), (&"add".into(), &"Z:".into()));
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "notify" && r["notifyee"] == "alpha")
    );
    // The lines are the stored records, byte for byte.
    let stored = std::fs::read_to_string(e.path("state/journal.jsonl")).unwrap();
    for l in &lines {
        assert!(stored.lines().any(|s| s == l), "{l:?}");
    }
    // And it goes on following.
    assert_eq!(e.mpr(&["use", "Z:", "--delete", "--json"]).wn(), 0);
    let more = w.until("\"event\":\"operation\"");
    assert!(
        more.last().unwrap().contains("\"op\":\"cancel\""),
        "{more:?}"
    );
    assert_eq!(w.interrupt(), 0, "SIGINT stops it with exit 0");
}

#[test]
fn human_lines_start_with_the_last_records_and_handle_partial_writes() {
    let e = env();
    assert_eq!(e.mpr(&["use", "Z:", r"\\acme\s", "--json"]).wn(), 0);
    assert_eq!(e.mpr(&["use", "Z:", "--delete", "--json"]).wn(), 0);
    let total = e.journal().len();
    assert!(total > 4);
    let w = Watcher::start(&e, &["-n", "2"]);
    let first = w.next();
    let second = w.next();
    assert!(second.contains("operation cancel Z:"), "{second:?}");
    assert!(second.contains("via acme -> WN_SUCCESS"), "{second:?}");
    assert!(!first.starts_with('{') && !second.starts_with('{'));
    assert!(
        second.starts_with("20") && second.contains("Z operation cancel"),
        "a UTC time first: {second:?}"
    );
    w.quiet_for(Duration::from_millis(300));
    // A record written in two pieces is printed once, when complete.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(e.path("state/journal.jsonl"))
        .unwrap();
    f.write_all(br#"{"ts":"1700000000.000000","event":"operation","pid":1,"uid":0,"op":"add","#)
        .unwrap();
    f.flush().unwrap();
    w.quiet_for(Duration::from_millis(400));
    f.write_all(br#""local":"Q:","remote":"\\\\x\\y","provider":"acme","result":67,"result_name":"WN_BAD_NETNAME","notified":true,"duration_us":5}"#)
        .unwrap();
    f.write_all(b"\n").unwrap();
    let l = w.next();
    assert_eq!(
        l,
        r"2023-11-14T22:13:20.000Z operation add Q: \\x\y via acme -> WN_BAD_NETNAME (5 µs)  [pid 1 uid 0]"
    );
    // A line that is not JSON is shown as it is.
    f.write_all(b"not json\n").unwrap();
    assert_eq!(w.next(), "not json");
    assert_eq!(w.interrupt(), 0);
}

#[test]
fn starts_over_when_the_journal_is_replaced() {
    let e = env();
    std::fs::create_dir_all(e.path("state")).unwrap();
    std::fs::write(
        e.path("state/journal.jsonl"),
        "{\"event\":\"old\",\"n\":1}\n",
    )
    .unwrap();
    let w = Watcher::start(&e, &["--json", "--lines", "0"]);
    w.quiet_for(Duration::from_millis(300));
    let tmp = e.path("state/journal.new");
    std::fs::write(&tmp, "{\"event\":\"new\",\"n\":2}\n").unwrap();
    std::fs::rename(&tmp, e.path("state/journal.jsonl")).unwrap();
    assert_eq!(w.next(), "{\"event\":\"new\",\"n\":2}");
    assert_eq!(w.interrupt(), 0);
}

#[test]
fn stops_with_exit_0_when_its_reader_goes_away() {
    let e = env();
    let mut child = e
        .command()
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(child.stdout.take());
    // Whether it notices the closed pipe while idle or on the next write.
    assert_eq!(e.mpr(&["use", "Z:", r"\\acme\s", "--json"]).wn(), 0);
    assert_eq!(wait(&mut child), 0);
}

#[test]
fn head_closing_the_pipe_stops_it() {
    let e = env();
    for _ in 0..3 {
        assert_eq!(e.mpr(&["use", "Z:", r"\\acme\s", "--json"]).wn(), 0);
        assert_eq!(e.mpr(&["use", "Z:", "--delete", "--json"]).wn(), 0);
    }
    // Like `mpr watch | head -n 1`: it ends by itself, with status 0.
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", "\"$MPR_BIN\" watch; echo \"mpr=$?\" >&2"])
        .env_clear()
        .envs(e.command().get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("MPR_BIN", env!("CARGO_BIN_EXE_mpr"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = sh.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.contains("operation") || line.contains("notify") || line.contains("provider"),
        "{line:?}"
    );
    drop(out);
    assert_eq!(wait(&mut child), 0);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("mpr=0"), "{err:?}");
}

#[test]
fn watch_json_lines_are_not_a_single_object() {
    // `watch --json` is the one verb that prints several objects: one per
    // record, exactly as stored (docs/json.md).
    let e = env();
    assert_eq!(e.mpr(&["use", "Z:", r"\\acme\s", "--json"]).wn(), 0);
    let w = Watcher::start(&e, &["--json", "-n", "3"]);
    for _ in 0..3 {
        let l = w.next();
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert!(v["event"].is_string() && v["ts"].is_string(), "{l}");
    }
    assert_eq!(w.interrupt(), 0);
}
