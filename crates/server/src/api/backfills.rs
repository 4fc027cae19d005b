//! Backfills: created from a selection and a partition set (with a dry run that says what
//! would run), listed with progress, cancelled. A created backfill runs in this process.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strata_core::key::AssetKey;
use strata_engine::backfill;
use strata_engine::request::{PartitionSet, RequestError, SecondDimension, resolve_targets};
use strata_storage::event::BackfillStatus;
use strata_storage::records::BackfillRecord;
use utoipa::{IntoParams, ToSchema};

use super::costs::CostEstimate;
use super::error::{ApiError, ApiResult, Body, ErrorBody, Params, limit};
use super::runs::Run;
use super::state::{AppState, rfc3339, select};
use crate::serve::launcher::BackfillLaunch;

/// The partitions a backfill covers, the same for every selected partitioned asset.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Partitions {
    /// An inclusive range: keys when the selected assets share one definition, else dates or
    /// times selecting the windows that start within it.
    Range {
        /// The first partition.
        from: String,
        /// The last partition, inclusive.
        to: String,
    },
    /// These keys.
    Keys {
        /// The keys.
        keys: Vec<String>,
    },
    /// Partitions never materialized.
    Missing,
    /// Partitions whose latest step failed.
    Failed,
    /// Materialized partitions that are stale.
    Stale,
}

/// A backfill request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewBackfill {
    /// An asset selection (`flights/daily_delays`, `*stats/report`, `group:flights`, …).
    selection: String,
    /// Which partitions (may be left out when every selected asset is unpartitioned).
    partitions: Option<Partitions>,
    /// For two-dimensional assets: only these keys of the other (non-time) dimension, so a
    /// range selects "these days × these keys".
    dimension_keys: Option<Vec<String>>,
    /// Only say what would run.
    #[serde(default)]
    dry_run: bool,
    /// Steps at once (default: the project's executor concurrency).
    concurrency: Option<u32>,
}

/// What a backfill covers of one asset.
#[derive(Serialize, ToSchema)]
pub(super) struct TargetSummary {
    /// The asset.
    asset: String,
    /// Partitions (1 for an unpartitioned asset).
    partitions: u64,
    /// Steps that run them (a single-run asset computes a range per step).
    steps: u64,
    /// The partitions as inclusive key ranges (empty when unpartitioned).
    ranges: Vec<KeyRange>,
    /// Its estimated cost, from the asset's cost per partition so far (null when it never
    /// ran).
    estimated_cost: Option<f64>,
}

/// What a backfill requests of one asset, as recorded.
#[derive(Serialize, ToSchema)]
pub(super) struct RequestedRanges {
    /// The asset.
    asset: String,
    /// Its partitions as inclusive key ranges (empty when unpartitioned).
    ranges: Vec<KeyRange>,
}

/// Keys `first..=last`.
#[derive(Serialize, ToSchema)]
pub(super) struct KeyRange {
    /// The first key.
    first: String,
    /// The last key.
    last: String,
}

/// A backfill as created, or as it would be.
#[derive(Serialize, ToSchema)]
pub(super) struct Created {
    /// The backfill (null for a dry run, or when nothing is selected).
    backfill_id: Option<String>,
    /// Whether nothing was created.
    dry_run: bool,
    /// Asset partitions it covers.
    partitions: u64,
    /// Steps.
    steps: u64,
    /// Runs it launches (one: a backfill runs as one run).
    runs: u64,
    /// The run launched (null for a dry run).
    run_id: Option<String>,
    /// Per asset.
    targets: Vec<TargetSummary>,
    /// What it is estimated to cost.
    estimated_cost: CostEstimate,
}

fn request_error(error: RequestError) -> ApiError {
    match error {
        RequestError::Invalid(message) => ApiError::bad_request("invalid_partitions", message),
        RequestError::Unspecified(key) => ApiError::bad_request(
            "missing_partitions",
            format!(
                "{key} is partitioned: give `partitions` ({{\"kind\": \"range\", \"from\": …, \
                 \"to\": …}}, keys, missing, failed or stale)"
            ),
        ),
        RequestError::Internal(message) => ApiError::internal(message),
    }
}

