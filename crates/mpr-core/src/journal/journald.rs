//! The journald sink: each record is one entry of the system journal, sent
//! with systemd-journald's documented native protocol (one datagram of
//! `KEY=VALUE` lines on its `AF_UNIX` socket; the binary length form for a
//! value holding a newline; a sealed memfd passed with `SCM_RIGHTS` for an
//! entry too large for one datagram).
//!
//! Every entry carries `MESSAGE` (the event in words, as `mpr watch` shows
//! it), `MESSAGE_ID` (stable per event kind: [`MESSAGE_IDS`]), `PRIORITY`
//! ([`priority`]), `SYSLOG_IDENTIFIER=mpr`, one `MPR_<FIELD>` per field of
//! the record (`MPR_OP_ID`, `MPR_RESULT_NAME`, `MPR_NOTIFYEE`, ...), and the
//! whole record as one JSON line in `MPR_RECORD`, from which `mpr watch`
//! rebuilds the typed record exactly. docs/audit.md lists them.

use crate::event::{Event, Record};
use std::fmt;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The `SYSLOG_IDENTIFIER` of every entry (`journalctl -t mpr`).
pub const SYSLOG_IDENTIFIER: &str = "mpr";

/// The field holding the whole record as one JSON line.
pub const RECORD_FIELD: &str = "MPR_RECORD";

/// The `MESSAGE_ID` of each audited event kind: random 128-bit ids, fixed
/// for good (journald's catalog convention), as 32 lowercase hex digits.
pub const MESSAGE_IDS: &[(&str, &str)] = &[
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

/// How long a send may block on a journald that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// The `MESSAGE_ID` of an event kind ([`Event::kind`]), if it is audited.
pub fn message_id(kind: &str) -> Option<&'static str> {
    MESSAGE_IDS
        .iter()
        .find_map(|&(k, id)| (k == kind).then_some(id))
}

/// A syslog priority, as journald's `PRIORITY` field takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// 4: a notifyee crashed, timed out or was refused by the trust checks;
    /// the retry bound was reached; an attempt of the agent to repair a
    /// connection failed.
    Warning = 4,
    /// 5: an operation, provider call or notification that did not succeed
    /// (a failure, a veto, a retry request); a change of the registry; a
    /// connection repaired by the agent.
    Notice = 5,
    /// 6: a success.
    Info = 6,
    /// 7: progress (never audited).
    Debug = 7,
}

/// The priority of an event's entry.
pub fn priority(event: &Event) -> Priority {
    let by_result = |ok: bool| if ok { Priority::Info } else { Priority::Notice };
    match event {
        Event::Operation(o) => by_result(o.result == mpr_abi::WN_SUCCESS),
        Event::ProviderStart(_) => Priority::Debug,
        Event::Provider(p) => by_result(p.result == mpr_abi::WN_SUCCESS),
        Event::Notify(n) if n.failure.is_some() => Priority::Warning,
        Event::Notify(n) => by_result(n.result.is_none_or(|r| r == mpr_abi::WN_SUCCESS)),
        Event::Refused(_) | Event::RetryLimit(_) => Priority::Warning,
        Event::Registry(_) | Event::Repair(_) => Priority::Notice,
        Event::RepairFailed(_) | Event::Conflict(_) => Priority::Warning,
    }
}

/// Why an entry could not be sent.
#[derive(Debug)]
pub enum JournaldError {
    /// The record could not be encoded as JSON.
    Encode(serde_json::Error),
    /// No datagram socket could be made.
    Socket(std::io::Error),
    /// journald did not take the entry.
    Send(std::io::Error),
}

