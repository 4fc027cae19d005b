"""Replay Strata's automation scenarios through Dagster, the reference implementation.

Every `scenarios/<name>.json` describes some assets (as Strata TOML plus the Dagster
equivalent of their automation condition) and a list of steps: events that happen, then one
evaluation of every automation condition. This script builds the same assets in Dagster,
replays the events against an ephemeral Dagster instance, evaluates with
`dagster.evaluate_automation_conditions` (continuing the cursor from step to step) and
compares what Dagster requested with each step's `"requested"` field.

Setup (once, from the repository root):

    python -m venv .venv-dagster && .venv-dagster/bin/pip install dagster==1.13.28

Run:

    .venv-dagster/bin/python tests/automation/dagster_scenarios.py [--write] [NAME...]

Without `--write` it checks every scenario (or those named) and exits 1 on any mismatch,
printing a diff per step. With `--write` it rewrites each step's `"requested"` with what
Dagster requested.

How events become Dagster state (each event is stamped one second apart, the last one second
before the step's `now`; every Dagster event of one scenario event carries that timestamp):

- `in_progress`: per partition, a run (status STARTED) of the asset's job subset, with
  `asset_selection = {asset}` and the `dagster/partition` tag, created with its execution plan so
  Dagster logs ASSET_MATERIALIZATION_PLANNED (and ASSET_CHECK_EVALUATION_PLANNED) events.
- `materialized`: per partition, the in-progress run for that (asset, partition) if there is
  one, else a new run created as above; then an ASSET_MATERIALIZATION event in that run and
  RUN_SUCCESS.
- `failed`: per partition, the in-progress run if any, else a new run as above; then
  `instance.report_run_failed(run)` (no materialization).
- `materialize_requested`: what the previous evaluation requested, grouped by partition key
  (a Dagster run has one partition key): one run per group with all those assets in its
  `asset_selection`, materializations for each, RUN_SUCCESS.
- `code_version`: the asset definition is rebuilt with the new `code_version`.
- `check`: an ASSET_CHECK_EVALUATION (passed or not, targeting the asset's latest
  materialization) logged in the run of that materialization.
"""

import argparse
import datetime
import difflib
import json
import sys
import tomllib
import warnings
from collections import defaultdict
from pathlib import Path
from unittest import mock

