//! Lineage below the asset graph: which upstream columns each column of an asset comes from,
//! and which upstream partitions (at which data versions) each materialized partition was made
//! from.
//!
//! - [`columns`]: the column lineage of one query, read from its DataFusion logical plan.
//! - [`assets`]: the column lineage of a declared asset — planned from its SQL against its
//!   upstream assets' schemas, or as a command reported it — computed on demand.
//! - [`partitions`]: partition lineage, up and down the graph, from the inputs every
//!   Materialization event recorded.

pub mod assets;
pub mod columns;
pub mod partitions;

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::empty::EmptyTable;
use strata_core::key::AssetKey;

use crate::sql_session::{read_only, register_asset, session};
pub use columns::{ColumnRef, LineageError, QueryLineage, RowEffect, Transform};

/// Milliseconds since the epoch as RFC 3339 (UTC, milliseconds), as lineage answers and
/// OpenLineage events print times.
pub(crate) fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The column lineage of `query` over `tables` (each asset's table schema, as the query sees
/// it): the query is planned, never run, so empty tables of the right shape are enough.
pub async fn query_lineage(
    query: &str,
    tables: &[(AssetKey, SchemaRef)],
) -> Result<QueryLineage, LineageError> {
    let ctx = session();
    for (key, schema) in tables {
        register_asset(&ctx, key, Arc::new(EmptyTable::new(Arc::clone(schema))))
            .map_err(|e| LineageError::Plan(e.to_string()))?;
    }
    let frame = ctx
        .sql_with_options(query, read_only())
        .await
        .map_err(|e| LineageError::Plan(e.to_string()))?;
    columns::of_plan(frame.logical_plan())
}
