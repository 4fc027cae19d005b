//! Freshness at fixed times, one test per rule.

use super::*;
use crate::declare::{SourceFile, load_repository};
use crate::key::AssetKey;
use crate::model::Asset;
use crate::partitions::definition::NoDynamicPartitions;

/// An asset declared with `fields` (a freshness policy, maybe partitions).
fn asset(fields: &str) -> Asset {
    let repository = load_repository(
        SourceFile::new("strata.toml", "[project]\nname = \"t\"\n"),
        vec![SourceFile::new(
            "assets/g/a.toml",
            format!("command = [\"true\"]\n{fields}\n"),
        )],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    repository
        .asset(&AssetKey::parse("g/a").unwrap())
        .unwrap()
        .clone()
}

fn at(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

fn unpartitioned(policy: &str, data_time: Option<&str>, now: &str) -> FreshnessStatus {
    let asset = asset(&format!("freshness = {policy}"));
    let materialized = if data_time.is_some() {
        PartitionSubset::from_range(0..1)
    } else {
        PartitionSubset::empty()
    };
    let facts = FreshnessFacts {
        keyspace: None,
        materialized: &materialized,
        last_materialized: data_time.map(at),
        data_time: data_time.map(at),
    };
    evaluate(asset.freshness.as_ref().unwrap(), &facts, at(now))
}

/// A daily asset from 2024-01-01 with these partitions materialized.
fn daily(policy: &str, materialized: &[u64], now: &str) -> (FreshnessStatus, Vec<String>) {
    let asset = asset(&format!(
        "partitions = {{ daily = {{ start = \"2024-01-01\" }} }}\nfreshness = {policy}"
    ));
    let def = asset.partitions_definition().unwrap();
    let keys = def.keyspace(at(now) / 1000, &NoDynamicPartitions);
    let materialized = PartitionSubset::from_indices(materialized.iter().copied());
    let facts = FreshnessFacts {
        keyspace: Some(&keys),
        materialized: &materialized,
        last_materialized: None,
        data_time: None,
    };
    let status = evaluate(asset.freshness.as_ref().unwrap(), &facts, at(now));
    let missing = status.missing.iter().filter_map(|i| keys.key(i)).collect();
    (status, missing)
}

const LAG: &str = "{ max_lag = \"26h\", warn_lag = \"20h\" }";

#[test]
fn max_lag_is_fresh_within_the_warn_lag() {
    let s = unpartitioned(LAG, Some("2024-01-01T10:00:00Z"), "2024-01-02T05:00:00Z");
    assert_eq!(s.state, FreshnessState::Fresh);
    assert_eq!(s.lag_ms, Some(19 * 3_600_000));
    assert_eq!(s.overdue_ms, Some(0));
    assert_eq!(s.fresh_until, Some(at("2024-01-02T12:00:00Z")));
}

#[test]
fn max_lag_warns_past_the_warn_lag_and_fails_past_the_max_lag() {
    let s = unpartitioned(LAG, Some("2024-01-01T10:00:00Z"), "2024-01-02T07:00:00Z");
    assert_eq!(s.state, FreshnessState::Warn);
    let s = unpartitioned(LAG, Some("2024-01-01T10:00:00Z"), "2024-01-02T13:30:00Z");
    assert_eq!(s.state, FreshnessState::Fail);
    assert_eq!(s.overdue_ms, Some(90 * 60_000));
    assert!(
        s.reason.contains("over the max lag 1d2h by 1h30m"),
        "{}",
        s.reason
    );
}

#[test]
fn max_lag_without_data_is_unknown() {
    let s = unpartitioned(LAG, None, "2024-01-02T13:30:00Z");
    assert_eq!(s.state, FreshnessState::Unknown);
}

#[test]
fn max_lag_with_cron_is_evaluated_at_the_latest_tick() {
    // At 08:00 the latest 09:00 tick is yesterday's: data from 10:00 the day before that is
    // 23h old at that tick, within 26h, even though it is 46h old now.
    let policy = "{ max_lag = \"26h\", cron = \"0 9 * * *\" }";
    let s = unpartitioned(policy, Some("2024-01-01T10:00:00Z"), "2024-01-03T08:00:00Z");
    assert_eq!(s.evaluated_at, at("2024-01-02T09:00:00Z"));
    assert_eq!(s.state, FreshnessState::Fresh);
    let s = unpartitioned(policy, Some("2024-01-01T10:00:00Z"), "2024-01-03T09:00:00Z");
    assert_eq!(s.state, FreshnessState::Fail);
}

#[test]
fn max_lag_on_daily_partitions_takes_the_time_all_partitions_are_complete_to() {
    // Partitions 01-01..01-04 exist at 2024-01-06T12:00 except 01-03: data time is 01-03's start.
    let (s, missing) = daily(LAG, &[0, 1, 3, 4], "2024-01-06T12:00:00Z");
    assert_eq!(s.data_time, Some(at("2024-01-03T00:00:00Z")));
    assert_eq!(s.state, FreshnessState::Fail);
    assert_eq!(missing, ["2024-01-03"]);
    let (s, _) = daily(LAG, &[0, 1, 2, 3, 4], "2024-01-06T12:00:00Z");
    assert_eq!(s.data_time, Some(at("2024-01-06T00:00:00Z")));
    assert_eq!(s.state, FreshnessState::Fresh);
}

const DEADLINE: &str = "{ deadline = \"0 9 * * *\", lower_bound = \"24h\" }";

#[test]
fn deadline_is_fresh_when_materialized_within_the_lower_bound_of_the_last_deadline() {
    let s = unpartitioned(
        DEADLINE,
        Some("2024-01-01T10:00:00Z"),
        "2024-01-02T08:00:00Z",
    );
    assert_eq!(s.evaluated_at, at("2024-01-01T09:00:00Z"));
    assert_eq!(s.state, FreshnessState::Fresh);
    assert_eq!(s.fresh_until, Some(at("2024-01-02T09:00:00Z")));
    let s = unpartitioned(
        DEADLINE,
        Some("2024-01-01T10:00:00Z"),
        "2024-01-02T09:30:00Z",
    );
    assert_eq!(s.state, FreshnessState::Fresh, "{}", s.reason);
}

#[test]
fn deadline_fails_once_a_deadline_passes_without_a_materialization_in_its_window() {
    let s = unpartitioned(
        DEADLINE,
        Some("2024-01-01T08:00:00Z"),
        "2024-01-02T09:30:00Z",
    );
    assert_eq!(s.state, FreshnessState::Fail);
    assert_eq!(s.overdue_ms, Some(30 * 60_000));
    let s = unpartitioned(DEADLINE, None, "2024-01-02T09:30:00Z");
    assert_eq!(s.state, FreshnessState::Unknown);
}

const PARTITION_LAG: &str =
    "{ partition_lag = \"9h\", warn_partition_lag = \"6h\", lookback = \"7d\" }";

#[test]
fn partition_lag_warns_then_fails_for_each_late_partition_and_names_it() {
    // 2024-01-05 ended at 01-06T00:00; at 07:00 it is 7h late (warn), at 10:00 10h (fail).
    let all_but_last = [0, 1, 2, 3];
    let (s, _) = daily(PARTITION_LAG, &all_but_last, "2024-01-06T05:00:00Z");
    assert_eq!(s.state, FreshnessState::Fresh);
    let (s, missing) = daily(PARTITION_LAG, &all_but_last, "2024-01-06T07:00:00Z");
    assert_eq!(
        (s.state, missing),
        (FreshnessState::Warn, vec!["2024-01-05".into()])
    );
    let (s, missing) = daily(PARTITION_LAG, &all_but_last, "2024-01-06T10:00:00Z");
    assert_eq!(
        (s.state, missing),
        (FreshnessState::Fail, vec!["2024-01-05".to_string()])
    );
    assert_eq!(s.overdue_ms, Some(3_600_000));
}

#[test]
fn partition_lag_ignores_partitions_older_than_the_lookback() {
    // 2024-01-01 is missing, but its window ended 01-02T00:00, more than 7 days before 01-10.
    let (s, _) = daily(
        PARTITION_LAG,
        &[1, 2, 3, 4, 5, 6, 7, 8],
        "2024-01-10T05:00:00Z",
    );
    assert_eq!(s.state, FreshnessState::Fresh, "{}", s.reason);
    // A backfilled old partition does not make a stale recent one look fresh.
    let (s, missing) = daily(
        PARTITION_LAG,
        &[0, 1, 2, 3, 4, 5, 6],
        "2024-01-10T10:00:00Z",
    );
    assert_eq!(s.state, FreshnessState::Fail);
    assert_eq!(missing, ["2024-01-08", "2024-01-09"]);
}
