/*!
Write mpr connection notifyees in Rust.

A notifyee is a shared library that mpr calls before (PRE) and after (POST)
every add and cancel operation, through two C exports, `AddConnectNotify`
and `CancelConnectNotify` (`include/npapi.h`, spec §7). With this crate you
implement the [`Notifyee`] trait on your type, with typed callbacks and
owned views of the structures, and [`export_notifyee!`] writes the two
exports with the exact ABI:

- `#[unsafe(no_mangle)] pub unsafe extern "system" fn`, with the
  `mpr-abi` types, checked against `PF_AddConnectNotify` /
  `PF_CancelConnectNotify` at compile time;
- the strings are read with a length cap (`mpr_ffi::wide`) into owned
  [`AddInfo`] / [`CancelInfo`] values;
- your context travels through `lpContext`: a PRE that returns
  `Some(context)` stores it (boxed), `None` leaves `lpContext` NULL (and mpr
  then sends you no POST for that operation); your POST gets the context
  back by value;
- a panic in a callback never unwinds into the router: it is caught, a line
  goes to standard error, and the call returns `WN_WINDOWS_ERROR` (59).

# Example

```
use mpr_sdk::{AddInfo, CancelInfo, Notifyee, Post, Pre, WnError};
use std::time::Instant;

/// Vetoes connections to `\\forbidden`, and times the others.
#[derive(Default)]
struct Timer;

impl Notifyee for Timer {
    /// Kept from PRE to POST.
    type Context = Instant;

    fn add_pre(&self, add: &AddInfo, _retrying: bool) -> Pre<Instant> {
        if add.server() == Some("forbidden") {
            return Pre::veto(WnError::Cancel);
        }
        Pre::keep(Instant::now())
    }

    fn add_post(&self, add: &AddInfo, result: Result<(), WnError>, started: Instant) -> Post<Instant> {
        eprintln!("{:?}: {result:?} after {:?}", add.remote, started.elapsed());
        Post::Done(Ok(()))
    }
}

mpr_sdk::export_notifyee!(Timer);

// What mpr does, in short: PRE, then POST with the context PRE left.
# use mpr_sdk::abi::{self, NOTIFYADD, NOTIFYINFO, NETRESOURCEW};
# let mut remote: Vec<u16> = "\\\\server\\share\0".encode_utf16().collect();
# let mut add = NOTIFYADD {
#     hwndOwner: std::ptr::null_mut(),
#     NetResource: NETRESOURCEW {
#         dwScope: 0, dwType: abi::RESOURCETYPE_DISK, dwDisplayType: 0, dwUsage: 0,
#         lpLocalName: std::ptr::null_mut(), lpRemoteName: remote.as_mut_ptr(),
#         lpComment: std::ptr::null_mut(), lpProvider: std::ptr::null_mut(),
#     },
#     dwAddFlags: 0,
# };
let mut info = NOTIFYINFO {
    dwNotifyStatus: abi::NOTIFY_PRE,
    dwOperationStatus: abi::WN_SUCCESS,
    lpContext: std::ptr::null_mut(),
};
// SAFETY: both structures and the strings they point to outlive the calls.
let pre = unsafe { AddConnectNotify(&mut info, &mut add) };
assert_eq!(pre, abi::WN_SUCCESS);
assert!(!info.lpContext.is_null(), "the Instant is kept");
info.dwNotifyStatus = abi::NOTIFY_POST;
// SAFETY: as above; lpContext is what PRE stored.
let post = unsafe { AddConnectNotify(&mut info, &mut add) };
assert_eq!(post, abi::WN_SUCCESS);
```

Build the crate as a `cdylib` and register the `.so` in `mpr.toml`
(`[notifyees] timer = "/usr/lib/mpr/notifyees/libtimer.so"`, or
`mpr notifyee add timer PATH`). The library must not be built with
`panic = "abort"`, or a panic ends the process that loaded it (the router,
or its host under `isolation = "process"`).

# Rules mpr keeps (npapi.h)

- Calls may come from several threads at once, for different operations:
  the type is `Send + Sync`, and per-operation state belongs in the context.
- A notifyee that vetoes in PRE (anything but `Ok(())` or
  `Err(WnError::Retry)`) gets no POST; a context returned with a veto is
  dropped at once.
- POST of a failed operation may ask for a new attempt with
  [`Post::Retry`], which keeps the context: it comes back in the POST of the
  next round (the requester gets no PRE in that round). Every other POST
  answer ends the context.
- No password ever reaches a notifyee.

More in spec §7 and `include/npapi.h`. The examples of this crate are
complete notifyees: `policy` (an allowlist of servers), `autodial` (runs a
command and retries once when the network is missing) and `script` (the
twin of the C test notifyee).
*/
#![deny(missing_docs)]

