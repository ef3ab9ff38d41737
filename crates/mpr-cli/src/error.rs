//! How a command fails ([`CliError`]), and [`exit_code`], the one place
//! that turns the outcome of a command into the exit status:
//!
//! | outcome | status |
//! |---|---|
//! | success, or `--help` / `--version` | 0 |
//! | standard output closed by its reader (broken pipe) | 0 |
//! | a `WN_*` failure | 1 |
//! | a usage error, or an unusable configuration or environment | 2 |
//! | the keyring (Secret Service) is missing, locked or refuses | 2 |
//! | mpr's own failure: an I/O error writing its output, a bug | 3 |
//! | a signal while asking for a password (SIGINT) | 128 + signal (130) |
//!
//! The kind is decided by the type of the error where it arises, never by
//! the text of a message.

use mpr_core::WnError;
use std::fmt;

/// Exit status: success.
pub const SUCCESS: u8 = 0;
/// Exit status: a `WN_*` failure.
pub const WN_FAILURE: u8 = 1;
/// Exit status: a usage or configuration error (clap's own code for usage).
pub const USAGE: u8 = 2;
/// Exit status: an internal error of mpr (not the caller's input).
pub const INTERNAL: u8 = 3;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum CliError {
    /// The command line does not parse (clap's error), or asks for help or
    /// the version (clap "errors" that are not failures).
    Clap(clap::Error),
    /// The command line is wrong, or needs what is not there
    /// (`--interactive` without a terminal).
    Usage(String),
    /// A configuration file is malformed (the message names file and line).
    Config(String),
    /// The environment is unusable: no home directory, an unsafe runtime
    /// directory, the configuration file cannot be read or written.
    Environment(String),
    /// A `WN_*` failure. The verb has reported it already (the error line,
    /// the hint and the `--json` object need its context:
    /// `output::Out::failure` does that and returns this), so only the
    /// exit status is left.
    Wn(WnError),
    /// The keyring of saved credentials cannot be used (no Secret
    /// Service, locked, refused).
    Keyring(mpr_cred::CredError),
    /// A signal ended the password prompt (the terminal is restored).
    Interrupted(i32),
    /// The reader of standard output went away: not an error.
    BrokenPipe,
    /// mpr itself failed: an I/O error of its own (writing its output,
    /// setting up the terminal), or a bug. The chain says what and why.
    Internal(anyhow::Error),
}

impl CliError {
    /// The nearest `WN_*` code, for the JSON object of an error that is not
    /// a `WN_*` failure: `WN_BAD_PROFILE` for a malformed configuration
    /// file (as libmpr), `WN_NET_ERROR` (the generic failure) for an
    /// internal error, for the keyring `WN_NOT_SUPPORTED` when there is
    /// none, `WN_ACCESS_DENIED` when it is locked or refuses and
    /// `WN_NET_ERROR` for its other failures, `WN_BAD_VALUE` for
    /// everything else.
    pub fn json_code(&self) -> WnError {
        match self {
            CliError::Wn(e) => *e,
            CliError::Keyring(mpr_cred::CredError::NoService(_)) => WnError::NotSupported,
            CliError::Keyring(mpr_cred::CredError::Locked | mpr_cred::CredError::Denied(_)) => {
                WnError::AccessDenied
            }
            CliError::Keyring(mpr_cred::CredError::Other(_)) => WnError::NetError,
            CliError::Config(_) => WnError::BadProfile,
            CliError::Internal(_) => WnError::NetError,
            CliError::Clap(_)
            | CliError::Usage(_)
            | CliError::Environment(_)
            | CliError::Interrupted(_)
            | CliError::BrokenPipe => WnError::BadValue,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Clap(e) => {
                // Its first line, without clap's "error: ".
                let text = e.to_string();
                let first = text.lines().next().unwrap_or("");
                f.write_str(first.trim_start_matches("error: "))
            }
            CliError::Usage(m) | CliError::Config(m) | CliError::Environment(m) => f.write_str(m),
            CliError::Wn(e) => e.fmt(f),
            CliError::Keyring(e) => e.fmt(f),
            CliError::Interrupted(sig) => write!(f, "interrupted by signal {sig}"),
            CliError::BrokenPipe => f.write_str("standard output was closed"),
            CliError::Internal(e) => write!(f, "internal error: {e:#}"),
        }
    }
}

/// A usage or configuration error carried through `anyhow` (exit 2), for
/// code that returns `anyhow::Result`; [`CliError`]'s `From<anyhow::Error>`
/// finds it by type.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl From<anyhow::Error> for CliError {
    /// An `anyhow` error is internal unless it is a [`UsageError`].
    fn from(e: anyhow::Error) -> CliError {
        match e.downcast::<UsageError>() {
            Ok(UsageError(m)) => CliError::Usage(m),
            Err(e) => CliError::Internal(e),
        }
    }
}

