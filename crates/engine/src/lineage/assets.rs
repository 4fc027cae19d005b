//! The column lineage of a declared asset, computed on demand.
//!
//! **Why on demand, not recorded per materialization.** An SQL asset's column lineage is a
//! function of its declared query and its upstream tables' schemas; planning (not running) the
//! query against empty tables of those schemas takes milliseconds. Computing it when asked
//! always describes the declaration as it is now — the code that will produce the next
//! partition — and needs no change to the event log. Upstream schemas come from each
//! upstream's latest materialization (the `schema` metadata every commit records); an SQL
//! upstream that was never materialized is planned in turn from its own upstreams, so a
//! pipeline needs only its roots materialized once. Commands report their lineage with
//! `column_lineage` events, recorded in their materialization's metadata: that is read back.
//!
//! ```text
//!   asset (sql) ──plan──▶ query over tables ◀── upstream schemas: latest materialization's
//!                                              `schema`, or (sql) planned the same way
//!   asset (command) ──▶ latest materialization: `schema` + reported `column_lineage`
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::Serialize;
use serde_json::Value;
use strata_core::key::AssetKey;
use strata_core::model::{Compute, Repository};
use strata_storage::event::{Event, Materialization};
use strata_storage::{Storage, StorageError};
use utoipa::ToSchema;

use super::columns::{LineageError, RowEffect, Transform};
use super::query_lineage;

/// The column every partitioned table exposes and no stored partition holds.
const PARTITION_KEY: &str = "partition_key";

/// Where an asset's column lineage comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Planned from its SQL: exact.
    Sql,
    /// Reported by its command (`column_lineage` events) at its latest materialization.
    Reported,
    /// Not known: a command that reported none, a Rust function, or a source.
    None,
}

/// An asset's columns and where each comes from.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AssetColumns {
    /// The asset.
    #[schema(value_type = String)]
    pub asset: AssetKey,
    /// Where the lineage comes from.
    pub origin: Origin,
    /// Its columns, in order.
    pub columns: Vec<ColumnLineage>,
    /// Upstream columns that decide which rows it has (join keys, filters, groups, order).
    pub rows: Vec<RowSource>,
    /// Why its columns are not known (an upstream never materialized, or a query construct
    /// column lineage does not follow); the lists are then empty. Answered by the API; the CLI
    /// exits with the reason instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl AssetColumns {
    /// An SQL asset whose columns cannot be worked out now, and why.
    pub fn unavailable(asset: AssetKey, reason: String) -> Self {
        Self {
            asset,
            origin: Origin::Sql,
            columns: Vec::new(),
            rows: Vec::new(),
            unavailable: Some(reason),
        }
    }
}

/// One column of an asset.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ColumnLineage {
    /// Its name.
    pub name: String,
    /// Its Arrow type (`Int64`, `Utf8`, …), when known.
    #[serde(rename = "type")]
    pub data_type: Option<String>,
    /// How it is computed as a whole (`None` when the command did not say).
    pub transform: Option<Transform>,
    /// The upstream columns its values come from.
    pub sources: Vec<ColumnSource>,
}

/// An upstream column one column's values come from.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ColumnSource {
    /// The upstream asset.
    #[schema(value_type = String)]
    pub asset: AssetKey,
    /// Its column.
    pub column: String,
    /// How its values reach the column (`None` when a command reported it: commands say
    /// which columns, not how).
    pub transform: Option<Transform>,
}

/// An upstream column that decides which rows the asset has.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RowSource {
    /// The upstream asset.
    #[schema(value_type = String)]
    pub asset: AssetKey,
    /// Its column.
    pub column: String,
    /// How: `join_key`, `filter`, `group_by`, `sort`.
    pub effects: Vec<RowEffect>,
}

