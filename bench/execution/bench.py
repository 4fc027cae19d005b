#!/usr/bin/env python3
"""Execution benchmarks: Strata next to Dagster 1.13.28 on the same machine.

Called by run.sh, which resolves the Strata binary. Standard library only; the Dagster side runs
bench_materialize.py in its own interpreter ($DAGSTER_PYTHON) and reads its JSON line.

    python3 bench.py --strata BIN --out FILE.jsonl [overhead] [command] [chain] [example]
    python3 bench.py table FILE.jsonl          # the markdown tables again, from saved JSON lines

Every measurement is one JSON line in FILE.jsonl; the markdown tables go to stdout, progress to
stderr. Settings (environment): see README.md.
"""

import atexit
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BENCHES = ["overhead", "command", "chain", "example"]


# ---------------------------------------------------------------------------------------------
# settings


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_flag(name):
    return os.environ.get(name, "").strip() not in ("", "0", "false", "no")


PARTITIONS = env_int("PARTITIONS", 365)
RUNS = env_int("RUNS", 3)  # benchmarks 1 and 2: median of RUNS
SLOW_RUNS = env_int("SLOW_RUNS", 1)  # benchmarks 3 and 4
COMMAND_STEPS = env_int("COMMAND_STEPS", min(100, PARTITIONS))
DAGSTER_K = min(env_int("DAGSTER_K", 30), PARTITIONS)
DAGSTER_LIMIT_S = env_int("DAGSTER_LIMIT_S", 600)  # a full-size Dagster run expected longer is extrapolated
DAGSTER_TIMEOUT_S = env_int("DAGSTER_TIMEOUT_S", 3600)
DAGSTER_PYTHON = os.path.abspath(os.environ.get("DAGSTER_PYTHON", ".venv-dagster/bin/python"))
DAGSTER_BENCH = os.path.abspath(
    os.environ.get("DAGSTER_BENCH", "bench/dagster/bench_materialize.py")
)
SKIP_DAGSTER = env_flag("SKIP_DAGSTER")
SKIP_BACKFILL = env_flag("SKIP_BACKFILL")
KEEP = env_flag("KEEP")  # keep the generated repositories (their paths go to stderr)


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def day(start, offset):
    return (datetime.date.fromisoformat(start) + datetime.timedelta(days=offset)).isoformat()


# ---------------------------------------------------------------------------------------------
# output


