//! `mpr`: `net use` for Linux. This binary is glue: it parses the command
//! line, resolves directories from the environment, assembles a router from
//! `mpr.toml`, runs one operation and prints the result.

mod args;
mod commands;
mod output;

use clap::Parser;
use std::process::ExitCode;

// The provider-facing exports (WNetSetLastErrorW/A) live in mpr-ffi; the
// build script keeps them in the executable's dynamic symbol table.
use mpr_ffi as _;

/// A failure that is not a `WN_*` result: usage or configuration (exit 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mpr: {e:#}");
            ExitCode::from(2)
        }
    }
}
