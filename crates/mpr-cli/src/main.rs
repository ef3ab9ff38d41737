//! `mpr`: `net use` for Linux. This binary is glue: it parses the command
//! line, resolves directories from the environment, assembles a router from
//! `mpr.toml`, runs one operation and prints the result.
//!
//! Modules: [`args`] (the clap definition: help, man page and completions),
//! [`commands`] (the connection verbs), [`registry`] (`notifyee` and
//! `provider`), [`watch`] (following the journal), [`generate`] (man page
//! and completions), [`output`] (tables, colour, JSON, error lines),
//! [`progress`] (the spinner), [`credentials`] (passwords).
//!
//! Exit codes are decided in one place, [`main`]: 0 success, 1 a `WN_*`
//! failure (the verbs return it), 2 a usage or configuration error (clap's
//! errors and every `Err` that reaches `main`).
#![forbid(unsafe_code)]

mod args;
mod commands;
mod credentials;
mod generate;
mod output;
mod progress;
mod registry;
mod watch;

use clap::Parser;
use std::process::ExitCode;

// The provider-facing exports (WNetSetLastErrorW/A) live in mpr-loader; the
// build script keeps them in the executable's dynamic symbol table.
use mpr_loader as _;

/// A failure that is not a `WN_*` result: usage or configuration (exit 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Exit status of a usage or configuration error.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    // With --json, even a usage or configuration error is one JSON object
    // on standard output (spec §9), besides the line on standard error.
    let json = std::env::args_os().any(|a| a == "--json");
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            if json {
                let first = e
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_string();
                output::usage_json(mpr_core::WnError::BadValue, &first);
            }
            return ExitCode::from(USAGE);
        }
    };
    output::init_color(cli.color);
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let message = format!("{e:#}");
            output::usage_line(&message);
            if json {
                // A malformed mpr.toml is the WNet "bad profile".
                let code = if message.starts_with("configuration error") {
                    mpr_core::WnError::BadProfile
                } else {
                    mpr_core::WnError::BadValue
                };
                output::usage_json(code, &message);
            }
            ExitCode::from(USAGE)
        }
    }
}
