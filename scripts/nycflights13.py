#!/usr/bin/env python3
"""Extract one table (and, for daily tables, one day) of nycflights13 as a Strata command asset.

Usage (Strata runs it from the repository root):

    python3 scripts/nycflights13.py flights|weather|airlines|airports

Environment, per Strata's command protocol:

    STRATA_ASSET           the asset being materialized, `group/name` (used in messages)
    STRATA_PARTITION_KEY   `YYYY-MM-DD`, the local New York date; absent when unpartitioned
    STRATA_OUTPUT          the CSV file to write (header row; an empty field is null)
    STRATA_EVENTS          optional: a file to append JSON-lines events to
    NYCFLIGHTS13_DIR       optional: where the `<table>.csv.gz` files are
                           (default `data/nycflights13`)

`flights` and `weather` are filtered to the partition's day by their local `year`, `month` and
`day` columns; without a partition key the whole table is written. `airlines` and `airports`
are reference tables and refuse a partition key. `NA` in the source becomes an empty field.

Exit status: 0 on success, 1 when the data cannot be read or written, 2 on bad invocation
(unknown table, missing or malformed environment). The reason is printed on stderr.

Only the Python standard library is used.
"""

import csv
import datetime
import gzip
import json
import os
import sys
import time

DAILY_TABLES = ("flights", "weather")
REFERENCE_TABLES = ("airlines", "airports")
DEFAULT_DATA_DIR = os.path.join("data", "nycflights13")


class UsageError(Exception):
    """Bad invocation: exit status 2."""


class DataError(Exception):
    """Unreadable input or unwritable output: exit status 1."""


def parse_day(key):
    """The date of a daily partition key `YYYY-MM-DD`."""
    try:
        if len(key) != 10 or key[4] != "-" or key[7] != "-":
            raise ValueError(key)
        return datetime.date.fromisoformat(key)
    except ValueError:
        raise UsageError(
            f"STRATA_PARTITION_KEY={key!r} is not a daily partition key; expected YYYY-MM-DD"
        ) from None


def day_filter(table, header, day):
    """A predicate over raw CSV lines and parsed rows that keeps the rows of `day`."""
    try:
        year, month, dom = (header.index(c) for c in ("year", "month", "day"))
    except ValueError:
        raise DataError(f"{table}: the header has no year/month/day columns: {header}") from None
    wanted = (str(day.year), str(day.month), str(day.day))
    # In `flights` the date is the first three fields, so a line can be rejected by its prefix
    # without parsing it; other tables are checked on the parsed row only.
    prefix = ",".join(wanted) + "," if (year, month, dom) == (0, 1, 2) else ""

    def keep_line(line):
        return line.startswith(prefix)

    def keep_row(row):
        return (row[year], row[month], row[dom]) == wanted

    return keep_line, keep_row


def extract(table, day, source, output):
    """Copies the rows of `table` (of `day` when given) from `source` to `output`.

    Returns (rows written, fields that were NA).
    """
    rows = 0
    missing = 0
    try:
        src = gzip.open(source, "rt", encoding="utf-8", newline="")
        header_line = src.readline()
    except FileNotFoundError:
        raise DataError(
            f"cannot read {source}: no such file (run from the repository root, "
            f"or set NYCFLIGHTS13_DIR)"
        ) from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {source}: {e}") from None
    with src:
        header = next(csv.reader([header_line]), [])
        if not header:
            raise DataError(f"{source}: the file is empty")
        keep_line, keep_row = (lambda _line: True), (lambda _row: True)
        if day is not None:
            keep_line, keep_row = day_filter(table, header, day)
        try:
            out = open(output, "w", encoding="utf-8", newline="")
        except OSError as e:
            raise DataError(f"cannot write STRATA_OUTPUT={output}: {e.strerror}") from None
        with out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            try:
                for row in csv.reader(line for line in src if keep_line(line)):
                    if not row:
                        continue
                    if len(row) != len(header):
                        raise DataError(
                            f"{source}: a row has {len(row)} fields, the header {len(header)}: {row}"
                        )
                    if not keep_row(row):
                        continue
                    for i, value in enumerate(row):
                        if value == "NA":
                            row[i] = ""
                            missing += 1
                    writer.writerow(row)
                    rows += 1
            except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
                raise DataError(f"cannot copy {source} to {output}: {e}") from None
    return rows, missing


def append_events(path, events):
    """Appends events to the STRATA_EVENTS file, one JSON object per line."""
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as f:
            for event in events:
                f.write(json.dumps(event, separators=(",", ":")) + "\n")
    except OSError as e:
        raise DataError(f"cannot append to STRATA_EVENTS={path}: {e}") from None


def run(argv, env):
    if len(argv) != 2:
        raise UsageError(
            "expected exactly one argument, the table: "
            + " | ".join(DAILY_TABLES + REFERENCE_TABLES)
        )
    table = argv[1]
    if table not in DAILY_TABLES + REFERENCE_TABLES:
        raise UsageError(
            f"unknown table {table!r}; expected one of: "
            + ", ".join(DAILY_TABLES + REFERENCE_TABLES)
        )
    asset = env.get("STRATA_ASSET", f"raw/{table}")
    output = env.get("STRATA_OUTPUT")
    if not output:
        raise UsageError("STRATA_OUTPUT is not set: it names the CSV file to write")

    key = env.get("STRATA_PARTITION_KEY")
    day = None
    if key is not None:
        if table in REFERENCE_TABLES:
            raise UsageError(
                f"{asset}: {table} is a reference table and is not partitioned, "
                f"but STRATA_PARTITION_KEY={key!r} was given"
            )
        day = parse_day(key)

    data_dir = env.get("NYCFLIGHTS13_DIR") or DEFAULT_DATA_DIR
    source = os.path.join(data_dir, f"{table}.csv.gz")

    started = time.monotonic()
    rows, missing = extract(table, day, source, output)
    seconds = round(time.monotonic() - started, 3)

    scope = f"on {day.isoformat()}" if day else "in total"
    events = [
        {"type": "log", "level": "info", "message": f"read {rows} {table} rows {scope} from {source}"},
        {
            "type": "metadata",
            "values": {"rows": rows, "na_fields": missing, "source": source, "seconds": seconds},
        },
    ]
    if rows == 0:
        events.append(
            {"type": "log", "level": "warn", "message": f"{asset}: no {table} rows {scope}"}
        )
    append_events(env.get("STRATA_EVENTS"), events)
    return rows


def main():
    try:
        run(sys.argv, os.environ)
    except UsageError as e:
        print(f"nycflights13.py: {e}", file=sys.stderr)
        return 2
    except DataError as e:
        print(f"nycflights13.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
