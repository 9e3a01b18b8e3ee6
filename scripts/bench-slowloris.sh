#!/usr/bin/env bash
# Slowloris: N (default 1000) connections to each listener that send one header byte a second;
# while they are open, a normal client is timed on the gateway (a chat request) and through the
# proxy (a CONNECT tunnel and a GET); then how long the daemon took to close them all. Loopback
# only. ISARTOR_BIN picks the binary (default: the debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
n="${1:-1000}"
timeout_secs="${2:-10}"
bin="${ISARTOR_BIN:-${CARGO_TARGET_DIR:-target}/debug/isartor}"
[ -x "$bin" ] || cargo build --locked --bin isartor
work=$(mktemp -d)
mock_port=$(free_port)
gw_port=$(free_port)
proxy_port=$(free_port)
python3 tests/clients/mock_cloud.py "$mock_port" > "$work/mock.log" 2>&1 &
mock=$!
trap 'kill $mock ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"
ISARTOR__HOST_PORT="127.0.0.1:$gw_port" ISARTOR__PROXY_PORT="127.0.0.1:$proxy_port" \
  ISARTOR__SERVER__HEADER_READ_TIMEOUT_SECS="$timeout_secs" \
  ISARTOR__CACHE_MODE=exact ISARTOR__LLM_PROVIDER=ollama \
  ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$mock_port/v1/chat/completions" \
  XDG_DATA_HOME="$work" XDG_RUNTIME_DIR="$work" XDG_CONFIG_HOME="$work" RUST_LOG=error \
  "$bin" up > "$work/isartor.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null && break; sleep 0.1; done
python3 scripts/stress.py slowloris "$gw_port" "$proxy_port" "$mock_port" "$daemon" "$n" "$timeout_secs"
