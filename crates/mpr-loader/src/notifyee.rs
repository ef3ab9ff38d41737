//! Notifyee libraries: `AddConnectNotify` / `CancelConnectNotify`.

use crate::LoadError;
use mpr_abi::{
    self as abi, NETRESOURCEW, NOTIFYADD, NOTIFYCANCEL, NOTIFYINFO, PF_AddConnectNotify,
    PF_CancelConnectNotify,
};
use mpr_core::plugin::{AddNotice, CallFailure, CancelNotice, ConnectNotifier, NotifyInfo, Phase};
use mpr_core::trust::VettedPlugin;
use std::cell::RefCell;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::Arc;

/// A notifyee library loaded into this process.
pub struct LoadedNotifier {
    path: PathBuf,
    add: Option<PF_AddConnectNotify>,
    cancel: Option<PF_CancelConnectNotify>,
    _lib: Arc<crate::Mapped>,
}

impl std::fmt::Debug for LoadedNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedNotifier")
            .field("path", &self.path)
            .field("add", &self.add.is_some())
            .field("cancel", &self.cancel.is_some())
            .finish()
    }
}

/// Loads a vetted notifyee library and resolves its two exports. One that
/// exports neither is [`LoadError::NoNotifyExports`] (ignored at load time,
/// spec §3: [`LoadError::is_ignored`]).
pub fn load_notifyee(plugin: VettedPlugin) -> Result<LoadedNotifier, LoadError> {
    let path = plugin.path().to_path_buf();
    let lib = crate::open_vetted(plugin)?;
    // SAFETY: the symbol is declared in npapi.h with the type
    // `PF_AddConnectNotify`, which is what a notifyee must export (spec §2);
    // the pointer is copied out and kept next to `lib`, which outlives it.
    let add = unsafe { lib.lib.get::<PF_AddConnectNotify>(b"AddConnectNotify\0") }
        .ok()
        .map(|s| *s);
    // SAFETY: as above, for `PF_CancelConnectNotify`.
    let cancel = unsafe {
        lib.lib
            .get::<PF_CancelConnectNotify>(b"CancelConnectNotify\0")
    }
    .ok()
    .map(|s| *s);
    if add.is_none() && cancel.is_none() {
        return Err(LoadError::NoNotifyExports { path });
    }
    Ok(LoadedNotifier {
        path,
        add,
        cancel,
        _lib: lib,
    })
}

/// The most strings a notifyee call passes (`NOTIFYADD`: local, remote,
/// provider).
const MAX_STRINGS: usize = 3;

/// One string of the previous call on this thread and its UTF-16 form.
#[derive(Debug)]
struct Encoded {
    text: String,
    /// `text` as NUL-terminated UTF-16; empty (so never a match, even for
    /// an empty `text`) until the entry is first filled.
    wide: Vec<u16>,
}

/// Per-thread buffers for the strings handed to notifyees.
#[derive(Debug)]
struct Scratch {
    /// The strings of the previous call, by position: the router calls every
    /// notifyee of an operation, PRE and POST, with the same names, so each
    /// is encoded once per operation instead of once per call.
    cache: [Encoded; MAX_STRINGS],
    /// The copies handed to the notifyee.
    out: Vec<u16>,
}

impl Scratch {
    const fn new() -> Scratch {
        Scratch {
            cache: [const {
                Encoded {
                    text: String::new(),
                    wide: Vec::new(),
                }
            }; MAX_STRINGS],
            out: Vec::new(),
        }
    }
}

thread_local! {
    /// Reused by every call on the thread; it only grows, up to the longest
    /// names seen.
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch::new()) };
}

