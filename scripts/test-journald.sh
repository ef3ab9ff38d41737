#!/bin/bash
# test-journald.sh: a real systemd-journald for the tests of mpr's system
# journal sink, started directly (no systemd as PID 1 is needed).
#
# Usage: bash scripts/test-journald.sh start|stop|status
#
#   start    start /lib/systemd/systemd-journald unless one is running, and
#            wait until /run/systemd/journal/socket exists. Idempotent and
#            quick. It creates the socket and keeps a volatile journal in
#            /run/log/journal; `journalctl` reads it.
#   stop     stop the journald this script started (its recorded PID only;
#            one started otherwise is left alone). The machine's journal is
#            shared: scripts/test.sh does not stop it.
#   status   exit 0 when a journald is running and its socket exists.
#
# Needs root and the `systemd` package (scripts/ci-deps.sh installs it).
set -euo pipefail

ME=test-journald.sh
JOURNALD=/lib/systemd/systemd-journald
SOCKET=/run/systemd/journal/socket
PIDFILE=/run/mpr-test-journald.pid
LOG=/run/mpr-test-journald.log
WAIT_SECS=${MPR_TEST_JOURNALD_WAIT:-10}

die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

# The PID of a running journald: ours (pid file) or anyone's.
running() {
  local pid
  if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-journal ]; then
      echo "$pid"
      return 0
    fi
  fi
  # The kernel keeps 15 characters of the name: systemd-journal.
  pgrep -x systemd-journal | head -n 1
}

cmd_start() {
  local pid deadline
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  [ -x "$JOURNALD" ] || die "$JOURNALD is missing: apt-get install systemd (scripts/ci-deps.sh)"
  pid=$(running || true)
  if [ -n "$pid" ] && [ -S "$SOCKET" ]; then
    echo "journald already running (pid $pid; $SOCKET)"
    return 0
  fi
  [ -z "$pid" ] || die "a journald (pid $pid) runs but $SOCKET does not exist"
  # A socket left by a journald that died: its readiness is a new socket.
  rm -f "$SOCKET"
  # setsid: its own session, so a Ctrl-C in the caller's terminal or a test
  # harness killing its process group does not take it down.
  setsid "$JOURNALD" </dev/null >>"$LOG" 2>&1 &
  echo "$!" >"$PIDFILE"
  deadline=$((SECONDS + WAIT_SECS))
  until [ -S "$SOCKET" ]; do
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      tail -n 8 "$LOG" >&2 || true
      die "journald exited before creating $SOCKET (log: $LOG)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "no $SOCKET after ${WAIT_SECS} s (log: $LOG)"
    sleep 0.05
  done
  echo "journald started (pid $(cat "$PIDFILE"); $SOCKET)"
}

cmd_stop() {
  local pid
  [ -s "$PIDFILE" ] || { echo "journald: none started by $ME"; return 0; }
  pid=$(cat "$PIDFILE")
  if [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-journal ]; then
    kill "$pid"
    local i
    for i in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
    [ ! -d "/proc/$pid" ] || die "journald (pid $pid) did not stop within 5 s"
    echo "journald stopped (pid $pid)"
  else
    echo "journald: pid $pid is no longer running"
  fi
  rm -f "$PIDFILE"
}

cmd_status() {
  local pid
  pid=$(running || true)
  if [ -n "$pid" ] && [ -S "$SOCKET" ]; then
    echo "journald up (pid $pid; $SOCKET)"
  else
    echo "journald down"
    return 1
  fi
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
