#!/usr/bin/env bash
# test.sh: every check and every test of mpr, on a fresh Debian 12 machine.
#
# Usage: bash scripts/test.sh        (as root; CI runs it through .ci/run)
#
# 1. installs the Debian packages the tests need (scripts/ci-deps.sh; quiet
#    and quick when they are already there) and the Rust components;
# 2. starts the private loopback servers (scripts/test-servers.sh) and stops
#    them on exit, also when a test fails;
# 3. format, lint, docs, then the whole test suite;
# 4. as root, the user-facing tests once more as an ordinary user
#    (scripts/test-unprivileged.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/ci-deps.sh
else
  echo "test.sh: not root: skipping package installation (scripts/ci-deps.sh needs root)" >&2
fi
command -v cargo >/dev/null || { echo "test.sh: cargo is not installed (https://rustup.rs)" >&2; exit 1; }
command -v cc >/dev/null || { echo "test.sh: cc is missing: apt-get install gcc" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh

stop_servers() { bash scripts/test-servers.sh stop >/dev/null 2>&1 || true; }
if [ "$(id -u)" -eq 0 ]; then
  trap stop_servers EXIT
  bash scripts/test-servers.sh start
  bash scripts/test-journald.sh start # shared by the machine: left running
fi

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets are a workspace of their own (fuzz/): keep them formatted
# and linted (type-checking without libFuzzer's C++ build, in the same target
# directory, so it reuses clippy's work), then run every one for 20 s
# (scripts/fuzz.sh installs cargo-fuzz through scripts/fuzz-deps.sh when it
# is missing; docs/fuzzing.md).
echo "== fuzz targets (lint, then 20 s each)"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --manifest-path fuzz/Cargo.toml --no-default-features --locked --target-dir target -- -D warnings
bash scripts/fuzz.sh all 20
echo "== cargo deny (bans, licenses, sources; deny.toml)"
command -v cargo-deny >/dev/null || cargo install --locked --quiet cargo-deny
cargo deny --log-level error check bans licenses sources
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked --quiet
echo "== make install into a scratch prefix, and a C program through pkg-config"
bash scripts/check-install.sh
if [ "$(id -u)" -eq 0 ]; then
  echo "== the Debian package: build, lintian, apt install, smoke test, purge"
  command -v cargo-deb >/dev/null || cargo install --locked --quiet cargo-deb
  bash scripts/check-deb.sh
fi
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"; stop_servers' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (cargo prints one per test binary,
# and the last of those is often a crate without doc tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
[ "$status" -eq 0 ] || exit "$status"
if [ "$(id -u)" -eq 0 ]; then
  # The user-facing tests once more as an ordinary user (no root, FUSE
  # through fusermount3), as desktop users run mpr.
  bash scripts/test-unprivileged.sh
fi
