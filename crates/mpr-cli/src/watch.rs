//! `mpr watch`: follows the audit journal in whichever sink is in use
//! (`[journal] sink` in `mpr.toml`; with `both`, the system journal), and
//! stops (exit 0) on SIGINT or when its output is closed (SIGPIPE/EPIPE).
//!
//! - The file (`$MPR_STATE_DIR/journal.jsonl`), like `tail -f`. Other
//!   processes append whole lines with one `write` each; this reads what is
//!   new every 100 ms, keeps a partial last line until its newline arrives,
//!   waits for a file that does not exist yet, and starts again from the top
//!   when the file is truncated or replaced.
//! - The system journal, through `journalctl --follow -o json`, filtered to
//!   mpr's entries (`SYSLOG_IDENTIFIER=mpr`) and, unless run as root, to the
//!   caller's own (`_UID`). Each entry's `MPR_RECORD` field is the record
//!   exactly as the file sink would have written it.

use crate::UsageError;
use crate::output::{Stream, Style, paint};
use anyhow::{Context, Result};
use mpr_core::event::{Record, Tone};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the file is looked at.
const TICK: Duration = Duration::from_millis(100);

/// The open journal and how far it has been read.
struct Followed {
    file: File,
    id: (u64, u64),
    pos: u64,
    partial: Vec<u8>,
}

/// Why following stopped.
enum Stop {
    /// SIGINT, or the reader went away: exit 0.
    Quiet,
}

/// `mpr watch`.
pub fn watch(json: bool, lines: usize) -> Result<ExitCode> {
    let (setup, _) = mpr_setup::Setup::from_env().map_err(|e| UsageError(e.to_string()))?;
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())
        .context("cannot watch for Ctrl-C")?;
    if mpr_setup::journal_sink(&setup.paths, &setup.config).uses_journald() {
        watch_journald(json, lines, &stop)
    } else {
        watch_file(&setup.paths.journal_file(), json, lines, &stop)
    }
}

