#!/usr/bin/env bash
# Side-by-side load and overhead benchmark, in one run on this machine: nginx (Debian) serves a
# canned OpenAI reply (JSON, or SSE for streamed requests) and is the upstream; Isartor runs in
# front of it. wrk drives each case at a fixed connection count; servers are pinned to core 0,
# wrk to core 1. Cases:
#   a  nginx direct                          d  Isartor pass-through miss, streamed (SSE)
#   b  Isartor exact hit                     e  Isartor exact hit with a 100 KB request body
#   c  Isartor pass-through miss (each request a new prompt, so every one goes upstream)
# Each prints p50/p99 and req/s; Isartor cases also CPU time per request (from /proc) and RSS.
# Then the ratios b/a and the added latency c-a, d-a. With a `litellm` command on PATH
# (pip install 'litellm[proxy]'), LiteLLM's proxy in front of the same nginx is measured too.
# Then pass-through one request at a time (1 connection, each request a new prompt), Isartor
# side by side with nginx as a reverse proxy (keep-alive upstream, unbuffered for SSE) in front
# of the same nginx: added p50 over direct and CPU per request of the proxy, and what Isartor adds
# per streamed event over nginx (an upper bound: its whole extra latency spread over the events).
# Last, a, b and c again at a constant rate (RATE req/s, open loop: benches/loadgen.rs, wrk2-style
# latency from each request's due time), where the comparison is latency at equal load.
#
# Usage: [ISARTOR_BIN=path] [RATE=1000] scripts/bench-load.sh [SECONDS=8] [CONNECTIONS=16]
# Needs: wrk, nginx (apt-get install wrk nginx-light), python3, curl, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-8}"
conns="${2:-16}"
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
need wrk nginx curl python3 taskset
bin="$(isartor_bin)"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do if kill "$p" 2>/dev/null; then wait "$p" 2>/dev/null || true; fi; done
  rm -rf "$tmp"
}
trap cleanup EXIT
ngx="$(free_port)"

json='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Use git reset --soft HEAD~1: it undoes the commit and keeps your changes staged."},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":20,"total_tokens":50}}'
chunk() { printf 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}\\n\\n' "$1" "$2"; }
sse="$(chunk '{"role":"assistant","content":""}' null)$(for w in Use git reset --soft HEAD~1 to undo it; do chunk "{\"content\":\"$w \"}" null; done)$(chunk '{}' '"stop"')data: [DONE]\\n\\n"

{ nginx_head "$tmp" nginx; cat <<CONF
http {
  access_log off;
  server {
    listen 127.0.0.1:$ngx;
    location /sse/ { default_type text/event-stream; return 200 '$sse'; }
    location / { default_type application/json; return 200 '$json'; }
  }
}
CONF
} > "$tmp/nginx.conf"
taskset -c 0 nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
# nginx as a reverse proxy in front of the first: one process (master_process off), so its CPU
# time per request is read from /proc like Isartor's.
ngxp="$(free_port)"
mkdir -p "$tmp/proxy"
{ nginx_head "$tmp" proxy "master_process off"; cat <<CONF
http {
  access_log off;
  upstream provider { server 127.0.0.1:$ngx; keepalive 64; }
  server {
    listen 127.0.0.1:$ngxp;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /sse/ { proxy_pass http://provider; proxy_buffering off; }
    location / { proxy_pass http://provider; }
  }
}
CONF
} > "$tmp/proxy.conf"
taskset -c 0 nginx -c "$tmp/proxy.conf" -p "$tmp/proxy" &
ngxp_pid=$!
pids+=("$ngxp_pid")

# start NAME UPSTREAM_PATH: an Isartor (exact cache only) in front of nginx; sets $port, $pid.
start() {
  port="$(free_port)"
  mkdir -p "$tmp/$1"
  local t0 t1
  t0="$(date +%s%N)"
  HOME="$tmp/$1" XDG_RUNTIME_DIR="$tmp/$1/run" XDG_DATA_HOME="$tmp/$1/data" \
  XDG_CONFIG_HOME="$tmp/$1/config" \
  ISARTOR__HOST_PORT="127.0.0.1:$port" ISARTOR__PROXY__ENABLED=false ISARTOR__CACHE_MODE=exact \
  ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$ngx$2" ISARTOR__EXTERNAL_LLM_API_KEY=bench \
  ISARTOR__CACHE_MAX_CAPACITY=1000000 RUST_LOG="${RUST_LOG:-info}" \
    taskset -c 0 "$bin" up > "$tmp/$1.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
  t1="$(date +%s%N)"
  echo "$1: isartor up to /healthz in $(( (t1 - t0) / 1000000 )) ms, idle RSS $(awk '/VmRSS/{print $2/1024 " MB"}' "/proc/$pid/status")"
}

# lua BODY_KIND: a wrk script; "same" posts one body, "unique" a new prompt per request.
lua() {
  case "$1" in
    same) printf 'wrk.method="POST"\nwrk.headers["Content-Type"]="application/json"\nwrk.body=%s\n' "$2" ;;
    unique) cat <<LUA
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format('{"model":"gpt-4o-mini","stream":$2,"messages":[{"role":"user","content":"prompt %d from thread %s"}]}', n, tostring(wrk.thread and wrk.thread.addr or "")))
end
LUA
    ;;
  esac
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run CASE URL SCRIPT [PID]: prints p50, p99, req/s (and CPU µs/request, RSS for a PID).
run() {
  local before=0 out p50 p99 rps reqs extra="" cpu=0
  [ -n "${4:-}" ] && before="$(cpu_ticks "$4")"
  out="$(taskset -c 1 wrk -t1 -c"${c:-$conns}" -d"${secs}s" --latency -s "$3" "$2")"
  p50="$(echo "$out" | awk '$1=="50%"{print $2}' | to_us)"
  p99="$(echo "$out" | awk '$1=="99%"{print $2}' | to_us)"
  rps="$(echo "$out" | awk '/Requests\/sec/{print $2}')"
  reqs="$(echo "$out" | awk '/requests in/{print $1}')"
  if [ -n "${4:-}" ]; then
    local ticks hz
    ticks=$(( $(cpu_ticks "$4") - before ))
    hz="$(getconf CLK_TCK)"
    cpu="$(awk -v t="$ticks" -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.1f", t/hz*1e6/n}')"
    extra="  CPU $(printf '%6.1f' "$cpu") us/req"
    extra="$extra  RSS $(awk '/VmRSS/{printf "%.0f MB", $2/1024}' "/proc/$4/status")"
  fi
  printf '%-28s p50 %8.1f us   p99 %8.1f us   %8.0f req/s%s\n' "$1" "$p50" "$p99" "$rps" "$extra"
  echo "$1|$p50|$p99|$rps|$cpu" >> "$tmp/results"
}

