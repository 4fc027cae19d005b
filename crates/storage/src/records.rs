//! What the indexes answer: the current state of runs, steps, partitions, backfills and leases,
//! as plain values (no backend types).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_core::key::AssetKey;

use crate::event::{AlertFiring, BackfillStatus, BackfillTarget, EventId, FileRef, Millis};

/// A run's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Created, not started.
    Queued,
    /// Executing.
    Started,
    /// Every step succeeded.
    Succeeded,
    /// Ended with a failure.
    Failed,
    /// Stopped by a cancellation.
    Canceled,
}

impl RunStatus {
    /// The lowercase name stored in indexes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Started,
            Self::Succeeded,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

/// A run, as the run index holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run.
    pub run_id: String,
    /// Its state.
    pub status: RunStatus,
    /// The backfill that launched it.
    pub backfill_id: Option<String>,
    /// What it materializes.
    pub description: String,
    /// Planned steps.
    pub steps: u64,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// When it was queued.
    pub created_at: Millis,
    /// When it started.
    pub started_at: Option<Millis>,
    /// When it ended.
    pub ended_at: Option<Millis>,
    /// Why it failed.
    pub error: Option<String>,
    /// Whether cancellation was requested.
    pub cancel_requested: bool,
}

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Only runs in one of these states (empty: any).
    pub statuses: Vec<RunStatus>,
    /// Only runs of this backfill.
    pub backfill_id: Option<String>,
    /// Only runs created before this one (a page's cursor: the last run of the previous page).
    pub before: Option<String>,
    /// At most this many, newest first (default 100).
    pub limit: Option<u32>,
}

/// A step's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// An attempt is executing.
    Started,
    /// An attempt failed; another will follow.
    Retrying,
    /// Succeeded.
    Succeeded,
    /// Failed for good.
    Failed,
    /// Its run ended while it was executing (failure or cancellation).
    Abandoned,
    /// Never ran: something it waits for failed.
    Skipped,
}

impl StepStatus {
    /// The lowercase name stored in indexes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
            Self::Skipped => "skipped",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Started,
            Self::Retrying,
            Self::Succeeded,
            Self::Failed,
            Self::Abandoned,
            Self::Skipped,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One step (asset partition) of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The run.
    pub run_id: String,
    /// The asset.
    pub asset: AssetKey,
    /// The partition.
    pub partition: Option<String>,
    /// Its state.
    pub status: StepStatus,
    /// The latest attempt, from 1.
    pub attempt: u32,
    /// When the first attempt started.
    pub started_at: Millis,
    /// When it ended.
    pub ended_at: Option<Millis>,
    /// Why the latest attempt failed.
    pub error: Option<String>,
}

/// The current (latest) materialization of one asset partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentMaterialization {
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// Its Materialization event.
    pub event_id: EventId,
    /// When it was committed.
    pub timestamp: Millis,
    /// Its id (the last segment of its storage path).
    pub materialization_id: String,
    /// The run that wrote it.
    pub run_id: Option<String>,
    /// The IO manager holding its files.
    pub io_manager: String,
    /// Its files.
    pub files: Vec<FileRef>,
    /// Rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    /// The code version it was computed with.
    pub code_version: String,
    /// Its data version.
    pub data_version: String,
}

/// A backfill, as the backfill index holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillRecord {
    /// The backfill.
    pub backfill_id: String,
    /// Its state.
    pub status: BackfillStatus,
    /// The selection it covers.
    pub selection: String,
    /// The partition set it covers, as written.
    pub partitions: String,
    /// Asset partitions requested.
    pub requested: u64,
    /// Asset partitions materialized so far.
    pub completed: u64,
    /// Asset partitions failed so far.
    pub failed: u64,
    /// When it was created.
    pub created_at: Millis,
    /// When it ended.
    pub ended_at: Option<Millis>,
    /// What it requests, per asset.
    pub targets: Vec<BackfillTarget>,
}

/// A file the garbage collector may delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectableFile {
    /// The IO manager holding it.
    pub io_manager: String,
    /// Its path relative to that IO manager's root.
    pub path: String,
    /// Its size.
    pub bytes: u64,
    /// When a newer materialization superseded it.
    pub superseded_at: Millis,
}