import dagster as dg
from dagster import AutomationCondition
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.events import (
    DagsterEvent,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.execution.api import create_execution_plan
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.storage.tags import PARTITION_NAME_TAG
from dagster._core.test_utils import freeze_time
from dagster._core.utils import make_new_run_id

warnings.filterwarnings("ignore")  # Dagster beta/preview warnings

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"


# --------------------------------------------------------------------------------------------
# Strata TOML -> Dagster definitions


def asset_key(strata_key: str) -> dg.AssetKey:
    group, name = strata_key.split("/")
    return dg.AssetKey([group, name])


def strata_key(key: dg.AssetKey) -> str:
    return "/".join(key.path)


def partitions_def(spec):
    if spec is None:
        return None
    (kind, args), = spec.items()
    if kind == "static":
        return dg.StaticPartitionsDefinition(list(args))
    common = {}
    for k in ("timezone", "end_offset", "minute_offset", "fmt"):
        if k in args:
            common[k] = args[k]
    if "end" in args:
        common["end_date"] = args["end"]
    if kind == "daily":
        if "hour_offset" in args:
            common["hour_offset"] = args["hour_offset"]
        return dg.DailyPartitionsDefinition(start_date=args["start"], **common)
    if kind == "hourly":
        return dg.HourlyPartitionsDefinition(start_date=args["start"], **common)
    raise SystemExit(f"unsupported partitions kind in scenario: {kind}")


def partition_mapping(spec):
    if spec is None:
        return None
    if isinstance(spec, str):
        return {
            "identity": dg.IdentityPartitionMapping(),
            "all": dg.AllPartitionMapping(),
            "last": dg.LastPartitionMapping(),
        }[spec]
    (kind, args), = spec.items()
    if kind == "time_window":
        return dg.TimeWindowPartitionMapping(
            start_offset=args.get("start_offset", 0),
            end_offset=args.get("end_offset", 0),
            allow_nonexistent_upstream_partitions=args.get("allow_nonexistent", False),
        )
    if kind == "static":
        return dg.StaticPartitionMapping(
            {k: (set(v) if isinstance(v, list) else v) for k, v in args.items()}
        )
    if kind == "specific":
        return dg.SpecificPartitionsPartitionMapping(list(args))
    if kind in ("all", "identity", "last"):
        return partition_mapping(kind)
    raise SystemExit(f"unsupported mapping in scenario: {spec}")


def check_name(check_spec: dict) -> str:
    if "name" in check_spec:
        return check_spec["name"]
    for kind in ("not_null", "unique", "accepted_values", "row_count"):
        if kind in check_spec:
            return kind
    raise SystemExit(f"check without a name: {check_spec}")


def build_assets(scenario: dict, code_versions: dict) -> list:
    assets = []
    for key_str, spec in scenario["assets"].items():
        decl = tomllib.loads(spec["toml"])
        key = asset_key(key_str)
        deps = [
            dg.AssetDep(asset_key(dep), partition_mapping=partition_mapping(table.get("mapping")))
            for dep, table in decl.get("deps", {}).items()
        ]
        condition = None
        if "automation" in decl:
            if "dagster_condition" not in spec:
                raise SystemExit(f"{scenario['name']}: {key_str} has automation but no dagster_condition")
            condition = eval(  # noqa: S307 - trusted scenario files of this repository
                spec["dagster_condition"], {"AutomationCondition": AutomationCondition, "dg": dg}
            )
        check_specs = [
            dg.AssetCheckSpec(check_name(c), asset=key, blocking=bool(c.get("blocking", False)))
            for c in decl.get("checks", [])
        ]

        def compute():  # never executed: runs are recorded directly in the instance
            raise AssertionError("not executed")

        assets.append(
            dg.asset(
                key=key,
                deps=deps,
                partitions_def=partitions_def(decl.get("partitions")),
                code_version=code_versions.get(key_str, decl.get("code_version")),
                automation_condition=condition,
                check_specs=check_specs or None,
            )(compute)
        )
    return assets


# --------------------------------------------------------------------------------------------
# Replaying events


def parse_time(s: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


class Replay:
    def __init__(self, scenario: dict):
        self.scenario = scenario
        self.instance = dg.DagsterInstance.ephemeral()
        self.code_versions: dict[str, str] = {}
        self.rebuild()
        self.cursor = None
        self.last_requested: dict[str, list] = {}
        # (asset, partition) -> run id of a run that is still running
        self.in_progress: dict[tuple[str, str | None], str] = {}

    def rebuild(self):
        self.assets = build_assets(self.scenario, self.code_versions)
        self.defs = dg.Definitions(assets=self.assets)
        self.graph = self.defs.resolve_asset_graph()

    def is_partitioned(self, key_str: str) -> bool:
        return self.graph.get(asset_key(key_str)).partitions_def is not None

    # runs ---------------------------------------------------------------------------------

    def start_run(self, keys: list[str], partition: str | None) -> str:
        akeys = [asset_key(k) for k in keys]
        job = self.defs.resolve_implicit_job_def_def_for_assets(akeys)
        check_keys = {ck for ck in self.graph.asset_check_keys if ck.asset_key in set(akeys)}
        job = job.get_subset(asset_selection=set(akeys), asset_check_selection=check_keys)
        plan = create_execution_plan(
            job, run_config={}, tags={PARTITION_NAME_TAG: partition} if partition else {}
        )
        run_id = make_new_run_id()
        self.instance.create_run_for_job(
            job_def=job,
            execution_plan=plan,
            run_id=run_id,
            status=DagsterRunStatus.STARTED,
            asset_selection=frozenset(akeys),
            tags={PARTITION_NAME_TAG: partition} if partition else None,
        )
        return run_id

    def materialize_in_run(self, run_id: str, key_str: str, partition: str | None):
        run = self.instance.get_run_by_id(run_id)
        self.instance.report_dagster_event(
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name=run.job_name,
                event_specific_data=StepMaterializationData(
                    dg.AssetMaterialization(asset_key=asset_key(key_str), partition=partition)
                ),
            ),
            run_id=run_id,
        )

    def succeed_run(self, run_id: str):
        run = self.instance.get_run_by_id(run_id)
        self.instance.report_dagster_event(
            DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name),
            run_id=run_id,
        )

    def partitions_of(self, key_str: str, ev: dict) -> list:
        if self.is_partitioned(key_str):
            parts = ev.get("partitions")
            if not parts:
                raise SystemExit(f"{self.scenario['name']}: {key_str} is partitioned: give partitions")
            return list(parts)
        if ev.get("partitions"):
            raise SystemExit(f"{self.scenario['name']}: {key_str} is unpartitioned: omit partitions")
        return [None]

    # events -------------------------------------------------------------------------------

    def apply(self, event: dict):
        (kind, ev), = event.items()
        if kind == "materialized":
            k = ev["asset"]
            for p in self.partitions_of(k, ev):
                run_id = self.in_progress.pop((k, p), None) or self.start_run([k], p)
                self.materialize_in_run(run_id, k, p)
                self.succeed_run(run_id)
        elif kind == "in_progress":
            k = ev["asset"]
            for p in self.partitions_of(k, ev):
                if (k, p) in self.in_progress:
                    raise SystemExit(f"{self.scenario['name']}: {k} {p} is already in progress")
                self.in_progress[(k, p)] = self.start_run([k], p)
        elif kind == "failed":
            k = ev["asset"]
            for p in self.partitions_of(k, ev):
                run_id = self.in_progress.pop((k, p), None) or self.start_run([k], p)
                self.instance.report_run_failed(self.instance.get_run_by_id(run_id))
        elif kind == "materialize_requested":
            by_partition = defaultdict(list)
            for k, parts in sorted(self.last_requested.items()):
                for p in parts or [None]:
                    by_partition[p].append(k)
            for p, keys in sorted(by_partition.items(), key=lambda kv: kv[0] or ""):
                run_id = self.start_run(keys, p)
                for k in keys:
                    self.materialize_in_run(run_id, k, p)
                self.succeed_run(run_id)
        elif kind == "code_version":
            self.code_versions[ev["asset"]] = ev["version"]
            self.rebuild()
        elif kind == "check":
            k = ev["asset"]
            akey = asset_key(k)
            records = self.instance.fetch_materializations(akey, limit=1).records
            if not records:
                raise SystemExit(f"{self.scenario['name']}: check on {k} before it was materialized")
            latest = records[0]
            target = AssetCheckEvaluationTargetMaterializationData(
                storage_id=latest.storage_id, run_id=latest.run_id, timestamp=latest.timestamp
            )
            evaluation = AssetCheckEvaluation(
                asset_key=akey,
                check_name=ev["name"],
                passed=bool(ev["passed"]),
                target_materialization_data=target,
                blocking=any(
                    check_name(c) == ev["name"] and c.get("blocking", False)
                    for c in tomllib.loads(self.scenario["assets"][k]["toml"]).get("checks", [])
                ),
            )
            run = self.instance.get_run_by_id(latest.run_id)
            self.instance.report_dagster_event(
                DagsterEvent(
                    event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION.value,
                    job_name=run.job_name,
                    event_specific_data=evaluation,
                ),
                run_id=latest.run_id,
            )
        else:
            raise SystemExit(f"{self.scenario['name']}: unknown event kind {kind}")

    # evaluation ---------------------------------------------------------------------------

    def step(self, step: dict) -> dict:
        now = parse_time(step["now"])
        events = step.get("events", [])
        for i, event in enumerate(events):
            t = now - datetime.timedelta(seconds=len(events) - i)
            with freeze_time(t), mock.patch("time.time", return_value=t.timestamp()):
                self.apply(event)
        with freeze_time(now):
            result = dg.evaluate_automation_conditions(
                defs=self.defs, instance=self.instance, cursor=self.cursor, evaluation_time=now
            )
        self.cursor = result.cursor
        requested = {}
        for a in self.assets:
            for key in a.keys:
                parts = result.get_requested_partitions(key)
                if parts:
                    requested[strata_key(key)] = sorted(p for p in parts if p is not None)
        self.last_requested = requested
        return dict(sorted(requested.items()))


