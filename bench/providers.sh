#!/usr/bin/env bash
# providers.sh: the cost of going through mpr, per built-in provider.
#
# Times `mpr use` + `mpr use --delete` against the protocol's own client or
# the same FUSE helper by hand (OpenSSH's `sftp` connecting and leaving, with
# a fresh ssh each time, while mpr reuses its control master after the first
# run; rclone mount + fusermount3 -u), in
# alternating runs, and prints the medians and their ratio (target <= 1.05);
# and a bare UNC name that ends at SMB against `--provider smb` (target
# ratio <= 1.1), both as a server resolved lately (the prefix cache) and
# as one seen for the first time (the providers' checks run at once).
#
# Usage: bash bench/providers.sh [RUNS]      (default 15; as root)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-15}
cargo build --quiet --release --bin mpr --bin mpr-fsd --bin mpr-askpass
MPR=${CARGO_TARGET_DIR:-$(pwd)/target}/release/mpr
bash scripts/test-servers.sh start >/dev/null
eval "$(bash scripts/test-servers.sh env | sed 's/^/export /')"

B=$(pwd)/target/bench-providers
rm -rf "$B"; install -d -m 755 "$B" "$B/etc" "$B/state" "$B/drives" "$B/raw"
# The runtime directory is tmpfs on a real system ($XDG_RUNTIME_DIR is
# /run/user/UID), where the live table's fsyncs cost nothing; so here too.
RUN=/dev/shm/mpr-bench-$$; install -d -m 700 "$RUN"; trap 'rm -rf "$RUN"' EXIT
cat > "$B/ssh_config" <<SSH
Host 127.0.0.1
  User $MPR_TEST_SSH_USER
  IdentityFile $MPR_TEST_SSH_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $MPR_TEST_SSH_KNOWN_HOSTS
  StrictHostKeyChecking yes
SSH
printf '[providers]\norder = ["sftp", "smb", "webdav"]\n[providers.sftp]\nssh_config = "%s"\n' "$B/ssh_config" > "$B/etc/mpr.toml"
export MPR_CONFIG_DIR="$B/etc" MPR_STATE_DIR="$B/state" MPR_RUNTIME_DIR="$RUN" MPR_DRIVES_DIR="$B/drives"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

mpr_sftp() { "$MPR" use Z: "sftp://127.0.0.1:$MPR_TEST_SSH_PORT$MPR_TEST_SSH_EXPORT" --provider sftp >/dev/null && "$MPR" use Z: --delete >/dev/null; }
raw_sftp() {
  sftp -q -b /dev/null -F "$B/ssh_config" -P "$MPR_TEST_SSH_PORT" -o BatchMode=yes \
    "127.0.0.1:$MPR_TEST_SSH_EXPORT" >/dev/null
}
mpr_dav() {
  "$MPR" use X: "dav://127.0.0.1:$MPR_TEST_DAV_PORT/" --user "$MPR_TEST_DAV_USER" --password-stdin < "$MPR_TEST_DAV_PASSWORD_FILE" >/dev/null \
    && "$MPR" use X: --delete >/dev/null
}
raw_dav() {
  # By hand the password has to be put in rclone's obscured form too, in a
  # private config file (never in rclone's environment or argv).
  (umask 077 && printf '[raw]\ntype = webdav\nurl = %s\nvendor = other\nuser = %s\npass = %s\n' \
    "http://127.0.0.1:$MPR_TEST_DAV_PORT/" "$MPR_TEST_DAV_USER" \
    "$(rclone --config /dev/null obscure - < "$MPR_TEST_DAV_PASSWORD_FILE")" > "$RUN/rclone.conf")
  rclone --config "$RUN/rclone.conf" mount raw: "$B/raw" --daemon --dir-cache-time 1s && fusermount3 -u "$B/raw"
}

# A bare UNC name that ends at SMB (every provider's check runs at once)
# against naming the provider: target ratio <= 1.1.
smb_bare() {
  "$MPR" use S: "\\\\127.0.0.1@$MPR_TEST_SMB_PORT\\share" --user "$MPR_TEST_SMB_USER" --password-stdin \
    < "$MPR_TEST_SMB_PASSWORD_FILE" >/dev/null && "$MPR" use S: --delete >/dev/null
}
smb_named() {
  "$MPR" use S: "\\\\127.0.0.1@$MPR_TEST_SMB_PORT\\share" --provider smb --user "$MPR_TEST_SMB_USER" \
    --password-stdin < "$MPR_TEST_SMB_PASSWORD_FILE" >/dev/null && "$MPR" use S: --delete >/dev/null
}

# The same with the prefix cache emptied first (a server not resolved in
# the last 10 minutes); `: >` is a builtin, so nothing is forked for it.
smb_bare_first() { : > "$RUN/prefixes.toml"; smb_bare; }

bench() { # name mpr-fn raw-fn
  local m=() r=() t
  "$2"; "$3"  # warm up
  for _ in $(seq "$RUNS"); do
    t=$(now); "$2"; m+=($(( $(now) - t )))
    t=$(now); "$3"; r+=($(( $(now) - t )))
  done
  local mm rm
  mm=$(printf '%s\n' "${m[@]}" | median); rm=$(printf '%s\n' "${r[@]}" | median)
  awk -v n="$1" -v m="$mm" -v r="$rm" -v k="$RUNS" \
    'BEGIN { printf "%-8s runs=%-3d mpr %7.1f ms   by hand %7.1f ms   ratio %.3f\n", n, k, m/1e6, r/1e6, m/r }'
}

echo "median of $RUNS alternating runs, connect + disconnect, $(nproc) cores"
bench sftp mpr_sftp raw_sftp
bench webdav mpr_dav raw_dav
echo "a bare \\\\host@port\\share to SMB against --provider smb (the second column is --provider smb),"
echo "resolved lately (from the prefix cache), then for the first time (the checks run):"
bench smb-bare smb_bare smb_named
bench smb-1st smb_bare_first smb_named