/// Creates a backfill (or, with `dry_run`, says what it would run) and launches it.
#[utoipa::path(post, operation_id = "create_backfill", path = "/backfills", tag = "backfills", request_body = NewBackfill,
    responses((status = 201, body = Created, description = "Created and launched"),
              (status = 200, body = Created, description = "Dry run, or nothing to do"),
              (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
pub(super) async fn create(
    State(state): State<AppState>,
    Body(body): Body<NewBackfill>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let repository = state.repository();
    let keys = select(&repository, &body.selection)?;
    if body.concurrency == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "concurrency must be at least 1",
        ));
    }
    let set = match body.partitions {
        None => PartitionSet::Unspecified,
        Some(Partitions::Range { from, to }) => PartitionSet::Range { from, to },
        Some(Partitions::Keys { keys }) if keys.is_empty() => {
            return Err(ApiError::bad_request(
                "invalid_partitions",
                "`keys` is empty: name at least one partition key",
            ));
        }
        Some(Partitions::Keys { keys }) => PartitionSet::Keys(keys),
        Some(Partitions::Missing) => PartitionSet::Missing,
        Some(Partitions::Failed) => PartitionSet::Failed,
        Some(Partitions::Stale) => PartitionSet::Stale,
    };
    let second = body.dimension_keys.map(|keys| SecondDimension { keys });
    let dynamic = state.dynamic().await?;
    let keyspaces = repository.keyspaces(state.now_secs(), &dynamic);
    let targets = resolve_targets(
        &repository,
        &state.instance,
        &keys,
        &set,
        second.as_ref(),
        &keyspaces,
    )
    .await
    .map_err(request_error)?;
    let steps = backfill::steps(&repository, targets.clone(), &keyspaces);
    let mut step_counts: BTreeMap<&AssetKey, u64> = BTreeMap::new();
    for step in &steps {
        *step_counts.entry(&step.asset).or_default() += 1;
    }
    let planned: Vec<(AssetKey, u64)> = targets
        .iter()
        .map(|(asset, target)| (asset.clone(), backfill::target_count(target)))
        .collect();
    let estimate = strata_engine::costs::estimate(state.instance.storage.as_ref(), &planned)
        .await
        .map_err(ApiError::internal)?;
    let per_asset: BTreeMap<&AssetKey, Option<f64>> = estimate
        .per_asset
        .iter()
        .map(|(asset, _, amount)| (asset, *amount))
        .collect();
    let summaries: Vec<TargetSummary> = backfill::records(&targets, &keyspaces)
        .into_iter()
        .zip(targets.values())
        .map(|(record, target)| TargetSummary {
            estimated_cost: per_asset.get(&record.asset).copied().flatten(),
            asset: record.asset.to_string(),
            partitions: backfill::target_count(target),
            steps: step_counts.get(&record.asset).copied().unwrap_or(0),
            ranges: record
                .ranges
                .into_iter()
                .map(|r| KeyRange {
                    first: r.first,
                    last: r.last,
                })
                .collect(),
        })
        .collect();
    let partitions = backfill::partition_count(&targets);
    let mut created = Created {
        backfill_id: None,
        dry_run: body.dry_run,
        partitions,
        steps: steps.len() as u64,
        runs: u64::from(!steps.is_empty()),
        run_id: None,
        targets: summaries,
        estimated_cost: CostEstimate::new(&estimate, &repository.project().rate_card.currency),
    };
    if body.dry_run || targets.is_empty() {
        return Ok((StatusCode::OK, Json(created)));
    }
    let executor = state.executor();
    let description = set.describe();
    let (backfill_id, _) = backfill::create(
        &executor,
        &body.selection,
        &description,
        &targets,
        &keyspaces,
    )
    .await
    .map_err(ApiError::internal)?;
    let run_id = state
        .launcher
        .backfill(BackfillLaunch {
            executor,
            backfill_id: backfill_id.clone(),
            steps,
            concurrency: body.concurrency.map(|c| c as usize),
        })
        .await
        .map_err(ApiError::internal)?;
    created.backfill_id = Some(backfill_id);
    created.run_id = Some(run_id);
    Ok((StatusCode::CREATED, Json(created)))
}

/// A backfill with its progress.
#[derive(Serialize, ToSchema)]
pub(super) struct Backfill {
    /// Its id.
    backfill_id: String,
    /// `requested` (running or resumable), `completed`, `failed` or `canceled`.
    status: String,
    /// The selection.
    selection: String,
    /// The partition set, as written.
    partitions: String,
    /// Asset partitions requested.
    requested: u64,
    /// Committed so far.
    completed: u64,
    /// Failed so far.
    failed: u64,
    /// When it was created.
    created_at: String,
    /// When it ended.
    ended_at: Option<String>,
}

