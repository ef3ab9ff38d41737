//! Gives libmpr.so its SONAME, `libmpr.so.0`, so that a C program linked
//! with `-lmpr` records the ABI it was built against (`DT_NEEDED
//! libmpr.so.0`) and keeps working when a compatible libmpr is installed in
//! its place. The number changes only when the C ABI of
//! `include/winnetwk.h` breaks; `make install` and the Debian package read
//! it back from the built library (`objdump -p`), so this is its only home.

/// The major version of the C ABI: the number in the SONAME.
const ABI_MAJOR: u32 = 0;

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmpr.so.{ABI_MAJOR}");
    println!("cargo:rerun-if-changed=build.rs");
}
