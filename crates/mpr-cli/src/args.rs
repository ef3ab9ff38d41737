//! The command line, defined once: `--help`, the man page (`mpr generate
//! man`) and the shell completions (`mpr generate bash|zsh|fish`) all come
//! from these definitions. A doc comment is the long help (`--help`); its
//! first line is the short help (`-h`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;

/// mpr connects network resources (SFTP, SMB, WebDAV and provider
/// libraries) to local names (`Z:` or a directory), and tells the
/// registered notifyees before and after every connect and disconnect, like
/// the Windows Multiple Provider Router behind `net use`.
///
/// Every verb takes --json and then prints exactly one JSON object on
/// standard output (see docs/json.md); human messages go to standard error.
/// Exit status: 0 success, 1 a WN_* failure (`mpr: error 85
/// (WN_ALREADY_CONNECTED): ...`), 2 a usage or configuration error, 3 an
/// internal error.
///
/// Environment: MPR_CONFIG_DIR (system configuration, default /etc/mpr),
/// MPR_STATE_DIR (remembered connections and the audit journal file, default
/// $XDG_STATE_HOME/mpr), MPR_RUNTIME_DIR (live connections, default
/// $XDG_RUNTIME_DIR/mpr), MPR_DRIVES_DIR (where drive letters are mounted,
/// default ~/Network), MPR_JOURNAL_SOCKET (systemd-journald's socket, default
/// /run/systemd/journal/socket), NO_COLOR (no colour when set and not empty).
#[derive(Debug, Parser)]
#[command(
    name = "mpr",
    version,
    about = "net use for Linux: connect network resources to local names",
    max_term_width = 100
)]
pub struct Cli {
    /// When to colour the output: auto (only on a terminal, and only when
    /// NO_COLOR is unset or empty), always, or never.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorChoice::Auto
    )]
    pub color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal when NO_COLOR is unset or empty.
    Auto,
    /// Always colour (also into pipes and files; beats NO_COLOR).
    Always,
    /// Never colour.
    Never,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect, disconnect or list connections (like `net use`).
    ///
    /// `mpr use Z: \\server\share` connects (WNetUseConnection: the
    /// registered notifyees are told before and after); `mpr use
    /// \\server\share` makes a connection without a local name; `mpr use '*'
    /// \\server\share` picks the highest free drive letter; `mpr use Z:
    /// --delete` disconnects; `mpr use` alone lists connections.
    ///
    /// A password is never taken from the command line: use --password-stdin
    /// in scripts, or --interactive to be asked on the terminal. A connect
    /// that takes longer than 300 ms shows a spinner on standard error when
    /// it is a terminal.
    Use(UseArgs),
    /// Show the remote name behind a local name (WNetGetConnection).
    ///
    /// Prints the remote name; a local name whose connection has gone away
    /// fails with WN_CONNECTION_CLOSED, one that is not connected with
    /// WN_NOT_CONNECTED.
    Get {
        /// The local name, `Z:` or a directory.
        local: OsString,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// List connections, or only the remembered ones.
    ///
    /// The Status column says OK (connected and alive), Reconnecting (its
    /// session is being re-established, or `mpr agent` is making it again),
    /// Unavailable (in the table, but its provider says it is gone) or
    /// Remembered (remembered, not connected now: `mpr restore` brings it
    /// back).
    List {
        /// Only the remembered (persistent) connections.
        #[arg(long)]
        remembered: bool,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Reconnect remembered connections (all, or one), without notifications.
    ///
    /// `mpr agent` does this at login (see dist/mpr-agent.service). Remembered
    /// connections are restored in parallel; one that is already connected
    /// is left as it is. Restoring sends no notifications (as on Windows).
    Restore {
        /// Only this local name.
        local: Option<OsString>,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// List, register or unregister connection notifyees.
    ///
    /// Notifyees are libraries exporting AddConnectNotify and/or
    /// CancelConnectNotify, registered in the system configuration
    /// ($MPR_CONFIG_DIR/mpr.toml, default /etc/mpr/mpr.toml) in `[notifyees]`.
    /// Registration order is file order; before an operation (PRE) they are
    /// called newest first, after it (POST) in registration order.
    #[command(subcommand)]
    Notifyee(NotifyeeCommand),
    /// List the network providers.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// List, save or delete saved credentials (like `cmdkey`).
    ///
    /// A saved credential is a password for one user on one server, kept in
    /// your keyring: the Secret Service of your desktop session
    /// (gnome-keyring, or KeePassXC with its Secret Service integration),
    /// never in a file of mpr's. `mpr use` and `mpr restore` take it when
    /// they connect to that server as that user through that provider and
    /// no password is given. `mpr use ... --savecred` saves one after a
    /// successful connect.
    ///
    /// A TARGET is the server as a URL without a path: `smb://host[:port]`,
    /// `sftp://host[:port]`, `dav://host[:port]` (WebDAV over HTTP),
    /// `davs://host[:port]` (over HTTPS), or `\\host[@port]` (SMB). It is
    /// printed in URL form, without the scheme's default port.
    #[command(subcommand)]
    Cred(CredCommand),
    /// Follow the audit journal live, like `tail -f`.
    ///
    /// Prints the last records (--lines, default 10), then every new record
    /// as other processes write them, one line per record, from the sink in
    /// use (`[journal] sink` in mpr.toml): the system journal through
    /// `journalctl` (mpr's records; a user's own unless run as root), or
    /// $MPR_STATE_DIR/journal.jsonl (which need not exist yet). With --json
    /// the records are printed as the file stores them, one JSON object per
    /// line.
    /// Stops with exit status 0 on Ctrl-C (SIGINT) or when the reader of its
    /// output goes away (SIGPIPE).
    Watch {
        /// Print the raw JSON records, one per line.
        #[arg(long)]
        json: bool,
        /// How many existing records to print first (0: only new ones).
        #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
        lines: usize,
    },
    /// Run the per-user agent: restore, watch and repair connections.
    ///
    /// Meant to run as the systemd user unit mpr-agent.service (Type=notify;
    /// see docs/agent.md), which it tells READY=1 as soon as it watches. At
    /// start it restores every remembered connection in the background, in
    /// parallel, with saved credentials (no notifications, as `mpr
    /// restore`). Then it looks at every live connection every 5 s, and at
    /// once when the network changes (an address or a route), and makes a
    /// remembered connection that died (its helper exited, its mount is gone
    /// or does not answer within 2 s) again, as a restore does; a failed
    /// attempt is tried again after 1 s, 2 s, 4 s, ... up to 60 s, and at
    /// once when its server answers again. Meanwhile `mpr use` lists it as
    /// Reconnecting with the reason and the next attempt. Each repair and
    /// failed attempt is an event of the audit journal (repair,
    /// repair_failed). One agent runs per user; it stops on SIGTERM, SIGINT
    /// or SIGHUP. It prints nothing on standard output (no --json).
    Agent,
    /// Print the man page or a shell completion script on standard output.
    ///
    /// `mpr generate man > mpr.1`, `mpr generate bash >
    /// /usr/share/bash-completion/completions/mpr`, `mpr generate zsh >
    /// /usr/share/zsh/vendor-completions/_mpr`, `mpr generate fish >
    /// /usr/share/fish/vendor_completions.d/mpr.fish`. They come from the
    /// same definitions as --help.
    Generate {
        /// What to generate.
        #[arg(value_enum)]
        what: Generated,
    },
}

/// `mpr generate WHAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    /// The man page, mpr(1), in roff.
    Man,
    /// Completions for bash.
    Bash,
    /// Completions for zsh.
    Zsh,
    /// Completions for fish.
    Fish,
}

/// `mpr notifyee ...`.
#[derive(Debug, Subcommand)]
pub enum NotifyeeCommand {
    /// List the registered notifyees in the order PRE calls them.
    ///
    /// PRE calls the newest registration first; POST calls them in the
    /// reverse order (registration order). Each row shows the library's
    /// path, its SHA-256, and the verdict of the trust checks and of loading
    /// it: ok, refused (with the reason; under the veto policy every connect
    /// and disconnect then fails with WN_ACCESS_DENIED) or ignored (it
    /// exports neither function). Listing loads the libraries, as a connect
    /// would.
    List {
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Register a notifyee library (appended: it becomes the first called in PRE).
    ///
    /// The library is checked first: it must pass the trust checks (owned by
    /// root, or by you when you are not root, and not group- or
    /// world-writable, nor any directory above it) and it must export
    /// AddConnectNotify and/or CancelConnectNotify (it is loaded once to
    /// check this). Then the entry is appended at the end of `[notifyees]` in
    /// the system mpr.toml, which is rewritten atomically with its comments
    /// and layout kept (and created if missing). Changing the system file
    /// needs root.
    Add {
        /// The registration name: letters, digits, '-', '_', '.'; at most 64.
        name: OsString,
        /// The library; a relative path is made absolute. `$VAR` and
        /// `${VAR}` are kept as written and expanded whenever the file is
        /// read (quote them from the shell).
        path: OsString,
        /// Run the library in the router's process (inprocess, the
        /// default) or in a helper process (process).
        #[arg(long, value_enum, value_name = "HOW")]
        isolation: Option<IsolationArg>,
        /// What the library's failures (refused, crash, timeout) do: veto
        /// (the default: the operation fails) or advisory (they are audited
        /// and ignored).
        #[arg(long, value_enum, value_name = "POLICY")]
        policy: Option<PolicyArg>,
        /// The deadline of one call under process isolation, in
        /// milliseconds (default 10000).
        #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout_ms: Option<u64>,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Unregister a notifyee (its entry is removed from the system mpr.toml).
    Remove {
        /// The registration name.
        name: OsString,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
}

/// `mpr cred ...`.
#[derive(Debug, Subcommand)]
pub enum CredCommand {
    /// List the saved credentials: target, provider and user (never the
    /// password).
    List {
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Save the password of a user on a server (replacing what was saved
    /// for them).
    Add {
        /// The server: `smb://host[:port]`, `sftp://...`, `dav://...`, `davs://...`
        /// or `\\host[@port]`.
        target: OsString,
        /// The user.
        #[arg(long, value_name = "USER")]
        user: OsString,
        /// Read the password from standard input (one line).
        #[arg(long, required_unless_present = "interactive")]
        password_stdin: bool,
        /// Ask for the password on the terminal, without echo.
        #[arg(long, conflicts_with = "password_stdin")]
        interactive: bool,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Delete what is saved for a server (for one user, or for all).
    ///
    /// Deleting what is not there is not an error: the result says how many
    /// credentials were deleted.
    Delete {
        /// The server, as for `mpr cred add`.
        target: OsString,
        /// Only this user's credential.
        #[arg(long, value_name = "USER")]
        user: Option<OsString>,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
}

/// `--isolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IsolationArg {
    /// In the router's process (faithful, fastest).
    Inprocess,
    /// In a helper process (a crash or hang cannot take the router down).
    Process,
}

/// `--policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// A failure of the library fails the operation.
    Veto,
    /// A failure of the library is audited and ignored.
    Advisory,
}

/// `mpr provider ...`.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// List the providers in the order they are tried.
    ///
    /// Shows each provider's key and display name (either selects it with
    /// `mpr use --provider`), its capabilities (NPGetCaps(WNNC_CONNECTION)
    /// decoded: add, add3, cancel, cancel2, get, ...), and where it comes
    /// from (built-in, or the library path). A provider refused by the trust
    /// checks or that could not be loaded is listed with the reason.
    List {
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
}

/// `mpr use`.
#[derive(Debug, Args)]
pub struct UseArgs {
    /// `[LOCAL] REMOTE` to connect; `LOCAL|REMOTE` with --delete; nothing to list.
    #[arg(value_name = "NAME", num_args = 0..=2)]
    pub names: Vec<OsString>,
    /// Disconnect the named connection (and forget it, unless --keep-remembered).
    #[arg(long, visible_alias = "d")]
    pub delete: bool,
    /// With --delete: disconnect even if files are open on it.
    #[arg(long, requires = "delete")]
    pub force: bool,
    /// With --delete: keep the remembered connection (it comes back on restore).
    #[arg(long, requires = "delete")]
    pub keep_remembered: bool,
    /// Use only this provider (key or display name, see `mpr provider list`).
    #[arg(long, value_name = "NAME")]
    pub provider: Option<OsString>,
    /// Connect as this user.
    #[arg(long, value_name = "USER")]
    pub user: Option<OsString>,
    /// Read the password from standard input (one line; it never appears in
    /// the process list, the journal or the state files).
    #[arg(long)]
    pub password_stdin: bool,
    /// Remember the connection; `mpr restore` brings it back.
    #[arg(long, conflicts_with = "temporary")]
    pub persistent: bool,
    /// A temporary connection (CONNECT_TEMPORARY), never remembered.
    #[arg(long)]
    pub temporary: bool,
    /// Ask for the password on the terminal, without echo
    /// (CONNECT_INTERACTIVE); an error when there is no terminal.
    #[arg(long, conflicts_with = "password_stdin")]
    pub interactive: bool,
    /// Save the password in your keyring after a successful connect, for
    /// this user on this server through the provider that connected (see
    /// `mpr cred`); later connects and restores take it. Needs --user and
    /// a password (--password-stdin or --interactive), and a Secret Service
    /// (gnome-keyring, KeePassXC), checked before anything is connected.
    #[arg(long, requires = "user", conflicts_with = "delete")]
    pub savecred: bool,
    /// Print one JSON object on standard output.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn color_is_global() {
        let c = Cli::try_parse_from(["mpr", "list", "--color", "never"]).unwrap();
        assert_eq!(c.color, ColorChoice::Never);
        let c = Cli::try_parse_from(["mpr", "--color=always", "list"]).unwrap();
        assert_eq!(c.color, ColorChoice::Always);
    }

    #[test]
    fn notifyee_add_takes_its_options() {
        let c = Cli::try_parse_from([
            "mpr",
            "notifyee",
            "add",
            "audit",
            "/x.so",
            "--isolation",
            "process",
            "--policy",
            "advisory",
        ])
        .unwrap();
        let Command::Notifyee(NotifyeeCommand::Add {
            isolation, policy, ..
        }) = c.command
        else {
            panic!("wrong verb");
        };
        assert_eq!(isolation, Some(IsolationArg::Process));
        assert_eq!(policy, Some(PolicyArg::Advisory));
        assert!(
            Cli::try_parse_from(["mpr", "notifyee", "add", "a", "/x", "--timeout-ms", "0"])
                .is_err()
        );
    }
}