impl From<mpr_setup::SetupError> for CliError {
    fn from(e: mpr_setup::SetupError) -> CliError {
        match e {
            mpr_setup::SetupError::Config(_) => CliError::Config(e.to_string()),
            mpr_setup::SetupError::Environment(m) => CliError::Environment(m),
        }
    }
}

/// The exit status of a command that ended with `error` (`None`: it
/// succeeded); the table in the module documentation.
pub fn exit_code(error: Option<&CliError>) -> u8 {
    let Some(e) = error else {
        return SUCCESS;
    };
    match e {
        CliError::Clap(c) if !c.use_stderr() => SUCCESS,
        CliError::BrokenPipe => SUCCESS,
        CliError::Wn(_) => WN_FAILURE,
        CliError::Clap(_)
        | CliError::Usage(_)
        | CliError::Config(_)
        | CliError::Environment(_)
        | CliError::Keyring(_) => USAGE,
        CliError::Internal(_) => INTERNAL,
        CliError::Interrupted(sig) => u8::try_from(128 + sig).unwrap_or(INTERNAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// A command line of its own, to get real clap errors.
    #[derive(Debug, Parser)]
    #[command(name = "t", version)]
    struct Args {
        #[arg(long)]
        n: u32,
    }

    fn clap_error(args: &[&str]) -> CliError {
        CliError::Clap(Args::try_parse_from(args).unwrap_err())
    }

    #[test]
    fn every_outcome_has_its_status() {
        let cases: Vec<(Result<(), CliError>, u8)> = vec![
            (Ok(()), 0),
            (Err(clap_error(&["t", "--help"])), 0),
            (Err(clap_error(&["t", "--version"])), 0),
            (Err(CliError::BrokenPipe), 0),
            (Err(CliError::Wn(WnError::AlreadyConnected)), 1),
            (Err(CliError::Wn(WnError::ExtendedError)), 1),
            (Err(clap_error(&["t", "--bogus"])), 2),
            (Err(clap_error(&["t", "--n", "many"])), 2),
            (Err(CliError::Usage("--delete takes one name".into())), 2),
            (Err(CliError::Config("/etc/mpr/mpr.toml:4: x".into())), 2),
            (Err(CliError::Environment("HOME is not set".into())), 2),
            (
                Err(CliError::Keyring(mpr_cred::CredError::NoService(
                    "no bus".into(),
                ))),
                2,
            ),
            (Err(CliError::Keyring(mpr_cred::CredError::Locked)), 2),
            (Err(CliError::Internal(anyhow::anyhow!("disk full"))), 3),
            (Err(CliError::Interrupted(2)), 130),
            (Err(CliError::Interrupted(15)), 143),
        ];
        for (outcome, want) in cases {
            assert_eq!(exit_code(outcome.as_ref().err()), want, "{outcome:?}");
        }
    }

    #[test]
    fn anyhow_errors_are_classified_by_type_not_text() {
        let usage = anyhow::Error::new(UsageError("no terminal".into()));
        assert!(matches!(CliError::from(usage), CliError::Usage(m) if m == "no terminal"));
        let wrapped = anyhow::Error::new(UsageError("bad".into())).context("while asking");
        assert!(matches!(CliError::from(wrapped), CliError::Usage(_)));
        // A message that reads like a usage error is still internal.
        let io = anyhow::anyhow!("configuration error: looks like one");
        let e = CliError::from(io);
        assert!(matches!(e, CliError::Internal(_)));
        assert_eq!(exit_code(Some(&e)), INTERNAL);
    }

    #[test]
    fn setup_errors_are_configuration_errors() {
        let config = mpr_setup::SetupError::Config(mpr_core::config::ConfigError {
            path: "/etc/mpr/mpr.toml".into(),
            line: Some(4),
            message: "expected a value".into(),
        });
        let e = CliError::from(config);
        assert!(matches!(e, CliError::Config(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "configuration error: /etc/mpr/mpr.toml:4: expected a value"
        );
        assert_eq!(e.json_code(), WnError::BadProfile);
        let env = CliError::from(mpr_setup::SetupError::Environment("HOME is not set".into()));
        assert!(matches!(env, CliError::Environment(_)), "{env:?}");
        assert_eq!(env.json_code(), WnError::BadValue);
        assert_eq!(exit_code(Some(&env)), USAGE);
    }

    #[test]
    fn json_codes_follow_the_kind() {
        assert_eq!(clap_error(&["t", "--bogus"]).json_code(), WnError::BadValue);
        assert_eq!(
            CliError::Internal(anyhow::anyhow!("x")).json_code(),
            WnError::NetError
        );
        assert_eq!(
            CliError::Wn(WnError::OpenFiles).json_code(),
            WnError::OpenFiles
        );
    }

    #[test]
    fn a_clap_error_shows_its_first_line() {
        let e = clap_error(&["t", "--bogus"]);
        assert_eq!(e.to_string(), "unexpected argument '--bogus' found");
    }
}
