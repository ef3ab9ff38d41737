//! Exports `WNetSetLastErrorW`/`A` from the `mpr` executable, so that a
//! provider library loaded into it resolves them at `dlopen` time, as a
//! Windows provider resolves them from mpr.dll.

fn main() {
    for sym in ["WNetSetLastErrorW", "WNetSetLastErrorA"] {
        println!("cargo:rustc-link-arg-bins=-Wl,--undefined={sym}");
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={sym}");
    }
}