#[doc(hidden)]
pub mod glue;

pub use mpr_abi as abi;
pub use mpr_error::WnError;
/// Remote and local names, taken apart by the parser the router uses
/// (`names::RemoteName::parse(remote)?.parts()` gives the scheme, user,
/// host, port and path).
pub use mpr_names as names;

/// An add operation (`NOTIFYADD`), as owned values.
///
/// ```
/// let add = mpr_sdk::AddInfo {
///     local: Some("Z:".into()),
///     remote: Some(r"\\files\share".into()),
///     ..Default::default()
/// };
/// assert_eq!(add.server(), Some("files"));
/// assert_eq!(add.provider, None, "NULL while mpr tries the providers");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddInfo {
    /// `hwndOwner`, as an opaque value (0 is NULL: no owner was given).
    pub owner: usize,
    /// `NetResource.dwScope`.
    pub scope: u32,
    /// `NetResource.dwType` (`RESOURCETYPE_*`).
    pub r#type: u32,
    /// `NetResource.dwDisplayType`.
    pub display_type: u32,
    /// `NetResource.dwUsage`.
    pub usage: u32,
    /// `NetResource.lpLocalName` (`Z:` or a directory); `None` for NULL.
    pub local: Option<String>,
    /// `NetResource.lpRemoteName` (`\\server\share`).
    pub remote: Option<String>,
    /// `NetResource.lpComment`.
    pub comment: Option<String>,
    /// `NetResource.lpProvider`: `None` (or empty) in PRE while mpr tries
    /// the providers in order; in a successful POST the provider that
    /// made the connection.
    pub provider: Option<String>,
    /// `dwAddFlags` (`CONNECT_*`).
    pub flags: u32,
}

impl AddInfo {
    /// The server of the remote name, see [`server_of`].
    ///
    /// ```
    /// let add = mpr_sdk::AddInfo { remote: Some("//nas@8080/dav".into()), ..Default::default() };
    /// assert_eq!(add.server(), Some("nas"));
    /// ```
    pub fn server(&self) -> Option<&str> {
        self.remote.as_deref().and_then(server_of)
    }
}

/// A cancel operation (`NOTIFYCANCEL`), as owned values.
///
/// ```
/// let cancel = mpr_sdk::CancelInfo { name: Some("Z:".into()), force: true, ..Default::default() };
/// assert!(cancel.force && cancel.provider.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelInfo {
    /// `lpName`: the local name or the remote name being cancelled.
    pub name: Option<String>,
    /// `lpProvider`: `None` in PRE; in a successful POST the provider that
    /// cancelled.
    pub provider: Option<String>,
    /// `dwFlags` (`CONNECT_UPDATE_PROFILE` or 0).
    pub flags: u32,
    /// `fForce`: cancel even with open files.
    pub force: bool,
}

