#!/usr/bin/env bash
# The scenario recipes of docs/tuning.md, measured: each trace of tests/data/scenarios/ (written
# by scripts/scenarios.py) replayed through the real daemon (`isartor eval semantic --trace`,
# against an echo provider on loopback) with the recipe's settings, printing one line per run:
# deflection, wrong answers served, and the p50 of the layers that served.
#
# Usage: [ISARTOR_BIN=path] scripts/bench-scenarios.sh
# Needs the embedding model (scripts/fetch-models.sh, run here when missing); redis-server for
# the shared-cache run (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh >/dev/null
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
bin="$(isartor_bin)"
dir=tests/data/scenarios
[ -f "$dir/agent-loop.jsonl" ] || python3 scripts/scenarios.py "$dir"
tmp="$(mktemp -d)"
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# run NAME TRACE [VAR=VALUE...]: one replay with those settings, summarised on one line.
run() {
  local name="$1" trace="$2"
  shift 2
  local out
  out="$(env XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" RUST_LOG=warn \
    ISARTOR__USAGE__ENABLED=false "$@" "$bin" eval semantic --trace "$dir/$trace")"
  local deflection wrong
  deflection="$(echo "$out" | sed -n 's/^deflection rate: \(.*\)$/\1/p')"
  wrong="$(echo "$out" | sed -n 's/^wrong hits: \([0-9]*\).*/\1/p')"
  printf '%-34s %-58s deflection %-18s wrong %s\n' "$name" "${*:-defaults}" "$deflection" "$wrong"
}

echo "scenario recipes: each trace replayed once per settings block"
run "agent loop" agent-loop.jsonl ISARTOR__CACHE_MODE=exact ISARTOR__CACHE_TTL_SECS=3600
run "agent loop" agent-loop.jsonl
run "support bot (paraphrases)" support-bot.jsonl
run "support bot (paraphrases)" support-bot.jsonl ISARTOR__SIMILARITY_THRESHOLD=0.80
run "support bot (paraphrases)" support-bot.jsonl ISARTOR__CACHE_MODE=exact
run "code generation (unique)" codegen-unique.jsonl
run "code generation (unique)" codegen-unique.jsonl ISARTOR__CACHE_MODE=exact
run "document Q&A" doc-qa.jsonl
run "document Q&A" doc-qa.jsonl ISARTOR__CACHE_MODE=exact
if command -v redis-server >/dev/null; then
  port="$(free_port)"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no > "$tmp/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  run "agent loop, shared Redis cache" agent-loop.jsonl ISARTOR__CACHE_BACKEND=redis \
    ISARTOR__REDIS_URL="redis://127.0.0.1:$port" ISARTOR__CACHE_MODE=exact ISARTOR__CACHE_TTL_SECS=3600
else
  echo "(no redis-server: the shared-cache run is skipped)"
fi
