#!/usr/bin/env bash
# sftp.sh: mpr's own SFTP file system (mpr-fsd over the system's ssh)
# against sshfs (the helper mpr ran before), GVfs and OpenSSH's own `sftp`,
# on the loopback sshd of scripts/test-servers.sh (key authentication).
#
# One run, interleaved as bench/smb.sh does (lib.sh): every iteration runs
# each contender once, in an order that rotates, and the tables show the
# median, min and max of each.
#
#  1. connect + first write of a small file + list + disconnect:
#     - mpr-fresh: `mpr use Y: sftp://127.0.0.1:PORT/<export> --provider sftp`
#       ... `mpr use Y: --delete`, with no ssh control master up: the one
#       the connect left is sent `ssh -O exit` after each run (untimed), so
#       every connect makes its own SSH connection;
#     - mpr-reused: the same on a second mpr (its own runtime directory, so
#       its own masters) whose master stays up between runs, as after a
#       first drive on that host: the connect rides it;
#     - sshfs, started as mpr's old launcher did (same options, a fresh ssh);
#     - gvfs: `gio mount sftp://...`, its FUSE path, `gio mount -u`;
#     - sftp: OpenSSH's `sftp -b /dev/null` connecting and leaving (a fresh
#       ssh), only as the protocol's own connect time.
#  2. through a mount made once: a 64 MiB sequential write (`dd bs=1M
#     conv=fsync` of a fresh file), a 64 MiB sequential read (`dd bs=1M`, the
#     client's cached pages dropped first), `ls -l` of 2,000 files, `cp` of
#     200 small files into a fresh directory; and the same with OpenSSH's
#     `sftp` in batch mode (`put`, `get`, `ls -l`, `put` of a glob) on a
#     session opened once, the protocol's own limit.
#
# The server's files live on a tmpfs mounted (by this script) on a fresh
# directory of the ssh export, so that the figures are the clients' and not
# this VM's disk.
#
# Every client logs in with the fixture's key through one ssh_config of the
# bench's (user, key, known_hosts); no password is involved. GVfs starts
# `ssh` by name, and ssh reads the calling account's ~/.ssh (from the
# password database, not $HOME), so GVfs finds on its PATH a wrapper that
# runs the system's ssh with `-F` that file. sshfs's directory cache (20 s by
# default) is cut to 1 s on the data mount, as mpr's and GVfs's are, so that
# its listings reach the server too.
#
# Installs (quietly, once) what it compares against: sshfs, GVfs (gvfs,
# gvfs-backends, gvfs-fuse), gio (libglib2.0-bin), a D-Bus daemon. GVfs runs
# on a private D-Bus session with a private XDG_RUNTIME_DIR and HOME, and
# everything it starts is stopped at the end, as are the ssh masters.
#
# Usage: bash bench/sftp.sh [RUNS]    (as root; default 15, or BENCH_SFTP_RUNS)
#   BENCH_SFTP_ONLY="connect write read list small"  the parts to run
#   BENCH_SFTP_SKIP="gvfs sshfs"                     contenders to leave out
#   BENCH_SFTP_MIB=64  BENCH_SFTP_LIST=2000  BENCH_SFTP_SMALL=200
#   BENCH_SFTP_NO_BUILD=1   use the release binaries as they are
set -euo pipefail
cd "$(dirname "$0")/.."
ME=sftp.sh KNOBS=SFTP
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup "$@"

bench_install mawk sshfs openssh-client gvfs gvfs-backends gvfs-fuse libglib2.0-bin dbus-daemon fuse3
bench_build
bench_servers
HOST=$MPR_TEST_HOST PORT=$MPR_TEST_SSH_PORT SUSER=$MPR_TEST_SSH_USER EXPORT=$MPR_TEST_SSH_EXPORT

# --- private places -----------------------------------------------------------------
SUB=mprb-sftp-$$ # the bench's directory in the export
bench_tmpfs "$EXPORT/$SUB" "$SUSER"
bench_inputs
CFG=$B/ssh_config
cat >"$CFG" <<SSH
Host $HOST
  User $SUSER
  IdentityFile $MPR_TEST_SSH_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $MPR_TEST_SSH_KNOWN_HOSTS
  StrictHostKeyChecking yes
SSH
install -d -m 755 "$B/etc" "$B/sshfs" "$B/sshfs1" "$B/bin"
printf '[providers.sftp]\nssh_config = "%s"\n' "$CFG" >"$B/etc/mpr.toml"

