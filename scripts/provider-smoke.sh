#!/bin/bash
# provider-smoke.sh: end-to-end smoke test of the FUSE helpers that mpr drives,
# against the private loopback servers of scripts/test-servers.sh:
#   - sshfs with the client key, and with a password on stdin (password_stdin);
#   - sshfs with a wrong password must fail and leave nothing mounted;
#   - smbnetfs (private HOME, 0600 config) on both SMB shares;
#   - rclone mount :webdav: (password in RCLONE_WEBDAV_PASS, obscured via stdin).
# For each mount: write a file through it and check it in the server directory,
# read a server-side file through it, unmount, check it is gone.
#
# Usage: bash scripts/test-servers.sh start && bash scripts/provider-smoke.sh
# Needs root (/dev/fuse is 0600 root on these machines).
# Prints PASS/FAIL lines and finally "N passed, N failed"; exit 1 on any failure.
# No password ever appears on a command line: they are read from the fixture's
# 0600 files and given on stdin, in 0600 files or in the environment.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TS=$HERE/test-servers.sh
pass=0
fail=0
ok() { printf 'PASS %s (%s ms)\n' "$1" "$(( $(now_ms) - T0 ))"; pass=$((pass + 1)); }
ko() { printf 'FAIL %s: %s\n' "$1" "$2"; fail=$((fail + 1)); }
now_ms() { local t=${EPOCHREALTIME/./}; printf '%s' "$((t / 1000))"; }
summary() { printf '%s passed, %s failed\n' "$pass" "$fail"; [ "$fail" -eq 0 ]; }
T0=$(now_ms)

if [ "$(id -u)" -ne 0 ]; then
  ko setup "must run as root (/dev/fuse is root-only here)"; summary; exit 1
fi
for c in sshfs smbnetfs rclone fusermount3 smbclient pgrep; do
  command -v "$c" >/dev/null 2>&1 || { ko setup "missing $c (run scripts/ci-deps.sh)"; summary; exit 1; }
done
if ! envlines=$(bash "$TS" env); then ko setup "test-servers.sh env failed"; summary; exit 1; fi
eval "$envlines"
if ! st=$(bash "$TS" status); then
  ko servers "not all test servers are up (run: bash scripts/test-servers.sh start): ${st//$'\n'/ | }"
  summary; exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpr-smoke.XXXXXX")
TAG=smoke-$$-$RANDOM
SERVER_FILES=()   # server-side files to remove at the end

# Mountpoints under $WORK that are still mounted (field 5 of mountinfo).
mounts_under_work() { awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo; }
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
# PIDs of helper processes we started: their command lines name $WORK.
helpers_left() { pgrep -f -- "$WORK/" || true; }

cleanup() {
  local m p
  for m in $(mounts_under_work); do fusermount3 -u -z "$m" >/dev/null 2>&1; done
  for _ in $(seq 50); do [ -z "$(helpers_left)" ] && break; sleep 0.05; done
  for p in $(helpers_left); do kill "$p" 2>/dev/null; done
  rm -f -- "${SERVER_FILES[@]}"
  # Never recurse into a live mount: that would delete files on the server.
  if [ -z "$(mounts_under_work)" ]; then rm -rf --one-file-system -- "$WORK"; fi
}
trap cleanup EXIT

# wait_mounted MOUNTPOINT: some helpers return a moment before the mount is visible.
wait_mounted() {
  for _ in $(seq 100); do is_mounted "$1" && return 0; sleep 0.05; done
  return 1
}

# roundtrip NAME MOUNT_DIR SERVER_DIR: write through the mount and check on the
# server; write on the server and read through the mount. Sets WHY on failure.
WHY=
roundtrip() {
  local name=$1 mdir=$2 sdir=$3 got
  local via=$TAG-$name-via-mount.txt srv=$TAG-$name-on-server.txt
  SERVER_FILES+=("$sdir/$via" "$sdir/$srv")
  # Server-side file first, so that no directory cache can hide it.
  printf 'written on the server for %s\n' "$name" >"$sdir/$srv" || { WHY="cannot write $sdir/$srv"; return 1; }
  chmod 0644 "$sdir/$srv"
  if ! printf 'written through %s\n' "$name" >"$mdir/$via" 2>"$WORK/$name.err"; then
    WHY="write through the mount failed: $(tr '\n' ' ' <"$WORK/$name.err")"; return 1
  fi
  # rclone uploads on close(); allow a moment for that anyway.
  for _ in $(seq 40); do
    got=$(cat "$sdir/$via" 2>/dev/null) && [ "$got" = "written through $name" ] && break
    sleep 0.05
  done
  [ "$got" = "written through $name" ] || { WHY="file written through the mount is not in $sdir (got '${got:-}')"; return 1; }
  got=$(cat "$mdir/$srv" 2>"$WORK/$name.err") \
    || { WHY="read through the mount failed: $(tr '\n' ' ' <"$WORK/$name.err")"; return 1; }
  [ "$got" = "written on the server for $name" ] || { WHY="server-side file read through the mount has wrong content: '$got'"; return 1; }
  return 0
}

