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
# HOME, and everything it starts is stopped at the end.
#
# Usage: bash bench/smb.sh [RUNS]    (as root; default 15, or BENCH_SMB_RUNS)
#   BENCH_SMB_ONLY="connect write read list small"  the parts to run
#   BENCH_SMB_SKIP="gvfs smbnetfs"                  contenders to leave out
#   BENCH_SMB_MIB=64  BENCH_SMB_LIST=2000  BENCH_SMB_SMALL=200
#   BENCH_SMB_NO_BUILD=1   use target/release/mpr as it is
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-${BENCH_SMB_RUNS:-15}}
MIB=${BENCH_SMB_MIB:-64}
NLIST=${BENCH_SMB_LIST:-2000}
NSMALL=${BENCH_SMB_SMALL:-200}
ONLY=" ${BENCH_SMB_ONLY:-connect write read list small} "
SKIP=" ${BENCH_SMB_SKIP:-} "
[ "$(id -u)" -eq 0 ] || { echo "smb.sh: run as root (FUSE, the tmpfs and apt-get need it)" >&2; exit 1; }

# --- what it compares against ------------------------------------------------
PKGS=(mawk smbnetfs smbclient gvfs gvfs-backends gvfs-fuse libglib2.0-bin dbus-daemon fuse3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
      || { tail -20 "$log" >&2; echo "smb.sh: could not install ${missing[*]}" >&2; exit 1; }
  fi
  rm -f "$log"
  echo "installed: ${missing[*]}"
fi

if [ -z "${BENCH_SMB_NO_BUILD:-}" ]; then
  cargo build --quiet --release --locked -p mpr-cli --bin mpr --bin mpr-fsd
fi
MPR=$(pwd)/target/release/mpr
[ -x "$(pwd)/target/release/mpr-fsd" ] || { echo "smb.sh: no target/release/mpr-fsd" >&2; exit 1; }
bash scripts/test-servers.sh start >/dev/null
eval "$(bash scripts/test-servers.sh env | sed 's/^/export /')"
HOST=$MPR_TEST_HOST PORT=$MPR_TEST_SMB_PORT SHARE=$MPR_TEST_SMB_SHARE SUSER=$MPR_TEST_SMB_USER
PWFILE=$MPR_TEST_SMB_PASSWORD_FILE CREDS=$MPR_TEST_SMB_CREDENTIALS_FILE

# --- private places, and cleaning all of it up -------------------------------
B=/dev/shm/mpr-bench-smb-$$ # local side: sources, mount points, homes (tmpfs)
SUB=mpr-bench-smb-$$        # the bench's directory in the share
SRV=$MPR_TEST_SMB_SHARE_DIR/$SUB
install -d -m 700 "$B"
install -d -m 755 "$B/etc" "$B/state" "$B/drives" "$B/sn" "$B/sn1" "$B/home" "$B/small"
install -d -m 700 "$B/run" "$B/xdg" "$B/snhome" "$B/snhome/.smb"
export MPR_CONFIG_DIR="$B/etc" MPR_STATE_DIR="$B/state" MPR_RUNTIME_DIR="$B/run" MPR_DRIVES_DIR="$B/drives"
DBUS_PID=
cleanup() {
  set +e
  "$MPR" use X: --delete >/dev/null 2>&1
  "$MPR" use Y: --delete >/dev/null 2>&1
  if [ -n "$DBUS_PID" ]; then
    gio_ mount -u "smb://$HOST:$PORT/$SHARE" >/dev/null 2>&1
    # The private bus and what is still its child. GVfs's daemons (started
    # by the bus, then detached from it) end when their bus goes away, and
    # gvfsd-fuse unmounts its FUSE path as it ends.
    local pids=() queue=("$DBUS_PID") p c j
    while [ ${#queue[@]} -gt 0 ]; do
      p=${queue[0]}; queue=("${queue[@]:1}"); pids+=("$p")
      for c in $(pgrep -P "$p"); do queue+=("$c"); done
    done
    for ((j = ${#pids[@]} - 1; j >= 0; j--)); do kill "${pids[j]}" 2>/dev/null; done
    for _ in $(seq 20); do mountpoint -q "$B/xdg/gvfs" || break; sleep 0.1; done
    mountpoint -q "$B/xdg/gvfs" && fusermount3 -u -z "$B/xdg/gvfs"
  fi
  for m in "$B/sn" "$B/sn1"; do mountpoint -q "$m" && fusermount3 -u -z "$m"; done
  mountpoint -q "$SRV" && umount "$SRV"
  rm -rf "$SRV" "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install -d -o "$SUSER" -g "$SUSER" -m 755 "$SRV"
if [ -z "${BENCH_SMB_DISK:-}" ]; then
  mount -t tmpfs -o "size=$((MIB * 12 + 256))m,mode=0755,uid=$(id -u "$SUSER"),gid=$(id -g "$SUSER")" mpr-bench "$SRV"
  WHERE="tmpfs on the server"
else
  WHERE="the share's own disk ($(df --output=fstype "$SRV" | tail -1 | tr -d ' '))"
fi
own() { chown -R "$SUSER:$SUSER" "$@"; } # files smbd (as the user) may change

# The inputs: a 64 MiB file of random bytes, 200 small files of 1 KiB, and on
# the server a file to read and a directory of 2,000 files to list.
head -c "$((MIB << 20))" /dev/urandom >"$B/src.bin"
for i in $(seq -w 1 "$NSMALL"); do head -c 1024 /dev/urandom >"$B/small/s$i.txt"; done
cp "$B/src.bin" "$SRV/r.bin"
mkdir "$SRV/list"
(cd "$SRV/list" && seq -f 'entry-%05g.txt' 1 "$NLIST" | xargs touch)
own "$SRV/r.bin" "$SRV/list"

# --- the clients --------------------------------------------------------------
UNC="\\\\$HOST@$PORT\\$SHARE"
mpr_up() { "$MPR" use "$1" "$UNC" --provider smb --user "$SUSER" --password-stdin <"$PWFILE" >/dev/null; }
mpr_down() { "$MPR" use "$1" --delete >/dev/null; }

# GVfs: a private session bus; gvfsd and gvfsd-fuse start on first use.
GIO_URL="smb://$HOST:$PORT/$SHARE"
gio_() { HOME=$B/home XDG_RUNTIME_DIR=$B/xdg GVFS_REMOTE_VOLUME_MONITOR_IGNORE=1 gio "$@"; }
GV=$B/xdg/gvfs/smb-share:port=$PORT,server=$HOST,share=$SHARE
gvfs_up() { { echo "$SUSER"; echo "$MPR_TEST_SMB_DOMAIN"; cat "$PWFILE"; } | gio_ mount "$GIO_URL" >/dev/null 2>&1; }
gvfs_down() { gio_ mount -u "$GIO_URL" >/dev/null 2>&1; }
if [[ "$SKIP" != *" gvfs "* ]]; then
  { read -r addr; read -r DBUS_PID; } < <(HOME=$B/home XDG_RUNTIME_DIR=$B/xdg \
    dbus-daemon --session --fork --print-address=1 --print-pid=1)
  export DBUS_SESSION_BUS_ADDRESS=$addr
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
    IFS= read -r -t 300 -u "${SMBC_R[$n]}" line || { echo "smb.sh: smbclient ($n) did not answer" >&2; exit 1; }
    case $line in
      "$m") k=$((k - 1)) ;;
      *NT_STATUS_*) echo "smb.sh: smbclient ($n): $line" >&2; exit 1 ;;
    esac
  done
}
smbc_do() { printf '%s\n' "$2" >&"${SMBC_W[$1]}"; smbc_wait "$1" "$3" "${4:-1}"; }
smbc_quiet() { # name command: one that prints nothing (cd, lcd, prompt),
  # so `pwd` follows it
  printf '%s\npwd\n' "$2" >&"${SMBC_W[$1]}"
  smbc_wait "$1" pwd
}

# --- measuring ------------------------------------------------------------------
declare -A T            # "part/contender" -> times in µs, space-separated
declare -A LAST         # "part/contender" -> end of the last run (µs)
tic() { T0=${EPOCHREALTIME/./}; }
toc() { T["$1"]+="$(( ${EPOCHREALTIME/./} - T0 )) "; }
since() { echo $(( ${EPOCHREALTIME/./} - ${LAST[$1]:-0} )); }
# Waits until `gap` s have passed since this part's last run of a contender,
# so that what the kernel and the client cached of the last run has expired
# (attributes and names: 1 s in mpr and in GVfs' FUSE path).
cool() { local us; us=$(since "$1"); [ "$us" -ge "$2" ] || sleep "$(awk -v u="$(( $2 - us ))" 'BEGIN{printf "%.3f", u/1e6}')"; }
done_() { LAST[$1]=${EPOCHREALTIME/./}; }
want() { [[ "$ONLY" == *" $1 "* ]]; }
has() { [[ "$SKIP" != *" $1 "* ]]; }
check_size() { # path bytes
  local s; s=$(stat -c %s "$1" 2>/dev/null || echo missing)
  [ "$s" = "$2" ] || { echo "smb.sh: $1 has $s bytes, not $2" >&2; exit 1; }
}
rotate() { # prints its arguments starting at index $1 (mod count)
  shift_by=$1; shift; local a=("$@") n=$# i
  for ((i = 0; i < n; i++)); do printf '%s ' "${a[(i + shift_by) % n]}"; done
}

GVFS_RETRIED=0
CONTENDERS=(mpr)
has gvfs && CONTENDERS+=(gvfs)
has smbnetfs && CONTENDERS+=(smbnetfs)

# 1. connect + first write + list + disconnect, on a drive (Y:) of its own.
run_connect() { # contender iteration
  local k=$1 i=$2 d
  case $k in
    mpr) d=$B/drives/Y
      tic; mpr_up Y:; toc "conn/$k"
      tic; echo "hello $i" >"$d/$SUB/c-$k-$i.txt"; ls "$d/$SUB" >/dev/null; toc "wl/$k"
      tic; mpr_down Y:; toc "disc/$k" ;;
    gvfs) d=$GV
      # A GVfs share mounted again within about a second of its unmount
      # answers EIO on its FUSE path (the kernel still holds the old
      # directory's entry), so the runs of GVfs are kept 2 s apart. Even
      # then `gio mount` may return before gvfsd-fuse knows the mount, and
      # the first write fails with EIO for some tens of ms: it is retried
      # (every 10 ms, the time counted) and the retries are reported.
      cool "conn/$k" 2000000
      tic; gvfs_up; toc "conn/$k"
      local n=0
      tic
      until echo "hello $i" 2>/dev/null >"$d/$SUB/c-$k-$i.txt"; do
        n=$((n + 1)); [ "$n" -lt 500 ] || { echo "smb.sh: GVfs's FUSE path never answered" >&2; exit 1; }
        sleep 0.01
      done
      ls "$d/$SUB" >/dev/null; toc "wl/$k"
      if [ "$n" -gt 0 ] && [ "$i" -gt 0 ]; then GVFS_RETRIED=$((GVFS_RETRIED + 1)); fi
      tic; gvfs_down; toc "disc/$k"; done_ "conn/$k" ;;
    smbnetfs) d=$B/sn1
      tic; sn_up "$d"; toc "conn/$k"
      tic; echo "hello $i" >"$d/$SUB/c-$k-$i.txt"; ls "$d/$SUB" >/dev/null; toc "wl/$k"
      tic; sn_down "$d"; toc "disc/$k" ;;
  esac
  check_size "$SRV/c-$k-$i.txt" $(( ${#i} + 7 ))
  rm -f "$SRV/c-$k-$i.txt"
}

# 2. through a mount.
dir_of() { case $1 in mpr) echo "$B/drives/X/$SUB" ;; gvfs) echo "$GV/$SUB" ;; smbnetfs) echo "$B/sn/$SUB" ;; esac; }
run_write() {
  local k=$1 i=$2 f=w-$1-$2.bin
  if [[ $k == smbclient* ]]; then
    tic; smbc_do "$k" "put $B/src.bin $SUB/$f" put; toc "write/$k"
  else
    tic; dd if="$B/src.bin" of="$(dir_of "$k")/$f" bs=1M conv=fsync status=none; toc "write/$k"
  fi
  check_size "$SRV/$f" $((MIB << 20))
  [ "$i" -gt 1 ] || cmp -s "$B/src.bin" "$SRV/$f" || { echo "smb.sh: $k wrote other bytes" >&2; exit 1; }
  rm -f "$SRV/$f"
}
run_read() {
  local k=$1 i=$2
  if [[ $k == smbclient* ]]; then
    tic; smbc_do "$k" "get $SUB/r.bin /dev/null" got; toc "read/$k"
  else
    local f; f=$(dir_of "$k")/r.bin
    # Drop what the client's page cache holds of the file (posix_fadvise
    # DONTNEED on the whole file), so every run reads from the server.
    dd if="$f" iflag=nocache count=0 status=none
    if [ "$i" -eq 1 ]; then
      cmp -s "$B/src.bin" "$f" || { echo "smb.sh: $k read other bytes" >&2; exit 1; }
      dd if="$f" iflag=nocache count=0 status=none
    fi
    tic; dd if="$f" of=/dev/null bs=1M status=none; toc "read/$k"
  fi
}
run_list() {
  local k=$1 n
  cool "list/$k" 1500000
  if [[ $k == smbclient* ]]; then
    tic; smbc_do "$k" "ls $SUB/list/*" listed; toc "list/$k"
  else
    tic; n=$(ls -l "$(dir_of "$k")/list" | wc -l); toc "list/$k"
    [ "$n" -eq $((NLIST + 1)) ] || { echo "smb.sh: $k listed $((n - 1)) of $NLIST entries" >&2; exit 1; }
  fi
  done_ "list/$k"
}
run_small() {
  local k=$1 i=$2 d=s-$1-$2
  mkdir "$SRV/$d"; own "$SRV/$d"
  if [[ $k == smbclient* ]]; then
    smbc_quiet "$k" "cd /$SUB/$d"
    tic; smbc_do "$k" "mput *" put "$NSMALL"; toc "small/$k"
    smbc_quiet "$k" "cd /"
  else
    local to; to=$(dir_of "$k")/$d
    tic; cp "$B/small/"* "$to/"; toc "small/$k"
  fi
  local n; n=$(find "$SRV/$d" -type f -size 1k | wc -l)
  [ "$n" -eq "$NSMALL" ] || { echo "smb.sh: $k created $n of $NSMALL files" >&2; exit 1; }
  rm -rf "${SRV:?}/$d"
}

# --- the runs -------------------------------------------------------------------
echo "smb.sh: $RUNS interleaved runs, $(nproc) cores, $(uname -r), server files on $WHERE" >&2
if want connect; then
  for k in "${CONTENDERS[@]}"; do run_connect "$k" 0; done # warm up
  for k in "${CONTENDERS[@]}"; do T["conn/$k"]= T["wl/$k"]= T["disc/$k"]=; done
  for i in $(seq "$RUNS"); do
    for k in $(rotate "$i" "${CONTENDERS[@]}"); do run_connect "$k" "$i"; done
    printf . >&2
  done
  echo >&2
fi
DATA=(smbclient smbclient-sign "${CONTENDERS[@]}")
if want write || want read || want list || want small; then
  mpr_up X:
  smbc_start smbclient
  smbc_start smbclient-sign --client-protection=sign
  for k in smbclient smbclient-sign; do smbc_quiet "$k" prompt; smbc_quiet "$k" "lcd $B/small"; done
  has gvfs && { cool "conn/gvfs" 2000000; gvfs_up; until ls "$GV/$SUB" >/dev/null 2>&1; do sleep 0.01; done; }
  has smbnetfs && { sn_up "$B/sn"; ls "$B/sn/$SUB" >/dev/null; }
  for i in $(seq "$RUNS"); do
    for k in $(rotate "$i" "${DATA[@]}"); do
      for p in write read list small; do
        if want "$p"; then "run_$p" "$k" "$i"; fi
      done
    done
    printf . >&2
  done
  echo >&2
fi

# --- the table ---------------------------------------------------------------------
stats() { # "part/contender" -> "median min max" in µs
  tr ' ' '\n' <<<"${T[$1]:-}" | grep . | sort -n |
    awk '{a[NR]=$1} END {if (!NR) exit; m = NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%d %d %d\n", m, a[1], a[NR]}'
}
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u/1000}'; }
echo "SMB, $RUNS interleaved runs, $(nproc) cores, $(uname -r); ms: median (min-max)"
if want connect; then
  printf '\n1. connect + first write + list + disconnect\n'
  printf '%-10s %-24s %-24s %-24s %s\n' "" "connect" "write+list" "disconnect" "total (median)"
  for k in "${CONTENDERS[@]}"; do
    tot=0; row=""
    for p in conn wl disc; do
      read -r m lo hi <<<"$(stats "$p/$k")"
      row+=$(printf '%-24s ' "$(ms "$m") ($(ms "$lo")-$(ms "$hi"))"); tot=$((tot + ${m%.*}))
    done
    printf '%-10s %s %s\n' "$k" "$row" "$(ms "$tot")"
  done
  if has gvfs; then echo "(gvfs: the first write met EIO and was retried in $GVFS_RETRIED of $RUNS runs)"; fi
