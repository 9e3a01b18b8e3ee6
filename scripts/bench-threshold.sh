#!/usr/bin/env bash
# The similarity_threshold table of docs/tuning.md: per threshold, the share of same-answer
# pairs the semantic cache serves and of look-alike traps it serves wrongly, with the guard and
# without it ("plain"), on a labelled set the guard was never tuned on (tests/data/
# heldout2-pairs.jsonl, written for this check), then the support-bot scenario trace and the
# latest held-out coding day (tests/data/heldout-trace-10.jsonl) replayed at the same thresholds
# (deflection and wrong answers of a whole day).
#
# Usage: [ISARTOR_BIN=path] scripts/bench-threshold.sh [THRESHOLD...]  (default 0.75 0.8 0.85 0.9 0.95)
# Needs the embedding model (scripts/fetch-models.sh, run here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh >/dev/null
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
bin="$(isartor_bin)"
[ $# -gt 0 ] || set -- 0.75 0.8 0.85 0.9 0.95
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
quiet=(env XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" RUST_LOG=warn
  ISARTOR__USAGE__ENABLED=false)
"${quiet[@]}" "$bin" eval semantic --pairs tests/data/heldout2-pairs.jsonl --thresholds "$(IFS=,; echo "$*")" |
  sed -n '/^ *threshold/,/^$/p'
[ -f tests/data/scenarios/support-bot.jsonl ] || python3 scripts/scenarios.py
# replay TRACE THRESHOLD...: deflection and wrong answers of a whole day, per threshold.
replay() {
  local trace="$1" t out
  shift
  echo "$trace per threshold:"
  for t in "$@"; do
    out="$("${quiet[@]}" ISARTOR__SIMILARITY_THRESHOLD="$t" "$bin" eval semantic --trace "$trace")"
    [ "$t" = "$1" ] && echo "$out" | sed -n 's/^answerable/  answerable/p'
    printf '%9s  deflection %-44s wrong %s\n' "$t" \
      "$(echo "$out" | sed -n 's/^deflection rate: \(.*\)$/\1/p')" \
      "$(echo "$out" | sed -n 's/^wrong hits: \([0-9]*\).*/\1/p')"
  done
}
replay tests/data/scenarios/support-bot.jsonl "$@"
# A coding day written after the guard's last change and never tuned on.
replay tests/data/heldout-trace-10.jsonl "$@"
