#!/usr/bin/env bash
# The memory budget of docs/tuning.md, measured on a release daemon in front of nginx answering
# a canned reply: resident memory (RSS) idle, after 10,000 exact entries, with the embedding
# model loaded and after 10,000 semantic entries, and with the local GGUF model loaded (and the
# peak while it loaded). Each entry is one unique ~45-word prompt and its ~20-word answer.
#
# Usage: [ISARTOR_BIN=path] [ENTRIES=10000] scripts/bench-memory.sh
# Needs: nginx, curl, python3; the models (scripts/fetch-models.sh, run here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
need nginx curl python3
bin="$(isartor_bin)"
scripts/fetch-models.sh >/dev/null
entries="${ENTRIES:-10000}"
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
ngx="$(free_port)"
canned_nginx "$tmp" "$ngx"
pids+=("$nginx_pid")
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$ngx/" >/dev/null 2>&1 && break; sleep 0.02; done

mb() { awk -v k="$2" '$1==k":" {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# start NAME [VAR=VALUE...]: a daemon with those settings, waited for until no layer is loading;
# sets $port and $pid.
start() {
  local name="$1"
  shift
  port="$(free_port)"
  mkdir -p "$tmp/$name"
  env XDG_RUNTIME_DIR="$tmp/$name/run" XDG_DATA_HOME="$tmp/$name/data" \
    XDG_CONFIG_HOME="$tmp/$name/config" ISARTOR__HOST_PORT="127.0.0.1:$port" \
    ISARTOR__PROXY__ENABLED=false ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$ngx/v1" \
    ISARTOR__EXTERNAL_LLM_API_KEY=bench ISARTOR__CACHE_MAX_CAPACITY=1000000 RUST_LOG=warn "$@" \
    "$bin" up > "$tmp/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  python3 - "$port" <<'PY'
import json, sys, time, urllib.request
for _ in range(1200):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2) as r:
            h = json.load(r)
        states = {l: v["status"] for l, v in h["layers"].items()}
        if "failed" in states.values():
            sys.exit(f"a layer failed to load: {states}")
        if "loading" not in states.values():
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("the daemon did not become ready")
PY
}

# fill N: N unique prompts over one keep-alive connection (each stored by every cache that is on).
fill() {
  python3 - "$port" "$1" <<'PY'
import http.client, json, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for i in range(int(sys.argv[2])):
    prompt = (f"Write a Python function named handler_{i} that reads the CSV file report_{i}.csv, "
              f"keeps the rows whose status column equals {i % 97}, sums the amount column and "
              f"returns the total rounded to two decimals, with a docstring and type hints.")
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
    conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"request {i}: HTTP {r.status}")
PY
}

echo "memory budget: RSS of a release daemon; $entries entries of one ~45-word prompt and its answer"
start exact ISARTOR__CACHE_MODE=exact
idle="$(mb "$pid" VmRSS)"
fill "$entries"
full="$(mb "$pid" VmRSS)"
echo "exact cache only, idle:                    $idle MB"
echo "exact cache, after $entries entries:          $full MB (+$((full - idle)) MB)"

start both ISARTOR__CACHE_MODE=both
idle="$(mb "$pid" VmRSS)"
fill "$entries"
full="$(mb "$pid" VmRSS)"
echo "exact + semantic, embedding model loaded:  $idle MB"
echo "exact + semantic, after $entries entries:     $full MB (+$((full - idle)) MB for both caches)"

start local ISARTOR__CACHE_MODE=exact ISARTOR__ENABLE_SLM_ROUTER=true
echo "exact + local GGUF model (L2), loaded:     $(mb "$pid" VmRSS) MB (peak while loading $(mb "$pid" VmHWM) MB)"
