#!/usr/bin/env python3
"""Generate the Dagster reference vectors for partitions and partition mappings.

Run with a Python environment that has the pinned dagster release installed:

    python crates/core/tests/dagster/generate_vectors.py

It translates Strata partition and mapping specs (the JSON form of the TOML declarations in
crates/core/src/partitions/spec.rs) into Dagster objects, evaluates them at a fixed `now`, and
writes partitions.json and mappings.json next to this file. The output is deterministic.
"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

warnings.filterwarnings("ignore")

import dagster as dg  # noqa: E402
from dagster import DagsterInstance  # noqa: E402
from dagster._core.definitions.partitions.mapping.multi.multi_to_single import (  # noqa: E402
    get_infer_single_to_multi_dimension_deps_result,
)
from dagster._core.definitions.partitions.subset.time_window import (  # noqa: E402
    TimeWindowPartitionsSubset,
)
from dagster._core.definitions.partitions.utils.mapping import (  # noqa: E402
    infer_partition_mapping,
)
from dagster._time import get_timezone  # noqa: E402
from dagster._utils.schedules import is_valid_cron_schedule  # noqa: E402

HERE = Path(__file__).resolve().parent
FULL_LIST_LIMIT = 3000
EDGE_COUNT = 100

TIME_KINDS = ("hourly", "daily", "weekly", "monthly", "cron")
TIME_CLASSES = {
    "hourly": dg.HourlyPartitionsDefinition,
    "daily": dg.DailyPartitionsDefinition,
    "weekly": dg.WeeklyPartitionsDefinition,
    "monthly": dg.MonthlyPartitionsDefinition,
}
# Offsets each grain's Dagster constructor really uses (others are swallowed by **kwargs there).
GRAIN_OFFSETS = {
    "hourly": ("minute_offset",),
    "daily": ("minute_offset", "hour_offset"),
    "weekly": ("minute_offset", "hour_offset", "day_offset"),
    "monthly": ("minute_offset", "hour_offset", "day_offset"),
}
DEFAULT_FMT = {
    "hourly": "%Y-%m-%d-%H:%M",
    "daily": "%Y-%m-%d",
    "weekly": "%Y-%m-%d",
    "monthly": "%Y-%m-%d",
    "cron": "%Y-%m-%d-%H:%M",
}


# --------------------------------------------------------------------------------------------
# Spec -> Dagster
# --------------------------------------------------------------------------------------------


def parse_exclusion(text: str, fmt: str):
    """A cron string stays a string; anything else is a local wall time (naive datetime).

    Non-cron exclusions are parsed in the definition's fmt first, then as ISO 8601
    (YYYY-MM-DD, YYYY-MM-DDTHH:MM, YYYY-MM-DDTHH:MM:SS). Dagster attaches the definition's
    timezone to the naive value.
    """
    if is_valid_cron_schedule(text):
        return text
    for candidate in (fmt, "%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, candidate)
        except ValueError:
            continue
    return text  # Dagster rejects it as an invalid cron schedule


def build_partitions_def(spec):
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ValueError(f"a partitions spec has exactly one kind: {spec!r}")
    ((kind, body),) = spec.items()
    if kind in TIME_CLASSES:
        allowed = {"start", "end", "timezone", "fmt", "end_offset", "exclusions"}
        allowed |= set(GRAIN_OFFSETS[kind])
        unknown = set(body) - allowed
        if unknown:
            raise ValueError(f"generator refuses {kind} fields Dagster would ignore: {unknown}")
        fmt = body.get("fmt") or DEFAULT_FMT[kind]
        kwargs = {"start_date": body["start"]}
        if body.get("end") is not None:
            kwargs["end_date"] = body["end"]
        for field in ("timezone", "fmt", "end_offset", *GRAIN_OFFSETS[kind]):
            if body.get(field) is not None:
                kwargs[field] = body[field]
        if body.get("exclusions"):
            kwargs["exclusions"] = [parse_exclusion(e, fmt) for e in body["exclusions"]]
        return TIME_CLASSES[kind](**kwargs)
    if kind == "cron":
        fmt = body.get("fmt") or DEFAULT_FMT["cron"]
        kwargs = {
            "cron_schedule": body["schedule"],
            "start": body["start"],
            "fmt": fmt,
        }
        for field in ("end", "timezone", "end_offset"):
            if body.get(field) is not None:
                kwargs[field] = body[field]
        if body.get("exclusions"):
            kwargs["exclusions"] = [parse_exclusion(e, fmt) for e in body["exclusions"]]
        return dg.TimeWindowPartitionsDefinition(**kwargs)
    if kind == "static":
        return dg.StaticPartitionsDefinition(list(body))
    if kind == "dynamic":
        return dg.DynamicPartitionsDefinition(name=body)
    if kind == "multi":
        return dg.MultiPartitionsDefinition(
            {name: build_partitions_def(sub) for name, sub in body.items()}
        )
    raise ValueError(f"unknown partitions kind {kind!r}")


def build_mapping(spec):
    if spec is None:
        return None
    if spec == "identity":
        return dg.IdentityPartitionMapping()
    if spec == "all":
        return dg.AllPartitionMapping()
    if spec == "last":
        return dg.LastPartitionMapping()
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ValueError(f"bad mapping spec {spec!r}")
    ((kind, body),) = spec.items()
    if kind == "time_window":
        return dg.TimeWindowPartitionMapping(
            start_offset=body.get("start_offset", 0),
            end_offset=body.get("end_offset", 0),
            allow_nonexistent_upstream_partitions=body.get("allow_nonexistent", False),
        )
    if kind == "static":
        return dg.StaticPartitionMapping(dict(body))
    if kind == "specific":
        return dg.SpecificPartitionsPartitionMapping(list(body))
    if kind == "multi_to_single":
        return dg.MultiToSingleDimensionPartitionMapping(body.get("dimension"))
    if kind == "multi":
        return dg.MultiPartitionMapping(
            {
                dim: dg.DimensionPartitionMapping(dim, build_mapping(sub))
                for dim, sub in body.items()
            }
        )
    raise ValueError(f"unknown mapping kind {kind!r}")


def uses_dynamic(spec) -> bool:
    ((kind, body),) = spec.items()
    if kind == "dynamic":
        return True
    if kind == "multi":
        return any(uses_dynamic(sub) for sub in body.values())
    return False


def parse_now(text: str) -> datetime:
    now = datetime.fromisoformat(text)
    if now.tzinfo is None:
        raise ValueError(f"now must carry an offset: {text}")
    return now


def iso(dt: datetime, tz_name: str) -> str:
    """RFC 3339 in the definition's timezone, normalised through the instant.

    Dagster sometimes carries wall times that do not exist (spring-forward gap) on its window
    objects; going through the timestamp gives the offset that is really in force.
    """
    return datetime.fromtimestamp(dt.timestamp(), get_timezone(tz_name)).isoformat()


class CaseError(Exception):
    """A mistake in a case of this script (not a Dagster answer)."""


def error_record(exc: BaseException, stage: str):
    return {"error": str(exc), "error_type": type(exc).__name__, "error_stage": stage}


def make_instance(dynamic):
    instance = DagsterInstance.ephemeral()
    for name, keys in (dynamic or {}).items():
        instance.add_dynamic_partitions(name, list(keys))
    return instance


def time_dimension(pdef):
    """(dimension name or None, time partitions def) when pdef has time windows."""
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return None, pdef
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        dims = [
            d for d in pdef.partitions_defs if isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)
        ]
        if len(dims) == 1:
            return dims[0].name, dims[0].partitions_def
    return None, None


def window_of(pdef, key):
    dim, tdef = time_dimension(pdef)
    if tdef is None:
        return None
    time_key = key if dim is None else pdef.get_partition_key_from_str(key).keys_by_dimension[dim]
    window = tdef.time_window_for_partition_key(time_key)
    return {"key": key, "start": iso(window.start, tdef.timezone), "end": iso(window.end, tdef.timezone)}


# --------------------------------------------------------------------------------------------
# Partition cases
# --------------------------------------------------------------------------------------------

NOT_A_KEY = ["not-a-date", ""]


def P(name, spec, now, absent=(), dynamic=None):
    return {"name": name, "spec": spec, "now": now, "dynamic": dynamic, "absent": list(absent)}


def d(start, **kw):
    return {"daily": {"start": start, **kw}}


def h(start, **kw):
    return {"hourly": {"start": start, **kw}}


def w(start, **kw):
    return {"weekly": {"start": start, **kw}}


def m(start, **kw):
    return {"monthly": {"start": start, **kw}}


def c(schedule, start, **kw):
    return {"cron": {"schedule": schedule, "start": start, **kw}}


NY = "America/New_York"
BER = "Europe/Berlin"

PARTITION_CASES = [
    # ---- daily, UTC: now relative to boundaries
    P("daily_utc_basic", d("2024-01-01"), "2024-01-20T12:00:00+00:00",
      ["2023-12-31", "2024-01-20", "2024-1-5", "2024-01-05T00:00", *NOT_A_KEY]),
    P("daily_utc_now_exactly_on_boundary", d("2024-01-01"), "2024-01-20T00:00:00+00:00",
      ["2024-01-20", "2023-12-31"]),
    P("daily_utc_now_one_second_before_boundary", d("2024-01-01"), "2024-01-19T23:59:59+00:00",
      ["2024-01-19", "2024-01-20"]),
    P("daily_utc_now_before_start", d("2024-06-01"), "2024-01-01T00:00:00+00:00",
      ["2024-06-01", "2024-01-01", "2023-12-31"]),
    P("daily_utc_now_inside_first_window", d("2024-01-01"), "2024-01-01T12:00:00+00:00",
      ["2024-01-01"]),
    P("daily_utc_now_at_end_of_first_window", d("2024-01-01"), "2024-01-02T00:00:00+00:00",
      ["2024-01-02"]),
    P("daily_start_mid_day_rounds_up", d("2024-01-01-06:00", fmt="%Y-%m-%d-%H:%M"), "2024-01-06T00:00:00+00:00",
      ["2024-01-01-00:00", "2024-01-01-06:00", "2024-01-02"]),
    P("daily_new_york_end_before_now", d("2013-01-01", end="2014-01-01", timezone=NY),
      "2024-03-20T12:00:00+00:00", ["2014-01-01", "2012-12-31", "2013-02-29"]),
    P("daily_utc_end_after_now", d("2024-01-01", end="2024-02-01"), "2024-01-10T06:00:00+00:00",
      ["2024-01-09", "2024-01-31"]),
    P("daily_utc_end_equals_start", d("2024-01-01", end="2024-01-01"), "2024-03-01T00:00:00+00:00",
      ["2024-01-01"]),
    P("daily_utc_long_history", d("2000-01-01"), "2024-03-20T12:00:00+00:00",
      ["1999-12-31", "2024-03-20", "2000-02-30"]),
    # ---- daily, DST
    P("daily_new_york_spring_forward", d("2024-03-01", timezone=NY), "2024-03-20T12:00:00+00:00",
      ["2024-03-20", "2024-02-29", "2024-03-10-02:00", *NOT_A_KEY]),
    P("daily_new_york_fall_back", d("2024-10-25", timezone=NY), "2024-11-10T12:00:00+00:00",
      ["2024-11-10", "2024-11-03-01:00", "2024-10-24"]),
    P("daily_new_york_now_utc_midnight_not_local", d("2024-03-01", timezone=NY), "2024-03-10T04:30:00+00:00",
      ["2024-03-09"]),
    P("daily_new_york_now_on_local_midnight", d("2024-03-01", timezone=NY), "2024-03-10T05:00:00+00:00",
      ["2024-03-10"]),
    P("daily_berlin_spring_forward", d("2024-03-25", timezone=BER), "2024-04-05T00:00:00+00:00",
      ["2024-04-05", "2024-03-24"]),
    P("daily_berlin_fall_back", d("2024-10-20", timezone=BER), "2024-11-02T00:00:00+00:00",
      ["2024-11-02", "2024-11-01"]),
    P("daily_new_york_hour_offset_2_30_spring_forward", d("2024-03-07", timezone=NY, hour_offset=2, minute_offset=30),
      "2024-03-14T12:00:00+00:00", ["2024-03-14", "2024-03-06"]),
    P("daily_new_york_hour_offset_1_fall_back", d("2024-10-31", timezone=NY, hour_offset=1),
      "2024-11-07T12:00:00+00:00", ["2024-11-07", "2024-10-30"]),
    P("daily_berlin_hour_offset_2_spring_forward", d("2024-03-28", timezone=BER, hour_offset=2),
      "2024-04-03T12:00:00+00:00", ["2024-04-03"]),
    P("daily_berlin_hour_offset_2_fall_back", d("2024-10-24", timezone=BER, hour_offset=2, minute_offset=30),
      "2024-10-31T12:00:00+00:00", ["2024-10-31"]),
    P("daily_utc_minute_and_hour_offset", d("2024-01-01", hour_offset=16, minute_offset=15),
      "2024-01-10T16:15:00+00:00", ["2024-01-09", "2023-12-31"]),
    # ---- daily, half-hour and 45-minute zones
    P("daily_kolkata", d("2024-01-01", timezone="Asia/Kolkata"), "2024-01-10T18:30:00+00:00",
      ["2024-01-11", "2024-01-10"]),
    P("daily_kathmandu_hour_offset", d("2024-01-01", timezone="Asia/Kathmandu", hour_offset=6),
      "2024-01-10T00:15:00+00:00", ["2024-01-10", "2023-12-31"]),
    # ---- daily, custom fmt (start/end written in that fmt)
    P("daily_fmt_slashes", d("2024/01/01", end="2024/02/01", fmt="%Y/%m/%d"), "2024-03-01T00:00:00+00:00",
      ["2024-01-05", "2024/02/01", "2023/12/31"]),
    P("daily_fmt_compact", d("20240101", fmt="%Y%m%d", timezone=NY), "2024-01-15T12:00:00+00:00",
      ["2024-01-05", "20240115", "2024015"]),
    P("daily_fmt_dotted_day_first", d("28.12.2023", end="05.01.2024", fmt="%d.%m.%Y"), "2024-03-01T00:00:00+00:00",
      ["2024-01-01", "05.01.2024", "1.1.2024"]),
    # ---- daily, end_offset
    P("daily_end_offset_plus1_mid_window", d("2024-01-01", end_offset=1), "2024-01-10T12:00:00+00:00",
      ["2024-01-11", "2024-01-12"]),
    P("daily_end_offset_plus1_on_boundary", d("2024-01-01", end_offset=1), "2024-01-10T00:00:00+00:00",
      ["2024-01-11"]),
    P("daily_end_offset_plus2_mid_window", d("2024-01-01", end_offset=2), "2024-01-10T12:00:00+00:00",
      ["2024-01-12"]),
    P("daily_end_offset_minus1_mid_window", d("2024-01-01", end_offset=-1), "2024-01-10T12:00:00+00:00",
      ["2024-01-09", "2024-01-10"]),
    P("daily_end_offset_minus1_on_boundary", d("2024-01-01", end_offset=-1), "2024-01-10T00:00:00+00:00",
      ["2024-01-09"]),
    P("daily_end_offset_plus1_now_before_start", d("2024-01-10", end_offset=1), "2024-01-05T12:00:00+00:00",
      ["2024-01-10", "2024-01-05"]),
    P("daily_end_offset_plus1_now_inside_first_window", d("2024-01-10", end_offset=1), "2024-01-10T12:00:00+00:00",
      ["2024-01-11"]),
    P("daily_end_offset_plus1_now_inside_day_before_start", d("2024-01-10", end_offset=1), "2024-01-09T12:00:00+00:00",
      ["2024-01-09", "2024-01-11"]),
    P("daily_end_offset_plus1_now_on_day_before_start", d("2024-01-10", end_offset=1), "2024-01-09T00:00:00+00:00",
      ["2024-01-10"]),
    P("daily_end_offset_plus2_now_two_days_before_start", d("2024-01-10", end_offset=2), "2024-01-08T12:00:00+00:00",
      ["2024-01-11"]),
    P("daily_end_offset_plus3_now_inside_day_before_start", d("2024-01-10", end_offset=3), "2024-01-09T12:00:00+00:00",
      ["2024-01-12"]),
    P("daily_end_offset_minus1_second_window", d("2024-01-10", end_offset=-1), "2024-01-12T00:00:00+00:00",
      ["2024-01-11"]),
    P("daily_end_offset_minus1_only_one_window", d("2024-01-10", end_offset=-1), "2024-01-11T12:00:00+00:00",
      ["2024-01-10"]),
    P("daily_end_offset_plus2_with_end", d("2024-01-01", end="2024-01-10", end_offset=2), "2024-01-09T12:00:00+00:00",
      ["2024-01-10", "2024-01-11"]),
    P("daily_end_offset_plus2_end_long_past", d("2024-01-01", end="2024-01-10", end_offset=2), "2024-06-01T00:00:00+00:00",
      ["2024-01-10", "2024-01-11"]),
    # ---- daily, exclusions
    P("daily_exclusions_weekends_and_christmas", d("2024-12-01", exclusions=["0 0 * * 6,0", "2024-12-25"]),
      "2025-01-08T12:00:00+00:00", ["2024-12-25", "2024-12-07", "2024-12-08", "2025-01-08"]),
    P("daily_exclusions_new_york_fmt_date", d("2024/12/20", fmt="%Y/%m/%d", timezone=NY, exclusions=["2024/12/25", "2025-01-01"]),
      "2025-01-03T12:00:00+00:00", ["2024/12/25", "2025/01/01", "2024-12-26"]),
    P("daily_exclusions_date_misses_offset_window", d("2024-12-20", hour_offset=6, exclusions=["2024-12-25"]),
      "2024-12-28T12:00:00+00:00", ["2024-12-19"]),
    P("daily_exclusions_datetime_hits_offset_window", d("2024-12-20", hour_offset=6, exclusions=["2024-12-25T06:00"]),
      "2024-12-28T12:00:00+00:00", ["2024-12-25"]),
    P("daily_exclusions_with_end_offset_plus1", d("2024-12-01", end_offset=1, exclusions=["0 0 * * 6,0"]),
      "2024-12-06T12:00:00+00:00", ["2024-12-07", "2024-12-09"]),
    P("daily_exclusions_last_day_excluded", d("2024-12-01", exclusions=["0 0 * * 6,0"]),
      "2024-12-08T12:00:00+00:00", ["2024-12-07"]),
    # ---- hourly
    P("hourly_utc_basic", h("2024-01-01-00:00"), "2024-01-02T03:30:00+00:00",
      ["2024-01-02-03:00", "2023-12-31-23:00", "2024-01-01", "2024-01-01-00:30", "2024-01-01-01:00+0000", *NOT_A_KEY]),
    P("hourly_utc_minute_offset_30", h("2024-01-01-00:00", minute_offset=30), "2024-01-01T12:45:00+00:00",
      ["2024-01-01-00:00", "2024-01-01-12:30", "2024-01-01-01:00"]),
    P("hourly_utc_now_on_boundary", h("2024-01-01-00:00"), "2024-01-01T06:00:00+00:00",
      ["2024-01-01-06:00"]),
    P("hourly_utc_long", h("2024-01-01-00:00"), "2024-06-01T00:00:00+00:00",
      ["2024-06-01-00:00", "2023-12-31-23:00"]),
    P("hourly_new_york_spring_forward_default_fmt", h("2024-03-09-20:00", timezone=NY), "2024-03-10T14:00:00+00:00",
      ["2024-03-09-19:00", "2024-03-10-10:00", "2024-03-10-02:00-0500"]),
    P("hourly_new_york_fall_back_default_fmt", h("2024-11-02-22:00", timezone=NY), "2024-11-03T14:00:00+00:00",
      ["2024-11-03-01:00-0400", "2024-11-03-02:00-0500", "2024-11-03-09:00", "2024-11-02-21:00"]),
    P("hourly_new_york_fall_back_fmt_with_offset", h("2024-11-02-22:00-0400", timezone=NY, fmt="%Y-%m-%d-%H:%M%z"),
      "2024-11-03T14:00:00+00:00", ["2024-11-03-01:00", "2024-11-03-01:00-0600", "2024-11-03-09:00-0500"]),
    P("hourly_new_york_spring_forward_fmt_with_offset", h("2024-03-09-22:00-0500", timezone=NY, fmt="%Y-%m-%d-%H:%M%z"),
      "2024-03-10T12:00:00+00:00", ["2024-03-10-02:00-0500", "2024-03-10-03:00-0500"]),
    P("hourly_new_york_fall_back_minute_offset_30", h("2024-11-02-23:00", timezone=NY, minute_offset=30),
      "2024-11-03T10:00:00+00:00", ["2024-11-03-01:30-0400", "2024-11-03-01:00"]),
    P("hourly_berlin_spring_forward_default_fmt", h("2024-03-30-22:00", timezone=BER), "2024-03-31T06:00:00+00:00",
      ["2024-03-30-21:00"]),
    P("hourly_berlin_fall_back_default_fmt", h("2024-10-26-23:00", timezone=BER), "2024-10-27T06:00:00+00:00",
      ["2024-10-27-02:00+0200", "2024-10-27-03:00+0100"]),
    P("hourly_berlin_fall_back_fmt_with_offset", h("2024-10-26-23:00+0200", timezone=BER, fmt="%Y-%m-%d-%H:%M%z"),
      "2024-10-27T06:00:00+00:00", ["2024-10-27-02:00"]),
    P("hourly_berlin_contract_example_minute_offset_30", h("2024-03-01-00:00", timezone=BER, fmt="%Y-%m-%d-%H:%M", minute_offset=30),
      "2024-03-01T08:00:00+00:00", ["2024-03-01-00:00", "2024-02-29-23:30"]),
    P("hourly_kolkata", h("2024-01-01-00:00", timezone="Asia/Kolkata"), "2024-01-01T00:00:00+00:00",
      ["2024-01-01-05:30", "2024-01-01-05:00"]),
    P("hourly_kolkata_minute_offset_30", h("2024-01-01-00:00", timezone="Asia/Kolkata", minute_offset=30),
      "2024-01-01T00:00:00+00:00", ["2024-01-01-00:00", "2024-01-01-05:30"]),
    P("hourly_kathmandu", h("2024-01-01-00:00", timezone="Asia/Kathmandu"), "2024-01-01T04:00:00+00:00",
      ["2024-01-01-00:45", "2024-01-01-09:00"]),
    P("hourly_kathmandu_minute_offset_15", h("2024-01-01-00:00", timezone="Asia/Kathmandu", minute_offset=15),
      "2024-01-01T04:00:00+00:00", ["2024-01-01-00:00", "2024-01-01-09:15"]),
    P("hourly_fmt_compact", h("2024010100", fmt="%Y%m%d%H", timezone=NY), "2024-01-01T15:00:00+00:00",
      ["2024-01-01-00:00", "2024010110"]),
    P("hourly_end_offset_plus1", h("2024-01-01-00:00", end_offset=1), "2024-01-01T05:30:00+00:00",
      ["2024-01-01-06:00"]),
    P("hourly_end_offset_minus1", h("2024-01-01-00:00", end_offset=-1), "2024-01-01T05:30:00+00:00",
      ["2024-01-01-04:00"]),
    P("hourly_end_before_now", h("2024-01-01-00:00", end="2024-01-01-12:00"), "2024-02-01T00:00:00+00:00",
      ["2024-01-01-12:00"]),
    P("hourly_now_before_start", h("2024-01-01-00:00"), "2023-12-31T23:00:00+00:00",
      ["2024-01-01-00:00"]),
    P("hourly_exclusions_weekend_every_minute_and_dates", h("2024-12-06-20:00", exclusions=["* * * * 6,0", "2024-12-09", "2024-12-09T05:00"]),
      "2024-12-09T08:00:00+00:00", ["2024-12-07-00:00", "2024-12-08-23:00", "2024-12-09-00:00", "2024-12-09-05:00"]),
    # ---- weekly
    P("weekly_utc_default_sunday", w("2024-01-01"), "2024-03-20T12:00:00+00:00",
      ["2024-01-01", "2024-03-17", "2024-01-08"]),
    P("weekly_contract_monday_end_offset_1", w("2024-01-01", day_offset=1, end_offset=1), "2024-03-20T12:00:00+00:00",
      ["2024-03-25", "2024-01-07"]),
    P("weekly_wednesday_hour_offset_new_york_dst", w("2024-02-20", day_offset=3, hour_offset=6, timezone=NY),
      "2024-04-10T12:00:00+00:00", ["2024-04-10", "2024-02-21-06:00"]),
    P("weekly_berlin_sunday_fall_back", w("2024-10-01", timezone=BER), "2024-11-20T00:00:00+00:00",
      ["2024-11-17"]),
    P("weekly_fmt_slashes_start_mid_week", w("2024/01/03", day_offset=1, fmt="%Y/%m/%d"), "2024-03-01T00:00:00+00:00",
      ["2024/01/01", "2024/01/03", "2024-01-08"]),
    P("weekly_end_offset_minus1", w("2024-01-01", end_offset=-1), "2024-03-20T12:00:00+00:00",
      ["2024-03-10"]),
    # ---- monthly
    P("monthly_utc_default", m("2024-01-01"), "2024-06-15T00:00:00+00:00",
      ["2024-06-01", "2023-12-01", "2024-02-15"]),
    P("monthly_contract_day_offset_15", m("2024-01-01", day_offset=15), "2024-06-20T00:00:00+00:00",
      ["2024-01-01", "2024-06-15", "2024-01-15-00:00"]),
    P("monthly_day_offset_28_new_york", m("2024-01-01", day_offset=28, hour_offset=3, timezone=NY), "2024-12-31T00:00:00+00:00",
      ["2024-12-28"]),
    P("monthly_day_offset_31_skips_short_months", m("2024-01-01", day_offset=31), "2024-12-01T00:00:00+00:00",
      ["2024-02-29", "2024-04-30", "2024-04-31"]),
    P("monthly_start_mid_month", m("2024-01-15"), "2024-06-15T00:00:00+00:00",
      ["2024-01-01", "2024-01-15"]),
    P("monthly_end_offset_plus2", m("2024-01-01", end_offset=2), "2024-03-20T00:00:00+00:00",
      ["2024-05-01"]),
    P("monthly_end_before_now_fmt", m("2023-01", end="2024-01", fmt="%Y-%m"), "2024-06-01T00:00:00+00:00",
      ["2024-01", "2023-01-01"]),
    P("monthly_now_on_boundary_berlin", m("2024-01-01", timezone=BER), "2024-02-29T23:00:00+00:00",
      ["2024-03-01"]),
    # ---- cron
    P("cron_every_4_hours_contract", c("0 */4 * * *", "2024-01-01-00:00", fmt="%Y-%m-%d-%H:%M"), "2024-01-03T10:00:00+00:00",
      ["2024-01-01-02:00", "2024-01-03-08:00"]),
    P("cron_every_4_hours_new_york_fall_back", c("0 */4 * * *", "2024-11-02-00:00", timezone=NY), "2024-11-04T12:00:00+00:00",
      ["2024-11-03-01:00", "2024-11-03-04:00-0500"]),
    P("cron_weekdays_0915", c("15 9 * * 1-5", "2024-01-01-00:00"), "2024-01-20T00:00:00+00:00",
      ["2024-01-06-09:15", "2024-01-01-00:00"]),
    P("cron_weekdays_0915_new_york_spring_forward", c("15 9 * * 1-5", "2024-03-04-00:00", timezone=NY, end_offset=1),
      "2024-03-12T12:00:00+00:00", ["2024-03-09-09:15"]),
    P("cron_quarterly", c("0 0 1 */3 *", "2023-01-01", fmt="%Y-%m-%d"), "2024-08-01T00:00:00+00:00",
      ["2023-02-01", "2024-07-01"]),
    P("cron_every_30_minutes_new_york_fall_back", c("*/30 * * * *", "2024-11-03-00:00", timezone=NY), "2024-11-03T08:00:00+00:00",
      ["2024-11-03-01:30-0400"]),
    P("cron_hourly_new_york_fall_back", c("0 * * * *", "2024-11-03 00", timezone=NY, fmt="%Y-%m-%d %H"), "2024-11-03T09:00:00+00:00",
      ["2024-11-03 01-0400"]),
    P("cron_daily_0130_new_york_fall_back", c("30 1 * * *", "2024-11-01-00:00", timezone=NY), "2024-11-06T00:00:00+00:00",
      ["2024-11-03-01:30-0400"]),
    P("cron_daily_0230_new_york_spring_forward", c("30 2 * * *", "2024-03-08-00:00", timezone=NY), "2024-03-13T00:00:00+00:00",
      ["2024-03-10-02:30", "2024-03-10-03:30"]),
    P("cron_exclusions_berlin", c("0 9 * * 1-5", "2024-12-16-00:00", timezone=BER, exclusions=["0 9 * * 3", "2024-12-25-09:00"]),
      "2025-01-01T00:00:00+00:00", ["2024-12-18-09:00", "2024-12-25-09:00"]),
    P("cron_end_offset_minus1", c("0 */6 * * *", "2024-01-01-00:00", end_offset=-1), "2024-01-02T07:00:00+00:00",
      ["2024-01-02-00:00"]),
    P("cron_now_before_start", c("0 */4 * * *", "2024-01-01-00:00"), "2023-06-01T00:00:00+00:00",
      ["2024-01-01-00:00"]),
    # ---- static and dynamic
    P("static_basic", {"static": ["EWR", "JFK", "LGA"]}, "2024-01-01T00:00:00+00:00",
      ["ewr", "EWR ", "SFO", ""]),
    P("static_unsorted_and_unicode", {"static": ["zeta", "Alpha", "ß-key", "with space", "a|b"]}, "2024-01-01T00:00:00+00:00",
      ["alpha", "a"]),
    P("static_empty", {"static": []}, "2024-01-01T00:00:00+00:00", ["a"]),
    P("dynamic_customers", {"dynamic": "customers"}, "2024-01-01T00:00:00+00:00",
      ["hooli", "ACME"], dynamic={"customers": ["globex", "acme", "initech"]}),
    P("dynamic_empty", {"dynamic": "customers"}, "2024-01-01T00:00:00+00:00", ["acme"], dynamic={"customers": []}),
    # ---- multi
    P("multi_date_origin_contract", {"multi": {"date": d("2013-01-01", end="2013-01-08"), "origin": {"static": ["EWR", "JFK", "LGA"]}}},
      "2024-01-01T00:00:00+00:00", ["EWR|2013-01-01", "2013-01-08|EWR", "2013-01-01|SFO", "2013-01-01", "2013-01-01|EWR|x"]),
    P("multi_dimension_names_put_static_first", {"multi": {"a_origin": {"static": ["LGA", "EWR"]}, "z_date": d("2024-01-01")}},
      "2024-01-04T00:00:00+00:00", ["2024-01-01|LGA"]),
    P("multi_static_static", {"multi": {"color": {"static": ["red", "blue"]}, "size": {"static": ["s", "m", "l"]}}},
      "2024-01-01T00:00:00+00:00", ["s|red", "red|xl"]),
    P("multi_static_dynamic", {"multi": {"customer": {"dynamic": "customers"}, "region": {"static": ["us", "eu"]}}},
      "2024-01-01T00:00:00+00:00", ["hooli|us", "us|acme"], dynamic={"customers": ["globex", "acme"]}),
    P("multi_hourly_new_york_fall_back_static", {"multi": {"hour": h("2024-11-03-00:00", timezone=NY), "site": {"static": ["a", "b"]}}},
      "2024-11-03T08:00:00+00:00", ["2024-11-03-01:00-0400|a"]),
    P("multi_weekly_static_now_before_start", {"multi": {"week": w("2024-01-01"), "site": {"static": ["a", "b"]}}},
      "2023-01-01T00:00:00+00:00", ["2024-01-07|a"]),
    P("multi_two_time_dimensions", {"multi": {"day": d("2024-01-01"), "month": m("2024-01-01")}},
      "2024-03-03T00:00:00+00:00", ["2024-01-01|2024-03-01"]),
    # ---- definitions Dagster rejects
    P("error_multi_three_dimensions", {"multi": {"a": {"static": ["x"]}, "b": {"static": ["y"]}, "c": d("2024-01-01")}}, "2024-01-01T00:00:00+00:00"),
    P("error_multi_one_dimension", {"multi": {"a": {"static": ["x"]}}}, "2024-01-01T00:00:00+00:00"),
    P("error_multi_static_key_with_pipe", {"multi": {"a": {"static": ["x|y"]}, "b": d("2024-01-01")}}, "2024-01-01T00:00:00+00:00"),
    P("error_multi_static_key_with_comma", {"multi": {"a": {"static": ["x,y"]}, "b": d("2024-01-01")}}, "2024-01-01T00:00:00+00:00"),
    P("error_multi_nested", {"multi": {"a": {"multi": {"x": {"static": ["1"]}, "y": {"static": ["2"]}}}, "b": d("2024-01-01")}}, "2024-01-01T00:00:00+00:00"),
    P("error_static_duplicate_keys", {"static": ["a", "b", "a"]}, "2024-01-01T00:00:00+00:00"),
    P("error_hourly_start_not_in_fmt", h("2024-01-01"), "2024-01-01T00:00:00+00:00"),
    P("error_daily_end_not_in_fmt", d("2024/01/01", fmt="%Y/%m/%d", end="2024-02-01"), "2024-01-01T00:00:00+00:00"),
    P("error_unknown_timezone", d("2024-01-01", timezone="Mars/Olympus_Mons"), "2024-01-01T00:00:00+00:00"),
    P("error_bad_cron", c("0 0 * *", "2024-01-01-00:00"), "2024-01-01T00:00:00+00:00"),
    P("error_bad_cron_exclusion", d("2024-01-01", exclusions=["every sunday"]), "2024-01-01T00:00:00+00:00"),
    P("error_fmt_too_coarse_for_cron", c("0 */4 * * *", "2024-01-01", fmt="%Y-%m-%d"), "2024-02-01T00:00:00+00:00"),
    P("error_hourly_fmt_without_hour", h("2024-01-01", fmt="%Y-%m-%d"), "2024-02-01T00:00:00+00:00"),
]


def absent_candidates(pdef, keys):
    """A few automatic wrong keys: the windows just outside the range, and garbage."""
    out = []
    _, tdef = time_dimension(pdef)
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        first = pdef.get_first_partition_window()
        last = pdef.get_last_partition_window()
        fmt_key = lambda dt: dt.strftime(pdef.fmt)  # noqa: E731
        if first is not None:
            prev_window = pdef.get_prev_partition_window(first.start, respect_bounds=False)
            if prev_window is not None:
                out.append(fmt_key(prev_window.start))
        if last is not None:
            nxt = pdef.get_next_partition_window(last.end, respect_bounds=False)
            if nxt is not None:
                out.append(fmt_key(nxt.start))
        elif keys == []:
            out.append(fmt_key(pdef.start))
    out.append("not-a-key")
    return out


def run_partition_case(case):
    record = {"name": case["name"], "spec": case["spec"], "now": case["now"]}
    if case["dynamic"] is not None:
        record["dynamic"] = case["dynamic"]
    now = parse_now(case["now"])
    instance = make_instance(case["dynamic"])
    try:
        pdef = build_partitions_def(case["spec"])
        with dg.partition_loading_context(effective_dt=now, dynamic_partitions_store=instance):
            if hasattr(pdef, "validate_partition_definition"):
                pdef.validate_partition_definition()
    except Exception as exc:  # noqa: BLE001
        record.update(error_record(exc, "definition"))
        return record
    with dg.partition_loading_context(effective_dt=now, dynamic_partitions_store=instance):
        keys = [str(k) for k in pdef.get_partition_keys()]
        record["count"] = len(keys)
        num = pdef.get_num_partitions() if hasattr(pdef, "get_num_partitions") else len(keys)
        if num != len(keys):
            record["dagster_get_num_partitions"] = num
        if len(keys) <= FULL_LIST_LIMIT:
            record["keys"] = keys
            listed = keys
        else:
            record["first_keys"] = keys[:EDGE_COUNT]
            record["last_keys"] = keys[-EDGE_COUNT:]
            listed = keys[:EDGE_COUNT] + keys[-EDGE_COUNT:]
        _, tdef = time_dimension(pdef)
        if tdef is not None:
            record["windows"] = [window_of(pdef, k) for k in listed]
        key_set = set(keys)
        absent, accepted = [], []
        for candidate in [*case["absent"], *absent_candidates(pdef, keys)]:
            if candidate in key_set or candidate in absent or candidate in accepted:
                continue
            try:
                has = pdef.has_partition_key(candidate)
            except Exception:  # noqa: BLE001
                has = False
            (accepted if has else absent).append(candidate)
        record["absent_keys"] = absent
        if accepted:
            # Keys Dagster's has_partition_key accepts although get_partition_keys never lists them.
            record["accepted_unlisted_keys"] = accepted
    return record


# --------------------------------------------------------------------------------------------
# Mapping cases
# --------------------------------------------------------------------------------------------


def M(name, upstream, downstream, mapping, now, up_of=(), down_of=(), dynamic=None, edges=True):
    return {
        "name": name, "upstream": upstream, "downstream": downstream, "mapping": mapping,
        "now": now, "up_of": [list(k) for k in up_of], "down_of": [list(k) for k in down_of],
        "dynamic": dynamic, "edges": edges,
    }


NOW = "2024-03-20T12:00:00+00:00"
D24 = d("2024-01-01")
H24 = h("2024-01-01-00:00")
W24 = w("2024-01-01")
M24 = m("2024-01-01")
D13_NY = d("2013-01-01", end="2014-01-01", timezone=NY)
D24_NY = d("2024-01-01", timezone=NY)
H24_NY = h("2024-01-01-00:00", timezone=NY)
ORIGINS = {"static": ["EWR", "JFK", "LGA"]}
REGIONS = {"static": ["east", "north", "west"]}
CUSTOMERS = {"customers": ["globex", "acme", "initech"]}
MULTI_DATE_ORIGIN = {"multi": {"date": d("2024-01-01", end="2024-01-11"), "origin": ORIGINS}}
DATE10 = d("2024-01-01", end="2024-01-11")
MULTI_DATE_REGION = {"multi": {"date": d("2024-01-01", end="2024-01-11"), "origin": REGIONS}}
NOW13 = "2024-03-20T12:00:00+00:00"

MAPPING_CASES = [
    # ---- identity / default between equal definitions
    M("identity_daily_equal", D24, D24, "identity", NOW, [["2024-01-05"], ["2024-01-05", "2024-01-07"]], [["2024-03-19"]]),
    M("identity_static_equal", ORIGINS, ORIGINS, "identity", NOW, [["JFK"], ["LGA", "EWR"]], [["EWR", "JFK"]]),
    M("identity_static_different_sets", ORIGINS, {"static": ["JFK", "SFO", "EWR", "BOS"]}, "identity", NOW,
      [["SFO"], ["JFK", "SFO", "BOS"], ["EWR"]], [["LGA"], ["JFK", "LGA"]]),
    M("identity_daily_different_starts", d("2024-02-01"), D24, "identity", NOW,
      [["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"], ["2024-01-15"]], [["2024-02-01"]]),
    M("identity_hourly_new_york_fall_back", H24_NY, H24_NY, "identity", "2024-11-04T00:00:00+00:00",
      [["2024-11-03-01:00", "2024-11-03-01:00-0500"]], [["2024-11-03-01:00-0500"]]),
    M("default_daily_equal", D24, D24, None, NOW, [["2024-01-05"], ["2024-01-01", "2024-01-02", "2024-01-09"]], [["2024-03-01"]]),
    M("time_window_default_daily_equal", D24, D24, {"time_window": {}}, NOW, [["2024-02-29"]], [["2024-02-29"]]),
    M("time_window_default_daily_new_york_different_fmt", d("2024/01/01", fmt="%Y/%m/%d", timezone=NY), D24_NY, {"time_window": {}}, NOW,
      [["2024-03-10"], ["2024-01-01", "2024-01-02"]], [["2024/03/10"]]),
    M("time_window_default_upstream_starts_later", d("2024-02-01"), D24, {"time_window": {}}, NOW,
      [["2024-01-31"], ["2024-01-30", "2024-02-01"], ["2024-01-31", "2024-02-01", "2024-02-02"]], [["2024-02-01"]]),
    M("time_window_default_upstream_starts_later_allow_nonexistent", d("2024-02-01"), D24,
      {"time_window": {"allow_nonexistent": True}}, NOW, [["2024-01-31"], ["2024-01-30", "2024-02-01"]], [["2024-02-01"]]),
    M("time_window_default_upstream_ends_earlier", d("2024-01-01", end="2024-02-01"), D24, {"time_window": {}}, NOW,
      [["2024-01-31"], ["2024-02-01"], ["2024-01-31", "2024-02-01", "2024-02-02"]], [["2024-01-31"]]),
    # ---- grains
    M("time_window_hourly_to_daily", H24, D24, None, NOW, [["2024-01-02"], ["2024-03-19"], ["2024-01-02", "2024-01-04"]],
      [["2024-01-02-00:00"], ["2024-01-02-23:00", "2024-01-03-00:00"], ["2024-03-20-11:00"]]),
    M("time_window_daily_to_hourly", D24, H24, None, NOW, [["2024-01-02-05:00"], ["2024-01-02-23:00", "2024-01-03-00:00"], ["2024-03-20-11:00"]],
      [["2024-01-02"], ["2024-03-19"]]),
    M("time_window_hourly_to_daily_new_york_dst", H24_NY, D24_NY, None, "2024-11-10T00:00:00+00:00",
      [["2024-03-10"], ["2024-11-03"], ["2024-03-09", "2024-03-11"]], [["2024-03-10-01:00"], ["2024-11-03-01:00-0500"], ["2024-11-03-00:00"]]),
    M("time_window_daily_to_hourly_berlin_dst", d("2024-01-01", timezone=BER), h("2024-01-01-00:00", timezone=BER), None, "2024-11-10T00:00:00+00:00",
      [["2024-03-31-01:00", "2024-03-31-03:00"], ["2024-10-27-02:00", "2024-10-27-02:00+0100"]], [["2024-03-31"], ["2024-10-27"]]),
    M("time_window_daily_to_weekly", D24, W24, None, NOW, [["2024-01-07"], ["2024-03-10"]], [["2024-01-01"], ["2024-01-07"], ["2024-01-13", "2024-01-14"], ["2024-03-17"]]),
    M("time_window_weekly_to_daily", W24, D24, None, NOW, [["2024-01-01"], ["2024-01-07"], ["2024-01-13", "2024-01-14"], ["2024-03-15"]], [["2024-01-07"], ["2024-03-10"]]),
    M("time_window_daily_to_monthly", D24, M24, None, NOW, [["2024-01-01"], ["2024-02-01"]], [["2024-01-31"], ["2024-02-29", "2024-03-01"], ["2024-03-19"]]),
    M("time_window_monthly_to_daily", M24, D24, None, NOW, [["2024-01-31"], ["2024-02-29", "2024-03-01"], ["2024-03-19"]], [["2024-01-01"], ["2024-02-01"]]),
    M("time_window_weekly_to_monthly", W24, M24, None, NOW, [["2024-01-01"], ["2024-02-01"]], [["2024-01-28"], ["2024-02-25"], ["2024-03-10"]]),
    M("time_window_monthly_to_weekly", M24, W24, None, NOW, [["2024-01-28"], ["2024-02-25"], ["2024-03-10"]], [["2024-01-01"], ["2024-02-01"]]),
    M("time_window_hourly_to_monthly", H24, M24, None, NOW, [["2024-02-01"]], [["2024-01-31-23:00"], ["2024-02-01-00:00"], ["2024-03-20-11:00"]]),
    M("time_window_monthly_to_hourly", M24, H24, None, NOW, [["2024-01-31-23:00"], ["2024-02-01-00:00"], ["2024-03-20-11:00"]], [["2024-02-01"]]),
    M("time_window_monthly_day_offset_15_to_daily", m("2024-01-01", day_offset=15), D24, None, NOW,
      [["2024-01-14"], ["2024-01-15"], ["2024-02-14", "2024-02-15"]], [["2024-01-15"], ["2024-02-15"]]),
    M("time_window_daily_hour_offset_to_hourly", d("2024-01-01", hour_offset=6), H24, None, NOW,
      [["2024-01-02-05:00"], ["2024-01-02-06:00"]], [["2024-01-01"], ["2024-01-02"]]),
    M("time_window_hourly_to_daily_hour_offset", H24, d("2024-01-01", hour_offset=6), None, NOW,
      [["2024-01-01"], ["2024-01-02"]], [["2024-01-02-05:00"], ["2024-01-02-06:00"]]),
    M("time_window_cron_4h_to_daily", c("0 */4 * * *", "2024-01-01-00:00"), D24, None, NOW, [["2024-01-02"]], [["2024-01-02-20:00"]]),
    M("time_window_daily_to_cron_weekdays", D24, c("15 9 * * 1-5", "2024-01-01-00:00"), None, NOW,
      [["2024-01-05-09:15"], ["2024-01-01-09:15"]], [["2024-01-06"], ["2024-01-08"], ["2024-01-05"]]),
    M("time_window_upstream_end_offset_plus1_hourly_to_daily", h("2024-01-01-00:00", end_offset=1), D24, None, "2024-01-05T12:30:00+00:00",
      [["2024-01-04"]], [["2024-01-05-12:00"], ["2024-01-04-23:00"]]),
    # ---- offsets between equal daily defs
    M("time_window_yesterday", D24, D24, {"time_window": {"start_offset": -1, "end_offset": -1}}, NOW,
      [["2024-01-01"], ["2024-01-02"], ["2024-01-05", "2024-01-09"], ["2024-03-19"]], [["2024-01-01"], ["2024-03-19"], ["2024-03-18", "2024-03-19"]]),
    M("time_window_rolling_7d_first_days", D13_NY, D13_NY, {"time_window": {"start_offset": -6, "end_offset": 0}}, NOW13,
      [["2013-01-01"], ["2013-01-03"], ["2013-01-07"], ["2013-01-08"], ["2013-06-15"], ["2013-12-31"], ["2013-01-02", "2013-01-20"]],
      [["2013-01-01"], ["2013-12-28"], ["2013-12-31"], ["2013-03-10"], ["2013-11-03"]]),
    M("time_window_rolling_7d_downstream_starts_earlier", d("2013-01-01", timezone=NY, end="2014-01-01"), d("2012-12-25", timezone=NY, end="2014-01-01"),
      {"time_window": {"start_offset": -6, "end_offset": 0}}, NOW13,
      [["2012-12-25"], ["2012-12-31"], ["2013-01-01"], ["2013-01-03"], ["2012-12-30", "2013-01-02"]], [["2013-01-01"]]),
    M("time_window_rolling_7d_downstream_starts_earlier_allow_nonexistent", d("2013-01-01", timezone=NY, end="2014-01-01"), d("2012-12-25", timezone=NY, end="2014-01-01"),
      {"time_window": {"start_offset": -6, "end_offset": 0, "allow_nonexistent": True}}, NOW13,
      [["2012-12-25"], ["2012-12-31"], ["2013-01-01"], ["2013-01-03"]], [["2013-01-01"]]),
    M("time_window_next_day", D24, D24, {"time_window": {"start_offset": 0, "end_offset": 1}}, NOW,
      [["2024-01-01"], ["2024-03-18"], ["2024-03-19"]], [["2024-01-01"], ["2024-01-02"], ["2024-03-19"]]),
    M("time_window_next_day_upstream_ends_earlier", d("2024-01-01", end="2024-02-01"), D24, {"time_window": {"start_offset": 0, "end_offset": 1}}, NOW,
      [["2024-01-30"], ["2024-01-31"], ["2024-02-01"], ["2024-02-05"]], [["2024-01-31"]]),
    M("time_window_yesterday_downstream_past_upstream_end", d("2024-01-01", end="2024-02-01"), D24,
      {"time_window": {"start_offset": -1, "end_offset": -1}}, NOW, [["2024-02-01"], ["2024-02-02"], ["2024-02-03"], ["2024-01-31", "2024-02-05"]], [["2024-01-31"]]),
    M("time_window_yesterday_downstream_past_upstream_end_allow_nonexistent", d("2024-01-01", end="2024-02-01"), D24,
      {"time_window": {"start_offset": -1, "end_offset": -1, "allow_nonexistent": True}}, NOW, [["2024-02-01"], ["2024-02-02"], ["2024-02-03"]], [["2024-01-31"]]),
    M("time_window_rolling_hourly_new_york_fall_back", H24_NY, H24_NY, {"time_window": {"start_offset": -2, "end_offset": 0}}, "2024-11-04T00:00:00+00:00",
      [["2024-11-03-01:00-0500"], ["2024-11-03-02:00"], ["2024-03-10-03:00"]], [["2024-11-03-01:00"], ["2024-03-10-01:00"]]),
    M("time_window_yesterday_daily_new_york_dst", D24_NY, D24_NY, {"time_window": {"start_offset": -1, "end_offset": -1}}, "2024-11-10T00:00:00+00:00",
      [["2024-03-10"], ["2024-03-11"], ["2024-11-03"], ["2024-11-04"]], [["2024-03-10"], ["2024-11-03"]]),
    M("time_window_previous_week_to_daily", D24, W24, {"time_window": {"start_offset": -1, "end_offset": -1}}, NOW,
      [["2024-01-07"], ["2024-01-14"], ["2024-03-10"]], [["2024-01-01"], ["2024-01-07"], ["2024-03-16"]]),
    M("time_window_daily_to_monthly_start_offset_minus1", D24, M24, {"time_window": {"start_offset": -1, "end_offset": 0}}, NOW,
      [["2024-01-01"], ["2024-02-01"]], [["2024-01-15"], ["2024-02-15"], ["2024-03-19"]]),
    M("time_window_hourly_to_daily_rolling", H24, D24, {"time_window": {"start_offset": -1, "end_offset": 0}}, NOW,
      [["2024-01-01"], ["2024-01-03"]], [["2024-01-01-00:00"], ["2024-01-02-12:00"], ["2024-03-20-11:00"]]),
    M("time_window_daily_to_hourly_offset_plus1", D24, H24, {"time_window": {"start_offset": 0, "end_offset": 1}}, NOW,
      [["2024-01-01-00:00"], ["2024-01-01-23:00"], ["2024-03-19-23:00"], ["2024-03-20-11:00"]], [["2024-01-02"], ["2024-03-19"]]),
    M("time_window_upstream_no_partitions_yet", d("2024-06-01"), D24, {"time_window": {}}, NOW,
      [["2024-01-05"], ["2024-03-19"]], []),
    M("time_window_rolling_upstream_no_partitions_yet", d("2024-06-01"), D24, {"time_window": {"start_offset": -6, "end_offset": 0}}, NOW,
      [["2024-01-05"], ["2024-03-19"]], []),
    M("time_window_weekly_rolling_4_weeks", W24, W24, {"time_window": {"start_offset": -3, "end_offset": 0}}, NOW,
      [["2024-01-07"], ["2024-01-21"], ["2024-03-10"]], [["2024-01-07"], ["2024-03-10"]]),
    M("time_window_monthly_day_offset_31", m("2024-01-01", day_offset=31), D24, None, "2024-12-01T00:00:00+00:00",
      [["2024-02-15"], ["2024-03-31"]], [["2024-01-31"], ["2024-03-31"]]),
    M("time_window_kolkata_hourly_to_daily", h("2024-01-01-00:00", timezone="Asia/Kolkata"), d("2024-01-01", timezone="Asia/Kolkata"), None, "2024-01-05T00:00:00+00:00",
      [["2024-01-02"]], [["2024-01-02-23:00"]]),
    M("time_window_kathmandu_daily_to_hourly_minute_offset", d("2024-01-01", timezone="Asia/Kathmandu"), h("2024-01-01-00:00", timezone="Asia/Kathmandu", minute_offset=15), None, "2024-01-05T00:00:00+00:00",
      [["2024-01-02-23:15"], ["2024-01-02-00:15"]], [["2024-01-02"]]),
    M("time_window_exclusions_upstream_weekends", d("2024-12-01", exclusions=["0 0 * * 6,0"]), d("2024-12-01"), None, "2024-12-20T00:00:00+00:00",
      [["2024-12-07"], ["2024-12-06"], ["2024-12-06", "2024-12-09"]], [["2024-12-06"], ["2024-12-09"]]),
    M("time_window_exclusions_upstream_weekends_rolling", d("2024-12-01", exclusions=["0 0 * * 6,0"]), d("2024-12-01"), {"time_window": {"start_offset": -2, "end_offset": 0}}, "2024-12-20T00:00:00+00:00",
      [["2024-12-09"], ["2024-12-08"]], [["2024-12-06"]]),
    M("time_window_inverted_offsets_depend_on_runs", D24, D24, {"time_window": {"start_offset": 1, "end_offset": -1}}, NOW,
      [["2024-01-05"], ["2024-01-05", "2024-01-06"], ["2024-01-05", "2024-01-06", "2024-01-07"], ["2024-01-05", "2024-01-07"]],
      [["2024-01-05"], ["2024-01-05", "2024-01-06", "2024-01-07"]]),
    M("time_window_yesterday_run_at_start", D24, D24, {"time_window": {"start_offset": -1, "end_offset": -1}}, NOW,
      [["2024-01-01", "2024-01-02", "2024-01-03"], ["2024-01-01", "2024-01-03"]], [["2024-03-17", "2024-03-18", "2024-03-19"]]),
    # ---- all / last / specific
    M("all_daily_to_static", D24, ORIGINS, "all", NOW, [["EWR"], ["EWR", "LGA"]], [["2024-01-01"], ["2024-03-19"]]),
    M("all_static_to_daily", ORIGINS, D24, "all", NOW, [["2024-01-01"]], [["JFK"]]),
    M("last_daily_to_static", D24, ORIGINS, "last", NOW, [["EWR"]], [["2024-03-19"], ["2024-03-18"], ["2024-01-01", "2024-03-19"]]),
    M("last_static_to_daily", ORIGINS, D24, "last", NOW, [["2024-02-01"]], [["LGA"], ["EWR"]]),
    M("last_upstream_no_partitions_yet", d("2024-06-01"), ORIGINS, "last", NOW, [["EWR"]], []),
    M("last_daily_end_offset_plus1", d("2024-01-01", end_offset=1), D24, "last", NOW, [["2024-02-01"]], [["2024-03-20"], ["2024-03-19"]]),
    M("specific_static_to_daily", ORIGINS, D24, {"specific": ["LGA", "EWR"]}, NOW, [["2024-01-01"]], [["JFK"], ["EWR"], ["LGA", "JFK"]]),
    M("specific_daily_to_daily", D24, D24, {"specific": ["2024-01-02", "2024-01-01"]}, NOW, [["2024-03-01"]], [["2024-01-02"], ["2024-01-03"]]),
    M("specific_key_not_in_upstream", ORIGINS, ORIGINS, {"specific": ["EWR", "SFO"]}, NOW, [["JFK"]], [["EWR"]]),
    # ---- static map
    M("static_map_one_to_many", ORIGINS, REGIONS, {"static": {"EWR": ["east"], "JFK": ["east", "north"], "LGA": "north"}}, NOW,
      [["east"], ["north"], ["west"], ["east", "north"]], [["EWR"], ["JFK"], ["LGA"], ["EWR", "LGA"]]),
    M("static_map_partial", ORIGINS, REGIONS, {"static": {"JFK": ["west"]}}, NOW, [["west"], ["east"]], [["JFK"], ["EWR"]]),
    # ---- multi_to_single
    M("multi_to_single_date_multi_upstream", MULTI_DATE_ORIGIN, DATE10, {"multi_to_single": {"dimension": "date"}}, NOW,
      [["2024-01-03"], ["2024-01-03", "2024-01-05"]], [["2024-01-03|JFK"], ["2024-01-03|JFK", "2024-01-03|LGA", "2024-01-04|EWR"]]),
    M("multi_to_single_inferred_multi_upstream", MULTI_DATE_ORIGIN, DATE10, {"multi_to_single": {}}, NOW,
      [["2024-01-03"]], [["2024-01-03|JFK"]]),
    M("multi_to_single_date_multi_downstream", DATE10, MULTI_DATE_ORIGIN, {"multi_to_single": {"dimension": "date"}}, NOW,
      [["2024-01-03|JFK"], ["2024-01-03|JFK", "2024-01-04|EWR"]], [["2024-01-03"], ["2024-01-03", "2024-01-10"]]),
    M("multi_to_single_origin_static", MULTI_DATE_ORIGIN, ORIGINS, {"multi_to_single": {"dimension": "origin"}}, NOW,
      [["JFK"], ["EWR", "LGA"]], [["2024-01-03|JFK"], ["2024-01-03|JFK", "2024-01-05|EWR"]]),
    M("multi_to_single_weekly_dimension_to_daily", {"multi": {"week": w("2024-01-01"), "origin": ORIGINS}}, D24, {"multi_to_single": {}}, NOW,
      [["2024-01-09"], ["2024-01-01"], ["2024-03-18"]], [["EWR|2024-01-07"], ["LGA|2024-03-10"]]),
    M("multi_to_single_daily_to_weekly_dimension", D24, {"multi": {"week": w("2024-01-01"), "origin": ORIGINS}}, {"multi_to_single": {"dimension": "week"}}, NOW,
      [["EWR|2024-01-07"], ["LGA|2024-03-10"]], [["2024-01-09"], ["2024-01-01"]]),
    M("multi_to_single_time_dimension_different_start", {"multi": {"date": d("2024-01-05", end="2024-01-11"), "origin": ORIGINS}}, DATE10,
      {"multi_to_single": {"dimension": "date"}}, NOW, [["2024-01-03"], ["2024-01-04", "2024-01-05"], ["2024-01-01", "2024-01-02"]], [["2024-01-05|EWR"]]),
    M("multi_to_single_unknown_dimension_is_ignored", MULTI_DATE_ORIGIN, DATE10, {"multi_to_single": {"dimension": "no_such_dimension"}}, NOW,
      [["2024-01-03"]], [["2024-01-03|JFK"]]),
    M("multi_to_single_dimension_name_ignored_picks_match", MULTI_DATE_ORIGIN, ORIGINS, {"multi_to_single": {"dimension": "date"}}, NOW,
      [["JFK"]], [["2024-01-03|JFK"]]),
    M("multi_to_single_dynamic_dimension", {"multi": {"customer": {"dynamic": "customers"}, "date": DATE10}}, {"dynamic": "customers"},
      {"multi_to_single": {"dimension": "customer"}}, NOW, [["acme"]], [["acme|2024-01-02"]], dynamic=CUSTOMERS),
    # ---- multi per dimension
    M("multi_identity_both_dimensions", MULTI_DATE_ORIGIN, MULTI_DATE_ORIGIN, {"multi": {"date": "identity", "origin": "identity"}}, NOW,
      [["2024-01-03|JFK"], ["2024-01-03|JFK", "2024-01-04|EWR"]], [["2024-01-10|LGA"]]),
    M("multi_yesterday_on_date", MULTI_DATE_ORIGIN, MULTI_DATE_ORIGIN,
      {"multi": {"date": {"time_window": {"start_offset": -1, "end_offset": -1}}, "origin": "identity"}}, NOW,
      [["2024-01-01|JFK"], ["2024-01-02|JFK"], ["2024-01-05|EWR", "2024-01-05|LGA"], ["2024-01-10|LGA"]], [["2024-01-01|EWR"], ["2024-01-10|LGA"]]),
    M("multi_rolling_on_date_downstream_starts_earlier", MULTI_DATE_ORIGIN, {"multi": {"date": d("2023-12-28", end="2024-01-11"), "origin": ORIGINS}},
      {"multi": {"date": {"time_window": {"start_offset": -2, "end_offset": 0}}, "origin": "identity"}}, NOW,
      [["2023-12-28|JFK"], ["2023-12-31|JFK"], ["2024-01-01|EWR"], ["2024-01-02|EWR"]], [["2024-01-01|EWR"]]),
    M("multi_yesterday_downstream_past_upstream_end", MULTI_DATE_ORIGIN, {"multi": {"date": d("2024-01-01", end="2024-01-15"), "origin": ORIGINS}},
      {"multi": {"date": {"time_window": {"start_offset": -1, "end_offset": -1}}, "origin": "identity"}}, NOW,
      [["2024-01-11|EWR"], ["2024-01-12|EWR"], ["2024-01-13|EWR", "2024-01-13|JFK", "2024-01-14|LGA"]], [["2024-01-10|EWR"]]),
    M("multi_origin_left_out_maps_as_all", MULTI_DATE_ORIGIN, MULTI_DATE_ORIGIN, {"multi": {"date": "identity"}}, NOW,
      [["2024-01-03|JFK"]], [["2024-01-03|JFK"], ["2024-01-03|JFK", "2024-01-04|EWR"]]),
    M("multi_date_left_out_maps_as_all", MULTI_DATE_ORIGIN, MULTI_DATE_ORIGIN, {"multi": {"origin": "identity"}}, NOW,
      [["2024-01-03|JFK"]], [["2024-01-03|JFK"]]),
    M("multi_static_map_on_origin", MULTI_DATE_ORIGIN, MULTI_DATE_REGION,
      {"multi": {"date": "identity", "origin": {"static": {"EWR": "east", "JFK": ["east", "north"], "LGA": "north"}}}}, NOW,
      [["2024-01-03|east"], ["2024-01-03|west"], ["2024-01-03|north", "2024-01-04|east"]], [["2024-01-03|JFK"], ["2024-01-03|LGA", "2024-01-05|EWR"]]),
    M("multi_daily_to_weekly_dimension", {"multi": {"date": D24, "origin": ORIGINS}}, {"multi": {"date": W24, "origin": ORIGINS}},
      {"multi": {"date": {"time_window": {}}, "origin": "identity"}}, NOW, [["2024-01-07|EWR"]], [["2024-01-09|JFK"]]),
    M("multi_static_dynamic_identity", {"multi": {"customer": {"dynamic": "customers"}, "region": REGIONS}},
      {"multi": {"customer": {"dynamic": "customers"}, "region": REGIONS}}, None, NOW,
      [["acme|east"], ["globex|west", "initech|north"]], [["acme|north"]], dynamic=CUSTOMERS),
    # ---- default inference (mapping null)
    M("default_hourly_to_weekly", H24, W24, None, NOW, [["2024-01-07"]], [["2024-01-06-23:00"], ["2024-01-07-00:00"]]),
    M("default_static_static_equal", ORIGINS, ORIGINS, None, NOW, [["LGA"]], [["JFK"]]),
    M("default_static_static_different", ORIGINS, REGIONS, None, NOW, [["east"]], [["EWR"]]),
    M("default_multi_upstream_single_downstream", MULTI_DATE_ORIGIN, DATE10, None, NOW, [["2024-01-03"]], [["2024-01-03|EWR"]]),
    M("default_single_upstream_multi_downstream", ORIGINS, MULTI_DATE_ORIGIN, None, NOW, [["2024-01-03|LGA"]], [["LGA"]]),
    M("default_multi_multi_equal", MULTI_DATE_ORIGIN, MULTI_DATE_ORIGIN, None, NOW, [["2024-01-03|LGA"]], [["2024-01-03|LGA"]]),
    M("default_multi_multi_different", MULTI_DATE_ORIGIN, {"multi": {"date": d("2024-01-05", end="2024-01-15"), "origin": ORIGINS}}, None, NOW,
      [["2024-01-05|LGA"], ["2024-01-12|LGA", "2024-01-05|EWR"]], [["2024-01-05|LGA"], ["2024-01-03|LGA"]]),
    M("default_hourly_single_to_multi_with_daily_dimension", H24, MULTI_DATE_ORIGIN, None, NOW, [["2024-01-03|LGA"]], [["2024-01-03-05:00"]]),
    M("default_time_to_multi_with_two_time_dims", D24, {"multi": {"day": D24, "month": M24}}, None, NOW, [["2024-01-03|2024-01-01"]], [["2024-01-03"]]),
    # ---- dynamic
    M("dynamic_identity", {"dynamic": "customers"}, {"dynamic": "customers"}, "identity", NOW, [["acme"], ["globex", "initech"]], [["initech"]], dynamic=CUSTOMERS),
    M("dynamic_default", {"dynamic": "customers"}, {"dynamic": "customers"}, None, NOW, [["acme"]], [["acme"]], dynamic=CUSTOMERS),
    M("dynamic_identity_different_names", {"dynamic": "customers"}, {"dynamic": "accounts"}, "identity", NOW,
      [["acme"], ["hooli"], ["acme", "hooli"]], [["globex"], ["initech"]], dynamic={"customers": ["globex", "acme", "initech"], "accounts": ["hooli", "acme"]}),
    M("dynamic_all_to_daily", {"dynamic": "customers"}, D24, "all", NOW, [["2024-01-01"]], [["acme"]], dynamic=CUSTOMERS),
    M("dynamic_static_to_dynamic_map", ORIGINS, {"dynamic": "customers"}, "all", NOW, [["acme"]], [["EWR"]], dynamic=CUSTOMERS),
    # ---- errors
    M("error_time_zones_differ", d("2024-01-01", timezone=BER), D24, {"time_window": {}}, NOW),
    M("error_time_zones_differ_default_mapping", D24_NY, D24, None, NOW),
    M("error_time_zones_differ_multi_to_single", {"multi": {"date": D24_NY, "origin": ORIGINS}}, D24, None, NOW),
    M("error_static_map_unknown_upstream_key", ORIGINS, REGIONS, {"static": {"SFO": "west", "EWR": "east"}}, NOW),
    M("error_static_map_unknown_downstream_key", ORIGINS, REGIONS, {"static": {"EWR": ["east", "south"]}}, NOW),
    M("error_static_map_between_time_defs", D24, D24, {"static": {"2024-01-01": "2024-01-01"}}, NOW),
    M("error_static_map_dynamic_upstream", {"dynamic": "customers"}, REGIONS, {"static": {"acme": "east"}}, NOW, dynamic=CUSTOMERS),
    M("error_identity_static_to_daily", ORIGINS, D24, "identity", NOW),
    M("error_identity_static_to_dynamic", {"dynamic": "customers"}, ORIGINS, "identity", NOW, dynamic=CUSTOMERS),
    M("error_identity_daily_to_multi", MULTI_DATE_ORIGIN, DATE10, "identity", NOW),
    M("error_default_static_to_daily", ORIGINS, D24, None, NOW),
    M("error_time_window_static_defs", ORIGINS, ORIGINS, {"time_window": {}}, NOW),
    M("error_time_window_upstream_static", ORIGINS, D24, {"time_window": {"start_offset": -1}}, NOW),
    M("error_multi_to_single_no_matching_dimension", MULTI_DATE_ORIGIN, REGIONS, {"multi_to_single": {"dimension": "origin"}}, NOW),
    M("error_multi_to_single_both_multi", MULTI_DATE_ORIGIN, MULTI_DATE_ORIGIN, {"multi_to_single": {"dimension": "date"}}, NOW),
    M("error_multi_to_single_both_single", D24, D24, {"multi_to_single": {"dimension": "date"}}, NOW),
    M("error_multi_to_single_ambiguous_even_with_dimension", {"multi": {"a": ORIGINS, "b": ORIGINS}}, ORIGINS, {"multi_to_single": {"dimension": "a"}}, NOW),
    M("error_multi_unknown_dimension", MULTI_DATE_ORIGIN, MULTI_DATE_ORIGIN, {"multi": {"day": "identity"}}, NOW),
    M("error_multi_dimension_only_downstream_has", MULTI_DATE_ORIGIN, MULTI_DATE_REGION, {"multi": {"date": "identity", "carrier": "identity"}}, NOW),
    M("error_multi_single_side", MULTI_DATE_ORIGIN, DATE10, {"multi": {"date": "identity"}}, NOW),
    M("error_multi_static_map_unknown_key_in_dimension", MULTI_DATE_ORIGIN, MULTI_DATE_REGION,
      {"multi": {"date": "identity", "origin": {"static": {"SFO": "west"}}}}, NOW, [["2024-01-03|west"]], [["2024-01-03|EWR"]]),
    M("error_multi_time_zones_differ_in_dimension", MULTI_DATE_ORIGIN, {"multi": {"date": d("2024-01-01", timezone=NY), "origin": ORIGINS}},
      {"multi": {"date": {"time_window": {}}, "origin": "identity"}}, NOW, [["2024-01-03|EWR"]], [["2024-01-03|EWR"]]),
]


def mapping_class_info(mapping, upstream_def, downstream_def):
    info = {"inferred": type(mapping).__name__}
    if isinstance(mapping, dg.MultiToSingleDimensionPartitionMapping):
        result = get_infer_single_to_multi_dimension_deps_result(upstream_def, downstream_def)
        if result.can_infer:
            dep = result.dimension_dependency
            info["inferred_dimension"] = dep.upstream_dimension_name or dep.downstream_dimension_name
            info["inferred_dimension_mapping"] = type(dep.partition_mapping).__name__
    return info


def ordered(keys, pdef):
    """Keys in the definition's partition order, then (sorted) any key pdef does not have."""
    order = {k: i for i, k in enumerate(str(x) for x in pdef.get_partition_keys())}
    keys = {str(k) for k in keys}
    inside = sorted((k for k in keys if k in order), key=order.__getitem__)
    outside = sorted(k for k in keys if k not in order)
    return inside + outside, outside


