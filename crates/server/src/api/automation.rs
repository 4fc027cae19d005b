//! Automation: the daemon's ticks, why an asset (partition) was or was not requested, and
//! freshness per asset — the same documents as the CLI's `--json`.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strata_core::automation::evaluate::Explanation;
use strata_engine::automation::facts::statuses;
use strata_engine::automation::freshness::evaluate_all;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody, Params, limit};
use super::state::{AppState, find_asset, rfc3339};
use crate::commands::automation::{View, freshness_json, tick_record_json, why_json};

/// Ticks, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct TickList {
    /// Each tick: `tick`, `now`, `duration_ms`, `evaluated`, `skipped`, `requested`
    /// (`[{asset, partitions}]`), `runs`, `launched`.
    #[schema(value_type = Vec<Object>)]
    ticks: Vec<Value>,
    /// Always null: ask a bigger `limit` for more.
    next: Option<String>,
}

/// How many ticks.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct TickQuery {
    /// At most this many, 1 to 1000 (default 50).
    limit: Option<u32>,
}

/// Recent automation ticks with timings and what they requested.
#[utoipa::path(get, operation_id = "list_ticks", path = "/automation/ticks", tag = "automation", params(TickQuery),
    responses((status = 200, body = TickList), (status = 400, body = ErrorBody)))]
pub(super) async fn ticks(
    State(state): State<AppState>,
    Params(query): Params<TickQuery>,
) -> ApiResult<TickList> {
    let limit = limit(query.limit, 50, 1000)?;
    let ticks = state
        .instance
        .storage
        .ticks(limit)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(TickList {
        ticks: ticks.iter().map(tick_record_json).collect(),
        next: None,
    }))
}

/// Which evaluation.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct WhyQuery {
    /// Explain this partition.
    partition: Option<String>,
    /// At this tick (default: the latest that evaluated the asset).
    tick: Option<i64>,
}

/// An explanation: `asset`, `condition`, `tick`, `now`, `partition`, `requested` (key ranges)
/// and `explanation`, the tree of sub-conditions with each node's `label`, `meaning`,
/// `candidates`, `true` subsets, `since` and `children`.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub(super) struct Why(Value);

/// Why an asset's partitions were or were not requested at a tick.
#[utoipa::path(get, operation_id = "explain_asset", path = "/automation/assets/{group}/{name}", tag = "automation",
    params(("group" = String, Path), ("name" = String, Path), WhyQuery),
    responses((status = 200, body = Why), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(super) async fn why(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    Params(query): Params<WhyQuery>,
) -> ApiResult<Why> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    let Some(automation) = &asset.automation else {
        return Err(ApiError::bad_request(
            "no_automation",
            format!("{} has no automation condition", asset.key),
        ));
    };
    let record = state
        .instance
        .storage
        .evaluation(&asset.key, query.tick)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::not_found(
                "not_evaluated",
                format!(
                    "{} has not been evaluated{}; the daemon evaluates it at its next tick",
                    asset.key,
                    query
                        .tick
                        .map(|t| format!(" at or before tick {t}"))
                        .unwrap_or_default()
                ),
            )
        })?;
    let explanation: Explanation =
        serde_json::from_str(&record.explanation).map_err(ApiError::internal)?;
    let dynamic = state.dynamic().await?;
    let keyspaces = repository.keyspaces(record.now.div_euclid(1000), &dynamic);
    match (&query.partition, keyspaces.get(&asset.key)) {
        (Some(key), Some(keys)) if keys.index_of(key).is_none() => {
            return Err(ApiError::bad_request(
                "invalid_partition",
                format!(
                    "`{key}` is not a partition of {} at tick {}",
                    asset.key, record.tick
                ),
            ));
        }
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "not_partitioned",
                format!("{} is not partitioned; leave `partition` out", asset.key),
            ));
        }
        _ => {}
    }
    let view = View {
        keyspaces: &keyspaces,
        root: &asset.key,
    };
    Ok(Json(Why(why_json(
        &view,
        &automation.source,
        &record,
        query.partition.as_deref(),
        &explanation,
    ))))
}

/// Freshness of every asset with a policy.
#[derive(Serialize, ToSchema)]
pub(super) struct FreshnessList {
    /// "Now" of the evaluation.
    now: String,
    /// Per asset: `asset`, `state` (`fresh`, `warn`, `fail`, `unknown`), `evaluated_at`,
    /// `data_time`, `lag_seconds`, `overdue_seconds`, `fresh_until`, `missing` (late
    /// partitions), `reason`, `since`.
    #[schema(value_type = Vec<Object>)]
    assets: Vec<Value>,
    /// Always null.
    next: Option<String>,
}

/// Freshness now, per asset with a policy.
#[utoipa::path(get, operation_id = "list_freshness", path = "/freshness", tag = "automation",
    responses((status = 200, body = FreshnessList)))]
pub(super) async fn freshness(State(state): State<AppState>) -> ApiResult<FreshnessList> {
    let repository = state.repository();
    let now_ms = (state.clock)();
    let dynamic = state.dynamic().await?;
    let keyspaces = repository.keyspaces(now_ms.div_euclid(1000), &dynamic);
    let statuses = statuses(&state.instance, &repository, &keyspaces)
        .await
        .map_err(ApiError::internal)?;
    let results = evaluate_all(&state.instance, &repository, &keyspaces, &statuses, now_ms)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(FreshnessList {
        now: rfc3339(now_ms),
        assets: results.iter().map(freshness_json).collect(),
        next: None,
    }))
}