def replay(scenario: dict) -> list[dict]:
    r = Replay(scenario)
    return [r.step(step) for step in scenario["steps"]]


# --------------------------------------------------------------------------------------------


def dump(scenario: dict) -> str:
    """Scenario JSON with one line per step event and per `requested`."""
    lines = ["{"]
    top = [(k, v) for k, v in scenario.items() if k != "steps"]
    for k, v in top:
        if k == "assets":
            lines.append('  "assets": {')
            items = list(v.items())
            for i, (ak, av) in enumerate(items):
                lines.append(f"    {json.dumps(ak)}: {{")
                fields = list(av.items())
                for j, (fk, fv) in enumerate(fields):
                    comma = "," if j < len(fields) - 1 else ""
                    lines.append(f"      {json.dumps(fk)}: {json.dumps(fv, ensure_ascii=False)}{comma}")
                lines.append("    }" + ("," if i < len(items) - 1 else ""))
            lines.append("  },")
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append('  "steps": [')
    steps = scenario["steps"]
    for i, s in enumerate(steps):
        lines.append("    {")
        keys = list(s.keys())
        for j, sk in enumerate(keys):
            comma = "," if j < len(keys) - 1 else ""
            if sk == "events" and s[sk]:
                lines.append('      "events": [')
                for e, ev in enumerate(s[sk]):
                    ec = "," if e < len(s[sk]) - 1 else ""
                    lines.append(f"        {json.dumps(ev)}{ec}")
                lines.append(f"      ]{comma}")
            else:
                lines.append(f"      {json.dumps(sk)}: {json.dumps(s[sk])}{comma}")
        lines.append("    }" + ("," if i < len(steps) - 1 else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite each step's `requested`")
    parser.add_argument("names", nargs="*", help="scenario names (default: all)")
    args = parser.parse_args()

    paths = sorted(SCENARIOS.glob("*.json"))
    if args.names:
        wanted = set(args.names)
        paths = [p for p in paths if p.stem in wanted]
        missing = wanted - {p.stem for p in paths}
        if missing:
            print(f"no such scenario: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2

    failures = 0
    for path in paths:
        scenario = json.loads(path.read_text())
        if scenario.get("reference") != "dagster":
            print(f"skip {path.stem}: reference is not dagster")
            continue
        got = replay(scenario)
        if args.write:
            for step, req in zip(scenario["steps"], got):
                step["requested"] = req
            path.write_text(dump(scenario))
            print(f"wrote {path.stem}")
            continue
        bad = False
        for i, (step, req) in enumerate(zip(scenario["steps"], got)):
            want = step.get("requested")
            if want != req:
                if not bad:
                    print(f"FAIL {path.stem}")
                bad = True
                a = json.dumps(want, indent=2, sort_keys=True).splitlines()
                b = json.dumps(req, indent=2, sort_keys=True).splitlines()
                print(f"  step {i} (now {step['now']}): expected (-) vs Dagster (+)")
                for line in difflib.unified_diff(a, b, lineterm="", n=1):
                    if not line.startswith(("---", "+++")):
                        print("    " + line)
        if bad:
            failures += 1
        else:
            print(f"ok   {path.stem}")
    if failures:
        print(f"{failures} scenario(s) differ from Dagster")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
