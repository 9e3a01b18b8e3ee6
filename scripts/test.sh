#!/usr/bin/env bash
# The test command: formatting and lints, the Rust unit and integration tests (real daemon
# against mock upstreams), then real clients against the real daemon: the OpenAI and Anthropic
# Python SDKs and Claude Code (npm). Honours CARGO_TARGET_DIR. Needs crates.io, PyPI and the npm
# registry the first time; clients are cached under ~/.cache.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked

echo "== real clients against the daemon: OpenAI and Anthropic SDKs, Claude Code"
venv="${ISARTOR_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/isartor-test-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
npm_dir="${ISARTOR_TEST_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/isartor-test-npm}"
claude_version="2.1.330"
if [ ! -x "$npm_dir/node_modules/.bin/claude" ] || ! grep -q "\"version\": \"$claude_version\"" "$npm_dir/node_modules/@anthropic-ai/claude-code/package.json"; then
  npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@$claude_version"
fi
export ISARTOR_CLAUDE_BIN="$npm_dir/node_modules/.bin/claude"
# `cargo test` above built target/debug/isartor, which these tests start.
"$venv/bin/python" -m pytest -q tests/clients