/// Follows the system journal through `journalctl`.
fn watch_journald(json: bool, lines: usize, stop: &AtomicBool) -> Result<ExitCode> {
    let uid = rustix::process::getuid().as_raw();
    let mut cmd = Command::new("journalctl");
    cmd.args(["--follow", "--output=json", "--all", "--no-pager"])
        .arg(format!("--lines={lines}"))
        .arg(format!(
            "SYSLOG_IDENTIFIER={}",
            mpr_core::journal::journald::SYSLOG_IDENTIFIER
        ));
    // Root sees everyone's records; a user, like with the file sink, their own.
    if uid != 0 {
        cmd.arg(format!("_UID={uid}"));
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UsageError(
                "the audit journal is in the system journal, and journalctl is not installed \
                 (apt-get install systemd), or set `sink = \"file\"` under [journal] in mpr.toml"
                    .into(),
            )
            .into());
        }
        Err(e) => return Err(e).context("cannot run journalctl"),
    };
    let who = if uid == 0 {
        String::new()
    } else {
        format!(", uid {uid}")
    };
    eprintln!("mpr: watching the system journal (journalctl -t mpr{who}) (Ctrl-C stops)");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let from = child.stdout.take().context("journalctl has no output")?;
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(from).split(b'\n') {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut out = std::io::stdout().lock();
    let ended = loop {
        if stop.load(Ordering::Relaxed) || output_closed(&out) {
            break None;
        }
        match rx.recv_timeout(TICK) {
            Ok(entry) => {
                if let Some(record) = record_of_entry(&entry)
                    && emit(&mut out, record.as_bytes(), json).is_err()
                {
                    break None;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break Some(()),
        }
    };
    // Our own child: stop it (it may have ended by itself already).
    let _ = child.kill();
    let status = child.wait().context("cannot wait for journalctl")?;
    match ended {
        // journalctl stopped by itself: a Ctrl-C reached it too (exit 0 or
        // by the signal), or it failed (its error is on stderr).
        Some(())
            if !stop.load(Ordering::Relaxed) && !status.success() && status.code().is_some() =>
        {
            Err(UsageError(format!("journalctl stopped: {status}")).into())
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The record in one `journalctl -o json` entry: its `MPR_RECORD` field
/// (a string, or an array of bytes when journalctl would not show it as
/// text). Entries without one are not mpr's records.
pub fn record_of_entry(entry: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(entry).ok()?;
    match v.get(mpr_core::journal::journald::RECORD_FIELD)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => {
            let bytes: Option<Vec<u8>> = a
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes?).into_owned())
        }
        _ => None,
    }
}

/// Follows the file sink like `tail -f`.
fn watch_file(path: &Path, json: bool, lines: usize, stop: &AtomicBool) -> Result<ExitCode> {
    let path = path.to_path_buf();
    eprintln!("mpr: watching {} (Ctrl-C stops)", path.display());
    let mut out = std::io::stdout().lock();
    let mut followed: Option<Followed> = None;
    let mut first = true;
    loop {
        if stop.load(Ordering::Relaxed) || output_closed(&out) {
            return Ok(ExitCode::SUCCESS);
        }
        if followed.is_none() {
            let tail = first.then_some(lines);
            first = false;
            match open(&path, tail, &mut |l| emit(&mut out, l, json)) {
                Ok(f) => followed = f,
                Err(Stop::Quiet) => return Ok(ExitCode::SUCCESS),
            }
        }
        if let Some(f) = followed.as_mut() {
            match follow(f, &path, &mut |l| emit(&mut out, l, json)) {
                Ok(true) => {}
                Ok(false) => followed = None,
                Err(Stop::Quiet) => return Ok(ExitCode::SUCCESS),
            }
        }
        sleep_unless(stop, TICK);
    }
}

/// Sleeps `d`, waking early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(20);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}

/// Whether the reader of standard output has gone away (a pipe whose
/// other end is closed reports `POLLERR`).
fn output_closed(out: &std::io::StdoutLock<'_>) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(out, PollFlags::empty())];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&zero)) {
        Ok(n) if n > 0 => fds[0].revents().contains(PollFlags::ERR),
        _ => false,
    }
}

fn identity(md: &std::fs::Metadata) -> (u64, u64) {
    (md.dev(), md.ino())
}

/// Opens the journal if it exists. With `tail = Some(n)` (the file was
/// there when watching started) the last `n` complete records are emitted
/// and reading goes on from the end; otherwise from the start.
fn open(
    path: &Path,
    tail: Option<usize>,
    emit: &mut dyn FnMut(&[u8]) -> Result<(), Stop>,
) -> Result<Option<Followed>, Stop> {
    let Ok(mut file) = File::open(path) else {
        return Ok(None);
    };
    let Ok(md) = file.metadata() else {
        return Ok(None);
    };
    let mut pos = 0;
    if let Some(n) = tail {
        let mut all = Vec::new();
        if file.read_to_end(&mut all).is_err() {
            return Ok(None);
        }
        // Only complete lines count; a partial last line is read later.
        let complete = all.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let lines: Vec<&[u8]> = all[..complete]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        for l in &lines[lines.len().saturating_sub(n)..] {
            emit(l)?;
        }
        pos = complete as u64;
    }
    Ok(Some(Followed {
        file,
        id: identity(&md),
        pos,
        partial: Vec::new(),
    }))
}

/// Emits what was appended. `Ok(false)`: the file was replaced or removed
/// (its rest has been read): open the path again.
fn follow(
    f: &mut Followed,
    path: &Path,
    emit: &mut dyn FnMut(&[u8]) -> Result<(), Stop>,
) -> Result<bool, Stop> {
    let len = f.file.metadata().map(|m| m.len()).unwrap_or(f.pos);
    if len < f.pos {
        // Truncated: start again from the top.
        f.pos = 0;
        f.partial.clear();
    }
    if len > f.pos && f.file.seek(SeekFrom::Start(f.pos)).is_ok() {
        let mut buf = Vec::new();
        if let Ok(n) = (&f.file).take(len - f.pos).read_to_end(&mut buf) {
            f.pos += n as u64;
            f.partial.extend_from_slice(&buf);
            while let Some(i) = f.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = f.partial.drain(..=i).collect();
                let line = &line[..line.len() - 1];
                if !line.is_empty() {
                    emit(line)?;
                }
            }
        }
    }
    let same = std::fs::metadata(path).is_ok_and(|md| identity(&md) == f.id);
    Ok(same || len > f.pos)
}

/// Prints one record; a closed output stops watching.
fn emit(out: &mut std::io::StdoutLock<'_>, line: &[u8], json: bool) -> Result<(), Stop> {
    let text = String::from_utf8_lossy(line);
    let shown = if json {
        text.into_owned()
    } else {
        human_line(&text)
    };
    writeln!(out, "{shown}")
        .and_then(|()| out.flush())
        .map_err(|_| Stop::Quiet)
}

/// Seconds since the epoch (`"secs.micros"`) as UTC ISO 8601 with
/// milliseconds.
pub fn utc(ts: &str) -> String {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let Ok(secs) = secs.parse::<i64>() else {
        return ts.to_string();
    };
    let millis: String = frac.chars().chain(std::iter::repeat('0')).take(3).collect();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// One readable line for a journal line: a record of a known event in
/// words; a record of an event this version does not know with its fields;
/// anything else as it is.
/// Control characters in the record (a name can hold an escape sequence)
/// are shown as escapes, never sent to the terminal.
pub fn human_line(text: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return visible(text);
    };
    make_visible(&mut v);
    if let Ok(r) = serde_json::from_value::<Record>(v.clone()) {
        return human(&r);
    }
    match v {
        Value::Object(m) => unknown(&m),
        _ => visible(text),
    }
}

