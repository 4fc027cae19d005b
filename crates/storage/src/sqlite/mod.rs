//! The embedded backend: one SQLite file in WAL mode.
//!
//! One writer connection serializes appends inside this process (SQLite allows one writer at a
//! time anyway; `BEGIN IMMEDIATE` and a busy timeout make other processes — `strata serve`
//! beside a CLI — wait their turn instead of failing). Reads use a small pool of their own
//! connections, which WAL lets run beside the writer. Every call runs on tokio's blocking pool
//! so async callers never block a runtime thread on disk.
//!
//! Durability: `synchronous = NORMAL` in WAL mode. A committed transaction survives the process
//! being killed (`kill -9`) at any point — it is in the WAL, which the next open replays; only
//! an operating-system crash or power loss can drop the last transactions, and never corrupts
//! the database.

mod alerts;
mod apply;
mod automation;
mod costs;
mod migrations;
mod queries;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
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
use crate::storage::Storage;

/// Instance storage in one SQLite file.
#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// SQLite's errors are ours to explain, never the caller's: they become `Backend`.
pub(crate) fn backend(error: rusqlite::Error) -> StorageError {
    StorageError::Backend(error.to_string())
}

impl SqliteStorage {
    /// Opens (creating it and its folder when missing) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let location = path.display().to_string();
        let open_error = |reason: String| StorageError::Open {
            location: location.clone(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_error(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut writer = connect(path).map_err(|e| open_error(e.to_string()))?;
        migrations::migrate(&mut writer, &location)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The schema version this build writes.
    pub fn schema_version() -> i64 {
        migrations::latest_version()
    }

    /// Runs `f` with the writer connection on the blocking pool.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let mut conn = inner
                .writer
                .lock()
                .map_err(|_| StorageError::Backend("the writer connection was poisoned".into()))?;
            f(&mut conn)
        })
        .await
    }

    /// Runs `f` with a reader connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.with_reader(f)).await
    }

    /// Runs a synchronous read that borrows from the caller (the keyspace of a status query)
    /// on the current thread, inside `block_in_place` when on a multi-threaded runtime.
    fn read_here<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.inner.with_reader(f))
            }
            _ => self.inner.with_reader(f),
        }
    }
}

impl Inner {
    /// Runs `f` with a pooled reader connection (opening one when the pool is empty) and
    /// returns the connection to the pool.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path).map_err(backend)?,
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        result
    }
}

fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    use_write_ahead_log(&conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// How long a connection waits for another process's lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Puts the database in WAL mode, waiting for other processes as the busy timeout would.
///
/// Switching a fresh database to WAL takes an exclusive lock that SQLite's busy handler does not
/// wait for, so two processes opening a new instance at once (`strata status` while
/// `strata backfill` starts) would see "database is locked". Only that first switch can be busy:
/// afterwards the file is in WAL mode and the pragma changes nothing.
fn use_write_ahead_log(conn: &Connection) -> Result<(), rusqlite::Error> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Backend(format!("a storage task panicked: {e}")))?
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn append(
        &self,
        timestamp: Millis,
        events: Vec<Event>,
    ) -> Result<Vec<EventId>, StorageError> {
        for event in &events {
            apply::validate(event)?;
        }
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let ids = events
                .iter()
                .map(|event| apply::append(&tx, timestamp, event))
                .collect::<Result<Vec<_>, _>>()?;
            crate::failpoint::hit("storage.before_commit");
            tx.commit().map_err(backend)?;
            Ok(ids)
        })
        .await
    }

    async fn events_after(
        &self,
        cursor: EventId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError> {
        self.read(move |conn| queries::events_after(conn, cursor, limit))
            .await
    }

    async fn last_event_id(&self) -> Result<EventId, StorageError> {
        self.read(queries::last_event_id).await
    }

    async fn run_events(
        &self,
        run_id: &str,
        cursor: EventId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError> {
        let run_id = run_id.to_string();
        self.read(move |conn| queries::run_events(conn, &run_id, cursor, limit))
            .await
    }

    async fn materialization_history(
        &self,
        asset: &AssetKey,
        partition: Option<&str>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError> {
        let (asset, partition) = (asset.to_string(), partition.map(str::to_string));
        self.read(move |conn| {
            queries::materialization_history(conn, &asset, partition.as_deref(), limit)
        })
        .await
    }

    async fn current_materializations(
        &self,
        asset: &AssetKey,
        partitions: Option<&[Option<String>]>,
    ) -> Result<Vec<CurrentMaterialization>, StorageError> {
        let (asset, partitions) = (asset.to_string(), partitions.map(<[_]>::to_vec));
        self.read(move |conn| {
            queries::current_materializations(conn, &asset, partitions.as_deref())
        })
        .await
    }

    async fn partition_status(
        &self,
        asset: &AssetKey,
        keyspace: &Keyspace<'_>,
    ) -> Result<PartitionStatus, StorageError> {
        let asset = asset.to_string();
        self.read_here(|conn| queries::partition_status(conn, &asset, keyspace))
    }

    async fn current_inputs(&self, asset: &AssetKey) -> Result<Vec<PartitionInputs>, StorageError> {
        let asset = asset.to_string();
        self.read(move |conn| queries::current_inputs(conn, &asset))
            .await
    }

    async fn unpartitioned_status(
        &self,
        asset: &AssetKey,
    ) -> Result<PartitionStatus, StorageError> {
        let asset = asset.to_string();
        self.read(move |conn| queries::unpartitioned_status(conn, &asset))
            .await
    }

    async fn observations(&self, asset: &AssetKey) -> Result<Vec<ObservationRecord>, StorageError> {
        let asset = asset.to_string();
        self.read(move |conn| queries::observations(conn, &asset))
            .await
    }

    async fn check_results(&self, asset: &AssetKey) -> Result<Vec<CheckResult>, StorageError> {
        let asset = asset.to_string();
        self.read(move |conn| queries::check_results(conn, &asset))
            .await
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StorageError> {
        let run_id = run_id.to_string();
        self.read(move |conn| queries::run(conn, &run_id)).await
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StorageError> {
        let filter = filter.clone();
        self.read(move |conn| queries::runs(conn, &filter)).await
    }

    async fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>, StorageError> {
        let run_id = run_id.to_string();
        self.read(move |conn| queries::steps(conn, &run_id)).await
    }

    async fn cancel_requested(&self, run_id: &str) -> Result<bool, StorageError> {
        let run_id = run_id.to_string();
        self.read(move |conn| queries::cancel_requested(conn, &run_id))
            .await
    }

    async fn backfill(&self, backfill_id: &str) -> Result<Option<BackfillRecord>, StorageError> {
        let backfill_id = backfill_id.to_string();
        self.read(move |conn| queries::backfill(conn, &backfill_id))
            .await
    }

    async fn backfills(&self, limit: u32) -> Result<Vec<BackfillRecord>, StorageError> {
        self.read(move |conn| queries::backfills(conn, limit)).await
    }

    async fn dynamic_partitions(&self) -> Result<InMemoryDynamicPartitions, StorageError> {
        self.read(queries::dynamic_partitions).await
    }

    async fn superseded_files(
        &self,
        io_manager: &str,
        before: Millis,
        limit: u32,
    ) -> Result<Vec<CollectableFile>, StorageError> {
        let io_manager = io_manager.to_string();
        self.read(move |conn| queries::superseded_files(conn, &io_manager, before, limit))
            .await
    }

    async fn recorded_paths(
        &self,
        io_manager: &str,
        paths: &[String],
    ) -> Result<Vec<bool>, StorageError> {
        let (io_manager, paths) = (io_manager.to_string(), paths.to_vec());
        self.read(move |conn| queries::recorded_paths(conn, &io_manager, &paths))
            .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Lease, StorageError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |conn| queries::acquire_lease(conn, &name, &holder, now, ttl_ms))
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StorageError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |conn| queries::release_lease(conn, &name, &holder))
            .await
    }

    async fn record_tick(&self, tick: NewTick) -> Result<i64, StorageError> {
        self.write(move |conn| automation::record_tick(conn, &tick))
            .await
    }

    async fn automation_state(&self) -> Result<Option<AutomationStateRecord>, StorageError> {
        self.read(automation::automation_state).await
    }

    async fn ticks(&self, limit: u32) -> Result<Vec<TickRecord>, StorageError> {
        self.read(move |conn| automation::ticks(conn, limit)).await
    }

    async fn evaluation(
        &self,
        asset: &AssetKey,
        tick: Option<i64>,
    ) -> Result<Option<EvaluationRecord>, StorageError> {
        let asset = asset.clone();
        self.read(move |conn| automation::evaluation(conn, &asset, tick))
            .await
    }

    async fn freshness_states(&self) -> Result<Vec<FreshnessRecord>, StorageError> {
        self.read(automation::freshness_states).await
    }

    async fn step_costs(
        &self,
        since: Millis,
        until: Millis,
    ) -> Result<Vec<StepCostItem>, StorageError> {
        self.read(move |conn| costs::step_costs(conn, since, until))
            .await
    }

    async fn held_bytes(
        &self,
        since: Millis,
        until: Millis,
    ) -> Result<Vec<HeldBytes>, StorageError> {
        self.read(move |conn| costs::held_bytes(conn, since, until))
            .await
    }

    async fn cost_history(&self) -> Result<BTreeMap<AssetKey, AssetCostHistory>, StorageError> {
        self.read(costs::cost_history).await
    }

    async fn alert_rules(&self) -> Result<Vec<(String, serde_json::Value)>, StorageError> {
        self.read(alerts::alert_rules).await
    }

    async fn firing_alerts(&self) -> Result<Vec<FiringAlert>, StorageError> {
        self.read(alerts::firing_alerts).await
    }

    async fn alert_history(
        &self,
        rule: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StorageError> {
        let rule = rule.map(str::to_string);
        self.read(move |conn| alerts::alert_history(conn, rule.as_deref(), limit))
            .await
    }

    async fn latest_step_costs(&self) -> Result<Vec<StepCostItem>, StorageError> {
        self.read(costs::latest_step_costs).await
    }

    async fn failing_checks(
        &self,
    ) -> Result<Vec<(AssetKey, Option<String>, String, Severity)>, StorageError> {
        let rows = self.read(alerts::failing_checks).await?;
        rows.into_iter()
            .map(|(asset, partition, check, severity)| {
                let severity = match severity.as_str() {
                    "warn" => Severity::Warn,
                    _ => Severity::Error,
                };
                Ok((
                    queries::asset_value(&asset)?,
                    queries::partition_value(partition),
                    check,
                    severity,
                ))
            })
            .collect()
    }

    async fn failed_partitions(
        &self,
    ) -> Result<Vec<(AssetKey, Option<String>, Option<String>)>, StorageError> {
        let rows = self.read(alerts::failed_partitions).await?;
        rows.into_iter()
            .map(|(asset, partition, run)| {
                Ok((
                    queries::asset_value(&asset)?,
                    queries::partition_value(partition),
                    run,
                ))
            })
            .collect()
    }

    async fn pending_deliveries(&self) -> Result<Vec<DueDelivery>, StorageError> {
        self.read(alerts::pending_deliveries).await
    }
}
