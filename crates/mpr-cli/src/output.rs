//! Results for people (tables, one-line messages) and for programs (one
//! JSON object per invocation on standard output, see docs/json.md).

use mpr_core::{WnError, lasterror};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::process::ExitCode;

/// The version of the JSON objects printed with `--json`.
pub const JSON_VERSION: u32 = 1;

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// One JSON object on stdout instead of human text.
    pub json: bool,
}

/// Writes a line to stdout; a closed pipe is not an error (exit 0 later).
pub fn stdout_line(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{s}");
}

/// The message for a failure: the extended error's text when there is one.
pub fn message_for(e: WnError) -> String {
    match lasterror::get() {
        Some(d) if e == WnError::ExtendedError => {
            format!("{}: {} (provider error {})", d.provider, d.text, d.code)
        }
        Some(d) if !d.text.is_empty() => d.text,
        _ => e.to_string(),
    }
}

/// A hint for the errors where one helps.
fn hint_for(e: WnError) -> Option<&'static str> {
    Some(match e {
        WnError::AlreadyConnected => {
            "disconnect it first with `mpr use NAME --delete`, or pick another local name"
        }
        WnError::BadProvider => "`mpr provider list` shows the providers and their names",
        WnError::BadNetName => "remote names look like \\\\server\\share or sftp://host/path",
        WnError::BadLocalName => {
            "local names are a drive letter like Z: or an empty directory of yours"
        }
        WnError::NotConnected => "`mpr use` lists the connections",
        WnError::OpenFiles => "close the files, or add --force to disconnect anyway",
        WnError::ConnectionClosed => "`mpr restore` reconnects remembered connections",
        _ => return None,
    })
}

impl Out {
    /// Prints a success object (JSON) or runs `human`.
    pub fn success(&self, fields: Map<String, Value>, human: impl FnOnce()) -> ExitCode {
        if self.json {
            let mut obj = Map::new();
            obj.insert("version".into(), json!(JSON_VERSION));
            obj.insert("code".into(), json!(0));
            obj.insert("name".into(), json!("WN_SUCCESS"));
            obj.extend(fields);
            stdout_line(&Value::Object(obj).to_string());
        } else {
            human();
        }
        ExitCode::SUCCESS
    }

    /// Reports a `WN_*` failure: a line on stderr (plus a hint), and with
    /// `--json` the error object on stdout. Exit code 1.
    pub fn failure(&self, e: WnError) -> ExitCode {
        let message = message_for(e);
        eprintln!("mpr: error {} ({}): {message}", e.code(), e.name());
        if !self.json
            && let Some(h) = hint_for(e)
        {
            eprintln!("hint: {h}");
        }
        if self.json {
            stdout_line(&error_object(e, &message).to_string());
        }
        ExitCode::from(1)
    }
}

/// The JSON object of a failure.
pub fn error_object(e: WnError, message: &str) -> Value {
    let mut obj =
        json!({"version": JSON_VERSION, "code": e.code(), "name": e.name(), "message": message});
    if let Some(d) = lasterror::get()
        && e == WnError::ExtendedError
    {
        obj["extended"] = json!({"code": d.code, "text": d.text, "provider": d.provider});
    }
    obj
}
