#!/usr/bin/env bash
# Automation tick benchmark: Strata's `automation_tick` example next to Dagster's
# `evaluate_automation_conditions`, on the same graphs, one after the other on this machine.
#
#   bash bench/automation/run.sh [SIZE...]          (default: 1000 5000 10000)
#
# Environment:
#   RUNS             Strata runs per size (default 5; the table shows the median)
#   REPEAT           evaluations of each tick per Strata run (default 1; the run reports their
#                    median wall time and the CPU time per evaluation)
#   STRATA_EXAMPLE   the built example (default: built here, `cargo build --release -p
#                    strata-core --example automation_tick`)
#   DAGSTER_PYTHON   an interpreter with dagster==1.13.28 (default .venv-dagster/bin/python)
#   DAGSTER_TIMEOUT  seconds allowed per Dagster size (default 1200); past it, "not finished"
#   SKIP_DAGSTER     1 runs the Strata side only
# One JSON line per run goes to bench/automation/out/<time>.jsonl, the table to stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000 5000 10000)
example="${STRATA_EXAMPLE:-}"
if [ -z "$example" ]; then
  cargo build --release -p strata-core --example automation_tick >&2
  example="${CARGO_TARGET_DIR:-$repo/target}/release/examples/automation_tick"
fi
dagster="${DAGSTER_PYTHON:-.venv-dagster/bin/python}"
if [ "${SKIP_DAGSTER:-}" != 1 ] && [ ! -x "$dagster" ]; then
  echo "error: no Dagster interpreter at $dagster" >&2
  echo "  python3 -m venv .venv-dagster && .venv-dagster/bin/pip install dagster==1.13.28," >&2
  echo "  or set DAGSTER_PYTHON, or SKIP_DAGSTER=1" >&2
  exit 2
fi

mkdir -p "$here/out"
out="$here/out/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
graphs="$(mktemp -d)"
trap 'rm -rf "$graphs"' EXIT
# Adds the side and the load average to a JSON line.
tag() {
  python3 -c 'import json, os, sys
row = json.loads(sys.stdin.read())
row.update(side=sys.argv[1], load=os.getloadavg()[0])
print(json.dumps(row))' "$1"
}

for n in "${sizes[@]}"; do
  python3 "$here/graphgen.py" "$n" > "$graphs/$n.json"
  for i in $(seq "${RUNS:-5}"); do
    echo "strata: $n assets, run $i" >&2
    "$example" "$graphs/$n.json" --repeat "${REPEAT:-1}" | tag strata >> "$out"
  done
  if [ "${SKIP_DAGSTER:-}" != 1 ]; then
    echo "dagster: $n assets (up to ${DAGSTER_TIMEOUT:-1200} s)" >&2
    if line="$(timeout "${DAGSTER_TIMEOUT:-1200}" "$dagster" bench/dagster/bench_automation.py --n "$n")"; then
      echo "$line" | tag dagster >> "$out"
    else
      echo "{\"n_assets\": $n, \"finished\": false}" | tag dagster >> "$out"
    fi
  fi
done
python3 "$here/table.py" "$out"
