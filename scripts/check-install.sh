#!/usr/bin/env bash
# check-install.sh: `make install` into a scratch prefix, then build and run
# a C program with `cc prog.c $(pkg-config --cflags --libs mpr)`, as the
# README promises a C programmer.
#
# Usage: bash scripts/check-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
P=$(mktemp -d /tmp/mpr-install.XXXXXX)
trap 'rm -rf "$P"' EXIT
make -s install PREFIX="$P" CARGO="cargo --quiet" >/dev/null
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
cat > "$P/prog.c" <<'C'
#include <winnetwk.h>
#include <stdio.h>

int main(void) {
    WCHAR remote[64];
    DWORD size = 64;
    DWORD rc = WNetGetConnectionW(u"Q:", remote, &size);
    printf("WNetGetConnectionW(Q:) = %u\n", (unsigned)rc);
    return rc == WN_NOT_CONNECTED ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror "$P/prog.c" $(pkg-config --cflags --libs mpr) -Wl,-rpath,"$P/lib" -o "$P/prog"
install -d -m 700 "$P/run"
HOME="$P" MPR_CONFIG_DIR="$P/etc" MPR_STATE_DIR="$P/state" MPR_RUNTIME_DIR="$P/run" "$P/prog" >/dev/null
"$P/bin/mpr" --version >/dev/null
test -x "$P/libexec/mpr/mpr-notifyee-host"
test -x "$P/libexec/mpr/mpr-fsd"
test -x "$P/libexec/mpr/mpr-askpass"
# The agent's user unit, starting the mpr just installed.
unit="$P/lib/systemd/user/mpr-agent.service"
grep -qx "ExecStart=$P/bin/mpr agent" "$unit" \
  || { echo "install check: $unit does not start $P/bin/mpr agent" >&2; exit 1; }
make -s uninstall PREFIX="$P" >/dev/null
for f in bin/mpr lib/libmpr.so lib/systemd/user/mpr-agent.service libexec/mpr/mpr-fsd; do
  [ ! -e "$P/$f" ] || { echo "install check: make uninstall left $P/$f" >&2; exit 1; }
done
echo "install check: make install, pkg-config, a C program against libmpr.so, the agent unit and make uninstall work"
