#!/usr/bin/env bash
# The embedded L2 engine against llama.cpp on the same GGUF file and the same 206-token prompt:
# prompt processing and generation tokens/s, three runs each (benches/l2_speed.rs and
# scripts/llamacpp_speed.py). llama.cpp is a reference only, not a dependency: it is built here
# from PyPI's llama-cpp-python source distribution (cmake, ~10 minutes on 2 cores) in a
# virtual environment under ~/.cache/isartor-llamacpp, once.
#
# Usage: [THREADS=2] [MODEL=path.gguf] scripts/bench-l2-engines.sh
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${THREADS:-$(nproc)}"
scripts/fetch-models.sh >/dev/null
hub="${ISARTOR_HF_CACHE_DIR:-${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}}"
model="${MODEL:-$(find "$hub/models--Qwen--Qwen2.5-Coder-0.5B-Instruct-GGUF/snapshots" -name qwen2.5-coder-0.5b-instruct-q4_k_m.gguf | head -1)}"
venv="$HOME/.cache/isartor-llamacpp"
if ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q cmake ninja scikit-build-core
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$venv/bin/pip" install -q --no-binary llama-cpp-python llama-cpp-python==0.3.36
fi
echo "== llama.cpp (llama-cpp-python 0.3.36), $threads threads: $model"
"$venv/bin/python" scripts/llamacpp_speed.py "$model" "$threads"
echo "== isartor embedded engine (candle), $threads threads"
RAYON_NUM_THREADS="$threads" ISARTOR_L2_MODEL="$model" cargo bench --bench l2_speed 2>/dev/null | grep -E "^run|loaded"