/// `text` with each control character written as its Rust escape
/// (`\u{1b}`, `\n`), so that it cannot move the cursor, change colours or
/// retitle the terminal it is printed on.
fn visible(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`visible`] for every string in a JSON value.
fn make_visible(v: &mut Value) {
    match v {
        Value::String(s) if s.chars().any(char::is_control) => *s = visible(s),
        Value::Array(a) => a.iter_mut().for_each(make_visible),
        Value::Object(m) => m.values_mut().for_each(make_visible),
        _ => {}
    }
}

/// A record of an event kind this version does not know: its fields.
fn unknown(m: &Map<String, Value>) -> String {
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let body = m
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "ts" | "event" | "pid" | "uid" | "v"))
        .map(|(k, v)| match v {
            Value::String(x) => format!("{k}={x}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ");
    let pid = m.get("pid").and_then(Value::as_u64);
    let uid = m.get("uid").and_then(Value::as_u64);
    let tail = match (pid, uid) {
        (Some(p), Some(u)) => format!("  [pid {p} uid {u}]"),
        (Some(p), None) => format!("  [pid {p}]"),
        _ => String::new(),
    };
    layout(&s("ts"), &s("event"), &body, &tail)
}

fn layout(ts: &str, event: &str, body: &str, tail: &str) -> String {
    format!(
        "{} {} {body}{}",
        paint(Stream::Stdout, Style::Dim, &utc(ts)),
        paint(Stream::Stdout, Style::Bold, &format!("{event:<9}")),
        paint(Stream::Stdout, Style::Dim, tail)
    )
}

/// One readable line for a journal record: the time, the kind, the event
/// in words (the same words as the system journal's `MESSAGE`), and who.
pub fn human(r: &Record) -> String {
    let body = r.event.describe(&|tone, text| {
        let style = match tone {
            Tone::Good => Style::Green,
            Tone::Bad => Style::Red,
        };
        paint(Stream::Stdout, style, text)
    });
    let tail = format!("  [pid {} uid {}]", r.pid, r.uid);
    layout(&r.ts, r.event.kind(), &body, &tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn control_characters_in_a_record_never_reach_the_terminal() {
        let v = json!({"ts": "1700000000.000001", "event": "operation", "pid": 7, "uid": 0,
            "op": "add", "local": "Z:", "remote": "\\\\h\\s\u{1b}]0;owned\u{7}\u{1b}[2J",
            "provider": "p\nq", "result": 0, "result_name": "WN_SUCCESS", "notified": true,
            "duration_us": 1500});
        let shown = human_line(&v.to_string());
        assert!(
            !shown.contains('\u{7}') && !shown.contains('\n') && !shown.contains('\u{1b}'),
            "{shown:?}"
        );
        assert!(shown.contains(r"\u{1b}]0;owned\u{7}\u{1b}[2J"), "{shown:?}");
        assert!(shown.contains(r"via p\nq"), "{shown:?}");
        // Records of kinds this version does not know, and lines that are
        // not records at all, alike.
        let v = json!({"ts": "1.0", "event": "new_kind", "a": "x\u{1b}[31m"});
        assert!(!human_line(&v.to_string()).contains("\u{1b}[31m"));
        assert_eq!(human_line("junk\u{1b}[2J"), r"junk\u{1b}[2J");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc("0.000000"), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc("951782400.5"), "2000-02-29T00:00:00.500Z");
        assert_eq!(utc("1700000000.123456"), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc("junk"), "junk");
    }

    #[test]
    fn operations_read_as_one_line() {
        let v = json!({"ts": "1700000000.000001", "event": "operation", "pid": 7, "uid": 0,
            "op": "add", "local": "Z:", "remote": "\\\\acme\\s", "provider": "acme",
            "result": 0, "result_name": "WN_SUCCESS", "notified": true, "duration_us": 1500});
        assert_eq!(
            human_line(&v.to_string()),
            "2023-11-14T22:13:20.000Z operation add Z: \\\\acme\\s via acme -> WN_SUCCESS (1.5 ms)  [pid 7 uid 0]"
        );
    }

    #[test]
    fn journal_entries_give_back_their_record() {
        let rec = r#"{"ts":"1.0","event":"registry"}"#;
        let entry = json!({"MESSAGE": "x", "MPR_RECORD": rec}).to_string();
        assert_eq!(record_of_entry(entry.as_bytes()).as_deref(), Some(rec));
        let bytes: Vec<u8> = rec.bytes().collect();
        let entry = json!({"MPR_RECORD": bytes}).to_string();
        assert_eq!(record_of_entry(entry.as_bytes()).as_deref(), Some(rec));
        assert_eq!(record_of_entry(br#"{"MESSAGE":"not ours"}"#), None);
        assert_eq!(record_of_entry(b"junk"), None);
    }

    #[test]
    fn unknown_events_show_their_fields() {
        let v = json!({"ts": "1.0", "event": "new_kind", "a": 1, "b": "x"});
        let shown = human_line(&v.to_string());
        assert!(shown.ends_with("new_kind  a=1 b=x"), "{shown}");
    }
}
