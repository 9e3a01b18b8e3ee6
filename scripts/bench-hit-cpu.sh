#!/usr/bin/env bash
# CPU time per exact hit, for A/B comparisons of builds: each binary given serves exact hits
# (nginx as its upstream, for the first request only) pinned to core 0 while wrk drives 32
# connections from core 1; the daemon's CPU ticks from /proc over the run, divided by the
# requests served. The binaries alternate, ROUNDS times (default 3), in one sitting.
#
# Usage: [ROUNDS=3] [SECS=4] scripts/bench-hit-cpu.sh BINARY...
# Needs: wrk, nginx (apt-get install wrk nginx-light), python3, curl, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
need wrk nginx curl python3 taskset
[ $# -gt 0 ] || { echo "usage: scripts/bench-hit-cpu.sh BINARY..."; exit 2; }
tmp="$(mktemp -d)"
nginx_pid=""
daemon=""
cleanup() {
  for p in "$daemon" "$nginx_pid"; do
    if [ -n "$p" ] && kill "$p" 2>/dev/null; then wait "$p" 2>/dev/null || true; fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
ngx="$(free_port)"
canned_nginx "$tmp" "$ngx" 1
request='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How do I undo the last git commit but keep my changes?"}]}'
printf 'wrk.method="POST"\nwrk.body=%s\nwrk.headers["Content-Type"]="application/json"\n' "'$request'" > "$tmp/post.lua"
for _ in $(seq "${ROUNDS:-3}"); do
  for bin in "$@"; do
    port="$(free_port)"
    HOME="$tmp" XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" \
    ISARTOR__HOST_PORT="127.0.0.1:$port" ISARTOR__PROXY__ENABLED=false ISARTOR__CACHE_MODE=exact \
    ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$ngx/v1" ISARTOR__EXTERNAL_LLM_API_KEY=bench \
    RUST_LOG="${RUST_LOG:-info}" taskset -c 0 "$bin" up > "$tmp/isartor.log" 2>&1 &
    daemon=$!
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
    for _ in 1 2; do
      curl -s -o /dev/null "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' -d "$request"
    done
    before="$(awk '{print $14 + $15}' "/proc/$daemon/stat")"
    out="$(taskset -c 1 wrk -t1 -c32 -d"${SECS:-4}s" -s "$tmp/post.lua" "http://127.0.0.1:$port/v1/chat/completions")"
    after="$(awk '{print $14 + $15}' "/proc/$daemon/stat")"
    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v bin="$bin" \
      -v n="$(echo "$out" | awk '/requests in/{print $1}')" \
      -v rps="$(echo "$out" | awk '/Requests\/sec/{print $2}')" \
      'BEGIN { printf "%-40s %8.0f hits/s  %6.2f us CPU per hit\n", bin, rps, t / hz * 1e6 / n }'
    kill "$daemon"
    wait "$daemon" 2>/dev/null || true
    daemon=""
  done
done
