//! Results for people (tables, one-line messages, colour on a terminal) and
//! for programs (one JSON object per invocation on standard output, see
//! docs/json.md), and the report of every error ([`Out::failure`] for a
//! `WN_*` failure, [`report`] for the others).

use crate::args::ColorChoice;
use crate::error::{CliError, exit_code};
use mpr_core::{WnError, lasterror};
use serde_json::{Map, Value, json};
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

/// The version of the JSON objects printed with `--json`.
pub const JSON_VERSION: u32 = 1;

/// Whether each stream is coloured, decided once in `main`.
static COLORS: OnceLock<(bool, bool)> = OnceLock::new();

/// Decides colour for stdout and stderr: `always`, `never`, or (`auto`)
/// each stream that is a terminal when `NO_COLOR` is unset or empty.
pub fn init_color(choice: ColorChoice) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    let auto = |tty: bool| tty && !no_color && !dumb;
    let pair = match choice {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto => (
            auto(std::io::stdout().is_terminal()),
            auto(std::io::stderr().is_terminal()),
        ),
    };
    let _ = COLORS.set(pair);
}

/// A colour (an SGR code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No styling.
    Plain,
    /// Bold red: errors, failures.
    Red,
    /// Green: success.
    Green,
    /// Yellow: warnings, hints.
    Yellow,
    /// Dim: secondary information.
    Dim,
    /// Bold: headers.
    Bold,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Red => "1;31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Dim => "2",
            Style::Bold => "1",
        }
    }
}

/// Which stream a text is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Whether `stream` is coloured.
pub fn colored(stream: Stream) -> bool {
    let (o, e) = COLORS.get().copied().unwrap_or((false, false));
    match stream {
        Stream::Stdout => o,
        Stream::Stderr => e,
    }
}

/// `text` in `style` when `stream` is coloured, else as it is.
pub fn paint(stream: Stream, style: Style, text: &str) -> String {
    if style == Style::Plain || !colored(stream) {
        text.to_string()
    } else {
        format!("\x1b[{}m{text}\x1b[0m", style.sgr())
    }
}

/// The first error writing standard output, if any ([`stdout_status`]).
static STDOUT_ERROR: OnceLock<std::io::Error> = OnceLock::new();

/// Writes a line to stdout. A failure is remembered for [`stdout_status`]
/// rather than returned: output is written from many places, and what the
/// failure means is decided once, at the end.
pub fn stdout_line(s: &str) {
    let mut line = String::with_capacity(s.len() + 1);
    line.push_str(s);
    line.push('\n');
    stdout_bytes(line.as_bytes());
}

/// Writes bytes to stdout and flushes, remembering a failure like
/// [`stdout_line`].
pub fn stdout_bytes(b: &[u8]) {
    if STDOUT_ERROR.get().is_some() {
        return;
    }
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(b).and_then(|()| o.flush()) {
        let _ = STDOUT_ERROR.set(e);
    }
}

/// How writing standard output went: a closed pipe (its reader went away,
/// as with `mpr use | head -1`) is [`CliError::BrokenPipe`], any other
/// failure (a full disk) an internal error.
pub fn stdout_status() -> Result<(), CliError> {
    match STDOUT_ERROR.get() {
        None => Ok(()),
        Some(e) => Err(stdout_error(e)),
    }
}

fn stdout_error(e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::BrokenPipe
    } else {
        CliError::Internal(anyhow::anyhow!("cannot write to standard output: {e}"))
    }
}

/// Prints `mpr: warning: TEXT` on stderr.
pub fn warn(text: &str) {
    eprintln!(
        "{} {text}",
        paint(Stream::Stderr, Style::Yellow, "mpr: warning:")
    );
}

/// Prints the error line `mpr: error CODE (NAME): MESSAGE` on stderr.
pub fn error_line(e: WnError, message: &str) {
    let head = format!("error {} ({})", e.code(), e.name());
    eprintln!(
        "mpr: {}: {message}",
        paint(Stream::Stderr, Style::Red, &head)
    );
}

/// Prints a usage or configuration error (exit 2) on stderr.
pub fn usage_line(message: &str) {
    eprintln!("mpr: {}", paint(Stream::Stderr, Style::Red, message));
}

/// Prints `hint: TEXT` on stderr.
pub fn hint_line(text: &str) {
    eprintln!("{} {text}", paint(Stream::Stderr, Style::Yellow, "hint:"));
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

/// The fields of a JSON object (an empty map for anything else).
pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// One JSON object on stdout instead of human text.
    pub json: bool,
}

