//! The system journal sink against a real systemd-journald (started by
//! `bash scripts/test-journald.sh start`, which scripts/test.sh runs):
//! `journalctl -o json` shows each event with its fields and never a
//! password, `both` writes the file too, and `mpr watch` follows it.
//!
//! The machine's journal is shared by every test: each test finds its own
//! entries by the PID of the `mpr` process that wrote them (since the test
//! began) or by a remote name of its own.

use crate::util::{Env, Run};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SOCKET: &str = "/run/systemd/journal/socket";
const PW: &str = "Journald-S3cret-41";

/// The MESSAGE_IDs as docs/audit.md lists them (fixed for good).
const IDS: [(&str, &str); 9] = [
    ("operation", "d90fd742f925433fa2ac81ad55ba6cb0"),
    ("provider", "b37d172818e44477bf87ba92bff15946"),
    ("notify", "218902891346419c80f31a74af0bdc91"),
    ("refused", "28de759536434d2fa1f7623596156d5a"),
    ("retry_limit", "ee0f5d6dc76a436e99d24a8927ffd274"),
    ("registry", "87e1f843b8634b558a5336b12733f158"),
    ("repair", "1c220228f2cf4f67a58f89eaddc3f6d8"),
    ("repair_failed", "df2418ccf3d040c3b70c93fb0921970c"),
    ("conflict", "914abe526373481db2473305eba24076"),
];

fn need_journald() {
    assert!(
        mpr_core::journal::socket_present(std::path::Path::new(SOCKET)),
        "no systemd-journald at {SOCKET}: run `bash scripts/test-journald.sh start` (scripts/test.sh does)"
    );
}

/// A unique name for this test's remote shares.
fn marker(tag: &str) -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("jd{tag}{}x{n}", std::process::id())
}

/// An environment with provider `acme`, notifyee `alpha` and `sink`.
fn env(sink: &str) -> Env {
    need_journald();
    let e = Env::new();
    e.setup_with(
        &["acme"],
        &["alpha"],
        &format!("[journal]\nsink = \"{sink}\"\n"),
    );
    e
}

fn command(e: &Env) -> Command {
    let mut c = e.command();
    c.env("MPR_JOURNAL_SOCKET", SOCKET);
    c
}

/// Runs `mpr` with the real journald socket; the run and its PID.
fn mpr(e: &Env, args: &[&str], stdin: Option<&str>) -> (Run, u32) {
    let mut child = command(e)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    (child.wait_with_output().unwrap().into(), pid)
}

/// `journalctl -o json` entries of mpr matching `filters`, since `since`.
fn entries(since: u64, filters: &[String]) -> Vec<Value> {
    let o = Command::new("journalctl")
        .args(["--output=json", "--all", "--no-pager"])
        .arg(format!("--since=@{since}"))
        .arg("SYSLOG_IDENTIFIER=mpr")
        .args(filters)
        .output()
        .expect("journalctl runs");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The entries of the `mpr` process `pid`, once its operation record has
/// arrived (journald stores entries a moment after they are sent).
fn entries_of(since: u64, pid: u32) -> Vec<Value> {
    let t = Instant::now();
    loop {
        let found = entries(since, &[format!("_PID={pid}")]);
        if found.iter().any(|r| r["MPR_EVENT"] == "operation") {
            return found;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no operation entry of pid {pid} in the journal: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now() -> u64 {
    // A second back: --since has whole seconds.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1
}

fn s<'a>(r: &'a Value, k: &str) -> &'a str {
    r[k].as_str()
        .unwrap_or_else(|| panic!("no field {k} in {r}"))
}

/// Checks what every entry of one operation has; its operation entry.
fn check_operation<'a>(es: &'a [Value], op: &str) -> &'a Value {
    let ids: std::collections::HashMap<&str, &str> = IDS.into_iter().collect();
    let uid = rustix::process::getuid().as_raw().to_string();
    for r in es {
        let text = r.to_string();
        assert!(!text.contains(PW), "an entry holds the password: {text}");
        let kind = s(r, "MPR_EVENT");
        assert_eq!(s(r, "MESSAGE_ID"), ids[kind], "{r}");
        assert_eq!(s(r, "SYSLOG_IDENTIFIER"), "mpr");
        assert_eq!(s(r, "MPR_UID"), uid);
        assert!(s(r, "MESSAGE").starts_with(kind), "{r}");
        // The record rebuilt from MPR_RECORD is the typed record.
        let rec: mpr_core::event::Record = serde_json::from_str(s(r, "MPR_RECORD")).unwrap();
        assert_eq!(rec.event.kind(), kind);
        assert_eq!(rec.pid.to_string(), s(r, "MPR_PID"));
    }
    let op_ids: BTreeSet<&str> = es.iter().map(|r| s(r, "MPR_OP_ID")).collect();
    assert_eq!(op_ids.len(), 1, "one operation id for all: {op_ids:?}");
    let ops: Vec<&Value> = es
        .iter()
        .filter(|r| r["MPR_EVENT"] == "operation")
        .collect();
    assert_eq!(ops.len(), 1, "{es:?}");
    assert_eq!(s(ops[0], "MPR_OP"), op);
    assert!(
        s(ops[0], "MPR_DURATION_US").parse::<u64>().is_ok(),
        "{}",
        ops[0]
    );
    ops[0]
}