# --- the clients --------------------------------------------------------------
# Two mprs: one ("f", fresh) whose ssh master is stopped after each run, one
# ("r", reused) whose master stays.
for e in f r; do
  install -d -m 755 "$B/state-$e" "$B/drives-$e"
  install -d -m 700 "$B/run-$e"
done
mpr_in() { # f|r mpr-arguments...
  local e=$1; shift
  MPR_CONFIG_DIR=$B/etc MPR_STATE_DIR=$B/state-$e MPR_RUNTIME_DIR=$B/run-$e MPR_DRIVES_DIR=$B/drives-$e "$MPR" "$@"
}
URL=sftp://$HOST:$PORT$EXPORT
mpr_up() { mpr_in "$1" use "$2" "$URL" --provider sftp >/dev/null; }
mpr_down() { mpr_in "$1" use "$2" --delete >/dev/null; }
# mpr's masters: ControlPath <runtime>/ssh/ssh-%C.
masters() { local s; for s in "$B/run-$1/ssh/"ssh-*; do [ -S "$s" ] && echo "$s"; done; return 0; }
masters_exit() { local s; for s in $(masters "$1"); do ssh -F "$CFG" -S "$s" -O exit "$HOST" 2>/dev/null; done; return 0; }
master_up() { local s; for s in $(masters "$1"); do ssh -F "$CFG" -S "$s" -O check "$HOST" 2>/dev/null && return 0; done; return 1; }
for e in f r; do
  at_exit masters_exit "$e"
  at_exit quiet mpr_in "$e" use X: --delete
  at_exit quiet mpr_in "$e" use Y: --delete
done

# sshfs with the options of mpr's old launcher (it ran it in the
# foreground; here it goes to the background once mounted).
SSHFS_OPTS=reconnect,ServerAliveInterval=15,ServerAliveCountMax=3,ConnectTimeout=30,BatchMode=yes
sshfs_up() { # mount point [more options]
  sshfs "$HOST:$EXPORT" "$1" -p "$PORT" -F "$CFG" -o "$SSHFS_OPTS${2:+,$2}"
}
sshfs_unmount() { if mountpoint -q "$1"; then fusermount3 -u -z "$1"; fi; }
at_exit sshfs_unmount "$B/sshfs"
at_exit sshfs_unmount "$B/sshfs1"

# GVfs: the whole host is one mount; the export is below it by its path.
GIO_URL=sftp://$SUSER@$HOST:$PORT/
GV=$B/xdg/gvfs/sftp:host=$HOST,port=$PORT,user=$SUSER$EXPORT
gvfs_up() { gio_ mount "$GIO_URL" </dev/null >/dev/null 2>&1; }
gvfs_down() { gio_ mount -u "$GIO_URL" >/dev/null 2>&1; }
if has gvfs; then
  printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$CFG" >"$B/bin/ssh"
  chmod 755 "$B/bin/ssh"
  GVFS_PATHDIR=$B/bin
  gvfs_start
  at_exit gvfs_down
fi

# The connect hooks of lib.sh.
conn_pre() {
  case $1 in
    mpr-fresh) masters_exit f ;;
    mpr-reused) # (from its second connect on: the first, a warm-up, makes it)
      [ -z "${LAST[conn/mpr-reused]:-}" ] || master_up r || die "mpr-reused: its ssh master is gone" ;;
  esac
}
conn_post() { if [ "$1" = mpr-fresh ]; then masters_exit f; fi; }
conn_up() {
  case $1 in
    mpr-fresh) mpr_up f Y: ;;
    mpr-reused) mpr_up r Y: ;;
    sshfs) sshfs_up "$B/sshfs1" ;;
    gvfs) gvfs_up ;;
  esac
}
conn_down() {
  case $1 in
    mpr-fresh) mpr_down f Y: ;;
    mpr-reused) mpr_down r Y: ;;
    sshfs) fusermount3 -u "$B/sshfs1" ;;
    gvfs) gvfs_down ;;
  esac
}
conn_dir() {
  case $1 in
    mpr-fresh) echo "$B/drives-f/Y/$SUB" ;;
    mpr-reused) echo "$B/drives-r/Y/$SUB" ;;
    sshfs) echo "$B/sshfs1/$SUB" ;;
    gvfs) echo "$GV/$SUB" ;;
  esac
}
dir_of() { case $1 in mpr) echo "$B/drives-r/X/$SUB" ;; sshfs) echo "$B/sshfs/$SUB" ;; gvfs) echo "$GV/$SUB" ;; esac; }

