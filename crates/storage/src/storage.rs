//! The instance storage trait: the contract every backend (SQLite now, PostgreSQL later) keeps.

use async_trait::async_trait;
use strata_core::key::AssetKey;
use strata_core::model::Severity;
use strata_core::partitions::definition::{InMemoryDynamicPartitions, Keyspace};

use crate::error::StorageError;
use crate::event::{Event, EventId, EventRecord, Millis, PartitionInputs};
use std::collections::BTreeMap;

use strata_core::cost::{AssetCostHistory, HeldBytes, StepCostItem};

use crate::records::{
    AlertRecord, AutomationStateRecord, BackfillRecord, CheckResult, CollectableFile,
    CurrentMaterialization, DueDelivery, EvaluationRecord, FiringAlert, FreshnessRecord, Lease,
    NewTick, ObservationRecord, RunFilter, RunRecord, StepRecord, TickRecord,
};
use crate::status::PartitionStatus;

/// Where Strata records every fact about runs and asset partitions.
///
/// # Contract
///
/// Every backend passes the storage suite (`tests/suite`), which checks each promise:
///
/// - **The log is the truth.** [`append`](Self::append) writes a batch of events and updates
///   every derived index (current materialization per partition, runs and steps, failed and
///   in-progress partitions, backfills, dynamic partitions, stored files) in *one* transaction:
///   after a crash a reader sees all of the batch or none of it, and never an index that
///   disagrees with the log.
/// - **Invalid batches change nothing.** An event the log cannot hold (an empty partition key,
///   a run queued twice, a step of an unknown run, a file recorded twice) fails the whole batch
///   with [`StorageError::Invalid`].
/// - **Ids only grow.** Event ids are strictly increasing in append order, so a cursor
///   (`events_after`) never misses or repeats an event.
/// - **State by key.** Partition state is stored by partition key; sets of indices are built
///   against the definition given at query time.
/// - **One holder per lease.** [`acquire_lease`](Self::acquire_lease) succeeds for one holder
///   at a time until the lease expires or is released.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Appends events (all at `timestamp`) and updates the indexes, atomically. Returns their ids.
    async fn append(
        &self,
        timestamp: Millis,
        events: Vec<Event>,
    ) -> Result<Vec<EventId>, StorageError>;

    /// Up to `limit` events with an id above `cursor`, in order.
    async fn events_after(
        &self,
        cursor: EventId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError>;

    /// The id of the newest event (0 when the log is empty): where a reader that only wants
    /// what happens from now on starts its cursor.
    async fn last_event_id(&self) -> Result<EventId, StorageError>;

    /// Up to `limit` events of one run with an id above `cursor`, in order.
    async fn run_events(
        &self,
        run_id: &str,
        cursor: EventId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError>;

    /// Up to `limit` Materialization events of an asset (one partition, or all when
    /// `partition` is `None`), newest first.
    async fn materialization_history(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError>;

    /// The current materialization of each of `partitions` that has one (all stored partitions
    /// of the asset when `None`; `[None]` for an unpartitioned asset), in key order.
    async fn current_materializations(
        &self,
        asset: &AssetKey,
        partitions: Option<&[Option<String>]>,
    ) -> Result<Vec<CurrentMaterialization>, StorageError>;

    /// The status of every partition of `keyspace` for `asset`, as compact sets.
    async fn partition_status(
        &self,
        asset: &AssetKey,
        keyspace: &Keyspace<'_>,
    ) -> Result<PartitionStatus, StorageError>;

    /// The latest observation of every observed partition of `asset`, in key order.
    async fn observations(&self, asset: &AssetKey) -> Result<Vec<ObservationRecord>, StorageError>;

    /// The latest result of every check of every partition of `asset`, by partition then check.
    async fn check_results(&self, asset: &AssetKey) -> Result<Vec<CheckResult>, StorageError>;

    /// The inputs each current materialization of `asset` consumed, in key order.
    async fn current_inputs(&self, asset: &AssetKey) -> Result<Vec<PartitionInputs>, StorageError>;

    /// The status of an unpartitioned asset: a keyspace of one partition (index 0).
    async fn unpartitioned_status(&self, asset: &AssetKey)
    -> Result<PartitionStatus, StorageError>;

    /// One run.
    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StorageError>;

    /// Runs, newest first.
    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StorageError>;

    /// The steps of a run, in the order they started.
    async fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>, StorageError>;

    /// Whether cancellation of a run was requested (executors poll this).
    async fn cancel_requested(&self, run_id: &str) -> Result<bool, StorageError>;

    /// One backfill.
    async fn backfill(&self, backfill_id: &str) -> Result<Option<BackfillRecord>, StorageError>;

    /// Backfills, newest first, at most `limit`.
    async fn backfills(&self, limit: u32) -> Result<Vec<BackfillRecord>, StorageError>;

    /// Every dynamic partitions set with its keys in the order they were added.
    async fn dynamic_partitions(&self) -> Result<InMemoryDynamicPartitions, StorageError>;

    /// Files of one IO manager superseded before `before` and not yet deleted.
    async fn superseded_files(
        &self,
        io_manager: &str,
        before: Millis,
        limit: u32,
    ) -> Result<Vec<CollectableFile>, StorageError>;

    /// Which of `paths` of one IO manager any materialization ever recorded (an unrecorded
    /// file is an orphan of a write that never committed).
    async fn recorded_paths(
        &self,
        io_manager: &str,
        paths: &[String],
    ) -> Result<Vec<bool>, StorageError>;

    /// Takes (or renews) the lease `name` for `holder` until `now + ttl_ms`, if it is free,
    /// expired or already held by `holder`. Returns the lease as it now stands: held by
    /// `holder` on success, by someone else otherwise.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Lease, StorageError>;

    /// Gives up the lease `name` if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StorageError>;

    /// Stores an automation tick — its record, each evaluated asset's explanation, and the
    /// state and cursor the next tick starts from — in one transaction. Returns its number.
    async fn record_tick(&self, tick: NewTick) -> Result<i64, StorageError>;

    /// The state and cursor the last stored tick left, if any tick ran.
    async fn automation_state(&self) -> Result<Option<AutomationStateRecord>, StorageError>;

    /// The latest `limit` ticks, newest first.
    async fn ticks(&self, limit: u32) -> Result<Vec<TickRecord>, StorageError>;

    /// The asset's explanation from the latest tick that evaluated it, at or before `tick`
    /// (the latest when `None`): an asset skipped as unchanged keeps its previous one.
    async fn evaluation(
        &self,
        asset: &AssetKey,
        tick: Option<i64>,
    ) -> Result<Option<EvaluationRecord>, StorageError>;

    /// Every asset's current freshness state (from `FreshnessChanged` events).
    async fn freshness_states(&self) -> Result<Vec<FreshnessRecord>, StorageError>;

    /// Every step cost recorded in `[since, until)`, oldest first.
    async fn step_costs(
        &self,
        since: Millis,
        until: Millis,
    ) -> Result<Vec<StepCostItem>, StorageError>;

    /// The bytes of every materialization current at some time in `[since, until)`, with when
    /// they were current.
    async fn held_bytes(
        &self,
        since: Millis,
        until: Millis,
    ) -> Result<Vec<HeldBytes>, StorageError>;

    /// Per asset: successful step partitions with a cost, and their total (for estimates).
    async fn cost_history(&self) -> Result<BTreeMap<AssetKey, AssetCostHistory>, StorageError>;

    /// Alert rules stored through the API: (name, rule as JSON), by name.
    async fn alert_rules(&self) -> Result<Vec<(String, serde_json::Value)>, StorageError>;

    /// The alerts firing now.
    async fn firing_alerts(&self) -> Result<Vec<FiringAlert>, StorageError>;

    /// The latest firings and resolutions (of `rule` only, when given), newest first.
    async fn alert_history(
        &self,
        rule: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StorageError>;

    /// Each asset's latest successful step cost (for per-materialization cost alerts).
    async fn latest_step_costs(&self) -> Result<Vec<StepCostItem>, StorageError>;

    /// Checks whose latest result failed: (asset, partition or `None`, check, severity).
    async fn failing_checks(
        &self,
    ) -> Result<Vec<(AssetKey, Option<String>, String, Severity)>, StorageError>;

    /// Partitions whose latest step failed: (asset, partition or `None`, run).
    async fn failed_partitions(
        &self,
    ) -> Result<Vec<(AssetKey, Option<String>, Option<String>)>, StorageError>;

    /// Deliveries not yet delivered nor given up, oldest first.
    async fn pending_deliveries(&self) -> Result<Vec<DueDelivery>, StorageError>;
}
