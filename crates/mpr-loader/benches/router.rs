//! The router's own cost: one add plus one cancel through
//! [`mpr_core::router::Router`] with an in-memory no-op provider, a memory
//! state store ([`Store::memory`]), the journal disabled, and 0, 1 or 8
//! in-process C no-op notifyees (`benches/c/noop_notifyee.c`), each loaded
//! through the real path: [`mpr_core::trust::vet`], then
//! [`mpr_loader::load_notifyee_slot`].
//!
//! Run with `cargo bench -p mpr-loader --bench router`; the figures and how
//! to read them are in `docs/performance.md`.
//!
//! The connection is deviceless (`\\bench\share`, no local name), so no
//! mount directory is created: what is measured is validation, the
//! notification rounds, provider selection and the state commit in memory.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mpr_core::config::{Isolation, NotifyeeEntry, Policy};
use mpr_core::plugin::{CancelCall, ConnectCall, NetworkProvider};
use mpr_core::router::{
    AddApi, AddRequest, CancelRequest, NotifyeeSlot, NotifyeeState, ProviderSlot, Router,
    RouterParts,
};
use mpr_core::state::Store;
use mpr_core::{Journal, WnError};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// The remote name every iteration connects and disconnects.
const REMOTE: &str = r"\\bench\share";

/// The notifyee counts measured.
const COUNTS: [usize; 3] = [0, 1, 8];

/// A provider that accepts every add and cancel and does nothing.
#[derive(Debug)]
struct NoopProvider;

impl NetworkProvider for NoopProvider {
    fn key(&self) -> &str {
        "noop"
    }

    fn display_name(&self) -> &str {
        "No-op Network"
    }

    fn connection_caps(&self) -> u32 {
        mpr_abi::WNNC_CON_ADDCONNECTION
            | mpr_abi::WNNC_CON_ADDCONNECTION3
            | mpr_abi::WNNC_CON_CANCELCONNECTION
    }

    fn origin(&self) -> mpr_core::plugin::Origin {
        mpr_core::plugin::Origin::BuiltIn
    }

    fn add_connection(&self, call: &ConnectCall<'_>) -> Result<(), WnError> {
        black_box(call);
        Ok(())
    }

    fn cancel_connection(&self, call: &CancelCall<'_>) -> Result<(), WnError> {
        black_box(call);
        Ok(())
    }

    fn get_connection(&self, _local: &str, _directory: Option<&Path>) -> Result<String, WnError> {
        Err(WnError::NotConnected)
    }
}

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A private scratch directory under `CARGO_TARGET_TMPDIR`, whose ancestors
/// are not group- or world-writable (the trust checks look at them all).
fn scratch() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mpr-loader-bench");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.display()));
    d
}

/// Compiles the no-op notifyee once and makes `n` copies of it: separate
/// files (separate inodes), so the dynamic loader maps `n` separate objects
/// rather than handing back one handle `n` times.
fn noop_notifyees(n: usize) -> Vec<PathBuf> {
    let dir = scratch();
    let built = dir.join("libnoop_notifyee.so");
    let source = repo().join("crates/mpr-loader/benches/c/noop_notifyee.c");
    let out = Command::new("cc")
        .args([
            "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2",
        ])
        .arg("-I")
        .arg(repo().join("include"))
        .arg("-o")
        .arg(&built)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cc (install gcc: apt-get install gcc): {e}"));
    assert!(
        out.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (0..n)
        .map(|i| {
            let copy = dir.join(format!("libnoop_notifyee_{i}.so"));
            std::fs::copy(&built, &copy)
                .unwrap_or_else(|e| panic!("cannot copy to {}: {e}", copy.display()));
            copy
        })
        .collect()
}

/// Vets and loads each library into an in-process notifyee slot.
fn load_slots(paths: &[PathBuf]) -> Vec<NotifyeeSlot> {
    paths
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let entry = NotifyeeEntry {
                name: format!("noop{i}"),
                path: path.clone(),
                isolation: Isolation::InProcess,
                timeout_ms: mpr_core::config::DEFAULT_TIMEOUT_MS,
                policy: Policy::Veto,
                line: i + 1,
            };
            let mut warnings = Vec::new();
            let slot = mpr_loader::load_notifyee_slot(&entry, None, &mut warnings);
            assert!(
                matches!(slot.state, NotifyeeState::Ready(_)),
                "{} did not load: {warnings:?}",
                path.display()
            );
            slot
        })
        .collect()
}

/// Checks that every copy is a separate mapping of the process.
fn assert_separately_mapped(paths: &[PathBuf]) {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("cannot read /proc/self/maps");
    for p in paths {
        let real = p.canonicalize().unwrap();
        let needle = real.to_string_lossy();
        assert!(
            maps.lines().any(|l| l.ends_with(needle.as_ref())),
            "{needle} is not mapped"
        );
    }
}

fn router(notifyees: Vec<NotifyeeSlot>, journal: Journal) -> Router {
    let base = scratch();
    Router::new(RouterParts {
        providers: vec![ProviderSlot::Ready(Arc::new(NoopProvider))],
        notifyees,
        store: Store::memory(),
        drives_dir: base.join("drives"),
        runtime_dir: base.join("run"),
        observers: vec![Arc::new(journal)],
        max_retry_rounds: mpr_core::config::DEFAULT_MAX_RETRY_ROUNDS,
    })
}

/// One measured unit: an add and the cancel that undoes it (never inlined,
/// so that a profiler can count and cost it on its own).
#[inline(never)]
fn add_cancel(r: &Router, add: &AddRequest, cancel: &CancelRequest) {
    let a = r.add(black_box(add)).expect("add");
    black_box(a);
    let c = r.cancel(black_box(cancel)).expect("cancel");
    black_box(c);
}

/// Runs one add+cancel with a journal file and checks that every notifyee
/// got its PRE and its POST for both operations (the context is non-NULL),
/// so the benchmark measures full PRE+POST pairs.
fn assert_pre_and_post(slots: &[NotifyeeSlot], add: &AddRequest, cancel: &CancelRequest) {
    let journal = scratch().join("check-journal.jsonl");
    let _ = std::fs::remove_file(&journal);
    let r = router(slots.to_vec(), Journal::to_file(journal.clone()));
    r.add(add).expect("add");
    r.cancel(cancel).expect("cancel");
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    for phase in ["pre", "post"] {
        let calls = text
            .lines()
            .filter(|l| l.contains(r#""event":"notify""#))
            .filter(|l| l.contains(&format!(r#""phase":"{phase}""#)))
            .filter(|l| l.contains(r#""result":0"#))
            .count();
        assert_eq!(calls, 2 * slots.len(), "{phase} calls in:\n{text}");
    }
}

fn bench_add_cancel(c: &mut Criterion) {
    let paths = noop_notifyees(*COUNTS.iter().max().unwrap());
    let all = load_slots(&paths);
    assert_separately_mapped(&paths);
    let add = AddRequest::new(AddApi::Use, None, REMOTE, 0);
    let cancel = CancelRequest {
        name: REMOTE.to_string(),
        flags: 0,
        force: false,
    };
    let mut group = c.benchmark_group("router/add+cancel");
    // Two operations per iteration: criterion's rate is operations/second.
    group.throughput(Throughput::Elements(2));
    for n in COUNTS {
        let slots = all[..n].to_vec();
        assert_pre_and_post(&slots, &add, &cancel);
        let r = router(slots, Journal::disabled());
        group.bench_with_input(BenchmarkId::new("notifyees", n), &r, |b, r| {
            b.iter(|| add_cancel(r, &add, &cancel));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_add_cancel);
criterion_main!(benches);
