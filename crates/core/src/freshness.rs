//! Freshness: whether an asset's data is as recent as its policy asks, and exactly why not.
//!
//! Three policies (see [`FreshnessPolicy`]):
//!
//! - **`max_lag`** — Dagster's legacy lag semantics. The evaluation time is now, or the latest
//!   tick of `cron` at or before now. The *data time* is how recent the data is: for an
//!   unpartitioned asset, the time of the oldest root data its current materialization was
//!   derived from (the caller computes it from what was consumed); for a time-partitioned
//!   asset, the time up to which every partition is materialized. `lag = evaluation − data
//!   time`; `overdue = (evaluation − max_lag) − data time` when positive. Fail when overdue,
//!   warn when the lag exceeds `warn_lag`, unknown without a data time.
//! - **`deadline`** — Dagster's newer cron policy: at each `deadline` tick, a materialization
//!   must have happened since `lower_bound` before it; fresh until the next deadline.
//! - **`partition_lag`** — every time partition whose window ended within `lookback` must
//!   exist once `partition_lag` has passed since its window ended (warn after
//!   `warn_partition_lag`). Dagster's asset-level policies cannot say this; it names the
//!   partitions that are late.
//!
//! Pure: the caller passes `now` and the facts.

use std::time::Duration;

use serde::Serialize;

use crate::model::FreshnessPolicy;
use crate::partitions::Keyspace;
use crate::partitions::subset::PartitionSubset;
use crate::partitions::time_window::ZonedSchedule;

/// A freshness level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreshnessState {
    /// Nothing to say yet (never materialized, or no data time).
    Unknown,
    /// Within policy.
    Fresh,
    /// Past the warning threshold.
    Warn,
    /// Past the policy.
    Fail,
}

impl FreshnessState {
    /// The word shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Fresh => "fresh",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// What freshness is decided from, about one asset.
pub struct FreshnessFacts<'a, 'k> {
    /// The keyspace, for time-partitioned assets.
    pub keyspace: Option<&'a Keyspace<'k>>,
    /// Materialized partitions (index 0 when unpartitioned).
    pub materialized: &'a PartitionSubset,
    /// When the latest materialization happened (ms), if ever.
    pub last_materialized: Option<i64>,
    /// The data time of an unpartitioned asset (ms), when known.
    pub data_time: Option<i64>,
}

/// An asset's freshness at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FreshnessStatus {
    /// The level.
    pub state: FreshnessState,
    /// The time the policy was evaluated at (ms): now, or the cron tick / deadline.
    pub evaluated_at: i64,
    /// How recent the data is (ms), when known.
    pub data_time: Option<i64>,
    /// `evaluated_at − data_time` (ms), when known.
    pub lag_ms: Option<i64>,
    /// How far past the policy (ms); 0 when within it.
    pub overdue_ms: Option<i64>,
    /// Until when the asset stays fresh without a new materialization (ms), when known.
    pub fresh_until: Option<i64>,
    /// Partitions that are late (`partition_lag`), or the first missing one (`max_lag` on a
    /// partitioned asset), as indices of the keyspace.
    #[serde(skip)]
    pub missing: PartitionSubset,
    /// One sentence saying why.
    pub reason: String,
}

