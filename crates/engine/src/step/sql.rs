//! SQL assets: a DataFusion query over upstream assets registered as tables that expose exactly
//! the partitions the mapping selects, with `$partition_key`, `$partition_start` and
//! `$partition_end` bound as parameter values — never spliced into the SQL text.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::physical_plan::{ExecutionPlan, collect, execute_stream};
use datafusion::prelude::SessionContext;
use strata_core::model::SqlCompute;

use super::checks::Materialized;
use super::inputs::{Input, InputData};
use super::output::{self, PARTITION_KEY};
use super::{PartitionRef, StepContext, StepError};
use crate::sql_session::{read_only, register_asset, session, single_stream_session};

pub(crate) async fn materialize(
    ctx: &StepContext<'_>,
    query: &SqlCompute,
    inputs: &[Input],
) -> Result<Materialized, StepError> {
    let session = session_with_inputs(ctx, inputs).await?;
    let frame = plan(ctx, &session, query).await?;
    if ctx.partitions.len() > 1 {
        return materialize_range(ctx, frame, inputs).await;
    }
    let partition = ctx.partitions.first();
    let frame = without_partition_key(frame)?;
    let committed = if inputs.is_empty() {
        // No inputs: the data version is a hash of the content, so hold the rows first.
        let schema: Arc<Schema> = Arc::new(frame.schema().as_arrow().clone());
        let batch = collect_one(ctx, frame, &schema).await?;
        output::commit_batch(ctx, partition, Vec::new(), batch).await?
    } else {
        let consumed = output::consumed(inputs);
        let version = output::data_version(ctx, &consumed, None, || Ok(String::new()))?;
        let task = Arc::new(frame.task_ctx());
        let plan = physical_plan(frame).await?;
        let stream = execute_stream(Arc::clone(&plan), task)
            .map_err(|e| StepError::retryable(format!("the query failed: {e}")))?;
        let committed =
            output::commit(ctx, partition, consumed, version, BTreeMap::new(), stream).await;
        ctx.meter.plan(&plan);
        committed?
    };
    Ok(Materialized {
        committed: vec![committed],
        events: Vec::new(),
    })
}

/// A single-run backfill step: one query over the whole range, its output split by its
/// `partition_key` column, and each partition committed with exactly what a step over that
/// partition alone would record — its own inputs and so its own data version. A row whose key
/// is outside the range (or null) fails the step before anything is committed.
async fn materialize_range(
    ctx: &StepContext<'_>,
    frame: DataFrame,
    inputs: &[Input],
) -> Result<Materialized, StepError> {
    let schema: Arc<Schema> = Arc::new(frame.schema().as_arrow().clone());
    let column = schema.index_of(PARTITION_KEY).map_err(|_| {
        StepError::permanent(format!(
            "{}: a single-run backfill needs the query to output a `{PARTITION_KEY}` column \
             (group by the upstream tables' `{PARTITION_KEY}`)",
            ctx.asset.path.display()
        ))
    })?;
    let batch = collect_one(ctx, frame, &schema).await?;
    let parts = split_by_partition(&batch, column, ctx.partitions)?;
    let parts = ctx
        .partitions
        .iter()
        .zip(parts)
        .enumerate()
        .map(|(position, (partition, part))| {
            let consumed: Vec<_> = inputs
                .iter()
                .map(|input| input.per_partition[position].clone())
                .collect();
            (partition, consumed, part)
        })
        .collect();
    Ok(Materialized {
        committed: output::commit_batches(ctx, parts).await?,
        events: Vec::new(),
    })
}

/// Runs the query to one batch (a canonical form for hashing and splitting); its plan's
/// compute time goes to the step's cost.
async fn collect_one(
    ctx: &StepContext<'_>,
    frame: DataFrame,
    schema: &Arc<Schema>,
) -> Result<RecordBatch, StepError> {
    let task = Arc::new(frame.task_ctx());
    let plan = physical_plan(frame).await?;
    let batches = collect(Arc::clone(&plan), task).await;
    ctx.meter.plan(&plan);
    let batches = batches.map_err(|e| StepError::retryable(format!("the query failed: {e}")))?;
    concat_batches(schema, &batches).map_err(|e| StepError::retryable(e.to_string()))
}

/// The executable plan of a query (kept, so its metrics can be read after it ran).
async fn physical_plan(frame: DataFrame) -> Result<Arc<dyn ExecutionPlan>, StepError> {
    frame
        .create_physical_plan()
        .await
        .map_err(|e| StepError::retryable(format!("the query failed: {e}")))
}

/// The rows of `batch` for each of `partitions` (in their order, empty where the query gave
/// none), without the key column.
fn split_by_partition(
    batch: &RecordBatch,
    column: usize,
    partitions: &[PartitionRef],
) -> Result<Vec<RecordBatch>, StepError> {
    let keys = cast(batch.column(column), &DataType::Utf8)
        .map_err(|e| StepError::permanent(format!("`{PARTITION_KEY}` is not text: {e}")))?;
    let keys = keys.as_string::<i32>();
    let position: HashMap<&str, usize> = partitions
        .iter()
        .enumerate()
        .map(|(i, p)| (p.key.as_str(), i))
        .collect();
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); partitions.len()];
    for row in 0..keys.len() {
        let key = keys.is_valid(row).then(|| keys.value(row));
        let Some(&at) = key.and_then(|k| position.get(k)) else {
            let first = &partitions[0].key;
            let last = &partitions[partitions.len() - 1].key;
            return Err(StepError::permanent(format!(
                "the query output a row with `{PARTITION_KEY}` {} outside the range {first}..{last}",
                key.map_or("null".to_string(), |k| format!("`{k}`"))
            )));
        };
        rows[at].push(row as u32);
    }
    let mut without_key = batch.clone();
    without_key.remove_column(column);
    rows.into_iter()
        .map(|indices| {
            take_record_batch(&without_key, &UInt32Array::from(indices))
                .map_err(|e| StepError::retryable(e.to_string()))
        })
        .collect()
}

/// A session holding each stored input as its `group.name` table.
pub(crate) async fn session_with_inputs(
    ctx: &StepContext<'_>,
    inputs: &[Input],
) -> Result<SessionContext, StepError> {
    // A range (a single-run backfill) is one big query: let DataFusion parallelise it.
    let session = if ctx.partitions.len() > 1 {
        session()
    } else {
        single_stream_session()
    };
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
