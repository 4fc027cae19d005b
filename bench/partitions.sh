#!/usr/bin/env bash
# Runs the partition benchmark in Strata and in Dagster, one after the other on the same machine,
# and prints both JSON lines. Dagster's side needs a virtualenv with dagster 1.13.28:
#   python3 -m venv .venv-dagster && .venv-dagster/bin/pip install dagster==1.13.28
set -euo pipefail
cd "$(dirname "$0")/.."
python="${DAGSTER_PYTHON:-.venv-dagster/bin/python}"
echo "strata:  $(cargo bench -q -p strata-core --bench partitions 2>/dev/null | tail -1)"
echo "dagster: $("$python" bench/dagster/partitions_bench.py | tail -1)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
