#!/usr/bin/env bash
# smb.sh: mpr's own SMB file system (mpr-fsd) against GVfs, smbnetfs and
# smbclient, on the loopback smbd of scripts/test-servers.sh.
#
# One run, interleaved: every iteration runs each contender once, in an order
# that rotates from one iteration to the next, and the table shows the median,
# min and max of each.
#
#  1. connect + first write of a small file + list + disconnect:
#     mpr (`mpr use` ... `mpr use --delete`), GVfs (`gio mount smb://...`,
#     its FUSE path, `gio mount -u`), smbnetfs by hand (mount, FUSE path,
#     `fusermount3 -u`);
#  2. through a mount made once: a 64 MiB sequential write (`dd bs=1M
#     conv=fsync` of a fresh file), a 64 MiB sequential read (`dd bs=1M`, the
#     client's cached pages of the file dropped first), `ls -l` of a directory
#     of 2,000 files, creating 200 small files (`cp` into a fresh directory),
#     each also with smbclient (`put`, `get`, `ls`, `mput`) as the protocol's
#     own limit.
#
# The server's files live on a tmpfs mounted (by this script) on a fresh
# directory of the share, so that the figures are the clients' and not this
# VM's shared disk (BENCH_SMB_DISK=1 keeps them on the share's own disk). On a
# disk smbd turns every SMB FLUSH into an fsync ("strict sync"), and mpr sends
# one on the close of a written file while smbclient's `put` sends none.
#
# Passwords never reach a command line: mpr reads it on stdin, gio from its
# prompt on stdin, smbnetfs from a 0600 auth file in a private 0700 home,
# smbclient from the fixture's 0600 credentials file (-A).
#
# Installs (quietly, once) what it compares against: smbnetfs, GVfs (gvfs,
# gvfs-backends, gvfs-fuse), gio (libglib2.0-bin), a D-Bus daemon, smbclient.
# GVfs runs on a private D-Bus session with a private XDG_RUNTIME_DIR and
# HOME, and everything it starts is stopped at the end. What the three drive
# benchmarks share is in bench/lib.sh.
#
# Usage: bash bench/smb.sh [RUNS]    (as root; default 15, or BENCH_SMB_RUNS)
#   BENCH_SMB_ONLY="connect write read list small"  the parts to run
#   BENCH_SMB_SKIP="gvfs smbnetfs"                  contenders to leave out
#   BENCH_SMB_MIB=64  BENCH_SMB_LIST=2000  BENCH_SMB_SMALL=200
#   BENCH_SMB_NO_BUILD=1   use the release binaries as they are
set -euo pipefail
cd "$(dirname "$0")/.."
ME=smb.sh KNOBS=SMB
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup "$@"

bench_install mawk smbnetfs smbclient gvfs gvfs-backends gvfs-fuse libglib2.0-bin dbus-daemon fuse3
bench_build
bench_servers
HOST=$MPR_TEST_HOST PORT=$MPR_TEST_SMB_PORT SHARE=$MPR_TEST_SMB_SHARE SUSER=$MPR_TEST_SMB_USER
PWFILE=$MPR_TEST_SMB_PASSWORD_FILE CREDS=$MPR_TEST_SMB_CREDENTIALS_FILE

# --- private places -----------------------------------------------------------------
SUB=mpr-bench-smb-$$ # the bench's directory in the share
install -d -m 755 "$B/etc" "$B/state" "$B/drives" "$B/sn" "$B/sn1"
install -d -m 700 "$B/run" "$B/snhome" "$B/snhome/.smb"
export MPR_CONFIG_DIR="$B/etc" MPR_STATE_DIR="$B/state" MPR_RUNTIME_DIR="$B/run" MPR_DRIVES_DIR="$B/drives"
if [ -z "${BENCH_SMB_DISK:-}" ]; then
  bench_tmpfs "$MPR_TEST_SMB_SHARE_DIR/$SUB" "$SUSER"
