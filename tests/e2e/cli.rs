//! The CLI on the example repository and on a broken one.

use crate::{json, root, stderr, stdout, strata};

#[test]
fn check_passes_on_the_example() {
    let output = strata(&root(), &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("ok  flights: 15 assets, 17 dependencies"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_reports_every_error_with_its_position_and_changes_nothing() {
    let broken = root().join("tests/fixtures/broken");
    let before = snapshot(&broken);
    let output = strata(&broken, &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    for expected in [
        // The cycle, once, with the whole loop.
        "a/cycle_one → a/cycle_two → a/cycle_one",
        // An unknown dependency, pointing at the table in the query, with the closest key.
        "assets/a/unknown_dep.sql:5:6:",
        "a/cycle_one",
        // A misspelled time zone.
        "assets/b/bad_timezone.toml:3:",
        "did you mean `America/New_York`?",
        // An hour that does not exist in a cron schedule.
        "assets/b/bad_cron.toml:3:",
        "out of range for the hour field",
        // An invalid key.
        "assets/b/bad_key.toml:1:",
        "b/Bad-Key",
        // A malformed header.
        "assets/b/malformed.sql:2:",
    ] {
        assert!(
            errors.contains(expected),
            "missing `{expected}` in:\n{errors}"
        );
    }
    assert_eq!(snapshot(&broken), before, "check changed the repository");
    let report = json(&strata(&broken, &["check", "--json"]));
    assert_eq!(report["ok"], false);
    assert!(report["errors"].as_array().unwrap().len() >= 6, "{report}");
}

fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}

#[test]
fn partitions_lists_keys_with_windows() {
    let output = strata(
        &root(),
        &[
            "partitions",
            "raw/flights",
            "--now",
            "2013-01-05T12:00:00Z",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listing = json(&output);
    assert_eq!(listing["asset"], "raw/flights");
    // Windows end at midnight New York time: at 07:00 on the 5th (UTC 12:00) the 4th has ended.
    assert_eq!(listing["count"], 4);
    assert_eq!(listing["partitions"][0]["key"], "2013-01-01");
    assert_eq!(
        listing["partitions"][0]["start"],
        "2013-01-01T00:00:00-05:00"
    );
    assert_eq!(listing["partitions"][0]["end"], "2013-01-02T00:00:00-05:00");
    assert_eq!(listing["partitions"][3]["key"], "2013-01-04");
}

#[test]
fn strata_now_sets_the_clock() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["partitions", "raw/flights", "--json"])
        .current_dir(root())
        .env("STRATA_NOW", "2013-01-03T12:00:00Z")
        .output()
        .unwrap();
    assert_eq!(json(&output)["count"], 2);
}

#[test]
fn upstream_of_a_rolling_window_clamps_at_the_start() {
    let output = strata(
        &root(),
        &[
            "partitions",
            "features/rolling_delays_7d",
            "--upstream-of",
            "2013-01-03",
            "--upstream-of",
            "2013-01-10",
            "--now",
            "2013-02-01T00:00:00Z",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(
        report["keys"],
        serde_json::json!(["2013-01-03", "2013-01-10"])
    );
    let dep = &report["deps"][0];
    assert_eq!(dep["asset"], "flights/clean_flights");
    let keys: Vec<&str> = dep["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    // 2013-01-03 needs 01-01..01-03 (clamped, nothing reported missing); 01-10 needs 01-04..01-10.
    assert_eq!(keys.first(), Some(&"2013-01-01"));
    assert_eq!(keys.last(), Some(&"2013-01-10"));
    assert_eq!(keys.len(), 10);
    assert_eq!(dep["nonexistent"], serde_json::json!([]));
}

#[test]
fn downstream_of_a_day_reaches_week_month_and_rolling_window() {
    let output = strata(
        &root(),
        &[
            "partitions",
            "flights/daily_delays",
            "--downstream-of",
            "2013-01-09",
            "--now",
            "2014-01-02T00:00:00Z",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let downstream = report["downstream"].as_array().unwrap();
    let keys_of = |asset: &str| {
        downstream
            .iter()
            .find(|d| d["asset"] == asset)
            .unwrap_or_else(|| panic!("{asset} missing in {report}"))["keys"]
            .clone()
    };
    assert_eq!(
        keys_of("flights/weekly_delays"),
        serde_json::json!(["2013-01-07"])
    );
    assert_eq!(
        keys_of("flights/monthly_delays"),
        serde_json::json!(["2013-01-01"])
    );
}

#[test]
fn repo_is_a_global_option_before_or_after_the_subcommand() {
    let elsewhere = std::env::temp_dir();
    let repo = root();
    let repo = repo.to_str().unwrap();
    for args in [["--repo", repo, "check"], ["check", "--repo", repo]] {
        let output = strata(&elsewhere, &args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn bad_arguments_exit_2_with_a_precise_message() {
    let cases: [(&[&str], &str); 4] = [
        (&["partitions", "raw/flight"], "did you mean `raw/flights`"),
        (
            &["partitions", "raw/flights", "--now", "yesterday"],
            "is not an RFC 3339 time",
        ),
        (
            &[
                "partitions",
                "raw/flights",
                "--upstream-of",
                "2013-13-01",
                "--now",
                "2013-02-01T00:00:00Z",
            ],
            "is not a partition of `raw/flights`",
        ),
        (
            &["assets", "group:flights,flights/daly_delays+"],
            "did you mean `flights/daily_delays`",
        ),
    ];
    for (args, expected) in cases {
        let output = strata(&root(), args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn assets_and_lineage_follow_the_selection() {
    let assets = json(&strata(
        &root(),
        &["assets", "*flights/weekly_delays", "--json"],
    ));
    let keys: Vec<&str> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"raw/flights") && keys.contains(&"flights/weekly_delays"),
        "{keys:?}"
    );
    assert!(!keys.contains(&"flights/monthly_delays"), "{keys:?}");

    let lineage = json(&strata(
        &root(),
        &["lineage", "+flights/weekly_delays", "--json"],
    ));
    assert_eq!(lineage["nodes"].as_array().unwrap().len(), 2, "{lineage}");
    assert_eq!(lineage["edges"][0]["from"], "flights/daily_delays");
    assert_eq!(lineage["edges"][0]["to"], "flights/weekly_delays");
}