/// `notifyee:phase:result_name` of the notify entries, in order.
fn notes(es: &[Value]) -> Vec<String> {
    es.iter()
        .filter(|r| r["MPR_EVENT"] == "notify")
        .map(|r| {
            format!(
                "{}:{}:{}",
                s(r, "MPR_NOTIFYEE"),
                s(r, "MPR_PHASE"),
                s(r, "MPR_RESULT_NAME")
            )
        })
        .collect()
}

#[test]
fn add_veto_and_cancel_reach_the_system_journal_with_their_fields_and_no_password() {
    let e = env("journald");
    let since = now();
    let remote = format!(r"\\acme\{}", marker("a"));
    let (r, add) = mpr(
        &e,
        &[
            "use",
            "Z:",
            &remote,
            "--user",
            "bob",
            "--password-stdin",
            "--json",
        ],
        Some(&format!("{PW}\n")),
    );
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(!r.stderr.contains("warning"), "{r:?}");
    e.behave("alpha.conf", "add_pre=1223\n");
    let (r, veto) = mpr(&e, &["use", "Y:", &remote, "--json"], None);
    assert_eq!(r.wn(), 1223, "{r:?}");
    e.behave("alpha.conf", "");
    let (r, cancel) = mpr(&e, &["use", "Z:", "--delete", "--json"], None);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert!(
        !e.path("state/journal.jsonl").exists(),
        "sink = journald writes no file"
    );

    let es = entries_of(since, add);
    let op = check_operation(&es, "add");
    for (k, v) in [
        ("MPR_LOCAL", "Z:"),
        ("MPR_REMOTE", remote.as_str()),
        ("MPR_PROVIDER", "acme"),
        ("MPR_USER", "bob"),
        ("MPR_RESULT", "0"),
        ("MPR_RESULT_NAME", "WN_SUCCESS"),
        ("PRIORITY", "6"),
    ] {
        assert_eq!(s(op, k), v, "{k} in {op}");
    }
    assert!(s(op, "MESSAGE").contains(&format!("add Z: {remote} via acme")));
    assert_eq!(
        notes(&es),
        ["alpha:pre:WN_SUCCESS", "alpha:post:WN_SUCCESS"]
    );
    let provider = es.iter().find(|r| r["MPR_EVENT"] == "provider").unwrap();
    assert_eq!(s(provider, "MPR_PROVIDER"), "acme");

    let es = entries_of(since, veto);
    let op = check_operation(&es, "add");
    assert_eq!(s(op, "MPR_RESULT"), "1223");
    assert_eq!(s(op, "PRIORITY"), "5", "a veto is a notice");
    assert!(s(op, "MPR_MESSAGE").contains("alpha"), "{op}");
    let pre = es.iter().find(|r| r["MPR_EVENT"] == "notify").unwrap();
    assert_eq!(
        (
            s(pre, "MPR_PHASE"),
            s(pre, "MPR_RESULT"),
            s(pre, "PRIORITY")
        ),
        ("pre", "1223", "5")
    );

    let es = entries_of(since, cancel);
    let op = check_operation(&es, "cancel");
    assert_eq!(s(op, "MPR_LOCAL"), "Z:");
    assert_eq!(
        notes(&es),
        ["alpha:pre:WN_SUCCESS", "alpha:post:WN_SUCCESS"]
    );
}

