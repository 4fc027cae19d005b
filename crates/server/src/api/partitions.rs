//! Partitions: an asset's status as compact ranges, its keys page by page, one partition's
//! history and upstream partitions, materialization history, and dynamic partition sets.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use strata_core::key::AssetKey;
use strata_core::model::{Asset, Repository};
use strata_core::partitions::mapping::Sides;
use strata_core::partitions::{Keyspace, PartitionSubset, PartitionsDefinition};
use strata_engine::dynamic::{self, DynamicError};
use strata_storage::event::Event;
use strata_storage::status::PartitionStatus;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Body, ErrorBody, Params, limit};
use super::state::{AppState, find_asset, rfc3339};
use super::subsets::Ranges;

/// An asset's partitions by state.
#[derive(Serialize, ToSchema)]
pub(super) struct StatusReport {
    /// `group/name`.
    asset: String,
    /// Whether it is partitioned (unpartitioned: one partition, index 0, the asset itself).
    partitioned: bool,
    /// Partitions now.
    total: u64,
    /// With a current materialization.
    materialized: Ranges,
    /// Never materialized.
    missing: Ranges,
    /// Whose latest step failed for good.
    failed: Ranges,
    /// Being materialized now.
    in_progress: Ranges,
    /// Materialized but stale (null when `stale=false` was asked).
    stale: Option<Ranges>,
    /// Stored keys the definition no longer has.
    unknown_keys: u64,
}

/// Options of the status report.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StatusQuery {
    /// Compute stale partitions too (default true; it reads every upstream's state).
    stale: Option<bool>,
}

/// Partition status as compact ranges.
#[utoipa::path(get, operation_id = "get_partition_status", path = "/assets/{group}/{name}/partitions/status", tag = "partitions",
    params(("group" = String, Path), ("name" = String, Path), StatusQuery),
    responses((status = 200, body = StatusReport), (status = 404, body = ErrorBody)))]
pub(super) async fn status(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    Params(query): Params<StatusQuery>,
) -> ApiResult<StatusReport> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    let dynamic = state.dynamic().await?;
    let keyspaces = repository.keyspaces(state.now_secs(), &dynamic);
    let keyspace = keyspaces.get(&asset.key);
    let status = state.status(&asset.key, keyspace).await?;
    let stale = if query.stale.unwrap_or(true) {
        let report = state.stale(&repository, &keyspaces).await?;
        let subset = match (report.get(&asset.key), keyspace) {
            (Some(map), Some(keys)) => {
                keys.subset(map.keys().filter_map(|k| keys.index_of(k.as_deref()?)))
            }
            (Some(map), None) if map.contains_key(&None) => PartitionSubset::from_range(0..1),
            _ => PartitionSubset::empty(),
        };
        Some(Ranges::of(&subset, keyspace))
    } else {
        None
    };
    Ok(Json(StatusReport {
        asset: asset.key.to_string(),
        partitioned: keyspace.is_some(),
        total: status.total,
        materialized: Ranges::of(&status.materialized, keyspace),
        missing: Ranges::of(&status.missing(), keyspace),
        failed: Ranges::of(&status.failed, keyspace),
        in_progress: Ranges::of(&status.in_progress, keyspace),
        stale,
        unknown_keys: status.unknown_keys,
    }))
}

/// One partition in a page of keys.
#[derive(Serialize, ToSchema)]
pub(super) struct PartitionKey {
    /// The key.
    key: String,
    /// Its index in definition order.
    index: u64,
    /// Its window's start (RFC 3339, in the definition's time zone), for time partitions.
    start: Option<String>,
    /// Its window's end, exclusive.
    end: Option<String>,
    /// `materialized`, `missing`, `failed` or `in_progress`.
    status: &'static str,
}

/// A page of partition keys.
#[derive(Serialize, ToSchema)]
pub(super) struct KeyPage {
    /// The partitions of this page, in definition order.
    partitions: Vec<PartitionKey>,
    /// Partitions in all.
    total: u64,
    /// The cursor of the next page, null on the last.
    next: Option<String>,
}

/// Which page.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// Where to start: `next` of the previous page (default: the first partition).
    cursor: Option<String>,
    /// Partitions per page, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// An instant of a definition's windows, in the definition's time zone.
