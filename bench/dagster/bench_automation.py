"""Declarative-automation tick benchmark for Dagster (the peer of Strata's automation_tick).

Builds the layered graph of bench/automation/graphgen.py (N assets, 10 layers, seed 42), every
asset daily-partitioned over 2024 (2024-01-01 .. 2025-01-01 exclusive: 366 partitions) or
unpartitioned, all with AutomationCondition.eager(), and times
dagster.evaluate_automation_conditions against an ephemeral (in-memory SQLite) instance:

  tick1: the first tick, nothing materialized, no cursor
  tick2: after one AssetMaterialization per root asset (partition 2024-12-31) is reported
         with instance.report_runless_asset_event; cursor = tick1's
  tick3: nothing new since tick2; cursor = tick2's

tickN_s is wall time (time.perf_counter), tickN_cpu_s this process's CPU time
(time.process_time) over the same call. Prints one JSON line.

Usage: python bench/dagster/bench_automation.py --n 1000 [--unpartitioned] [--layers 10] [--seed 42]
(with dagster==1.13.28 installed).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import dagster as dg

# AssetSelection.all(include_sources=True) inside the evaluator warns (beta); keep stdout clean.
warnings.filterwarnings("ignore")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "automation"))
from graphgen import layered_graph  # noqa: E402


def build_assets(n: int, layers: int, seed: int, partitions):
    layer_names, deps = layered_graph(n, layers, seed)
    condition = dg.AutomationCondition.eager()
    assets = []
    for names in layer_names:
        for name in names:

            @dg.asset(
                name=name,
                deps=deps[name],
                partitions_def=partitions,
                automation_condition=condition,
            )
            def _noop() -> None:
                return None

            assets.append(_noop)
    return layer_names, deps, assets


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--layers", type=int, default=10)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--unpartitioned", action="store_true")
    a = p.parse_args()
    partitioned = not a.unpartitioned
    daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2025-01-01")

    out: dict = {
        "bench": "automation",
        "dagster": dg.__version__,
        "python": platform.python_version(),
        "n_assets": a.n,
        "partitions_per_asset": len(daily.get_partition_keys()) if partitioned else 1,
    }
    started = time.perf_counter()
    layer_names, deps, assets = build_assets(a.n, a.layers, a.seed, daily if partitioned else None)
    defs = dg.Definitions(assets=assets)
    defs.resolve_asset_graph()  # cached on the Definitions; not part of any tick
    out["load_definitions_s"] = time.perf_counter() - started
    out["n_edges"] = sum(len(v) for v in deps.values())

    instance = dg.DagsterInstance.ephemeral()
    gc.collect()

    def tick(name: str, cursor):
        cpu, wall = time.process_time(), time.perf_counter()
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        out[f"{name}_s"] = time.perf_counter() - wall
        out[f"{name}_cpu_s"] = time.process_time() - cpu
        out[f"{name}_requested"] = result.total_requested
        return result

    first = tick("tick1", None)
    latest = daily.get_last_partition_key() if partitioned else None
    for name in layer_names[0]:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=name, partition=latest))
    second = tick("tick2", first.cursor)
    tick("tick3", second.cursor)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
