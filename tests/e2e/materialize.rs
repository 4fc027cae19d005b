//! `strata materialize`, `status`, `runs` and `query` on the example and on small repositories
//! built to fail in each way a user can make an asset fail.

use std::path::Path;

use crate::{json, root, stderr, stdout, strata};

/// A copy of the example repository (declarations, script and data) in a temporary folder.
pub(crate) fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    example_in(dir.path());
    dir
}

/// Copies the example repository into `dir`.
pub(crate) fn example_in(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in ["strata.toml", "assets", "scripts", "data"] {
        copy(&root().join(entry), &dir.join(entry));
    }
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

/// A repository with `strata.toml` and the given files.
pub(crate) fn repository(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![(
        "strata.toml",
        "[project]\nname = \"t\"\n[executor]\nconcurrency = 2\n",
    )];
    all.extend_from_slice(files);
    for (path, text) in all {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Flights that departed per (day, origin) in the source CSV for 2013-01-01 .. 2013-01-03,
/// counted by Python from the gzip file itself.
fn source_counts(dir: &Path) -> Vec<(String, String, u64)> {
    let script = r#"
import csv, gzip, collections
counts = collections.Counter()
with gzip.open("data/nycflights13/flights.csv.gz", "rt", newline="") as f:
    for row in csv.DictReader(f):
        if row["year"] == "2013" and row["month"] == "1" and row["day"] in ("1", "2", "3") and row["dep_time"] != "NA":
            counts[("2013-01-%02d" % int(row["day"]), row["origin"])] += 1
for (day, origin), n in sorted(counts.items()):
    print(day, origin, n)
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            (
                parts[0].to_string(),
                parts[1].to_string(),
                parts[2].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_example_materializes_and_queries_equal_the_source() {
    let dir = example();
    let selection = "*flights/delays_vs_weather";
    let run = strata(
        dir.path(),
        &[
            "materialize",
            selection,
            "--from",
            "2013-01-01",
            "--to",
            "2013-01-03",
            "--json",
        ],
    );
    let report = json(&run);
    assert!(run.status.success(), "{report}\n{}", stderr(&run));
    assert_eq!(report["status"], "succeeded");
    // 1 source + 2 reference tables + 2 dims + 3 days × (flights, weather, clean, daily,
    // weather daily, delays_vs_weather).
    assert_eq!(report["succeeded"], 1 + 2 + 2 + 3 * 6, "{report}");

    let query = strata(
        dir.path(),
        &[
            "query",
            "SELECT CAST(flight_date AS VARCHAR) AS day, origin, sum(flights) AS flights \
             FROM flights.daily_delays GROUP BY 1, 2 ORDER BY 1, 2",
            "--json",
        ],
    );
    assert!(query.status.success(), "{}", stderr(&query));
    let rows: Vec<(String, String, u64)> = json(&query)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["day"].as_str().unwrap().to_string(),
                r["origin"].as_str().unwrap().to_string(),
                r["flights"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, source_counts(dir.path()));

    // Every partition also carries its key.
    let keys = strata(
        dir.path(),
        &[
            "query",
            "SELECT DISTINCT partition_key FROM flights.clean_flights ORDER BY 1",
            "--csv",
        ],
    );
    assert_eq!(
        stdout(&keys),
        "partition_key\n2013-01-01\n2013-01-02\n2013-01-03\n"
    );

    let status = json(&strata(
        dir.path(),
        &["status", "flights/daily_delays", "--json"],
    ));
    let daily = &status["assets"][0];
    assert_eq!(daily["partitions"], 365);
    assert_eq!(daily["materialized"]["count"], 3);
    assert_eq!(
        daily["materialized"]["ranges"],
        serde_json::json!([["2013-01-01", "2013-01-03"]])
    );
    assert_eq!(daily["missing"]["count"], 362);

    let runs = json(&strata(dir.path(), &["runs", "--json"]));
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(runs["runs"][0]["run_id"], run_id);
    assert_eq!(runs["runs"][0]["status"], "succeeded");
    let shown = json(&strata(dir.path(), &["runs", "show", run_id, "--json"]));
    assert_eq!(shown["steps"].as_array().unwrap().len(), 23);
    assert!(
        shown["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "succeeded")
    );
}

#[test]
fn re_materializing_overwrites_and_a_dry_run_runs_nothing() {
    let dir = repository(&[(
        "assets/g/numbers.sql",
        "/*---\npartitions = { static = [\"a\", \"b\"] }\n---*/\nSELECT $partition_key AS key, 1 AS n",
    )]);
    let dry = strata(
        dir.path(),
        &[
            "materialize",
            "g/numbers",
            "--missing",
            "--dry-run",
            "--json",
        ],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert_eq!(json(&dry)["steps"], 2);
    let runs = json(&strata(dir.path(), &["runs", "--json"]));
    assert_eq!(
        runs["runs"],
        serde_json::json!([]),
        "a dry run records nothing"
    );

    for _ in 0..2 {
        let run = strata(
            dir.path(),
            &["materialize", "g/numbers", "--partition", "b"],
        );
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let rows = json(&strata(
        dir.path(),
        &[
            "query",
            "SELECT key, n, partition_key FROM g.numbers",
            "--json",
        ],
    ));
    assert_eq!(
        rows,
        serde_json::json!([{"key": "b", "n": 1, "partition_key": "b"}])
    );
}

#[test]
fn bad_sql_fails_precisely_and_commits_nothing() {
    let dir = repository(&[
        ("assets/g/up.sql", "SELECT 1 AS a"),
        ("assets/g/down.sql", "SELECT no_such_column FROM g.up"),
    ]);
    let run = strata(dir.path(), &["materialize", "*", "--json"]);
    assert_eq!(run.status.code(), Some(1));
    let report = json(&run);
    let error = report["problems"][0]["outcome"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("g/down: assets/g/down.sql (query at line 1): "),
        "{error}"
    );
    assert!(error.contains("no_such_column"), "{error}");
    assert_eq!(
        report["problems"][0]["outcome"]["attempts"], 1,
        "not retried"
    );
    let status = json(&strata(dir.path(), &["status", "g/down", "--json"]));
    assert_eq!(status["assets"][0]["materialized"]["count"], 0);
    assert_eq!(status["assets"][0]["failed"]["count"], 1);
    // --failed picks the unpartitioned asset that failed, and nothing else.
    let retry = json(&strata(
        dir.path(),
        &["materialize", "*", "--failed", "--dry-run", "--json"],
    ));
    assert_eq!(retry["plan"], serde_json::json!(["g/down"]));
}

#[test]
fn a_failing_command_reports_its_exit_status_and_stderr_and_retries() {
    let script = "import os, sys\n\
                  n = os.path.join(os.environ['COUNTER_DIR'], 'attempts')\n\
                  count = int(open(n).read()) + 1 if os.path.exists(n) else 1\n\
                  open(n, 'w').write(str(count))\n\
                  print(f'attempt {count} failing', file=sys.stderr)\n\
                  sys.exit(3)\n";
    let dir = repository(&[
        ("scripts/fail.py", script),
        (
            "assets/g/flaky.toml",
            "command = [\"python3\", \"scripts/fail.py\"]\noutput = \"csv\"\n\
             retry = { max_retries = 1, delay = \"1s\" }\nenv = { COUNTER_DIR = \".\" }\n",
        ),
        ("assets/g/after.sql", "SELECT * FROM g.flaky"),
    ]);
    let run = strata(dir.path(), &["materialize", "*", "--json"]);
    assert_eq!(run.status.code(), Some(1));
    let report = json(&run);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["skipped"], 1, "the downstream step is skipped");
    let failed = &report["problems"][0]["outcome"];
    assert_eq!(failed["attempts"], 2);
    assert_eq!(
        failed["error"],
        "g/flaky: `python3 scripts/fail.py` exited with status 3: attempt 2 failing"
    );
    let skipped = &report["problems"][1]["outcome"];
    assert_eq!(skipped["reason"], "upstream g/flaky failed");

    let run_id = report["run_id"].as_str().unwrap();
    let shown = strata(dir.path(), &["runs", "show", run_id]);
    let text = stdout(&shown);
    assert!(
        text.contains("attempt 1 failing") && text.contains("attempt 2 failing"),
        "{text}"
    );
    assert!(text.contains("skipped   g/after"), "{text}");
}

#[test]
fn command_outputs_in_every_format_commit_with_pinned_types() {
    let writer = r#"
import json, os, sys
fmt = sys.argv[1]
out = os.environ["STRATA_OUTPUT"]
day = os.environ["STRATA_PARTITION_KEY"]
with open(os.environ["STRATA_EVENTS"], "a") as events:
    events.write(json.dumps({"type": "log", "level": "info", "message": "writing " + day}) + "\n")
    events.write("this line is not json\n")
    events.write(json.dumps({"type": "metadata", "values": {"source": "test"}}) + "\n")
    events.write(json.dumps({"type": "check", "name": "reported", "passed": True}) + "\n")
if fmt == "csv":
    open(out, "w").write("day,n,note\n" + day + ",1,\n")
else:
    open(out, "w").write(json.dumps({"day": day, "n": 1, "note": None}) + "\n")
"#;
    let daily = "partitions = { daily = { start = \"2024-01-01\", end = \"2024-01-03\" } }";
    let dir = repository(&[
        ("scripts/write.py", writer),
        (
            "assets/g/from_csv.toml",
            &format!(
                "command = [\"python3\", \"scripts/write.py\", \"csv\"]\noutput = \"csv\"\n{daily}\nschema = {{ n = \"float64\", note = \"utf8\" }}\n"
            ),
        ),
        (
            "assets/g/from_ndjson.toml",
            &format!(
                "command = [\"python3\", \"scripts/write.py\", \"ndjson\"]\noutput = \"ndjson\"\n{daily}\n"
            ),
        ),
    ]);
    let run = strata(
        dir.path(),
        &[
            "materialize",
            "*",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-02",
            "--json",
        ],
    );
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let rows = json(&strata(
        dir.path(),
        &[
            "query",
            "SELECT c.day, c.n AS csv_n, arrow_typeof(c.n) AS csv_type, j.n AS json_n, arrow_typeof(j.n) AS json_type FROM g.from_csv c JOIN g.from_ndjson j ON c.day = j.day ORDER BY 1",
            "--json",
        ],
    ));
    assert_eq!(
        rows,
        serde_json::json!([
            {"day": "2024-01-01", "csv_n": 1.0, "csv_type": "Float64", "json_n": 1, "json_type": "Int64"},
            {"day": "2024-01-02", "csv_n": 1.0, "csv_type": "Float64", "json_n": 1, "json_type": "Int64"},
        ])
    );
    let run_id = json(&run)["run_id"].as_str().unwrap().to_string();
    let shown = stdout(&strata(dir.path(), &["runs", "show", &run_id]));
    assert!(shown.contains("writing 2024-01-01"), "{shown}");
    assert!(
        shown.contains("events line 2:"),
        "a malformed line is a warning: {shown}"
    );
}

#[test]
fn schema_drift_between_partitions_is_a_precise_error() {
    let writer = "import os\nday = os.environ['STRATA_PARTITION_KEY']\n\
                  value = '1' if day == '2024-01-01' else 'x'\n\
                  open(os.environ['STRATA_OUTPUT'], 'w').write('n\\n' + value + '\\n')\n";
    let dir = repository(&[
        ("scripts/drift.py", writer),
        (
            "assets/g/drifty.toml",
            "command = [\"python3\", \"scripts/drift.py\"]\noutput = \"csv\"\n\
             partitions = { daily = { start = \"2024-01-01\", end = \"2024-01-03\" } }\n",
        ),
    ]);
    let first = strata(
        dir.path(),
        &["materialize", "g/drifty", "--partition", "2024-01-01"],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let second = strata(
        dir.path(),
        &[
            "materialize",
            "g/drifty",
            "--partition",
            "2024-01-02",
            "--json",
        ],
    );
    assert_eq!(second.status.code(), Some(1));
    let error = json(&second)["problems"][0]["outcome"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("g/drifty 2024-01-02: output column `n` is utf8 in this partition but int64 in the asset's earlier partitions"),
        "{error}"
    );
    let status = json(&strata(dir.path(), &["status", "g/drifty", "--json"]));
    assert_eq!(
        status["assets"][0]["materialized"]["count"], 1,
        "nothing committed"
    );
}

#[test]
fn a_failed_blocking_check_stops_its_downstream_and_says_so() {
    let dir = repository(&[
        (
            "assets/g/empty.sql",
            "/*---\nchecks = [{ row_count = { min = 1 }, blocking = true }, { not_null = [\"a\"], severity = \"warn\" }]\n---*/\nSELECT CAST(NULL AS BIGINT) AS a WHERE false",
        ),
        ("assets/g/reader.sql", "SELECT * FROM g.empty"),
    ]);
    let run = strata(dir.path(), &["materialize", "*"]);
    assert_eq!(run.status.code(), Some(1));
    let text = stdout(&run);
    assert!(
        text.contains(
            "check   g/empty: blocking check row_count failed; downstream partitions were skipped"
        ),
        "{text}"
    );
    assert!(
        text.contains("skipped g/reader: blocking check row_count of g/empty failed"),
        "{text}"
    );
    let status = json(&strata(dir.path(), &["status", "--json"]));
    let empty = &status["assets"][0];
    assert_eq!(
        empty["materialized"]["count"], 1,
        "the data is committed; the check failed"
    );
    assert_eq!(empty["failing_checks"][0]["check"], "row_count");
}

#[test]
fn a_timeout_stops_the_command() {
    let dir = repository(&[(
        "assets/g/slow.toml",
        "command = [\"python3\", \"-c\", \"import time; time.sleep(30)\"]\ntimeout = \"1s\"\n",
    )]);
    let started = std::time::Instant::now();
    let run = strata(dir.path(), &["materialize", "g/slow", "--json"]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        json(&run)["problems"][0]["outcome"]["error"],
        "g/slow: timed out after 1s"
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the child was killed, not waited for"
    );
}

#[test]
fn partitioned_assets_need_a_partition_set() {
    let dir = repository(&[(
        "assets/g/p.sql",
        "/*---\npartitions = { static = [\"a\"] }\n---*/\nSELECT 1 AS n",
    )]);
    let run = strata(dir.path(), &["materialize", "g/p"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        stderr(&run).contains("g/p is partitioned: choose partitions with --partition KEY"),
        "{}",
        stderr(&run)
    );
    let bad = strata(dir.path(), &["materialize", "g/p", "--partition", "zz"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("`zz` is not a partition of g/p; `strata partitions g/p` lists them"),
        "{}",
        stderr(&bad)
    );
    let query = strata(dir.path(), &["query", "SELEC 1"]);
    assert_eq!(query.status.code(), Some(2));
    assert!(
        stderr(&query).starts_with("error: query: "),
        "{}",
        stderr(&query)
    );
    let never = strata(dir.path(), &["query", "SELECT * FROM g.p"]);
    assert_eq!(never.status.code(), Some(2));
    assert!(
        stderr(&never).contains(
            "`g.p` is the asset g/p, which has not been materialized yet; \
             materialize it first (`strata materialize g/p`)"
        ),
        "{}",
        stderr(&never)
    );
}

#[test]
fn querying_a_source_asset_says_it_has_no_table() {
    let dir = repository(&[(
        "assets/ext/landing.toml",
        "source = { path = \"landing\", interval = \"1h\" }\n",
    )]);
    let query = strata(dir.path(), &["query", "SELECT * FROM ext.landing"]);
    assert_eq!(query.status.code(), Some(2));
    assert!(
        stderr(&query).contains(
            "`ext.landing` is the source asset ext/landing: Strata observes it and stores no table of it"
        ),
        "{}",
        stderr(&query)
    );
}

#[test]
fn editing_an_asset_makes_it_and_its_downstream_stale_and_stale_refreshes_exactly_those() {
    let daily = "partitions = { daily = { start = \"2024-01-01\", end = \"2024-01-04\" } }";
    let dir = repository(&[
        (
            "assets/g/up.sql",
            &format!("/*---\n{daily}\n---*/\nSELECT $partition_key AS day, 1 AS n"),
        ),
        (
            "assets/g/down.sql",
            &format!("/*---\n{daily}\n---*/\nSELECT day, n * 2 AS n FROM g.up"),
        ),
        (
            "assets/g/other.sql",
            &format!("/*---\n{daily}\n---*/\nSELECT 7 AS n"),
        ),
    ]);
    let first = strata(dir.path(), &["materialize", "*", "--missing"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let stale_counts = |dir: &Path| -> Vec<(String, u64)> {
        json(&strata(dir, &["status", "--json"]))["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["asset"].as_str().unwrap().to_string(),
                    a["stale"]["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert!(stale_counts(dir.path()).iter().all(|(_, n)| *n == 0));

    // A description change is not a code change.
    let up = dir.path().join("assets/g/up.sql");
    std::fs::write(
        &up,
        format!("/*---\n{daily}\ndescription = \"d\"\n---*/\nSELECT $partition_key AS day, 1 AS n"),
    )
    .unwrap();
    assert!(stale_counts(dir.path()).iter().all(|(_, n)| *n == 0));

    std::fs::write(
        &up,
        format!("/*---\n{daily}\n---*/\nSELECT $partition_key AS day, 2 AS n"),
    )
    .unwrap();
    let counts = stale_counts(dir.path());
    assert_eq!(
        counts,
        vec![
            ("g/other".to_string(), 0),
            ("g/up".to_string(), 3),
            ("g/down".to_string(), 3)
        ]
    );
    let status = json(&strata(dir.path(), &["status", "g/up,g/down", "--json"]));
    assert_eq!(
        status["assets"][0]["stale"]["causes"][0]["causes"][0]["cause"],
        "code"
    );
    assert_eq!(
        status["assets"][1]["stale"]["causes"][0]["causes"][0],
        serde_json::json!({"cause": "dependency", "upstream": "g/up", "partition": "2024-01-01", "state": "stale"})
    );

    let refresh = strata(dir.path(), &["materialize", "*", "--stale", "--json"]);
    assert!(refresh.status.success(), "{}", stderr(&refresh));
    assert_eq!(
        json(&refresh)["succeeded"],
        6,
        "exactly the stale partitions"
    );
    assert!(stale_counts(dir.path()).iter().all(|(_, n)| *n == 0));
    let rows = json(&strata(
        dir.path(),
        &["query", "SELECT sum(n) AS n FROM g.down", "--json"],
    ));
    assert_eq!(rows, serde_json::json!([{"n": 12}]));

    // Re-materializing an upstream partition with new data makes its readers stale (data).
    std::fs::write(
        &up,
        format!(
            "/*---\n{daily}\ncode_version = \"pinned\"\n---*/\nSELECT $partition_key AS day, 3 AS n"
        ),
    )
    .unwrap();
    let again = strata(
        dir.path(),
        &["materialize", "g/up", "--partition", "2024-01-02"],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let status = json(&strata(dir.path(), &["status", "g/down", "--json"]));
    // g/up's other days are stale by code (the declared version differs from the derived one),
    // so every g/down partition is stale: days 1 and 3 by dependency, day 2 by data (its
    // upstream day has new content, hence a new data version).
    let causes = &status["assets"][0]["stale"]["causes"];
    let day2 = causes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["partition"] == "2024-01-02")
        .unwrap();
    assert_eq!(day2["causes"][0]["cause"], "data", "{day2}");
}

#[test]
fn a_rust_asset_needs_a_binary_that_registers_its_function() {
    let dir = repository(&[("assets/g/r.toml", "rust = \"weekday_totals\"\n")]);
    let check = strata(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(1));
    let out = stdout(&check) + &stderr(&check);
    assert!(
        out.contains(
            "assets/g/r.toml:1:8: no Rust function `weekday_totals` is registered\n  hint: Rust \
             assets run in a binary that registers their function through the Rust API"
        ),
        "{out}"
    );
    let run = strata(dir.path(), &["materialize", "*"]);
    assert_eq!(run.status.code(), Some(1), "nothing runs: {}", stderr(&run));
}
