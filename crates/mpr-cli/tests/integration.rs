//! The `mpr` command tested as users and plugin authors use it.

mod bad_input;
mod capi;
mod contract;
mod crash;
mod credentials;
mod docs_links;
mod isolation;
mod journal;
mod journald;
mod output;
mod providers_common;
mod readme;
mod registry;
mod samples;
mod sdk;
mod selection;
mod servers;
mod sftp;
mod smb_dav;
mod stress;
mod terminal;
mod trust;
mod tty;
mod util;
mod watch;
