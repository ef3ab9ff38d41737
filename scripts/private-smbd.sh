#!/usr/bin/env bash
# private-smbd.sh: an smbd of one test's own, so the test may stop and start
# it under a live mount without touching the shared fixture's smbd
# (scripts/test-servers.sh). It uses a copy of the fixture's user database
# (same user and password), its own directories under DIR, and a free port
# on 127.0.0.1; one share, `share` (DIR/share, owned by the fixture's user).
#
# Usage: private-smbd.sh start DIR PORT   returns once smbd listens on PORT
#        private-smbd.sh stop DIR    stops it (and samba-dcerpcd); keeps DIR
#        private-smbd.sh again DIR   starts it again on the same port
#        private-smbd.sh clean DIR   stops it and removes DIR
set -euo pipefail
cmd=${1:?usage: private-smbd.sh start|stop|again|clean DIR}
dir=${2:?usage: private-smbd.sh start|stop|again|clean DIR}
base=${MPR_TEST_SERVERS:-/tmp/mpr-test-servers}
die() { echo "private-smbd.sh: $*" >&2; exit 1; }

stop() {
  local f pid
  for f in "$dir/smbd.pgid" "$dir/pid/samba-dcerpcd.pid"; do
    [ -s "$f" ] || continue
    pid=$(tr -dc 0-9 <"$f")
    if [ "$f" = "$dir/smbd.pgid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true
    else kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$f"
  done
}

run() {
  local port i
  port=$(cat "$dir/port")
  setsid /usr/sbin/smbd --foreground --no-process-group -s "$dir/smb.conf" \
    </dev/null >>"$dir/stdout.log" 2>&1 &
  echo $! >"$dir/smbd.pgid"
  for i in $(seq 1 500); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.02
  done
  die "smbd did not listen on $port within 10 s; see $dir/smbd.log"
}

case "$cmd" in
  start)
    [ -r "$base/env" ] || die "the test servers are not running: bash scripts/test-servers.sh start"
    # shellcheck disable=SC1091
    user=$(sed -n 's/^MPR_TEST_SMB_USER=//p' "$base/env" | tr -d "'\"")
    stop
    rm -rf "$dir"
    mkdir -p "$dir"/{private,lock,state,cache,pid,ncalrpc,share}
    cp "$base/smb/private/passdb.tdb" "$base/smb/private/secrets.tdb" "$dir/private/"
    chown "$user:" "$dir/share"
    port=${3:?usage: private-smbd.sh start DIR PORT}
    echo "$port" >"$dir/port"
    cat >"$dir/smb.conf" <<CONF
[global]
   server role = standalone server
   workgroup = WORKGROUP
   netbios name = MPRPRIV
   interfaces = 127.0.0.1
   bind interfaces only = yes
   smb ports = $port
   disable netbios = yes
   server min protocol = SMB2_10
   private dir = $dir/private
   lock directory = $dir/lock
   state directory = $dir/state
   cache directory = $dir/cache
   pid directory = $dir/pid
   ncalrpc dir = $dir/ncalrpc
   binddns dir = $dir/private/bind-dns
   passdb backend = tdbsam:$dir/private/passdb.tdb
   log file = $dir/smbd.log
   log level = 1
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
   map to guest = never
   restrict anonymous = 2
[share]
   path = $dir/share
   read only = no
   valid users = $user
CONF
    run ;;
  again) stop; run ;;
  stop) stop ;;
  clean) stop; rm -rf "$dir" ;;
  *) die "unknown command $cmd" ;;
esac