/// Why an asset's column lineage is not available.
#[derive(Debug, thiserror::Error)]
pub enum ColumnLineageError {
    /// The asset is not in the repository.
    #[error("unknown asset `{0}`")]
    UnknownAsset(AssetKey),
    /// An upstream's columns are unknown: it was never materialized and is not SQL.
    #[error(
        "the columns of `{upstream}` are not known yet: materialize it once \
         (`strata materialize {upstream}`), then ask again"
    )]
    UnknownSchema {
        /// The upstream asset without a known schema.
        upstream: AssetKey,
    },
    /// The query's lineage could not be read.
    #[error("{asset}: {source}")]
    Lineage {
        /// The asset.
        asset: AssetKey,
        /// Why.
        source: LineageError,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The column lineage of asset `key`.
pub async fn asset_columns(
    repository: &Repository,
    storage: &dyn Storage,
    key: &AssetKey,
) -> Result<AssetColumns, ColumnLineageError> {
    let asset = repository
        .asset(key)
        .ok_or_else(|| ColumnLineageError::UnknownAsset(key.clone()))?;
    match &asset.compute {
        Compute::Sql(sql) => {
            let mut schemas = Schemas::new(repository, storage);
            let tables = schemas.tables_of(key).await?;
            let lineage = query_lineage(&sql.query, &tables).await.map_err(|source| {
                ColumnLineageError::Lineage {
                    asset: key.clone(),
                    source,
                }
            })?;
            let columns = lineage
                .columns
                .into_iter()
                .filter(|c| c.name != PARTITION_KEY)
                .map(|c| ColumnLineage {
                    name: c.name,
                    data_type: Some(c.data_type),
                    transform: Some(c.transform),
                    sources: c
                        .sources
                        .into_iter()
                        .map(|(s, t)| ColumnSource {
                            asset: s.asset,
                            column: s.column,
                            transform: Some(t),
                        })
                        .collect(),
                })
                .collect();
            let rows = lineage
                .rows
                .into_iter()
                .map(|(s, effects)| RowSource {
                    asset: s.asset,
                    column: s.column,
                    effects: effects.into_iter().collect(),
                })
                .collect();
            Ok(AssetColumns {
                asset: key.clone(),
                origin: Origin::Sql,
                columns,
                rows,
                unavailable: None,
            })
        }
        Compute::Command(_) | Compute::Rust(_) | Compute::Source(_) => {
            let latest = latest_materialization(storage, key).await?;
            Ok(reported(key, latest.as_ref()))
        }
    }
}

/// A command's reported lineage over its latest stored schema (columns it reported but did
/// not write are kept, typeless, so nothing reported is hidden).
fn reported(key: &AssetKey, latest: Option<&Materialization>) -> AssetColumns {
    let schema = latest.and_then(stored_schema);
    let reported: BTreeMap<String, Vec<ColumnSource>> = latest
        .and_then(|m| m.metadata.get("column_lineage"))
        .and_then(Value::as_object)
        .map(|columns| {
            columns
                .iter()
                .map(|(column, sources)| (column.clone(), reported_sources(sources)))
                .collect()
        })
        .unwrap_or_default();
    let mut names: Vec<(String, Option<String>)> = schema
        .iter()
        .flat_map(|s| s.fields().iter())
        .map(|f| (f.name().clone(), Some(f.data_type().to_string())))
        .collect();
    let known: BTreeSet<String> = names.iter().map(|(n, _)| n.clone()).collect();
    names.extend(
        reported
            .keys()
            .filter(|n| !known.contains(*n))
            .map(|n| (n.clone(), None)),
    );
    let origin = if reported.is_empty() {
        Origin::None
    } else {
        Origin::Reported
    };
    AssetColumns {
        asset: key.clone(),
        origin,
        columns: names
            .into_iter()
            .map(|(name, data_type)| ColumnLineage {
                sources: reported.get(&name).cloned().unwrap_or_default(),
                name,
                data_type,
                transform: None,
            })
            .collect(),
        rows: Vec::new(),
        unavailable: None,
    }
}

fn reported_sources(sources: &Value) -> Vec<ColumnSource> {
    sources
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|source| {
            Some(ColumnSource {
                asset: AssetKey::parse(source.get("asset")?.as_str()?).ok()?,
                column: source.get("column")?.as_str()?.to_string(),
                transform: None,
            })
        })
        .collect()
}

/// The latest materialization of any partition of `key`.
pub(crate) async fn latest_materialization(
    storage: &dyn Storage,
    key: &AssetKey,
) -> Result<Option<Materialization>, StorageError> {
    let history = storage.materialization_history(key, None, 1).await?;
    Ok(history.into_iter().find_map(|r| match r.event {
        Event::Materialization(m) => Some(m),
        _ => None,
    }))
}

/// The schema a materialization recorded (`[{name, type, nullable}]`).
pub(crate) fn stored_schema(materialization: &Materialization) -> Option<Schema> {
    let columns = materialization.metadata.get("schema")?.as_array()?;
    let fields: Option<Vec<Field>> = columns
        .iter()
        .map(|column| {
            let name = column.get("name")?.as_str()?;
            let ty: DataType = column.get("type")?.as_str()?.parse().ok()?;
            let nullable = column
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            Some(Field::new(name, ty, nullable))
        })
        .collect();
    fields.map(Schema::new)
}

