"""Prints the automation benchmark's table from the JSON lines of bench/automation/run.sh.

Usage: python3 bench/automation/table.py bench/automation/out/<time>.jsonl
"""

import json
import statistics
import sys

TICKS = [
    ("tick1", "1 (cold)"),
    ("tick2", "2 (roots' latest partition updated)"),
    ("tick3", "3 (no change)"),
]


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path) if line.strip()]
    sizes = sorted({r["n_assets"] for r in rows})
    print("| assets | tick | Strata (median) | Dagster 1.13.28 | Dagster / Strata |")
    print("|---:|---|---:|---:|---:|")
    for n in sizes:
        strata = [r for r in rows if r["side"] == "strata" and r["n_assets"] == n]
        dagster = next((r for r in rows if r["side"] == "dagster" and r["n_assets"] == n), None)
        for tick, name in TICKS:
            ms = statistics.median(r[f"{tick}_ms"] for r in strata) if strata else None
            if dagster is None:
                theirs, ratio = "—", "—"
            elif not dagster.get("finished", True):
                theirs, ratio = "not finished", "—"
            else:
                seconds = dagster[f"{tick}_s"]
                theirs = f"{seconds:,.1f} s"
                ratio = f"{seconds * 1000 / ms:,.0f}×" if ms else "—"
            ours = "—" if ms is None else f"{ms:,.2f} ms" if ms < 10 else f"{ms:,.1f} ms"
            print(f"| {n:,} | {name} | {ours} | {theirs} | {ratio} |")
    loads = [r["load"] for r in rows]
    print(f"\nLoad average (1 min) during the runs: {min(loads):.1f}–{max(loads):.1f}.")


if __name__ == "__main__":
    main(sys.argv[1])
