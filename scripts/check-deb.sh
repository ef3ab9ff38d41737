#!/usr/bin/env bash
# check-deb.sh: builds the Debian package, checks it with lintian, installs
# it with apt, uses the installed mpr and libmpr as an administrator and a C
# programmer would, then purges it and checks that nothing is left.
#
# Usage: bash scripts/check-deb.sh      (as root, on Debian 12, with the
#        loopback test servers running: bash scripts/test-servers.sh start)
#
# 1. bash dist/debian/build-deb.sh, then `lintian --fail-on error`;
# 2. apt-get install ./target/debian/mpr_*.deb (refused when an mpr is
#    already installed: this script removes only the package it installed);
# 3. the files are where docs/packaging.md says, and the shipped
#    /etc/mpr/mpr.toml configures the defaults;
# 4. with private configuration, state, runtime and drive directories: the
#    sample audit notifyee from /usr/lib/mpr/notifyees/ is registered with
#    `mpr notifyee add` under process isolation (so mpr must find
#    /usr/libexec/mpr/mpr-notifyee-host), /usr/bin/mpr connects A: to the
#    loopback SFTP server, a C program built with `pkg-config mpr` against
#    the installed libmpr sees the connection, mpr deletes it, and the
#    notifyee saw all four events;
# 5. apt-get purge mpr, after which no file of the package exists and
#    /etc/mpr is gone. The purge also runs when a step fails (a trap).
#
# Quiet on success (one line); on failure, a message naming the step.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'check-deb.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs and purges the package)"
command -v lintian >/dev/null 2>&1 || die "lintian is missing (bash scripts/ci-deps.sh installs it)"

# One run at a time on this machine: the package is installed system-wide.
lock=/run/lock/mpr-check-deb.lock
[ -d /run/lock ] || lock=/tmp/mpr-check-deb.lock
exec 9>"$lock"
flock -w 900 9 || die "another check-deb.sh has held $lock for 15 minutes"

T=$(mktemp -d /tmp/mpr-check-deb.XXXXXX)
installed=0
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=120)

# The private world of the smoke test, and the command that runs in it
# (without the lock's descriptor, which a mount helper would keep open).
H=$T/home
inworld() {
  env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME="$H" \
    MPR_CONFIG_DIR="$T/etc" MPR_STATE_DIR="$T/state" MPR_RUNTIME_DIR="$T/run" \
    MPR_DRIVES_DIR="$T/drives" XDG_CONFIG_HOME="$T/xdg" MPR_AUDIT_FILE="$T/audit.log" "$@" 9>&-
}

