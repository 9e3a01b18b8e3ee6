#!/usr/bin/env bash
# Fuzz every target for SECONDS each (default 600): the request decoders and the cache key, the
# SSE parser and every stream decoder/encoder, reply parsing and rendering, the config loader,
# the semantic guard.
# Stable toolchain only: proptest-driven loops over tests/data/fuzz/ seeds (tests/it/fuzz.rs).
# Prints, per target, how many inputs ran; a failure prints the shrunk input and the seed that
# reproduces it (ISARTOR_FUZZ_SEED=... scripts/fuzz.sh ...). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
targets=(request_decoders_and_the_key sse_and_stream_codecs reply_parsing_and_rendering config_loader
  the_semantic_guard)
cargo test --locked --test it --no-run >/dev/null 2>&1 || cargo test --locked --test it --no-run
for t in "${targets[@]}"; do
  start=$(date +%s)
  ISARTOR_FUZZ_SECS="$secs" cargo test --locked --test it "fuzz::fuzz_$t" -- --exact --nocapture \
    2>&1 | grep -E '^fuzz |panicked|failed|minimal failing|ISARTOR_FUZZ_SEED' || true
  echo "  ($t: $(( $(date +%s) - start )) s)"
done
