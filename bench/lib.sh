# shellcheck shell=bash
# lib.sh: what the drive benchmarks (smb.sh, sftp.sh, webdav.sh) share.
# Sourced, never run. The caller sets ME (its name, for messages) and
# KNOBS (the prefix of its environment knobs: SMB, SFTP, WEBDAV), then:
#
#   bench_setup "$@"       knobs, root check, private directory $B, exit trap
#   bench_install PKG...   installs (quietly, once) what it compares against
#   bench_build            builds the release binaries, sets MPR
#   bench_servers          starts the loopback servers, exports MPR_TEST_*
#   bench_tmpfs DIR OWNER  the server's files on a tmpfs (unmounted at exit)
#   bench_inputs           the 64 MiB file, the small files, the server's files
#   gvfs_start             GVfs on a private D-Bus session (stopped at exit)
#   at_exit CMD ARG...     one more thing to undo at exit (last added, first run)
#   connect_runs NAME...   the connect part, interleaved
#   data_runs NAME...      the data parts, interleaved
#   connect_table NAME...  and data_table LIMIT NAME...: the results
#
# A script defines these hooks for its contenders:
#   conn_up K, conn_down K   connect and disconnect (timed)
#   conn_dir K               the bench's directory on K's drive, once connected
#   conn_pre K, conn_post K  optional, untimed (say, to stop an ssh master)
#   dir_of K                 the bench's directory on K's mount of the data part
#   lim_connect, lim_write, lim_read, lim_list, lim_small K ARG: for the
#     protocol's own client (names listed in LIMITS), which time themselves
#     with tic/toc since they may need untimed steps around the transfer
#   what PART                a label for the data table's part
#   srv_mkdir DIR            optional: makes DIR in $SRV for the small files

# --- set-up and cleanup ----------------------------------------------------------
die() { echo "$ME: $*" >&2; exit 1; }

