#!/usr/bin/env bash
# test-unprivileged.sh: runs the user-facing integration tests (providers,
# saved credentials, the agent) a second time as an ordinary user, the way
# desktop users run mpr: no root, FUSE through fusermount3.
#
# Usage: bash scripts/test-unprivileged.sh [TEST-FILTER...]   (as root)
#
# scripts/test.sh calls it after the root run. As root it
#  1. creates the account `mpruser` (once) and makes /dev/fuse mode 0666,
#     as a stock Debian has it;
#  2. gives that account its own copy of the fixture's client side (the
#     env file, the ssh client key and known_hosts, the password files),
#     owned by it and private, in ~mpruser/mpr-fixture;
#  3. lets it write in the servers' directories (an ACL), as a colleague
#     with an account on the file server would, since the tests change
#     files on the server side too;
#  4. gives it a scratch directory of its own for the tests' files
#     (MPR_TEST_SCRATCH), and makes the directories down to the repository and the target
#     directory traversable (o+x only) if they are not;
#  5. runs the integration test binary as `mpruser` with a clean
#     environment, on the given filters (default: the provider, selection,
#     credential and agent tests).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test-unprivileged.sh: run as root (it creates the account)" >&2; exit 1; }

USER_NAME=mpruser
# --prepare: only the set-up (steps 1-4), which scripts/test.sh does before
# the root run too, since some root tests act as an ordinary user.
prepare_only=false
if [ "${1:-}" = --prepare ]; then prepare_only=true; shift; fi
FILTERS=("$@")
[ ${#FILTERS[@]} -gt 0 ] || FILTERS=(sftp:: smb_dav:: providers_common:: selection:: cred:: agent::)

# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
for c in setfacl runuser dbus-run-session; do
  command -v "$c" >/dev/null || { echo "test-unprivileged.sh: '$c' is missing: bash scripts/ci-deps.sh installs it" >&2; exit 1; }
done

id "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --comment "mpr unprivileged test run" "$USER_NAME"
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)
chmod 0666 /dev/fuse

base=${MPR_TEST_SERVERS:-/tmp/mpr-test-servers}
[ -r "$base/env" ] || { echo "test-unprivileged.sh: the test servers are not running: bash scripts/test-servers.sh start" >&2; exit 1; }
# The fixture's values, for this script (not exported to the tests).
declare -A V
while IFS='=' read -r k v; do V[$k]=$v; done <"$base/env"

# 2. The account's own fixture: its copy of every client-side secret.
fx=$HOME_DIR/mpr-fixture
rm -rf "$fx"
install -d -m 700 -o "$USER_NAME" -g "$USER_NAME" "$fx" "$fx/secrets" "$fx/ssh"
copy() { install -m 600 -o "$USER_NAME" -g "$USER_NAME" "$1" "$2"; }
copy "${V[MPR_TEST_SSH_KEY]}" "$fx/ssh/client_ed25519"
copy "${V[MPR_TEST_SSH_KNOWN_HOSTS]}" "$fx/ssh/known_hosts"
for k in MPR_TEST_SSH_PASSWORD_FILE MPR_TEST_SMB_PASSWORD_FILE MPR_TEST_DAV_PASSWORD_FILE MPR_TEST_SMB_CREDENTIALS_FILE MPR_TEST_PEER_PASSWORD_FILE; do
  copy "${V[$k]}" "$fx/secrets/$(basename "${V[$k]}")"
done
sed -e "s#^MPR_TEST_SSH_KEY=.*#MPR_TEST_SSH_KEY=$fx/ssh/client_ed25519#" \
    -e "s#^MPR_TEST_SSH_KNOWN_HOSTS=.*#MPR_TEST_SSH_KNOWN_HOSTS=$fx/ssh/known_hosts#" \
    -e "s#^\(MPR_TEST_[A-Z]*_\(PASSWORD\|CREDENTIALS\)_FILE\)=.*/\([^/]*\)\$#\1=$fx/secrets/\3#" \
    "$base/env" >"$fx/env"
chown "$USER_NAME:" "$fx/env"
chmod 600 "$fx/env"

# 3. The servers' directories: the account may change files there.
for k in MPR_TEST_SSH_EXPORT MPR_TEST_SSH_EXPORT2 MPR_TEST_SMB_SHARE_DIR MPR_TEST_SMB_SHARE2_DIR \
         MPR_TEST_SMB_SEALED_DIR MPR_TEST_DAV_DIR; do
  d=${V[$k]}
  setfacl -R -m "u:$USER_NAME:rwX,d:u:$USER_NAME:rwX,d:u:${V[MPR_TEST_SSH_USER]}:rwX" "$d"
done

# 4. The way to the test binaries and the repository's fixtures.
target=${CARGO_TARGET_DIR:-$(pwd -P)/target}
for d in "$(pwd -P)" "$target"; do
  while [ "$d" != / ]; do
    [ -n "$(find "$d" -maxdepth 0 -perm -o=x 2>/dev/null)" ] || { chmod o+x "$d"; echo "test-unprivileged.sh: made $d traversable (o+x) for $USER_NAME"; }
    d=$(dirname "$d")
  done
done

# The test target's executable (the same build also lists the binaries).
scratch=$HOME_DIR/mpr-scratch
install -d -m 755 -o "$USER_NAME" -g "$USER_NAME" "$scratch"
$prepare_only && exit 0

bin=$(cargo test -p mpr-cli --test integration --locked --no-run --message-format=json 2>/dev/null \
  | grep '"kind":\["test"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "test-unprivileged.sh: cannot find the integration test binary" >&2; exit 1; }

echo "== the user-facing tests again, as $USER_NAME (uid $(id -u "$USER_NAME")): ${FILTERS[*]}"
cd "$HOME_DIR"
exec runuser -u "$USER_NAME" -- env -i \
  PATH=/usr/local/bin:/usr/bin:/bin \
  HOME="$HOME_DIR" USER="$USER_NAME" LOGNAME="$USER_NAME" LANG=C.UTF-8 \
  MPR_TEST_SERVERS="$fx" MPR_TEST_SCRATCH="$scratch" RUST_BACKTRACE=1 \
  "$bin" "${FILTERS[@]}"
