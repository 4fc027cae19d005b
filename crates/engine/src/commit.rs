//! The commit protocol: how one asset partition becomes current, atomically, on any store.
//!
//! ```text
//!  1. stage    write the batches under <asset>/<partition>/<new materialization id>/ — a path
//!              no other write ever uses, so nothing a reader uses is touched
//!  2. commit   append one Materialization event naming those files; the same transaction
//!              makes it the partition's current materialization and marks the previous
//!              one's files superseded
//!  3. collect  later, the garbage collector deletes superseded files after a grace period,
//!              and files no event ever named (orphans of writes that crashed before step 2)
//! ```
//!
//! A crash before step 2 leaves the old data current and at worst an orphan; a crash after it
//! leaves the new data current. Nothing in between is visible, because readers find files only
//! through the index step 2 updates — never by listing. Object stores without atomic rename
//! (S3) are therefore as safe as a local disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::execution::SendableRecordBatchStream;
use strata_core::key::AssetKey;
use strata_io_managers::{
    IoError, IoManager, PartitionLocation, StoredFile, StoredPartition, WrittenPartition,
};
use strata_storage::event::{ConsumedInput, Event, EventId, FileRef, Materialization, Millis};
use strata_storage::{Storage, StorageError, failpoint};

/// What a partition write records besides its data.
#[derive(Clone, Debug)]
pub struct CommitRequest {
    /// The asset.
    pub asset: AssetKey,
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// The run writing it, if any.
    pub run_id: Option<String>,
    /// The name of the IO manager it is written through.
    pub io_manager: String,
    /// The asset's code version.
    pub code_version: String,
    /// The data version of what is written.
    pub data_version: String,
    /// Free metadata to record.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// What it read.
    pub inputs: Vec<ConsumedInput>,
}

/// A committed partition.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The Materialization event's id.
    pub event_id: EventId,
    /// The event as recorded.
    pub materialization: Materialization,
}

/// Why a partition could not be committed. In every case the partition's previous data stays
/// current.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Writing the data failed.
    #[error("writing {asset}{} failed: {source}", partition_suffix(partition))]
    Write {
        /// The asset.
        asset: AssetKey,
        /// The partition.
        partition: Option<String>,
        /// Why.
        #[source]
        source: IoError,
    },
    /// Recording the Materialization event failed; the staged files were removed (or will be
    /// collected as orphans).
    #[error("recording {asset}{} failed: {source}", partition_suffix(partition))]
    Record {
        /// The asset.
        asset: AssetKey,
        /// The partition.
        partition: Option<String>,
        /// Why.
        #[source]
        source: StorageError,
    },
}

fn partition_suffix(partition: &Option<String>) -> String {
    partition
        .as_deref()
        .map(|p| format!(" partition `{p}`"))
        .unwrap_or_default()
}

/// A fresh materialization id: time-ordered (UUID v7, so paths sort by write time) and unique.
pub fn new_materialization_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Writes one partition and commits it: see the module documentation.
pub async fn commit_partition(
    storage: &dyn Storage,
    io: &dyn IoManager,
    request: CommitRequest,
    batches: SendableRecordBatchStream,
    now: Millis,
) -> Result<Committed, CommitError> {
    let materialization = stage(io, request, batches).await?;
    failpoint::hit("commit.after_stage");
    let mut committed = record(storage, io, vec![materialization], now).await?;
    Ok(committed.remove(0))
}

