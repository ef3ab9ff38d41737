#!/usr/bin/env bash
# fuzz.sh: runs the cargo-fuzz targets of mpr for a bounded time.
#
# Usage: bash scripts/fuzz.sh [TARGET] [SECONDS]
#   TARGET   names | config | wire | journal | all   (default: all)
#   SECONDS  how long each target runs       (default: 60)
#
# Works with the stable toolchain: cargo-fuzz passes nightly-only rustc
# flags (-Zsanitizer=address, ...), which RUSTC_BOOTSTRAP=1 lets a stable
# rustc accept. scripts/fuzz-deps.sh installs what is missing first
# (cargo-fuzz from crates.io, g++ for libFuzzer); scripts/test.sh runs every
# target for 20 s this way.
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
  all) targets=(names config wire journal) ;;
  names | config | wire | journal) targets=("$target") ;;
  *) echo "fuzz.sh: unknown target $target (names, config, wire, journal or all)" >&2; exit 2 ;;
esac
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive number" >&2; exit 2; }

bash scripts/fuzz-deps.sh

cd fuzz
for t in "${targets[@]}"; do
  # names: past the 4096-unit limit on names, which the default
  # -max_len (4096 bytes) barely reaches.
  extra=()
  [ "$t" = names ] && extra=(-max_len=10000)
  mkdir -p "corpus/$t"
  echo "== fuzz $t for ${seconds}s"
  # libFuzzer prints a line per new input: keep it in a log and show its
  # end (the statistics), or all of it when the target fails.
  log=$(mktemp "${TMPDIR:-/tmp}/mpr-fuzz-$t.XXXXXX.log")
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "fuzz.sh: target $t failed (the whole output is above; the input is in fuzz/artifacts/$t/)" >&2
    rm -f "$log"
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || tail -n 3 "$log"
  rm -f "$log"
done