/// What a PRE callback answers.
///
/// ```
/// use mpr_sdk::{Pre, WnError};
/// let go: Pre<u32> = Pre::keep(1);
/// assert_eq!((go.result, go.context), (Ok(()), Some(1)));
/// let stop: Pre<u32> = Pre::veto(WnError::Cancel);
/// assert_eq!(stop.result, Err(WnError::Cancel));
/// ```
#[derive(Debug)]
pub struct Pre<C> {
    /// `Ok(())` lets the operation go on (`Err(WnError::Retry)` too); any
    /// other error vetoes it and becomes its result (`WnError::Cancel` is
    /// the usual veto).
    pub result: Result<(), WnError>,
    /// The context to keep until POST; `None` means no POST for this
    /// operation. Dropped at once when `result` vetoes.
    pub context: Option<C>,
}

impl<C> Pre<C> {
    /// Go on, keep nothing (no POST for this operation).
    ///
    /// ```
    /// let p: mpr_sdk::Pre<()> = mpr_sdk::Pre::proceed();
    /// assert!(p.result.is_ok() && p.context.is_none());
    /// ```
    pub fn proceed() -> Pre<C> {
        Pre {
            result: Ok(()),
            context: None,
        }
    }

    /// Go on, and keep `context` for the POST.
    ///
    /// ```
    /// let p = mpr_sdk::Pre::keep(String::from("started"));
    /// assert_eq!(p.context.as_deref(), Some("started"));
    /// ```
    pub fn keep(context: C) -> Pre<C> {
        Pre {
            result: Ok(()),
            context: Some(context),
        }
    }

    /// Veto the operation with `error` (its result).
    ///
    /// ```
    /// use mpr_sdk::{Pre, WnError};
    /// let p: Pre<()> = Pre::veto(WnError::AccessDenied);
    /// assert_eq!(p.result.unwrap_err().code(), 5);
    /// ```
    pub fn veto(error: WnError) -> Pre<C> {
        Pre {
            result: Err(error),
            context: None,
        }
    }
}

/// What a POST callback answers.
///
/// ```
/// use mpr_sdk::{Post, WnError};
/// // Ask for one more attempt after a failure, keeping the context.
/// fn after(result: Result<(), WnError>, tries: u32) -> Post<u32> {
///     match result {
///         Err(WnError::NoNetwork) if tries < 1 => Post::Retry(tries + 1),
///         _ => Post::Done(Ok(())),
///     }
/// }
/// assert!(matches!(after(Err(WnError::NoNetwork), 0), Post::Retry(1)));
/// assert!(matches!(after(Err(WnError::NoNetwork), 1), Post::Done(Ok(()))));
/// ```
#[derive(Debug)]
pub enum Post<C> {
    /// Return this status; the context is dropped. After a successful
    /// operation the status is ignored; after a failed one an error
    /// replaces the operation's result (spec §7.6). `Err(WnError::Retry)`
    /// asks for a new attempt *without* keeping the context: the next POST
    /// of that operation is then not passed to you.
    Done(Result<(), WnError>),
    /// Return `WN_RETRY` (a new attempt, if the operation failed) and keep
    /// the context: it comes back in the next round's POST.
    Retry(C),
}