/// Writes many partitions of one step (a single-run range) and commits them together: the
/// writes run side by side (up to `parallel` at a time), then one transaction appends every
/// Materialization event, so the range becomes current at once — or, when a write or the
/// record fails, none of it does (the staged files are removed, or left as orphans).
pub async fn commit_partitions(
    storage: &dyn Storage,
    io: Arc<dyn IoManager>,
    writes: Vec<(CommitRequest, SendableRecordBatchStream)>,
    parallel: usize,
    now: Millis,
) -> Result<Vec<Committed>, CommitError> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    // A task each, so encoding runs on every worker thread; at most `parallel` at a time.
    let mut pending = writes.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    let mut staged = Vec::new();
    let mut first_error = None;
    loop {
        while first_error.is_none() && running.len() < parallel.max(1) {
            let Some((position, (request, batches))) = pending.next() else {
                break;
            };
            let io = Arc::clone(&io);
            running.spawn(async move {
                let staged = stage(io.as_ref(), request, batches).await;
                staged.map(|materialization| (position, materialization))
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok(written)) => staged.push(written),
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            // A write that panicked is a bug: the step's boundary reports it as one.
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    staged.sort_by_key(|(position, _)| *position);
    let materializations: Vec<Materialization> = staged.into_iter().map(|(_, m)| m).collect();
    if let Some(error) = first_error {
        remove(io.as_ref(), &materializations).await;
        return Err(error);
    }
    failpoint::hit("commit.after_stage");
    record(storage, io.as_ref(), materializations, now).await
}

/// Step 1: writes one partition under a new materialization id; returns what its
/// Materialization event records.
async fn stage(
    io: &dyn IoManager,
    request: CommitRequest,
    batches: SendableRecordBatchStream,
) -> Result<Materialization, CommitError> {
    let write_error = |source| CommitError::Write {
        asset: request.asset.clone(),
        partition: request.partition.clone(),
        source,
    };
    let id = new_materialization_id();
    let location = PartitionLocation::new(&request.asset, request.partition.as_deref(), &id)
        .map_err(write_error)?;
    let written = io.write(&location, batches).await.map_err(write_error)?;
    Ok(materialization(request, id, &written))
}

/// Step 2: appends the Materialization events of staged partitions in one transaction. When
/// that fails nothing references their files: they are removed now rather than left to the
/// collector (if this fails too, they are orphans the collector will find).
async fn record(
    storage: &dyn Storage,
    io: &dyn IoManager,
    materializations: Vec<Materialization>,
    now: Millis,
) -> Result<Vec<Committed>, CommitError> {
    failpoint::hit("commit.before_event");
    let events = materializations
        .iter()
        .cloned()
        .map(Event::Materialization)
        .collect();
    match storage.append(now, events).await {
        Ok(ids) => {
            failpoint::hit("commit.after_event");
            Ok(ids
                .into_iter()
                .zip(materializations)
                .map(|(event_id, materialization)| Committed {
                    event_id,
                    materialization,
                })
                .collect())
        }
        Err(source) => {
            remove(io, &materializations).await;
            let first = &materializations[0];
            Err(CommitError::Record {
                asset: first.asset.clone(),
                partition: first.partition.clone(),
                source,
            })
        }
    }
}

/// Deletes the files of staged partitions no event references.
async fn remove(io: &dyn IoManager, materializations: &[Materialization]) {
    let paths: Vec<String> = materializations
        .iter()
        .flat_map(|m| m.files.iter().map(|f| f.path.clone()))
        .collect();
    if !paths.is_empty() {
        let _ = io.delete(&paths).await;
    }
}

fn materialization(
    request: CommitRequest,
    materialization_id: String,
    written: &WrittenPartition,
) -> Materialization {
    let mut metadata = request.metadata;
    let schema: Vec<serde_json::Value> = written
        .schema
        .fields()
        .iter()
        .map(|field| {
            serde_json::json!({
                "name": field.name(),
                "type": field.data_type().to_string(),
                "nullable": field.is_nullable(),
            })
        })
        .collect();
    metadata
        .entry("schema".into())
        .or_insert(serde_json::Value::Array(schema));
    Materialization {
        asset: request.asset,
        partition: request.partition,
        run_id: request.run_id,
        materialization_id,
        io_manager: request.io_manager,
        files: written
            .files
            .iter()
            .map(|file| FileRef {
                path: file.path.clone(),
                bytes: file.bytes,
            })
            .collect(),
        rows: written.rows,
        bytes: written.bytes,
        metadata,
        code_version: request.code_version,
        data_version: request.data_version,
        inputs: request.inputs,
    }
}

/// What a reader is given for one recorded materialization: its key and its files.
pub fn stored_partition(partition: Option<String>, files: &[FileRef]) -> StoredPartition {
    StoredPartition {
        key: partition,
        files: files
            .iter()
            .map(|f| StoredFile {
                path: f.path.clone(),
                bytes: f.bytes,
            })
            .collect(),
    }
}