/// Calls `f` with NUL-terminated UTF-16 copies of `strings`, NULL for
/// `None`, valid until `f` returns.
///
/// Every call gets fresh copies (a notifyee may write through its
/// `LPWSTR`s, and what it writes must not reach the next notifyee), but
/// neither a fresh allocation nor a fresh encoding: the copies are taken
/// from the UTF-16 form of the previous call's strings when they are equal,
/// into one per-thread buffer. Allocating and encoding one `Vec` per string
/// was most of the cost of a notifyee call (docs/performance.md). No secret
/// passes here: `NOTIFYADD` and `NOTIFYCANCEL` carry no password.
fn with_wide<const N: usize, R>(
    strings: [Option<&str>; N],
    f: impl FnOnce([*mut u16; N]) -> R,
) -> R {
    let mut f = Some(f);
    let mut run = |scratch: &mut Scratch| {
        let f = f.take().expect("with_wide runs its closure once");
        encode_and_call(scratch, strings, f)
    };
    SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => Some(run(&mut scratch)),
            // Busy: a notifyee called back into the router on this thread
            // (npapi.h forbids it). It gets buffers of its own below.
            Err(_) => None,
        })
        .ok()
        .flatten()
        // Also when the thread's locals are being destroyed.
        .unwrap_or_else(|| run(&mut Scratch::new()))
}

fn encode_and_call<const N: usize, R>(
    scratch: &mut Scratch,
    strings: [Option<&str>; N],
    f: impl FnOnce([*mut u16; N]) -> R,
) -> R {
    const { assert!(N <= MAX_STRINGS) };
    let Scratch { cache, out } = scratch;
    out.clear();
    let mut starts = [None; N];
    for ((start, s), enc) in starts.iter_mut().zip(strings).zip(cache.iter_mut()) {
        let Some(s) = s else { continue };
        if enc.text != s || enc.wide.is_empty() {
            enc.text.clear();
            enc.text.push_str(s);
            enc.wide.clear();
            enc.wide.extend(s.encode_utf16());
            enc.wide.push(0);
        }
        *start = Some(out.len());
        out.extend_from_slice(&enc.wide);
    }
    // The pointers are taken after the last copy, so no reallocation can
    // move the buffer under them; it is not touched again until `f` returns.
    let base = out.as_mut_ptr();
    f(starts.map(|s| s.map_or(std::ptr::null_mut(), |i| base.wrapping_add(i))))
}

fn notify_info(info: &NotifyInfo) -> NOTIFYINFO {
    NOTIFYINFO {
        dwNotifyStatus: match info.phase {
            Phase::Pre => abi::NOTIFY_PRE,
            Phase::Post => abi::NOTIFY_POST,
        },
        dwOperationStatus: info.operation_status,
        lpContext: std::ptr::with_exposed_provenance_mut::<c_void>(info.context),
    }
}

impl ConnectNotifier for LoadedNotifier {
    fn handles_add(&self) -> bool {
        self.add.is_some()
    }

    fn handles_cancel(&self) -> bool {
        self.cancel.is_some()
    }

    fn add_notify(&self, info: &mut NotifyInfo, add: &AddNotice<'_>) -> Result<u32, CallFailure> {
        let Some(f) = self.add else {
            return Ok(abi::WN_SUCCESS);
        };
        with_wide(
            [add.local, Some(add.remote), add.provider],
            |[local, remote, provider]| {
                let mut na = NOTIFYADD {
                    hwndOwner: std::ptr::with_exposed_provenance_mut::<c_void>(add.owner),
                    NetResource: NETRESOURCEW {
                        dwScope: 0,
                        dwType: add.r#type,
                        dwDisplayType: 0,
                        dwUsage: 0,
                        lpLocalName: local,
                        lpRemoteName: remote,
                        lpComment: std::ptr::null_mut(),
                        lpProvider: provider,
                    },
                    dwAddFlags: add.flags,
                };
                let mut ni = notify_info(info);
                // SAFETY: `f` has the npapi.h type `PF_AddConnectNotify`
                // (resolved by that name from a vetted library that is still
                // loaded); both structs and the strings they point to (from
                // `with_wide`) live until the call returns.
                let r = unsafe { f(&mut ni, &mut na) };
                info.context = ni.lpContext.expose_provenance();
                Ok(r)
            },
        )
    }