/// A connection notifyee. Every callback has a default that lets the
/// operation go on and keeps nothing, so implement only what you need.
///
/// Implementations must be `Send + Sync`: mpr may call a notifyee from
/// several threads at once, one per operation. The crate documentation has
/// a complete notifyee; the smallest one vetoes every cancel:
///
/// ```
/// use mpr_sdk::{CancelInfo, Notifyee, Pre, WnError};
///
/// #[derive(Default)]
/// struct NoCancel;
///
/// impl Notifyee for NoCancel {
///     type Context = ();
///     fn cancel_pre(&self, _: &CancelInfo, _: bool) -> Pre<()> {
///         Pre::veto(WnError::Cancel)
///     }
/// }
///
/// let pre = NoCancel.cancel_pre(&CancelInfo::default(), false);
/// assert_eq!(pre.result, Err(WnError::Cancel));
/// ```
pub trait Notifyee: Send + Sync + 'static {
    /// What a PRE keeps for its POST.
    type Context: Send + 'static;

    /// PRE of an add. `retrying` is `true` when mpr attempts the operation
    /// again after a POST asked for it (`dwOperationStatus = WN_RETRY`).
    fn add_pre(&self, add: &AddInfo, retrying: bool) -> Pre<Self::Context> {
        let _ = (add, retrying);
        Pre::proceed()
    }

    /// POST of an add: `result` is the operation's result; `context` is
    /// what PRE kept (only notifyees that kept one get a POST).
    fn add_post(
        &self,
        add: &AddInfo,
        result: Result<(), WnError>,
        context: Self::Context,
    ) -> Post<Self::Context> {
        let _ = (add, result, context);
        Post::Done(Ok(()))
    }

    /// PRE of a cancel.
    fn cancel_pre(&self, cancel: &CancelInfo, retrying: bool) -> Pre<Self::Context> {
        let _ = (cancel, retrying);
        Pre::proceed()
    }

    /// POST of a cancel.
    fn cancel_post(
        &self,
        cancel: &CancelInfo,
        result: Result<(), WnError>,
        context: Self::Context,
    ) -> Post<Self::Context> {
        let _ = (cancel, result, context);
        Post::Done(Ok(()))
    }
}

/// The server part of a remote name: `server` for `\\server\share`,
/// `//server/share` and `\\server@8443\dav` (the port dropped), and the
/// host of a URL (`sftp://user@host:22/path` gives `host`, `[::1]` gives
/// `::1`). `None` when `remote` is not a remote name mpr accepts. It is the
/// server the router and its providers read
/// ([`names::RemoteName::server`]), from the same parser.
///
/// ```
/// use mpr_sdk::server_of;
/// assert_eq!(server_of(r"\\files\share"), Some("files"));
/// assert_eq!(server_of(r"\\dav@8443\x"), Some("dav"));
/// assert_eq!(server_of("//files/share"), Some("files"));
/// assert_eq!(server_of("sftp://bob@host.example:22/home"), Some("host.example"));
/// assert_eq!(server_of("davs://[::1]:8443/"), Some("::1"));
/// assert_eq!(server_of("share"), None);
/// ```
pub fn server_of(remote: &str) -> Option<&str> {
    mpr_names::server_of(remote)
}

