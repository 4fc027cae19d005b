//! Persistent backfills: single-run equals per-partition, `kill -9` then resume does nothing
//! twice, cancel stops in-flight steps, Ctrl-C cancels a run; dynamic partitions from the CLI.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::materialize::{example, repository};
use crate::{json, stderr, stdout, strata};

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(dir)
        .env_remove("STRATA_NOW")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strata starts")
}

/// Polls `probe` every 100 ms until it holds (panics after 60 s).
fn wait_until(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn materialized_keys(dir: &Path, asset: &str) -> Vec<String> {
    let table = asset.replace('/', ".");
    let output = strata(
        dir,
        &[
            "query",
            &format!("SELECT partition_key FROM {table} ORDER BY partition_key"),
            "--json",
        ],
    );
    if stderr(&output).contains("has not been materialized yet") {
        return Vec::new(); // nothing materialized yet: no table
    }
    let rows = json(&output);
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["partition_key"].as_str().unwrap().to_string())
        .collect()
}

fn backfill_list(dir: &Path) -> serde_json::Value {
    json(&strata(dir, &["backfills", "--json"]))["backfills"].clone()
}

#[test]
fn a_single_run_backfill_equals_per_partition_materialization() {
    let dir = example();
    let per_partition = strata(
        dir.path(),
        &[
            "materialize",
            "*flights/delays_vs_weather",
            "--from",
            "2013-01-01",
            "--to",
            "2013-01-03",
            "--json",
        ],
    );
    assert!(per_partition.status.success(), "{}", stderr(&per_partition));
    let rows = || {
        json(&strata(
            dir.path(),
            &[
                "query",
                "SELECT * FROM flights.daily_delays ORDER BY partition_key, carrier, origin",
                "--json",
            ],
        ))
    };
    let before = rows();
    assert!(before.as_array().unwrap().len() > 80, "{before}");

    let backfill = strata(
        dir.path(),
        &[
            "backfill",
            "flights/daily_delays",
            "--from",
            "2013-01-01",
            "--to",
            "2013-01-03",
            "--json",
        ],
    );
    assert!(backfill.status.success(), "{}", stderr(&backfill));
    let report = json(&backfill);
    assert_eq!(report["run"]["steps"], 1, "one query for the whole range");
    assert_eq!(
        (report["requested"].as_u64(), report["completed"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(rows(), before, "identical rows, partition by partition");

    // Identical data versions and inputs: nothing downstream became stale.
    let status = json(&strata(dir.path(), &["status", "--json"]));
    for asset in status["assets"].as_array().unwrap() {
        if asset["kind"] != "source" {
            assert_eq!(asset["stale"]["count"], 0, "{asset}");
        }
    }
    let daily = json(&strata(
        dir.path(),
        &["status", "flights/daily_delays", "--json"],
    ));
    assert_eq!(
        daily["assets"][0]["last_materialization"]["run_id"],
        report["run"]["run_id"]
    );
}

#[test]
fn a_single_run_query_must_keep_its_rows_inside_the_range() {
    let daily = "partitions = { daily = { start = \"2024-01-01\", end = \"2024-01-10\" } }";
    let dir = repository(&[
        (
            "assets/g/up.sql",
            &format!("/*---\n{daily}\n---*/\nSELECT 1 AS n"),
        ),
        (
            "assets/g/shifted.sql",
            &format!(
                "/*---\n{daily}\nbackfill = \"single_run\"\n---*/\n\
                 SELECT '2024-01-09' AS partition_key, count(*) AS n FROM g.up GROUP BY partition_key"
            ),
        ),
    ]);
    let run = strata(
        dir.path(),
        &[
            "backfill",
            "*",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-02",
        ],
    );
    assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
    assert!(
        stdout(&run).contains(
            "g/shifted 2024-01-01..2024-01-02: the query output a row with `partition_key` \
             `2024-01-09` outside the range 2024-01-01..2024-01-02"
        ),
        "{}",
        stdout(&run)
    );
    assert!(
        materialized_keys(dir.path(), "g/shifted").is_empty(),
        "nothing committed"
    );
    assert_eq!(backfill_list(dir.path())[0]["status"], "failed");
}

/// A partitioned command that records each start in `starts.log` and takes `delay` seconds.
fn slow_repository(delay: &str, days: u32) -> tempfile::TempDir {
    let script = format!(
        "import os, time\n\
         open('starts.log', 'a').write(os.environ['STRATA_PARTITION_KEY'] + '\\n')\n\
         time.sleep({delay})\n\
         open(os.environ['STRATA_OUTPUT'], 'w').write('n\\n1\\n')\n"
    );
    let toml = format!(
        "command = [\"python3\", \"scripts/slow.py\"]\noutput = \"csv\"\n\
         partitions = {{ daily = {{ start = \"2024-01-01\", end = \"2024-01-{:02}\" }} }}\n",
        days + 1
    );
    repository(&[("scripts/slow.py", &script), ("assets/g/slow.toml", &toml)])
}

fn starts(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("starts.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_backfill_killed_with_sigkill_resumes_and_does_nothing_twice() {
    let dir = slow_repository("0.3", 12);
    let mut child = spawn(
        dir.path(),
        &[
            "backfill",
            "g/slow",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-12",
            "--concurrency",
            "1",
        ],
    );
    wait_until("4 partitions are committed", || {
        json(&strata(dir.path(), &["status", "g/slow", "--json"]))["assets"][0]["materialized"]
            ["count"]
            .as_u64()
            .unwrap()
            >= 4
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let committed = materialized_keys(dir.path(), "g/slow");
    let backfill = &backfill_list(dir.path())[0];
    assert_eq!(backfill["status"], "requested", "interrupted, not finished");
    let id = backfill["backfill_id"].as_str().unwrap().to_string();

    let resumed = strata(dir.path(), &["backfills", "resume", &id, "--json"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let report = json(&resumed);
    assert_eq!(report["status"], "completed");
    assert_eq!(
        (report["requested"].as_u64(), report["completed"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(materialized_keys(dir.path(), "g/slow").len(), 12);
    let starts = starts(dir.path());
    for key in &committed {
        let count = starts.iter().filter(|s| *s == key).count();
        assert_eq!(
            count, 1,
            "{key} was committed before the kill and must not run again"
        );
    }
    let shown = json(&strata(dir.path(), &["backfills", "show", &id, "--json"]));
    assert_eq!(shown["backfill"]["status"], "completed");
    let runs = shown["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[1]["status"], "failed",
        "the killed run is failed explicitly"
    );
    assert!(
        runs[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("interrupted")
    );

    let again = strata(dir.path(), &["backfills", "resume", &id]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already completed"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn a_canceled_backfill_stops_its_steps_in_flight() {
    let dir = slow_repository("30", 3);
    let mut child = spawn(
        dir.path(),
        &[
            "backfill",
            "g/slow",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-03",
        ],
    );
    wait_until("a step has started", || !starts(dir.path()).is_empty());
    let id = backfill_list(dir.path())[0]["backfill_id"]
        .as_str()
        .unwrap()
        .to_string();
    let canceled_at = Instant::now();
    let cancel = strata(dir.path(), &["backfills", "cancel", &id]);
    assert!(cancel.status.success(), "{}", stderr(&cancel));
    let status = child.wait().unwrap();
    assert!(
        canceled_at.elapsed() < Duration::from_secs(20),
        "the 30 s steps were stopped, not waited for"
    );
    assert_eq!(status.code(), Some(1));
    let shown = json(&strata(dir.path(), &["backfills", "show", &id, "--json"]));
    assert_eq!(shown["backfill"]["status"], "canceled");
    assert_eq!(shown["runs"][0]["status"], "canceled");
    assert!(materialized_keys(dir.path(), "g/slow").is_empty());
    let resume = strata(dir.path(), &["backfills", "resume", &id]);
    assert!(
        stderr(&resume).contains("was canceled"),
        "{}",
        stderr(&resume)
    );
    let unknown = strata(dir.path(), &["backfills", "cancel", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no backfill `nope`"));
}

#[test]
fn ctrl_c_cancels_a_run_and_records_it() {
    let dir = slow_repository("30", 2);
    let child = spawn(
        dir.path(),
        &[
            "materialize",
            "g/slow",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-02",
        ],
    );
    wait_until("a step has started", || !starts(dir.path()).is_empty());
    let interrupt = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let runs = json(&strata(dir.path(), &["runs", "--json"]));
    assert_eq!(runs["runs"][0]["status"], "canceled");
    assert!(materialized_keys(dir.path(), "g/slow").is_empty());
}

#[test]
fn dynamic_partitions_are_added_listed_materialized_and_removed() {
    let dir = repository(&[(
        "assets/g/by_region.sql",
        "/*---\npartitions = { dynamic = \"regions\" }\n---*/\nSELECT $partition_key AS region",
    )]);
    let add = strata(
        dir.path(),
        &["partitions", "add", "regions", "eu", "us", "apac"],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    assert_eq!(
        stdout(&add).trim(),
        "added 3 keys to `regions`; it has 3 now"
    );
    let listed = json(&strata(
        dir.path(),
        &["partitions", "g/by_region", "--json"],
    ));
    let keys: Vec<&str> = listed["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["eu", "us", "apac"]);
    let run = strata(dir.path(), &["materialize", "g/by_region", "--missing"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(
        materialized_keys(dir.path(), "g/by_region"),
        ["apac", "eu", "us"]
    );

    let remove = strata(dir.path(), &["partitions", "remove", "regions", "us"]);
    assert_eq!(
        stdout(&remove).trim(),
        "removed 1 key from `regions`; it has 2 now"
    );

    let unknown = strata(dir.path(), &["partitions", "add", "region", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown)
            .contains("no dynamic partitions set `region`: the repository declares `regions`"),
        "{}",
        stderr(&unknown)
    );
    let bad = strata(dir.path(), &["partitions", "add", "regions", "a|b"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("cannot add `a|b` to `regions`: a partition key cannot contain `|`")
    );
}
