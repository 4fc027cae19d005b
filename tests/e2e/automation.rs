//! Automation end to end: the example repository stepped day by day with real
//! `strata automation tick --now …`, `why` and `freshness --json` held as golden files,
//! `strata report`, and the errors users meet.

use std::path::Path;

use crate::materialize::{example, repository};
use crate::{json, root, stderr, stdout, strata};

/// One real tick at `now`; returns its JSON.
fn tick(dir: &Path, now: &str) -> serde_json::Value {
    let output = strata(dir, &["automation", "tick", "--now", now, "--json"]);
    assert!(
        output.status.success(),
        "tick at {now}: {}",
        stderr(&output)
    );
    json(&output)
}

/// The assets a tick requested, as `asset partition` strings.
fn requested(tick: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in tick["requested"].as_array().unwrap() {
        let asset = r["asset"].as_str().unwrap();
        let partitions = r["partitions"].as_array().unwrap();
        if partitions.is_empty() {
            out.push(asset.to_string());
        }
        for p in partitions {
            out.push(format!("{asset} {}", p.as_str().unwrap()));
        }
    }
    out
}

/// Compares `actual` with the golden file (rewritten when `STRATA_BLESS=1`).
pub(crate) fn golden(name: &str, actual: &str) {
    let path = root().join("tests/e2e/golden").join(name);
    if std::env::var("STRATA_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (STRATA_BLESS=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn materialized(dir: &Path, asset: &str) -> Vec<String> {
    let status = json(&strata(dir, &["status", asset, "--json"]));
    status["assets"][0]["materialized"]["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}..{}", r[0].as_str().unwrap(), r[1].as_str().unwrap()))
        .collect()
}

#[test]
fn a_tick_interrupted_half_way_loses_no_update() {
    for failpoint in ["automation.before_record", "storage.tick_before_commit"] {
        let dir = example();
        let dir = dir.path();
        // The first tick observes the source; the next one requests the new day. Crash it
        // after it evaluated (and, the second time, inside the transaction storing it).
        tick(dir, "2013-01-02T12:00:00-05:00");
        let now = "2013-01-02T12:10:00-05:00";
        let crashed = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["automation", "tick", "--now", now, "--no-launch", "--json"])
            .current_dir(dir)
            .env("STRATA_FAILPOINTS", format!("{failpoint}=abort"))
            .output()
            .unwrap();
        assert!(
            !crashed.status.success(),
            "{failpoint}: the tick was killed"
        );
        // Nothing of it was stored: the next tick reads the same events and requests the same.
        let ticks = json(&strata(dir, &["automation", "ticks", "--json"]));
        assert_eq!(ticks.as_array().unwrap().len(), 1, "{failpoint}: {ticks}");
        let output = strata(
            dir,
            &["automation", "tick", "--now", now, "--no-launch", "--json"],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            requested(&json(&output)).contains(&"raw/flights 2013-01-01".to_string()),
            "{failpoint}: the update is not lost: {}",
            stdout(&output)
        );
    }
}

#[test]
fn the_example_stepped_day_by_day_keeps_eager_assets_up_to_date() {
    let dir = example();
    let dir = dir.path();
    // The first tick observes the source; conditions request nothing on their first evaluation
    // (Dagster's rule); the next sees the source's new version and requests the latest day.
    let first = tick(dir, "2013-01-02T12:00:00-05:00");
    assert_eq!(requested(&first), ["raw/nycflights13_files"]);
    let second = tick(dir, "2013-01-02T12:10:00-05:00");
    assert!(
        requested(&second).contains(&"raw/flights 2013-01-01".to_string()),
        "{second:#}"
    );
    for day in 3..=4 {
        let t = tick(dir, &format!("2013-01-0{day}T01:00:00-05:00"));
        let previous = format!("2013-01-0{}", day - 1);
        assert!(
            requested(&t).contains(&format!("raw/flights {previous}")),
            "day {day}: {t:#}"
        );
        // A tick after the runs requests the next layer and then nothing more.
        tick(dir, &format!("2013-01-0{day}T01:10:00-05:00"));
        let quiet = tick(dir, &format!("2013-01-0{day}T01:20:00-05:00"));
        assert_eq!(
            requested(&quiet),
            Vec::<String>::new(),
            "day {day}: {quiet:#}"
        );
    }
    for asset in [
        "raw/flights",
        "flights/clean_flights",
        "flights/daily_delays",
    ] {
        assert_eq!(
            materialized(dir, asset),
            ["2013-01-01..2013-01-03"],
            "{asset} is up to date"
        );
    }
    assert_eq!(
        materialized(dir, "flights/delays_vs_weather"),
        ["2013-01-02..2013-01-03"]
    );

    // Every decision can be asked why; the answers are held as golden files.
    let why = strata(
        dir,
        &[
            "automation",
            "why",
            "flights/daily_delays",
            "--partition",
            "2013-01-03",
        ],
    );
    assert!(why.status.success(), "{}", stderr(&why));
    golden("why_daily_delays.txt", &stdout(&why));
    let why = strata(dir, &["automation", "why", "raw/flights"]);
    golden("why_raw_flights.txt", &stdout(&why));

    // Fresh at 06:00 on the 4th; once the 4th ends and nothing runs, raw/flights warns
    // (6h) and then fails (9h) naming the late day.
    let fresh = strata(
        dir,
        &["freshness", "--now", "2013-01-04T06:00:00-05:00", "--json"],
    );
    golden("freshness_2013-01-04T06.json", &stdout(&fresh));
    let late = strata(
        dir,
        &[
            "freshness",
            "raw/flights",
            "--now",
            "2013-01-05T10:00:00-05:00",
            "--json",
        ],
    );
    assert_eq!(late.status.code(), Some(1), "a failing policy exits 1");
    let late = json(&late);
    assert_eq!(late["assets"][0]["state"], "fail");
    assert_eq!(
        late["assets"][0]["missing"],
        serde_json::json!(["2013-01-04"])
    );

    let ticks = json(&strata(dir, &["automation", "ticks", "--json"]));
    assert_eq!(ticks.as_array().unwrap().len(), 8);
}

