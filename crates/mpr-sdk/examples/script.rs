//! The SDK twin of `tests/c/notifyee_script.c`: a notifyee whose behaviour
//! a test scripts through `$MPRTEST_DIR/<name>.conf`, and which appends one
//! line per call to `$MPRTEST_DIR/log`, in exactly the C notifyee's format
//! (`tests/c/README.md`), so that the contract tests can run both and
//! compare what they saw.
//!
//! It knows the C notifyee's core keys: `add_pre`, `add_post`, `cancel_pre`,
//! `cancel_post`, `add_post_retry`, `cancel_post_retry` and `context`; and
//! one of its own, `panic=<phases>`, which makes those calls panic (after
//! the log line, which says `ret=panic`): the SDK returns
//! `WN_WINDOWS_ERROR`. Codes must be `WN_*` codes known to `WnError`.
//!
//! Its name is the file name of the library: `lib<name>.so`, or
//! `libsdk_<name>.so` (the tests copy the built library under the names
//! they need), found in `/proc/self/maps`.
//!
//! Build: `cargo build -p mpr-sdk --example sdk_script` gives
//! `target/debug/examples/libsdk_script.so`.

use mpr_sdk::{AddInfo, CancelInfo, Notifyee, Post, Pre, WnError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

/// A context: the serial of the PRE that made it (the first is 1).
#[derive(Debug)]
struct Ctx {
    serial: u32,
}

/// The per-library counters (the C notifyee's statics).
#[derive(Debug, Default)]
struct Counters {
    serial: u32,
    /// `WN_RETRY` answers given so far: add, cancel.
    retries: [u64; 2],
}

/// The notifyee: its name and counters.
#[derive(Debug)]
struct Script {
    name: String,
    counters: Mutex<Counters>,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            name: own_name().unwrap_or_else(|| "sdk".into()),
            counters: Mutex::default(),
        }
    }
}

const PHASES: [&str; 4] = ["add_pre", "add_post", "cancel_pre", "cancel_post"];

/// What `<name>.conf` says.
#[derive(Debug)]
struct Config {
    code: [u32; 4],
    retry: [u64; 2],
    context: bool,
    panic: [bool; 4],
}

/// The name from the library's own file name.
fn own_name() -> Option<String> {
    let here = own_name as fn() -> Option<String> as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let (lo, hi) = f.next()?.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        let path = f.nth(4).filter(|_| (lo..hi).contains(&here))?;
        let stem = path
            .rsplit('/')
            .next()?
            .strip_prefix("lib")?
            .strip_suffix(".so")?;
        Some(stem.strip_prefix("sdk_").unwrap_or(stem).to_string())
    })
}

fn test_dir() -> Option<PathBuf> {
    std::env::var_os("MPRTEST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// "123" or "0x7B", at most `max`.
fn number(s: &str, max: u64) -> Option<u64> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.starts_with(['+', '-']) => u64::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None if s.starts_with(['+', '-']) => return None,
        None => s.parse().ok()?,
    };
    (v <= max).then_some(v)
}

impl Script {
    fn config(&self, dir: Option<&PathBuf>) -> Config {
        let mut c = Config {
            code: [0; 4],
            retry: [0; 2],
            context: true,
            panic: [false; 4],
        };
        let Some(text) =
            dir.and_then(|d| std::fs::read_to_string(d.join(format!("{}.conf", self.name))).ok())
        else {
            return c;
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let Some((key, val)) = line.split_once('=') else {
                continue;
            };
            let (key, val) = (key.trim(), val.trim());
            if let Some(p) = PHASES.iter().position(|&p| p == key) {
                if let Some(v) = number(val, u64::from(u32::MAX)) {
                    c.code[p] = v as u32;
                }
            } else if key == "add_post_retry" || key == "cancel_post_retry" {
                if let Some(v) = number(val, u64::from(u32::MAX)) {
                    c.retry[usize::from(key == "cancel_post_retry")] = v;
                }
            } else if key == "context" {
                if let Some(v) = number(val, 1) {
                    c.context = v == 1;
                }
            } else if key == "panic" {
                for phase in val.split([',', ' ']) {
                    if let Some(p) = PHASES.iter().position(|&p| p == phase) {
                        c.panic[p] = true;
                    }
                }
            }
        }
        c
    }

