//! Rust assets: a function the binary registered through the Rust API, given the partition and
//! its upstream tables, returning the partition's rows.

use std::sync::Arc;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Schema;
use strata_core::model::RustCompute;

use super::checks::Materialized;
use super::inputs::Input;
use super::output::{self, PARTITION_KEY};
use super::sql::session_with_inputs;
use super::{StepContext, StepError};
use crate::extensions::RustContext;

pub(crate) async fn materialize(
    ctx: &StepContext<'_>,
    rust: &RustCompute,
    inputs: &[Input],
) -> Result<Materialized, StepError> {
    let function = ctx
        .shared
        .instance
        .extensions
        .get_function(&rust.function)
        .cloned()
        .ok_or_else(|| {
            StepError::permanent(format!(
                "no Rust function `{}` is registered in this binary: run the repository with \
                 the binary that registers it (Extensions::function)",
                rust.function
            ))
        })?;
    let partition = ctx.partitions.first();
    let context = RustContext {
        asset: ctx.asset.key.clone(),
        partition_key: partition.map(|p| p.key.clone()),
        partition_start: partition.and_then(|p| p.window).map(|w| w.start),
        partition_end: partition.and_then(|p| p.window).map(|w| w.end),
        run_id: ctx.run.run_id.clone(),
        session: session_with_inputs(ctx, inputs).await?,
    };
    let batches = function(context)
        .await
        .map_err(|e| StepError::retryable(format!("`{}` failed: {}", rust.function, e.0)))?;
    let Some(first) = batches.first() else {
        return Err(StepError::permanent(format!(
            "`{}` returned no batch: return at least one (possibly empty) batch, so the \
             partition has a schema",
            rust.function
        )));
    };
    let schema: Arc<Schema> = first.schema();
    let mut batch = concat_batches(&schema, &batches).map_err(|e| {
        StepError::permanent(format!(
            "`{}` returned batches with different schemas: {e}",
            rust.function
        ))
    })?;
    if let Ok(column) = schema.index_of(PARTITION_KEY) {
        batch.remove_column(column);
    }
    let committed = output::commit_batch(ctx, partition, output::consumed(inputs), batch).await?;
    Ok(Materialized {
        committed: vec![committed],
        events: Vec::new(),
    })
}
