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