else
  SRV=$MPR_TEST_SMB_SHARE_DIR/$SUB SRV_OWNER=$SUSER
  install -d -o "$SUSER" -g "$SUSER" -m 755 "$SRV"
  at_exit rm -rf "$SRV"
  WHERE="the share's own disk ($(df --output=fstype "$SRV" | tail -1 | tr -d ' '))"
fi
bench_inputs

# --- the clients --------------------------------------------------------------
UNC="\\\\$HOST@$PORT\\$SHARE"
mpr_up() { "$MPR" use "$1" "$UNC" --provider smb --user "$SUSER" --password-stdin <"$PWFILE" >/dev/null; }
mpr_down() { "$MPR" use "$1" --delete >/dev/null; }
at_exit quiet "$MPR" use X: --delete
at_exit quiet "$MPR" use Y: --delete

GIO_URL="smb://$HOST:$PORT/$SHARE"
GV=$B/xdg/gvfs/smb-share:port=$PORT,server=$HOST,share=$SHARE
gvfs_up() { { echo "$SUSER"; echo "$MPR_TEST_SMB_DOMAIN"; cat "$PWFILE"; } | gio_ mount "$GIO_URL" >/dev/null 2>&1; }
gvfs_down() { gio_ mount -u "$GIO_URL" >/dev/null 2>&1; }
if has gvfs; then
  gvfs_start
  at_exit gvfs_down
fi

# smbnetfs: a private HOME with its configuration; the share is the mount's
# root through libfuse's subdir module (as mpr's old launcher ran it).
printf '[global]\n   client min protocol = SMB2\n   name resolve order = host\n   disable netbios = yes\n' \
  >"$B/snhome/.smb/smb.conf"
printf 'use_libsecret "false"\nsmb_query_browsers "false"\nsmb_timeout 10000\ninclude "smbnetfs.auth"\n' \
  >"$B/snhome/.smb/smbnetfs.conf"
pw=$(head -n1 "$PWFILE")
(umask 077 && printf 'auth "%s" "%s/%s" "%s"\n' "$HOST" "$MPR_TEST_SMB_DOMAIN" "$SUSER" "$pw" >"$B/snhome/.smb/smbnetfs.auth")
unset pw
chmod 600 "$B/snhome/.smb/"*
sn_up() { HOME=$B/snhome smbnetfs "$1" -o "modules=subdir,subdir=/$HOST:$PORT/$SHARE" 2>/dev/null; }
sn_down() { fusermount3 -u "$1"; }
sn_unmount() { if mountpoint -q "$1"; then fusermount3 -u -z "$1"; fi; }
at_exit sn_unmount "$B/sn"
at_exit sn_unmount "$B/sn1"

# The connect hooks of lib.sh: each on a drive (Y:) or mount of its own.
conn_up() { case $1 in mpr) mpr_up Y: ;; gvfs) gvfs_up ;; smbnetfs) sn_up "$B/sn1" ;; esac; }
conn_down() { case $1 in mpr) mpr_down Y: ;; gvfs) gvfs_down ;; smbnetfs) sn_down "$B/sn1" ;; esac; }
conn_dir() { case $1 in mpr) echo "$B/drives/Y/$SUB" ;; gvfs) echo "$GV/$SUB" ;; smbnetfs) echo "$B/sn1/$SUB" ;; esac; }
dir_of() { case $1 in mpr) echo "$B/drives/X/$SUB" ;; gvfs) echo "$GV/$SUB" ;; smbnetfs) echo "$B/sn/$SUB" ;; esac; }

