#!/usr/bin/env bash
# fuzz.sh: runs the cargo-fuzz targets of mpr for a bounded time.
#
# Usage: bash scripts/fuzz.sh [TARGET] [SECONDS]
#   TARGET   names | config | all            (default: all)
#   SECONDS  how long each target runs       (default: 60)
#
# Works with the stable toolchain: cargo-fuzz passes nightly-only rustc
# flags (-Zsanitizer=address, ...), which RUSTC_BOOTSTRAP=1 lets a stable
# rustc accept. Installs cargo-fuzz from crates.io when it is missing, and
# needs a C++ compiler for libFuzzer (g++; scripts/ci-deps.sh installs it).
#
# New inputs are kept in fuzz/corpus/TARGET (not committed); the committed
# seeds are fuzz/seeds/TARGET. A failing input stops the run with a non-zero
# status, is saved in fuzz/artifacts/TARGET/, and the output says how to
# reproduce it (`RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET FILE`, in fuzz/).
# See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-60}
case "$target" in
  all) targets=(names config) ;;
  names | config) targets=("$target") ;;
  *) echo "fuzz.sh: unknown target $target (names, config or all)" >&2; exit 2 ;;
esac
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive number" >&2; exit 2; }

command -v cargo >/dev/null || { echo "fuzz.sh: cargo is not installed (https://rustup.rs)" >&2; exit 1; }
command -v c++ >/dev/null || { echo "fuzz.sh: a C++ compiler is missing: apt-get install g++" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz from crates.io" >&2
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

cd fuzz
for t in "${targets[@]}"; do
  # names: past the 4096-unit limit on names, which the default
  # -max_len (4096 bytes) barely reaches.
  extra=()
  [ "$t" = names ] && extra=(-max_len=10000)
  mkdir -p "corpus/$t"
  echo "== fuzz $t for ${seconds}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" "${extra[@]}"
done
