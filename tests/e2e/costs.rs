//! Cost: every step's usage is recorded and priced by the rate card; `strata costs` and the
//! API group it by asset, partition, group, tag and day, and the groupings add up; dry runs
//! estimate what planned work will cost.

use serde_json::Value;

use crate::api::{call, example_app, get};
use crate::materialize::repository;
use crate::{json, stderr, strata};

/// A rate card that makes every measured quantity a visible amount: $1 per CPU second, $1 per
/// byte written, $2 per reported credit.
const PROJECT: &str = r#"[project]
name = "costs"
[executor]
concurrency = 2
[rate_card]
currency = "EUR"
cpu_hour = 3600.0
gb_written = 1000000000.0
gb_read = 0.0
gb_month_stored = 0.0
units = { credits = 2.0 }
"#;

/// A command that burns a little CPU, writes three rows and reports half a credit.
const SCRIPT: &str = r#"import json, os
total = sum(i * i for i in range(300000))
with open(os.environ["STRATA_OUTPUT"], "w") as f:
    f.write("n,total\n1,%d\n2,%d\n3,%d\n" % (total, total, total))
with open(os.environ["STRATA_EVENTS"], "a") as f:
    f.write(json.dumps({"type": "cost", "amount": 0.5, "unit": "credits"}) + "\n")
"#;

fn costs_repository() -> tempfile::TempDir {
    let dir = repository(&[
        ("scripts/make.py", SCRIPT),
        (
            "assets/raw/numbers.toml",
            r#"command = ["python3", "scripts/make.py"]
output = "csv"
tags = { team = "ops" }
partitions = { daily = { start = "2013-01-01", end = "2013-01-10" } }
"#,
        ),
        (
            "assets/stats/totals.sql",
            "/*---\ntags = { team = \"data\" }\npartitions = { daily = { start = \"2013-01-01\", end = \"2013-01-10\" } }\n---*/\nSELECT count(*) AS n, sum(total) AS total FROM raw.numbers\n",
        ),
    ]);
    std::fs::write(dir.path().join("strata.toml"), PROJECT).unwrap();
    dir
}

