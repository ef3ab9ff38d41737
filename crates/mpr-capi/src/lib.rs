/*!
`libmpr.so`: the WNet connection API of Windows, for C programs on Linux.

The exports are the functions of `include/winnetwk.h`, with the Windows
signatures and semantics (spec §5, digest §4), over the one router that the
`mpr` command uses too: same configuration (`mpr.toml`), same plugins, same
state, same notifications. A connection made here is one `mpr use` lists,
and the other way round.

- [`connect`]: `WNetAddConnection[2|3]W/A`, `WNetUseConnectionW/A`,
  `WNetCancelConnection[2]W/A`, `WNetGetConnectionW/A`,
  `WNetRestoreSingleConnectionW`;
- [`enumerate`]: `WNetOpenEnumW/A`, `WNetEnumResourceW/A`, `WNetCloseEnum`;
- [`errors`]: `WNetGetLastErrorW/A`. `WNetSetLastErrorW/A`, which providers
  call, are `mpr-loader`'s `#[no_mangle]` functions: rustc exports the
  `#[no_mangle]` functions of every linked crate from a `cdylib`, so they
  are in libmpr.so's dynamic symbol table too (the integration tests check
  it with `nm -D`), and a provider loaded by a program linked with
  libmpr.so resolves them here, as a Windows provider does from mpr.dll.

How the layer is built:

- `global`: one router per process, built on first use from the
  environment (`mpr_setup::router_from_env`, notifyees loaded), as mpr.dll
  loads its providers at start. A configuration error makes every call
  fail with `WN_BAD_PROFILE` (`WN_CANNOT_OPEN_PROFILE` for an unusable
  environment), the message in the extended error.
- `text`: each function is written once, generic over the string width:
  W is UTF-16, A is UTF-8 (the narrow code page on Linux). Sizes count
  units of the width (`WCHAR`s or bytes), terminator included.
- `pack`: the enumeration buffer layout.

Every export runs inside `mpr_ffi::ffi_boundary!`: a panic becomes
`WN_WINDOWS_ERROR` and never unwinds into C. The `unsafe` here is the C
boundary itself (reading the caller's arguments, writing its buffers);
each block says which contract makes it sound. No router logic lives here:
validation, notifications, provider selection and state are the core's.
*/
#![deny(missing_docs)]

pub mod connect;
pub mod enumerate;
pub mod errors;
mod global;
mod pack;
mod text;