# unmount NAME MOUNTPOINT
unmount() {
  if ! fusermount3 -u "$2" >"$WORK/$1.umount" 2>&1; then
    WHY="fusermount3 -u failed: $(tr '\n' ' ' <"$WORK/$1.umount")"; return 1
  fi
  is_mounted "$2" && { WHY="still mounted after fusermount3 -u"; return 1; }
  return 0
}

log_tail() { [ -s "$1" ] && printf '; %s: %s' "$1" "$(tail -n 3 "$1" | tr '\n' ' ')"; }

SSH_OPTS="UserKnownHostsFile=$MPR_TEST_SSH_KNOWN_HOSTS,GlobalKnownHostsFile=/dev/null,StrictHostKeyChecking=yes,reconnect,ServerAliveInterval=15,ServerAliveCountMax=3"

# --- SFTP through sshfs, key authentication ------------------------------------
t_sshfs_key() {
  local n=sftp-sshfs-key m=$WORK/sftp-key
  T0=$(now_ms); mkdir -p "$m"
  # -F /dev/null: ignore root's ~/.ssh/config. -E: sshfs hides ssh's errors otherwise.
  if ! sshfs "$MPR_TEST_SSH_USER@$MPR_TEST_HOST:$MPR_TEST_SSH_EXPORT" "$m" -p "$MPR_TEST_SSH_PORT" \
      -o "ssh_command=ssh -F /dev/null -E $WORK/$n.ssh.log" \
      -o "IdentityFile=$MPR_TEST_SSH_KEY,IdentitiesOnly=yes,BatchMode=yes,$SSH_OPTS" \
      </dev/null >"$WORK/$n.out" 2>&1; then
    ko $n "sshfs failed: $(tr '\n' ' ' <"$WORK/$n.out")$(log_tail "$WORK/$n.ssh.log")"; return
  fi
  is_mounted "$m" || { ko $n "sshfs returned 0 but $m is not mounted"; return; }
  roundtrip $n "$m" "$MPR_TEST_SSH_EXPORT" || { ko $n "$WHY"; return; }
  unmount $n "$m" || { ko $n "$WHY"; return; }
  ok $n
}

# --- SFTP through sshfs, password on stdin ---------------------------------------
t_sshfs_password() {
  local n=sftp-sshfs-password m=$WORK/sftp-pw
  T0=$(now_ms); mkdir -p "$m"
  # No BatchMode here: it would turn password authentication off.
  if ! sshfs "$MPR_TEST_SSH_USER@$MPR_TEST_HOST:$MPR_TEST_SSH_EXPORT2" "$m" -p "$MPR_TEST_SSH_PORT" \
      -o password_stdin -o "ssh_command=ssh -F /dev/null -E $WORK/$n.ssh.log" \
      -o "PubkeyAuthentication=no,PreferredAuthentications=password,NumberOfPasswordPrompts=1,$SSH_OPTS" \
      <"$MPR_TEST_SSH_PASSWORD_FILE" >"$WORK/$n.out" 2>&1; then
    ko $n "sshfs failed: $(tr '\n' ' ' <"$WORK/$n.out")$(log_tail "$WORK/$n.ssh.log")"; return
  fi
  is_mounted "$m" || { ko $n "sshfs returned 0 but $m is not mounted"; return; }
  roundtrip $n "$m" "$MPR_TEST_SSH_EXPORT2" || { ko $n "$WHY"; return; }
  unmount $n "$m" || { ko $n "$WHY"; return; }
  ok $n
}

# --- SFTP: a wrong password must fail at connect time ------------------------------
t_sshfs_wrong_password() {
  local n=sftp-sshfs-wrong-password-rejected m=$WORK/sftp-bad
  T0=$(now_ms); mkdir -p "$m"
  if printf 'not-the-password\n' | sshfs "$MPR_TEST_SSH_USER@$MPR_TEST_HOST:$MPR_TEST_SSH_EXPORT" "$m" \
      -p "$MPR_TEST_SSH_PORT" -o password_stdin -o "ssh_command=ssh -F /dev/null -E $WORK/$n.ssh.log" \
      -o "PubkeyAuthentication=no,PreferredAuthentications=password,NumberOfPasswordPrompts=1,$SSH_OPTS" \
      >"$WORK/$n.out" 2>&1; then
    fusermount3 -u "$m" >/dev/null 2>&1
    ko $n "sshfs accepted a wrong password"; return
  fi
  is_mounted "$m" && { ko $n "sshfs failed but left $m mounted"; return; }
  grep -q 'Permission denied' "$WORK/$n.ssh.log" 2>/dev/null \
    || { ko $n "ssh log lacks 'Permission denied'$(log_tail "$WORK/$n.ssh.log")"; return; }
  ok $n
}