fn costs(dir: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec!["costs", "--json"];
    all.extend_from_slice(args);
    let output = strata(dir, &all);
    assert!(output.status.success(), "{}", stderr(&output));
    json(&output)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn step_costs_follow_the_rate_card_and_every_grouping_adds_up() {
    let dir = costs_repository();
    let run = strata(
        dir.path(),
        &[
            "materialize",
            "*",
            "--from",
            "2013-01-01",
            "--to",
            "2013-01-03",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));

    let by_asset = costs(dir.path(), &[]);
    assert_eq!(by_asset["currency"], "EUR");
    let rows = by_asset["rows"].as_array().unwrap();
    let row = |key: &str| rows.iter().find(|r| r["key"] == key).unwrap().clone();
    let numbers = row("raw/numbers");
    let totals = row("stats/totals");
    for r in [&numbers, &totals] {
        assert_eq!(r["steps"], 3, "{r}");
        let usage = &r["usage"];
        let amounts = &r["amounts"];
        let cpu = usage["cpu_seconds"].as_f64().unwrap();
        assert!(cpu > 0.0, "CPU was measured: {r}");
        assert!(usage["wall_seconds"].as_f64().unwrap() > 0.0, "{r}");
        assert!(usage["bytes_written"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(
            usage["rows_written"],
            if r == &numbers { 9 } else { 3 },
            "{r}"
        );
        // $1 per CPU second, $1 per byte written.
        assert!(close(amounts["compute"].as_f64().unwrap(), cpu), "{r}");
        assert!(
            close(
                amounts["written"].as_f64().unwrap(),
                usage["bytes_written"].as_f64().unwrap()
            ),
            "{r}"
        );
    }
    // The command's child: its CPU time and peak memory come from wait4; its credits from its
    // events (3 partitions × 0.5 credits × 2.0).
    assert!(numbers["usage"]["peak_memory_bytes"].as_u64().unwrap() > 1_000_000);
    assert_eq!(numbers["usage"]["units"]["credits"], 1.5);
    assert_eq!(numbers["amounts"]["units"], 3.0);
    // The SQL step read what the command wrote.
    assert_eq!(totals["usage"]["rows_read"], 9);
    assert_eq!(
        totals["usage"]["bytes_read"],
        numbers["usage"]["bytes_written"]
    );
    assert!(totals["usage"]["peak_memory_bytes"].is_null());

    let total = by_asset["total"]["total"].as_f64().unwrap();
    assert!(total > 3.0, "{by_asset}");
    for by in ["partition", "group", "tag:team", "day"] {
        let report = costs(dir.path(), &["--by", by]);
        let sum: f64 = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["total"].as_f64().unwrap())
            .sum();
        assert!(close(sum, total), "--by {by}: {sum} vs {total}");
        assert!(close(report["total"]["total"].as_f64().unwrap(), total));
        assert_eq!(report["total"]["steps"], 6, "--by {by}");
    }
    let by_team = costs(dir.path(), &["--by", "tag:team"]);
    let mut teams: Vec<&str> = by_team["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    teams.sort();
    assert_eq!(teams, ["team=data", "team=ops"]);
    // A selection narrows; the text table ends with the same total.
    let only = costs(dir.path(), &["stats/totals"]);
    assert_eq!(only["rows"].as_array().unwrap().len(), 1);
    let text = crate::stdout(&strata(dir.path(), &["costs", "--by", "tag:team"]));
    assert!(text.lines().last().unwrap().starts_with("total"), "{text}");
    assert!(text.contains("team=ops"), "{text}");

    // A dry run estimates from the average cost per partition of the same assets.
    let plan = strata(
        dir.path(),
        &[
            "materialize",
            "*",
            "--from",
            "2013-01-04",
            "--to",
            "2013-01-05",
            "--dry-run",
            "--json",
        ],
    );
    let plan = json(&plan);
    let estimate = &plan["estimated_cost"];
    assert_eq!(estimate["estimated_partitions"], 4, "{plan}");
    assert_eq!(estimate["unknown_partitions"], 0);
    let amount = estimate["amount"].as_f64().unwrap();
    assert!(close(amount, total / 6.0 * 4.0), "{amount} vs {total}");
    let text = crate::stdout(&strata(
        dir.path(),
        &[
            "backfill",
            "*",
            "--from",
            "2013-01-04",
            "--to",
            "2013-01-05",
            "--dry-run",
        ],
    ));
    assert!(text.contains("estimated cost: "), "{text}");
}

#[test]
fn cost_arguments_are_checked() {
    let dir = costs_repository();
    for (args, expected) in [
        (
            vec!["costs", "--by", "week"],
            "use asset, partition, group, day or tag:KEY",
        ),
        (vec!["costs", "--by", "tag:"], "tag:KEY"),
        (
            vec!["costs", "--since", "2013-13-01"],
            "--since: `2013-13-01` is not a date",
        ),
        (
            vec!["costs", "--since", "2013-02-01", "--until", "2013-01-01"],
            "--until must be after --since",
        ),
        (vec!["costs", "raw/numbrs"], "raw/numbers"),
    ] {
        let output = strata(dir.path(), &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reports_what_the_cli_reports_and_estimates_backfills() {
    let dir = costs_repository();
    let run = strata(
        dir.path(),
        &[
            "materialize",
            "raw/numbers",
            "--from",
            "2013-01-01",
            "--to",
            "2013-01-02",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let cli = costs(dir.path(), &["--by", "tag:team"]);
    let (_, app) = example_app(dir.path()).await;
    let api = get(&app, "/api/v1/costs?by=tag:team").await;
    assert_eq!(api["rows"], cli["rows"]);
    assert_eq!(api["total"]["total"], cli["total"]["total"]);
    let day = get(
        &app,
        "/api/v1/costs?select=raw/numbers&by=day&since=2000-01-01",
    )
    .await;
    assert_eq!(day["by"], "day");
    assert_eq!(day["rows"].as_array().unwrap().len(), 1);

    for uri in [
        "/api/v1/costs?by=week",
        "/api/v1/costs?since=yesterday",
        "/api/v1/costs?select=nope/nope",
    ] {
        let (status, body) = call(&app, "GET", uri, None).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert!(body["message"].as_str().is_some(), "{body}");
    }

    let (status, created) = call(
        &app,
        "POST",
        "/api/v1/backfills",
        Some(r#"{"selection": "*", "partitions": {"kind": "range", "from": "2013-01-03", "to": "2013-01-05"}, "dry_run": true}"#),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let estimate = &created["estimated_cost"];
    assert_eq!(estimate["currency"], "EUR");
    // raw/numbers has a history; stats/totals never ran.
    assert_eq!(estimate["estimated_partitions"], 3, "{created}");
    assert_eq!(estimate["unknown_partitions"], 3, "{created}");
    let per_partition = api["total"]["total"].as_f64().unwrap() / 2.0;
    assert!(close(
        estimate["amount"].as_f64().unwrap(),
        per_partition * 3.0
    ));
    let targets = created["targets"].as_array().unwrap();
    let totals = targets
        .iter()
        .find(|t| t["asset"] == "stats/totals")
        .unwrap();
    assert!(totals["estimated_cost"].is_null());
}

#[test]
fn a_command_killed_by_its_timeout_is_charged_for_the_cpu_it_used() {
    let dir = costs_repository();
    std::fs::write(
        dir.path().join("assets/raw/spin.toml"),
        "command = [\"python3\", \"-c\", \"while True: pass\"]\noutput = \"csv\"\ntimeout = \"2s\"\n",
    )
    .unwrap();
    let run = strata(dir.path(), &["materialize", "raw/spin"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let report = costs(dir.path(), &["raw/spin"]);
    let row = &report["rows"][0];
    assert_eq!(row["steps"], 1, "{report}");
    // The child spun for about 2 s before it was killed; its waiter still reported it.
    let cpu = row["usage"]["cpu_seconds"].as_f64().unwrap();
    assert!(cpu > 1.0, "{report}");
    assert!(row["usage"]["peak_memory_bytes"].as_u64().unwrap() > 0);
    assert!(close(row["amounts"]["compute"].as_f64().unwrap(), cpu));
}