#[test]
fn a_reported_materialization_triggers_eager_downstream_assets() {
    let dir = repository(&[
        ("assets/ext/orders.toml", "command = [\"true\"]\n"),
        (
            "assets/ext/summary.toml",
            "command = [\"true\"]\nautomation = \"eager\"\n[deps.\"ext/orders\"]\n",
        ),
    ]);
    let dir = dir.path();
    tick(dir, "2024-01-05T00:00:00Z");
    let report = strata(dir, &["report", "ext/orders", "--json"]);
    assert!(report.status.success(), "{}", stderr(&report));
    assert_eq!(json(&report)["reported"], 1);
    let dry = strata(
        dir,
        &[
            "automation",
            "tick",
            "--now",
            "2024-01-05T00:10:00Z",
            "--dry-run",
            "--json",
        ],
    );
    let dry = json(&dry);
    assert_eq!(
        dry["tick"],
        serde_json::Value::Null,
        "a dry run stores nothing"
    );
    assert_eq!(requested(&dry), ["ext/summary"]);
    assert_eq!(dry["requested"][0]["unpartitioned"], true);
    // --no-launch stores the tick (what it requested counts as requested) and runs nothing.
    let stored = strata(
        dir,
        &[
            "automation",
            "tick",
            "--now",
            "2024-01-05T00:10:00Z",
            "--no-launch",
            "--json",
        ],
    );
    let stored = json(&stored);
    assert_eq!(requested(&stored), ["ext/summary"]);
    assert_eq!(stored["runs"], serde_json::json!([]));
    let after = tick(dir, "2024-01-05T00:20:00Z");
    assert_eq!(
        requested(&after),
        Vec::<String>::new(),
        "requested once, not twice"
    );
}

#[test]
fn automation_and_report_errors_are_precise() {
    let dir = repository(&[
        ("assets/ext/orders.toml", "command = [\"true\"]\n"),
        (
            "assets/ext/daily.toml",
            "command = [\"true\"]\npartitions = { daily = { start = \"2024-01-01\" } }\nautomation = \"eager\"\n",
        ),
    ]);
    let dir = dir.path();
    let cases: &[(&[&str], &str)] = &[
        (
            &["automation", "tick", "--now", "yesterday"],
            "--now `yesterday` is not an RFC 3339 time",
        ),
        (
            &["automation", "why", "ext/dialy"],
            "did you mean `ext/daily`?",
        ),
        (
            &["automation", "why", "ext/orders"],
            "`ext/orders` has no automation condition",
        ),
        (
            &["automation", "why", "ext/daily"],
            "has not been evaluated; run `strata automation tick` first",
        ),
        (
            &["report", "ext/orders", "--partition", "x"],
            "`ext/orders` is not partitioned",
        ),
        (
            &["report", "ext/daily"],
            "name what was written with --partition KEY",
        ),
        (
            &["report", "ext/daily", "--partition", "2024-13-01"],
            "`2024-13-01` is not a partition of `ext/daily`",
        ),
    ];
    for (args, message) in cases {
        let output = strata(dir, args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    // Nothing above recorded anything.
    let ticks = json(&strata(dir, &["automation", "ticks", "--json"]));
    assert_eq!(ticks, serde_json::json!([]));
}
