//! Lineage below the asset graph: one asset's column lineage, and one partition's lineage up
//! and down the graph (the graph itself is `GET /lineage`, in `assets`).

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use strata_engine::lineage::assets::{AssetColumns, ColumnLineageError, asset_columns};
use strata_engine::lineage::partitions::{
    Direction, PartitionLineage, PartitionLineageError, partition_lineage,
};
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult, ErrorBody, Params};
use super::state::{AppState, find_asset};

/// An asset's columns, each with the upstream columns it comes from and how, and the
/// upstream columns that decide its rows. SQL assets are planned against their upstreams'
/// schemas (known from their latest materializations); commands answer what they reported.
/// When an SQL asset's columns cannot be worked out yet (an upstream was never materialized)
/// or at all (a construct column lineage does not follow), the answer is still 200, with empty
/// lists and `unavailable` saying why — a state of the asset, not a mistake of the caller.
#[utoipa::path(get, operation_id = "get_column_lineage", path = "/assets/{group}/{name}/lineage/columns", tag = "assets",
    params(("group" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = AssetColumns), (status = 404, body = ErrorBody)))]
pub(super) async fn columns(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult<AssetColumns> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    match asset_columns(&repository, state.instance.storage.as_ref(), &asset.key).await {
        Ok(columns) => Ok(Json(columns)),
        Err(e @ ColumnLineageError::UnknownAsset(_)) => {
            Err(ApiError::not_found("unknown_asset", e.to_string()))
        }
        Err(
            e @ (ColumnLineageError::UnknownSchema { .. } | ColumnLineageError::Lineage { .. }),
        ) => Ok(Json(AssetColumns::unavailable(
            asset.key.clone(),
            e.to_string(),
        ))),
        Err(ColumnLineageError::Storage(e)) => Err(ApiError::internal(e)),
    }
}

/// Which partition, and which way.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct PartitionLineageQuery {
    /// The partition key; leave it out for an unpartitioned asset.
    partition: Option<String>,
    /// `upstream` (what it was made from), `downstream` (what was made from it) or `both`
    /// (the default).
    direction: Option<String>,
}

/// A materialized partition's lineage: the upstream partitions and data versions it was made
/// from, recursively, and the downstream partitions made from it — as each materialization
/// recorded them.
#[utoipa::path(get, operation_id = "get_partition_lineage", path = "/assets/{group}/{name}/lineage/partitions", tag = "partitions",
    params(("group" = String, Path), ("name" = String, Path), PartitionLineageQuery),
    responses((status = 200, body = PartitionLineage), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "Unknown asset, or the partition is not materialized")))]
pub(super) async fn partitions(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    Params(query): Params<PartitionLineageQuery>,
) -> ApiResult<PartitionLineage> {
    let repository = state.repository();
    let asset = find_asset(&repository, &group, &name)?;
    let direction = match query.direction.as_deref() {
        None | Some("both") => Direction::Both,
        Some("upstream") => Direction::Upstream,
        Some("downstream") => Direction::Downstream,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_direction",
                format!("direction `{other}`: expected `upstream`, `downstream` or `both`"),
            ));
        }
    };
    let dynamic = state.dynamic().await?;
    let keyspaces = repository.keyspaces(state.now_secs(), &dynamic);
    partition_lineage(
        &repository,
        state.instance.storage.as_ref(),
        &keyspaces,
        &asset.key,
        query.partition.as_deref(),
        direction,
    )
    .await
    .map(Json)
    .map_err(|e| match e {
        PartitionLineageError::UnknownAsset(_) => {
            ApiError::not_found("unknown_asset", e.to_string())
        }
        PartitionLineageError::Partition(_) => {
            ApiError::bad_request("invalid_partition", e.to_string())
        }
        PartitionLineageError::NotMaterialized { .. } => {
            ApiError::not_found("not_materialized", e.to_string())
        }
        PartitionLineageError::Storage(e) => ApiError::internal(e),
    })
}
