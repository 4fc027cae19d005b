//! DataFusion sessions where assets are tables: `group.name` is the asset `group/name`.
//!
//! SQL assets, checks and `strata query` all build their sessions here, so an asset reads the
//! same way everywhere. Sessions are read-only: DDL, DML and `SET`-style statements are refused.

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use strata_core::key::AssetKey;

/// A fresh session with no tables.
pub fn session() -> SessionContext {
    SessionContext::new_with_config(config())
}

/// A fresh session for a query over one partition's rows: executed as one stream. Steps run
/// side by side already (`[executor] concurrency`), and splitting a partition's few thousand
/// rows across threads costs more in planning (repartitions, merges) than it saves.
pub fn single_stream_session() -> SessionContext {
    SessionContext::new_with_config(config().with_target_partitions(1))
}

fn config() -> SessionConfig {
    SessionConfig::new().with_information_schema(false)
}

/// Registers `table` as the asset `key`: the table `group.name`.
pub fn register_asset(
    ctx: &SessionContext,
    key: &AssetKey,
    table: Arc<dyn TableProvider>,
) -> Result<(), DataFusionError> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| DataFusionError::Internal("the default catalog is missing".into()))?;
    let schema = match catalog.schema(key.group()) {
        Some(schema) => schema,
        None => {
            let schema = Arc::new(MemorySchemaProvider::new());
            catalog.register_schema(key.group(), schema.clone())?;
            schema
        }
    };
    schema.register_table(key.name().to_string(), table)?;
    Ok(())
}

/// Options that allow queries only.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}