impl fmt::Display for JournaldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournaldError::Encode(e) => write!(f, "cannot encode the record: {e}"),
            JournaldError::Socket(e) => write!(f, "cannot make a socket: {e}"),
            JournaldError::Send(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for JournaldError {}

/// The journal field of a record field: `MPR_` and its name in capitals
/// (`v`, the schema version, is `MPR_SCHEMA_VERSION`).
fn field_name(key: &str) -> String {
    match key {
        "v" => "MPR_SCHEMA_VERSION".to_string(),
        k => format!("MPR_{}", k.to_ascii_uppercase()),
    }
}

/// Whether journald accepts `name` as a field name: capitals, digits and
/// `_`, not starting with `_` (those are journald's own), at most 64.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('_')
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The fields of the journal entry of `record`, in order.
pub fn fields(record: &Record<&Event>) -> Result<Vec<(String, String)>, JournaldError> {
    let event = record.event;
    let line = serde_json::to_string(record).map_err(JournaldError::Encode)?;
    let value = serde_json::to_value(record).map_err(JournaldError::Encode)?;
    let mut out = vec![
        (
            "MESSAGE".to_string(),
            format!("{} {}", event.kind(), event.summary()),
        ),
        ("PRIORITY".to_string(), (priority(event) as u8).to_string()),
        (
            "SYSLOG_IDENTIFIER".to_string(),
            SYSLOG_IDENTIFIER.to_string(),
        ),
    ];
    if let Some(id) = message_id(event.kind()) {
        out.push(("MESSAGE_ID".to_string(), id.to_string()));
    }
    if let serde_json::Value::Object(m) = value {
        for (k, v) in m {
            let text = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            let name = field_name(&k);
            if valid_name(&name) {
                out.push((name, text));
            }
        }
    }
    out.push((RECORD_FIELD.to_string(), line));
    Ok(out)
}

/// The datagram of `fields`: `KEY=VALUE\n`, or for a value holding a
/// newline `KEY\n`, its length as 64-bit little endian, the value, `\n`.
pub fn encode(fields: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(k.as_bytes());
        if v.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Sends records to the journald socket at a path.
#[derive(Debug)]
pub struct JournaldSink {
    socket: PathBuf,
    conn: std::io::Result<UnixDatagram>,
    warned: AtomicBool,
}

impl JournaldSink {
    /// A sink sending to `socket` (normally
    /// [`DEFAULT_JOURNAL_SOCKET`](super::DEFAULT_JOURNAL_SOCKET)).
    pub fn new(socket: PathBuf) -> JournaldSink {
        let conn = UnixDatagram::unbound().and_then(|s| {
            s.set_write_timeout(Some(SEND_TIMEOUT))?;
            Ok(s)
        });
        JournaldSink {
            socket,
            conn,
            warned: AtomicBool::new(false),
        }
    }

    /// The socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `record`. A failure is reported on stderr once per sink (a
    /// journald that is missing or stuck would otherwise print one warning
    /// per event) and does not fail the operation.
    pub fn send(&self, record: &Record<&Event>) {
        if let Err(e) = self.try_send(record)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "mpr: warning: cannot send audit records to the system journal at {}: {e}",
                self.socket.display()
            );
        }
    }

    /// Sends `record`, or says why it could not.
    pub fn try_send(&self, record: &Record<&Event>) -> Result<(), JournaldError> {
        let payload = encode(&fields(record)?);
        let conn = self
            .conn
            .as_ref()
            .map_err(|e| JournaldError::Socket(std::io::Error::new(e.kind(), e.to_string())))?;
        match conn.send_to(&payload, &self.socket) {
            Ok(_) => Ok(()),
            // Too large for one datagram: hand journald a sealed memfd.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(90 /* EMSGSIZE */ | 105 /* ENOBUFS */)
                ) =>
            {
                send_memfd(conn, &self.socket, &payload).map_err(JournaldError::Send)
            }
            Err(e) => Err(JournaldError::Send(e)),
        }
    }
}

