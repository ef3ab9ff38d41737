# target-dir.sh: sourced by test.sh and demo.sh. The trust rules refuse a
# plugin below any group- or world-writable directory, sticky or not
# (docs/decisions.md), and the tests and the demo load plugins from Cargo's
# target directory. A clone below such a directory (say /tmp/x) builds into
# a private directory of the user's instead: CARGO_TARGET_DIR is exported.
mpr_below_writable() {
  local d
  d=$(cd "$1" && pwd -P)
  while :; do
    [ -n "$(find "$d" -maxdepth 0 -perm /022 2>/dev/null)" ] && return 0
    [ "$d" = / ] && return 1
    d=$(dirname "$d")
  done
}
if [ -z "${CARGO_TARGET_DIR:-}" ] && mpr_below_writable .; then
  export CARGO_TARGET_DIR="${HOME:?}/.cache/mpr-target"
  mkdir -p "$CARGO_TARGET_DIR"
  chmod 0755 "$CARGO_TARGET_DIR"
  echo "$(pwd -P) is below a group- or world-writable directory; building in $CARGO_TARGET_DIR" >&2
fi
