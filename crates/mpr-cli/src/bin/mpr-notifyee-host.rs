//! `mpr-notifyee-host`: runs one notifyee library for mpr under process
//! isolation (`isolation = "process"` in `mpr.toml`, spec §7.10).
//!
//! The router (the `mpr` command, or libmpr.so in a C program) starts it
//! with a socketpair as standard input, and it serves PRE and POST calls
//! until the router closes the channel. It is not meant to be run by hand.
//! All of it is [`mpr_loader::isolation::host_main`]; the `unsafe` code it
//! reaches (`dlopen`, the calls into the library) lives in `mpr-loader`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    mpr_loader::isolation::host_main()
}
