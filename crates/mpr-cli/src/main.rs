//! `mpr`: `net use` for Linux. This binary is glue: it parses the command
//! line, resolves directories from the environment, assembles a router from
//! `mpr.toml`, runs one operation and prints the result.
//!
//! Modules: [`args`] (the clap definition: help, man page and completions),
//! [`commands`] (the connection verbs, and the dispatch of every verb),
//! [`registry`] (`notifyee` and `provider`), [`watch`] (following the
//! journal), [`generate`] (man page and completions), [`output`] (tables,
//! colour, JSON, error reports), [`progress`] (the spinner), [`credentials`]
//! (passwords), [`cred`] (saved credentials in the keyring), [`agent`] (the
//! per-user service), [`error`] (how a command fails).
//!
//! Every verb returns `Result<(), CliError>`; the exit status is decided in
//! one place, [`error::exit_code`], from the type of the error: 0 success,
//! 1 a `WN_*` failure, 2 a usage or configuration error, 3 an internal
//! error, 128 + signal when a signal ends the password prompt.
#![forbid(unsafe_code)]

mod agent;
mod args;
mod commands;
mod cred;
mod credentials;
mod error;
mod generate;
mod output;
mod progress;
mod registry;
mod watch;

use clap::Parser;
use error::CliError;
use std::process::ExitCode;

// `watch` still names the usage error from the crate root.
pub use error::UsageError;

// The provider-facing exports (WNetSetLastErrorW/A) live in mpr-loader; the
// build script keeps them in the executable's dynamic symbol table.
use mpr_loader as _;

fn main() -> ExitCode {
    // With --json, even a usage or configuration error is one JSON object
    // on standard output (spec §9), besides the line on standard error.
    let json = std::env::args_os().any(|a| a == "--json");
    let outcome = run().and_then(|()| output::stdout_status());
    if let Err(e) = &outcome {
        output::report(e, json);
    }
    ExitCode::from(error::exit_code(outcome.as_ref().err()))
}

/// Parses the command line and runs the verb. A panic (a bug) becomes an
/// internal error, so that `--json` still prints its one object.
fn run() -> Result<(), CliError> {
    let cli = args::Cli::try_parse().map_err(CliError::Clap)?;
    output::init_color(cli.color);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commands::run(cli))).unwrap_or_else(
        |panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(CliError::Internal(anyhow::anyhow!("a bug: {what}")))
        },
    )
}
