#!/bin/bash
# test-servers.sh: private loopback SFTP, SMB and WebDAV servers for mpr's
# integration tests and demo. Everything listens on 127.0.0.1 only.
#
# Usage: bash scripts/test-servers.sh start|stop|restart|status|env
#
#   start    set the fixture up (first time only) and start whatever is not
#            running; waits until each port listens. Idempotent and quick.
#   stop     kill exactly the recorded server PIDs (plus their children, e.g.
#            sshd/smbd session processes); succeeds when nothing runs.
#   status   one line per server; exit 0 only if all three are up.
#   env      shell-eval-able KEY=VALUE lines describing the fixture
#            (`eval "$(bash scripts/test-servers.sh env)"`). Passwords are
#            given as paths of 0600 files, never as values.
#
# Settings (environment):
#   MPR_TEST_SERVERS      base directory      (default /tmp/mpr-test-servers)
#   MPR_TEST_SSH_PORT     sshd port           (default 22022)
#   MPR_TEST_SMB_PORT     smbd port           (default 44450)
#   MPR_TEST_DAV_PORT     WebDAV port         (default 48080)
#   MPR_TEST_SERVERS_WAIT seconds to wait for the ports (default 10)
#
# Needs root (smbd switches to the test user's uid; useradd; /run/sshd) and
# the packages of scripts/ci-deps.sh. See docs/test-servers.md.
set -euo pipefail
umask 022

# ---------------------------------------------------------------------------
# Fixed secrets of a throwaway test fixture. They protect nothing real and are
# defined only here. They are written to 0600 files under $BASE/secrets and
# handed to programs on stdin or in files, never on a command line.
TEST_USER=mprtest
SSH_PASS='Ssh-Pass1'
SMB_PASS='Smb-Pass1'
SMB_DOMAIN=WORKGROUP
DAV_USER=davuser
DAV_PASS='Dav-Pass1'
# A second SMB account, for two connections to one server as two users.
PEER_USER=mprpeer
PEER_PASS='Peer-Pass2'
# ---------------------------------------------------------------------------

HOST=127.0.0.1
BASE=${MPR_TEST_SERVERS:-/tmp/mpr-test-servers}
SSH_PORT=${MPR_TEST_SSH_PORT:-22022}
SMB_PORT=${MPR_TEST_SMB_PORT:-44450}
DAV_PORT=${MPR_TEST_DAV_PORT:-48080}
WAIT_SECS=${MPR_TEST_SERVERS_WAIT:-10}

ME=test-servers.sh
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

