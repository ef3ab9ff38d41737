#!/usr/bin/env bash
# webdav.sh: mpr's own WebDAV file system (mpr-fsd with mpr-dav) against
# `rclone mount` (the helper mpr ran before), GVfs and curl, on a loopback
# `rclone serve webdav` (HTTP, basic auth) with the fixture of
# scripts/test-servers.sh.
#
# One run, interleaved as bench/smb.sh does (lib.sh): every iteration runs
# each contender once, in an order that rotates, and the tables show the
# median, min and max of each.
#
#  1. connect + first write of a small file + list + disconnect:
#     - mpr: `mpr use Y: dav://127.0.0.1:PORT/ --user U --password-stdin`
#       ... `mpr use Y: --delete`;
#     - rclone: `rclone mount :webdav: DIR --daemon` with the options of
#       mpr's old launcher, `fusermount3 -u` (its mount is lazy: the login
#       happens at the first write);
#     - gvfs: `gio mount dav://U@127.0.0.1:PORT/` (the password on its
#       prompt), its FUSE path, `gio mount -u`;
#     - curl: one authenticated PROPFIND (Depth: 0) of the root on a new
#       connection, only as the protocol's own connect time.
#  2. through a mount made once: a 64 MiB sequential write (`dd bs=1M
#     conv=fsync` of a fresh file), a 64 MiB sequential read (`dd bs=1M`, the
#     client's cached pages dropped first), `ls -l` of 2,000 files, `cp` of
#     200 small files into a fresh directory; and with curl, the limit: a PUT
#     and a GET of the 64 MiB file, a PROPFIND with Depth: 1 of the
#     directory, 200 PUTs in one curl (one kept-alive connection).
#
# The server's files live on a tmpfs mounted (by this script) on a fresh
# directory below the served one, so that the figures are the clients' and
# not this VM's disk.
#
# The server is a private `rclone serve webdav` of the same directory, user
# and password as the shared one, on a free port, stopped at the end: the
# shared one runs with `--dir-cache-time 0s` (the tests want every change
# made beside it seen at once), and then answers a PROPFIND of a directory
# in a time that grows with the square of its entries (2,000 files: about
# a minute, past any client's timeout). This one keeps its directory cache
# for 1 s, which lists 2,000 files in about 50 ms; the directories for the
# small files are made through it (MKCOL), so that it knows them at once.
# BENCH_WEBDAV_SHARED=1 uses the shared server instead (then give a small
# BENCH_WEBDAV_LIST).
#
# Passwords never reach a command line: mpr reads it on stdin, gio from its
# prompt on stdin, curl from a 0600 netrc file, rclone from a 0600 config
# file of one remote (in the obscured form `rclone config` stores; it is
# obscured once, before the runs). None of them gets it in its environment.
#
# Installs (quietly, once) what it compares against: GVfs (gvfs,
# gvfs-backends, gvfs-fuse), gio (libglib2.0-bin), a D-Bus daemon, curl.
# GVfs runs on a private D-Bus session with a private XDG_RUNTIME_DIR and
# HOME, and everything it starts is stopped at the end.
#
# Usage: bash bench/webdav.sh [RUNS]   (as root; default 15, or BENCH_WEBDAV_RUNS)
#   BENCH_WEBDAV_ONLY="connect write read list small"  the parts to run
#   BENCH_WEBDAV_SKIP="gvfs rclone"                    contenders to leave out
#   BENCH_WEBDAV_MIB=64  BENCH_WEBDAV_LIST=2000  BENCH_WEBDAV_SMALL=200
#   BENCH_WEBDAV_NO_BUILD=1   use the release binaries as they are
set -euo pipefail
cd "$(dirname "$0")/.."
ME=webdav.sh KNOBS=WEBDAV
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup "$@"

