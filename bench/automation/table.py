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


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(rows, sizes, unit: str) -> None:
    """Wall times (`unit` "") or CPU times (`unit` "_cpu") of both sides, with the ratio."""
    print("| assets | tick | Strata (median) | Dagster 1.13.28 | Dagster / Strata |")
    print("|---:|---|---:|---:|---:|")
    for n in sizes:
        strata = [r for r in rows if r["side"] == "strata" and r["n_assets"] == n]
        dagster = next((r for r in rows if r["side"] == "dagster" and r["n_assets"] == n), None)
        for tick, name in TICKS:
            ms = median(r.get(f"{tick}{unit}_ms") for r in strata)
            seconds = dagster.get(f"{tick}{unit}_s") if dagster else None
            if dagster is not None and not dagster.get("finished", True):
                theirs = "not finished"
            else:
                theirs = "—" if seconds is None else f"{seconds:,.1f} s"
            ratio = f"{seconds * 1000 / ms:,.0f}×" if ms and seconds else "—"
            ours = "—" if ms is None else f"{ms:,.2f} ms" if ms < 10 else f"{ms:,.1f} ms"
            print(f"| {n:,} | {name} | {ours} | {theirs} | {ratio} |")


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path) if line.strip()]
    sizes = sorted({r["n_assets"] for r in rows})
    print("Wall time per tick:\n")
    table(rows, sizes, "")
    if any(r.get("tick1_cpu_ms") is not None and r.get("repeat", 1) > 1 for r in rows):
        print("\nCPU time per tick (Strata: per evaluation over its repetitions):\n")
        table(rows, sizes, "_cpu")
    loads = [r["load"] for r in rows]
    print(f"\nLoad average (1 min) during the runs: {min(loads):.1f}–{max(loads):.1f}.")


if __name__ == "__main__":
    main(sys.argv[1])
