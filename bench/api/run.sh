#!/usr/bin/env bash
# API benchmark: p50/p99 latency of the lineage of a 10,000-asset graph and of the partition
# status of an asset with 1,000,000 partitions (90% materialized in 180 runs), under concurrent
# load from wrk on loopback.
#
#   bash bench/api/run.sh
#
# Needs a release build ($STRATA_BIN, default target/release/strata or $CARGO_TARGET_DIR's),
# python3 and wrk (Debian: apt-get install wrk). Settings: ASSETS (10000), PARTITIONS (1000000),
# CONNECTIONS (8), DURATION (20s), THREADS (1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${STRATA_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/strata}"
[ -x "$bin" ] || { echo "error: no strata binary at $bin (cargo build --release --bin strata)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install wrk)" >&2; exit 2; }
assets="${ASSETS:-10000}"; partitions="${PARTITIONS:-1000000}"
connections="${CONNECTIONS:-8}"; duration="${DURATION:-20s}"; threads="${THREADS:-1}"
work="$(mktemp -d)"; trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# Serves $1 on a free port; sets $url.
serve() {
  "$bin" --repo "$1" serve --bind 127.0.0.1:0 > "$1.out" 2> "$1.err" &
  for _ in $(seq 600); do
    url="$(grep -o 'http://[0-9.:]*' "$1.out" 2>/dev/null || true)"
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  echo "error: the server did not start: $(cat "$1.err")" >&2; exit 1
}

# Times the first request, then loads the URL; prints one table row.
measure() {
  local name="$1" target="$2"
  local first; first="$(curl -s -o /dev/null -w '%{time_total}' "$target")"
  local out; out="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$target")"
  local p50 p99 rps
  p50="$(awk '$1 == "50%" {print $2}' <<< "$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<< "$out")"
  rps="$(awk '$1 == "Requests/sec:" {print $2}' <<< "$out")"
  echo "| $name | $(printf '%.0f ms' "$(echo "$first * 1000" | bc -l)") | $p50 | $p99 | $rps |"
}

log "generating a $assets-asset layered graph"
python3 "$here/make_repos.py" lineage "$work/lineage" "$assets"
log "generating an asset with $partitions hourly partitions, the first 90% reported materialized but every 5,000th"
python3 "$here/make_repos.py" status "$work/status" "$partitions"
python3 - "$bin" "$work/status" "$partitions" <<'PY'
import datetime, subprocess, sys
bin, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = datetime.datetime(1910, 1, 1)
keys = [(start + datetime.timedelta(hours=h)).strftime("%Y-%m-%d-%H:%M")
        for h in range(n * 9 // 10) if h % 5000 != 4999]
for i in range(0, len(keys), 20000):
    args = [bin, "--repo", root, "report", "bench/hourly"]
    for k in keys[i:i + 20000]:
        args += ["--partition", k]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
PY

echo "Strata $("$bin" --version), $(nproc) CPUs, wrk -t$threads -c$connections -d$duration on loopback, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "| request | first (cold) | p50 | p99 | requests/s |"
echo "|---|---:|---:|---:|---:|"
serve "$work/lineage"
measure "lineage of $assets assets (\`GET /api/v1/lineage\`)" "$url/api/v1/lineage"
kill %1 2>/dev/null || true; wait 2>/dev/null || true
serve "$work/status"
measure "status of $partitions partitions (\`GET …/partitions/status\`)" "$url/api/v1/assets/bench/hourly/partitions/status"
