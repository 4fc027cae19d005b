#!/usr/bin/env python3
"""Time Dagster's partition operations that Strata's partitions benchmark also measures.

Each figure is the median of 5 runs in this one process, after one warm-up run. Prints one JSON
line (seconds). Run with a Python environment that has the pinned dagster release installed:

    python bench/dagster/partitions_bench.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import warnings
from datetime import datetime, timedelta, timezone

warnings.filterwarnings("ignore")

import dagster as dg  # noqa: E402

RUNS = 5
HOURLY_COUNT = 200_000
DAILY_COUNT = 10_000


def measure(fn):
    fn()  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    results = {"dagster_version": dg.__version__, "runs": RUNS, "statistic": "median_seconds"}

    # (a) keys of an hourly definition with exactly 200,000 partitions.
    hourly_start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    hourly = dg.HourlyPartitionsDefinition(start_date="2000-01-01-00:00")
    hourly_now = hourly_start + timedelta(hours=HOURLY_COUNT)
    keys = hourly.get_partition_keys(current_time=hourly_now)
    assert len(keys) == HOURLY_COUNT, len(keys)
    results["keys_200k_hourly"] = measure(lambda: hourly.get_partition_keys(current_time=hourly_now))

    # (b) the missing set when every other one of those partitions is materialized.
    materialized_keys = keys[::2]
    assert len(materialized_keys) == HOURLY_COUNT // 2
    with dg.partition_loading_context(effective_dt=hourly_now):
        def build():
            return hourly.empty_subset().with_partition_keys(materialized_keys)

        materialized = build()
        assert len(materialized) == HOURLY_COUNT // 2
        results["build_materialized_subset_100k"] = measure(build)

        def missing():
            result = hourly.subset_with_all_partitions() - materialized
            return len(result)

        assert missing() == HOURLY_COUNT // 2
        results["missing_200k"] = measure(missing)

    # (c), (d) a rolling 7-day window over 10,000 daily partitions.
    daily_start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    daily = dg.DailyPartitionsDefinition(start_date="2000-01-01")
    daily_now = daily_start + timedelta(days=DAILY_COUNT)
    rolling = dg.TimeWindowPartitionMapping(start_offset=-6, end_offset=0)
    with dg.partition_loading_context(effective_dt=daily_now):
        daily_keys = daily.get_partition_keys()
        assert len(daily_keys) == DAILY_COUNT
        everything = daily.subset_with_all_partitions()

        def all_at_once():
            return rolling.get_upstream_mapped_partitions_result_for_partitions(
                everything, daily, daily, current_time=daily_now
            )

        assert len(all_at_once().partitions_subset) == DAILY_COUNT
        results["rolling_window_10k_daily"] = measure(all_at_once)

        singles = [daily.empty_subset().with_partition_keys([k]) for k in daily_keys]

        def one_by_one():
            for subset in singles:
                rolling.get_upstream_mapped_partitions_result_for_partitions(
                    subset, daily, daily, current_time=daily_now
                )

        results["rolling_window_10k_daily_each"] = measure(one_by_one)

    results["python"] = platform.python_version()
    results["cpus"] = os.cpu_count()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
