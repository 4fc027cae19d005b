//! A binary that embeds Strata.
//!
//! It registers a Rust function, `weekday_totals`, and a custom IO manager, `archive`, then
//! hands over to Strata's own command line: `strata-example-embedded materialize …`,
//! `… status`, `… query` and every other command work as they do with `strata`, on a
//! repository whose declarations name them (see `repo/`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Datelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::record_batch::RecordBatch;
use strata_core::model::IoManagerKind;
use strata_io_managers::object::ObjectStoreIoManager;
use strata_server::{Extensions, FunctionError, RustContext};

fn main() -> ExitCode {
    // Partitions of assets declared `io_manager = "archive"` go to Parquet files under
    // `.strata/archive` of the directory the binary runs in — any `IoManager` works here.
    let archive =
        match ObjectStoreIoManager::local(Path::new(".strata/archive"), IoManagerKind::Parquet) {
            Ok(manager) => manager,
            Err(e) => {
                eprintln!("error: cannot open the archive IO manager: {e}");
                return ExitCode::from(2);
            }
        };
    strata_server::run(
        Extensions::new()
            .function("weekday_totals", weekday_totals)
            .io_manager("archive", Arc::new(archive)),
    )
}

/// One row per day: the day's weekday, its number of sales and their total, computed in Rust
/// from the day's partition of `sales/daily` (the table `sales.daily`).
async fn weekday_totals(ctx: RustContext) -> Result<Vec<RecordBatch>, FunctionError> {
    let batches = ctx
        .sql("SELECT amount FROM sales.daily")
        .await?
        .collect()
        .await?;
    let (mut count, mut total) = (0i64, 0i64);
    for batch in &batches {
        let amounts = batch.column(0).as_primitive::<Int64Type>();
        count += (amounts.len() - amounts.null_count()) as i64;
        total += amounts.iter().flatten().sum::<i64>();
    }
    let weekday = ctx
        .partition_start
        .and_then(|start| DateTime::from_timestamp(start, 0))
        .map(|start| start.weekday().to_string())
        .ok_or_else(|| FunctionError("weekday_totals needs a daily partition".to_string()))?;
    let day = ctx.partition_key.clone().unwrap_or_default();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("day", Arc::new(StringArray::from(vec![day]))),
        ("weekday", Arc::new(StringArray::from(vec![weekday]))),
        ("sales", Arc::new(Int64Array::from(vec![count]))),
        ("total", Arc::new(Int64Array::from(vec![total]))),
    ];
    Ok(vec![RecordBatch::try_from_iter(columns)?])
}