    fn log(&self, dir: Option<&PathBuf>, fields: &str) {
        let Some(dir) = dir else { return };
        let line = format!("N\t{}\t{fields}\tpid={}\n", self.name, std::process::id());
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(dir.join("log"));
        if let Ok(mut f) = file {
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// PRE of either kind; `what` is the operation's part of the log line.
    fn pre(&self, kind: usize, retrying: bool, what: impl Fn() -> String) -> Pre<Ctx> {
        let dir = test_dir();
        let phase = kind * 2;
        let cfg = self.config(dir.as_ref());
        let ret = cfg.code[phase];
        let ctx = cfg.context.then(|| {
            let mut k = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            k.serial += 1;
            Ctx { serial: k.serial }
        });
        let shown_ret = if cfg.panic[phase] {
            "panic".to_string()
        } else {
            ret.to_string()
        };
        self.log(
            dir.as_ref(),
            &format!(
                "{}\tpre\tstatus={}\tctx={}\tret={shown_ret}\t{}",
                ["add", "cancel"][kind],
                if retrying { mpr_sdk::abi::WN_RETRY } else { 0 },
                ctx.as_ref().map_or(0, |c| c.serial),
                what()
            ),
        );
        if cfg.panic[phase] {
            panic!("scripted panic in {}", PHASES[phase]);
        }
        Pre {
            result: WnError::from_status(ret),
            context: ctx,
        }
    }

    /// POST of either kind.
    fn post(
        &self,
        kind: usize,
        result: Result<(), WnError>,
        ctx: Ctx,
        what: impl Fn() -> String,
    ) -> Post<Ctx> {
        let dir = test_dir();
        let phase = kind * 2 + 1;
        let cfg = self.config(dir.as_ref());
        let retry = {
            let mut k = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            let r = result.is_err() && k.retries[kind] < cfg.retry[kind];
            if r {
                k.retries[kind] += 1;
            }
            r
        };
        let ret = if retry {
            mpr_sdk::abi::WN_RETRY
        } else {
            cfg.code[phase]
        };
        let shown_ret = if cfg.panic[phase] {
            "panic".to_string()
        } else {
            ret.to_string()
        };
        self.log(
            dir.as_ref(),
            &format!(
                "{}\tpost\tstatus={}\tctx={}\tret={shown_ret}\t{}",
                ["add", "cancel"][kind],
                result.err().map_or(0, WnError::code),
                ctx.serial,
                what()
            ),
        );
        if cfg.panic[phase] {
            panic!("scripted panic in {}", PHASES[phase]);
        }
        // As in C: whoever answers WN_RETRY keeps its context.
        if ret == mpr_sdk::abi::WN_RETRY {
            Post::Retry(ctx)
        } else {
            Post::Done(WnError::from_status(ret))
        }
    }
}

/// A string as the C notifyee logs it: `(null)` for NULL, control
/// characters as `\xHH`.
fn shown(s: Option<&str>) -> String {
    let Some(s) = s else {
        return "(null)".into();
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 0x20 || c == '\x7f' {
            out.push_str(&format!("\\x{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn add_fields(a: &AddInfo) -> String {
    format!(
        "local={}\tremote={}\tname=-\tprovider={}\ttype={}\tflags={}\tforce=-\towner={}",
        shown(a.local.as_deref()),
        shown(a.remote.as_deref()),
        shown(a.provider.as_deref()),
        a.r#type,
        a.flags,
        u8::from(a.owner != 0)
    )
}

fn cancel_fields(c: &CancelInfo) -> String {
    format!(
        "local=-\tremote=-\tname={}\tprovider={}\ttype=-\tflags={}\tforce={}\towner=-",
        shown(c.name.as_deref()),
        shown(c.provider.as_deref()),
        c.flags,
        u8::from(c.force)
    )
}

impl Notifyee for Script {
    type Context = Ctx;

    fn add_pre(&self, add: &AddInfo, retrying: bool) -> Pre<Ctx> {
        self.pre(0, retrying, || add_fields(add))
    }

    fn add_post(&self, add: &AddInfo, result: Result<(), WnError>, ctx: Ctx) -> Post<Ctx> {
        self.post(0, result, ctx, || add_fields(add))
    }

    fn cancel_pre(&self, cancel: &CancelInfo, retrying: bool) -> Pre<Ctx> {
        self.pre(1, retrying, || cancel_fields(cancel))
    }

    fn cancel_post(&self, cancel: &CancelInfo, result: Result<(), WnError>, ctx: Ctx) -> Post<Ctx> {
        self.post(1, result, ctx, || cancel_fields(cancel))
    }
}

mpr_sdk::export_notifyee!(Script);
