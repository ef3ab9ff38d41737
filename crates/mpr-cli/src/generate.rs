//! `mpr generate man|bash|zsh|fish`: the man page and the completion
//! scripts, from the same clap definition as `--help`. The committed
//! `docs/mpr.1` is this output; a test fails when it is stale.

use crate::args::{Cli, Generated};
use crate::error::CliError;
use crate::output::stdout_bytes;
use anyhow::Result;
use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};
use std::io::Write;

/// Writes what was asked for to standard output.
pub fn generate(what: Generated) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    match what {
        Generated::Man => out = man_page()?,
        Generated::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "mpr", &mut out)
        }
        Generated::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "mpr", &mut out)
        }
        Generated::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "mpr", &mut out)
        }
    }
    // How the write went is decided with the rest of the output.
    stdout_bytes(&out);
    Ok(())
}

/// The man page mpr(1): clap_mangen's sections for the command itself, a
/// COMMANDS section with every verb's synopsis, description and options,
/// then exit status, environment, files and examples.
pub fn man_page() -> Result<Vec<u8>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone()).manual("mpr manual");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    roff.to_writer(&mut out)?;
    for sub in cmd.get_subcommands() {
        verb(&mut out, sub)?;
    }
    extra_sections().to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(dedup_preamble(&out))
}

/// Every piece written by roff starts with the same two-line preamble
/// (defining the apostrophe string); one at the top is enough.
fn dedup_preamble(text: &[u8]) -> Vec<u8> {
    const PREAMBLE: [&str; 2] = [".ie \\n(.g .ds Aq \\(aq", ".el .ds Aq '"];
    let text = String::from_utf8_lossy(text);
    let mut seen = false;
    let mut out = String::with_capacity(text.len());
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == PREAMBLE[0] && lines.get(i + 1) == Some(&PREAMBLE[1]) {
            if !seen {
                out.push_str(lines[i]);
                out.push('\n');
                out.push_str(lines[i + 1]);
                out.push('\n');
                seen = true;
            }
            i += 2;
            continue;
        }
        out.push_str(lines[i]);
        out.push('\n');
        i += 1;
    }
    out.into_bytes()
}

/// One verb (and its sub-verbs): `.SS`, synopsis, description, options.
fn verb(out: &mut Vec<u8>, sub: &clap::Command) -> Result<()> {
    if sub.is_hide_set() {
        return Ok(());
    }
    if sub.has_subcommands() {
        for s in sub.get_subcommands() {
            verb(out, s)?;
        }
        return Ok(());
    }
    let name = sub
        .get_bin_name()
        .unwrap_or_else(|| sub.get_name())
        .to_string();
    let mut roff = Roff::new();
    roff.control("SS", [name.as_str()]);
    roff.to_writer(out)?;
    // The global options (--color, --help) are described once, above.
    let mut quiet = sub.clone().mut_arg("color", |a| a.hide(true));
    if quiet.get_arguments().any(|a| a.get_id() == "help") {
        quiet = quiet.mut_arg("help", |a| a.hide(true));
    }
    let man = clap_mangen::Man::new(quiet);
    let mut buf = Vec::new();
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    // Section headings become paragraphs inside this verb's sub-section.
    let text = String::from_utf8(buf)?;
    for line in text.lines() {
        match line {
            ".SH SYNOPSIS" | ".SH DESCRIPTION" => writeln!(out, ".PP")?,
            ".SH OPTIONS" => {
                writeln!(out, ".PP")?;
                writeln!(out, "Options:")?;
            }
            other => writeln!(out, "{other}")?,
        }
    }
    Ok(())
}

fn para(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.text([roman(text)]);
}

fn item(roff: &mut Roff, head: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(head)]);
    roff.text([roman(text)]);
}

