#!/usr/bin/env bash
# Exact-cache hit latency and throughput over HTTP, side by side with nginx answering a canned
# body, in one run on this machine. nginx doubles as the upstream: Isartor's first request goes
# through L3 to it and is cached; wrk then measures L1a hits. Beside them, "floor" is our HTTP
# stack alone (benches/hyper_floor.rs: the daemon's hyper settings and runtime answering the same
# body with no work behind it), the most an exact hit could reach without replacing hyper and
# tokio. All three servers are pinned to core 0 (one worker each), wrk to core 1.
#
# Usage: [ISARTOR_BIN=path] scripts/bench-hit.sh [SECONDS=10] [CONNECTIONS=32]
# Needs: wrk and nginx (Debian: apt-get install wrk nginx-light), python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-32}"
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
need wrk nginx curl python3 taskset
bin="$(isartor_bin)"
floor="$(floor_bin)"

tmp="$(mktemp -d)"
nginx_pid=""
isartor_pid=""
floor_pid=""
cleanup() {
  for p in "$isartor_pid" "$nginx_pid" "$floor_pid"; do
    if [ -n "$p" ] && kill "$p" 2>/dev/null; then wait "$p" 2>/dev/null || true; fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

ngx_port="$(free_port)"
isa_port="$(free_port)"

request='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How do I undo the last git commit but keep my changes?"}]}'
canned_nginx "$tmp" "$ngx_port" 0

HOME="$tmp" XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" \
ISARTOR__HOST_PORT="127.0.0.1:$isa_port" ISARTOR__PROXY__ENABLED=false \
ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$ngx_port/v1" \
ISARTOR__EXTERNAL_LLM_API_KEY=bench \
RUST_LOG="${RUST_LOG:-info}" \
  taskset -c 0 "$bin" up > "$tmp/isartor.log" 2>&1 &
isartor_pid=$!

printf '%s' "$canned_reply" > "$tmp/reply.json"
taskset -c 0 "$floor" "$tmp/reply.json" > "$tmp/floor.out" &
floor_pid=$!
for _ in $(seq 200); do grep -q listening "$tmp/floor.out" && break; sleep 0.05; done
floor_addr="$(awk '/listening on/{print $3}' "$tmp/floor.out")"

for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$isa_port/healthz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$ngx_port/" >/dev/null 2>&1 && break
  sleep 0.05
done
layer() { curl -s -o /dev/null -D - "http://127.0.0.1:$isa_port/v1/chat/completions" -H 'content-type: application/json' -d "$request" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-isartor-layer"{print $2}'; }
first="$(layer)"; second="$(layer)"
if [ "$first" != l3 ] || [ "$second" != l1a ]; then echo "warm-up failed: $first then $second"; cat "$tmp/isartor.log"; exit 1; fi

cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$request'
wrk.headers["Content-Type"] = "application/json"
LUA

run() { # name url connections
  local out
  out="$(taskset -c 1 wrk -t1 -c"$3" -d"${secs}s" --latency -s "$tmp/post.lua" "$2")"
  local p50 p99 rps
  p50="$(echo "$out" | awk '$1=="50%"{print $2}' | to_us)"
  p99="$(echo "$out" | awk '$1=="99%"{print $2}' | to_us)"
  rps="$(echo "$out" | awk '/Requests\/sec/{print $2}')"
  printf '%-14s c=%-4s p50 %8.1f us   p99 %8.1f us   %10.0f req/s\n' "$1" "$3" "$p50" "$p99" "$rps"
  echo "$1 $3 $p50 $p99 $rps" >> "$tmp/results"
}

echo "exact-hit benchmark: ${secs}s per run, server on core 0, wrk on core 1"
for c in 1 "$conns"; do
  run nginx "http://127.0.0.1:$ngx_port/v1/chat/completions" "$c"
  run floor "http://$floor_addr/v1/chat/completions" "$c"
  run isartor-l1a "http://127.0.0.1:$isa_port/v1/chat/completions" "$c"
done
echo
awk '
  $1=="nginx" {n50[$2]=$3; n99[$2]=$4; nr[$2]=$5}
  $1=="isartor-l1a" {i50[$2]=$3; i99[$2]=$4; ir[$2]=$5}
  $1=="floor" {f50[$2]=$3; f99[$2]=$4; fr[$2]=$5}
  END { for (c in n50) {
    printf "ratio isartor/nginx c=%-4s p50 %.2fx   p99 %.2fx   req/s %.2fx\n", c, i50[c]/n50[c], i99[c]/n99[c], ir[c]/nr[c]
    printf "ratio floor/nginx   c=%-4s p50 %.2fx   p99 %.2fx   req/s %.2fx\n", c, f50[c]/n50[c], f99[c]/n99[c], fr[c]/nr[c]
    printf "ratio isartor/floor c=%-4s p50 %.2fx   p99 %.2fx   req/s %.2fx\n", c, i50[c]/f50[c], i99[c]/f99[c], ir[c]/fr[c]
  } }
' "$tmp/results"