/// Sends `payload` as a sealed memfd (journald's way for large entries).
fn send_memfd(conn: &UnixDatagram, socket: &Path, payload: &[u8]) -> std::io::Result<()> {
    use rustix::fs::{MemfdFlags, SealFlags, fcntl_add_seals, memfd_create};
    use rustix::net::{
        SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix, sendmsg_addr,
    };
    let fd = memfd_create(
        "mpr-journal",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let mut file = std::fs::File::from(fd);
    file.write_all(payload)?;
    fcntl_add_seals(
        &file,
        SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
    )?;
    let addr = SocketAddrUnix::new(socket)?;
    let fds = [file.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(std::io::Error::other("no room for the memfd"));
    }
    sendmsg_addr(conn, &addr, &[], &mut control, SendFlags::empty())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Isolation, Policy};
    use crate::event::{NotifyEvent, OpKind, OperationEvent, RefusedEvent};
    use crate::plugin::Phase;

    fn op(result: u32, message: Option<&str>) -> Event {
        Event::Operation(OperationEvent {
            op_id: "42-1".into(),
            op: OpKind::Add,
            local: "Z:".into(),
            remote: r"\\h\s".into(),
            user: "alice".into(),
            provider: "sftp".into(),
            result,
            result_name: crate::status_name(result).into(),
            notified: true,
            duration_us: 1500,
            message: message.map(str::to_string),
        })
    }

    fn get<'a>(f: &'a [(String, String)], k: &str) -> &'a str {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k} in {f:?}"))
    }

    /// Splits a datagram back into its fields (the inverse of [`encode`]).
    fn decode(mut b: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let nl = b.iter().position(|&c| c == b'\n').unwrap();
            let line = &b[..nl];
            if let Some(eq) = line.iter().position(|&c| c == b'=') {
                out.push((
                    String::from_utf8(line[..eq].to_vec()).unwrap(),
                    String::from_utf8(line[eq + 1..].to_vec()).unwrap(),
                ));
                b = &b[nl + 1..];
            } else {
                let len = u64::from_le_bytes(b[nl + 1..nl + 9].try_into().unwrap()) as usize;
                let v = &b[nl + 9..nl + 9 + len];
                assert_eq!(b[nl + 9 + len], b'\n');
                out.push((
                    String::from_utf8(line.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ));
                b = &b[nl + 10 + len..];
            }
        }
        out
    }

    #[test]
    fn message_ids_are_distinct_128_bit_lowercase_hex_for_every_audited_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for (kind, id) in MESSAGE_IDS {
            assert_eq!(id.len(), 32, "{kind}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert!(seen.insert(*id), "{kind} shares its id");
        }
        for kind in [
            "operation",
            "provider",
            "notify",
            "refused",
            "retry_limit",
            "registry",
        ] {
            assert!(message_id(kind).is_some(), "{kind}");
        }
        assert_eq!(message_id("provider_start"), None);
    }

    #[test]
    fn an_operation_has_its_fields_its_words_and_its_record() {
        let e = op(0, None);
        let r = Record::now(&e);
        let f = fields(&r).unwrap();
        assert_eq!(get(&f, "SYSLOG_IDENTIFIER"), "mpr");
        assert_eq!(get(&f, "MESSAGE_ID"), "d90fd742f925433fa2ac81ad55ba6cb0");
        assert_eq!(get(&f, "PRIORITY"), "6");
        assert_eq!(
            get(&f, "MESSAGE"),
            r"operation add Z: \\h\s via sftp -> WN_SUCCESS (1.5 ms)"
        );
        for (k, v) in [
            ("MPR_EVENT", "operation"),
            ("MPR_OP_ID", "42-1"),
            ("MPR_OP", "add"),
            ("MPR_LOCAL", "Z:"),
            ("MPR_REMOTE", r"\\h\s"),
            ("MPR_USER", "alice"),
            ("MPR_PROVIDER", "sftp"),
            ("MPR_RESULT", "0"),
            ("MPR_RESULT_NAME", "WN_SUCCESS"),
            ("MPR_NOTIFIED", "true"),
            ("MPR_DURATION_US", "1500"),
            ("MPR_SCHEMA_VERSION", "1"),
        ] {
            assert_eq!(get(&f, k), v, "{k}");
        }
        assert_eq!(get(&f, "MPR_UID"), r.uid.to_string());
        assert_eq!(get(&f, "MPR_PID"), r.pid.to_string());
        let back: Record = serde_json::from_str(get(&f, RECORD_FIELD)).unwrap();
        assert_eq!((&back.event, &back.ts), (&e, &r.ts));
        assert!(f.iter().all(|(k, _)| valid_name(k)), "{f:?}");
        assert_eq!(decode(&encode(&f)), f);
    }

    #[test]
    fn values_with_newlines_use_the_length_form() {
        let e = op(1326, Some("first line\nsecond line"));
        let f = fields(&Record::now(&e)).unwrap();
        assert_eq!(get(&f, "MPR_MESSAGE"), "first line\nsecond line");
        assert_eq!(get(&f, "PRIORITY"), "5");
        let bytes = encode(&f);
        let needle = b"MPR_MESSAGE\n\x16\0\0\0\0\0\0\0first line\nsecond line\n";
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        assert_eq!(decode(&bytes), f);
    }

    #[test]
    fn priorities_follow_the_outcome() {
        let notify = |result: Option<u32>, failure: Option<&str>| {
            Event::Notify(NotifyEvent {
                op_id: "x".into(),
                op: OpKind::Add,
                round: 0,
                notifyee: "audit".into(),
                phase: Phase::Pre,
                status_in: 0,
                context: false,
                isolation: Isolation::Process,
                policy: Policy::Veto,
                duration_us: 3,
                result,
                result_name: result.map(|r| crate::status_name(r).to_string()),
                failure: failure.map(str::to_string),
                decision: None,
            })
        };
        assert_eq!(priority(&op(0, None)), Priority::Info);
        assert_eq!(priority(&op(1223, None)), Priority::Notice);
        assert_eq!(priority(&notify(Some(0), None)), Priority::Info);
        assert_eq!(priority(&notify(Some(1223), None)), Priority::Notice);
        assert_eq!(priority(&notify(None, Some("crash"))), Priority::Warning);
        let refused = Event::Refused(RefusedEvent {
            op_id: "x".into(),
            op: OpKind::Cancel,
            notifyee: "n".into(),
            path: "/n.so".into(),
            reason: "world-writable".into(),
            policy: Policy::Veto,
            decision: "vetoed".into(),
        });
        assert_eq!(priority(&refused), Priority::Warning);
    }

    #[test]
    fn entries_reach_a_listening_socket_small_and_large() {
        use std::io::Read;
        use std::os::fd::OwnedFd;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("socket");
        let server = UnixDatagram::bind(&path).unwrap();
        let sink = JournaldSink::new(path.clone());
        let e = op(0, None);
        sink.try_send(&Record::now(&e)).unwrap();
        let mut buf = vec![0; 65536];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(get(&decode(&buf[..n]), "MPR_LOCAL"), "Z:");

        // Larger than the socket's send buffer: a memfd.
        let big = "x".repeat(4 << 20);
        let e = op(1326, Some(&big));
        sink.try_send(&Record::now(&e)).unwrap();
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut one = [0u8; 16];
        recvmsg(
            &server,
            &mut [std::io::IoSliceMut::new(&mut one)],
            &mut control,
            RecvFlags::empty(),
        )
        .unwrap();
        let mut fd: Option<OwnedFd> = None;
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(mut fds) = m {
                fd = fds.next();
            }
        }
        // journald maps the file; the offset is where the sender left it.
        let mut text = Vec::new();
        let mut file = std::fs::File::from(fd.expect("a memfd"));
        std::io::Seek::rewind(&mut file).unwrap();
        file.read_to_end(&mut text).unwrap();
        assert_eq!(get(&decode(&text), "MPR_MESSAGE"), big);
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let sink = JournaldSink::new(PathBuf::from("/nonexistent/mpr-test-socket"));
        assert!(matches!(
            sink.try_send(&Record::now(&op(0, None))),
            Err(JournaldError::Send(_))
        ));
        // And send() only warns.
        sink.send(&Record::now(&op(0, None)));
    }
}