BENCH_AT_EXIT=()
at_exit() { BENCH_AT_EXIT+=("$(printf '%q ' "$@")"); }
quiet() { "$@" >/dev/null 2>&1; }
bench_cleanup() {
  set +e
  local j
  for ((j = ${#BENCH_AT_EXIT[@]} - 1; j >= 0; j--)); do eval "${BENCH_AT_EXIT[j]}"; done
}

bench_setup() { # the script's arguments
  local p=BENCH_${KNOBS}_
  local r=${p}RUNS m=${p}MIB l=${p}LIST s=${p}SMALL o=${p}ONLY k=${p}SKIP nb=${p}NO_BUILD
  RUNS=${1:-${!r:-15}}
  MIB=${!m:-64} NLIST=${!l:-2000} NSMALL=${!s:-200}
  ONLY=" ${!o:-connect write read list small} "
  SKIP=" ${!k:-} "
  NO_BUILD=${!nb:-}
  local v
  for v in "$RUNS" "$MIB" "$NLIST" "$NSMALL"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "runs, MiB, list and small counts must be whole numbers above 0 (got '$v')"
  done
  [ "$(id -u)" -eq 0 ] || die "run as root (FUSE, the tmpfs and apt-get need it)"
  # Local side: sources, mount points, homes, on tmpfs. Short, for ssh's
  # control sockets below it.
  B=/dev/shm/mprb-${KNOBS,,}-$$
  install -d -m 700 "$B"
  at_exit rm -rf "$B"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_install() { # package...
  local p missing=() log
  for p; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
      || { tail -20 "$log" >&2; rm -f "$log"; die "could not install ${missing[*]}"; }
  fi
  rm -f "$log"
  echo "installed: ${missing[*]}" >&2
}

bench_build() { # sets MPR, where Cargo builds (CARGO_TARGET_DIR or target/)
  if [ -z "$NO_BUILD" ]; then
    cargo build --quiet --release --locked -p mpr-cli --bin mpr --bin mpr-fsd --bin mpr-askpass
  fi
  local t=${CARGO_TARGET_DIR:-target} b
  [[ $t == /* ]] || t=$(pwd)/$t
  # shellcheck disable=SC2034 # used by the scripts
  MPR=$t/release/mpr
  for b in mpr mpr-fsd mpr-askpass; do
    [ -x "$t/release/$b" ] || die "no $t/release/$b (cargo build --release -p mpr-cli)"
  done
}

bench_servers() {
  bash scripts/test-servers.sh start >/dev/null
  eval "$(bash scripts/test-servers.sh env | sed 's/^/export /')"
}

# The server's files on a tmpfs mounted on a fresh directory (so that the
# figures are the clients' and not the VM's disk), owned by the account the
# server writes as. Sets SRV and WHERE.
bench_tmpfs() { # directory owner
  SRV=$1
  install -d -o "$2" -g "$(id -gn "$2")" -m 755 "$SRV"
  at_exit rm -rf "$SRV"
  mount -t tmpfs -o "size=$((MIB * 12 + 256))m,mode=0755,uid=$(id -u "$2"),gid=$(id -g "$2")" mpr-bench "$SRV"
  at_exit unmount_tmpfs "$SRV"
  SRV_OWNER=$2
  WHERE="tmpfs on the server"
}
unmount_tmpfs() { mountpoint -q "$1" && { umount "$1" 2>/dev/null || umount -l "$1"; }; }
own() { chown -R "$SRV_OWNER:$(id -gn "$SRV_OWNER")" "$@"; } # files the server may change

# The inputs: a file of MIB MiB of random bytes and NSMALL small files of
# 1 KiB here; on the server a copy of the first to read and a directory of
# NLIST files to list.
bench_inputs() {
  install -d -m 755 "$B/small"
  head -c "$((MIB << 20))" /dev/urandom >"$B/src.bin"
  local i
  for i in $(seq -w 1 "$NSMALL"); do head -c 1024 /dev/urandom >"$B/small/s$i.txt"; done
  cp "$B/src.bin" "$SRV/r.bin"
  mkdir "$SRV/list"
  (cd "$SRV/list" && seq -f 'entry-%05g.txt' 1 "$NLIST" | xargs touch)
  own "$SRV/r.bin" "$SRV/list"
}

# --- GVfs on a private session bus ---------------------------------------------------
# gvfsd and gvfsd-fuse start on first use, with the bus's environment: a
# private HOME and XDG_RUNTIME_DIR (its FUSE path is $B/xdg/gvfs), and PATH
# with GVFS_PATHDIR first if set (so that a wrapper there stands in for a
# program GVfs starts by name, such as ssh).
GVFS_BUS_PID=
GVFS_PATHDIR=
gvfs_start() {
  local addr path=$PATH
  [ -z "$GVFS_PATHDIR" ] || path=$GVFS_PATHDIR:$PATH
  install -d -m 755 "$B/home"
  install -d -m 700 "$B/xdg"
  { read -r addr; read -r GVFS_BUS_PID; } < <(HOME=$B/home XDG_RUNTIME_DIR=$B/xdg PATH=$path \
    dbus-daemon --session --fork --print-address=1 --print-pid=1)
  export DBUS_SESSION_BUS_ADDRESS=$addr
  at_exit gvfs_stop
}
gio_() { HOME=$B/home XDG_RUNTIME_DIR=$B/xdg GVFS_REMOTE_VOLUME_MONITOR_IGNORE=1 gio "$@"; }
gvfs_stop() {
  [ -n "$GVFS_BUS_PID" ] || return 0
  # The private bus and what is still its child. GVfs's daemons (started by
  # the bus, then detached from it) end when their bus goes away, and
  # gvfsd-fuse unmounts its FUSE path as it ends.
  local pids=() queue=("$GVFS_BUS_PID") p c j
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}"); pids+=("$p")
    for c in $(pgrep -P "$p"); do queue+=("$c"); done
  done
  for ((j = ${#pids[@]} - 1; j >= 0; j--)); do kill "${pids[j]}" 2>/dev/null; done
  for _ in $(seq 20); do mountpoint -q "$B/xdg/gvfs" || break; sleep 0.1; done
  if mountpoint -q "$B/xdg/gvfs"; then fusermount3 -u -z "$B/xdg/gvfs"; fi
  GVFS_BUS_PID=
}

# --- measuring -------------------------------------------------------------------------
declare -A T       # "part/contender" -> times in µs, space-separated
declare -A LAST    # "part/contender" -> end of the last run (µs)
declare -A RETRIED # contender -> runs whose first write was retried
declare -A LATE    # contender -> data runs whose files reached the server after the program returned
LIMITS=" "         # the protocol's own clients (not mounts), space-separated
tic() { T0=${EPOCHREALTIME/./}; }
toc() { T["$1"]+="$(( ${EPOCHREALTIME/./} - T0 )) "; }
since() { echo $(( ${EPOCHREALTIME/./} - ${LAST[$1]:-0} )); }
# Waits until `gap` µs have passed since this part's last run of a
# contender, so that what the kernel and the client cached of the last run
# has expired (attributes and names: 1 s in mpr and in GVfs' FUSE path).
cool() { local us; us=$(since "$1"); [ "$us" -ge "$2" ] || sleep "$(awk -v u="$(( $2 - us ))" 'BEGIN{printf "%.3f", u/1e6}')"; }
done_() { LAST[$1]=${EPOCHREALTIME/./}; }
want() { [[ "$ONLY" == *" $1 "* ]]; }
has() { [[ "$SKIP" != *" $1 "* ]]; }
is_lim() { [[ "$LIMITS" == *" $1 "* ]]; }
check_size() { # path bytes
  local s; s=$(stat -c %s "$1" 2>/dev/null || echo missing)
  [ "$s" = "$2" ] || die "$1 has $s bytes, not $2"
}
rotate() { # prints its arguments starting at index $1 (mod count)
  local by=$1; shift; local a=("$@") n=$# i
  for ((i = 0; i < n; i++)); do printf '%s ' "${a[(i + by) % n]}"; done
}
# Optional hooks: nothing by default, a directory made on the server's side.
conn_pre() { :; }
conn_post() { :; }
srv_mkdir() { mkdir "$SRV/$1"; own "$SRV/$1"; }

# 1. connect + first write of a small file + list + disconnect. A first
# write that fails is retried every 10 ms (the time counted) and reported:
# GVfs's `gio mount` may return before its FUSE path knows the mount. GVfs
# is kept 2 s from its last connect: a share mounted again within about a
# second of its unmount answers EIO on the FUSE path (the kernel still
# holds the old directory's entry).
run_connect() { # contender iteration
  local k=$1 i=$2 d n=0
  if is_lim "$k"; then lim_connect "$k"; return; fi
  [ "$k" != gvfs ] || cool "conn/$k" 2000000
  conn_pre "$k"
  tic; conn_up "$k"; toc "conn/$k"
  d=$(conn_dir "$k")
  tic
  until echo "hello $i" 2>/dev/null >"$d/c-$k-$i.txt"; do
    n=$((n + 1)); [ "$n" -lt 500 ] || die "$k: the first write through the new mount never succeeded"
    sleep 0.01
  done
  ls "$d" >/dev/null; toc "wl/$k"
  if [ "$n" -gt 0 ] && [ "$i" -gt 0 ]; then RETRIED[$k]=$(( ${RETRIED[$k]:-0} + 1 )); fi
  tic; conn_down "$k"; toc "disc/$k"; done_ "conn/$k"
  conn_post "$k"
  check_size "$SRV/c-$k-$i.txt" $(( ${#i} + 7 ))
  rm -f "$SRV/c-$k-$i.txt"
}
connect_runs() { # contender...
  local k i
  for k; do run_connect "$k" 0; done # warm up
  for k; do T["conn/$k"]='' T["wl/$k"]='' T["disc/$k"]=''; RETRIED[$k]=0; done
  for i in $(seq "$RUNS"); do
    for k in $(rotate "$i" "$@"); do run_connect "$k" "$i"; done
    printf . >&2
  done
  echo >&2
}

# 2. through a mount made once (the limits: a session made once).
run_write() { # a fresh file: dd bs=1M conv=fsync
  local k=$1 i=$2 f=w-$1-$2.bin
  if is_lim "$k"; then
    lim_write "$k" "$f"
  else
    tic
    dd if="$B/src.bin" of="$(dir_of "$k")/$f" bs=1M conv=fsync status=none
    settle "$k" "[ \"\$(stat -c %s '$SRV/$f' 2>/dev/null)\" = $((MIB << 20)) ]"
    toc "write/$k"
  fi
  check_size "$SRV/$f" $((MIB << 20))
  [ "$i" -gt 1 ] || cmp -s "$B/src.bin" "$SRV/$f" || die "$k wrote other bytes"
  rm -f "$SRV/$f"
}
run_read() {
  local k=$1 i=$2
  if is_lim "$k"; then lim_read "$k"; return; fi
  local f; f=$(dir_of "$k")/r.bin
  # Drop what the client's page cache holds of the file (posix_fadvise
  # DONTNEED on the whole file), so every run reads from the server.
  dd if="$f" iflag=nocache count=0 status=none
  if [ "$i" -eq 1 ]; then
    cmp -s "$B/src.bin" "$f" || die "$k read other bytes"
    dd if="$f" iflag=nocache count=0 status=none
  fi
  tic; dd if="$f" of=/dev/null bs=1M status=none; toc "read/$k"
}
run_list() { # ls -l, each contender 1.5 s after its last listing
  local k=$1 n
  cool "list/$k" 1500000
  if is_lim "$k"; then
    lim_list "$k"
  else
    tic
    # shellcheck disable=SC2012 # ls -l is what is measured
    n=$(ls -l "$(dir_of "$k")/list" | wc -l)
    toc "list/$k"
    [ "$n" -eq $((NLIST + 1)) ] || die "$k listed $((n - 1)) of $NLIST entries"
  fi
  done_ "list/$k"
}
run_small() { # cp of the small files into a fresh directory (made by data_runs)
  local k=$1 i=$2 d=s-$1-$2
  if is_lim "$k"; then
    lim_small "$k" "$d"
  else
    local to; to=$(dir_of "$k")/$d
    tic
    cp "$B/small/"* "$to/"
    settle "$k" "[ \"\$(find '$SRV/$d' -type f -size 1k | wc -l)\" -eq $NSMALL ]"
    toc "small/$k"
  fi
  local n; n=$(find "$SRV/$d" -type f -size 1k | wc -l)
  [ "$n" -eq "$NSMALL" ] || die "$k created $n of $NSMALL files"
  rm -rf "${SRV:?}/$d"
}
# A client may answer a program's fsync and close before the server has the
# bytes (GVfs's FUSE path uploads to a WebDAV server after the close): the
# time counted then runs until the server has them all, polled every 5 ms,
# and such runs are counted.
settle() { # contender test (evaluated)
  local n=0
  until eval "$2"; do
    n=$((n + 1)); [ "$n" -lt 12000 ] || die "$1: the server never got the files"
    sleep 0.005
  done
  if [ "$n" -gt 0 ]; then LATE[$1]=$(( ${LATE[$1]:-0} + 1 )); fi
}
data_wanted() { want write || want read || want list || want small; }
data_runs() { # contender...
  local i k p
  # The small files' directories are made first, and the clients' caches
  # of the directory above them (1 s for rclone's names) left to expire.
  if want small; then
    for i in $(seq "$RUNS"); do for k; do srv_mkdir "s-$k-$i"; done; done
    sleep 2
  fi
  for i in $(seq "$RUNS"); do
    for k in $(rotate "$i" "$@"); do
      for p in write read list small; do
        if want "$p"; then "run_$p" "$k" "$i"; fi
      done
    done
    printf . >&2
  done
  echo >&2
}

# --- the tables --------------------------------------------------------------------
stats() { # "part/contender" -> "median min max" in µs, nothing if not measured
  tr ' ' '\n' <<<"${T[$1]:-}" | grep . | sort -n |
    awk '{a[NR]=$1} END {if (!NR) exit; m = NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%d %d %d\n", m, a[1], a[NR]}'
}
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u/1000}'; }
cell() { # "part/contender" -> "median (min-max)" in ms, or "-"
  local m lo hi
  read -r m lo hi <<<"$(stats "$1")"
  if [ -n "$m" ]; then printf '%s (%s-%s)' "$(ms "$m")" "$(ms "$lo")" "$(ms "$hi")"; else printf -- -; fi
}
bench_header() { # protocol
  echo "$1, $RUNS interleaved runs, $(nproc) cores, $(uname -r), server files on $WHERE; ms: median (min-max)"
}
connect_table() { # contender...
  local k p m tot
  printf '\n1. connect + first write + list + disconnect\n\n'
  printf '| %s | %s | %s | %s | %s |\n|---|---|---|---|---|\n' "" connect "first write + list" disconnect "total (medians)"
  for k; do
    tot=0
    for p in conn wl disc; do
      read -r m _ <<<"$(stats "$p/$k")"
      tot=$((tot + ${m:-0}))
    done
    printf '| %s | %s | %s | %s | %s |\n' "$k" "$(cell "conn/$k")" "$(cell "wl/$k")" "$(cell "disc/$k")" "$(ms "$tot")"
  done
  for k; do
    if [ "${RETRIED[$k]:-0}" -gt 0 ] || [ "$k" = gvfs ]; then
      echo "($k: the first write failed and was retried in ${RETRIED[$k]:-0} of $RUNS runs)"
    fi
  done
}
data_table() { # the limit (the ratios' base), contender...
  local lim=$1 p k sm m extra
  shift
  printf '\n2. through a mount made once (%s: on a session made once)\n' "$lim"
  for p in write read list small; do
    want "$p" || continue
    read -r sm _ <<<"$(stats "$p/$lim")"
    printf '\n%s\n\n| | %s | |\n|---|---|---|\n' "$(what "$p")" "ms"
    for k; do
      read -r m _ <<<"$(stats "$p/$k")"
      [ -n "$m" ] || continue
      case $p in
        write | read) extra=$(awk -v n="${sm:-0}" -v m="$m" -v s="$MIB" -v l="$lim" \
          'BEGIN {printf "%.0f MiB/s, %.0f %% of %s", s/(m/1e6), 100*n/m, l}') ;;
        *) extra=$(awk -v n="${sm:-0}" -v m="$m" -v l="$lim" 'BEGIN {printf "%.1f x %s", (n ? m/n : 0), l}') ;;
      esac
      printf '| %s | %s | %s |\n' "$k" "$(cell "$p/$k")" "$extra"
    done
  done
  for k; do
    if [ "${LATE[$k]:-0}" -gt 0 ]; then
      echo "($k: in ${LATE[$k]} runs of write or small files the server had the files only after the program was done; counted until then)"
    fi
  done
}
