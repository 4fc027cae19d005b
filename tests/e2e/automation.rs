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

/// A tick killed after storing what it requested but before launching it: the next process to
/// tick launches those runs (under their own ids) before ticking, so no request is lost.
#[test]
fn runs_a_killed_tick_requested_are_launched_by_the_next_tick() {
    let dir = example();
    let dir = dir.path();
    tick(dir, "2013-01-02T12:00:00-05:00");
    let now = "2013-01-02T12:10:00-05:00";
    let crashed = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["automation", "tick", "--now", now, "--json"])
        .current_dir(dir)
        .env("STRATA_FAILPOINTS", "automation.after_record=abort")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the tick was killed");
    let ticks = json(&strata(dir, &["automation", "ticks", "--json"]));
    let lost = ticks[0]["runs"].as_array().unwrap().clone();
    assert!(
        !lost.is_empty(),
        "the killed tick had requested runs: {ticks}"
    );
    let run_ids = |dir: &Path| -> Vec<String> {
        json(&strata(dir, &["runs", "--json"]))["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect()
    };
    let lost_id = lost[0]["run_id"].as_str().unwrap().to_string();
    assert!(!run_ids(dir).contains(&lost_id), "never queued");
    assert!(!materialized(dir, "raw/flights").contains(&"2013-01-01..2013-01-01".to_string()));

    let next = strata(
        dir,
        &["automation", "tick", "--now", "2013-01-02T12:20:00-05:00"],
    );
    assert!(next.status.success(), "{}", stderr(&next));
    assert!(
        stderr(&next).contains("launched again"),
        "{}",
        stderr(&next)
    );
    let runs = json(&strata(dir, &["runs", "--json"]))["runs"].clone();
    let relaunched = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == lost_id.as_str())
        .unwrap_or_else(|| panic!("{lost_id} launched again: {runs}"));
    assert_eq!(relaunched["status"], "succeeded", "{relaunched}");
    assert!(
        materialized(dir, "raw/flights")
            .iter()
            .any(|r| r.starts_with("2013-01-01")),
        "{:?}",
        materialized(dir, "raw/flights")
    );
    let again = tick(dir, "2013-01-02T12:30:00-05:00");
    assert!(
        !requested(&again).contains(&"raw/flights 2013-01-01".to_string()),
        "requested once, launched once: {again}"
    );
}

/// A tick's process killed while its run executes: the next tick fails that run explicitly
/// (its partitions are no longer in progress) and evaluates the asset again.
#[test]
fn a_run_whose_ticking_process_was_killed_is_failed_as_interrupted() {
    let dir = repository(&[(
        "assets/g/slow.toml",
        "command = [\"sh\", \"-c\", \"test -e fast || sleep 30; printf 'n\\\\n1\\\\n' > $STRATA_OUTPUT\"]\n\
         output = \"csv\"\nautomation = \"missing & !in_progress\"\n",
    )]);
    let dir = dir.path();
    let mut ticking = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["automation", "tick", "--now", "2024-01-05T00:00:00Z"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = || -> Option<String> {
        let runs = json(&strata(dir, &["runs", "--json"]));
        let run = runs["runs"].as_array()?.first()?.clone();
        (run["status"] == "started").then(|| run["run_id"].as_str().unwrap().to_string())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run_id = loop {
        if let Some(id) = started() {
            break id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    ticking.kill().unwrap(); // SIGKILL
    ticking.wait().unwrap();
    std::fs::write(dir.join("fast"), "").unwrap();

    let next = strata(
        dir,
        &["automation", "tick", "--now", "2024-01-05T00:01:00Z"],
    );
    assert!(next.status.success(), "{}", stderr(&next));
    assert!(
        stderr(&next).contains("1 interrupted run failed"),
        "{}",
        stderr(&next)
    );
    let shown = json(&strata(dir, &["runs", "show", &run_id, "--json"]));
    assert_eq!(shown["run"]["status"], "failed", "{shown}");
    assert!(
        shown["run"]["error"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{shown}"
    );
    let status = json(&strata(dir, &["status", "g/slow", "--json"]));
    assert!(
        !status["assets"][0]["last_materialization"].is_null(),
        "evaluated again and materialized: {status}"
    );
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
