//! The events of the append-only log: every fact Strata records about runs, steps and asset
//! partitions. Every state Strata shows is derivable from these; the indexes are a cache of them
//! kept in the same transaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_core::cost::{Amounts, Usage};
use strata_core::key::AssetKey;
use strata_core::model::Severity;

/// Milliseconds since the Unix epoch. Callers pass it: storage never reads the clock, so
/// `STRATA_NOW` replays record exactly the times they were given.
pub type Millis = i64;

/// The position of an event in the log: strictly increasing, never reused.
pub type EventId = i64;

/// An event with its place in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Its position in the log.
    pub id: EventId,
    /// When it happened.
    pub timestamp: Millis,
    /// What happened.
    pub event: Event,
}

/// One fact, as appended to the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A run was created and waits to start.
    RunQueued {
        /// The run.
        run_id: String,
        /// The backfill that launched it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backfill_id: Option<String>,
        /// What it materializes, as the user asked (a selection, a description).
        description: String,
        /// How many steps (asset partitions) it plans.
        steps: u64,
        /// Free-form tags (who launched it, from where).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        tags: BTreeMap<String, String>,
    },
    /// A run started executing.
    RunStarted {
        /// The run.
        run_id: String,
    },
    /// Every step of a run succeeded.
    RunSucceeded {
        /// The run.
        run_id: String,
    },
    /// A run ended with a failure.
    RunFailed {
        /// The run.
        run_id: String,
        /// Why.
        error: String,
    },
    /// Someone asked a run to stop; executors poll this flag.
    RunCancelRequested {
        /// The run.
        run_id: String,
    },
    /// A run stopped because it was canceled.
    RunCanceled {
        /// The run.
        run_id: String,
    },
    /// A step (one asset partition of a run) started an attempt.
    StepStarted {
        /// The run.
        run_id: String,
        /// The asset.
        asset: AssetKey,
        /// The partition, `None` when unpartitioned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A step succeeded.
    StepSucceeded {
        /// The run.
        run_id: String,
        /// The asset.
        asset: AssetKey,
        /// The partition, `None` when unpartitioned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
    },
    /// A step failed for good (no retry left); its partition is now "failed".
    StepFailed {
        /// The run.
        run_id: String,
        /// The asset.
        asset: AssetKey,
        /// The partition, `None` when unpartitioned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// A step attempt failed and will be retried after `delay_ms`.
    StepRetrying {
        /// The run.
        run_id: String,
        /// The asset.
        asset: AssetKey,
        /// The partition, `None` when unpartitioned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next attempt.
        delay_ms: u64,
        /// Why the attempt failed.
        error: String,
    },
    /// A step did not run: a step it waits for failed or was skipped, or a blocking check of
    /// an upstream partition failed. Its partition's state is unchanged.
    StepSkipped {
        /// The run.
        run_id: String,
        /// The asset.
        asset: AssetKey,
        /// The partition, `None` when unpartitioned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        /// Why, naming the upstream step.
        reason: String,
    },
    /// The commit of one asset partition: its files are now the current data.
    Materialization(Materialization),
    /// A source asset (or a command) reported the current version of external data.
    Observation(Observation),
    /// A quality check ran.
    CheckEvaluation(CheckEvaluation),
    /// A line of a run's log.
    Log {
        /// The run.
        run_id: String,
        /// The asset of the step that logged, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        asset: Option<AssetKey>,
        /// The partition of the step that logged, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        /// `debug`, `info`, `warn` or `error`.
        level: LogLevel,
        /// The text.
        message: String,
    },
    /// A persistent request over many partitions.
    BackfillCreated {
        /// The backfill.
        backfill_id: String,
        /// The selection it covers, as the user wrote it.
        selection: String,
        /// The partition set, as the user wrote it (a range, `missing`, …).
        partitions: String,
        /// How many asset partitions it requests.
        requested: u64,
        /// Exactly what it requests, resolved when it was created (so resuming it later does
        /// not re-read `missing` or `stale` against a world it changed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        targets: Vec<BackfillTarget>,
    },
    /// An interrupted or failed backfill was taken up again: it is `requested` once more.
    BackfillResumed {
        /// The backfill.
        backfill_id: String,
    },
    /// A backfill's counts moved (absolute values, so replays are idempotent).
    BackfillProgressed {
        /// The backfill.
        backfill_id: String,
        /// Asset partitions materialized so far.
        completed: u64,
        /// Asset partitions failed so far.
        failed: u64,
    },
    /// A backfill ended.
    BackfillFinished {
        /// The backfill.
        backfill_id: String,
        /// How.
        status: BackfillStatus,
    },
    /// Keys were added to a dynamic partitions set (keys it already has are ignored).
    DynamicPartitionsAdded {
        /// The set.
        name: String,
        /// The keys, in order.
        keys: Vec<String>,
    },
    /// Keys were removed from a dynamic partitions set.
    DynamicPartitionsRemoved {
        /// The set.
        name: String,
        /// The keys.
        keys: Vec<String>,
    },
    /// An asset's freshness changed state (`fresh`, `warn`, `fail`, `unknown`).
    FreshnessChanged {
        /// The asset.
        asset: AssetKey,
        /// The new state.
        state: String,
        /// The state before.
        previous: String,
        /// Why, in one sentence.
        reason: String,
    },
    /// What one step attempt used and cost, for one of its partitions (a single-run range
    /// records each partition's equal share).
    StepCost(StepCost),
    /// An alert rule became true for a subject (an asset, or a tag value for costs summed by
    /// tag): it fires once, until it resolves.
    AlertFired(AlertFiring),
    /// An alert rule that fired became false again for its subject.
    AlertResolved(AlertFiring),
    /// One attempt to deliver an alert event to a channel.
    AlertDelivery(AlertDelivery),
    /// An alert rule was created or replaced through the API (rules in strata.toml are not
    /// stored).
    AlertRuleSaved {
        /// The rule's name.
        name: String,
        /// The rule as the API takes it (`name`, `when`, `select`, `channels`).
        rule: serde_json::Value,
    },
    /// An alert rule stored through the API was deleted.
    AlertRuleDeleted {
        /// The rule's name.
        name: String,
    },
    /// The garbage collector deleted superseded or orphaned files.
    FilesDeleted {
        /// The IO manager holding them.
        io_manager: String,
        /// Their paths, relative to its root.
        paths: Vec<String>,
    },
}

/// What one step attempt used for one partition, and what that cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepCost {
    /// The run.
    pub run_id: String,
    /// The asset.
    pub asset: AssetKey,
    /// The partition, `None` when unpartitioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Whether the attempt succeeded.
    pub succeeded: bool,
    /// What it used.
    pub usage: Usage,
    /// What that cost, priced by the rate card in force.
    pub amounts: Amounts,
    /// The rate card's currency.
    pub currency: String,
}