bench_install curl rclone gvfs gvfs-backends gvfs-fuse libglib2.0-bin dbus-daemon fuse3
bench_build
bench_servers
HOST=$MPR_TEST_HOST PORT=$MPR_TEST_DAV_PORT DUSER=$MPR_TEST_DAV_USER PWFILE=$MPR_TEST_DAV_PASSWORD_FILE
SERVER="the shared rclone serve webdav (--dir-cache-time 0s)"
if [ -z "${BENCH_WEBDAV_SHARED:-}" ]; then
  PORT=
  for p in $(seq 48100 48199); do
    if [ -z "$(ss -Hltn "sport = :$p")" ]; then PORT=$p; break; fi
  done
  [ -n "$PORT" ] || die "no free port in 48100-48199 for a private WebDAV server"
  setsid rclone serve webdav "$MPR_TEST_DAV_DIR" --config /dev/null --addr "$HOST:$PORT" \
    --htpasswd "$MPR_TEST_SERVERS/secrets/dav.htpasswd" --realm mpr-bench \
    --dir-cache-time 1s --poll-interval 0 </dev/null >"$B/server.log" 2>&1 &
  DAV_PID=$!
  at_exit kill "$DAV_PID"
  for _ in $(seq 200); do
    [ -z "$(ss -Hltn "sport = :$PORT")" ] || break
    kill -0 "$DAV_PID" 2>/dev/null || die "rclone serve webdav stopped: $(tail -3 "$B/server.log")"
    sleep 0.05
  done
  SERVER="a private rclone serve webdav (--dir-cache-time 1s)"
fi
URL=http://$HOST:$PORT/

# --- private places -----------------------------------------------------------------
SUB=mprb-webdav-$$ # the bench's directory on the server
bench_tmpfs "$MPR_TEST_DAV_DIR/$SUB" root
bench_inputs
install -d -m 755 "$B/etc" "$B/state" "$B/drives" "$B/rc" "$B/rc1"
install -d -m 700 "$B/run"
export MPR_CONFIG_DIR="$B/etc" MPR_STATE_DIR="$B/state" MPR_RUNTIME_DIR="$B/run" MPR_DRIVES_DIR="$B/drives"

# --- the clients --------------------------------------------------------------
mpr_up() { "$MPR" use "$1" "dav://$HOST:$PORT/" --user "$DUSER" --password-stdin <"$PWFILE" >/dev/null; }
mpr_down() { "$MPR" use "$1" --delete >/dev/null; }
at_exit quiet "$MPR" use X: --delete
at_exit quiet "$MPR" use Y: --delete

# rclone mount with the options mpr's old launcher gave it (there in the
# foreground), its remote in a private config file.
if has rclone; then
  (umask 077 && printf '[bench]\ntype = webdav\nurl = %s\nvendor = other\nuser = %s\npass = %s\n' \
    "$URL" "$DUSER" "$(rclone --config /dev/null obscure - <"$PWFILE")" >"$B/rclone.conf")
fi
rclone_up() { # mount point
  rclone --config "$B/rclone.conf" mount bench: "$1" --daemon --dir-cache-time 1s \
    --retries 1 --low-level-retries 2
}
rclone_unmount() { if mountpoint -q "$1"; then fusermount3 -u -z "$1"; fi; }
at_exit rclone_unmount "$B/rc"
at_exit rclone_unmount "$B/rc1"

# GVfs: the FUSE path's name is GVfs's own (dav:host=...,port=...,ssl=...,
# user=...); it is found once mounted.
GIO_URL=dav://$DUSER@$HOST:$PORT/
GV=
gvfs_up() { gio_ mount "$GIO_URL" <"$PWFILE" >/dev/null 2>&1; } # asks the password only
gvfs_down() { gio_ mount -u "$GIO_URL" >/dev/null 2>&1; }
gv() { # the bench's directory on the GVfs mount
  if [ -z "$GV" ]; then
    local d
    for d in "$B/xdg/gvfs/dav:host=$HOST,port=$PORT,"*; do [ -d "$d" ] && GV=$d; done
    [ -n "$GV" ] || die "no GVfs FUSE path for $GIO_URL in $B/xdg/gvfs"
  fi
  echo "$GV/$SUB"
}
if has gvfs; then
  gvfs_start
  at_exit gvfs_down
fi