fn window_time(definition: &PartitionsDefinition, t: i64) -> String {
    let tz = definition.time_zone().unwrap_or(chrono_tz::UTC);
    strata_core::partitions::time_window::instant(t)
        .with_timezone(&tz)
        .to_rfc3339()
}

fn state_of(status: &PartitionStatus, index: u64) -> &'static str {
    if status.in_progress.contains(index) {
        "in_progress"
    } else if status.failed.contains(index) {
        "failed"
    } else if status.materialized.contains(index) {
        "materialized"
    } else {
        "missing"
    }
}

/// The asset's partition keys, with windows and state, page by page.
#[utoipa::path(get, operation_id = "list_partitions", path = "/assets/{group}/{name}/partitions", tag = "partitions",
    params(("group" = String, Path), ("name" = String, Path), PageQuery),
    responses((status = 200, body = KeyPage), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(super) async fn keys(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    Params(query): Params<PageQuery>,
) -> ApiResult<KeyPage> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    let limit = u64::from(limit(query.limit, 100, 1000)?);
    let Some(definition) = asset.partitions_definition() else {
        return Err(ApiError::bad_request(
            "not_partitioned",
            format!(
                "{} is not partitioned: it is materialized as a whole",
                asset.key
            ),
        ));
    };
    let start = match &query.cursor {
        None => 0,
        Some(cursor) => cursor.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_cursor",
                format!("cursor `{cursor}` is not one this endpoint returned (a partition index)"),
            )
        })?,
    };
    let dynamic = state.dynamic().await?;
    let keyspace = definition.keyspace(state.now_secs(), &dynamic);
    let status = state.status(&asset.key, Some(&keyspace)).await?;
    let end = (start + limit).min(keyspace.len());
    let partitions = (start.min(end)..end)
        .map(|index| {
            let window = keyspace.window(index);
            PartitionKey {
                key: keyspace.key(index).unwrap_or_default(),
                index,
                start: window.map(|w| window_time(definition, w.start)),
                end: window.map(|w| window_time(definition, w.end)),
                status: state_of(&status, index),
            }
        })
        .collect();
    Ok(Json(KeyPage {
        partitions,
        total: keyspace.len(),
        next: (end < keyspace.len()).then(|| end.to_string()),
    }))
}

/// One materialization.
#[derive(Serialize, ToSchema)]
pub(super) struct MaterializationEntry {
    /// Its event's id.
    event_id: i64,
    /// When it was committed (RFC 3339).
    at: String,
    /// The partition (null when unpartitioned).
    partition: Option<String>,
    /// The run that wrote it (null when reported from outside).
    run_id: Option<String>,
    /// Rows.
    rows: u64,
    /// Bytes stored.
    bytes: u64,
    /// How long its step took, when a run of this repository wrote it.
    duration_ms: Option<i64>,
    /// The code version it was computed with.
    code_version: String,
    /// Its data version.
    data_version: String,
    /// Metadata the asset reported.
    #[schema(value_type = Object)]
    metadata: BTreeMap<String, serde_json::Value>,
    /// The input partitions it consumed, with their data versions.
    #[schema(value_type = Vec<Object>)]
    inputs: serde_json::Value,
}

/// Materializations, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct MaterializationList {
    /// The materializations.
    materializations: Vec<MaterializationEntry>,
    /// Always null: ask a bigger `limit` for more.
    next: Option<String>,
}

/// Which materializations.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryQuery {
    /// Only this partition.
    partition: Option<String>,
    /// At most this many, 1 to 1000 (default 100).
    limit: Option<u32>,
}

async fn history(
    state: &AppState,
    key: &AssetKey,
    partition: Option<&str>,
    limit: u32,
) -> Result<Vec<MaterializationEntry>, ApiError> {
    let storage = &state.instance.storage;
    let records = storage
        .materialization_history(key, partition, limit)
        .await
        .map_err(ApiError::internal)?;
    let mut steps: BTreeMap<String, Vec<strata_storage::records::StepRecord>> = BTreeMap::new();
    let mut entries = Vec::with_capacity(records.len());
    for record in records {
        let Event::Materialization(m) = record.event else {
            continue;
        };
        let mut duration_ms = None;
        if let Some(run_id) = &m.run_id {
            if !steps.contains_key(run_id) {
                let found = storage.steps(run_id).await.map_err(ApiError::internal)?;
                steps.insert(run_id.clone(), found);
            }
            duration_ms = steps[run_id]
                .iter()
                .find(|s| s.asset == m.asset && s.partition == m.partition)
                .and_then(|s| Some(s.ended_at? - s.started_at));
        }
        entries.push(MaterializationEntry {
            event_id: record.id,
            at: rfc3339(record.timestamp),
            partition: m.partition,
            run_id: m.run_id,
            rows: m.rows,
            bytes: m.bytes,
            duration_ms,
            code_version: m.code_version,
            data_version: m.data_version,
            metadata: m.metadata,
            inputs: serde_json::to_value(&m.inputs).map_err(ApiError::internal)?,
        });
    }
    Ok(entries)
}