[[ $BASE == /* ]] || die "MPR_TEST_SERVERS must be an absolute path (got '$BASE')"
[[ $BASE =~ ^[A-Za-z0-9_./+-]+$ ]] \
  || die "MPR_TEST_SERVERS may hold only letters, digits and _ . / + - (it goes into sshd/smb configs and ssh_command): '$BASE'"
BASE=${BASE%/}
for p in "$SSH_PORT" "$SMB_PORT" "$DAV_PORT"; do
  if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then die "bad port number '$p'"; fi
done
if [ "$SSH_PORT" = "$SMB_PORT" ] || [ "$SSH_PORT" = "$DAV_PORT" ] || [ "$SMB_PORT" = "$DAV_PORT" ]; then
  die "the three ports must differ ($SSH_PORT $SMB_PORT $DAV_PORT)"
fi
[[ $WAIT_SECS =~ ^[0-9]+$ ]] || die "MPR_TEST_SERVERS_WAIT must be whole seconds"

# Layout.
SEC=$BASE/secrets
SSH_PASS_FILE=$SEC/ssh.pass
SMB_PASS_FILE=$SEC/smb.pass
SMB_CREDS_FILE=$SEC/smb.creds          # smbclient -A format
PEER_PASS_FILE=$SEC/peer.pass
DAV_PASS_FILE=$SEC/dav.pass
HTPASSWD=$SEC/dav.htpasswd

SSHD_DIR=$BASE/ssh
SSHD_CONF=$SSHD_DIR/sshd_config
SSHD_PID=$SSHD_DIR/sshd.pid
SSHD_LOG=$SSHD_DIR/sshd.log
HOST_KEY=$SSHD_DIR/host_ed25519
CLIENT_KEY=$SSHD_DIR/client_ed25519
KNOWN_HOSTS=$SSHD_DIR/known_hosts

SMB_DIR=$BASE/smb
SMB_CONF=$SMB_DIR/smb.conf
SMB_PID=$SMB_DIR/pid/smbd.pid
SMB_DCERPCD_PID=$SMB_DIR/pid/samba-dcerpcd.pid
SMB_LOG=$SMB_DIR/smbd.log
SMB_SHARE=share
SMB_SHARE_DIR=$SMB_DIR/share
SMB_SHARE2=public2
SMB_SHARE2_DIR=$SMB_DIR/public2
SMB_TEAM=team                          # both accounts may write here
SMB_TEAM_DIR=$SMB_DIR/team
SMB_SEALED=sealed                      # encryption required
SMB_SEALED_DIR=$SMB_DIR/sealed

DAV_DIR=$BASE/dav
DAV_ROOT=$DAV_DIR/root
DAV_PID=$DAV_DIR/webdav.pid
DAV_LOG=$DAV_DIR/webdav.log

MARK=$BASE/.setup-done
LOCK=$BASE/.lock

user_home() {
  local h
  h=$(getent passwd "$TEST_USER" | cut -d: -f6) || true
  printf '%s' "${h:-/home/$TEST_USER}"
}

now_ms() { local t=${EPOCHREALTIME/./}; printf '%s' "$((t / 1000))"; }

# --- process and port checks -------------------------------------------------

# The PID recorded in a pid file (fails if none).
pid_of() {
  local pid=
  [ -r "$1" ] || return 1
  read -r pid <"$1" || true
  [[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
  printf '%s' "$pid"
}

# Is PID alive and one of ours (its command line names our base directory)?
# Guards against killing an unrelated process that reused a stale PID.
ours() {
  local args=()
  [ -r "/proc/$1/cmdline" ] || return 1
  mapfile -d '' args <"/proc/$1/cmdline" 2>/dev/null || return 1
  [[ " ${args[*]} " == *"$BASE/"* ]]
}

# The `users:(...)` column of the LISTEN socket on 127.0.0.1:PORT (empty if none).
listener() {
  local line
  line=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -F " $HOST:$1 " || true)
  printf '%s' "$line"
}

# Server NAME is up: pid file, live process of ours, and that PID listening.
# Sets WHY to a short reason when it is not.
WHY=
is_up() {
  local pidfile=$1 port=$2 pid l
  if ! pid=$(pid_of "$pidfile"); then WHY="no pid file"; return 1; fi
  if ! ours "$pid"; then WHY="pid $pid not running"; return 1; fi
  l=$(listener "$port")
  if [[ $l != *"pid=$pid,"* ]]; then
    WHY="pid $pid running but not listening on $HOST:$port"; return 1
  fi
  WHY="pid $pid"
  return 0
}

# All descendants of the given PIDs (children first found, then theirs, ...).
descendants() {
  local frontier out=() kids
  frontier=$(IFS=,; printf '%s' "$*")
  while [ -n "$frontier" ]; do
    kids=$(pgrep -P "$frontier" 2>/dev/null | paste -sd, - || true)
    [ -n "$kids" ] || break
    out+=("${kids//,/ }")
    frontier=$kids
  done
  printf '%s ' "${out[@]}"
}

# Start time of PID (field 22 of /proc/PID/stat), to tell a process from a
# later one with the same PID; fails for dead and zombie processes.
starttime() {
  local s f
  { s=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
  s=${s##*) }
  read -r -a f <<<"$s"
  [ "${f[0]}" != Z ] || return 1
  printf '%s' "${f[19]}"
}

# Stop one server: the recorded PID (if it is ours) and all its descendants.
stop_one() {
  local name=$1 pidfile=$2 pid p deadline
  local -A st=()
  if ! pid=$(pid_of "$pidfile"); then rm -f "$pidfile"; return 1; fi
  if ! ours "$pid"; then rm -f "$pidfile"; return 1; fi
  for p in $pid $(descendants "$pid"); do st[$p]=$(starttime "$p" || true); done
  kill -TERM "${!st[@]}" 2>/dev/null || true
  deadline=$(( $(now_ms) + 5000 ))
  while :; do
    local alive=()
    for p in "${!st[@]}"; do
      [ -n "${st[$p]}" ] && [ "$(starttime "$p" || true)" = "${st[$p]}" ] && alive+=("$p")
    done
    [ "${#alive[@]}" -eq 0 ] && break
    if [ "$(now_ms)" -ge "$deadline" ]; then
      printf '%s: %s (pid %s) ignored SIGTERM for 5 s; sending SIGKILL to %s\n' "$ME" "$name" "$pid" "${alive[*]}" >&2
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.1
      break
    fi
    sleep 0.02
  done
  rm -f "$pidfile"
  return 0
}

# stop_server NAME: stop_one for the server, and for smbd also samba-dcerpcd:
# smbd 4.17 starts it on demand (e.g. for a share listing); it detaches from
# smbd (its parent becomes 1) and records its PID next to smbd.pid.
stop_server() {
  local pidf port log rc=1
  server_vars "$1"
  stop_one "$1" "$pidf" && rc=0
  if [ "$1" = smbd ]; then stop_one samba-dcerpcd "$SMB_DCERPCD_PID" && rc=0; fi
  return "$rc"
}

# --- one-time setup ------------------------------------------------------------

need_cmds() {
  local c missing=()
  for c in /usr/sbin/sshd ssh-keygen /usr/sbin/smbd smbpasswd testparm rclone openssl \
           useradd chpasswd getent ss pgrep flock setsid; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ "${#missing[@]}" -eq 0 ] || die "missing commands: ${missing[*]} (run: bash scripts/ci-deps.sh)"
}

fingerprint() {
  local sum
  sum=$(cksum <"${BASH_SOURCE[0]}")
  printf 'v1 user=%s uid=%s base=%s ports=%s,%s,%s script=%s\n' \
    "$TEST_USER" "$1" "$BASE" "$SSH_PORT" "$SMB_PORT" "$DAV_PORT" "${sum%% *}"
}

setup_needed() {
  local uid home f
  uid=$(id -u "$TEST_USER" 2>/dev/null) || return 0
  [ -f "$MARK" ] && [ "$(<"$MARK")" = "$(fingerprint "$uid")" ] || return 0
  home=$(user_home)
  for f in "$HOST_KEY" "$CLIENT_KEY" "$KNOWN_HOSTS" "$SSHD_CONF" "$SMB_CONF" "$HTPASSWD" \
           "$SSH_PASS_FILE" "$SMB_PASS_FILE" "$SMB_CREDS_FILE" "$DAV_PASS_FILE" "$PEER_PASS_FILE" \
           "$SMB_DIR/private/passdb.tdb" "$SMB_SHARE_DIR" "$SMB_SHARE2_DIR" "$SMB_TEAM_DIR" "$SMB_SEALED_DIR" \
           "$DAV_ROOT" \
           "$home/export" "$home/export2" "$home/.ssh/authorized_keys"; do
    [ -e "$f" ] || return 0
  done
  return 1
}

# write_file PATH MODE CONTENT: atomic write with the given mode.
write_file() {
  local tmp="$1.tmp.$$"
  (umask 077; printf '%s' "$3" >"$tmp")
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}

setup() {
  local out home uid pub hk
  install -d -m 0700 "$SEC" "$SMB_DIR/private"
  install -d -m 0755 "$SSHD_DIR" "$SMB_DIR" "$SMB_DIR"/{lock,state,cache,pid,ncalrpc} \
    "$DAV_DIR" "$DAV_ROOT" "$DAV_DIR/cache"

  # Password files (one line each) for clients: tests read these, not values.
  write_file "$SSH_PASS_FILE" 0600 "$SSH_PASS"$'\n'
  write_file "$SMB_PASS_FILE" 0600 "$SMB_PASS"$'\n'
  write_file "$DAV_PASS_FILE" 0600 "$DAV_PASS"$'\n'
  write_file "$PEER_PASS_FILE" 0600 "$PEER_PASS"$'\n'
  write_file "$SMB_CREDS_FILE" 0600 "username = $TEST_USER"$'\n'"password = $SMB_PASS"$'\n'"domain = $SMB_DOMAIN"$'\n'

  # The Unix test user (SFTP login and owner of the SMB shares).
  if ! id -u "$TEST_USER" >/dev/null 2>&1; then
    out=$(useradd -m -s /bin/bash -c "mpr test fixture" "$TEST_USER" 2>&1) \
      || die "useradd $TEST_USER failed: $out"
  fi
  out=$(printf '%s:%s\n' "$TEST_USER" "$SSH_PASS" | chpasswd 2>&1) || die "chpasswd failed: $out"
  home=$(user_home)
  uid=$(id -u "$TEST_USER")

  # SSH keys: our own host key and one client key, generated once.
  [ -s "$HOST_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C "mpr-test-host" -f "$HOST_KEY" </dev/null
  [ -s "$CLIENT_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C "mpr-test-client" -f "$CLIENT_KEY" </dev/null
  chmod 0600 "$HOST_KEY" "$CLIENT_KEY"
  install -d -o "$TEST_USER" -g "$TEST_USER" -m 0700 "$home/.ssh"
  # Append (never overwrite) so other keys of the user survive.
  pub=$(cut -d' ' -f1,2 "$CLIENT_KEY.pub")
  if ! grep -qsF "$pub" "$home/.ssh/authorized_keys"; then
    cat "$CLIENT_KEY.pub" >>"$home/.ssh/authorized_keys"
  fi
  chown "$TEST_USER:$TEST_USER" "$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
  install -d -o "$TEST_USER" -g "$TEST_USER" -m 0755 "$home/export" "$home/export2"
  if [ "$SSH_PORT" = 22 ]; then hk=$HOST; else hk="[$HOST]:$SSH_PORT"; fi
  write_file "$KNOWN_HOSTS" 0644 "$hk $(cut -d' ' -f1,2 "$HOST_KEY.pub")"$'\n'

  write_file "$SSHD_CONF" 0644 "# generated by scripts/test-servers.sh
Port $SSH_PORT
ListenAddress $HOST
HostKey $HOST_KEY
PidFile $SSHD_PID
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication yes
PermitEmptyPasswords no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $TEST_USER
# Skip the sntrup761 hybrid KEX (~55 ms of CPU per connection here).
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
# Parallel test connections.
MaxStartups 64:30:128
MaxSessions 64
AllowTcpForwarding no
AllowAgentForwarding no
AllowStreamLocalForwarding no
X11Forwarding no
PermitTunnel no
PrintMotd no
UseDNS no
Subsystem sftp internal-sftp
"
  install -d -m 0755 /run/sshd
  out=$(/usr/sbin/sshd -t -f "$SSHD_CONF" 2>&1) || die "sshd config test failed ($SSHD_CONF): $out"

  # Samba: the shares belong to the test user (smbd switches to its uid).
  install -d -o "$TEST_USER" -g "$TEST_USER" -m 0755 "$SMB_SHARE_DIR" "$SMB_SHARE2_DIR" \
    "$SMB_SEALED_DIR"
  # The second account (SMB only: no shell, no home) and the share both use.
  if ! id -u "$PEER_USER" >/dev/null 2>&1; then
    out=$(useradd -M -s /usr/sbin/nologin -c "mpr test fixture (second SMB user)" "$PEER_USER" 2>&1) \
      || die "useradd $PEER_USER failed: $out"
  fi
  install -d -o root -g root -m 1777 "$SMB_TEAM_DIR"
  write_file "$SMB_CONF" 0644 "# generated by scripts/test-servers.sh
[global]
   server role = standalone server
   workgroup = $SMB_DOMAIN
   netbios name = MPRTEST
   interfaces = $HOST
   bind interfaces only = yes
   smb ports = $SMB_PORT
   disable netbios = yes
   server min protocol = SMB2_10
   private dir = $SMB_DIR/private
   lock directory = $SMB_DIR/lock
   state directory = $SMB_DIR/state
   cache directory = $SMB_DIR/cache
   pid directory = $SMB_DIR/pid
   ncalrpc dir = $SMB_DIR/ncalrpc
   binddns dir = $SMB_DIR/private/bind-dns
   passdb backend = tdbsam:$SMB_DIR/private/passdb.tdb
   log file = $SMB_LOG
   max log size = 10000
   log level = 1
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
   map to guest = never
   restrict anonymous = 2
   usershare max shares = 0
[$SMB_SHARE]
   path = $SMB_SHARE_DIR
   read only = no
   valid users = $TEST_USER
   create mask = 0644
   directory mask = 0755
[$SMB_SHARE2]
   path = $SMB_SHARE2_DIR
   read only = no
   valid users = $TEST_USER
   create mask = 0644
   directory mask = 0755
[$SMB_TEAM]
   path = $SMB_TEAM_DIR
   read only = no
   valid users = $TEST_USER $PEER_USER
   create mask = 0644
   directory mask = 0755
[$SMB_SEALED]
   path = $SMB_SEALED_DIR
   read only = no
   valid users = $TEST_USER
   smb encrypt = required
   create mask = 0644
   directory mask = 0755
"
  out=$(testparm -s "$SMB_CONF" 2>&1 >/dev/null) || die "testparm rejected $SMB_CONF: $out"
  out=$(printf '%s\n%s\n' "$SMB_PASS" "$SMB_PASS" | smbpasswd -c "$SMB_CONF" -s -a "$TEST_USER" 2>&1) \
    || die "smbpasswd -a $TEST_USER failed: $out"
  out=$(printf '%s\n%s\n' "$PEER_PASS" "$PEER_PASS" | smbpasswd -c "$SMB_CONF" -s -a "$PEER_USER" 2>&1) \
    || die "smbpasswd -a $PEER_USER failed: $out"

  # WebDAV basic auth from an htpasswd file (apr1 MD5, which rclone 1.60
  # accepts); the password goes to openssl on stdin.
  out=$(printf '%s\n' "$DAV_PASS" | openssl passwd -apr1 -stdin) || die "openssl passwd failed"
  write_file "$HTPASSWD" 0600 "$DAV_USER:$out"$'\n'

  fingerprint "$uid" >"$MARK"
}

# --- start ---------------------------------------------------------------------

# launch NAME: start one server (returns at once; readiness is polled later).
launch() {
  local l pidf port log
  server_vars "$1"
  # Anything listening on that port, on any address (0.0.0.0 and [::] block
  # 127.0.0.1 too).
  l=$(ss -Hltnp "sport = :$port" 2>/dev/null | awk '{ print $4, $NF }')
  [ -z "$l" ] || die "cannot start $1: port $port is already taken by another process: ${l//$'\n'/; }"
  printf '=== %(%F %T)T %s: starting %s ===\n' -1 "$ME" "$1" >>"$log"
  case $1 in
    sshd)
      install -d -m 0755 /run/sshd # sshd refuses to run without it (tmpfs /run)
      # -E appends sshd's log to the file; early errors on stderr go there too.
      # shellcheck disable=SC2094
      /usr/sbin/sshd -f "$SSHD_CONF" -E "$SSHD_LOG" </dev/null >>"$SSHD_LOG" 2>&1 9>&- \
        || fail sshd "$SSHD_LOG" "sshd exited with status $?" ;;
    smbd)
      /usr/sbin/smbd -D -s "$SMB_CONF" </dev/null >>"$SMB_LOG" 2>&1 9>&- \
        || fail smbd "$SMB_LOG" "smbd exited with status $?" ;;
    webdav)
      # setsid: its own session, so a Ctrl-C or a test harness killing the
      # caller's process group does not take it down. Not a group leader here,
      # so setsid execs rclone directly and $! is rclone's PID.
      setsid rclone serve webdav "$DAV_ROOT" --config /dev/null \
        --addr "$HOST:$DAV_PORT" --htpasswd "$HTPASSWD" --realm mpr-test \
        --dir-cache-time 0s --poll-interval 0 --cache-dir "$DAV_DIR/cache" \
        </dev/null >>"$DAV_LOG" 2>&1 9>&- &
      echo "$!" >"$DAV_PID" ;;
  esac
}

fail() { # fail NAME LOG MESSAGE
  printf '%s: error: %s: %s; log: %s\n' "$ME" "$1" "$3" "$2" >&2
  if [ -s "$2" ]; then
    printf '%s: last lines of %s:\n' "$ME" "$2" >&2
    tail -n 8 "$2" | sed 's/^/    /' >&2
  fi
  exit 1
}

cmd_start() {
  local t0 names=(sshd smbd webdav) n pidf port log state=() todo=() deadline
  t0=$(now_ms)
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  need_cmds
  install -d -m 0755 "$BASE"
  exec 9>"$LOCK"
  flock -w 60 9 || die "another $ME holds $LOCK for 60 s"
  if setup_needed; then setup; fi

  for n in "${names[@]}"; do
    server_vars "$n"
    if is_up "$pidf" "$port"; then
      state+=("$n:already-running")
    else
      # A live process of ours that is not (or not yet) listening where it
      # should: stop it first so that we never run two.
      stop_server "$n" || true
      launch "$n"
      todo+=("$n")
      state+=("$n:started")
    fi
  done

  deadline=$(( $(now_ms) + WAIT_SECS * 1000 ))
  while [ "${#todo[@]}" -gt 0 ]; do
    local left=()
    for n in "${todo[@]}"; do
      server_vars "$n"
      if is_up "$pidf" "$port"; then continue; fi
      # Died already? (The pid file may lag a daemon's fork by a moment.)
      if [ "$WHY" != "no pid file" ] && [[ $WHY != *"not listening"* ]]; then
        sleep 0.2
        is_up "$pidf" "$port" || fail "$n" "$log" "it died before listening on $HOST:$port ($WHY)"
        continue
      fi
      left+=("$n")
    done
    todo=("${left[@]}")
    [ "${#todo[@]}" -eq 0 ] && break
    if [ "$(now_ms)" -ge "$deadline" ]; then
      server_vars "${todo[0]}"
      fail "${todo[0]}" "$log" "not listening on $HOST:$port after ${WAIT_SECS} s ($WHY)"
    fi
    sleep 0.02
  done

  cmd_env >"$BASE/env.tmp" && mv -f "$BASE/env.tmp" "$BASE/env"
  printf 'test servers up in %s ms (%s): sftp %s:%s, smb %s:%s, webdav %s:%s; base %s\n' \
    "$(( $(now_ms) - t0 ))" "${state[*]}" "$HOST" "$SSH_PORT" "$HOST" "$SMB_PORT" "$HOST" "$DAV_PORT" "$BASE"
}

# server_vars NAME: set pidf, port, log for one server.
server_vars() {
  case $1 in
    sshd) pidf=$SSHD_PID port=$SSH_PORT log=$SSHD_LOG ;;
    smbd) pidf=$SMB_PID port=$SMB_PORT log=$SMB_LOG ;;
    webdav) pidf=$DAV_PID port=$DAV_PORT log=$DAV_LOG ;;
  esac
}

# --- stop / status / env ---------------------------------------------------------

cmd_stop() {
  local n pidf port log stopped=()
  [ -d "$BASE" ] || { echo "test servers stopped (nothing was set up in $BASE)"; return 0; }
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  exec 9>"$LOCK"
  flock -w 60 9 || die "another $ME holds $LOCK for 60 s"
  for n in webdav smbd sshd; do
    if stop_server "$n"; then stopped+=("$n"); fi
  done
  if [ "${#stopped[@]}" -gt 0 ]; then
    echo "test servers stopped (${stopped[*]})"
  else
    echo "test servers stopped (none was running)"
  fi
}

cmd_status() {
  local n pidf port log rc=0
  for n in sshd smbd webdav; do
    server_vars "$n"
    if is_up "$pidf" "$port"; then
      printf '%-7s up    %s:%-5s %s\n' "$n" "$HOST" "$port" "$WHY"
    else
      printf '%-7s down  %s:%-5s %s; log %s\n' "$n" "$HOST" "$port" "$WHY" "$log"
      rc=1
    fi
  done
  return "$rc"
}

# kv KEY VALUE: print KEY=VALUE, single-quoted only when needed.
kv() {
  if [[ $2 =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
    printf '%s=%s\n' "$1" "$2"
  else
    printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
  fi
}

cmd_env() {
  local home
  home=$(user_home)
  kv MPR_TEST_SERVERS "$BASE"
  kv MPR_TEST_HOST "$HOST"
  kv MPR_TEST_SSH_PORT "$SSH_PORT"
  kv MPR_TEST_SSH_USER "$TEST_USER"
  kv MPR_TEST_SSH_KEY "$CLIENT_KEY"
  kv MPR_TEST_SSH_KNOWN_HOSTS "$KNOWN_HOSTS"
  kv MPR_TEST_SSH_HOME "$home"
  kv MPR_TEST_SSH_EXPORT "$home/export"
  kv MPR_TEST_SSH_EXPORT2 "$home/export2"
  kv MPR_TEST_SSH_PASSWORD_FILE "$SSH_PASS_FILE"
  kv MPR_TEST_SSH_LOG "$SSHD_LOG"
  kv MPR_TEST_SMB_PORT "$SMB_PORT"
  kv MPR_TEST_SMB_USER "$TEST_USER"
  kv MPR_TEST_SMB_DOMAIN "$SMB_DOMAIN"
  kv MPR_TEST_SMB_SHARE "$SMB_SHARE"
  kv MPR_TEST_SMB_SHARE_DIR "$SMB_SHARE_DIR"
  kv MPR_TEST_SMB_SHARE2 "$SMB_SHARE2"
  kv MPR_TEST_SMB_SHARE2_DIR "$SMB_SHARE2_DIR"
  kv MPR_TEST_SMB_PASSWORD_FILE "$SMB_PASS_FILE"
  kv MPR_TEST_SMB_CREDENTIALS_FILE "$SMB_CREDS_FILE"
  kv MPR_TEST_SMB_LOG "$SMB_LOG"
  kv MPR_TEST_SMB_TEAM "$SMB_TEAM"
  kv MPR_TEST_SMB_TEAM_DIR "$SMB_TEAM_DIR"
  kv MPR_TEST_SMB_SEALED "$SMB_SEALED"
  kv MPR_TEST_SMB_SEALED_DIR "$SMB_SEALED_DIR"
  kv MPR_TEST_PEER_USER "$PEER_USER"
  kv MPR_TEST_PEER_PASSWORD_FILE "$PEER_PASS_FILE"
  kv MPR_TEST_DAV_PORT "$DAV_PORT"
  kv MPR_TEST_DAV_URL "http://$HOST:$DAV_PORT/"
  kv MPR_TEST_DAV_USER "$DAV_USER"
  kv MPR_TEST_DAV_DIR "$DAV_ROOT"
  kv MPR_TEST_DAV_PASSWORD_FILE "$DAV_PASS_FILE"
  kv MPR_TEST_DAV_LOG "$DAV_LOG"
}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop >/dev/null; cmd_start ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
