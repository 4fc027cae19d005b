//! `strata query`: read-only SQL over every materialized asset.
//!
//! Each asset is the table `group.name` over the current materialization of all its
//! partitions, with a `partition_key` column; a two-dimensional asset also gets one column per
//! dimension, named after it (or `partition_<dimension>` when the data already has that name).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{SessionContext, col, lit};
use strata_core::model::{Asset, Compute, Repository};
use strata_engine::commit::stored_partition;
use strata_engine::instance::Instance;
use strata_engine::sql_session::{read_only, register_asset, session};
use strata_io_managers::{PARTITION_KEY_COLUMN, StoredPartition};

use crate::cli::QueryArgs;
use crate::{CliError, Outcome};

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &QueryArgs,
) -> Result<Outcome, CliError> {
    let instance = crate::open_instance(root, repository.project())?;
    let batches = crate::runtime()?.block_on(async {
        let ctx = session();
        let mut no_table = Vec::new();
        for asset in repository.assets() {
            if !register(&ctx, &instance, asset).await? {
                no_table.push(asset);
            }
        }
        let frame = ctx
            .sql_with_options(&args.sql, read_only())
            .await
            .map_err(|e| CliError::Usage(query_error(&e.to_string(), &no_table)))?;
        frame
            .collect()
            .await
            .map_err(|e| CliError::Usage(format!("query: {e}")))
    })?;
    print(&batches, args)?;
    Ok(Outcome::Ok)
}

/// The error of a query that did not plan. A table that is an asset without one (a source, or
/// an asset never materialized) says so, rather than DataFusion's "table not found".
fn query_error(error: &str, no_table: &[&Asset]) -> String {
    let named = no_table.iter().find(|asset| {
        let table = format!("'datafusion.{}.{}'", asset.key.group(), asset.key.name());
        error.contains("not found") && error.contains(&table)
    });
    match named {
        Some(asset) if matches!(asset.compute, Compute::Source(_)) => format!(
            "query: `{}.{}` is the source asset {}: Strata observes it and stores no table of it",
            asset.key.group(),
            asset.key.name(),
            asset.key
        ),
        Some(asset) => format!(
            "query: `{}.{}` is the asset {}, which has not been materialized yet; \
             materialize it first (`strata materialize {}`)",
            asset.key.group(),
            asset.key.name(),
            asset.key,
            asset.key
        ),
        None => format!("query: {error}"),
    }
}

/// Registers `asset` over its materialized partitions; `false` when it has no table (a source,
/// or nothing materialized).
async fn register(
    ctx: &SessionContext,
    instance: &Instance,
    asset: &Asset,
) -> Result<bool, CliError> {
    if matches!(asset.compute, Compute::Source(_)) {
        return Ok(false);
    }
    let current = instance
        .storage
        .current_materializations(&asset.key, None)
        .await
        .map_err(CliError::internal)?;
    if current.is_empty() {
        return Ok(false);
    }
    let partitions: Vec<StoredPartition> = current
        .into_iter()
        .map(|c| stored_partition(c.partition, &c.files))
        .collect();
    let io = instance
        .io_managers
        .get(&asset.io_manager)
        .map_err(CliError::internal)?;
    let table = io.table(&partitions).await.map_err(CliError::internal)?;
    let table = match asset.partitions_definition().and_then(|d| d.dimensions()) {
        Some(dimensions) => {
            let frame = ctx.read_table(table).map_err(CliError::internal)?;
            let existing: Vec<String> = frame
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let mut columns: Vec<_> = existing
                .iter()
                .map(|name| col(format!("\"{name}\"")))
                .collect();
            for (position, (name, _)) in dimensions.iter().enumerate() {
                let alias = if existing.contains(name) {
                    format!("partition_{name}")
                } else {
                    name.clone()
                };
                columns.push(
                    datafusion::functions::string::expr_fn::split_part(
                        col(PARTITION_KEY_COLUMN),
                        lit("|"),
                        lit(position as i64 + 1),
                    )
                    .alias(alias),
                );
            }
            frame
                .select(columns)
                .map_err(CliError::internal)?
                .into_view()
        }
        None => table,
    };
    register_asset(ctx, &asset.key, Arc::clone(&table)).map_err(CliError::internal)?;
    Ok(true)
}

fn print(batches: &[RecordBatch], args: &QueryArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut out);
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        writer.write_batches(&refs).map_err(CliError::internal)?;
        writer.finish().map_err(CliError::internal)?;
        drop(writer);
        writeln!(out)?;
    } else if args.csv {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        for batch in batches {
            writer.write(batch).map_err(CliError::internal)?;
        }
    } else {
        let table = pretty_format_batches(batches).map_err(CliError::internal)?;
        writeln!(out, "{table}")?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
    }
    Ok(())
}
