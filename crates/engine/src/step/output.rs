//! Committing what a step computed: one partition's batches through the asset's IO manager,
//! with the data version and the inputs consumed.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::memory::MemoryStream;
use strata_io_managers::IoManager;
use strata_storage::event::ConsumedInput;

use super::inputs::Input;
use super::{PartitionRef, StepContext, StepError};
use crate::commit::{CommitError, CommitRequest, Committed, commit_partition, commit_partitions};
use datafusion::arrow::ipc::writer::StreamWriter;

use crate::versions::{content_data_version, provenance_data_version};

/// The column a query may output to say which partition a row belongs to; Strata stores it as
/// the partition itself, not as a column, so it is dropped before writing.
pub(crate) const PARTITION_KEY: &str = strata_io_managers::PARTITION_KEY_COLUMN;

/// What the consumed inputs were, for the Materialization event.
pub(crate) fn consumed(inputs: &[Input]) -> Vec<ConsumedInput> {
    inputs.iter().map(|i| i.consumed.clone()).collect()
}

/// The data version: `reported` (by the command), else provenance over `consumed` when there
/// are inputs, else `content` (computed by the caller from the data, only when needed).
pub(crate) fn data_version(
    ctx: &StepContext<'_>,
    consumed: &[ConsumedInput],
    reported: Option<String>,
    content: impl FnOnce() -> Result<String, StepError>,
) -> Result<String, StepError> {
    match reported {
        Some(version) => Ok(version),
        None if consumed.is_empty() => content(),
        None => Ok(provenance_data_version(&ctx.code_version, consumed)),
    }
}

/// The content data version of rows held in memory: a hash of their Arrow IPC stream form.
pub(crate) fn batch_version(batch: &RecordBatch) -> Result<String, StepError> {
    let failed = |e: datafusion::arrow::error::ArrowError| StepError::retryable(e.to_string());
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema()).map_err(failed)?;
    writer.write(batch).map_err(failed)?;
    writer.finish().map_err(failed)?;
    drop(writer);
    Ok(content_data_version(&[&bytes]))
}

/// Commits one partition's rows held in memory, versioned as [`data_version`] says.
pub(crate) async fn commit_batch(
    ctx: &StepContext<'_>,
    partition: Option<&PartitionRef>,
    consumed: Vec<ConsumedInput>,
    batch: RecordBatch,
) -> Result<Committed, StepError> {
    let version = data_version(ctx, &consumed, None, || batch_version(&batch))?;
    let stream = memory_stream(batch.schema(), vec![batch])?;
    commit(ctx, partition, consumed, version, BTreeMap::new(), stream).await
}

/// Commits a single-run range: each partition's rows held in memory, versioned as
/// [`data_version`] says, written side by side and recorded in one transaction.
pub(crate) async fn commit_batches(
    ctx: &StepContext<'_>,
    parts: Vec<(&PartitionRef, Vec<ConsumedInput>, RecordBatch)>,
) -> Result<Vec<Committed>, StepError> {
    let io = io_manager(ctx)?;
    let mut writes = Vec::with_capacity(parts.len());
    for (partition, consumed, batch) in parts {
        let version = data_version(ctx, &consumed, None, || batch_version(&batch))?;
        let stream = ctx
            .meter
            .timed_write(memory_stream(batch.schema(), vec![batch])?);
        writes.push((
            request(ctx, Some(partition), consumed, version, BTreeMap::new()),
            stream,
        ));
    }
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let committed = commit_partitions(
        ctx.shared.instance.storage.as_ref(),
        io,
        writes,
        parallel,
        ctx.now(),
    )
    .await
    .map_err(commit_error)?;
    for c in &committed {
        ctx.meter
            .wrote(c.materialization.rows, c.materialization.bytes);
    }
    Ok(committed)
}

/// The asset's IO manager.
fn io_manager(ctx: &StepContext<'_>) -> Result<Arc<dyn IoManager>, StepError> {
    ctx.shared
        .instance
        .io_managers
        .get(&ctx.asset.io_manager)
        .map_err(|e| StepError::permanent(e.to_string()))
}

/// What a commit of one partition of this step records besides its data.
fn request(
    ctx: &StepContext<'_>,
    partition: Option<&PartitionRef>,
    inputs: Vec<ConsumedInput>,
    data_version: String,
    metadata: BTreeMap<String, serde_json::Value>,
) -> CommitRequest {
    CommitRequest {
        asset: ctx.asset.key.clone(),
        partition: partition.map(|p| p.key.clone()),
        run_id: Some(ctx.run.run_id.clone()),
        io_manager: ctx.asset.io_manager.clone(),
        code_version: ctx.code_version.clone(),
        data_version,
        metadata,
        inputs,
    }
}

fn commit_error(error: CommitError) -> StepError {
    match error {
        CommitError::Write { source, .. } => StepError::retryable(source.to_string()),
        CommitError::Record { source, .. } => {
            StepError::retryable(format!("recording the materialization failed: {source}"))
        }
    }
}

/// Writes and commits one partition (`None`: the unpartitioned asset).
pub(crate) async fn commit(
    ctx: &StepContext<'_>,
    partition: Option<&PartitionRef>,
    inputs: Vec<ConsumedInput>,
    data_version: String,
    metadata: BTreeMap<String, serde_json::Value>,
    batches: SendableRecordBatchStream,
) -> Result<Committed, StepError> {
    let io = io_manager(ctx)?;
    let committed = commit_partition(
        ctx.shared.instance.storage.as_ref(),
        io.as_ref(),
        request(ctx, partition, inputs, data_version, metadata),
        ctx.meter.timed_write(batches),
        ctx.now(),
    )
    .await
    .map_err(commit_error)?;
    ctx.meter.wrote(
        committed.materialization.rows,
        committed.materialization.bytes,
    );
    Ok(committed)
}

/// Batches already in memory as a stream to commit.
pub(crate) fn memory_stream(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<SendableRecordBatchStream, StepError> {
    Ok(Box::pin(
        MemoryStream::try_new(batches, schema, None)
            .map_err(|e| StepError::retryable(e.to_string()))?,
    ))
}
