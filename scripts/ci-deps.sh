#!/bin/bash
# ci-deps.sh: install the Debian packages that mpr's tests and demo need.
#
# Usage: bash scripts/ci-deps.sh        (as root, on Debian 12)
#
# - Idempotent and quiet: prints nothing when all is well, and returns in a
#   few milliseconds when everything is already installed (one dpkg-query).
# - Runs `apt-get update` only when something is missing.
# - On failure: exits non-zero with a message naming what went wrong, plus the
#   tail of apt's output.
# - Also checks that /dev/fuse exists (mpr-fsd needs it). Set
#   MPR_CI_DEPS_ALLOW_NO_FUSE=1 to turn a missing /dev/fuse into a warning.
#
# Nothing here starts a service: Debian's policy-rc.d (exit 101) on these
# machines blocks that, and the tests run private servers through
# scripts/test-servers.sh instead.
set -euo pipefail

# One package per line, with the reason it is needed.
PACKAGES=(
  openssh-server # sshd: the private SFTP server of scripts/test-servers.sh
  openssh-client # ssh (mpr-fsd speaks SFTP over `ssh -s sftp`), ssh-keygen for the test host and client keys
  fuse3          # fusermount3 (mpr-fsd mounts and unmounts through it), /etc/fuse.conf
  samba          # smbd, smbpasswd, pdbedit, testparm: the private SMB server
  smbclient      # smbclient: run by no script; for checking the SMB server by hand (smbclient -L)
  rclone         # `rclone serve webdav`: the tests' WebDAV server (mpr's own mpr-fsd is the client)
  openssl        # `openssl passwd -apr1 -stdin`: the WebDAV htpasswd entry without argv secrets
  passwd         # useradd/chpasswd for the `mprtest` test user (normally already present)
  valgrind       # memory checks of the C provider ABI tests
  gcc            # builds the C test providers (tests/c) and C-using crates
  g++            # C++ ABI test harnesses
  make           # builds tests/c
  pkg-config     # lets -sys crates find system libraries
  iproute2       # ss: test-servers.sh checks listening ports and their owners; ip: the agent test
  procps         # pgrep/ps/kill: finding sshd session children, process checks
  psmisc         # fuser: finding what keeps a mountpoint busy
  util-linux     # flock, setsid, mountpoint, unshare, nsenter (essential; listed for completeness)
  systemd        # systemd-journald and journalctl: the system journal sink's tests (scripts/test-journald.sh)
  dpkg-dev       # dpkg-architecture, dpkg-shlibdeps, dpkg-buildflags: building the .deb (scripts/check-deb.sh)
  lintian        # checks the .deb against Debian policy (scripts/check-deb.sh)
  fio            # fio --verify=crc32c on mpr's own SMB mount (crates/mpr-smb/tests/mount.rs)
  gnome-keyring  # gnome-keyring-daemon: the real Secret Service of the saved-credential tests (scripts/test-keyring.sh)
  dbus-daemon    # dbus-run-session: the private session bus the test keyring runs on
  dbus-bin       # dbus-send: test-keyring.sh waits until the keyring owns org.freedesktop.secrets
  libsecret-tools # secret-tool: the credential tests read the keyring as another client would
  acl            # setfacl: the unprivileged test run's account may change files in the servers' directories
)

say() { printf 'ci-deps.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it calls apt-get install); current uid is $(id -u)"
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  die "dpkg-query/apt-get not found: this script supports Debian (12) only"
fi

# Every package name without its trailing comment.
names=()
for p in "${PACKAGES[@]}"; do names+=("${p%% *}"); done

# Which packages are not fully installed? One dpkg-query for all of them.
# Unknown packages print nothing on stdout (an error on stderr), so they count
# as missing too.
missing() {
  local status line
  declare -A ok=()
  status=$(dpkg-query -W -f='${Package} ${Status}\n' "${names[@]}" 2>/dev/null || true)
  while IFS= read -r line; do
    [[ $line == *" install ok installed" ]] && ok[${line%% *}]=1
  done <<<"$status"
  local n
  for n in "${names[@]}"; do [ -n "${ok[$n]:-}" ] || printf '%s\n' "$n"; done
}

mapfile -t todo < <(missing)

if [ "${#todo[@]}" -gt 0 ]; then
  log=$(mktemp "${TMPDIR:-/tmp}/ci-deps.XXXXXX.log")
  trap 'rm -f "$log"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=120)
  if ! apt-get "${apt_opts[@]}" update >"$log" 2>&1; then
    say "apt-get update failed (needed to install: ${todo[*]}); last lines:"
    tail -n 20 "$log" >&2
    exit 1
  fi
  if ! apt-get "${apt_opts[@]}" install -y --no-install-recommends "${todo[@]}" >"$log" 2>&1; then
    say "apt-get install failed for: ${todo[*]}; last lines:"
    tail -n 30 "$log" >&2
    exit 1
  fi
  mapfile -t still < <(missing)
  [ "${#still[@]}" -eq 0 ] || die "still not installed after apt-get install: ${still[*]}"
fi

# The commands the scripts call, by absolute path where the daemons need it.
for c in /usr/sbin/sshd ssh ssh-keygen fusermount3 /usr/sbin/smbd smbpasswd smbclient \
         rclone openssl useradd chpasswd ss pgrep flock setsid \
         /lib/systemd/systemd-journald journalctl fio setfacl runuser; do
  command -v "$c" >/dev/null 2>&1 || die "command '$c' is missing although its package is installed"
done

# FUSE: the device must exist. As root, 0600 root:root is enough (it is so on
# these machines); non-root use would need 0666 (see docs/test-servers.md).
if [ ! -c /dev/fuse ]; then
  # A container without the node but with the fuse module: try to create it.
  { modprobe fuse || true; } >/dev/null 2>&1
  [ -c /dev/fuse ] || mknod -m 0600 /dev/fuse c 10 229 >/dev/null 2>&1 || true
fi
if [ ! -c /dev/fuse ]; then
  msg="/dev/fuse does not exist and could not be created (no FUSE in this kernel/container): mpr-fsd cannot work"
  if [ "${MPR_CI_DEPS_ALLOW_NO_FUSE:-0}" = 1 ]; then say "warning: $msg"; else die "$msg"; fi
elif [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
  die "/dev/fuse exists but is not readable and writable by uid $(id -u)"
fi
exit 0