    fn cancel_notify(
        &self,
        info: &mut NotifyInfo,
        cancel: &CancelNotice<'_>,
    ) -> Result<u32, CallFailure> {
        let Some(f) = self.cancel else {
            return Ok(abi::WN_SUCCESS);
        };
        with_wide([Some(cancel.name), cancel.provider], |[name, provider]| {
            let mut nc = NOTIFYCANCEL {
                lpName: name,
                lpProvider: provider,
                dwFlags: cancel.flags,
                fForce: i32::from(cancel.force),
            };
            let mut ni = notify_info(info);
            // SAFETY: `f` has the npapi.h type `PF_CancelConnectNotify` from
            // a vetted, still-loaded library; the structs and the strings
            // (from `with_wide`) outlive the call.
            let r = unsafe { f(&mut ni, &mut nc) };
            info.context = ni.lpContext.expose_provenance();
            Ok(r)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_ffi::wide::{read, to_wide};

    /// What a notifyee would read from the pointers it is given.
    fn seen<const N: usize>(ptrs: [*mut u16; N]) -> [Option<String>; N] {
        ptrs.map(|p| {
            // SAFETY: `with_wide` hands out NULL or NUL-terminated strings
            // that live until its closure returns, which is where this runs.
            unsafe { read(p, 100_000) }.unwrap()
        })
    }

    #[test]
    fn with_wide_hands_out_each_string_and_nulls() {
        let long = "x".repeat(5000);
        for strings in [
            [None, Some(r"\\srv\share"), None],
            [Some("Z:"), Some(r"\\srv\share"), Some("Acme Network")],
            [Some(""), Some("é€😀 ünïcode"), Some("")],
            [Some(long.as_str()), None, Some("Z:")],
            [None, None, None],
        ] {
            let got = with_wide(strings, seen);
            assert_eq!(got, strings.map(|s| s.map(str::to_string)));
            // Each is exactly what `to_wide` would have made.
            with_wide(strings, |ptrs| {
                for (p, s) in ptrs.into_iter().zip(strings) {
                    let Some(s) = s else { continue };
                    let w = to_wide(s);
                    // SAFETY: `p` points at a NUL-terminated copy of `s`,
                    // `w.len()` units including the NUL, alive until return.
                    let units = unsafe { std::slice::from_raw_parts(p, w.len()) };
                    assert_eq!(units, w.as_slice());
                }
            });
        }
    }

    #[test]
    fn empty_strings_on_a_fresh_thread_are_terminated() {
        // A fresh thread's cache holds empty texts: an empty string must
        // still get its NUL.
        let got = std::thread::spawn(|| with_wide([Some(""), Some(""), Some("")], seen))
            .join()
            .unwrap();
        assert_eq!(
            got,
            [
                Some(String::new()),
                Some(String::new()),
                Some(String::new())
            ]
        );
    }

    #[test]
    fn what_a_notifyee_writes_does_not_reach_the_next() {
        let strings = [Some("Z:"), Some(r"\\srv\share"), None];
        with_wide(strings, |[local, remote, _]| {
            // SAFETY: both point at non-empty copies alive until return;
            // the first unit of each is overwritten, as a careless notifyee
            // writing through its LPWSTR might.
            unsafe {
                *local = u16::from(b'Q');
            }
            // SAFETY: as above.
            unsafe {
                *remote = u16::from(b'#');
            }
        });
        let got = with_wide(strings, seen);
        assert_eq!(got, strings.map(|s| s.map(str::to_string)));
    }

    #[test]
    fn with_wide_works_when_called_from_inside_itself() {
        // A notifyee calling back into the router on the same thread (which
        // npapi.h forbids) must still get correct strings.
        let outer = [Some("A:"), Some(r"\\a\x")];
        let inner = [Some("B:"), Some(r"\\b\y")];
        let (got_outer, got_inner) = with_wide(outer, |ptrs| {
            let got_inner = with_wide(inner, seen);
            (seen(ptrs), got_inner)
        });
        assert_eq!(got_outer, outer.map(|s| s.map(str::to_string)));
        assert_eq!(got_inner, inner.map(|s| s.map(str::to_string)));
    }
}
