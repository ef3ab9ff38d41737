//! `mpr-fsd`: mpr's file-system server, one per connection, started by the
//! built-in providers. All of it is in the `mpr-fsd` crate; it is a binary
//! of this package so that every build of `mpr` builds it beside `mpr`,
//! where the providers look first.

fn main() -> std::process::ExitCode {
    mpr_fsd::main()
}
