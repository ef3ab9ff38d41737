#!/usr/bin/env bash
# build-deb.sh: builds the Debian package of mpr with `cargo deb`:
# target/debian/mpr_<version>-1_<arch>.deb, the version from the workspace's
# Cargo.toml. docs/packaging.md describes the package.
#
# Usage: bash dist/debian/build-deb.sh      (on Debian, with a Rust toolchain;
#        root is not needed. Prints the path of the package.)
#
# 1. installs cargo-deb from crates.io when it is missing;
# 2. builds mpr, mpr-notifyee-host, libmpr.so and the SDK's sample notifyees
#    in release mode, with /usr/libexec/mpr compiled in as the directory of
#    mpr-notifyee-host (MPR_INSTALL_LIBEXEC_DIR, as `make install` does);
# 3. stages in target/release/debian-stage/ what the metadata in
#    crates/mpr-cli/Cargo.toml ([package.metadata.deb]) takes from there:
#    libmpr in the multiarch directory with its links, mpr.pc, the shell
#    completions (`mpr generate`, so they always match the binary), the
#    systemd user unit with /usr/bin/mpr, the C audit sample, the changelog;
# 4. runs `cargo deb --no-build --strip`;
# 5. adds the shlibs control file of libmpr (see there).
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf 'build-deb.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

for c in cargo cc dpkg-architecture dpkg-buildflags dpkg-shlibdeps objdump strip gzip; do
  command -v "$c" >/dev/null 2>&1 || die "'$c' is missing (apt-get install gcc binutils dpkg-dev)"
done
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked --quiet cargo-deb

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || die "no version in the workspace's Cargo.toml"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
target=${CARGO_TARGET_DIR:-target}
release=$target/release
stage=$release/debian-stage

# 2. The programs and libraries.
export MPR_INSTALL_LIBEXEC_DIR=/usr/libexec/mpr
cargo build --release --locked --quiet -p mpr-cli -p mpr-capi
cargo build --release --locked --quiet -p mpr-sdk --example mpr_policy --example mpr_autodial
for f in "$release/mpr" "$release/libmpr.so"; do
  grep -q "$MPR_INSTALL_LIBEXEC_DIR" "$f" ||
    die "$f does not name $MPR_INSTALL_LIBEXEC_DIR (MPR_INSTALL_LIBEXEC_DIR did not reach the build)"
done

# 3. The staged files.
rm -rf "$stage"
install -d "$stage/lib/$multiarch/pkgconfig" "$stage/completions"

soname=$(objdump -p "$release/libmpr.so" | awk '$1 == "SONAME" { print $2 }')
[ -n "$soname" ] || die "$release/libmpr.so has no SONAME (crates/mpr-capi/build.rs sets it)"
# Stripped as dh_strip does (cargo-deb strips only what ends in .so).
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  -o "$stage/lib/$multiarch/libmpr.so.$version" "$release/libmpr.so"
ln -s "libmpr.so.$version" "$stage/lib/$multiarch/$soname"
ln -s "$soname" "$stage/lib/$multiarch/libmpr.so"

sed -e 's|@PREFIX@|/usr|g' -e "s|@LIBDIR@|/usr/lib/$multiarch|g" \
    -e 's|@INCLUDEDIR@|/usr/include|g' -e "s|@VERSION@|$version|g" \
    mpr.pc.in > "$stage/lib/$multiarch/pkgconfig/mpr.pc"

"$release/mpr" generate bash > "$stage/completions/mpr"
"$release/mpr" generate zsh > "$stage/completions/_mpr"
"$release/mpr" generate fish > "$stage/completions/mpr.fish"

sed 's|/usr/local/bin/mpr|/usr/bin/mpr|g' dist/mpr-agent.service > "$stage/mpr-agent.service"
grep -q '^ExecStart=/usr/bin/mpr ' "$stage/mpr-agent.service" ||
  die "dist/mpr-agent.service: no ExecStart=/usr/local/bin/mpr to point at /usr/bin/mpr"

# The C sample, with Debian's hardening flags (what a package build uses).
# shellcheck disable=SC2046
cc $(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get LDFLAGS) \
  -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include \
  -o "$stage/libmpr_audit.so" samples/notifyees/audit.c

# Debian wants a changelog in every package; this one says where the package
# came from. The date is the commit's, so that a rebuild is identical.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
{
  printf 'mpr (%s-1) unstable; urgency=medium\n\n' "$version"
  printf '  * Built from the mpr repository at commit %s.\n\n' "$commit"
  printf ' -- mpr maintainers <mpr@example.invalid>  %s\n' "$date"
} | gzip -9n > "$stage/changelog.Debian.gz"

# 4. The package.
out=$(cargo deb --no-build --strip --locked -p mpr-cli 2>"$stage.log") || {
  say "cargo deb failed:"; cat "$stage.log" >&2; exit 1
}
# cargo-deb's warnings are worth seeing; its progress lines are not.
grep -i 'warning' "$stage.log" >&2 || true
deb=$(printf '%s\n' "$out" | tail -n 1)
[ -f "$deb" ] || die "cargo deb did not say where the package is (it printed: $out)"

# 5. The shlibs control file, which cargo-deb cannot write: it tells
# dpkg-shlibdeps what a program linked against libmpr.so.0 depends on
# (Debian policy 8.6; lintian's no-shlibs). dpkg-deb puts the package
# back together with the same files.
raw=$release/debian-raw
rm -rf "$raw"
dpkg-deb --raw-extract "$deb" "$raw"
printf 'libmpr %s mpr (>= %s)\n' "${soname#libmpr.so.}" "$version" > "$raw/DEBIAN/shlibs"
chmod 0644 "$raw/DEBIAN/shlibs"
dpkg-deb --root-owner-group -Zxz --build "$raw" "$deb" >/dev/null
rm -rf "$raw"
printf '%s\n' "$deb"
