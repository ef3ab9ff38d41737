#!/usr/bin/env bash
# crash-kills.sh: a long run of the crash-consistency test (docs/crash-safety.md).
#
# Usage: bash scripts/crash-kills.sh [KILLS] [SEED] [PROVIDER]
#   KILLS     how many commands are killed with SIGKILL   (default: 1000)
#   SEED      the seed of the random sequence              (default: 11)
#   PROVIDER  sftp or smb (both served by mpr's own mpr-fsd)  (default: sftp)
#
# Runs the test `crash::[smb_]commands_killed_at_random_moments_...` of
# crates/mpr-cli/tests/crash.rs against the loopback test servers (started if
# they are not running; never stopped): a seeded random sequence of `mpr use
# NAME URL --persistent`, `mpr use NAME --delete [--keep-remembered]` and
# `mpr restore`, each killed at a random moment (0-150 ms), after which the
# live table, the mount table and the helper processes must agree and the next
# command must leave the name clean. Prints every orphan and disagreement found
# and one closing line with the counts; exits non-zero if there was any. The
# same seed gives the same sequence of commands and delays (what the killed
# command had reached at that moment varies with the machine's load).
set -euo pipefail
cd "$(dirname "$0")/.."

kills=${1:-1000}
seed=${2:-11}
provider=${3:-sftp}
case "$provider" in
  sftp) test=crash::commands_killed_at_random_moments ;;
  smb) test=crash::smb_commands_killed_at_random_moments ;;
  *) echo "crash-kills.sh: PROVIDER must be sftp or smb" >&2; exit 2 ;;
esac
[[ "$kills" =~ ^[1-9][0-9]*$ ]] || { echo "crash-kills.sh: KILLS must be a positive number" >&2; exit 2; }
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "crash-kills.sh: SEED must be a number" >&2; exit 2; }
command -v cargo >/dev/null || { echo "crash-kills.sh: cargo is not installed (https://rustup.rs)" >&2; exit 1; }

# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/test-servers.sh start >/dev/null
fi

echo "== building the tests"
cargo test -p mpr-cli --test integration --locked --no-run --quiet
echo "== $provider: $kills kills, seed $seed ($(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d))"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
MPR_CRASH_KILLS=$kills MPR_CRASH_SEED=$seed \
  cargo test -p mpr-cli --test integration --locked --quiet \
  "$test" -- --nocapture >"$log" 2>&1
status=$?
set -e
if ! grep '^crash: ' "$log"; then
  # The test did not get as far as its summary: show why.
  cat "$log"
fi
exit "$status"