fn extra_sections() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    item(&mut r, "0", "Success.");
    item(
        &mut r,
        "1",
        "A WN_* failure. Standard error shows `mpr: error CODE (NAME): message', and a hint where one helps; with --json the error object is on standard output.",
    );
    item(
        &mut r,
        "2",
        "A usage or configuration error (a bad option, a malformed mpr.toml, --interactive without a terminal).",
    );
    item(
        &mut r,
        "3",
        "An internal error: mpr itself failed (it could not write its output, or a bug), not the command or the configuration.",
    );
    item(
        &mut r,
        "130",
        "Interrupted (Ctrl-C) while asking for a password. mpr watch exits 0 on Ctrl-C, and every verb exits 0 when the reader of its output goes away.",
    );

    r.control("SH", ["ENVIRONMENT"]);
    item(
        &mut r,
        "MPR_CONFIG_DIR",
        "The system configuration directory (mpr.toml): default /etc/mpr.",
    );
    item(
        &mut r,
        "MPR_STATE_DIR",
        "Remembered connections (remembered.toml) and the audit journal (journal.jsonl): default $XDG_STATE_HOME/mpr, else ~/.local/state/mpr.",
    );
    item(
        &mut r,
        "MPR_RUNTIME_DIR",
        "Live connections and mount points without a local name: default $XDG_RUNTIME_DIR/mpr, else /tmp/mpr-UID.",
    );
    item(
        &mut r,
        "MPR_DRIVES_DIR",
        "Where drive letters are mounted (Z: is MPR_DRIVES_DIR/Z): default the user setting drives_dir, else ~/Network.",
    );
    item(
        &mut r,
        "MPR_JOURNAL_SOCKET",
        "systemd-journald's socket for the audit journal: default /run/systemd/journal/socket. With no [journal] sink in mpr.toml, records go there when it exists, else to journal.jsonl.",
    );
    item(
        &mut r,
        "XDG_CONFIG_HOME",
        "The per-user configuration is $XDG_CONFIG_HOME/mpr/mpr.toml (it may set drives_dir; plugins come only from the system file).",
    );
    item(
        &mut r,
        "NO_COLOR",
        "When set and not empty, --color=auto prints no colour.",
    );

    r.control("SH", ["FILES"]);
    item(
        &mut r,
        "/etc/mpr/mpr.toml",
        "Provider order, provider libraries, notifyees and the audit sink ([providers], [notifyees], [router], [journal]).",
    );
    item(
        &mut r,
        "$MPR_STATE_DIR/journal.jsonl",
        "The audit journal when its sink is the file (or both), one JSON object per line (mpr watch follows it). It never holds a password. With the system journal: journalctl -t mpr.",
    );
    item(
        &mut r,
        "$MPR_STATE_DIR/remembered.toml",
        "Remembered (persistent) connections, restored by mpr restore.",
    );

    r.control("SH", ["EXAMPLES"]);
    for (cmd, what) in [
        (
            "mpr use Z: '\\\\server\\share' --persistent",
            "Connect Z: and remember it.",
        ),
        (
            "printf '%s\\n' \"$PW\" | mpr use Z: '\\\\server\\share' --user bob --password-stdin",
            "Connect with a password read from standard input.",
        ),
        ("mpr use", "List the connections."),
        ("mpr use Z: --delete", "Disconnect Z: and forget it."),
        (
            "sudo mpr notifyee add audit /usr/lib/mpr/notifyees/libmpr_audit.so",
            "Register a notifyee.",
        ),
        ("mpr watch", "Follow the audit journal."),
    ] {
        r.control("TP", []);
        r.text([bold(cmd)]);
        r.text([roman(what)]);
    }
    para(
        &mut r,
        "To restore remembered connections at login and keep them alive, install dist/mpr-agent.service as a systemd user unit and enable it with `systemctl --user enable --now mpr-agent.service' (see docs/agent.md).",
    );

    r.control("SH", ["SEE ALSO"]);
    r.text([
        italic("docs/cli.md"),
        roman(", "),
        italic("docs/json.md"),
        roman(" and "),
        italic("docs/decisions.md"),
        roman(" in the mpr sources."),
    ]);
    r
}