# The connect hooks of lib.sh.
conn_up() { case $1 in mpr) mpr_up Y: ;; rclone) rclone_up "$B/rc1" ;; gvfs) gvfs_up ;; esac; }
conn_down() { case $1 in mpr) mpr_down Y: ;; rclone) fusermount3 -u "$B/rc1" ;; gvfs) gvfs_down ;; esac; }
conn_dir() { case $1 in mpr) echo "$B/drives/Y/$SUB" ;; rclone) echo "$B/rc1/$SUB" ;; gvfs) gv ;; esac; }
dir_of() { case $1 in mpr) echo "$B/drives/X/$SUB" ;; rclone) echo "$B/rc/$SUB" ;; gvfs) gv ;; esac; }

# curl, the limit: the password in a 0600 netrc file; `Expect:` off for the
# large PUT (no wait for a 100 Continue).
pw=$(head -n1 "$PWFILE")
(umask 077 && printf 'machine %s login %s password %s\n' "$HOST" "$DUSER" "$pw" >"$B/netrc")
unset pw
CURL=(curl -sS -f --netrc-file "$B/netrc")
LIMITS=" curl "
srv_mkdir() { "${CURL[@]}" -X MKCOL -o /dev/null "$URL$SUB/$1/"; }
lim_connect() { tic; "${CURL[@]}" -X PROPFIND -H 'Depth: 0' -o /dev/null "$URL"; toc "conn/$1"; }
lim_write() { tic; "${CURL[@]}" -H 'Expect:' -T "$B/src.bin" -o /dev/null "$URL$SUB/$2"; toc "write/$1"; }
lim_read() { tic; "${CURL[@]}" -o /dev/null "$URL$SUB/r.bin"; toc "read/$1"; }
lim_list() {
  tic; "${CURL[@]}" -X PROPFIND -H 'Depth: 1' -o "$B/propfind.xml" "$URL$SUB/list/"; toc "list/$1"
  local n; n=$(grep -o -i '<[a-z]*:response>' "$B/propfind.xml" | wc -l)
  [ "$n" -eq $((NLIST + 1)) ] || die "curl listed $((n - 1)) of $NLIST entries"
}
lim_small() { # 200 PUTs on one connection: a curl config of upload-file/url pairs
  local f
  for f in "$B/small/"*; do
    printf 'upload-file = "%s"\nurl = "%s%s/%s/%s"\noutput = "/dev/null"\n' "$f" "$URL" "$SUB" "$2" "${f##*/}"
  done >"$B/small.curl"
  tic; "${CURL[@]}" -K "$B/small.curl"; toc "small/$1"
}
what() {
  case $1 in
    write) echo "write $MIB MiB (dd bs=1M conv=fsync | curl PUT)" ;;
    read) echo "read $MIB MiB (dd bs=1M | curl GET)" ;;
    list) echo "ls -l of $NLIST files (| curl PROPFIND, Depth: 1)" ;;
    small) echo "create $NSMALL files of 1 KiB (cp | $NSMALL PUTs in one curl)" ;;
  esac
}

# --- the runs -------------------------------------------------------------------
CONTENDERS=(mpr)
has rclone && CONTENDERS+=(rclone)
has gvfs && CONTENDERS+=(gvfs)
DATA=(curl "${CONTENDERS[@]}")
echo "$ME: $RUNS interleaved runs, $(nproc) cores, $(uname -r), server files on $WHERE, $SERVER" >&2
if want connect; then connect_runs "${CONTENDERS[@]}" curl; fi
if data_wanted; then
  mpr_up X:
  if has rclone; then rclone_up "$B/rc"; ls "$B/rc/$SUB" >/dev/null; fi
  if has gvfs; then cool "conn/gvfs" 2000000; gvfs_up; until ls "$(gv)" >/dev/null 2>&1; do sleep 0.01; done; fi
  data_runs "${DATA[@]}"
fi

bench_header "WebDAV on $SERVER"
if want connect; then connect_table "${CONTENDERS[@]}" curl; fi
if data_wanted; then data_table curl "${DATA[@]}"; fi
