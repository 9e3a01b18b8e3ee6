#!/bin/sh
# Installs the isartor binary from this project's GitHub releases.
#
#   curl -fsSL https://raw.githubusercontent.com/isartor-dev/isartor/main/install.sh | sh
#
# It detects the OS and CPU, downloads isartor-<tag>-<target>.tar.gz and the release's SHA256SUMS,
# checks the archive's sha256, and puts the binary in ~/.local/bin (never uses sudo).
#
# Environment:
#   ISARTOR_INSTALL_DIR   where to put the binary (default: ~/.local/bin)
#   ISARTOR_VERSION       a release tag such as v0.2.0 (default: the latest release)
#   ISARTOR_REPO          owner/name on GitHub (default: isartor-dev/isartor)
#   ISARTOR_DOWNLOAD_BASE base URL of release downloads, for mirrors
#                         (default: https://github.com/$ISARTOR_REPO/releases/download)
#   ISARTOR_API_BASE      base URL of the release API, for mirrors (default: https://api.github.com)
set -eu

repo="${ISARTOR_REPO:-isartor-dev/isartor}"
install_dir="${ISARTOR_INSTALL_DIR:-$HOME/.local/bin}"
download_base="${ISARTOR_DOWNLOAD_BASE:-https://github.com/$repo/releases/download}"
api_base="${ISARTOR_API_BASE:-https://api.github.com}"

say() { printf 'isartor install: %s\n' "$*"; }
fail() { printf 'isartor install: %s\n' "$*" >&2; exit 1; }

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "needs curl or wget"
  fi
}

case "$(uname -s)" in
  Linux) os=unknown-linux-gnu ;;
  Darwin) os=apple-darwin ;;
  *) fail "no release for $(uname -s); build from source with cargo (see README.md)" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) fail "no release for the $(uname -m) CPU; build from source with cargo (see README.md)" ;;
esac
target="$arch-$os"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM

tag="${ISARTOR_VERSION:-}"
if [ -z "$tag" ]; then
  fetch "$api_base/repos/$repo/releases/latest" "$tmp/latest.json" \
    || fail "cannot reach $api_base to find the latest release (set ISARTOR_VERSION to skip this)"
  tag="$(sed -n 's/.*"tag_name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$tmp/latest.json" | head -n 1)"
  [ -n "$tag" ] || fail "no tag_name in the latest release of $repo"
fi

archive="isartor-$tag-$target.tar.gz"
say "downloading $archive ($tag)"
fetch "$download_base/$tag/$archive" "$tmp/$archive" || fail "cannot download $download_base/$tag/$archive"
fetch "$download_base/$tag/SHA256SUMS" "$tmp/SHA256SUMS" || fail "cannot download the release's SHA256SUMS"

expected="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$tmp/SHA256SUMS")"
[ -n "$expected" ] || fail "SHA256SUMS does not list $archive"
if command -v sha256sum >/dev/null 2>&1; then
  actual="$(sha256sum "$tmp/$archive" | cut -d' ' -f1)"
else
  actual="$(shasum -a 256 "$tmp/$archive" | cut -d' ' -f1)"
fi
[ "$actual" = "$expected" ] || fail "checksum mismatch for $archive (expected $expected, got $actual): not installed"

tar -xzf "$tmp/$archive" -C "$tmp" isartor || fail "$archive has no isartor binary at its root"
mkdir -p "$install_dir" || fail "cannot create $install_dir (choose another with ISARTOR_INSTALL_DIR)"
[ -w "$install_dir" ] || fail "$install_dir is not writable (choose another with ISARTOR_INSTALL_DIR; no sudo needed)"
# Replace atomically: a copy beside the target, then a rename.
cp "$tmp/isartor" "$install_dir/.isartor.new"
chmod 755 "$install_dir/.isartor.new"
mv -f "$install_dir/.isartor.new" "$install_dir/isartor"
version="$("$install_dir/isartor" --version 2>/dev/null)" || fail "the installed binary does not run on this machine"

say "installed $version to $install_dir/isartor"
case ":$PATH:" in
  *":$install_dir:"*) ;;
  *) say "add it to your PATH: export PATH=\"$install_dir:\$PATH\"" ;;
esac
say "next: export ISARTOR__EXTERNAL_LLM_API_KEY=sk-...   (your provider key)"
say "      isartor up --detach   (the semantic cache fetches its model on first start)"
say "      point your client at http://127.0.0.1:8080/v1, and watch it with: isartor top"