/// Evaluates `policy` at `now_ms`.
pub fn evaluate(
    policy: &FreshnessPolicy,
    facts: &FreshnessFacts<'_, '_>,
    now_ms: i64,
) -> FreshnessStatus {
    match policy {
        FreshnessPolicy::MaxLag {
            max_lag,
            warn_lag,
            cron,
        } => {
            let evaluated_at = match cron {
                Some(cron) => {
                    let now = now_ms.div_euclid(1000);
                    let schedule = ZonedSchedule::new(cron.schedule.clone(), cron.timezone, now);
                    schedule.tick_at_or_before(now) * 1000
                }
                None => now_ms,
            };
            max_lag_status(*max_lag, *warn_lag, facts, evaluated_at)
        }
        FreshnessPolicy::Deadline {
            deadline,
            lower_bound,
        } => {
            let now = now_ms.div_euclid(1000);
            let schedule = ZonedSchedule::new(deadline.schedule.clone(), deadline.timezone, now);
            let tick = schedule.tick_at_or_before(now) * 1000;
            let next = schedule.next_tick(now) * 1000;
            let bound = tick - ms(*lower_bound);
            let base = FreshnessStatus {
                state: FreshnessState::Unknown,
                evaluated_at: tick,
                data_time: facts.last_materialized,
                lag_ms: facts.last_materialized.map(|t| now_ms - t),
                overdue_ms: None,
                fresh_until: None,
                missing: PartitionSubset::empty(),
                reason: String::new(),
            };
            match facts.last_materialized {
                None => FreshnessStatus {
                    reason: "never materialized".into(),
                    ..base
                },
                Some(last) if last >= bound => FreshnessStatus {
                    state: FreshnessState::Fresh,
                    overdue_ms: Some(0),
                    fresh_until: Some(next),
                    reason: format!(
                        "materialized at {} — after {} ({} before the deadline {})",
                        time(last),
                        time(bound),
                        human(*lower_bound),
                        time(tick)
                    ),
                    ..base
                },
                Some(last) => FreshnessStatus {
                    state: FreshnessState::Fail,
                    overdue_ms: Some(now_ms - tick),
                    reason: format!(
                        "the deadline {} passed without a materialization since {} (latest: {})",
                        time(tick),
                        time(bound),
                        time(last)
                    ),
                    ..base
                },
            }
        }
        FreshnessPolicy::PartitionLag {
            partition_lag,
            warn_partition_lag,
            lookback,
        } => partition_lag_status(
            *partition_lag,
            *warn_partition_lag,
            *lookback,
            facts,
            now_ms,
        ),
    }
}

fn max_lag_status(
    max_lag: Duration,
    warn_lag: Option<Duration>,
    facts: &FreshnessFacts<'_, '_>,
    evaluated_at: i64,
) -> FreshnessStatus {
    let (data_time, missing) = match facts.keyspace {
        Some(Keyspace::TimeWindow(keys)) => {
            let first_missing = facts.materialized.complement(keys.len()).iter().next();
            match first_missing {
                // Data is complete up to the start of the first missing partition.
                Some(0) => (None, PartitionSubset::from_range(0..1)),
                Some(i) => (
                    keys.window(i).map(|w| w.start * 1000),
                    PartitionSubset::from_range(i..i + 1),
                ),
                None => (
                    keys.len()
                        .checked_sub(1)
                        .and_then(|i| keys.window(i))
                        .map(|w| w.end * 1000),
                    PartitionSubset::empty(),
                ),
            }
        }
        _ => (facts.data_time, PartitionSubset::empty()),
    };
    let Some(data_time) = data_time else {
        return FreshnessStatus {
            state: FreshnessState::Unknown,
            evaluated_at,
            data_time: None,
            lag_ms: None,
            overdue_ms: None,
            fresh_until: None,
            missing,
            reason: "no data time: nothing materialized yet".into(),
        };
    };
    let lag = (evaluated_at - data_time).max(0);
    let overdue = (evaluated_at - ms(max_lag) - data_time).max(0);
    let (state, reason) = if overdue > 0 {
        (
            FreshnessState::Fail,
            format!(
                "data time {} is {} old at {}, over the max lag {} by {}",
                time(data_time),
                human_ms(lag),
                time(evaluated_at),
                human(max_lag),
                human_ms(overdue)
            ),
        )
    } else if warn_lag.is_some_and(|w| lag > ms(w)) {
        (
            FreshnessState::Warn,
            format!(
                "data time {} is {} old at {}, over the warn lag {}",
                time(data_time),
                human_ms(lag),
                time(evaluated_at),
                human(warn_lag.expect("checked"))
            ),
        )
    } else {
        (
            FreshnessState::Fresh,
            format!(
                "data time {} is {} old at {}, within the max lag {}",
                time(data_time),
                human_ms(lag),
                time(evaluated_at),
                human(max_lag)
            ),
        )
    };
    FreshnessStatus {
        state,
        evaluated_at,
        data_time: Some(data_time),
        lag_ms: Some(lag),
        overdue_ms: Some(overdue),
        fresh_until: Some(data_time + ms(max_lag)),
        missing,
        reason,
    }
}

