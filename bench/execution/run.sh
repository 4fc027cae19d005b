#!/usr/bin/env bash
# Execution benchmarks: Strata next to Dagster 1.13.28, one after the other on this machine.
#
#   bash bench/execution/run.sh [overhead] [command] [chain] [example]     (default: all four)
#
# The Strata binary is $STRATA_BIN (default: target/release/strata of this repository, or of
# $CARGO_TARGET_DIR). Markdown tables go to stdout, progress to stderr, one JSON line per
# measurement to bench/execution/out/<time>.jsonl (process logs beside it). Other settings, all
# environment variables, are listed in bench/execution/README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

bin="${STRATA_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/strata}"
if [ ! -x "$bin" ]; then
  if [ -n "${STRATA_BIN:-}" ]; then
    echo "error: STRATA_BIN=$STRATA_BIN is not an executable file" >&2
  else
    echo "error: no release build at $bin" >&2
    echo "  build one with \`cargo build --release --bin strata\`, or point STRATA_BIN at a strata binary" >&2
  fi
  exit 2
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

for b in "$@"; do
  case "$b" in
    overhead|command|chain|example) ;;
    *) echo "error: unknown benchmark '$b'; choose from: overhead command chain example" >&2; exit 2 ;;
  esac
done

cd "$repo"  # relative defaults (.venv-dagster, bench/dagster) are relative to the repository
mkdir -p "$here/out"
out="$here/out/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
python3 "$here/bench.py" --strata "$bin" --out "$out" "$@"