/// An alert firing or resolving for one subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFiring {
    /// The rule.
    pub rule: String,
    /// What it is about: an asset key, or `key=value` for a cost summed over a tag.
    pub subject: String,
    /// One sentence for people.
    pub message: String,
    /// The partitions concerned (failed checks, failed runs), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
    /// The figures behind it (a cost and its budget, a freshness state, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, serde_json::Value>,
    /// The channels it goes to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
}

/// One delivery attempt of an alert event to a channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertDelivery {
    /// The AlertFired or AlertResolved event delivered.
    pub alert_event: EventId,
    /// The channel.
    pub channel: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Whether the channel accepted it (a 2xx answer).
    pub delivered: bool,
    /// The HTTP status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When to try again (ms); `None` when delivered or given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Millis>,
}

/// The commit of one asset partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Materialization {
    /// The asset.
    pub asset: AssetKey,
    /// The partition, `None` when unpartitioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The run that wrote it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The id of this materialization: the last segment of its immutable storage path.
    pub materialization_id: String,
    /// The IO manager holding its files.
    pub io_manager: String,
    /// Its files, relative to the IO manager's root.
    pub files: Vec<FileRef>,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Free metadata (schema, duration, user values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// The asset's code version when it was computed.
    pub code_version: String,
    /// The data version of what it wrote.
    pub data_version: String,
    /// What it read: for each dependency, the upstream partitions and their data versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<ConsumedInput>,
}

