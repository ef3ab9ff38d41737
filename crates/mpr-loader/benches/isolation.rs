//! The cost of process isolation (spec §7.10): starting a notifyee host,
//! and one PRE+POST pair of calls through a running host, next to the same
//! pair in-process. The notifyee is the C no-op of `benches/c/noop_notifyee.c`
//! (it keeps a context, so every PRE is followed by a POST).
//!
//! Run with `cargo bench -p mpr-loader --bench isolation`. The host program
//! is `target/release/mpr-notifyee-host` when it has been built
//! (`cargo build --release -p mpr-cli --bin mpr-notifyee-host`), else this
//! benchmark binary itself, which serves as a host when started as one (its
//! `main` calls [`mpr_loader::isolation::host_main`]); the real host is
//! smaller and starts faster, so record figures with it. The figures are in
//! `docs/performance.md` ("Process isolation").

use criterion::{BatchSize, Criterion, criterion_group};
use mpr_core::plugin::{AddNotice, ConnectNotifier, NotifyInfo, Phase};
use mpr_loader::isolation::IsolatedNotifier;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

/// The name the bench starts its hosts with; as `argv[1]` it also tells
/// this binary to act as a host.
const HOST_ARG: &str = "mpr-bench-isolation-host";

/// The deadline of every call (never reached here).
const TIMEOUT: Duration = Duration::from_secs(10);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles the no-op notifyee into a directory that passes the trust
/// checks.
fn noop_notifyee() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mpr-loader-isolation-bench");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let out = dir.join("libnoop_isolated.so");
    let source = repo().join("crates/mpr-loader/benches/c/noop_notifyee.c");
    let o = Command::new("cc")
        .args([
            "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2",
        ])
        .arg("-I")
        .arg(repo().join("include"))
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cc (install gcc: apt-get install gcc): {e}"));
    assert!(
        o.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The real host if it was built in this profile's directory, else this
/// binary.
fn host_program() -> PathBuf {
    let me = std::env::current_exe().expect("current_exe");
    let real = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join(mpr_loader::isolation::HOST_PROGRAM));
    match real.filter(|p| p.is_file()) {
        Some(p) => {
            eprintln!("isolation bench: host {}", p.display());
            p
        }
        None => {
            eprintln!(
                "isolation bench: no built mpr-notifyee-host next to {}; this binary \
                 serves as the host (build the real one for figures: cargo build \
                 --release -p mpr-cli --bin mpr-notifyee-host)",
                me.display()
            );
            me
        }
    }
}

fn start(host: &Path, lib: &Path) -> IsolatedNotifier {
    IsolatedNotifier::start_with_host(host, HOST_ARG, lib, TIMEOUT)
        .unwrap_or_else(|why| panic!("the host did not start: {why}"))
}

/// One PRE and the POST that returns its context.
#[inline(never)]
fn pre_post(n: &dyn ConnectNotifier, notice: &AddNotice<'_>) {
    let mut info = NotifyInfo {
        phase: Phase::Pre,
        operation_status: 0,
        context: 0,
    };
    let r = n.add_notify(&mut info, notice).expect("PRE");
    assert_eq!(r, 0);
    assert_ne!(info.context, 0, "the no-op notifyee keeps a context");
    info.phase = Phase::Post;
    let r = n.add_notify(&mut info, notice).expect("POST");
    black_box(r);
}

fn bench_isolation(c: &mut Criterion) {
    let lib = noop_notifyee();
    let host = host_program();
    let notice = AddNotice {
        owner: 0,
        r#type: mpr_abi::RESOURCETYPE_DISK,
        local: Some("Z:"),
        remote: r"\\bench\share",
        provider: None,
        flags: 0,
    };

    let mut g = c.benchmark_group("isolation");
    g.bench_function("host start (spawn, vet, load, handshake)", |b| {
        b.iter_batched(
            || (),
            |()| start(&host, &lib),
            // The drop (closing the channel, reaping the host) is not timed.
            BatchSize::PerIteration,
        );
    });

    let isolated = start(&host, &lib);
    g.bench_function("PRE+POST through the host", |b| {
        b.iter(|| pre_post(&isolated, &notice));
    });

    let vetted = mpr_core::trust::vet(&lib).expect("vet");
    let inproc = mpr_loader::load_notifyee(vetted).unwrap_or_else(|why| panic!("{why}"));
    g.bench_function("PRE+POST in-process", |b| {
        b.iter(|| pre_post(&inproc, &notice));
    });
    g.finish();
}

criterion_group!(benches, bench_isolation);

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(HOST_ARG) {
        return mpr_loader::isolation::host_main();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    ExitCode::SUCCESS
}