# --- SMB through smbnetfs ----------------------------------------------------------
t_smbnetfs() {
  local n=smb-smbnetfs m=$WORK/smbnetfs h=$WORK/snhome pw share dir
  T0=$(now_ms); mkdir -p "$m"
  pw=$(<"$MPR_TEST_SMB_PASSWORD_FILE")
  [[ $pw != *[\"\\]* && -n $pw ]] || { ko $n "password file unusable in smbnetfs.auth"; return; }
  install -d -m 0700 "$h" "$h/.smb"
  # smbnetfs skips config files that are not 0600; the auth line matches the
  # host WITHOUT the port (with it, it silently never matches).
  (
    umask 077
    printf '[global]\n   client min protocol = SMB2\n' >"$h/.smb/smb.conf"
    printf 'use_libsecret "false"\nsmb_query_browsers "false"\nsmb_timeout 5000\ninclude "smbnetfs.auth"\n' >"$h/.smb/smbnetfs.conf"
    printf 'auth "%s" "%s/%s" "%s"\n' "$MPR_TEST_HOST" "$MPR_TEST_SMB_DOMAIN" "$MPR_TEST_SMB_USER" "$pw" >"$h/.smb/smbnetfs.auth"
  )
  unset pw
  if ! HOME=$h smbnetfs "$m" -o "log_file=$WORK/$n.log" </dev/null >"$WORK/$n.out" 2>&1; then
    ko $n "smbnetfs failed: $(tr '\n' ' ' <"$WORK/$n.out")"; return
  fi
  wait_mounted "$m" || { ko $n "smbnetfs returned 0 but $m is not mounted"; return; }
  # The mount is lazy: the first access of the share is the real connect.
  for share in "$MPR_TEST_SMB_SHARE:$MPR_TEST_SMB_SHARE_DIR" "$MPR_TEST_SMB_SHARE2:$MPR_TEST_SMB_SHARE2_DIR"; do
    dir=$m/$MPR_TEST_HOST:$MPR_TEST_SMB_PORT/${share%%:*}
    ls "$dir" >/dev/null 2>"$WORK/$n.err" \
      || { ko "$n-${share%%:*}" "cannot list $dir: $(tr '\n' ' ' <"$WORK/$n.err")$(log_tail "$WORK/$n.log")"; unmount $n "$m"; return; }
    if roundtrip "$n-${share%%:*}" "$dir" "${share#*:}"; then ok "$n-${share%%:*}"; else ko "$n-${share%%:*}" "$WHY"; fi
    T0=$(now_ms)
  done
  unmount $n "$m" || { ko $n-unmount "$WHY"; return; }
}

# --- WebDAV through rclone mount ----------------------------------------------------
t_rclone_webdav() {
  local n=webdav-rclone m=$WORK/dav
  T0=$(now_ms); mkdir -p "$m"
  [ -s "$MPR_TEST_DAV_PASSWORD_FILE" ] || { ko $n "empty password file"; return; }
  # `rclone obscure -` reads the first line of stdin (an EMPTY stdin would
  # obscure "-" itself); the result goes to the environment, not to argv.
  local obscured
  obscured=$(rclone obscure - <"$MPR_TEST_DAV_PASSWORD_FILE") || { ko $n "rclone obscure failed"; return; }
  export RCLONE_CONFIG=/dev/null RCLONE_WEBDAV_URL=$MPR_TEST_DAV_URL RCLONE_WEBDAV_VENDOR=other \
    RCLONE_WEBDAV_USER=$MPR_TEST_DAV_USER RCLONE_WEBDAV_PASS=$obscured
  unset obscured
  # The mount is lazy (a wrong password still mounts), so check first; the
  # retry flags avoid ~11 s of retries on failure.
  if ! rclone lsjson --stat --retries 1 --low-level-retries 1 :webdav: >"$WORK/$n.check" 2>&1; then
    ko $n "pre-check failed: $(tail -n 2 "$WORK/$n.check" | tr '\n' ' ')"; return
  fi
  if ! rclone mount :webdav: "$m" --daemon --cache-dir "$WORK/rclone-cache" \
      --log-file "$WORK/$n.log" </dev/null >"$WORK/$n.out" 2>&1; then
    ko $n "rclone mount failed: $(tr '\n' ' ' <"$WORK/$n.out")$(log_tail "$WORK/$n.log")"; return
  fi
  wait_mounted "$m" || { ko $n "rclone mount returned 0 but $m is not mounted"; return; }
  roundtrip $n "$m" "$MPR_TEST_DAV_DIR" || { ko $n "$WHY$(log_tail "$WORK/$n.log")"; unmount $n "$m"; return; }
  unmount $n "$m" || { ko $n "$WHY"; return; }
  ok $n
}

# --- nothing left behind -------------------------------------------------------------
t_nothing_left() {
  local n=nothing-left-mounted left
  T0=$(now_ms)
  left=$(mounts_under_work)
  [ -z "$left" ] || { ko $n "still mounted: ${left//$'\n'/ }"; return; }
  # Helpers exit on their own after the unmount; give them a moment.
  for _ in $(seq 60); do left=$(helpers_left); [ -z "$left" ] && break; sleep 0.05; done
  [ -z "$left" ] || { ko $n "helper processes still running: $(ps -o pid=,args= -p "${left//$'\n'/,}" | tr '\n' ';')"; return; }
  ok $n
}

t_sshfs_key
t_sshfs_password
t_sshfs_wrong_password
t_smbnetfs
t_rclone_webdav
t_nothing_left
summary
