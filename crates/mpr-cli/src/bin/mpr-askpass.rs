//! `mpr-askpass`: the program `mpr-fsd` names in `SSH_ASKPASS` when an
//! SFTP connection has a password. It answers ssh's password prompt with
//! what `mpr-fsd` tells it over a private socket, and nothing else. All of
//! it is in the `mpr-sftp` crate (`askpass`); it is a binary of this
//! package so that every build of `mpr` builds it beside `mpr-fsd`, where
//! `mpr-fsd` looks for it.

fn main() -> std::process::ExitCode {
    mpr_sftp::askpass::main()
}
