#!/usr/bin/env bash
# Builds a release archive: scripts/release.sh TAG [TARGET]
#
# Writes $DIST_DIR/isartor-TAG-TARGET.tar.gz (default DIST_DIR: dist/) holding, at its root, the
# binary, README.md, LICENSE, the shell completions and the man page, in the layout install.sh
# and `isartor update` read; and adds the archive's line to $DIST_DIR/SHA256SUMS (replacing an
# older line for the same archive). TAG must be v<the version in Cargo.toml>. TARGET defaults to
# this machine's (only the host's can be built here; the release workflow runs this per target).
# ISARTOR_RELEASE_PROFILE picks the cargo profile (default: release; the tests use dev).
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "release: $*" >&2; exit 1; }

tag="${1:-}"
[ -n "$tag" ] || fail "usage: scripts/release.sh TAG [TARGET], e.g. scripts/release.sh v0.1.0"
host="$(rustc -vV | sed -n 's/^host: //p')"
target="${2:-$host}"
profile="${ISARTOR_RELEASE_PROFILE:-release}"
dist="${DIST_DIR:-dist}"

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
[ "$tag" = "v$version" ] || fail "tag $tag does not match the version in Cargo.toml ($version): bump it first"

args=(build --locked --bin isartor --profile "$profile")
[ "$target" = "$host" ] || args+=(--target "$target")
cargo "${args[@]}"
out="${CARGO_TARGET_DIR:-target}"
[ "$target" = "$host" ] || out="$out/$target"
case "$profile" in dev) dir=debug ;; *) dir="$profile" ;; esac
bin="$out/$dir/isartor"
[ -x "$bin" ] || fail "no binary at $bin"
# Cross-built binaries cannot run here; a host build must say the version it was tagged with.
if [ "$target" = "$host" ]; then
  said="$("$bin" --version)"
  case "$said" in "isartor $version "*) ;; *) fail "the binary says \"$said\", not isartor $version" ;; esac
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/isartor"
cp README.md LICENSE "$stage/"
mkdir -p "$stage/completions" "$stage/man"
cp completions/* "$stage/completions/"
cp man/isartor.1 "$stage/man/"
mkdir -p "$dist"
archive="isartor-$tag-$target.tar.gz"
# Members are named without a leading ./: install.sh extracts `isartor` by that name.
(cd "$stage" && tar -czf - isartor README.md LICENSE completions man) > "$dist/$archive"
sum="$(cd "$dist" && sha256sum "$archive")"
touch "$dist/SHA256SUMS"
{ grep -v "  $archive\$" "$dist/SHA256SUMS" || true; echo "$sum"; } > "$dist/SHA256SUMS.new"
mv "$dist/SHA256SUMS.new" "$dist/SHA256SUMS"
echo "$dist/$archive"