/// The asset's materialization history with metadata.
#[utoipa::path(get, operation_id = "list_materializations", path = "/assets/{group}/{name}/materializations", tag = "partitions",
    params(("group" = String, Path), ("name" = String, Path), HistoryQuery),
    responses((status = 200, body = MaterializationList), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(super) async fn materializations(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    Params(query): Params<HistoryQuery>,
) -> ApiResult<MaterializationList> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    let limit = limit(query.limit, 100, 1000)?;
    if let Some(partition) = &query.partition {
        known_partition(&state, asset, partition).await?;
    }
    Ok(Json(MaterializationList {
        materializations: history(&state, &asset.key, query.partition.as_deref(), limit).await?,
        next: None,
    }))
}

/// The index of `partition`, or 400 saying what the asset's keys look like.
async fn known_partition(
    state: &AppState,
    asset: &Asset,
    partition: &str,
) -> Result<u64, ApiError> {
    let Some(definition) = asset.partitions_definition() else {
        return Err(ApiError::bad_request(
            "not_partitioned",
            format!("{} is not partitioned; leave the partition out", asset.key),
        ));
    };
    let dynamic = state.dynamic().await?;
    let keyspace = definition.keyspace(state.now_secs(), &dynamic);
    keyspace.index_of(partition).ok_or_else(|| {
        let range = match keyspace.len() {
            0 => "it has no partitions now".to_string(),
            n => format!(
                "its partitions run from `{}` to `{}` ({})",
                keyspace.key(0).unwrap_or_default(),
                keyspace.key(n - 1).unwrap_or_default(),
                definition.describe()
            ),
        };
        ApiError::bad_request(
            "invalid_partition",
            format!("`{partition}` is not a partition of {}: {range}", asset.key),
        )
    })
}

/// One partition: its state, window, history and the upstream partitions it reads.
#[derive(Serialize, ToSchema)]
pub(super) struct PartitionDetail {
    /// `group/name`.
    asset: String,
    /// The key.
    key: String,
    /// Its index.
    index: u64,
    /// `materialized`, `missing`, `failed` or `in_progress`.
    status: &'static str,
    /// Its window's start, for time partitions.
    start: Option<String>,
    /// Its window's end, exclusive.
    end: Option<String>,
    /// Its materializations, newest first (at most 50).
    history: Vec<MaterializationEntry>,
    /// What it reads of each dependency.
    upstream: Vec<UpstreamPartitions>,
}

/// The partitions of one dependency a partition reads.
#[derive(Serialize, ToSchema)]
pub(super) struct UpstreamPartitions {
    /// The dependency.
    asset: String,
    /// The mapping, described.
    mapping: String,
    /// Its partitions read (empty for an unpartitioned dependency: all of it).
    partitions: Vec<String>,
    /// Required partitions the dependency does not have.
    nonexistent: Vec<String>,
}

/// One partition.
#[utoipa::path(get, operation_id = "get_partition", path = "/assets/{group}/{name}/partitions/{key}", tag = "partitions",
    params(("group" = String, Path), ("name" = String, Path),
           ("key" = String, Path, description = "The partition key (percent-encoded)")),
    responses((status = 200, body = PartitionDetail), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(super) async fn partition(
    State(state): State<AppState>,
    Path((group, name, key)): Path<(String, String, String)>,
) -> ApiResult<PartitionDetail> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    let index = known_partition(&state, asset, &key).await?;
    let definition = asset.partitions_definition().expect("checked partitioned");
    let dynamic = state.dynamic().await?;
    let now = state.now_secs();
    let keyspace = definition.keyspace(now, &dynamic);
    let status = state.status(&asset.key, Some(&keyspace)).await?;
    let window = keyspace.window(index);
    Ok(Json(PartitionDetail {
        asset: asset.key.to_string(),
        status: state_of(&status, index),
        start: window.map(|w| window_time(definition, w.start)),
        end: window.map(|w| window_time(definition, w.end)),
        history: history(&state, &asset.key, Some(&key), 50).await?,
        upstream: upstream(&repository, asset, &keyspace, index, now, &dynamic),
        key,
        index,
    }))
}

