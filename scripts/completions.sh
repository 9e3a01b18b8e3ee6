#!/usr/bin/env bash
# Regenerates the shell completion scripts under completions/ from the command definitions.
# A unit test (cli::completions) fails when the committed files are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin isartor >&2
bin="${CARGO_TARGET_DIR:-target}/debug/isartor"
"$bin" completions bash > completions/isartor.bash
"$bin" completions zsh > completions/_isartor
"$bin" completions fish > completions/isartor.fish
"$bin" completions powershell > completions/_isartor.ps1
"$bin" completions elvish > completions/isartor.elv
echo "completions/ regenerated"
