#!/usr/bin/env bash
# The local model's quality and speed: the prompts of tests/data/l2-bench.jsonl (part A, 66,
# seen while the word rules and checks were built) and tests/data/l2-bench-b.jsonl (part B, 40,
# written before those were and held out) and tests/data/l2-bench-c.jsonl (part C, 36, written
# after the settings-file check and run once after it: report this one) — TEMPLATE, SNIPPET and COMPLEX, each
# with a machine check of a right answer — sent one at a time to a daemon with the embedded model on, in front of the stand-in
# cloud (tests/clients/mock_cloud.py). Prints each prompt's layer, time and verdict, then the
# served-locally rate, the pass rate of what was served, COMPLEX served locally, latency p50/p95
# and generated tokens/s, per part (scripts/l2_bench.py).
#
# Usage: [ISARTOR_BIN=path] [CPUS=0 | CPUS=0,1] [PARTS="a b c"] scripts/bench-l2.sh [-v] [ENV=VALUE...]
# Extra settings go to the daemon, e.g. ISARTOR__LAYER2__TIMEOUT_SECONDS=60 or
# ISARTOR__EMBEDDED__MODEL_PATH=/path/to/other.gguf; -v prints the text of failing answers.
# Needs the models (scripts/fetch-models.sh, run here when missing), python3 and node.
set -euo pipefail
cd "$(dirname "$0")/.."
verbose=()
if [ "${1:-}" = "-v" ]; then
  verbose=(-v)
  shift
fi
scripts/fetch-models.sh >/dev/null
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
need curl python3 node
ISARTOR_BIN="$(isartor_bin)"
export ISARTOR_BIN
pin=()
if [ -n "${CPUS:-}" ]; then
  need taskset
  pin=(taskset -c "$CPUS")
  echo "daemon pinned to cores $CPUS"
fi
if [ ${#pin[@]} -gt 0 ]; then
  real_bin="$ISARTOR_BIN"
  ISARTOR_BIN="$(mktemp)"
  printf '#!/bin/sh\nexec %s %s "$@"\n' "${pin[*]}" "$real_bin" > "$ISARTOR_BIN"
  chmod +x "$ISARTOR_BIN"
fi
start_stack ISARTOR__ENABLE_SLM_ROUTER=true ISARTOR__OFFLINE_MODE=false ISARTOR__PROXY__ENABLED=false \
  ISARTOR__USAGE__ENABLED=false RUST_LOG=info "$@"
# The pinning wrapper has exec'd the daemon: it is not needed any more.
if [ ${#pin[@]} -gt 0 ]; then rm -f "$ISARTOR_BIN"; fi
for _ in $(seq 3000); do
  status=$(curl -sf "http://127.0.0.1:$gw_port/health" 2>/dev/null || true)
  case "$status" in *'"l2":{'*'"status":"loading"'*|"") sleep 0.1 ;; *) break ;; esac
done
python3 -c 'import json,sys; l2=json.load(sys.stdin)["layers"]["l2"]; print("l2:", json.dumps(l2))' <<< "$status"
grep -h "l2:" "$work/isartor.log" | sed 's/^.*l2:/l2:/' || true
data=()
for part in ${PARTS:-a b c}; do
  case "$part" in
    a) data+=(tests/data/l2-bench.jsonl) ;;
    b) data+=(tests/data/l2-bench-b.jsonl) ;;
    c) data+=(tests/data/l2-bench-c.jsonl) ;;
  esac
done
python3 scripts/l2_bench.py "http://127.0.0.1:$gw_port" "${data[@]}" "${verbose[@]}"
curl -s "http://127.0.0.1:$gw_port/metrics" | grep -E '^isartor_l2_refused_total' || true
