//! The `mpr` command tested as users and plugin authors use it.

mod bad_input;
mod contract;
mod selection;
mod servers;
mod sftp;
mod smb_dav;
mod stress;
mod trust;
mod util;
