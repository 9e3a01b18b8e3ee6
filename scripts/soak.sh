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
start_stack ISARTOR__PROXY__ENABLED=false RUST_LOG=warn
echo "soak: $minutes min against isartor pid $daemon ($bin)"
python3 scripts/stress.py soak "$gw_port" "$daemon" "$minutes"