def nonexistent_of(subset):
    keys = [str(k) for k in subset.get_partition_keys()]
    if isinstance(subset, TimeWindowPartitionsSubset):
        return keys, "time"
    return sorted(keys), "sorted"


def default_inputs(pdef):
    keys = [str(k) for k in pdef.get_partition_keys()]
    if not keys:
        return []
    out = [[keys[0]], [keys[-1]]]
    if len(keys) > 1:
        out.append([keys[0], keys[-1]])
    return out


def run_mapping_case(case):
    record = {
        "name": case["name"], "upstream": case["upstream"], "downstream": case["downstream"],
        "mapping": case["mapping"], "now": case["now"],
    }
    if case["dynamic"] is not None:
        record["dynamic"] = case["dynamic"]
    now = parse_now(case["now"])
    instance = make_instance(case["dynamic"])
    with dg.partition_loading_context(effective_dt=now, dynamic_partitions_store=instance):
        stage = "definition"
        try:
            upstream_def = build_partitions_def(case["upstream"])
            downstream_def = build_partitions_def(case["downstream"])
            for pdef in (upstream_def, downstream_def):
                if hasattr(pdef, "validate_partition_definition"):
                    pdef.validate_partition_definition()
            stage = "mapping"
            mapping = infer_partition_mapping(build_mapping(case["mapping"]), downstream_def, upstream_def)
            record.update(mapping_class_info(mapping, upstream_def, downstream_def))
            mapping.validate_partition_mapping(upstream_def, downstream_def)
        except Exception as exc:  # noqa: BLE001
            record.update(error_record(exc, stage))
            return record

        up_inputs = [*case["up_of"], *(default_inputs(downstream_def) if case["edges"] else [])]
        down_inputs = [*case["down_of"], *(default_inputs(upstream_def) if case["edges"] else [])]
        upstream_keys_all = set(map(str, upstream_def.get_partition_keys()))
        downstream_keys_all = set(map(str, downstream_def.get_partition_keys()))

        upstream_of, seen = [], set()
        for keys in up_inputs:
            if frozenset(keys) in seen:
                continue
            seen.add(frozenset(keys))
            for k in keys:
                if k not in downstream_keys_all:
                    raise CaseError(f"{case['name']}: input {k!r} is not a downstream partition")
            entry = {"downstream_keys": ordered(keys, downstream_def)[0]}
            try:
                subset = downstream_def.empty_subset().with_partition_keys(keys)
                result = mapping.get_upstream_mapped_partitions_result_for_partitions(
                    subset, downstream_def, upstream_def, current_time=now, dynamic_partitions_store=instance
                )
                upstream_keys, outside = ordered(result.partitions_subset.get_partition_keys(), upstream_def)
                nonexistent, order = nonexistent_of(result.required_but_nonexistent_subset)
            except Exception as exc:  # noqa: BLE001
                entry.update(error_record(exc, "evaluation"))
                upstream_of.append(entry)
                continue
            entry["upstream_keys"] = upstream_keys
            entry["nonexistent"] = nonexistent
            if nonexistent:
                entry["nonexistent_order"] = order
            if outside:
                # Keys Dagster returns as existing although the upstream definition lacks them.
                entry["upstream_keys_not_in_definition"] = outside
            upstream_of.append(entry)

        downstream_of, seen = [], set()
        for keys in down_inputs:
            if frozenset(keys) in seen:
                continue
            seen.add(frozenset(keys))
            for k in keys:
                if k not in upstream_keys_all:
                    raise CaseError(f"{case['name']}: input {k!r} is not an upstream partition")
            entry = {"upstream_keys": ordered(keys, upstream_def)[0]}
            try:
                subset = upstream_def.empty_subset().with_partition_keys(keys)
                result = mapping.get_downstream_partitions_for_partitions(
                    subset, upstream_def, downstream_def, current_time=now, dynamic_partitions_store=instance
                )
                downstream_keys, outside = ordered(result.get_partition_keys(), downstream_def)
            except Exception as exc:  # noqa: BLE001
                entry.update(error_record(exc, "evaluation"))
                downstream_of.append(entry)
                continue
            entry["downstream_keys"] = downstream_keys
            if outside:
                entry["downstream_keys_not_in_definition"] = outside
            downstream_of.append(entry)

        failures = [e for e in [*upstream_of, *downstream_of] if "error" in e]
        if failures:
            # validate_partition_mapping accepted the pair; evaluating it raised. Report it like a
            # rejected pair, with the first message.
            record.update({k: failures[0][k] for k in ("error", "error_type", "error_stage")})
            return record
        record["upstream_of"] = upstream_of
        record["downstream_of"] = downstream_of
    return record


def main() -> int:
    version = dg.__version__
    partitions = [run_partition_case(case) for case in PARTITION_CASES]
    mappings = [run_mapping_case(case) for case in MAPPING_CASES]
    for name, cases in (("partitions", partitions), ("mappings", mappings)):
        names = [c["name"] for c in cases]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise SystemExit(f"duplicate {name} case names: {dupes}")
        path = HERE / f"{name}.json"
        text = json.dumps({"dagster_version": version, "cases": cases}, indent=1, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        errors = sum(1 for c in cases if "error" in c)
        print(f"{path.name}: {len(cases)} cases ({errors} errors), {len(text) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