fn upstream(
    repository: &Repository,
    asset: &Asset,
    keyspace: &Keyspace<'_>,
    index: u64,
    now: i64,
    dynamic: &strata_core::partitions::definition::InMemoryDynamicPartitions,
) -> Vec<UpstreamPartitions> {
    let definition = asset.partitions_definition().expect("partitioned");
    let input = PartitionSubset::from_range(index..index + 1);
    asset
        .deps
        .iter()
        .map(|dep| {
            let (partitions, nonexistent) = match repository
                .asset(&dep.key)
                .and_then(|a| a.partitions_definition())
            {
                None => (Vec::new(), Vec::new()),
                Some(up) => {
                    let up_keys = up.keyspace(now, dynamic);
                    let result = dep.mapping.upstream_of(
                        Sides {
                            upstream: up,
                            upstream_keys: &up_keys,
                            downstream: definition,
                            downstream_keys: keyspace,
                        },
                        &input,
                    );
                    (
                        result
                            .partitions
                            .iter()
                            .filter_map(|i| up_keys.key(i))
                            .collect(),
                        result.nonexistent,
                    )
                }
            };
            UpstreamPartitions {
                asset: dep.key.to_string(),
                mapping: dep.mapping.describe(),
                partitions,
                nonexistent,
            }
        })
        .collect()
}

/// Keys to add to or remove from a dynamic partitions set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DynamicKeys {
    /// The keys.
    keys: Vec<String>,
}

/// A dynamic partitions set after a change.
#[derive(Serialize, ToSchema)]
pub(super) struct DynamicSet {
    /// The set.
    name: String,
    /// Keys that were added or removed (the others already were, or were not, in the set).
    changed: usize,
    /// Its keys now, in the order they were added.
    keys: Vec<String>,
}

async fn change_dynamic(
    state: &AppState,
    name: &str,
    keys: Vec<String>,
    adding: bool,
) -> ApiResult<DynamicSet> {
    if keys.is_empty() {
        return Err(ApiError::bad_request("invalid_body", "`keys` is empty"));
    }
    let changed = dynamic::change(
        state.instance.storage.as_ref(),
        &state.repository(),
        name,
        keys,
        adding,
        (state.clock)(),
    )
    .await
    .map_err(|e| match e {
        DynamicError::UnknownSet(message) => ApiError::not_found("unknown_partitions_set", message),
        DynamicError::InvalidKey(message) => ApiError::bad_request("invalid_partition", message),
        DynamicError::Storage(e) => ApiError::internal(e),
    })?;
    Ok(Json(DynamicSet {
        name: name.to_string(),
        changed: changed.changed,
        keys: changed.keys,
    }))
}

/// Adds keys to a dynamic partitions set.
#[utoipa::path(post, operation_id = "add_dynamic_partitions", path = "/partitions/dynamic/{name}", tag = "partitions",
    params(("name" = String, Path, description = "The dynamic partitions set")),
    request_body = DynamicKeys,
    responses((status = 200, body = DynamicSet), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(super) async fn add_dynamic(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<DynamicKeys>,
) -> ApiResult<DynamicSet> {
    change_dynamic(&state, &name, body.keys, true).await
}

/// Removes keys from a dynamic partitions set (their stored partitions are kept, by key).
#[utoipa::path(delete, operation_id = "remove_dynamic_partitions", path = "/partitions/dynamic/{name}", tag = "partitions",
    params(("name" = String, Path, description = "The dynamic partitions set")),
    request_body = DynamicKeys,
    responses((status = 200, body = DynamicSet), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(super) async fn remove_dynamic(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<DynamicKeys>,
) -> ApiResult<DynamicSet> {
    change_dynamic(&state, &name, body.keys, false).await
}