# OpenSSH's sftp, the limit. Connect: `sftp -b /dev/null` (a fresh ssh,
# as sshfs's). Data: one session in batch mode, started once and fed one
# command at a time through a FIFO; each command is followed by `pwd`, and
# waited for by the line that prints ("Remote working directory: ..."), so
# what is timed is the transfer on a connected session. In batch mode sftp
# stops at the first command that fails, which ends the wait.
SFTP_OPTS=(-q -F "$CFG" -P "$PORT" -o BatchMode=yes -o ControlMaster=no -o ControlPath=none)
# "sftp" as it comes (ChaCha20-Poly1305, OpenSSH's first choice), and
# "sftp-aes" with AES-GCM, the cipher mpr asks ssh to prefer on a processor
# with AES instructions (mpr-sftp's ciphers.rs): the limit for the same
# cipher.
LIMITS=" sftp sftp-aes "
lim_connect() { tic; sftp "${SFTP_OPTS[@]}" -b /dev/null "$HOST:$EXPORT" >/dev/null; toc "conn/$1"; }
declare -A SFTP_W SFTP_R
sftp_start() { # name sftp-option...
  local n=$1 fd
  shift
  mkfifo "$B/$n.in" "$B/$n.out"
  sftp "${SFTP_OPTS[@]}" "$@" -b - "$HOST" <"$B/$n.in" 2>"$B/$n.err" |
    mawk -W interactive '/^Remote working directory:/ {print "pwd"; fflush()}' >"$B/$n.out" &
  exec {fd}>"$B/$n.in"; SFTP_W[$n]=$fd
  exec {fd}<"$B/$n.out"; SFTP_R[$n]=$fd
  sftp_do "$n" ""
}
sftp_do() { # name command: sends it (if any) and `pwd`, and waits for pwd's line
  local line
  printf '%s%spwd\n' "$2" "${2:+$'\n'}" >&"${SFTP_W[$1]}"
  IFS= read -r -t 300 -u "${SFTP_R[$1]}" line || die "$1 did not answer '$2': $(tail -3 "$B/$1.err")"
  [ "$line" = pwd ] || die "$1: $line"
}
lim_write() { tic; sftp_do "$1" "put $B/src.bin $EXPORT/$SUB/$2"; toc "write/$1"; }
lim_read() { tic; sftp_do "$1" "get $EXPORT/$SUB/r.bin /dev/null"; toc "read/$1"; }
lim_list() { tic; sftp_do "$1" "ls -l $EXPORT/$SUB/list"; toc "list/$1"; }
lim_small() { tic; sftp_do "$1" "put $B/small/* $EXPORT/$SUB/$2/"; toc "small/$1"; }
what() {
  case $1 in
    write) echo "write $MIB MiB (dd bs=1M conv=fsync | sftp put)" ;;
    read) echo "read $MIB MiB (dd bs=1M | sftp get)" ;;
    list) echo "ls -l of $NLIST files (| sftp ls -l)" ;;
    small) echo "create $NSMALL files of 1 KiB (cp | sftp put of a glob)" ;;
  esac
}

# --- the runs -------------------------------------------------------------------
CONTENDERS=(mpr-fresh mpr-reused)
has sshfs && CONTENDERS+=(sshfs)
has gvfs && CONTENDERS+=(gvfs)
CONNECT=("${CONTENDERS[@]}" sftp)
DATA=(sftp sftp-aes mpr)
has sshfs && DATA+=(sshfs)
has gvfs && DATA+=(gvfs)
echo "$ME: $RUNS interleaved runs, $(nproc) cores, $(uname -r), server files on $WHERE" >&2
if want connect; then connect_runs "${CONNECT[@]}"; fi
if data_wanted; then
  mpr_up r X:
  sftp_start sftp
  sftp_start sftp-aes -c aes128-gcm@openssh.com
  if has sshfs; then sshfs_up "$B/sshfs" dcache_timeout=1; ls "$B/sshfs/$SUB" >/dev/null; fi
  if has gvfs; then cool "conn/gvfs" 2000000; gvfs_up; until ls "$GV/$SUB" >/dev/null 2>&1; do sleep 0.01; done; fi
  data_runs "${DATA[@]}"
fi

bench_header SFTP
if want connect; then connect_table "${CONNECT[@]}"; fi
if data_wanted; then data_table sftp "${DATA[@]}"; fi