#[test]
fn both_writes_the_same_records_to_the_file_and_the_system_journal() {
    let e = env("both");
    let since = now();
    let remote = format!(r"\\acme\{}", marker("b"));
    let (r, pid) = mpr(&e, &["use", "Z:", &remote, "--json"], None);
    assert_eq!(r.wn(), 0, "{r:?}");
    let es = entries_of(since, pid);
    let journal: BTreeSet<&str> = es.iter().map(|r| s(r, "MPR_RECORD")).collect();
    let text = std::fs::read_to_string(e.path("state/journal.jsonl")).unwrap();
    let file: BTreeSet<&str> = text.lines().collect();
    assert_eq!(journal, file, "the same records, byte for byte");
    assert!(file.len() >= 4, "{file:?}");
}

#[test]
fn a_journald_that_is_not_there_warns_once_and_fails_nothing() {
    let e = env("journald");
    let r: Run = e
        .command()
        .env("MPR_JOURNAL_SOCKET", e.path("gone/socket"))
        .args(["use", "Z:", r"\\acme\s", "--json"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(
        r.stderr.matches("cannot send audit records").count(),
        1,
        "{r:?}"
    );
    // With no setting, a missing socket means the file.
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    assert_eq!(e.mpr(&["use", "Z:", r"\\acme\s", "--json"]).wn(), 0);
    assert!(!e.journal().is_empty());
}

/// A running `mpr watch` and its output lines.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
}

impl Watcher {
    fn start(e: &Env, args: &[&str]) -> Watcher {
        let mut child = command(e)
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
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        err.read_line(&mut first).unwrap();
        assert!(first.contains("watching the system journal"), "{first:?}");
        std::thread::spawn(move || {
            let mut sink = String::new();
            while err.read_line(&mut sink).is_ok_and(|n| n > 0) {}
        });
        // journalctl needs a moment to find the end of the journal.
        std::thread::sleep(Duration::from_millis(700));
        Watcher { child, lines: rx }
    }

    /// Lines until one contains every needle (within 15 s).
    fn until(&self, needles: &[&str]) -> String {
        let t = Instant::now();
        loop {
            let left = Duration::from_secs(15).saturating_sub(t.elapsed());
            let l = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("mpr watch showed no line with {needles:?}: {e}"));
            if needles.iter().all(|n| l.contains(n)) {
                return l;
            }
        }
    }

    /// SIGINT; the exit code.
    fn interrupt(mut self) -> i32 {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1000);
            }
            if t.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                panic!("mpr watch did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn watch_follows_the_system_journal_as_json_and_in_words() {
    let e = env("journald");
    let since = now();
    let json = Watcher::start(&e, &["--json", "-n", "0"]);
    let words = Watcher::start(&e, &["-n", "0"]);
    let share = marker("w");
    let remote = format!(r"\\acme\{share}");
    let (r, pid) = mpr(&e, &["use", "Z:", &remote, "--json"], None);
    assert_eq!(r.wn(), 0, "{r:?}");

    // --json: the record exactly as stored in the journal's MPR_RECORD
    // (and as the file sink would write it).
    let line = json.until(&[&share, "\"event\":\"operation\""]);
    let es = entries_of(since, pid);
    let op = es.iter().find(|r| r["MPR_EVENT"] == "operation").unwrap();
    assert_eq!(line, s(op, "MPR_RECORD"));
    let rec: mpr_core::event::Record = serde_json::from_str(&line).unwrap();
    assert_eq!(rec.pid, pid);

    // In words: what `mpr watch` prints for the file sink.
    let shown = words.until(&[&share, "operation"]);
    assert!(
        shown.contains(&format!("add Z: {remote} via acme -> WN_SUCCESS")),
        "{shown}"
    );
    assert!(shown.contains(&format!("[pid {pid} uid ")), "{shown}");

    assert_eq!(json.interrupt(), 0, "SIGINT stops it with exit 0");
    assert_eq!(words.interrupt(), 0);
}

#[test]
fn watch_without_journalctl_says_so() {
    let e = env("journald");
    let r: Run = command(&e)
        .env("PATH", e.path("empty-path"))
        .arg("watch")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("journalctl is not installed"), "{r:?}");
}

#[test]
fn the_message_ids_are_the_documented_ones() {
    assert_eq!(mpr_core::journal::journald::MESSAGE_IDS, IDS.as_slice());
    let doc = std::fs::read_to_string(crate::util::repo().join("docs/audit.md")).unwrap();
    for (kind, id) in IDS {
        assert!(
            doc.contains(&format!("| `{kind}` | `{id}` |")),
            "docs/audit.md lacks {kind} {id}"
        );
    }
}