/// What one partition's current materialization consumed: its key and its inputs.
pub type PartitionInputs = (Option<String>, Vec<ConsumedInput>);

/// One stored file of a materialization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// The path relative to the IO manager's root.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What a materialization read from one dependency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumedInput {
    /// The upstream asset.
    pub asset: AssetKey,
    /// The partitions read, as contiguous runs of the upstream definition's keys.
    pub ranges: Vec<ConsumedRange>,
}

/// A contiguous run of upstream partitions read by one materialization, stored as its two
/// ends and one digest, so an `all` or rolling-window dependency over thousands of partitions
/// costs one entry instead of thousands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumedRange {
    /// The first key (`None` for an unpartitioned upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// The last key, inclusive (`None` for an unpartitioned upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// How many partitions the run holds.
    pub count: u64,
    /// The data version read: the partition's own when `count == 1`, otherwise a digest of the
    /// (key, data version) pairs in key order — equal exactly when every one of them is equal.
    pub data_version: String,
}

impl ConsumedInput {
    /// Compacts what a materialization read from `asset` — each partition's position in the
    /// upstream definition, key and data version — into runs of consecutive positions, one
    /// entry per run. Order of `partitions` does not matter; duplicates are dropped.
    pub fn compact(asset: AssetKey, mut partitions: Vec<(u64, String, String)>) -> Self {
        partitions.sort_by_key(|(index, _, _)| *index);
        partitions.dedup_by_key(|(index, _, _)| *index);
        let mut ranges = Vec::new();
        let mut run: Vec<(u64, String, String)> = Vec::new();
        for partition in partitions {
            if run
                .last()
                .is_some_and(|(last, _, _)| *last + 1 != partition.0)
            {
                ranges.push(ConsumedRange::of_run(std::mem::take(&mut run)));
            }
            run.push(partition);
        }
        if !run.is_empty() {
            ranges.push(ConsumedRange::of_run(run));
        }
        Self { asset, ranges }
    }

    /// What a materialization read from an unpartitioned `asset`.
    pub fn unpartitioned(asset: AssetKey, data_version: String) -> Self {
        Self {
            asset,
            ranges: vec![ConsumedRange {
                first: None,
                last: None,
                count: 1,
                data_version,
            }],
        }
    }
}

impl ConsumedRange {
    fn of_run(run: Vec<(u64, String, String)>) -> Self {
        let count = run.len() as u64;
        let first = run.first().map(|(_, key, _)| key.clone());
        let last = run.last().map(|(_, key, _)| key.clone());
        let data_version = if count == 1 {
            run.into_iter()
                .next()
                .map(|(_, _, dv)| dv)
                .unwrap_or_default()
        } else {
            Self::digest(run.iter().map(|(_, key, dv)| (key.as_str(), dv.as_str())))
        };
        Self {
            first,
            last,
            count,
            data_version,
        }
    }

    /// The digest of (key, data version) pairs in key order: equal exactly when every pair is.
    /// Staleness recomputes it from the current versions to tell whether any input changed.
    pub fn digest<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        strata_core::versions::range_digest(pairs)
    }
}

