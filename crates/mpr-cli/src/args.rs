//! The command line, defined once (help, man page and completions come
//! from here).

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;

/// mpr connects network resources (SFTP, SMB, WebDAV and provider
/// libraries) to local names (`Z:` or a directory), and tells the
/// registered notifyees before and after every connect and disconnect, like
/// the Windows Multiple Provider Router.
#[derive(Debug, Parser)]
#[command(
    name = "mpr",
    version,
    about = "net use for Linux: connect network resources to local names"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect, disconnect or list connections (like `net use`).
    ///
    /// `mpr use Z: \\server\share` connects; `mpr use \\server\share` makes a
    /// connection without a local name; `mpr use '*' \\server\share` picks
    /// the highest free drive letter; `mpr use Z: --delete` disconnects;
    /// `mpr use` alone lists connections.
    Use(UseArgs),
    /// Show the remote name behind a local name (WNetGetConnection).
    Get {
        /// The local name, `Z:` or a directory.
        local: OsString,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// List connections, or the remembered ones.
    List {
        /// Only the remembered (persistent) connections.
        #[arg(long)]
        remembered: bool,
        /// Print one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Reconnect remembered connections (all, or one), without notifications.
    Restore {
        /// Only this local name.
        local: Option<OsString>,
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
    /// Use only this provider (key or display name).
    #[arg(long, value_name = "NAME")]
    pub provider: Option<OsString>,
    /// Connect as this user.
    #[arg(long, value_name = "USER")]
    pub user: Option<OsString>,
    /// Read the password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
    /// Remember the connection; `mpr restore` brings it back.
    #[arg(long, conflicts_with = "temporary")]
    pub persistent: bool,
    /// A temporary connection (CONNECT_TEMPORARY), never remembered.
    #[arg(long)]
    pub temporary: bool,
    /// Let the provider ask for credentials (CONNECT_INTERACTIVE).
    #[arg(long)]
    pub interactive: bool,
    /// Print one JSON object on standard output.
    #[arg(long)]
    pub json: bool,
}