cleanup() {
  local rc=$?
  if [ "$installed" = 1 ]; then
    # A failed step may have left A: connected: disconnect it before the
    # package goes, and unmount whatever is still mounted in our world.
    inworld /usr/bin/mpr use A: --delete --force >/dev/null 2>&1 || true
    if [ -r /proc/self/mountinfo ]; then
      awk -v d="$T/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do fusermount3 -uz "$m" >/dev/null 2>&1 || umount -l "$m" >/dev/null 2>&1 || true; done
    fi
    if ! apt-get "${apt_opts[@]}" purge mpr >"$T/purge.log" 2>&1; then
      say "apt-get purge mpr failed; remove it by hand (apt-get purge mpr):"
      tail -n 20 "$T/purge.log" >&2
      rc=1
    fi
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT

# 1. Build and lint.
deb=$(bash dist/debian/build-deb.sh) || die "building the package failed (bash dist/debian/build-deb.sh)"
if ! lintian --fail-on error "$deb" >"$T/lintian.log" 2>&1; then
  say "lintian found errors in $deb:"
  grep -v 'running with root privileges' "$T/lintian.log" >&2
  exit 1
fi

# 2. Install: only where no mpr is installed, so that the purge at the end
# removes nothing this script did not put there.
if dpkg-query -W -f='${Status}' mpr 2>/dev/null | grep -q 'installed'; then
  die "a package named mpr is already installed; remove it first (apt-get purge mpr)"
fi
for f in /usr/bin/mpr /etc/mpr/mpr.toml; do
  [ ! -e "$f" ] || die "$f exists outside any package (make install PREFIX=/usr?); remove it first"
done
installed=1
if ! apt-get "${apt_opts[@]}" install --no-install-recommends "$(realpath "$deb")" >"$T/install.log" 2>&1; then
  say "apt-get install $deb failed:"
  tail -n 30 "$T/install.log" >&2
  exit 1
fi
dpkg -L mpr >"$T/files"

# 3. The layout.
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
for f in /usr/bin/mpr /usr/libexec/mpr/mpr-notifyee-host /usr/libexec/mpr/mpr-fsd /usr/libexec/mpr/mpr-askpass \
         "/usr/lib/$ma/libmpr.so.$version" "/usr/lib/$ma/libmpr.so.0" "/usr/lib/$ma/libmpr.so" \
         /usr/include/mpr/winnetwk.h /usr/include/mpr/npapi.h "/usr/lib/$ma/pkgconfig/mpr.pc" \
         /usr/share/man/man1/mpr.1.gz /usr/share/bash-completion/completions/mpr \
         /usr/share/zsh/vendor-completions/_mpr /usr/share/fish/vendor_completions.d/mpr.fish \
         /usr/lib/systemd/user/mpr-agent.service /etc/mpr/mpr.toml \
         /usr/lib/mpr/notifyees/libmpr_audit.so /usr/lib/mpr/notifyees/libmpr_policy.so \
         /usr/lib/mpr/notifyees/libmpr_autodial.so /usr/share/doc/mpr/copyright; do
  grep -qxF "$f" "$T/files" && [ -e "$f" ] || die "the installed package has no $f"
done
[ "$(readlink "/usr/lib/$ma/libmpr.so")" = libmpr.so.0 ] || die "/usr/lib/$ma/libmpr.so does not point at libmpr.so.0"
objdump -p "/usr/lib/$ma/libmpr.so.0" | grep -q 'SONAME *libmpr\.so\.0$' || die "the installed libmpr has no SONAME libmpr.so.0"
grep -qx 'ExecStart=/usr/bin/mpr agent' /usr/lib/systemd/user/mpr-agent.service ||
  die "mpr-agent.service does not run /usr/bin/mpr agent"
dpkg-query -W -f='${Conffiles}' mpr | grep -q '^ /etc/mpr/mpr.toml ' || die "/etc/mpr/mpr.toml is not a conffile"
got=$(/usr/bin/mpr --version)
[ "$got" = "mpr $version" ] || die "/usr/bin/mpr --version says '$got', not 'mpr $version'"
# The shipped configuration (every option commented out) is the built-in one.
env -i PATH=/usr/bin:/bin HOME="$T" MPR_STATE_DIR="$T/s0" MPR_RUNTIME_DIR="$T/r0" \
  /usr/bin/mpr provider list --json >"$T/providers.json" ||
  die "mpr provider list with the installed /etc/mpr/mpr.toml failed: $(cat "$T/providers.json")"
grep -q '"key":"sftp"' "$T/providers.json" || die "the installed /etc/mpr/mpr.toml hides the built-in providers"

# 4. The smoke test, in a private world with the loopback SFTP server.
eval "$(bash scripts/test-servers.sh env)"
[ -r "$MPR_TEST_SSH_KEY" ] || die "the test servers are not set up (bash scripts/test-servers.sh start)"
install -d -m 0700 "$H" "$T/etc" "$T/state" "$T/run" "$T/drives" "$T/xdg"
cp /etc/mpr/mpr.toml "$T/etc/mpr.toml"
cat >"$T/ssh_config" <<EOF
Host $MPR_TEST_HOST
  User $MPR_TEST_SSH_USER
  IdentityFile $MPR_TEST_SSH_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $MPR_TEST_SSH_KNOWN_HOSTS
  StrictHostKeyChecking yes
EOF
printf '\n[providers.sftp]\nssh_config = "%s"\nconnect_timeout = 20\n' "$T/ssh_config" >>"$T/etc/mpr.toml"
inworld /usr/bin/mpr notifyee add audit /usr/lib/mpr/notifyees/libmpr_audit.so --isolation process >"$T/out" 2>&1 ||
  die "mpr notifyee add audit /usr/lib/mpr/notifyees/libmpr_audit.so failed: $(cat "$T/out")"

unc="\\\\$MPR_TEST_HOST@$MPR_TEST_SSH_PORT\\export"
inworld /usr/bin/mpr use A: "$unc" --json >"$T/out" 2>&1 || die "/usr/bin/mpr use A: $unc failed: $(cat "$T/out")"
ls "$T/drives/A" >/dev/null || die "A: is connected but $T/drives/A cannot be listed"

cat >"$T/prog.c" <<'C'
#include <winnetwk.h>
#include <stdio.h>

/* The connection that /usr/bin/mpr made, seen through the installed libmpr. */
int main(void) {
    char remote[256];
    DWORD size = sizeof remote;
    DWORD rc = WNetGetConnectionA("A:", remote, &size);
    if (rc != WN_SUCCESS) {
        fprintf(stderr, "WNetGetConnectionA(A:) = %u\n", (unsigned)rc);
        return 1;
    }
    puts(remote);
    return 0;
}
C
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror "$T/prog.c" $(pkg-config --cflags --libs mpr) -o "$T/prog" 2>"$T/cc.log" ||
  die "cc prog.c \$(pkg-config --cflags --libs mpr) failed: $(cat "$T/cc.log")"
got=$(inworld "$T/prog" 2>&1) || die "a C program against the installed libmpr failed: $got"
[ "$got" = "$unc" ] || die "the C program sees A: as '$got', not '$unc'"

inworld /usr/bin/mpr use A: --delete --json >"$T/out" 2>&1 || die "/usr/bin/mpr use A: --delete failed: $(cat "$T/out")"
[ -r "$T/audit.log" ] || die "the audit notifyee wrote nothing (no $T/audit.log)"
n=0
for want in 'add pre local=A:' 'add post.*status=0' 'cancel pre local=A:' 'cancel post.*status=0'; do
  grep -q "mpr-audit: $want" "$T/audit.log" || die "the audit notifyee did not record '$want':
$(cat "$T/audit.log")"
  n=$((n + 1))
done

# 5. Purge, and nothing is left.
installed=0
if ! apt-get "${apt_opts[@]}" purge mpr >"$T/purge.log" 2>&1; then
  say "apt-get purge mpr failed:"
  tail -n 20 "$T/purge.log" >&2
  exit 1
fi
left=()
while IFS= read -r f; do
  [ "$f" = /. ] && continue
  [ -e "$f" ] || [ -L "$f" ] || continue
  # A directory may stay only when another package owns it too.
  if [ -d "$f" ] && [ ! -L "$f" ] && dpkg-query -S "$f" >/dev/null 2>&1; then
    continue
  fi
  left+=("$f")
done <"$T/files"
[ "${#left[@]}" -eq 0 ] || die "after apt-get purge mpr these are still there: ${left[*]}"
[ ! -e /etc/mpr ] || die "apt-get purge mpr left /etc/mpr"
echo "deb check: the package builds, passes lintian, installs, connects with the audit notifyee ($n events), serves a C program, and purges cleanly"