impl From<&BackfillRecord> for Backfill {
    fn from(b: &BackfillRecord) -> Self {
        Self {
            backfill_id: b.backfill_id.clone(),
            status: b.status.as_str().to_string(),
            selection: b.selection.clone(),
            partitions: b.partitions.clone(),
            requested: b.requested,
            completed: b.completed,
            failed: b.failed,
            created_at: rfc3339(b.created_at),
            ended_at: b.ended_at.map(rfc3339),
        }
    }
}

/// Backfills, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct BackfillList {
    /// The backfills.
    backfills: Vec<Backfill>,
    /// Always null: ask a bigger `limit` for more.
    next: Option<String>,
}

/// How many.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct BackfillQuery {
    /// At most this many, 1 to 1000 (default 50).
    limit: Option<u32>,
}

/// The backfill list.
#[utoipa::path(get, operation_id = "list_backfills", path = "/backfills", tag = "backfills", params(BackfillQuery),
    responses((status = 200, body = BackfillList), (status = 400, body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<AppState>,
    Params(query): Params<BackfillQuery>,
) -> ApiResult<BackfillList> {
    let limit = limit(query.limit, 50, 1000)?;
    let backfills = state
        .instance
        .storage
        .backfills(limit)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(BackfillList {
        backfills: backfills.iter().map(Backfill::from).collect(),
        next: None,
    }))
}

/// One backfill with what it requests and its runs.
#[derive(Serialize, ToSchema)]
pub(super) struct BackfillDetail {
    /// The backfill.
    backfill: Backfill,
    /// What it requests, per asset, as key ranges.
    targets: Vec<RequestedRanges>,
    /// Its runs, newest first.
    runs: Vec<Run>,
}

async fn find(state: &AppState, backfill_id: &str) -> Result<BackfillRecord, ApiError> {
    state
        .instance
        .storage
        .backfill(backfill_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::not_found("unknown_backfill", format!("no backfill `{backfill_id}`"))
        })
}

/// One backfill.
#[utoipa::path(get, operation_id = "get_backfill", path = "/backfills/{backfill_id}", tag = "backfills",
    params(("backfill_id" = String, Path)),
    responses((status = 200, body = BackfillDetail), (status = 404, body = ErrorBody)))]
pub(super) async fn detail(
    State(state): State<AppState>,
    Path(backfill_id): Path<String>,
) -> ApiResult<BackfillDetail> {
    let record = find(&state, &backfill_id).await?;
    let runs = backfill::runs(state.instance.storage.as_ref(), &backfill_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(BackfillDetail {
        backfill: Backfill::from(&record),
        targets: record
            .targets
            .iter()
            .map(|t| RequestedRanges {
                asset: t.asset.to_string(),
                ranges: t
                    .ranges
                    .iter()
                    .map(|r| KeyRange {
                        first: r.first.clone(),
                        last: r.last.clone(),
                    })
                    .collect(),
            })
            .collect(),
        runs: runs.into_iter().map(Run::from).collect(),
    }))
}

/// Cancels a backfill: it is marked canceled and its unfinished runs are asked to stop.
#[utoipa::path(post, operation_id = "cancel_backfill", path = "/backfills/{backfill_id}/cancel", tag = "backfills",
    params(("backfill_id" = String, Path)),
    responses((status = 200, body = Backfill), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(super) async fn cancel(
    State(state): State<AppState>,
    Path(backfill_id): Path<String>,
) -> ApiResult<Backfill> {
    let record = find(&state, &backfill_id).await?;
    if record.status != BackfillStatus::Requested {
        return Err(ApiError::conflict(
            "backfill_ended",
            format!(
                "backfill {backfill_id} is already {}; only a requested backfill can be canceled",
                record.status.as_str()
            ),
        ));
    }
    backfill::cancel(
        state.instance.storage.as_ref(),
        &backfill_id,
        (state.clock)(),
    )
    .await
    .map_err(ApiError::internal)?;
    let record = find(&state, &backfill_id).await?;
    Ok(Json(Backfill::from(&record)))
}
