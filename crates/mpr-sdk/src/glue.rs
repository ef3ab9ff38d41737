//! The FFI glue behind [`export_notifyee!`](crate::export_notifyee): the
//! two functions its exports call. Not meant to be called otherwise.
//!
//! Contexts: a PRE that keeps a context stores `Box<Option<Context>>` in
//! `lpContext`. Its POST takes the value out of the box and hands it to the
//! callback; the box is freed, unless the POST returns `WN_RETRY`: then it
//! stays allocated at the same address (mpr hands that same pointer back in
//! the next round's POST), holding the context again after
//! [`Post::Retry`], or empty after `Post::Done(Err(WnError::Retry))` (the
//! next POST then frees it without calling the callback).

use crate::{AddInfo, CancelInfo, Notifyee, Post, Pre, WnError};
use mpr_abi::{
    DWORD, LPNOTIFYADD, LPNOTIFYCANCEL, LPNOTIFYINFO, LPWSTR, NOTIFY_POST, NOTIFY_PRE, NOTIFYINFO,
    WN_BAD_POINTER, WN_BAD_VALUE, WN_RETRY, WN_SUCCESS, WN_WINDOWS_ERROR,
};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// `AddConnectNotify` for the notifyee `get` returns.
///
/// # Safety
///
/// `info` and `add` are NULL or point to structures valid (and not aliased)
/// for the duration of the call, whose strings are NULL or NUL-terminated
/// UTF-16 (npapi.h). In POST, a non-NULL `lpContext` is the value a PRE of
/// this same export stored, handed back once (npapi.h: "gets exactly that
/// value back in its POST").
pub unsafe fn add_connect_notify<N: Notifyee>(
    get: fn() -> &'static N,
    info: LPNOTIFYINFO,
    add: LPNOTIFYADD,
) -> DWORD {
    if info.is_null() || add.is_null() {
        return WN_BAD_POINTER;
    }
    // SAFETY: non-NULL, and valid and unaliased for the call (# Safety).
    let ni = unsafe { &mut *info };
    // SAFETY: as above.
    let na = unsafe { &*add };
    let view = || {
        let nr = &na.NetResource;
        // SAFETY: the strings are NULL or terminated (# Safety).
        let local = unsafe { read(nr.lpLocalName) }?;
        // SAFETY: as above.
        let remote = unsafe { read(nr.lpRemoteName) }?;
        // SAFETY: as above.
        let comment = unsafe { read(nr.lpComment) }?;
        // SAFETY: as above.
        let provider = unsafe { read(nr.lpProvider) }?;
        Ok(AddInfo {
            owner: na.hwndOwner.addr(),
            scope: nr.dwScope,
            r#type: nr.dwType,
            display_type: nr.dwDisplayType,
            usage: nr.dwUsage,
            local,
            remote,
            comment,
            provider,
            flags: na.dwAddFlags,
        })
    };
    // SAFETY: the context contract of # Safety.
    unsafe {
        notify::<N, AddInfo>(
            get,
            ni,
            view,
            |n, v, retrying| n.add_pre(v, retrying),
            |n, v, result, c| n.add_post(v, result, c),
            "AddConnectNotify",
        )
    }
}

/// `CancelConnectNotify` for the notifyee `get` returns.
///
/// # Safety
///
/// As for [`add_connect_notify`], with `cancel`.
pub unsafe fn cancel_connect_notify<N: Notifyee>(
    get: fn() -> &'static N,
    info: LPNOTIFYINFO,
    cancel: LPNOTIFYCANCEL,
) -> DWORD {
    if info.is_null() || cancel.is_null() {
        return WN_BAD_POINTER;
    }
    // SAFETY: non-NULL, and valid and unaliased for the call (# Safety).
    let ni = unsafe { &mut *info };
    // SAFETY: as above.
    let nc = unsafe { &*cancel };
    let view = || {
        // SAFETY: the strings are NULL or terminated (# Safety).
        let name = unsafe { read(nc.lpName) }?;
        // SAFETY: as above.
        let provider = unsafe { read(nc.lpProvider) }?;
        Ok(CancelInfo {
            name,
            provider,
            flags: nc.dwFlags,
            force: nc.fForce != 0,
        })
    };
    // SAFETY: the context contract of # Safety.
    unsafe {
        notify::<N, CancelInfo>(
            get,
            ni,
            view,
            |n, v, retrying| n.cancel_pre(v, retrying),
            |n, v, result, c| n.cancel_post(v, result, c),
            "CancelConnectNotify",
        )
    }
}