/// Exports `AddConnectNotify` and `CancelConnectNotify` for a
/// [`Notifyee`].
///
/// `export_notifyee!(MyType)` creates the value with `Default`;
/// `export_notifyee!(MyType = expr)` with `expr`. Either way it is created
/// once, at the first call (a panic there is a panic in that call). Use the
/// macro once per library, at the top level of the crate: besides the two
/// exports it defines a hidden function, `__mpr_sdk_notifyee`.
///
/// The exports have the `npapi.h` prototypes exactly (checked against
/// [`abi::PF_AddConnectNotify`] and [`abi::PF_CancelConnectNotify`] at
/// compile time) and run [`glue`]'s conversions, described in the crate
/// documentation.
///
/// ```
/// use mpr_sdk::{AddInfo, Notifyee, Pre};
///
/// /// Keeps the time of day of every PRE (a notifyee built from a value).
/// struct Stamp {
///     zone: &'static str,
/// }
///
/// impl Notifyee for Stamp {
///     type Context = (&'static str, std::time::SystemTime);
///     fn add_pre(&self, _: &AddInfo, _: bool) -> Pre<Self::Context> {
///         Pre::keep((self.zone, std::time::SystemTime::now()))
///     }
/// }
///
/// mpr_sdk::export_notifyee!(Stamp = Stamp { zone: "UTC" });
///
/// // The exports are ordinary functions of the library.
/// let _: mpr_sdk::abi::PF_AddConnectNotify = AddConnectNotify;
/// ```
#[macro_export]
macro_rules! export_notifyee {
    ($ty:ty) => {
        $crate::export_notifyee!($ty = <$ty as ::core::default::Default>::default());
    };
    ($ty:ty = $init:expr) => {
        /// The notifyee behind this library's exports, created at the
        /// first call.
        #[doc(hidden)]
        fn __mpr_sdk_notifyee() -> &'static $ty {
            static NOTIFYEE: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
            NOTIFYEE.get_or_init(|| $init)
        }

        /// The `AddConnectNotify` export of this notifyee (npapi.h).
        ///
        /// # Safety
        ///
        /// `lpNotifyInfo` and `lpAddInfo` are NULL or valid for the call,
        /// their strings NUL-terminated (the npapi.h contract); in POST,
        /// `lpContext` is what PRE stored.
        #[unsafe(no_mangle)]
        #[allow(non_snake_case)]
        pub unsafe extern "system" fn AddConnectNotify(
            lpNotifyInfo: $crate::abi::LPNOTIFYINFO,
            lpAddInfo: $crate::abi::LPNOTIFYADD,
        ) -> $crate::abi::DWORD {
            // SAFETY: the caller keeps the npapi.h contract, which is
            // exactly what `add_connect_notify` requires.
            unsafe { $crate::glue::add_connect_notify(__mpr_sdk_notifyee, lpNotifyInfo, lpAddInfo) }
        }

        /// The `CancelConnectNotify` export of this notifyee (npapi.h).
        ///
        /// # Safety
        ///
        /// As for `AddConnectNotify`, with `lpCancelInfo`.
        #[unsafe(no_mangle)]
        #[allow(non_snake_case)]
        pub unsafe extern "system" fn CancelConnectNotify(
            lpNotifyInfo: $crate::abi::LPNOTIFYINFO,
            lpCancelInfo: $crate::abi::LPNOTIFYCANCEL,
        ) -> $crate::abi::DWORD {
            // SAFETY: as above, for `cancel_connect_notify`.
            unsafe {
                $crate::glue::cancel_connect_notify(__mpr_sdk_notifyee, lpNotifyInfo, lpCancelInfo)
            }
        }

        // The exports have exactly the npapi.h types.
        const _: $crate::abi::PF_AddConnectNotify = AddConnectNotify;
        const _: $crate::abi::PF_CancelConnectNotify = CancelConnectNotify;
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_of_remote_names() {
        for (remote, server) in [
            (r"\\srv\share", Some("srv")),
            (r"\\srv", Some("srv")),
            (r"\\srv@80\dav", Some("srv")),
            ("//srv/x", Some("srv")),
            ("smb://srv/share", Some("srv")),
            ("sftp://u@srv:2222/", Some("srv")),
            ("dav://[fe80::1]/x", Some("fe80::1")),
            (r"\\\share", None),
            ("sftp:///x", None),
            ("", None),
            ("Z:", None),
        ] {
            assert_eq!(server_of(remote), server, "{remote}");
        }
    }

    #[test]
    fn the_server_is_the_one_the_router_reads() {
        // Unbracketed colons: the port is after the last one, as for the
        // providers (the SDK's own parser took the text before the first).
        assert_eq!(server_of("sftp://h:1:22/x"), Some("h:1"));
        // What the router refuses names no server.
        assert_eq!(server_of(r"\\srv@notaport\share"), None);
        assert_eq!(server_of(r"\\srv\\share"), None);
    }

    #[test]
    fn pre_constructors() {
        let p: Pre<u8> = Pre::keep(3);
        assert_eq!((p.result, p.context), (Ok(()), Some(3)));
        let p: Pre<u8> = Pre::veto(WnError::Cancel);
        assert_eq!((p.result, p.context), (Err(WnError::Cancel), None));
        let p: Pre<u8> = Pre::proceed();
        assert_eq!((p.result, p.context), (Ok(()), None));
    }
}
