#!/bin/bash
# test-keyring.sh: run a command with a real, private, unlocked keyring.
#
# Usage: bash scripts/test-keyring.sh run [COMMAND [ARG...]]
#
# Starts a private D-Bus session bus (dbus-run-session) and, on it, a
# gnome-keyring-daemon offering the Secret Service (org.freedesktop.secrets)
# whose login keyring is created and unlocked non-interactively (its password
# is read on standard input, as PAM would hand it at login). Then runs
# COMMAND (default: $SHELL) with DBUS_SESSION_BUS_ADDRESS pointing at that bus,
# so `mpr cred ...` and `mpr use --savecred` find a keyring as on a desktop:
#
#   bash scripts/test-keyring.sh run mpr cred list
#
# The keyring files live in $MPR_KEYRING_DIR (default: a temporary directory
# removed at the end), never in your own ~/.local/share/keyrings. When
# COMMAND ends, the bus ends and the daemon with it. Works as any user; needs
# the packages dbus-daemon (dbus-run-session, dbus-send) and gnome-keyring
# (bash scripts/ci-deps.sh installs them). The exit status is COMMAND's.
#
# The integration tests (crates/mpr-cli/tests/cred.rs) run this script with a
# COMMAND that writes the bus address to a file and waits.
set -euo pipefail

say() { printf 'test-keyring.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

# The inner half, inside dbus-run-session: start the daemon, wait for it to
# own its name on the bus, run the command.
if [ "${1:-}" = "--inner" ]; then
  shift
  dir=$MPR_KEYRING_DIR
  mkdir -p -m 700 "$dir/data" "$dir/run"
  # The daemon's files (keyrings, control socket) under $dir only; the
  # command keeps its own XDG_* variables.
  printf '%s' "${MPR_KEYRING_PASSWORD:-mpr-test-keyring}" |
    env XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run" HOME="$dir" \
      gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null ||
    die "gnome-keyring-daemon did not start"
  for _ in $(seq 1 100); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
      grep -q 'boolean true'; then
      exec "$@"
    fi
    sleep 0.05
  done
  die "gnome-keyring-daemon did not take org.freedesktop.secrets on the bus within 5 s"
fi

[ "${1:-}" = "run" ] || die "usage: bash scripts/test-keyring.sh run [COMMAND [ARG...]]"
shift
[ $# -gt 0 ] || set -- "${SHELL:-/bin/bash}"
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool is missing: install dbus-daemon, dbus-bin and gnome-keyring (bash scripts/ci-deps.sh)"
done
if [ -n "${MPR_KEYRING_DIR:-}" ]; then
  mkdir -p -m 700 "$MPR_KEYRING_DIR"
else
  MPR_KEYRING_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mpr-keyring.XXXXXX")
  trap 'rm -rf "$MPR_KEYRING_DIR"' EXIT
fi
export MPR_KEYRING_DIR
# dbus-run-session's own complaints (no XDG_RUNTIME_DIR, fd limits) are noise.
status=0
dbus-run-session -- bash "$0" --inner "$@" 2> >(grep -v -e '^dbus-daemon\[' -e '^dbus\[' >&2) || status=$?
exit "$status"
