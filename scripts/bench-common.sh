# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run): tool checks, the binary to measure, free ports
# and wrk's latency units.

# need TOOL...: exits with the Debian packages to install when one is missing.
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk nginx-light)"; exit 1; }
  done
}

# The binary to measure: $ISARTOR_BIN (to compare another build, e.g. before/after a change,
# without rebuilding), else a fresh release build.
isartor_bin() {
  if [ -n "${ISARTOR_BIN:-}" ]; then
    echo "$ISARTOR_BIN"
  else
    cargo build --release --locked --bin isartor >&2
    echo "${CARGO_TARGET_DIR:-target}/release/isartor"
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wrk prints latencies as 85.00us / 1.20ms / 2.00s: normalise to microseconds.
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000} else print v}'; }

# start_stack [ENV=VALUE...]: the stand-in provider (tests/clients/mock_cloud.py) on a free port
# and a daemon in front of it (ISARTOR_BIN, else the debug build) in a throwaway state directory,
# with the given extra settings; waits for /healthz. Sets $work, $mock_port, $gw_port, $daemon and
# an EXIT trap that stops both. For the stress scripts (soak, slowloris).
start_stack() {
  bin="${ISARTOR_BIN:-${CARGO_TARGET_DIR:-target}/debug/isartor}"
  [ -x "$bin" ] || cargo build --locked --bin isartor
  work=$(mktemp -d)
  mock_port=$(free_port)
  gw_port=$(free_port)
  python3 tests/clients/mock_cloud.py "$mock_port" > "$work/mock.log" 2>&1 &
  mock=$!
  trap 'kill $mock ${daemon:-} 2>/dev/null || true; rm -rf "$work"' EXIT
  env "$@" ISARTOR__HOST_PORT="127.0.0.1:$gw_port" ISARTOR__CACHE_MODE=exact ISARTOR__LLM_PROVIDER=ollama \
    ISARTOR__EXTERNAL_LLM_URL="http://127.0.0.1:$mock_port/v1/chat/completions" \
    XDG_DATA_HOME="$work" XDG_RUNTIME_DIR="$work" XDG_CONFIG_HOME="$work" \
    "$bin" up > "$work/isartor.log" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null && break; sleep 0.1; done
}

# A canned OpenAI chat reply (what nginx stands in for a provider with).
canned_reply='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Use git reset --soft HEAD~1: it undoes the commit and keeps your changes staged.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":20,"total_tokens":50},"system_fingerprint":null}'

# nginx_head DIR NAME [DIRECTIVE...]: the start of a one-worker, foreground nginx config whose
# pid and error log are DIR/NAME.pid and DIR/NAME-error.log, with any extra main directives; the
# caller writes the http block after it.
nginx_head() {
  local dir="$1" name="$2"
  shift 2
  printf 'worker_processes 1;\ndaemon off;\n'
  [ $# -gt 0 ] && printf '%s;\n' "$@"
  printf 'pid %s/%s.pid;\nerror_log %s/%s-error.log;\nevents { worker_connections 4096; }\n' \
    "$dir" "$name" "$dir" "$name"
}

# canned_nginx DIR PORT [CPUS]: nginx (one worker, pinned to CPUS when given) answering every
# path with $canned_reply, its files under DIR; sets $nginx_pid.
canned_nginx() {
  { nginx_head "$1" nginx; cat <<CONF
http {
  access_log off;
  server {
    listen 127.0.0.1:$2;
    location / { default_type application/json; return 200 '$canned_reply'; }
  }
}
CONF
  } > "$1/nginx.conf"
  if [ -n "${3:-}" ]; then
    taskset -c "$3" nginx -c "$1/nginx.conf" -p "$1" &
  else
    nginx -c "$1/nginx.conf" -p "$1" &
  fi
  nginx_pid=$!
}

# The hyper_floor bench's executable (benches/hyper_floor.rs), built if needed.
floor_bin() {
  cargo bench --locked --bench hyper_floor --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1
}