/// Reads one string of a notice.
///
/// # Safety
///
/// `p` is NULL or a NUL-terminated UTF-16 string.
unsafe fn read(p: LPWSTR) -> Result<Option<String>, WnError> {
    // SAFETY: passed on from the caller; the reader stops at the cap.
    unsafe { mpr_ffi::wide::read(p, mpr_ffi::wide::MAX_TEXT_UNITS) }
}

fn code(r: Result<(), WnError>) -> DWORD {
    r.err().map_or(WN_SUCCESS, WnError::code)
}

/// The common path of both exports, under a panic boundary.
///
/// # Safety
///
/// In POST, a non-NULL `ni.lpContext` is a `Box<Option<N::Context>>`
/// stored by a PRE of this module and not freed since.
unsafe fn notify<N: Notifyee, V>(
    get: fn() -> &'static N,
    ni: &mut NOTIFYINFO,
    view: impl FnOnce() -> Result<V, WnError>,
    pre: impl FnOnce(&N, &V, bool) -> Pre<N::Context>,
    post: impl FnOnce(&N, &V, Result<(), WnError>, N::Context) -> Post<N::Context>,
    export: &str,
) -> DWORD {
    let phase = ni.dwNotifyStatus;
    let body = AssertUnwindSafe(|| match phase {
        NOTIFY_PRE => {
            let v = match view() {
                Ok(v) => v,
                Err(e) => return e.code(),
            };
            let Pre { result, context } = pre(get(), &v, ni.dwOperationStatus == WN_RETRY);
            let status = code(result);
            // A vetoing notifyee gets no POST: its context is dropped here.
            if let (WN_SUCCESS | WN_RETRY, Some(c)) = (status, context) {
                ni.lpContext = Box::into_raw(Box::new(Some(c))).cast();
            }
            status
        }
        NOTIFY_POST => {
            let raw = ni.lpContext.cast::<Option<N::Context>>();
            if raw.is_null() {
                // Kept nothing: mpr sends no POST then, but be tolerant.
                return WN_SUCCESS;
            }
            // SAFETY: a PRE of this module stored this box and it was not
            // freed since (# Safety); from here this function owns it.
            let mut slot = unsafe { Box::from_raw(raw) };
            let Some(c) = slot.take() else {
                // Emptied by a POST that asked for a retry without keeping
                // its context: this is the POST of that retry.
                return WN_SUCCESS;
            };
            let v = match view() {
                Ok(v) => v,
                Err(e) => return e.code(),
            };
            let result = WnError::from_status(ni.dwOperationStatus);
            match post(get(), &v, result, c) {
                Post::Retry(c) => {
                    *slot = Some(c);
                    // Same address: mpr hands it back in the next POST.
                    let _ = Box::into_raw(slot);
                    WN_RETRY
                }
                Post::Done(r) => {
                    let status = code(r);
                    if status == WN_RETRY {
                        let _ = Box::into_raw(slot);
                    }
                    status
                }
            }
        }
        _ => WN_BAD_VALUE,
    });
    match catch_unwind(body) {
        Ok(status) => status,
        Err(_) => {
            let phase = match phase {
                NOTIFY_PRE => "PRE",
                _ => "POST",
            };
            eprintln!(
                "mpr-sdk: notifyee {} panicked in {export} ({phase}); the call returns \
                 WN_WINDOWS_ERROR",
                std::any::type_name::<N>()
            );
            WN_WINDOWS_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_abi::{NETRESOURCEW, NOTIFYADD, NOTIFYCANCEL, RESOURCETYPE_DISK, WN_CANCEL};
    use std::ptr::null_mut;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts live contexts, so a test sees every box freed.
    static LIVE: AtomicUsize = AtomicUsize::new(0);

    #[derive(Debug)]
    struct Ctx(u32);

    impl Ctx {
        fn new(v: u32) -> Ctx {
            LIVE.fetch_add(1, Ordering::SeqCst);
            Ctx(v)
        }
    }

    impl Drop for Ctx {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Behaviour chosen per test through `remote`'s server name.
    #[derive(Default)]
    struct Probe {
        seen: Mutex<Vec<String>>,
    }

    impl Notifyee for Probe {
        type Context = Ctx;

        fn add_pre(&self, add: &AddInfo, retrying: bool) -> Pre<Ctx> {
            self.seen.lock().unwrap().push(format!(
                "pre {:?} {:?} {:?} owner={} retrying={retrying}",
                add.local, add.remote, add.provider, add.owner
            ));
            match add.server() {
                Some("veto") => Pre {
                    result: Err(WnError::Cancel),
                    context: Some(Ctx::new(0)),
                },
                Some("panic") => panic!("PRE panics"),
                Some("none") => Pre::proceed(),
                _ => Pre::keep(Ctx::new(7)),
            }
        }

        fn add_post(&self, add: &AddInfo, result: Result<(), WnError>, c: Ctx) -> Post<Ctx> {
            self.seen
                .lock()
                .unwrap()
                .push(format!("post {result:?} ctx={}", c.0));
            match add.server() {
                Some("retry") if c.0 == 7 => Post::Retry(Ctx::new(8)),
                Some("retry-drop") => Post::Done(Err(WnError::Retry)),
                Some("postpanic") => panic!("POST panics"),
                _ => Post::Done(Err(WnError::AccessDenied)),
            }
        }
    }

    fn probe() -> &'static Probe {
        static P: std::sync::OnceLock<Probe> = std::sync::OnceLock::new();
        P.get_or_init(Probe::default)
    }

    /// One add notification with `remote`; returns the status.
    fn add(info: &mut NOTIFYINFO, remote: &str) -> DWORD {
        let mut remote: Vec<u16> = remote.encode_utf16().chain([0]).collect();
        let mut local: Vec<u16> = "Z:".encode_utf16().chain([0]).collect();
        let mut na = NOTIFYADD {
            hwndOwner: null_mut(),
            NetResource: NETRESOURCEW {
                dwScope: 0,
                dwType: RESOURCETYPE_DISK,
                dwDisplayType: 0,
                dwUsage: 0,
                lpLocalName: local.as_mut_ptr(),
                lpRemoteName: remote.as_mut_ptr(),
                lpComment: null_mut(),
                lpProvider: null_mut(),
            },
            dwAddFlags: 0,
        };
        // SAFETY: the structures and strings live across the call; the
        // context is what the previous PRE of this test stored.
        unsafe { add_connect_notify(probe, info, &mut na) }
    }

    fn pre() -> NOTIFYINFO {
        NOTIFYINFO {
            dwNotifyStatus: NOTIFY_PRE,
            dwOperationStatus: WN_SUCCESS,
            lpContext: null_mut(),
        }
    }

    // One test, so that the live-context count is not shared between
    // tests running in parallel.
    #[test]
    fn contexts_retries_vetoes_and_panics() {
        // A context round-trips and is freed after POST.
        let mut ni = pre();
        assert_eq!(add(&mut ni, r"\\ok\s"), WN_SUCCESS);
        assert!(!ni.lpContext.is_null());
        assert_eq!(LIVE.load(Ordering::SeqCst), 1);
        ni.dwNotifyStatus = NOTIFY_POST;
        ni.dwOperationStatus = WN_CANCEL;
        assert_eq!(add(&mut ni, r"\\ok\s"), mpr_abi::WN_ACCESS_DENIED);
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);

        // No context: lpContext stays NULL.
        let mut ni = pre();
        assert_eq!(add(&mut ni, r"\\none\s"), WN_SUCCESS);
        assert!(ni.lpContext.is_null());

        // A veto drops the context it came with.
        let mut ni = pre();
        assert_eq!(add(&mut ni, r"\\veto\s"), WN_CANCEL);
        assert!(ni.lpContext.is_null());
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);

        // Retry keeps the same pointer, with the new value in it.
        let mut ni = pre();
        assert_eq!(add(&mut ni, r"\\retry\s"), WN_SUCCESS);
        let kept = ni.lpContext;
        ni.dwNotifyStatus = NOTIFY_POST;
        ni.dwOperationStatus = WN_CANCEL;
        assert_eq!(add(&mut ni, r"\\retry\s"), WN_RETRY);
        assert_eq!(ni.lpContext, kept);
        assert_eq!(LIVE.load(Ordering::SeqCst), 1);
        assert_eq!(add(&mut ni, r"\\retry\s"), mpr_abi::WN_ACCESS_DENIED);
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);

        // A retry without the context: the next POST is not passed on.
        let mut ni = pre();
        assert_eq!(add(&mut ni, r"\\retry-drop\s"), WN_SUCCESS);
        ni.dwNotifyStatus = NOTIFY_POST;
        ni.dwOperationStatus = WN_CANCEL;
        assert_eq!(add(&mut ni, r"\\retry-drop\s"), WN_RETRY);
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
        let before = probe().seen.lock().unwrap().len();
        assert_eq!(add(&mut ni, r"\\retry-drop\s"), WN_SUCCESS);
        assert_eq!(probe().seen.lock().unwrap().len(), before);

        // Panics become WN_WINDOWS_ERROR, in PRE and in POST.
        let mut ni = pre();
        assert_eq!(add(&mut ni, r"\\panic\s"), WN_WINDOWS_ERROR);
        assert!(ni.lpContext.is_null());
        let mut ni = pre();
        assert_eq!(add(&mut ni, r"\\postpanic\s"), WN_SUCCESS);
        ni.dwNotifyStatus = NOTIFY_POST;
        assert_eq!(add(&mut ni, r"\\postpanic\s"), WN_WINDOWS_ERROR);
        assert_eq!(LIVE.load(Ordering::SeqCst), 0, "the panic dropped it");

        // A retried PRE says so; the strings arrive.
        let mut ni = pre();
        ni.dwOperationStatus = WN_RETRY;
        assert_eq!(add(&mut ni, r"\\none\s"), WN_SUCCESS);
        let seen = probe().seen.lock().unwrap();
        assert!(
            seen.last()
                .unwrap()
                .ends_with(r#"Some("Z:") Some("\\\\none\\s") None owner=0 retrying=true"#),
            "{seen:?}"
        );
    }

    #[test]
    fn null_pointers_and_bad_phases() {
        // SAFETY: NULL is allowed and checked first.
        let r = unsafe { add_connect_notify(probe, null_mut(), null_mut()) };
        assert_eq!(r, WN_BAD_POINTER);
        let mut ni = pre();
        // SAFETY: as above.
        let r = unsafe { cancel_connect_notify(probe, &mut ni, null_mut()) };
        assert_eq!(r, WN_BAD_POINTER);
        let mut nc = NOTIFYCANCEL {
            lpName: null_mut(),
            lpProvider: null_mut(),
            dwFlags: 0,
            fForce: 1,
        };
        ni.dwNotifyStatus = 7;
        // SAFETY: valid structures, NULL strings.
        let r = unsafe { cancel_connect_notify(probe, &mut ni, &mut nc) };
        assert_eq!(r, WN_BAD_VALUE);
        ni.dwNotifyStatus = NOTIFY_PRE;
        // SAFETY: as above; Probe's cancel callbacks are the defaults.
        let r = unsafe { cancel_connect_notify(probe, &mut ni, &mut nc) };
        assert_eq!(r, WN_SUCCESS);
        assert!(ni.lpContext.is_null());
    }

    #[test]
    fn a_lone_surrogate_is_bad_value() {
        let mut ni = pre();
        let mut bad = [0xD800u16, 0];
        let mut nc = NOTIFYCANCEL {
            lpName: bad.as_mut_ptr(),
            lpProvider: null_mut(),
            dwFlags: 0,
            fForce: 0,
        };
        // SAFETY: valid structures, terminated strings.
        let r = unsafe { cancel_connect_notify(probe, &mut ni, &mut nc) };
        assert_eq!(r, WN_BAD_VALUE);
    }
}
