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
proxy_port=$(free_port)
ulimit -n "$(ulimit -Hn)"
start_stack ISARTOR__PROXY_PORT="127.0.0.1:$proxy_port" \
  ISARTOR__SERVER__HEADER_READ_TIMEOUT_SECS="$timeout_secs" RUST_LOG=error
python3 scripts/stress.py slowloris "$gw_port" "$proxy_port" "$mock_port" "$daemon" "$n" "$timeout_secs"
