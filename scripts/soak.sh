#!/usr/bin/env bash
# Soak: MINUTES (default 10) of bounded mixed traffic (exact hits, unique misses, streams, bad
# requests, slow clients; 8 concurrent clients) against a daemon in front of the mock provider
# (tests/clients/mock_cloud.py). Prints requests, errors, RSS and open fds per minute; exits 1
# when any request got an unexpected answer. Loopback only. ISARTOR_BIN picks the binary
# (default: the debug build, which `cargo test` leaves behind).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
minutes="${1:-10}"
bin="${ISARTOR_BIN:-${CARGO_TARGET_DIR:-target}/debug/isartor}"
[ -x "$bin" ] || cargo build --locked --bin isartor
work=$(mktemp -d)
mock_port=$(free_port)
gw_port=$(free_port)
python3 tests/clients/mock_cloud.py "$mock_port" > "$work/mock.log" 2>&1 &
mock=$!
trap 'kill $mock ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
ISARTOR__HOST_PORT="127.0.0.1:$gw_port" ISARTOR__PROXY__ENABLED=false \
  ISARTOR__CACHE_MODE=exact ISARTOR__LLM_PROVIDER=ollama \
  ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$mock_port/v1/chat/completions" \
  XDG_DATA_HOME="$work" XDG_RUNTIME_DIR="$work" XDG_CONFIG_HOME="$work" RUST_LOG=warn \
  "$bin" up > "$work/isartor.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null && break; sleep 0.1; done
echo "soak: $minutes min against isartor pid $daemon ($bin)"
python3 scripts/stress.py soak "$gw_port" "$daemon" "$minutes"
