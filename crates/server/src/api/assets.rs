//! Assets: the catalog (with filters), one asset's declaration, and the lineage graph.

use std::collections::{BTreeMap, BTreeSet};

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use strata_core::duration::format_duration;
use strata_core::key::AssetKey;
use strata_core::model::{
    Asset, BackfillPolicy, CheckKind, FreshnessPolicy, Literal, Repository, Severity,
};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody, Params};
use super::state::{AppState, find_asset, select};

/// One asset in a listing.
#[derive(Serialize, ToSchema)]
pub(super) struct AssetSummary {
    /// `group/name`.
    key: String,
    /// Its group.
    group: String,
    /// `sql`, `command`, `source` or `rust`.
    kind: String,
    /// What it is.
    description: Option<String>,
    /// Its partitions definition, described (`daily from 2013-01-01 …`); null when unpartitioned.
    partitions: Option<String>,
    /// Upstream assets.
    deps: Vec<String>,
    /// Tags.
    tags: BTreeMap<String, String>,
    /// The automation condition as written.
    automation: Option<String>,
}

impl AssetSummary {
    fn of(asset: &Asset) -> Self {
        Self {
            key: asset.key.to_string(),
            group: asset.key.group().to_string(),
            kind: asset.compute.kind().to_string(),
            description: asset.description.clone(),
            partitions: asset.partitions_definition().map(|p| p.describe()),
            deps: asset.deps.iter().map(|d| d.key.to_string()).collect(),
            tags: asset.tags.clone(),
            automation: asset.automation.as_ref().map(|a| a.source.clone()),
        }
    }
}

/// Assets, upstream first.
#[derive(Serialize, ToSchema)]
pub(super) struct AssetList {
    /// The assets.
    assets: Vec<AssetSummary>,
    /// Always null: the catalog is one page.
    next: Option<String>,
}

/// Filters of the asset list; all given filters must hold.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AssetFilter {
    /// Only this group.
    group: Option<String>,
    /// Only assets with this tag: `key` or `key=value`.
    tag: Option<String>,
    /// Only this kind (`sql`, `command`, `source`, `rust`, or a declared kind).
    kind: Option<String>,
    /// Only assets with at least one partition in this state: `materialized`, `missing`,
    /// `failed`, `in_progress` or `stale`.
    status: Option<String>,
    /// Only assets whose key or description contains this text (case-insensitive).
    q: Option<String>,
}

const STATUSES: [&str; 5] = ["materialized", "missing", "failed", "in_progress", "stale"];

/// The catalog.
#[utoipa::path(get, operation_id = "list_assets", path = "/assets", tag = "assets", params(AssetFilter),
    responses((status = 200, body = AssetList), (status = 400, body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<AppState>,
    Params(filter): Params<AssetFilter>,
) -> ApiResult<AssetList> {
    let repository = state.repository();
    if let Some(status) = &filter.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_status",
            format!("status `{status}` is not one of {}", STATUSES.join(", ")),
        ));
    }
    let text = filter.q.as_deref().map(str::to_lowercase);
    let (tag_key, tag_value) = match filter.tag.as_deref().map(|t| t.split_once('=')) {
        Some(Some((k, v))) => (Some(k.to_string()), Some(v.to_string())),
        Some(None) => (filter.tag.clone(), None),
        None => (None, None),
    };
    let mut keys: Vec<AssetKey> = repository
        .topological_order()
        .into_iter()
        .filter(|key| {
            let asset = repository.asset(key).expect("ordered keys are assets");
            filter.group.as_deref().is_none_or(|g| key.group() == g)
                && filter
                    .kind
                    .as_deref()
                    .is_none_or(|k| asset.compute.kind() == k || asset.kinds.contains(k))
                && tag_key.as_deref().is_none_or(|k| {
                    asset
                        .tags
                        .get(k)
                        .is_some_and(|v| tag_value.as_deref().is_none_or(|w| v == w))
                })
                && text.as_deref().is_none_or(|t| {
                    key.to_string().to_lowercase().contains(t)
                        || asset
                            .description
                            .as_deref()
                            .is_some_and(|d| d.to_lowercase().contains(t))
                })
        })
        .collect();
    if let Some(status) = &filter.status {
        let having = with_status(&state, &repository, &keys, status).await?;
        keys.retain(|k| having.contains(k));
    }
    Ok(Json(AssetList {
        assets: keys
            .iter()
            .filter_map(|k| repository.asset(k))
            .map(AssetSummary::of)
            .collect(),
        next: None,
    }))
}

/// Which of `keys` have at least one partition in `status`.
async fn with_status(
    state: &AppState,
    repository: &Repository,
    keys: &[AssetKey],
    status: &str,
) -> Result<BTreeSet<AssetKey>, ApiError> {
    let dynamic = state.dynamic().await?;
    let keyspaces = repository.keyspaces(state.now_secs(), &dynamic);
    if status == "stale" {
        let stale = state.stale(repository, &keyspaces).await?;
        return Ok(stale
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(k, _)| k.clone())
            .collect());
    }
    let mut having = BTreeSet::new();
    for key in keys {
        let partitions = state.status(key, keyspaces.get(key)).await?;
        let subset = match status {
            "materialized" => partitions.materialized.clone(),
            "missing" => partitions.missing(),
            "failed" => partitions.failed.clone(),
            _ => partitions.in_progress.clone(),
        };
        if !subset.is_empty() {
            having.insert(key.clone());
        }
    }
    Ok(having)
}

