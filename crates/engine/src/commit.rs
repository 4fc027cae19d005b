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
    let write_error = |source| CommitError::Write {
        asset: request.asset.clone(),
        partition: request.partition.clone(),
        source,
    };
    let materialization_id = new_materialization_id();
    let location = PartitionLocation::new(
        &request.asset,
        request.partition.as_deref(),
        &materialization_id,
    )
    .map_err(write_error)?;
    let written = io.write(&location, batches).await.map_err(write_error)?;
    failpoint::hit("commit.after_stage");

    let materialization = materialization(request, materialization_id, &written);
    failpoint::hit("commit.before_event");
    match storage
        .append(now, vec![Event::Materialization(materialization.clone())])
        .await
    {
        Ok(ids) => {
            failpoint::hit("commit.after_event");
            Ok(Committed {
                event_id: ids[0],
                materialization,
            })
        }
        Err(source) => {
            // Nothing references the staged files: remove them now rather than leave them to
            // the collector. If this fails too, they are orphans the collector will find.
            let paths: Vec<String> = written.files.iter().map(|f| f.path.clone()).collect();
            let _ = io.delete(&paths).await;
            Err(CommitError::Record {
                asset: materialization.asset,
                partition: materialization.partition,
                source,
            })
        }
    }
}

/// Writes one partition of a batch: its position and what its Materialization records.
async fn stage(
    io: Arc<dyn IoManager>,
    position: usize,
    request: CommitRequest,
    batches: SendableRecordBatchStream,
) -> Result<(usize, Materialization), CommitError> {
    let write_error = |source| CommitError::Write {
        asset: request.asset.clone(),
        partition: request.partition.clone(),
        source,
    };
    let id = new_materialization_id();
    let location = PartitionLocation::new(&request.asset, request.partition.as_deref(), &id)
        .map_err(write_error)?;
    let written = io.write(&location, batches).await.map_err(write_error)?;
    Ok((position, materialization(request, id, &written)))
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
            running.spawn(stage(Arc::clone(&io), position, request, batches));
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
    let remove_staged = |materializations: &[Materialization]| {
        let paths: Vec<String> = materializations
            .iter()
            .flat_map(|m| m.files.iter().map(|f| f.path.clone()))
            .collect();
        let io = Arc::clone(&io);
        async move {
            let _ = io.delete(&paths).await;
        }
    };
    if let Some(error) = first_error {
        remove_staged(&materializations).await;
        return Err(error);
    }
    failpoint::hit("commit.after_stage");
    let events = materializations
        .iter()
        .cloned()
        .map(Event::Materialization)
        .collect();
    match storage.append(now, events).await {
        Ok(ids) => Ok(ids
            .into_iter()
            .zip(materializations)
            .map(|(event_id, materialization)| Committed {
                event_id,
                materialization,
            })
            .collect()),
        Err(source) => {
            remove_staged(&materializations).await;
            let first = &materializations[0];
            Err(CommitError::Record {
                asset: first.asset.clone(),
                partition: first.partition.clone(),
                source,
            })
        }
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
