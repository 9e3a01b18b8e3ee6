#!/usr/bin/env bash
# The test command: formatting and lints, the Rust unit and integration tests (real daemon
# against mock upstreams), then the OpenAI Python SDK against the real daemon.
# Honours CARGO_TARGET_DIR. Needs network access to crates.io and PyPI the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked

echo "== OpenAI Python SDK against the daemon"
venv="${ISARTOR_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/isartor-test-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
# `cargo test` above built target/debug/isartor, which the SDK tests start.
"$venv/bin/python" -m pytest -q tests/sdk