impl Out {
    /// Prints a success object (JSON) or runs `human`.
    pub fn success(
        &self,
        fields: Map<String, Value>,
        human: impl FnOnce(),
    ) -> Result<(), CliError> {
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
        Ok(())
    }

    /// Reports a `WN_*` failure: a line on stderr (plus a hint), and with
    /// `--json` the error object on stdout. Returns the reported
    /// [`CliError::Wn`] (exit status 1) for the verb to return.
    pub fn failure(&self, e: WnError) -> CliError {
        self.failure_with_hint(e, hint_for(e))
    }

    /// Like [`Out::failure`] with a hint of the caller's.
    pub fn failure_with_hint(&self, e: WnError, hint: Option<&str>) -> CliError {
        let message = message_for(e);
        error_line(e, &message);
        if !self.json
            && let Some(h) = hint
        {
            hint_line(h);
        }
        if self.json {
            stdout_line(&error_object(e, &message).to_string());
        }
        CliError::Wn(e)
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

/// One cell of a [`Table`].
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    /// A plain cell.
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::Plain,
        }
    }

    /// A styled cell.
    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }
}

/// A table for people on stdout: a header, a rule, aligned columns (two
/// spaces apart, the last one not padded); colour is added after padding so
/// that it never disturbs the alignment.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as headers).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// The lines of the table.
    pub fn render(&self, stream: Stream) -> Vec<String> {
        let n = self.headers.len();
        let width = |i: usize| {
            self.rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.text.chars().count())
                .chain(std::iter::once(self.headers[i].chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..n).map(width).collect();
        let line = |cells: Vec<(String, Style)>| {
            let mut s = String::new();
            for (i, (text, style)) in cells.into_iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let padded = if i + 1 < n {
                    format!("{text:<w$}", w = widths[i])
                } else {
                    text
                };
                // Colour the text, not the padding.
                let pad = padded.len() - padded.trim_end_matches(' ').len();
                let core = &padded[..padded.len() - pad];
                s.push_str(&paint(stream, style, core));
                s.push_str(&" ".repeat(pad));
            }
            s.trim_end().to_string()
        };
        let mut out = vec![line(
            self.headers
                .iter()
                .map(|h| (h.clone(), Style::Bold))
                .collect(),
        )];
        let total: usize = widths.iter().sum::<usize>() + 2 * n.saturating_sub(1);
        out.push("-".repeat(total));
        for r in &self.rows {
            out.push(line(r.iter().map(|c| (c.text.clone(), c.style)).collect()));
        }
        out
    }

    /// Prints the table on stdout.
    pub fn print(&self) {
        for l in self.render(Stream::Stdout) {
            stdout_line(&l);
        }
    }
}

/// Reports an error that is not a `WN_*` failure (those are reported by
/// [`Out::failure`], which has the verb's context): a line on stderr and,
/// with `--json`, one object on stdout with the nearest `WN_*` code
/// ([`CliError::json_code`]) and the exit status (`"exit"`).
pub fn report(e: &CliError, json: bool) {
    match e {
        // Reported by the verb, or nothing to report.
        CliError::Wn(_) | CliError::BrokenPipe | CliError::Interrupted(_) => return,
        CliError::Clap(c) => {
            let _ = c.print();
            if !c.use_stderr() {
                return; // --help, --version: not an error.
            }
        }
        CliError::Usage(_)
        | CliError::Config(_)
        | CliError::Environment(_)
        | CliError::Keyring(_)
        | CliError::Internal(_) => usage_line(&e.to_string()),
    }
    if json {
        stdout_line(&error_json(e).to_string());
    }
}

/// The JSON object of an error that is not a `WN_*` failure.
fn error_json(e: &CliError) -> Value {
    let code = e.json_code();
    let exit = exit_code(Some(e));
    json!({"version": JSON_VERSION, "code": code.code(), "name": code.name(), "message": e.to_string(), "exit": exit})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_leaves_the_last_unpadded() {
        let mut t = Table::new(&["A", "Long header", "Z"]);
        t.row(vec![Cell::new("xxxx"), Cell::new("y"), Cell::new("last")]);
        let lines = t.render(Stream::Stdout);
        assert_eq!(lines[0], "A     Long header  Z");
        assert_eq!(lines[1], "-".repeat(4 + 2 + 11 + 2 + 4));
        assert_eq!(lines[2], "xxxx  y            last");
    }

    #[test]
    fn plain_style_is_never_escaped() {
        assert_eq!(paint(Stream::Stdout, Style::Plain, "x"), "x");
    }
}