/// A source asset's (or command's) report of external data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The asset.
    pub asset: AssetKey,
    /// The partition, `None` when unpartitioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The run that observed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The data version observed.
    pub data_version: String,
    /// Free metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// One quality check's result on one partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckEvaluation {
    /// The asset.
    pub asset: AssetKey,
    /// The partition, `None` when unpartitioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The run that checked, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The check's name.
    pub check: String,
    /// Whether it passed.
    pub passed: bool,
    /// Its severity.
    pub severity: Severity,
    /// Whether a failure blocks downstream partitions.
    #[serde(default)]
    pub blocking: bool,
    /// Free metadata (failing rows, counts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// A log line's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Detail.
    Debug,
    /// Progress.
    Info,
    /// Something to look at.
    Warn,
    /// A failure.
    Error,
}

/// One asset of a backfill and the partitions it requests of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillTarget {
    /// The asset.
    pub asset: AssetKey,
    /// Inclusive runs of partition keys, in the asset's key order; empty for an unpartitioned
    /// asset (materialized once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<KeyRange>,
}

/// An inclusive run of consecutive partition keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRange {
    /// The first key.
    pub first: String,
    /// The last key.
    pub last: String,
}

/// How a backfill ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillStatus {
    /// Still running.
    Requested,
    /// Every requested partition was attempted and none failed.
    Completed,
    /// Some partitions failed.
    Failed,
    /// Canceled by a user.
    Canceled,
}

