#!/usr/bin/env bash
# Regenerates the shell completion scripts under completions/ and the man page man/isartor.1
# from the command definitions. Unit tests (cli::completions) fail when the committed files are
# stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin isartor >&2
bin="${CARGO_TARGET_DIR:-target}/debug/isartor"
"$bin" completions bash > completions/isartor.bash
"$bin" completions zsh > completions/_isartor
"$bin" completions fish > completions/isartor.fish
"$bin" completions powershell > completions/_isartor.ps1
"$bin" completions elvish > completions/isartor.elv
ISARTOR_WRITE_MAN=1 cargo test --locked --lib committed_man_page_is_current >&2
echo "completions/ and man/isartor.1 regenerated"