request='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How do I undo the last git commit but keep my changes?"}]}'
big="$(python3 -c 'import json; print(json.dumps({"model":"gpt-4o-mini","messages":[{"role":"user","content":"explain this log:\n" + "ERROR worker-3 connection reset by peer while reading response header\n" * 1450}]}))')"
lua same "'$request'" > "$tmp/same.lua"
python3 -c 'import sys; print("wrk.method=\"POST\"\nwrk.headers[\"Content-Type\"]=\"application/json\"\nwrk.body=[==[" + sys.argv[1] + "]==]")' "$big" > "$tmp/big.lua"
lua unique false > "$tmp/miss.lua"
lua unique true > "$tmp/stream.lua"

for port in "$ngx" "$ngxp"; do
  for _ in $(seq 500); do curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.01; done
  curl -sf "http://127.0.0.1:$port/" >/dev/null || { echo "nginx did not start:"; cat "$tmp"/*error.log; exit 1; }
done
start json /v1
json_port="$port"; json_pid="$pid"
start stream /sse/v1
stream_port="$port"; stream_pid="$pid"
# Warm the hits: the first request of each body goes upstream and is stored.
for body in "$request" "$big"; do
  for _ in 1 2; do curl -s -o /dev/null "http://127.0.0.1:$json_port/v1/chat/completions" -H 'content-type: application/json' -d "$body"; done
done

echo
echo "load benchmark: ${secs}s per case, $conns connections, servers on core 0, wrk on core 1"
run "a nginx direct" "http://127.0.0.1:$ngx/v1/chat/completions" "$tmp/same.lua"
run "b isartor exact hit" "http://127.0.0.1:$json_port/v1/chat/completions" "$tmp/same.lua" "$json_pid"
run "c isartor miss (JSON)" "http://127.0.0.1:$json_port/v1/chat/completions" "$tmp/miss.lua" "$json_pid"
run "d isartor miss (SSE)" "http://127.0.0.1:$stream_port/v1/chat/completions" "$tmp/stream.lua" "$stream_pid"
run "e isartor hit, 100 KB body" "http://127.0.0.1:$json_port/v1/chat/completions" "$tmp/big.lua" "$json_pid"

if command -v litellm >/dev/null; then
  lport="$(free_port)"
  # A loopback-only benchmark: no master key needed.
  OPENAI_API_KEY=bench LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true \
    taskset -c 0 litellm --model openai/gpt-4o-mini --api_base "http://127.0.0.1:$ngx/v1" \
    --host 127.0.0.1 --port "$lport" > "$tmp/litellm.log" 2>&1 &
  lpid=$!
  pids+=("$lpid")
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$lport/health/liveliness" >/dev/null 2>&1 && break; sleep 0.1; done
  if ! kill -0 "$lpid" 2>/dev/null; then
    echo "(LiteLLM did not start:)"; tail -5 "$tmp/litellm.log"; exit 0
  fi
  run "f litellm proxy (miss)" "http://127.0.0.1:$lport/v1/chat/completions" "$tmp/miss.lua" "$lpid"
else
  echo "(LiteLLM not measured: no litellm command; pip install 'litellm[proxy]' to compare)"
fi

# Pass-through one request at a time: the proxy's own cost, nginx's against Isartor's.
events="$(printf '%s' "$sse" | grep -o 'data:' | wc -l)"
echo
echo "pass-through, 1 connection (each request a new prompt), ${secs}s per case"
c=1 run "Sa nginx direct" "http://127.0.0.1:$ngx/v1/chat/completions" "$tmp/miss.lua"
c=1 run "Sg nginx reverse proxy" "http://127.0.0.1:$ngxp/v1/chat/completions" "$tmp/miss.lua" "$ngxp_pid"
c=1 run "Sc isartor miss (JSON)" "http://127.0.0.1:$json_port/v1/chat/completions" "$tmp/miss.lua" "$json_pid"
c=1 run "Sn nginx direct (SSE)" "http://127.0.0.1:$ngx/sse/v1/chat/completions" "$tmp/stream.lua"
c=1 run "Sh nginx reverse proxy (SSE)" "http://127.0.0.1:$ngxp/sse/v1/chat/completions" "$tmp/stream.lua" "$ngxp_pid"
c=1 run "Sd isartor miss (SSE)" "http://127.0.0.1:$stream_port/v1/chat/completions" "$tmp/stream.lua" "$stream_pid"

# Constant rate: latency at the same offered load (not at each server's own saturation).
rate="${RATE:-1000}"
loadgen="$(cargo bench --locked --bench loadgen --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)"
printf '%s' "$request" > "$tmp/same.json"
printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"constant-rate prompt {n}"}]}' > "$tmp/numbered.json"
echo
echo "constant rate: $rate req/s for ${secs}s, 16 connections (open loop; loadgen on core 1)"
steady() {
  local out
  out="$(taskset -c 1 "$loadgen" "$2" "$rate" "$secs" "$3" 16)"
  printf '%-28s %s\n' "$1" "$out"
  echo "$out" | awk -v c="${1:0:1}" '{for (i=1;i<NF;i++) {if ($i=="p50") p50=$(i+1); if ($i=="p99") p99=$(i+1)}} END {print "R" c "|" p50 "|" p99 "|0"}' >> "$tmp/results"
}
steady "a nginx direct" "http://127.0.0.1:$ngx/v1/chat/completions" "$tmp/same.json"
steady "b isartor exact hit" "http://127.0.0.1:$json_port/v1/chat/completions" "$tmp/same.json"
steady "c isartor miss (JSON)" "http://127.0.0.1:$json_port/v1/chat/completions" "$tmp/numbered.json"

echo
awk -F'|' -v rate="$rate" -v events="$events" '
  { k = ($1 ~ /^[RS]/) ? substr($1,1,2) : substr($1,1,1); p50[k]=$2; p99[k]=$3; rps[k]=$4; cpu[k]=$5 }
  END {
    printf "exact hit vs nginx (b/a):      p50 %.2fx  p99 %.2fx  req/s %.2fx\n", p50["b"]/p50["a"], p99["b"]/p99["a"], rps["b"]/rps["a"]
    printf "pass-through adds (c-a):       p50 %+.0f us  p99 %+.0f us\n", p50["c"]-p50["a"], p99["c"]-p99["a"]
    printf "streamed pass-through (d-a):   p50 %+.0f us  p99 %+.0f us\n", p50["d"]-p50["a"], p99["d"]-p99["a"]
    if ("f" in p50) printf "litellm miss vs isartor miss:  p50 %.1fx  req/s %.2fx\n", p50["f"]/p50["c"], rps["f"]/rps["c"]
    printf "at %s req/s: hit vs nginx       p50 %.2fx  p99 %.2fx (hit p99 %d us)\n", rate, p50["Rb"]/p50["Ra"], p99["Rb"]/p99["Ra"], p99["Rb"]
    printf "at %s req/s: pass-through adds  p50 %+.0f us  p99 %+.0f us\n", rate, p50["Rc"]-p50["Ra"], p99["Rc"]-p99["Ra"]
    printf "1 connection, added p50 over direct: nginx proxy %+.0f us, isartor %+.0f us (%.2fx)\n", p50["Sg"]-p50["Sa"], p50["Sc"]-p50["Sa"], (p50["Sc"]-p50["Sa"])/(p50["Sg"]-p50["Sa"])
    printf "1 connection, CPU per request: nginx proxy %.1f us, isartor %.1f us (%.2fx)\n", cpu["Sg"], cpu["Sc"], cpu["Sc"]/cpu["Sg"]
    printf "1 connection, SSE (%d events): nginx proxy adds %+.0f us, isartor %+.0f us; isartor over nginx %+.1f us and %+.1f us CPU per event\n", events, p50["Sh"]-p50["Sn"], p50["Sd"]-p50["Sn"], (p50["Sd"]-p50["Sh"])/events, (cpu["Sd"]-cpu["Sh"])/events
  }' "$tmp/results"
