#!/usr/bin/env bash
# demo.sh: the main job. Builds mpr, registers the sample audit notifyee and a
# provider library, maps drives, lists them, shows the notifications that
# fired, and disconnects cleanly. Everything lives in a scratch directory.
#
# Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "$(id -u)" -eq 0 ]; then bash scripts/ci-deps.sh; fi
cargo build --quiet --bin mpr
MPR="$ROOT/target/debug/mpr"

# Plugins must live in a directory that passes the trust checks (not
# group- or world-writable, owned by you or root).
DEMO="$ROOT/target/demo"
rm -rf "$DEMO"
install -d -m 755 "$DEMO" "$DEMO/lib" "$DEMO/etc" "$DEMO/state" "$DEMO/drives" "$DEMO/t"
install -d -m 700 "$DEMO/run"
cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include -o "$DEMO/lib/libmpr_audit.so" samples/notifyees/audit.c
cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include -DPROVIDER_TAG='"acme"' \
   -o "$DEMO/lib/libacme_np.so" tests/c/provider_script.c

cat > "$DEMO/etc/mpr.toml" <<TOML
[providers]
order = ["sftp", "smb", "webdav", "acme"]

[providers.acme]
path = "$DEMO/lib/libacme_np.so"
name = "Acme Network"

[notifyees]
audit = "$DEMO/lib/libmpr_audit.so"
TOML

export MPR_CONFIG_DIR="$DEMO/etc" MPR_STATE_DIR="$DEMO/state" MPR_RUNTIME_DIR="$DEMO/run" \
       MPR_DRIVES_DIR="$DEMO/drives" MPR_AUDIT_FILE="$DEMO/audit.log" MPRTEST_DIR="$DEMO/t"
run() { printf '\n$ mpr %s\n' "$*"; "$MPR" "$@"; }

echo "== mpr.toml"; cat "$DEMO/etc/mpr.toml"
run use 'Z:' '\\acme\projects' --persistent
run use 'Y:' '\\acme\media'
run use
run get 'Z:'
run use 'Z:' '\\acme\other' || true
run use 'Z:' --delete --keep-remembered
run use
run restore
run use 'Z:' --delete
run use 'Y:' --delete --json
run use
echo; echo "== notifications seen by the audit notifyee ($MPR_AUDIT_FILE)"
cat "$MPR_AUDIT_FILE"
echo; echo "== the audit journal: $(wc -l < "$DEMO/state/journal.jsonl") records in $DEMO/state/journal.jsonl"
echo "demo finished: every connection was made and removed cleanly"
