#!/usr/bin/env bash
# fuzz-deps.sh: installs what the fuzz targets need (docs/fuzzing.md), quietly,
# and only what is missing: a second run takes well under a second.
#
# - a C++ compiler for libFuzzer (g++, from Debian; needs root when missing);
# - cargo-fuzz, pinned, from crates.io (`cargo install --locked`).
#
# No nightly toolchain: cargo-fuzz's nightly-only rustc flags are accepted by
# the stable rustc under RUSTC_BOOTSTRAP=1, which scripts/fuzz.sh sets for its
# own cargo commands only.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2

command -v cargo >/dev/null || { echo "fuzz-deps.sh: cargo is not installed (https://rustup.rs)" >&2; exit 1; }
if ! command -v c++ >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "fuzz-deps.sh: a C++ compiler is missing: apt-get install g++ (as root)" >&2
    exit 1
  fi
  echo "fuzz-deps.sh: installing g++" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
fi
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz-deps.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi
