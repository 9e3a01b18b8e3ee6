#!/usr/bin/env bash
# What the semantic cache adds to a miss, over HTTP: the same unique prompts (short, and ~300
# tokens) sent one at a time to two daemons in front of nginx serving a canned reply, one with
# cache_mode=exact and one with cache_mode=both. Each prompt is new, so both daemons miss; the
# difference is the L1b step (embed + search + guard).
#
# Usage: [ISARTOR_BIN=path] [CPUS=0 | CPUS=0,1] scripts/bench-semantic.sh [PROMPTS=60]
# CPUS pins both daemons to those cores (taskset), to see what the embedding gets from a core.
# Needs the embedding model (scripts/fetch-models.sh, run here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-60}"
scripts/fetch-models.sh >/dev/null
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
need curl python3 nginx
bin="$(isartor_bin)"
pin=()
if [ -n "${CPUS:-}" ]; then
  need taskset
  pin=(taskset -c "$CPUS")
  echo "daemons pinned to cores $CPUS"
fi

work=$(mktemp -d)
mock_port=$(free_port)
canned_nginx "$work" "$mock_port"
pids=("$nginx_pid")
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

start() { # mode: a daemon in that cache mode; sets $port
  local dir
  port=$(free_port)
  dir="$work/$1"
  mkdir -p "$dir"
  ISARTOR__HOST_PORT="127.0.0.1:$port" ISARTOR__CACHE_MODE="$1" ISARTOR__EXTERNAL_LLM_API_KEY=bench \
    ISARTOR__PROXY__ENABLED=false RUST_LOG=warn \
    ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$mock_port/v1" \
    XDG_DATA_HOME="$dir" XDG_RUNTIME_DIR="$dir" XDG_CONFIG_HOME="$dir" \
    "${pin[@]}" "$bin" up > "$dir/isartor.log" 2>&1 &
  pids+=($!)
}
start exact
exact=$port
start both
both=$port
for port in "$exact" "$both"; do
  for _ in $(seq 600); do
    status=$(curl -sf "http://127.0.0.1:$port/health" 2>/dev/null || true)
    case "$status" in *'"l1b":{"enabled":true,"status":"loading"'*|"") sleep 0.1 ;; *) break ;; esac
  done
done

python3 - "$exact" "$both" "$n" <<'PY'
import json, statistics, sys, time, urllib.request

exact, both, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
filler = ("The service reads its settings from environment variables, retries failed calls "
          "three times with exponential backoff, and writes structured logs to stdout. ")

def prompt(i, long):
    head = f"Request {i}: review this change to the billing worker and list what could break. "
    return head + filler * 12 + f"(case {i})" if long else head

def ask(port, text):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body,
                                 {"content-type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        r.read()
        layer = r.headers.get("x-isartor-layer")
    return (time.perf_counter() - started) * 1000, layer

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, round((len(v) - 1) * p))]

words = len(prompt(0, True).split())
print(f"L1b's cost on a miss: {n} unique prompts each, sequential, daemons interleaved")
for long in (False, True):
    times = {exact: [], both: []}
    for i in range(n):
        for port in (exact, both):
            ms, layer = ask(port, prompt(i + (10_000 if long else 0), long))
            assert layer == "l3", layer
            times[port].append(ms)
    kind = f"~{int(words * 1.3)}-token prompt" if long else "short prompt"
    e50, e95 = pct(times[exact], .5), pct(times[exact], .95)
    b50, b95 = pct(times[both], .5), pct(times[both], .95)
    print(f"{kind:>18}: exact p50 {e50:6.2f} ms p95 {e95:6.2f} ms | both p50 {b50:6.2f} ms "
          f"p95 {b95:6.2f} ms | L1b adds p50 {b50 - e50:5.2f} ms, p95 {b95 - e95:5.2f} ms")
PY
