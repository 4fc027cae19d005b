//! SQL assets: a DataFusion query over upstream assets registered as tables that expose exactly
//! the partitions the mapping selects, with `$partition_key`, `$partition_start` and
//! `$partition_end` bound as parameter values — never spliced into the SQL text.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use strata_core::model::SqlCompute;

use super::checks::Materialized;
use super::inputs::{Input, InputData};
use super::output::{self, PARTITION_KEY};
use super::{PartitionRef, StepContext, StepError};
use crate::sql_session::{read_only, register_asset, session};
use crate::versions::content_data_version;

pub(crate) async fn materialize(
    ctx: &StepContext<'_>,
    query: &SqlCompute,
    inputs: &[Input],
) -> Result<Materialized, StepError> {
    let session = session_with_inputs(ctx, inputs).await?;
    let frame = plan(ctx, &session, query).await?;
    if ctx.partitions.len() > 1 {
        return Err(StepError::permanent(
            "computing a range of partitions in one query is not supported by this executor yet",
        ));
    }
    let partition = ctx.partitions.first();
    let frame = without_partition_key(frame)?;
    let metadata = BTreeMap::new();
    if inputs.is_empty() {
        // No inputs: the data version is a hash of the content, so compute it first.
        let schema: Arc<Schema> = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame
            .collect()
            .await
            .map_err(|e| StepError::retryable(format!("the query failed: {e}")))?;
        let version = content_data_version(&[&ipc_bytes(&schema, &batches)?]);
        let stream = output::memory_stream(schema, batches)?;
        let committed =
            output::commit(ctx, partition, Vec::new(), version, metadata, stream).await?;
        return Ok(Materialized {
            committed: vec![committed],
            events: Vec::new(),
        });
    }
    let version = output::data_version(ctx, inputs, None, String::new);
    let stream = frame
        .execute_stream()
        .await
        .map_err(|e| StepError::retryable(format!("the query failed: {e}")))?;
    let committed = output::commit(
        ctx,
        partition,
        output::consumed(inputs),
        version,
        metadata,
        stream,
    )
    .await?;
    Ok(Materialized {
        committed: vec![committed],
        events: Vec::new(),
    })
}

/// A session holding each stored input as its `group.name` table.
async fn session_with_inputs(
    ctx: &StepContext<'_>,
    inputs: &[Input],
) -> Result<SessionContext, StepError> {
    let session = session();
    for input in inputs {
        // Source assets are observed, not stored: they are not tables.
        let InputData::Stored {
            io_manager,
            partitions,
        } = &input.data
        else {
            continue;
        };
        let io = ctx
            .shared
            .instance
            .io_managers
            .get(io_manager)
            .map_err(|e| StepError::permanent(e.to_string()))?;
        let table = io
            .table(partitions)
            .await
            .map_err(|e| StepError::retryable(format!("reading {} failed: {e}", input.asset)))?;
        register_asset(&session, &input.asset, table)
            .map_err(|e| StepError::permanent(e.to_string()))?;
    }
    Ok(session)
}

/// Plans the query with the partition's parameters bound.
async fn plan(
    ctx: &StepContext<'_>,
    session: &SessionContext,
    query: &SqlCompute,
) -> Result<DataFrame, StepError> {
    let located = |e: datafusion::error::DataFusionError| {
        StepError::permanent(format!(
            "{} (query at line {}): {e}",
            ctx.asset.path.display(),
            query.line
        ))
    };
    let frame = session
        .sql_with_options(&query.query, read_only())
        .await
        .map_err(located)?;
    frame
        .with_param_values(parameters(ctx.partitions))
        .map_err(located)
}

/// `$partition_key` (the key; null for a range or an unpartitioned asset), `$partition_start`
/// and `$partition_end` (UTC timestamps of the window, or of the whole range; null without
/// time windows).
fn parameters(partitions: &[PartitionRef]) -> Vec<(&'static str, ScalarValue)> {
    let timestamp = |secs: Option<i64>| {
        ScalarValue::TimestampNanosecond(secs.map(|s| s * 1_000_000_000), Some("UTC".into()))
    };
    let key = match partitions {
        [one] => Some(one.key.clone()),
        _ => None,
    };
    let start = partitions.first().and_then(|p| p.window).map(|w| w.start);
    let end = partitions.last().and_then(|p| p.window).map(|w| w.end);
    vec![
        ("partition_key", ScalarValue::Utf8(key)),
        ("partition_start", timestamp(start)),
        ("partition_end", timestamp(end)),
    ]
}

/// The frame without a `partition_key` output column (the partition is stored as the
/// partition itself; readers get the column back from the IO manager).
fn without_partition_key(frame: DataFrame) -> Result<DataFrame, StepError> {
    if frame
        .schema()
        .has_column_with_unqualified_name(PARTITION_KEY)
    {
        frame
            .drop_columns(&[PARTITION_KEY])
            .map_err(|e| StepError::permanent(e.to_string()))
    } else {
        Ok(frame)
    }
}

/// The batches in Arrow IPC stream form: a canonical byte form for content hashing.
pub(crate) fn ipc_bytes(
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
) -> Result<Vec<u8>, StepError> {
    let mut bytes = Vec::new();
    let mut writer = datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut bytes, schema)
        .map_err(|e| StepError::retryable(e.to_string()))?;
    for batch in batches {
        writer
            .write(batch)
            .map_err(|e| StepError::retryable(e.to_string()))?;
    }
    writer
        .finish()
        .map_err(|e| StepError::retryable(e.to_string()))?;
    drop(writer);
    Ok(bytes)
}