/// Assets' stored schemas, resolved once each: the latest materialization's, or for an SQL
/// asset never materialized, its query's output planned from its own upstreams.
struct Schemas<'a> {
    repository: &'a Repository,
    storage: &'a dyn Storage,
    known: HashMap<AssetKey, SchemaRef>,
    /// Assets whose schema is unknown, each with the upstream-most asset that is why.
    blame: HashMap<AssetKey, AssetKey>,
}

impl<'a> Schemas<'a> {
    fn new(repository: &'a Repository, storage: &'a dyn Storage) -> Self {
        Self {
            repository,
            storage,
            known: HashMap::new(),
            blame: HashMap::new(),
        }
    }

    /// The tables `key`'s query reads: each stored upstream with its schema as a table
    /// (plus `partition_key` when partitioned). Upstreams are resolved roots first.
    async fn tables_of(
        &mut self,
        key: &AssetKey,
    ) -> Result<Vec<(AssetKey, SchemaRef)>, ColumnLineageError> {
        // Every upstream of `key`, in topological order, so each is planned after its inputs.
        let mut closure = BTreeSet::new();
        let mut pending = vec![key.clone()];
        while let Some(next) = pending.pop() {
            for up in self.repository.graph().upstream(&next) {
                if closure.insert(up.clone()) {
                    pending.push(up.clone());
                }
            }
        }
        for up in self.repository.topological_order() {
            if closure.contains(&up) {
                self.resolve(&up).await?;
            }
        }
        self.tables_for(key)
    }

    /// Resolves `key`'s stored schema, its upstreams being resolved already; when it cannot
    /// be known, remembers the upstream-most asset to blame.
    async fn resolve(&mut self, key: &AssetKey) -> Result<(), ColumnLineageError> {
        let Some(asset) = self.repository.asset(key) else {
            return Ok(());
        };
        if let Compute::Source(_) = asset.compute {
            return Ok(()); // observed, not stored: not a table
        }
        if let Some(latest) = latest_materialization(self.storage, key).await?
            && let Some(schema) = stored_schema(&latest)
        {
            self.known.insert(key.clone(), Arc::new(schema));
            return Ok(());
        }
        let Compute::Sql(sql) = &asset.compute else {
            self.blame.insert(key.clone(), key.clone());
            return Ok(());
        };
        let tables = match self.tables_for(key) {
            Ok(tables) => tables,
            Err(ColumnLineageError::UnknownSchema { upstream }) => {
                self.blame.insert(key.clone(), upstream);
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        let lineage = query_lineage(&sql.query, &tables).await.map_err(|source| {
            ColumnLineageError::Lineage {
                asset: key.clone(),
                source,
            }
        })?;
        let fields: Vec<Field> = lineage
            .columns
            .iter()
            .filter(|c| c.name != PARTITION_KEY)
            .filter_map(|c| Some(Field::new(&c.name, c.data_type.parse().ok()?, true)))
            .collect();
        self.known
            .insert(key.clone(), Arc::new(Schema::new(fields)));
        Ok(())
    }

    /// The tables asset `key` reads, or the upstream whose columns are unknown.
    fn tables_for(&self, key: &AssetKey) -> Result<Vec<(AssetKey, SchemaRef)>, ColumnLineageError> {
        let asset = self.repository.asset(key).expect("resolved from the graph");
        let mut tables = Vec::with_capacity(asset.deps.len());
        for dep in &asset.deps {
            let upstream = self.repository.asset(&dep.key).map(|a| &a.compute);
            if matches!(upstream, Some(Compute::Source(_))) {
                continue;
            }
            let table = self
                .table(&dep.key)
                .ok_or_else(|| ColumnLineageError::UnknownSchema {
                    upstream: self.blame.get(&dep.key).unwrap_or(&dep.key).clone(),
                })?;
            tables.push((dep.key.clone(), table));
        }
        Ok(tables)
    }

    /// `key` as a table: its stored schema, plus `partition_key` when it is partitioned.
    fn table(&self, key: &AssetKey) -> Option<SchemaRef> {
        let stored = self.known.get(key)?;
        let partitioned = self
            .repository
            .asset(key)
            .is_some_and(|a| a.partitions.is_some());
        if !partitioned || stored.column_with_name(PARTITION_KEY).is_some() {
            return Some(Arc::clone(stored));
        }
        let mut fields: Vec<Field> = stored.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(PARTITION_KEY, DataType::Utf8, false));
        Some(Arc::new(Schema::new(fields)))
    }
}