class Out:
    """The JSON-lines file, plus a folder for the logs of every process run."""

    def __init__(self, path):
        self.path = path
        self.logs = os.path.splitext(path)[0] + "-logs"
        os.makedirs(self.logs, exist_ok=True)
        self.n = 0

    def write(self, record):
        record.setdefault("time", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def log_path(self, name):
        self.n += 1
        return os.path.join(self.logs, f"{self.n:03d}-{name}.log")


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Strata


class Strata:
    def __init__(self, binary, out):
        self.binary = binary
        self.out = out

    def run(self, repo, args, name, check=True, timeout=None):
        """Runs `strata --repo REPO ARGS`; returns (wall seconds, exit status, stdout)."""
        cmd = [self.binary, "--repo", repo] + args
        log_file = self.out.log_path(name)
        settle()
        with open(log_file, "w") as err:
            err.write("$ " + " ".join(cmd) + "\n")
            err.flush()
            t = time.perf_counter()
            proc = subprocess.run(
                cmd, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout
            )
            wall = time.perf_counter() - t
            err.write(f"\n--- exit status {proc.returncode}, {wall:.3f} s; stdout:\n{proc.stdout[-20000:]}\n")
        if check and proc.returncode != 0:
            with open(log_file) as f:
                tail = "".join(f.readlines()[-15:])
            raise BenchError(
                f"`{' '.join(cmd[1:])}` exited with status {proc.returncode}\n"
                f"stdout: {proc.stdout[-2000:]}\nstderr (last lines, full log {log_file}):\n{tail}"
            )
        return wall, proc.returncode, proc.stdout

    def materialize(self, repo, selection, first, last, name, concurrency=None):
        args = ["materialize", selection, "--from", first, "--to", last, "--json"]
        if concurrency:
            args += ["--concurrency", str(concurrency)]
        wall, _, stdout = self.run(repo, args, name)
        result = json.loads(stdout)
        if result.get("status") != "succeeded":
            raise BenchError(f"run did not succeed: {stdout[:2000]}")
        return {
            "wall_s": wall,
            "elapsed_ms": result.get("elapsed_ms"),
            "steps": result.get("steps"),
            "rows": result.get("rows"),
            "run_id": result.get("run_id"),
        }

    def query(self, repo, sql):
        _, _, stdout = self.run(repo, ["query", sql, "--json"], "query")
        return json.loads(stdout)

    def version(self):
        proc = subprocess.run([self.binary, "--version"], stdout=subprocess.PIPE, text=True)
        return proc.stdout.strip()

    def has_command(self, name):
        proc = subprocess.run(
            [self.binary, name, "--help"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        return proc.returncode == 0, proc.stdout


def settle():
    """Flushes what earlier runs left to write back (and the removal of their repositories), so
    a timed run does not pay for the previous one's disk writes."""
    os.sync()


def new_repo(name):
    path = tempfile.mkdtemp(prefix=f"strata-bench-{name}-")
    if KEEP:
        log(f"  repository {path}")
    return path


DROPPED = []


def drop_repo(path):
    """Removes a repository when the script ends: deleting thousands of files and folders makes
    the file system slower to create the next ones (ext4 scans recently freed inodes), which
    would be charged to the next timed run."""
    if not KEEP:
        DROPPED.append(path)


@atexit.register
def remove_dropped():
    for path in DROPPED:
        shutil.rmtree(path, ignore_errors=True)


def write_repo(path, files, executor=None):
    """A repository: strata.toml (SQLite storage, Parquet IO manager) and the given asset files."""
    toml = (
        '[project]\nname = "bench"\n\n'
        '[storage]\nurl = ".strata/strata.db"\n\n'
        '[io_managers.default]\nkind = "parquet"\nurl = ".strata/data"\n'
    )
    if executor:
        toml += f"\n[executor]\nconcurrency = {executor}\n"
    with open(os.path.join(path, "strata.toml"), "w") as f:
        f.write(toml)
    for rel, text in files.items():
        full = os.path.join(path, "assets", rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)


DAILY_2024 = 'partitions = { daily = { start = "2024-01-01", end = "2025-01-01" } }'


def sql_asset(query, header=DAILY_2024):
    return f"/*---\n{header}\n---*/\n{query.strip()}\n"


# Benchmark 1: three trivial SQL assets, a -> b -> c.
TRIVIAL = {
    "bench/a.sql": sql_asset("SELECT CAST($partition_key AS VARCHAR) AS k, 1 AS v"),
    "bench/b.sql": sql_asset("SELECT k, v + 1 AS v FROM bench.a"),
    "bench/c.sql": sql_asset("SELECT k, v + 1 AS v FROM bench.b"),
}

# Benchmark 2: a command that writes a two-line CSV and nothing else.
COMMAND_SCRIPT = "printf 'k\\n1\\n' > \"$STRATA_OUTPUT\""
COMMAND_ARGV = ["sh", "-c", COMMAND_SCRIPT]
COMMAND_ASSET = (
    DAILY_2024
    + "\ncommand = "
    + json.dumps(COMMAND_ARGV)
    + '\noutput = "csv"\nschema = { k = "int64" }\n'
)

# Benchmark 3: bench_materialize.py's raw -> clean -> agg in SQL. raw: 1,000 rows per partition
# (id, date, a category out of 10, a value ~ N(100, 15) by Box-Muller on two hashed uniforms, a
# quantity in 1..49), deterministic in (id, day). clean: clip, round, amount, upper-case
# category. agg: per-category total, rank and share (7 columns).
RAW_HASHES = """
u AS (
  SELECT
    id,
    date,
    (id * 2654435761 + seed * 40503) % 1000003 AS h1,
    (id * 2246822519 + seed * 3266489917) % 1000033 AS h2,
    (id * 374761393 + seed * 668265263) % 999983 AS h3
  FROM s
)"""
RAW_COLUMNS = """
  id,
  date,
  concat('cat_', CAST(h1 % 10 AS VARCHAR)) AS category,
  100.0 + 15.0 * sqrt(-2.0 * ln((h2 + 1) / 1000034.0)) * cos(2.0 * pi() * h3 / 999983.0) AS value,
  1 + h3 % 49 AS qty
FROM u"""
CLEAN_COLUMNS = """
  id,
  date,
  upper(category) AS category,
  round(greatest(value, 0.0), 2) AS value,
  qty,
  round(greatest(value, 0.0), 2) * qty AS amount
FROM bench.raw"""


def agg_columns(window):
    """agg's columns, its windows partitioned by `window`."""
    return f"""
  id,
  date,
  category,
  amount,
  sum(amount) OVER (PARTITION BY {window}) AS category_total,
  row_number() OVER (PARTITION BY {window} ORDER BY amount DESC) AS category_rank,
  amount / sum(amount) OVER (PARTITION BY {window}) AS share
FROM bench.clean"""


CHAIN = {
    "bench/raw.sql": sql_asset(
        """
WITH s AS (
  SELECT
    unnest(range(0, 1000)) AS id,
    CAST($partition_key AS VARCHAR) AS date,
    CAST(replace(CAST($partition_key AS VARCHAR), '-', '') AS BIGINT) AS seed
),"""
        + RAW_HASHES
        + "\nSELECT"
        + RAW_COLUMNS
    ),
    "bench/clean.sql": sql_asset("SELECT" + CLEAN_COLUMNS),
    "bench/agg.sql": sql_asset("SELECT" + agg_columns("category")),
}

# Benchmark 3, single run: the same chain declared `backfill = "single_run"` and run with
# `strata backfill`, one query per asset over the whole range. The queries are written for a
# range: raw makes 1,000 rows for each day of [$partition_start, $partition_end) with the same
# hashes as CHAIN (so the same rows), and every query outputs `partition_key`; agg's windows are
# per (partition_key, category), i.e. per day as in CHAIN.
SINGLE_RUN = DAILY_2024 + '\nbackfill = "single_run"'
CHAIN_SINGLE_RUN = {
    "bench/raw.sql": sql_asset(
        """
WITH days AS (
  SELECT to_char(unnest(range(CAST($partition_start AS TIMESTAMP), CAST($partition_end AS TIMESTAMP),
                              INTERVAL '1 day')), '%Y-%m-%d') AS date
),
s AS (
  SELECT id, date, CAST(replace(date, '-', '') AS BIGINT) AS seed
  FROM days CROSS JOIN (SELECT unnest(range(0, 1000)) AS id) AS ids
),"""
        + RAW_HASHES
        + "\nSELECT\n  date AS partition_key,"
        + RAW_COLUMNS,
        SINGLE_RUN,
    ),
    "bench/clean.sql": sql_asset("SELECT\n  partition_key," + CLEAN_COLUMNS, SINGLE_RUN),
    "bench/agg.sql": sql_asset("SELECT\n  partition_key," + agg_columns("partition_key, category"), SINGLE_RUN),
}


def materialize_fresh(strata, name, files, n, concurrency, runs):
    """RUNS times: a fresh repository, `materialize '*'` over the first n days of 2024."""
    first, last = "2024-01-01", day("2024-01-01", n - 1)
    results = []
    for i in range(runs):
        repo = new_repo(name)
        try:
            write_repo(repo, files)
            r = strata.materialize(repo, "*", first, last, f"{name}-c{concurrency or 'default'}-{i}", concurrency)
            results.append(r)
        finally:
            drop_repo(repo)
    return first, last, results


def summary(results, steps):
    walls = [r["wall_s"] for r in results]
    elapsed = [r["elapsed_ms"] for r in results if r.get("elapsed_ms") is not None]
    wall = statistics.median(walls)
    out = {
        "wall_s": wall,
        "wall_s_runs": walls,
        "ms_per_step": 1000 * wall / steps,
        "steps": steps,
    }
    if elapsed:
        out["run_elapsed_ms"] = statistics.median(elapsed)
        out["run_ms_per_step"] = statistics.median(elapsed) / steps
    return out


# ---------------------------------------------------------------------------------------------
# Dagster


def dagster_available():
    if SKIP_DAGSTER:
        return "SKIP_DAGSTER is set"
    if not os.path.exists(DAGSTER_PYTHON):
        return f"no interpreter at DAGSTER_PYTHON={DAGSTER_PYTHON}"
    if not os.path.exists(DAGSTER_BENCH):
        return f"no bench_materialize.py at DAGSTER_BENCH={DAGSTER_BENCH}"
    return None


def dagster_materialize(out, k, io, instance):
    """One run of bench_materialize.py; returns its JSON line plus the process wall time."""
    cmd = [DAGSTER_PYTHON, DAGSTER_BENCH, "--partitions", str(k), "--io", io, "--instance", instance]
    log_file = out.log_path(f"dagster-{io}-{instance}-k{k}")
    settle()
    log(f"  dagster: {' '.join(cmd[1:])}")
    with open(log_file, "w") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        t = time.perf_counter()
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=DAGSTER_TIMEOUT_S,
            cwd=tempfile.gettempdir(),
        )
        wall = time.perf_counter() - t
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"Dagster bench exited with status {proc.returncode}; see {log_file}")
    result = json.loads(lines[-1])
    result["process_wall_s"] = wall
    return result


def dagster_series(out, bench, k, io, instance, runs):
    """RUNS runs of one configuration, one JSON line; the median figures."""
    results = [dagster_materialize(out, k, io, instance) for _ in range(runs)]
    totals = [r["total_s"] for r in results]
    med = statistics.median(totals)
    record = {
        "bench": bench,
        "side": "dagster",
        "config": {"k": k, "io": io, "instance": instance, "runs": runs},
        "dagster": results[0].get("dagster"),
        "total_s": med,
        "total_s_runs": totals,
        "ms_per_asset_partition": 1000 * med / (3 * k),
        "framework_overhead_ms_per_asset_partition": statistics.median(
            r["framework_overhead_per_asset_partition_ms"] for r in results
        ),
        "process_wall_s": statistics.median(r["process_wall_s"] for r in results),
        "extrapolated": False,
        "runs": results,
        "load": loadavg(),
    }
    out.write(record)
    return record


def dagster_full(out, bench, short, full_k, io, instance):
    """The full-size figure: run it if the short run predicts it under DAGSTER_LIMIT_S, else
    extrapolate linearly from the short run (and say so)."""
    k = short["config"]["k"]
    if full_k == k:
        return short
    estimate = short["total_s"] * full_k / k
    if estimate <= DAGSTER_LIMIT_S:
        return dagster_series(out, bench, full_k, io, instance, 1)
    log(f"  dagster {io}/{instance} K={full_k}: estimated {estimate:.0f} s > {DAGSTER_LIMIT_S} s, extrapolated from K={k}")
    record = {
        "bench": bench,
        "side": "dagster",
        "config": {"k": full_k, "io": io, "instance": instance, "runs": 0},
        "dagster": short.get("dagster"),
        "total_s": estimate,
        "ms_per_asset_partition": short["ms_per_asset_partition"],
        "extrapolated": True,
        "extrapolated_from_k": k,
        "load": loadavg(),
    }
    out.write(record)
    return record


# ---------------------------------------------------------------------------------------------
# the benchmarks


def bench_overhead(strata, out):
    n = PARTITIONS
    steps = 3 * n
    for concurrency in (None, 1):
        label = concurrency or f"default ({os.cpu_count()} CPUs)"
        log(f"overhead: 3 trivial SQL assets x {n} partitions, concurrency {label}, {RUNS} runs")
        load = loadavg()
        first, last, results = materialize_fresh(strata, "overhead", TRIVIAL, n, concurrency, RUNS)
        for r in results:
            if r["steps"] != steps or r["rows"] != steps:
                raise BenchError(f"expected {steps} steps and rows, got {r}")
        record = {
            "bench": "overhead",
            "side": "strata",
            "config": {"partitions": n, "from": first, "to": last, "concurrency": concurrency or "default",
                       "cpus": os.cpu_count(), "runs": RUNS},
            **summary(results, steps),
            "load": [load, loadavg()],
        }
        out.write(record)
    why = dagster_available()
    if why:
        log(f"overhead: Dagster side skipped: {why}")
        return
    log(f"overhead: Dagster, pickle IO manager, K={DAGSTER_K}")
    eph = dagster_series(out, "overhead", DAGSTER_K, "pickle", "ephemeral", RUNS)
    dagster_series(out, "overhead", DAGSTER_K, "pickle", "temp", RUNS)
    dagster_full(out, "overhead", eph, n, "pickle", "ephemeral")


def command_direct(n):
    """Runs the command itself n times (as Strata would: same argv, STRATA_OUTPUT set)."""
    tmp = tempfile.mkdtemp(prefix="strata-bench-cmd-")
    try:
        env = dict(os.environ, STRATA_OUTPUT=os.path.join(tmp, "out.csv"))
        t = time.perf_counter()
        for _ in range(n):
            subprocess.run(COMMAND_ARGV, env=env, check=True, cwd=tmp)
        return time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_command(strata, out):
    n = COMMAND_STEPS
    log(f"command: {n} command steps at concurrency 1, {RUNS} runs; the command alone {n} times, {RUNS} runs")
    load = loadavg()
    files = {"bench/cmd.toml": COMMAND_ASSET}
    first, last, results = materialize_fresh(strata, "command", files, n, 1, RUNS)
    for r in results:
        if r["steps"] != n or r["rows"] != n:
            raise BenchError(f"expected {n} steps and rows, got {r}")
    direct = [command_direct(n) for _ in range(RUNS)]
    direct_med = statistics.median(direct)
    s = summary(results, n)
    record = {
        "bench": "command",
        "side": "strata",
        "config": {"steps": n, "from": first, "to": last, "concurrency": 1, "runs": RUNS, "command": COMMAND_ARGV},
        **s,
        "command_alone_s": direct_med,
        "command_alone_s_runs": direct,
        "command_alone_ms": 1000 * direct_med / n,
        "overhead_ms_per_step": 1000 * (s["wall_s"] - direct_med) / n,
        "load": [load, loadavg()],
    }
    if "run_elapsed_ms" in s:
        record["run_overhead_ms_per_step"] = (s["run_elapsed_ms"] - 1000 * direct_med) / n
    out.write(record)


def bench_chain(strata, out):
    n = PARTITIONS
    steps = 3 * n
    for concurrency in (1, None):
        label = concurrency or f"default ({os.cpu_count()} CPUs)"
        log(f"chain: raw -> clean -> agg (1,000 rows) x {n} partitions, concurrency {label}, {SLOW_RUNS} run(s)")
        load = loadavg()
        first, last = "2024-01-01", day("2024-01-01", n - 1)
        results = []
        for i in range(SLOW_RUNS):
            repo = new_repo("chain")
            try:
                write_repo(repo, CHAIN)
                r = strata.materialize(repo, "*", first, last, f"chain-c{concurrency or 'default'}-{i}", concurrency)
                if r["steps"] != steps or r["rows"] != 1000 * steps:
                    raise BenchError(f"expected {steps} steps and {1000 * steps} rows, got {r}")
                count = strata.query(repo, "SELECT count(*) AS n, count(DISTINCT partition_key) AS p FROM bench.agg")[0]
                row = strata.query(repo, "SELECT * FROM bench.agg LIMIT 1")[0]
                columns = [c for c in row if c != "partition_key"]
                if count["n"] != 1000 * n or count["p"] != n or len(columns) != 7:
                    raise BenchError(f"bench.agg: {count}, columns {columns}")
                r["agg_rows"], r["agg_columns"] = count["n"], columns
                results.append(r)
            finally:
                drop_repo(repo)
        record = {
            "bench": "chain",
            "side": "strata",
            "config": {"partitions": n, "from": first, "to": last, "concurrency": concurrency or "default",
                       "cpus": os.cpu_count(), "runs": SLOW_RUNS, "storage": "sqlite", "io_manager": "parquet"},
            **summary(results, steps),
            "agg_columns": results[0]["agg_columns"],
            "load": [load, loadavg()],
        }
        out.write(record)
    log(f"chain: the same chain declared single_run, `strata backfill '*'` (3 queries), {SLOW_RUNS} run(s)")
    load = loadavg()
    results = []
    for i in range(SLOW_RUNS):
        repo = new_repo("chain-single-run")
        try:
            write_repo(repo, CHAIN_SINGLE_RUN)
            args = ["backfill", "*", "--from", first, "--to", last, "--json"]
            wall, _, stdout = strata.run(repo, args, f"chain-single-run-{i}")
            report = json.loads(stdout)
            if report.get("completed") != steps or report["run"].get("steps") != 3:
                raise BenchError(f"expected 3 steps committing {steps} partitions, got {stdout[:2000]}")
            count = strata.query(repo, "SELECT count(*) AS n, count(DISTINCT partition_key) AS p FROM bench.agg")[0]
            if count["n"] != 1000 * n or count["p"] != n:
                raise BenchError(f"bench.agg: {count}")
            results.append({"wall_s": wall, "elapsed_ms": report["run"].get("elapsed_ms")})
        finally:
            drop_repo(repo)
    out.write({
        "bench": "chain",
        "side": "strata",
        "config": {"partitions": n, "from": first, "to": last, "concurrency": "default", "single_run": True,
                   "cpus": os.cpu_count(), "runs": SLOW_RUNS, "storage": "sqlite", "io_manager": "parquet"},
        **summary(results, steps),
        "load": [load, loadavg()],
    })
    why = dagster_available()
    if why:
        log(f"chain: Dagster side skipped: {why}")
        return
    log(f"chain: Dagster, parquet IO manager, temp (SQLite) instance, K={DAGSTER_K}, then K={n} or extrapolated")
    short = dagster_series(out, "chain", DAGSTER_K, "parquet", "temp", 1)
    dagster_full(out, "chain", short, n, "parquet", "temp")


def example_copy():
    """A fresh copy of the example repository: strata.toml, assets, scripts and the data it reads."""
    repo = new_repo("example")
    shutil.copy(os.path.join(REPO, "strata.toml"), repo)
    for folder in ("assets", "scripts", os.path.join("data", "nycflights13")):
        shutil.copytree(os.path.join(REPO, folder), os.path.join(repo, folder))
    return repo


def bench_example(strata, out):
    n = min(PARTITIONS, 365)
    first, last = "2013-01-01", day("2013-01-01", n - 1)

    def timed(repo, args, name, json_output=True):
        wall, status, stdout = strata.run(repo, args + (["--json"] if json_output else []), name, check=False)
        try:
            result = json.loads(stdout)
        except ValueError:
            result = {"stdout": stdout[-2000:]}
        if isinstance(result, dict) and isinstance(result.get("run"), dict):
            # `strata backfill --json`: {"backfill_id", "requested", "completed", "failed", "run": {…}}
            result = {**result["run"], "backfill_id": result.get("backfill_id"),
                      "requested": result.get("requested"), "completed": result.get("completed")}
        if status != 0:
            log(f"  `strata {' '.join(args)}` exited with status {status} (see the logs)")
        return {
            "args": args,
            "exit_status": status,
            "wall_s": wall,
            **{k: result.get(k) for k in ("status", "steps", "succeeded", "failed", "skipped", "rows", "elapsed_ms",
                                          "requested", "completed")
               if isinstance(result, dict)},
            "problems": len(result.get("problems", [])) if isinstance(result, dict) else None,
            "first_problems": result.get("problems", [])[:5] if isinstance(result, dict) else None,
        }

    # (a) the whole example, one step per asset partition
    log(f"example: materialize '*' --from {first} --to {last}")
    load = loadavg()
    repo = example_copy()
    try:
        whole = timed(repo, ["materialize", "*", "--from", first, "--to", last], "example-all")
    finally:
        drop_repo(repo)
    out.write({"bench": "example", "side": "strata", "part": "all", "config": {"from": first, "to": last},
               **whole, "load": [load, loadavg()]})

    # (b) daily_delays over the range: per partition, then as a single-run backfill
    repo = example_copy()
    try:
        log(f"example: upstream of flights/daily_delays, {first}..{last}")
        upstream = timed(repo, ["materialize", "*flights/clean_flights", "--from", first, "--to", last], "example-upstream")
        out.write({"bench": "example", "side": "strata", "part": "upstream", "config": {"from": first, "to": last},
                   **upstream, "load": loadavg()})
        log("example: flights/daily_delays per partition")
        load = loadavg()
        per = timed(repo, ["materialize", "flights/daily_delays", "--from", first, "--to", last], "example-daily-per-partition")
        out.write({"bench": "example", "side": "strata", "part": "daily_delays_per_partition",
                   "config": {"from": first, "to": last}, **per, "load": [load, loadavg()]})
        available, help_text = strata.has_command("backfill")
        if SKIP_BACKFILL or not available:
            why = "SKIP_BACKFILL is set" if SKIP_BACKFILL else "this strata has no `backfill` command"
            log(f"example: single-run backfill skipped: {why}")
            out.write({"bench": "example", "side": "strata", "part": "daily_delays_backfill", "skipped": why})
        else:
            log("example: flights/daily_delays as one backfill")
            load = loadavg()
            args = ["backfill", "flights/daily_delays", "--from", first, "--to", last]
            single = timed(repo, args, "example-daily-backfill", json_output="--json" in help_text)
            out.write({"bench": "example", "side": "strata", "part": "daily_delays_backfill",
                       "config": {"from": first, "to": last}, **single, "load": [load, loadavg()]})
    finally:
        drop_repo(repo)


# ---------------------------------------------------------------------------------------------
# tables


def fmt_s(x):
    return "—" if x is None else (f"{x:,.2f} s" if x < 10 else f"{x:,.1f} s")


def fmt_ms(x):
    return "—" if x is None else (f"{x:,.2f} ms" if x < 10 else f"{x:,.1f} ms")


def ratio(a, b):
    return "—" if not a or not b else f"{a / b:,.1f}×"


def tables(records):
    lines = []
    header = next((r for r in records if r.get("bench") == "header"), {})
    if header:
        lines += [
            f"Strata `{header.get('strata_version')}` ({header.get('strata_bin')}), repository commit "
            f"{header.get('git_commit')}; machine {header.get('cpus')} CPUs, load average at start "
            f"{header.get('load')}; {header.get('time')}.",
            "",
        ]
    by = {}
    for r in records:
        by.setdefault(r.get("bench"), []).append(r)

    def strata(bench, **config):
        for r in by.get(bench, []):
            if r.get("side") == "strata" and all(r.get("config", {}).get(k) == v for k, v in config.items()):
                return r
        return None

    def dagster(bench, **config):
        found = None
        for r in by.get(bench, []):
            if r.get("side") == "dagster" and all(r.get("config", {}).get(k) == v for k, v in config.items()):
                found = r
        return found

    def dagster_label(d):
        c = d["config"]
        label = f"K={c['k']} {c['io']} {c['instance']}"
        if d.get("extrapolated"):
            label += f", extrapolated from K={d['extrapolated_from_k']}"
        elif c.get("runs", 1) > 1:
            label += f", median of {c['runs']}"
        return label

    for r in by.get("error", []):
        lines += [f"**{r['failed_bench']} failed**: {r['error'].splitlines()[0]}", ""]

    if "overhead" in by:
        lines += ["### 1. Per-step orchestration overhead (3 trivial SQL assets, daily partitions)", "",
                  "| run | steps | Strata wall | Strata per step | per step, run only | Dagster per asset-partition | Dagster / Strata |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        eph = [d for d in by["overhead"] if d.get("side") == "dagster" and d["config"]["instance"] == "ephemeral"]
        ref = eph[-1] if eph else None  # the largest K run last
        for r in by["overhead"]:
            if r.get("side") != "strata":
                continue
            c = r["config"]
            conc = c["concurrency"] if c["concurrency"] != "default" else f"default ({c['cpus']} CPUs)"
            lines.append(
                f"| {c['partitions']} partitions, concurrency {conc} (median of {c['runs']}) | {r['steps']:,} | "
                f"{fmt_s(r['wall_s'])} | {fmt_ms(r['ms_per_step'])} | {fmt_ms(r.get('run_ms_per_step'))} | "
                f"{fmt_ms(ref['ms_per_asset_partition']) if ref else '—'} | "
                f"{ratio(ref['ms_per_asset_partition'], r['ms_per_step']) if ref else '—'} |"
            )
        for d in by["overhead"]:
            if d.get("side") == "dagster":
                lines.append(
                    f"| Dagster {dagster_label(d)} | {3 * d['config']['k']:,} | — | — | — | "
                    f"{fmt_ms(d['ms_per_asset_partition'])} (total {fmt_s(d['total_s'])}) | — |"
                )
        lines += ["", "Strata per step = process wall time / steps (start-up and repository load included); "
                  "“run only” uses the run's `elapsed_ms`. "
                  "Dagster per asset-partition = bench_materialize.py's total_s / (3 K), in one process "
                  "(Python start-up and `import dagster` excluded); the ratio uses the last ephemeral row.", ""]

    if "command" in by:
        r = strata("command")
        if r:
            c = r["config"]
            lines += ["### 2. Command step overhead", "",
                      "| steps (concurrency 1) | Strata wall | the command alone, × steps | overhead per step | overhead per step, run only |",
                      "|---:|---:|---:|---:|---:|",
                      f"| {c['steps']} (median of {c['runs']}) | {fmt_s(r['wall_s'])} | {fmt_s(r['command_alone_s'])} "
                      f"({fmt_ms(r['command_alone_ms'])} each) | **{fmt_ms(r['overhead_ms_per_step'])}** | "
                      f"{fmt_ms(r.get('run_overhead_ms_per_step'))} |",
                      "", "Overhead per step = (Strata wall − steps × the command's own time) / steps; "
                      "“run only” uses the run's `elapsed_ms` instead of the process wall time. Target: under 15 ms.", ""]

    if "chain" in by:
        lines += ["### 3. raw → clean → agg, 1,000 rows per partition (SQLite storage, Parquet)", "",
                  "| run | steps | wall | per asset-partition | Dagster / Strata |", "|---|---:|---:|---:|---:|"]
        ds = [d for d in by["chain"] if d.get("side") == "dagster"]
        full = ds[-1] if ds else None
        srows = [r for r in by["chain"] if r.get("side") == "strata"]
        for r in srows:
            c = r["config"]
            conc = c["concurrency"] if c["concurrency"] != "default" else f"default ({c['cpus']} CPUs)"
            same = full and full["config"]["k"] == c["partitions"]
            how = "`strata backfill`, single-run (3 queries)" if c.get("single_run") else f"concurrency {conc}"
            lines.append(
                f"| Strata, {c['partitions']} partitions, {how} | {r['steps']:,} | {fmt_s(r['wall_s'])} | "
                f"{fmt_ms(r['ms_per_step'])} | {ratio(full['total_s'], r['wall_s']) if same else '—'}"
                f"{' (Dagster extrapolated)' if same and full.get('extrapolated') else ''} |"
            )
        for d in ds:
            lines.append(
                f"| Dagster {dagster_label(d)} | {3 * d['config']['k']:,} | {fmt_s(d['total_s'])} | "
                f"{fmt_ms(d['ms_per_asset_partition'])} | |"
            )
        lines += ["", "Dagster / Strata = Dagster's total for the same number of partitions / Strata's wall time.", ""]

    if "example" in by:
        lines += ["### 4. The example's year", "",
                  "| command | steps | ok / failed / skipped | exit | wall |", "|---|---:|---|---:|---:|"]
        for r in by["example"]:
            if r.get("skipped"):
                lines.append(f"| `strata backfill flights/daily_delays …` | | skipped: {r['skipped']} | | |")
                continue
            steps = "—" if r.get("steps") is None else f"{r['steps']:,}"
            if r.get("requested") is not None:
                steps += f" ({r['requested']:,} partitions requested, {r.get('completed')} completed)"
            lines.append(
                f"| `strata {shlex.join(r['args'])}` | {steps} | "
                f"{r.get('succeeded')} / {r.get('failed')} / {r.get('skipped')} | {r['exit_status']} | {fmt_s(r['wall_s'])} |"
            )
        per = next((r for r in by["example"] if r.get("part") == "daily_delays_per_partition"), None)
        single = next((r for r in by["example"] if r.get("part") == "daily_delays_backfill" and not r.get("skipped")), None)
        if per and single:
            lines += ["", f"daily_delays, per partition / single run: {ratio(per['wall_s'], single['wall_s'])}"]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def main(argv):
    if argv and argv[0] == "table":
        with open(argv[1]) as f:
            print(tables([json.loads(line) for line in f if line.strip()]))
        return 0
    binary = out_path = None
    benches = []
    i = 0
    while i < len(argv):
        if argv[i] == "--strata":
            binary, i = argv[i + 1], i + 2
        elif argv[i] == "--out":
            out_path, i = argv[i + 1], i + 2
        elif argv[i] in BENCHES:
            benches.append(argv[i])
            i += 1
        else:
            print(f"unknown benchmark or option {argv[i]!r}; benchmarks: {' '.join(BENCHES)}", file=sys.stderr)
            return 2
    if not binary or not out_path:
        print("usage: bench.py --strata BIN --out FILE.jsonl [" + "] [".join(BENCHES) + "]", file=sys.stderr)
        return 2
    benches = [b for b in BENCHES if b in benches] or BENCHES
    out = Out(out_path)
    strata = Strata(binary, out)
    commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    out.write({
        "bench": "header",
        "strata_bin": binary,
        "strata_version": strata.version(),
        "git_commit": commit,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "partitions": PARTITIONS,
        "runs": RUNS,
        "dagster_python": DAGSTER_PYTHON,
        "dagster_bench": DAGSTER_BENCH,
        "load": loadavg(),
    })
    log(f"strata {binary}; benchmarks {' '.join(benches)}; PARTITIONS={PARTITIONS} RUNS={RUNS}; JSON lines to {out_path}")
    failed = False
    for name in benches:
        try:
            globals()[f"bench_{name}"](strata, out)
        except (BenchError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
            failed = True
            log(f"{name} failed: {e}")
            out.write({"bench": "error", "failed_bench": name, "error": str(e)})
    with open(out_path) as f:
        text = tables([json.loads(line) for line in f if line.strip()])
    with open(os.path.splitext(out_path)[0] + ".md", "w") as f:
        f.write(text + "\n")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
