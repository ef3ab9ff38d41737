#!/usr/bin/env bash
# demo.sh: the main job. Starts private SFTP, SMB and WebDAV servers on
# 127.0.0.1, registers the sample audit notifyee, maps Z: to the SFTP share,
# Y: to the SMB share and X: to the WebDAV share, lists and writes files
# through them, shows the notifications that fired, and disconnects cleanly.
#
# Usage: bash scripts/demo.sh        (as root on Debian 12: it installs what it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "$(id -u)" -eq 0 ]; then bash scripts/ci-deps.sh; fi
# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
cargo build --quiet --bin mpr
MPR="${CARGO_TARGET_DIR:-$ROOT/target}/debug/mpr"

bash scripts/test-servers.sh start
# shellcheck disable=SC1090
eval "$(bash scripts/test-servers.sh env | sed 's/^/export /')"

# Plugins must live where the trust checks accept them (owned by you or
# root, nothing group- or world-writable above them).
DEMO="${CARGO_TARGET_DIR:-$ROOT/target}/demo"
cleanup() {
  for d in Z Y X; do "$MPR" use "$d:" --delete --force >/dev/null 2>&1 || true; done
  bash scripts/test-servers.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
rm -rf "$DEMO"
install -d -m 755 "$DEMO" "$DEMO/lib" "$DEMO/etc" "$DEMO/state" "$DEMO/drives"
install -d -m 700 "$DEMO/run"
cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include -o "$DEMO/lib/libmpr_audit.so" samples/notifyees/audit.c

cat > "$DEMO/ssh_config" <<SSH
Host 127.0.0.1
  User $MPR_TEST_SSH_USER
  IdentityFile $MPR_TEST_SSH_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $MPR_TEST_SSH_KNOWN_HOSTS
  StrictHostKeyChecking yes
SSH
cat > "$DEMO/etc/mpr.toml" <<TOML
[providers]
order = ["sftp", "smb", "webdav"]

[providers.sftp]
ssh_config = "$DEMO/ssh_config"

[notifyees]
audit = "$DEMO/lib/libmpr_audit.so"

[journal]
sink = "file" # the demo counts the records in its own journal.jsonl below
TOML

export MPR_CONFIG_DIR="$DEMO/etc" MPR_STATE_DIR="$DEMO/state" MPR_RUNTIME_DIR="$DEMO/run" \
       MPR_DRIVES_DIR="$DEMO/drives" MPR_AUDIT_FILE="$DEMO/audit.log"
say() { printf '\n$ %s\n' "$*"; }
run() { say "mpr $*"; "$MPR" "$@"; }

echo "== mpr.toml"; cat "$DEMO/etc/mpr.toml"
SFTP="\\\\127.0.0.1@$MPR_TEST_SSH_PORT\\export"
SMB="\\\\127.0.0.1@$MPR_TEST_SMB_PORT\\share"
DAV="dav://127.0.0.1:$MPR_TEST_DAV_PORT/"

run use Z: "$SFTP" --persistent
say "mpr use Y: $SMB --user $MPR_TEST_SMB_USER --password-stdin < \$MPR_TEST_SMB_PASSWORD_FILE"
"$MPR" use Y: "$SMB" --user "$MPR_TEST_SMB_USER" --password-stdin < "$MPR_TEST_SMB_PASSWORD_FILE"
say "mpr use X: $DAV --user $MPR_TEST_DAV_USER --password-stdin < \$MPR_TEST_DAV_PASSWORD_FILE"
"$MPR" use X: "$DAV" --user "$MPR_TEST_DAV_USER" --password-stdin < "$MPR_TEST_DAV_PASSWORD_FILE"
run use
run get Z:

for d in Z Y X; do
  say "echo 'hello from mpr' > $DEMO/drives/$d/hello-$d.txt"
  echo "hello from mpr" > "$DEMO/drives/$d/hello-$d.txt"
done
say "ls -l $DEMO/drives/Z $DEMO/drives/Y $DEMO/drives/X"
ls -l "$DEMO/drives/Z" "$DEMO/drives/Y" "$DEMO/drives/X"
say "ls -l (on the servers) $MPR_TEST_SSH_EXPORT $MPR_TEST_SMB_SHARE_DIR $MPR_TEST_DAV_DIR"
ls -l "$MPR_TEST_SSH_EXPORT/hello-Z.txt" "$MPR_TEST_SMB_SHARE_DIR/hello-Y.txt" "$MPR_TEST_DAV_DIR/hello-X.txt"

run use Z: --delete --keep-remembered
run use
run restore
run use Z: --delete
run use Y: --delete
run use X: --delete --json
run use
rm -f "$MPR_TEST_SSH_EXPORT/hello-Z.txt" "$MPR_TEST_SMB_SHARE_DIR/hello-Y.txt" "$MPR_TEST_DAV_DIR/hello-X.txt"

echo; echo "== notifications seen by the audit notifyee ($MPR_AUDIT_FILE)"
cat "$MPR_AUDIT_FILE"
echo; echo "== the audit journal: $(wc -l < "$DEMO/state/journal.jsonl") records in $DEMO/state/journal.jsonl"
if grep -q "$DEMO/drives" /proc/self/mountinfo; then echo "demo: something is still mounted" >&2; exit 1; fi
echo "demo finished: every connection was made and removed cleanly"