fn partition_lag_status(
    partition_lag: Duration,
    warn_lag: Option<Duration>,
    lookback: Duration,
    facts: &FreshnessFacts<'_, '_>,
    now_ms: i64,
) -> FreshnessStatus {
    let Some(Keyspace::TimeWindow(keys)) = facts.keyspace else {
        return FreshnessStatus {
            state: FreshnessState::Unknown,
            evaluated_at: now_ms,
            data_time: None,
            lag_ms: None,
            overdue_ms: None,
            fresh_until: None,
            missing: PartitionSubset::empty(),
            reason: "partition_lag needs time partitions".into(),
        };
    };
    let now = now_ms.div_euclid(1000);
    let from = now - lookback.as_secs() as i64;
    // Windows that ended within the lookback: every index from the first window ending
    // after `from` to the last partition (whose window has ended, as keyspaces only hold
    // windows that have).
    let len = keys.len();
    let first = keys
        .first_index_starting_at_or_after(from)
        .saturating_sub(1);
    let first = (first..len)
        .find(|&i| keys.window(i).is_some_and(|w| w.end > from))
        .unwrap_or(len);
    let window = PartitionSubset::from_range(first..len);
    let missing = window.difference(facts.materialized);
    let late_by = |lag: Duration| {
        PartitionSubset::from_indices(missing.iter().filter(|&i| {
            keys.window(i)
                .is_some_and(|w| now >= w.end + lag.as_secs() as i64)
        }))
    };
    let failing = late_by(partition_lag);
    let warning = warn_lag.map(late_by).unwrap_or_default();
    let data_time = facts
        .materialized
        .complement(len)
        .iter()
        .next()
        .map_or_else(
            || {
                len.checked_sub(1)
                    .and_then(|i| keys.window(i))
                    .map(|w| w.end)
            },
            |i| (i > 0).then(|| keys.window(i).map(|w| w.start)).flatten(),
        )
        .map(|t| t * 1000);
    let oldest_overdue = failing
        .iter()
        .next()
        .and_then(|i| keys.window(i))
        .map(|w| (now - w.end - partition_lag.as_secs() as i64) * 1000);
    let count = |s: &PartitionSubset| s.count();
    let first_key = |s: &PartitionSubset| {
        s.iter()
            .next()
            .and_then(|i| keys.key(i))
            .unwrap_or_default()
    };
    let (state, reason, missing) = if !failing.is_empty() {
        (
            FreshnessState::Fail,
            format!(
                "{} partition(s) still missing {} after their window ended (first: {})",
                count(&failing),
                human(partition_lag),
                first_key(&failing)
            ),
            failing,
        )
    } else if !warning.is_empty() {
        (
            FreshnessState::Warn,
            format!(
                "{} partition(s) still missing {} after their window ended (first: {})",
                count(&warning),
                human(warn_lag.expect("warning implies warn lag")),
                first_key(&warning)
            ),
            warning,
        )
    } else {
        (
            FreshnessState::Fresh,
            format!(
                "every partition whose window ended in the last {} exists or is within its lag of {}",
                human(lookback),
                human(partition_lag)
            ),
            PartitionSubset::empty(),
        )
    };
    FreshnessStatus {
        state,
        evaluated_at: now_ms,
        data_time,
        lag_ms: data_time.map(|t| (now_ms - t).max(0)),
        overdue_ms: Some(oldest_overdue.unwrap_or(0)),
        fresh_until: None,
        missing,
        reason,
    }
}

fn ms(duration: Duration) -> i64 {
    duration.as_millis() as i64
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn human(duration: Duration) -> String {
    crate::duration::format_duration(duration)
}

fn human_ms(ms: i64) -> String {
    let seconds = (ms.max(0) / 1000) as u64;
    human(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests;
