#!/usr/bin/env bash
# The deflection benchmark: replays a day of coding-assistant prompts (default
# ../shared/data/coding-trace.jsonl) in order through the real daemon, started in-process against
# an echo provider on loopback, and prints requests, share and p50/p95 latency per layer, the
# deflection rate and every wrong hit (an answer stored for a prompt of another class).
#
# Usage: [ISARTOR_BIN=path] scripts/bench-deflection.sh [TRACE.jsonl] [THRESHOLD...]
# Each extra argument is a similarity_threshold to run the trace at (default: the configured one).
# Needs the embedding model (scripts/fetch-models.sh, run here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
trace="${1:-../shared/data/coding-trace.jsonl}"
shift || true
[ -f "$trace" ] || { echo "no trace at $trace" >&2; exit 1; }
scripts/fetch-models.sh >/dev/null
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
bin="$(isartor_bin)"
if [ $# -eq 0 ]; then
  RUST_LOG=warn "$bin" eval semantic --trace "$trace"
fi
for threshold in "$@"; do
  RUST_LOG=warn ISARTOR__SIMILARITY_THRESHOLD="$threshold" "$bin" eval semantic --trace "$trace"
done
