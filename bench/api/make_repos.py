#!/usr/bin/env python3
"""Generates the two repositories the API benchmark serves.

  make_repos.py lineage DIR N    N SQL assets in the layered graph of bench/automation/graphgen.py
                                 (keys bench/<name>), each reading its dependencies
  make_repos.py status DIR N     one SQL asset, bench/hourly, with N hourly partitions from
                                 1910-01-01-00:00 (N = 1,000,000 ends on 2024-01-29-16:00)

Standard library only.
"""
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def project(root, name):
    write(os.path.join(root, "strata.toml"), f'[project]\nname = "{name}"\n\n[daemon]\ntick_interval = "1h"\n')


def lineage(root, n):
    graph = json.loads(subprocess.check_output(
        [sys.executable, os.path.join(HERE, "..", "automation", "graphgen.py"), str(n)]))
    project(root, "lineage")
    for name, deps in graph["deps"].items():
        if deps:
            body = " UNION ALL ".join(f"SELECT v FROM bench.{d}" for d in deps)
            query = f"SELECT count(*) AS v FROM ({body}) AS inputs"
        else:
            query = "SELECT 1 AS v"
        write(os.path.join(root, "assets", "bench", f"{name}.sql"),
              f'/*---\ndescription = "layer asset {name}"\n---*/\n{query}\n')


def status(root, n):
    start = datetime.datetime(1910, 1, 1)
    end = start + datetime.timedelta(hours=n)
    project(root, "status")
    fmt = "%Y-%m-%d-%H:%M"
    write(os.path.join(root, "assets", "bench", "hourly.sql"),
          "/*---\n"
          f'partitions = {{ hourly = {{ start = "{start.strftime(fmt)}", end = "{end.strftime(fmt)}" }} }}\n'
          "---*/\nSELECT 1 AS v\n")


if __name__ == "__main__":
    kind, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"lineage": lineage, "status": status}[kind](root, n)