/// One asset's declaration.
#[derive(Serialize, ToSchema)]
pub(super) struct AssetDetail {
    #[serde(flatten)]
    summary: AssetSummary,
    /// The declaring file, relative to the repository root.
    path: String,
    /// Owners.
    owners: Vec<String>,
    /// The code version now (declared, else derived from what affects the output).
    code_version: Option<String>,
    /// Why the code version is unknown, when it is.
    code_version_error: Option<String>,
    /// Upstream assets with the partition mapping in effect.
    upstream: Vec<Dependency>,
    /// Downstream assets with their mapping from this one.
    downstream: Vec<Dependency>,
    /// The freshness policy, described.
    freshness: Option<String>,
    /// Quality checks.
    checks: Vec<Check>,
    /// The IO manager storing it.
    io_manager: String,
    /// The concurrency pool, if any.
    pool: Option<String>,
    /// `per_partition` or `single_run`.
    backfill: String,
}

/// An edge of the graph with its partition mapping.
#[derive(Serialize, ToSchema)]
pub(super) struct Dependency {
    /// The other asset.
    asset: String,
    /// The mapping in effect, described.
    mapping: String,
    /// Whether the mapping was declared (else inferred as Dagster would).
    declared: bool,
}

/// A quality check.
#[derive(Serialize, ToSchema)]
pub(super) struct Check {
    /// Its name.
    name: String,
    /// What it verifies.
    description: String,
    /// `warn` or `error`.
    severity: String,
    /// Whether a failure stops downstream partitions in the same run.
    blocking: bool,
}

/// One asset.
#[utoipa::path(get, operation_id = "get_asset", path = "/assets/{group}/{name}", tag = "assets",
    params(("group" = String, Path, description = "The asset's group"),
           ("name" = String, Path, description = "The asset's name")),
    responses((status = 200, body = AssetDetail), (status = 404, body = ErrorBody)))]
pub(super) async fn detail(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult<AssetDetail> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    let (code_version, code_version_error) =
        match strata_engine::versions::asset_code_version(&state.instance.root, asset) {
            Ok(version) => (Some(version), None),
            Err(error) => (None, Some(error)),
        };
    let downstream = repository
        .dependents(&asset.key)
        .map(|(down, dep)| Dependency {
            asset: down.key.to_string(),
            mapping: dep.mapping.describe(),
            declared: dep.mapping_spec.is_some(),
        })
        .collect();
    Ok(Json(AssetDetail {
        summary: AssetSummary::of(asset),
        path: asset.path.display().to_string(),
        owners: asset.owners.clone(),
        code_version,
        code_version_error,
        upstream: asset
            .deps
            .iter()
            .map(|d| Dependency {
                asset: d.key.to_string(),
                mapping: d.mapping.describe(),
                declared: d.mapping_spec.is_some(),
            })
            .collect(),
        downstream,
        freshness: asset.freshness.as_ref().map(describe_freshness),
        checks: asset
            .checks
            .iter()
            .map(|c| Check {
                name: c.name.clone(),
                description: describe_check(&c.kind),
                severity: match c.severity {
                    Severity::Warn => "warn",
                    Severity::Error => "error",
                }
                .to_string(),
                blocking: c.blocking,
            })
            .collect(),
        io_manager: asset.io_manager.clone(),
        pool: asset.pool.clone(),
        backfill: match asset.backfill {
            BackfillPolicy::PerPartition => "per_partition",
            BackfillPolicy::SingleRun => "single_run",
        }
        .to_string(),
    }))
}

fn describe_freshness(policy: &FreshnessPolicy) -> String {
    let hours = |d: &std::time::Duration| format_duration(*d);
    match policy {
        FreshnessPolicy::MaxLag {
            max_lag,
            warn_lag,
            cron,
        } => {
            let mut text = format!("data at most {} old", hours(max_lag));
            if let Some(warn) = warn_lag {
                text.push_str(&format!(" (warn after {})", hours(warn)));
            }
            if let Some(cron) = cron {
                text.push_str(&format!(
                    ", evaluated at `{}` ({})",
                    cron.text, cron.timezone
                ));
            }
            text
        }
        FreshnessPolicy::Deadline {
            deadline,
            lower_bound,
        } => format!(
            "by each `{}` ({}), materialized within the {} before",
            deadline.text,
            deadline.timezone,
            hours(lower_bound)
        ),
        FreshnessPolicy::PartitionLag {
            partition_lag,
            warn_partition_lag,
            lookback,
        } => {
            let mut text = format!(
                "each partition exists {} after its window ends, for windows ended within {}",
                hours(partition_lag),
                hours(lookback)
            );
            if let Some(warn) = warn_partition_lag {
                text.push_str(&format!(" (warn after {})", hours(warn)));
            }
            text
        }
    }
}