/// Who holds a lease, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The lease's name (`daemon`).
    pub name: String,
    /// Its holder (a process-unique id).
    pub holder: String,
    /// When it expires unless renewed.
    pub expires_at: Millis,
}

/// The latest observation of one partition of a source asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationRecord {
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// The Observation event.
    pub event_id: EventId,
    /// When it was observed.
    pub timestamp: Millis,
    /// The data version observed.
    pub data_version: String,
}

/// The latest result of one check on one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// The check's name.
    pub check: String,
    /// The CheckEvaluation event.
    pub event_id: EventId,
    /// When it ran.
    pub timestamp: Millis,
    /// Whether it passed.
    pub passed: bool,
    /// `warn` or `error`.
    pub severity: strata_core::model::Severity,
    /// Whether a failure blocks downstream partitions.
    pub blocking: bool,
}

/// One automation tick to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTick {
    /// The tick's "now".
    pub now: Millis,
    /// When evaluation started (wall clock).
    pub started_at: Millis,
    /// How long evaluating and storing took.
    pub duration_ms: i64,
    /// The last event id the tick read: the next tick reads after it.
    pub cursor: EventId,
    /// Assets evaluated.
    pub evaluated: u64,
    /// Assets skipped as unchanged.
    pub skipped: u64,
    /// What was requested (JSON: `[{"asset", "partitions"}]`).
    pub requested: String,
    /// The runs it asked for (JSON), launched or queued.
    pub runs: String,
    /// Whether the tick launches its runs (false for `--no-launch`).
    pub launched: bool,
    /// Each evaluated asset's explanation (JSON).
    pub evaluations: Vec<(AssetKey, String)>,
    /// The evaluation state the next tick starts from (JSON).
    pub state: String,
}

/// A stored automation tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TickRecord {
    /// Its number, from 1.
    pub tick: i64,
    /// The tick's "now".
    pub now: Millis,
    /// When evaluation started (wall clock).
    pub started_at: Millis,
    /// How long evaluating and storing took.
    pub duration_ms: i64,
    /// The last event id it read.
    pub cursor: EventId,
    /// Assets evaluated.
    pub evaluated: u64,
    /// Assets skipped as unchanged.
    pub skipped: u64,
    /// What was requested (JSON).
    pub requested: String,
    /// The runs it asked for (JSON).
    pub runs: String,
    /// Whether it launched them.
    pub launched: bool,
}

/// The state the last tick left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomationStateRecord {
    /// The tick that stored it.
    pub tick: i64,
    /// The last event id it read.
    pub cursor: EventId,
    /// The evaluation state (JSON).
    pub state: String,
}

/// One asset's explanation at a tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvaluationRecord {
    /// The tick that evaluated it.
    pub tick: i64,
    /// That tick's "now".
    pub now: Millis,
    /// The explanation (JSON).
    pub explanation: String,
}

/// An asset's current freshness state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreshnessRecord {
    /// The asset.
    pub asset: AssetKey,
    /// `fresh`, `warn`, `fail` or `unknown`.
    pub state: String,
    /// Since when.
    pub since: Millis,
    /// Why.
    pub reason: String,
}

/// An alert that is firing now.
#[derive(Clone, Debug, PartialEq)]
pub struct FiringAlert {
    /// The AlertFired event.
    pub event_id: EventId,
    /// Since when.
    pub since: Millis,
    /// What fired.
    pub firing: AlertFiring,
}

/// One delivery of an alert event to a channel, as it stands.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeliveryRecord {
    /// The channel.
    pub channel: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// The last error.
    pub error: Option<String>,
    /// When the next attempt is due (pending only).
    pub retry_at: Option<Millis>,
}

/// One entry of the alert feed: a firing or a resolution, with its deliveries.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRecord {
    /// The AlertFired or AlertResolved event.
    pub event_id: EventId,
    /// When.
    pub timestamp: Millis,
    /// `true` for a firing, `false` for a resolution.
    pub fired: bool,
    /// What.
    pub firing: AlertFiring,
    /// Where it went.
    pub deliveries: Vec<DeliveryRecord>,
}

/// A delivery that is due: the alert event and the channel to send it to.
#[derive(Clone, Debug, PartialEq)]
pub struct DueDelivery {
    /// The alert event.
    pub alert: AlertRecord,
    /// The channel.
    pub channel: String,
    /// Attempts already made.
    pub attempts: u32,
}
