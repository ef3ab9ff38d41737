//! Passwords: from standard input (`--password-stdin`) or asked on the
//! terminal without echo (`--interactive`); never from the command line or
//! the environment. Every copy is held in zeroized memory
//! ([`mpr_core::plugin::Secret`] and `Zeroizing` buffers).

use crate::error::{CliError, exit_code};
use anyhow::Context;
use mpr_core::plugin::Secret;
use mpr_core::router::MAX_CREDENTIAL_BYTES;
use std::io::{IsTerminal, Read, Write};
use zeroize::Zeroizing;

/// The longest password line read.
const MAX: u64 = 65_536;

/// Strips one trailing `\n` (or `\r\n`).
fn strip_newline(s: &str) -> &str {
    s.strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(s)
}

/// The password as a [`Secret`], or a usage error (exit 2) when it is
/// longer than the router accepts: it is refused whole, never cut short,
/// and before anything is connected or saved.
fn bounded(password: &str) -> Result<Secret, CliError> {
    if password.len() > MAX_CREDENTIAL_BYTES {
        return Err(CliError::Usage(format!(
            "the password is {} bytes long; at most {MAX_CREDENTIAL_BYTES} are accepted",
            password.len()
        )));
    }
    Ok(Secret::new(password.to_string()))
}

/// Reads the password from standard input: its first line (the rest is
/// ignored).
pub fn read_password_stdin() -> Result<Secret, CliError> {
    // Room for the whole input up front, so that growing the buffer leaves
    // no unwiped copy behind.
    let mut buf = Zeroizing::new(String::with_capacity(MAX as usize + 4096));
    std::io::stdin()
        .lock()
        .take(MAX)
        .read_to_string(&mut buf)
        .map_err(|e| {
            CliError::Usage(format!("cannot read the password from standard input: {e}"))
        })?;
    let first = buf.split_inclusive('\n').next().unwrap_or("");
    bounded(strip_newline(first))
}

/// Asks for a password on the terminal without echo. Without a terminal
/// this is a usage error (exit 2); a terminal that cannot be set up is an
/// internal one. Ctrl-C (or SIGTERM, SIGHUP, SIGQUIT) while asking restores
/// the terminal and ends the process with the status of
/// [`CliError::Interrupted`] (130 for Ctrl-C).
pub fn prompt_password(user: Option<&str>, remote: &str) -> Result<Secret, CliError> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "--interactive needs a terminal to ask for the password (use --password-stdin in scripts)"
                .into(),
        ));
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            CliError::Usage(format!(
                "--interactive needs a terminal to ask for the password, and /dev/tty cannot be opened ({e}); use --password-stdin in scripts"
            ))
        })?;
    let orig = tcgetattr(&tty).context("cannot read the terminal settings")?;
    let mut silent = orig.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    silent.local_modes.insert(LocalModes::ECHONL);

    // A signal while echo is off must not leave the terminal silent: a
    // thread restores it and ends the process as the signal would have.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])
        .context("cannot watch for signals")?;
    let handle = signals.handle();
    let restore_tty = tty.try_clone().context("cannot duplicate the terminal")?;
    let restore = orig.clone();
    let watcher = std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let _ = tcsetattr(&restore_tty, OptionalActions::Now, &restore);
            let mut w = &restore_tty;
            let _ = writeln!(w);
            // The main thread is blocked reading the terminal: end here.
            let status = exit_code(Some(&CliError::Interrupted(sig)));
            std::process::exit(i32::from(status));
        }
    });

    tcsetattr(&tty, OptionalActions::Now, &silent).context("cannot turn off echo")?;
    let prompt = match user {
        Some(u) => format!("Password for {u} on {remote}: "),
        None => format!("Password for {remote}: "),
    };
    let mut w = &tty;
    let _ = w.write_all(prompt.as_bytes());
    let _ = w.flush();
    let mut line = Zeroizing::new(Vec::with_capacity(MAX as usize));
    let read = read_line(&tty, &mut line);
    let _ = tcsetattr(&tty, OptionalActions::Now, &orig);
    handle.close();
    let _ = watcher.join();
    read.context("cannot read the password from the terminal")?;
    let text = std::str::from_utf8(&line)
        .map_err(|_| CliError::Usage("the password is not valid UTF-8".into()))?;
    bounded(strip_newline(text))
}

/// Reads up to and including a newline, byte by byte (no buffer that
/// could keep a copy), at most [`MAX`] bytes.
fn read_line(mut r: &std::fs::File, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut b = [0u8; 1];
    while (out.len() as u64) < MAX {
        match r.read(&mut b) {
            Ok(0) => break,
            Ok(_) => {
                out.push(b[0]);
                if b[0] == b'\n' {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    zeroize::Zeroize::zeroize(&mut b);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_newline_is_stripped() {
        assert_eq!(strip_newline("pw\n"), "pw");
        assert_eq!(strip_newline("pw\r\n"), "pw");
        assert_eq!(strip_newline("pw"), "pw");
        assert_eq!(strip_newline("pw \n\n"), "pw \n");
    }
}