fn describe_check(kind: &CheckKind) -> String {
    match kind {
        CheckKind::NotNull(columns) => format!("no nulls in {}", columns.join(", ")),
        CheckKind::Unique(columns) => format!("unique {}", columns.join(", ")),
        CheckKind::AcceptedValues { column, values } => {
            let values: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Literal::String(s) => format!("'{s}'"),
                    Literal::Integer(i) => i.to_string(),
                    Literal::Float(f) => f.to_string(),
                    Literal::Boolean(b) => b.to_string(),
                })
                .collect();
            format!("{column} in {}", values.join(", "))
        }
        CheckKind::RowCount { min, max } => match (min, max) {
            (Some(min), Some(max)) => format!("between {min} and {max} rows"),
            (Some(min), None) => format!("at least {min} rows"),
            (None, Some(max)) => format!("at most {max} rows"),
            (None, None) => "any number of rows".to_string(),
        },
        CheckKind::Sql { query } => format!("no rows from `{query}`"),
    }
}

/// The lineage graph (or a selection of it).
#[derive(Serialize, ToSchema)]
pub(super) struct Lineage {
    /// Assets, upstream first.
    nodes: Vec<LineageNode>,
    /// Dependencies between selected assets.
    edges: Vec<LineageEdge>,
}

/// A node of the lineage graph.
#[derive(Serialize, ToSchema)]
pub(super) struct LineageNode {
    /// `group/name`.
    key: String,
    /// Its group.
    group: String,
    /// Its kind.
    kind: String,
    /// Its partitions definition, described.
    partitions: Option<String>,
}

/// An edge of the lineage graph: `from` is read by `to`.
#[derive(Serialize, ToSchema)]
pub(super) struct LineageEdge {
    /// The upstream asset.
    from: String,
    /// The downstream asset.
    to: String,
    /// The partition mapping, described.
    mapping: String,
}

/// Which part of the graph.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LineageQuery {
    /// An asset selection (`*key`, `key+`, `group:flights`, …); every asset when absent.
    selection: Option<String>,
    /// With `selection`, also this many levels up and down from it.
    depth: Option<u32>,
}

/// The lineage graph.
#[utoipa::path(get, operation_id = "get_lineage", path = "/lineage", tag = "assets", params(LineageQuery),
    responses((status = 200, body = Lineage), (status = 400, body = ErrorBody)))]
pub(super) async fn lineage(
    State(state): State<AppState>,
    Params(query): Params<LineageQuery>,
) -> Result<Response, ApiError> {
    // The graph depends on the definitions only: answers are kept per generation.
    let generation = state.generation();
    let cache_key = (generation, query.selection.clone(), query.depth);
    if let Some(body) = state.lineage.get(&cache_key) {
        return Ok(json_response(body));
    }
    let repository = state.repository();
    let graph = lineage_of(&repository, &query)?;
    let body = Bytes::from(serde_json::to_vec(&graph).map_err(ApiError::internal)?);
    state.lineage.put(cache_key, body.clone());
    Ok(json_response(body))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Lineage answers by definitions generation, selection and depth.
#[derive(Debug, Default)]
pub struct LineageCache(Mutex<HashMap<LineageKey, Bytes>>);

type LineageKey = (u64, Option<String>, Option<u32>);

/// Answers kept at most (a UI asks for a few selections; old generations are dropped first).
const LINEAGE_CACHED: usize = 32;

impl LineageCache {
    fn get(&self, key: &LineageKey) -> Option<Bytes> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn put(&self, key: LineageKey, body: Bytes) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(generation, _, _), _| *generation == key.0);
        if cache.len() >= LINEAGE_CACHED {
            cache.clear();
        }
        cache.insert(key, body);
    }
}

fn lineage_of(repository: &Repository, query: &LineageQuery) -> Result<Lineage, ApiError> {
    let mut keys = select(repository, query.selection.as_deref().unwrap_or("*"))?;
    for _ in 0..query.depth.unwrap_or(0).min(1000) {
        let mut next = keys.clone();
        for key in &keys {
            let asset = repository.asset(key).expect("selected keys are assets");
            next.extend(asset.deps.iter().map(|d| d.key.clone()));
            next.extend(repository.dependents(key).map(|(down, _)| down.key.clone()));
        }
        if next.len() == keys.len() {
            break;
        }
        keys = next;
    }
    let mut graph = Lineage {
        nodes: Vec::with_capacity(keys.len()),
        edges: Vec::new(),
    };
    for key in repository.topological_order() {
        if !keys.contains(&key) {
            continue;
        }
        let asset = repository.asset(&key).expect("graph nodes are assets");
        for dep in asset.deps.iter().filter(|d| keys.contains(&d.key)) {
            graph.edges.push(LineageEdge {
                from: dep.key.to_string(),
                to: key.to_string(),
                mapping: dep.mapping.describe(),
            });
        }
        graph.nodes.push(LineageNode {
            group: key.group().to_string(),
            kind: asset.compute.kind().to_string(),
            partitions: asset.partitions_definition().map(|p| p.describe()),
            key: key.to_string(),
        });
    }
    Ok(graph)
}