# smbclient: one session each, started once and fed one command at a time
# through a FIFO, so what is timed is the transfer on a connected session, as
# on a mount; each command is waited for by the line it prints last. It signs
# only when the server requires it (this one does not), while mpr signs every
# session that is not a guest's, so "smbclient-sign" (--client-protection=sign)
# is there too. Its standard input is unbuffered (stdbuf -i0): smbclient
# polls the descriptor before each line, so a second line read ahead into a
# stdio buffer would wait there for the next write.
declare -A SMBC_W SMBC_R
smbc_start() { # name option...
  local n=$1 fd; shift
  mkfifo "$B/smbc-$n.in" "$B/smbc-$n.out"
  # Only the lines waited for reach the shell, shortened (bash reads a FIFO
  # a byte at a time; awk reads smbclient's listing in blocks).
  stdbuf -i0 -oL smbclient "//$HOST/$SHARE" -p "$PORT" -A "$CREDS" "$@" <"$B/smbc-$n.in" 2>&1 |
    mawk -W interactive '/^putting file/ {print "put"; fflush()} /^getting file/ {print "got"; fflush()}
         /blocks available$/ {print "listed"; fflush()} /^Current directory is/ {print "pwd"; fflush()}
         /NT_STATUS_/ {print; fflush()}' >"$B/smbc-$n.out" &
  exec {fd}>"$B/smbc-$n.in"; SMBC_W[$n]=$fd
  exec {fd}<"$B/smbc-$n.out"; SMBC_R[$n]=$fd
  smbc_do "$n" pwd pwd
}
smbc_wait() { # name marker count: reads until `count` lines contain `marker`
  local n=$1 m=$2 k=${3:-1} line
  while [ "$k" -gt 0 ]; do
    IFS= read -r -t 300 -u "${SMBC_R[$n]}" line || die "smbclient ($n) did not answer"
    case $line in
      "$m") k=$((k - 1)) ;;
      *NT_STATUS_*) die "smbclient ($n): $line" ;;
    esac
  done
}
smbc_do() { printf '%s\n' "$2" >&"${SMBC_W[$1]}"; smbc_wait "$1" "$3" "${4:-1}"; }
smbc_quiet() { # name command: one that prints nothing (cd, lcd, prompt),
  # so `pwd` follows it
  printf '%s\npwd\n' "$2" >&"${SMBC_W[$1]}"
  smbc_wait "$1" pwd
}
LIMITS=" smbclient smbclient-sign "
lim_write() { tic; smbc_do "$1" "put $B/src.bin $SUB/$2" put; toc "write/$1"; }
lim_read() { tic; smbc_do "$1" "get $SUB/r.bin /dev/null" got; toc "read/$1"; }
lim_list() { tic; smbc_do "$1" "ls $SUB/list/*" listed; toc "list/$1"; }
lim_small() {
  smbc_quiet "$1" "cd /$SUB/$2"
  tic; smbc_do "$1" "mput *" put "$NSMALL"; toc "small/$1"
  smbc_quiet "$1" "cd /"
}
what() {
  case $1 in
    write) echo "write $MIB MiB (dd bs=1M conv=fsync | put)" ;;
    read) echo "read $MIB MiB (dd bs=1M | get)" ;;
    list) echo "ls -l of $NLIST files (| ls)" ;;
    small) echo "create $NSMALL files of 1 KiB (cp | mput)" ;;
  esac
}

# --- the runs -------------------------------------------------------------------
CONTENDERS=(mpr)
has gvfs && CONTENDERS+=(gvfs)
has smbnetfs && CONTENDERS+=(smbnetfs)
DATA=(smbclient smbclient-sign "${CONTENDERS[@]}")
echo "$ME: $RUNS interleaved runs, $(nproc) cores, $(uname -r), server files on $WHERE" >&2
if want connect; then connect_runs "${CONTENDERS[@]}"; fi
if data_wanted; then
  mpr_up X:
  smbc_start smbclient
  smbc_start smbclient-sign --client-protection=sign
  for k in smbclient smbclient-sign; do smbc_quiet "$k" prompt; smbc_quiet "$k" "lcd $B/small"; done
  if has gvfs; then cool "conn/gvfs" 2000000; gvfs_up; until ls "$GV/$SUB" >/dev/null 2>&1; do sleep 0.01; done; fi
  if has smbnetfs; then sn_up "$B/sn"; ls "$B/sn/$SUB" >/dev/null; fi
  data_runs "${DATA[@]}"
fi

bench_header SMB
if want connect; then connect_table "${CONTENDERS[@]}"; fi
if data_wanted; then data_table smbclient "${DATA[@]}"; fi
