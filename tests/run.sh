#!/usr/bin/env bash
# The test command: brings up what the tests need on a fresh machine, then runs every test.
# The tests need the Rust toolchain and, for the IO managers' S3 tests, `moto_server` (an
# S3-compatible server from the Python package moto), installed here into a cached venv when
# it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "tests/run.sh: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 2
fi

# moto_server for the S3 conformance tests: on PATH, or in a venv kept in the user's cache.
if [ -z "${STRATA_MOTO_SERVER:-}" ] && ! command -v moto_server >/dev/null 2>&1; then
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/strata/venv"
  if [ ! -x "$venv/bin/moto_server" ]; then
    if ! command -v python3 >/dev/null 2>&1; then
      echo "tests/run.sh: python3 not found; the S3 tests need it to install moto_server" >&2
      exit 2
    fi
    echo "tests/run.sh: installing moto_server into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'moto[server]'
  fi
  export STRATA_MOTO_SERVER="$venv/bin/moto_server"
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole run, summed over every test binary and the doc tests.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