fi
if [ -n "${T[write/smbclient]:-}${T[read/smbclient]:-}${T[list/smbclient]:-}${T[small/smbclient]:-}" ]; then
  printf '\n2. through a mount made once (smbclient: on a session made once)\n'
  for p in write read list small; do
    want "$p" || continue
    case $p in
      write) what="write $MIB MiB (dd bs=1M conv=fsync | put)" ;;
      read) what="read $MIB MiB (dd bs=1M | get)" ;;
      list) what="ls -l of $NLIST files (| ls)" ;;
      small) what="create $NSMALL files of 1 KiB (cp | mput)" ;;
    esac
    read -r sm _ <<<"$(stats "$p/smbclient")"
    printf '%s\n' "$what"
    for k in "${DATA[@]}"; do
      read -r m lo hi <<<"$(stats "$p/$k")"
      case $p in
        write | read) extra=$(awk -v n="$sm" -v m="$m" -v s="$MIB" \
          'BEGIN {printf "%5.0f MiB/s  %4.0f %% of smbclient", s/(m/1e6), 100*n/m}') ;;
        *) extra=$(awk -v n="$sm" -v m="$m" 'BEGIN {printf "%5.1f x smbclient", m/n}') ;;
      esac
      printf '  %-16s %-28s %s\n' "$k" "$(ms "$m") ($(ms "$lo")-$(ms "$hi"))" "$extra"
    done
  done
fi