impl BackfillStatus {
    /// The lowercase name stored in indexes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Requested,
            Self::Completed,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl Event {
    /// The event's kind, as stored in the log's `kind` column (its serde tag).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RunQueued { .. } => "run_queued",
            Self::RunStarted { .. } => "run_started",
            Self::RunSucceeded { .. } => "run_succeeded",
            Self::RunFailed { .. } => "run_failed",
            Self::RunCancelRequested { .. } => "run_cancel_requested",
            Self::RunCanceled { .. } => "run_canceled",
            Self::StepStarted { .. } => "step_started",
            Self::StepSucceeded { .. } => "step_succeeded",
            Self::StepFailed { .. } => "step_failed",
            Self::StepRetrying { .. } => "step_retrying",
            Self::StepSkipped { .. } => "step_skipped",
            Self::Materialization(_) => "materialization",
            Self::Observation(_) => "observation",
            Self::CheckEvaluation(_) => "check_evaluation",
            Self::Log { .. } => "log",
            Self::BackfillCreated { .. } => "backfill_created",
            Self::BackfillResumed { .. } => "backfill_resumed",
            Self::BackfillProgressed { .. } => "backfill_progressed",
            Self::BackfillFinished { .. } => "backfill_finished",
            Self::DynamicPartitionsAdded { .. } => "dynamic_partitions_added",
            Self::DynamicPartitionsRemoved { .. } => "dynamic_partitions_removed",
            Self::FilesDeleted { .. } => "files_deleted",
            Self::FreshnessChanged { .. } => "freshness_changed",
            Self::StepCost(_) => "step_cost",
            Self::AlertFired(_) => "alert_fired",
            Self::AlertResolved(_) => "alert_resolved",
            Self::AlertDelivery(_) => "alert_delivery",
            Self::AlertRuleSaved { .. } => "alert_rule_saved",
            Self::AlertRuleDeleted { .. } => "alert_rule_deleted",
        }
    }

    /// The run it belongs to, if any (indexed, for a run's event stream).
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Self::RunQueued { run_id, .. }
            | Self::RunStarted { run_id }
            | Self::RunSucceeded { run_id }
            | Self::RunFailed { run_id, .. }
            | Self::RunCancelRequested { run_id }
            | Self::RunCanceled { run_id }
            | Self::StepStarted { run_id, .. }
            | Self::StepSucceeded { run_id, .. }
            | Self::StepFailed { run_id, .. }
            | Self::StepRetrying { run_id, .. }
            | Self::StepSkipped { run_id, .. }
            | Self::Log { run_id, .. } => Some(run_id),
            Self::Materialization(m) => m.run_id.as_deref(),
            Self::Observation(o) => o.run_id.as_deref(),
            Self::CheckEvaluation(c) => c.run_id.as_deref(),
            Self::StepCost(c) => Some(&c.run_id),
            Self::AlertFired(_)
            | Self::AlertResolved(_)
            | Self::AlertDelivery(_)
            | Self::AlertRuleSaved { .. }
            | Self::AlertRuleDeleted { .. }
            | Self::BackfillCreated { .. }
            | Self::BackfillResumed { .. }
            | Self::BackfillProgressed { .. }
            | Self::BackfillFinished { .. }
            | Self::DynamicPartitionsAdded { .. }
            | Self::DynamicPartitionsRemoved { .. }
            | Self::FilesDeleted { .. }
            | Self::FreshnessChanged { .. } => None,
        }
    }

    /// The asset partition it is about, if any (indexed, for an asset's history).
    pub fn asset_partition(&self) -> Option<(&AssetKey, Option<&str>)> {
        match self {
            Self::StepStarted {
                asset, partition, ..
            }
            | Self::StepSucceeded {
                asset, partition, ..
            }
            | Self::StepFailed {
                asset, partition, ..
            }
            | Self::StepRetrying {
                asset, partition, ..
            }
            | Self::StepSkipped {
                asset, partition, ..
            } => Some((asset, partition.as_deref())),
            Self::Log {
                asset: Some(asset),
                partition,
                ..
            } => Some((asset, partition.as_deref())),
            Self::Materialization(m) => Some((&m.asset, m.partition.as_deref())),
            Self::Observation(o) => Some((&o.asset, o.partition.as_deref())),
            Self::CheckEvaluation(c) => Some((&c.asset, c.partition.as_deref())),
            Self::StepCost(c) => Some((&c.asset, c.partition.as_deref())),
            Self::FreshnessChanged { asset, .. } => Some((asset, None)),
            _ => None,
        }
    }

    /// The backfill it is about, if any.
    pub fn backfill_id(&self) -> Option<&str> {
        match self {
            Self::RunQueued { backfill_id, .. } => backfill_id.as_deref(),
            Self::BackfillCreated { backfill_id, .. }
            | Self::BackfillResumed { backfill_id }
            | Self::BackfillProgressed { backfill_id, .. }
            | Self::BackfillFinished { backfill_id, .. } => Some(backfill_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> AssetKey {
        AssetKey::parse(text).unwrap()
    }

    fn partitions(indices: &[u64]) -> Vec<(u64, String, String)> {
        indices
            .iter()
            .map(|&i| (i, format!("k{i}"), format!("v{i}")))
            .collect()
    }

    #[test]
    fn consecutive_partitions_compact_to_one_range_each() {
        let input = ConsumedInput::compact(key("a/b"), partitions(&[7, 1, 2, 3, 9, 8, 2, 20]));
        let summary: Vec<_> = input
            .ranges
            .iter()
            .map(|r| {
                (
                    r.first.as_deref().unwrap(),
                    r.last.as_deref().unwrap(),
                    r.count,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [("k1", "k3", 3), ("k7", "k9", 3), ("k20", "k20", 1)]
        );
        assert_eq!(
            input.ranges[2].data_version, "v20",
            "a single partition keeps its own"
        );
        assert!(input.ranges[0].data_version.starts_with("range-sha256:"));
    }

    #[test]
    fn a_range_digest_changes_exactly_when_a_version_does() {
        let digest = |versions: &[(&'static str, &'static str)]| {
            ConsumedRange::digest(versions.iter().copied())
        };
        let base = digest(&[("a", "1"), ("b", "2")]);
        assert_eq!(base, digest(&[("a", "1"), ("b", "2")]));
        assert_ne!(base, digest(&[("a", "1"), ("b", "3")]));
        assert_ne!(
            base,
            digest(&[("a", "12"), ("b", "")]),
            "no ambiguity at the boundaries"
        );
        let all = ConsumedInput::compact(key("a/b"), partitions(&(0..365).collect::<Vec<_>>()));
        assert_eq!(
            all.ranges.len(),
            1,
            "an `all` dependency over a year is one entry"
        );
    }
}
