//! Costs: recorded step costs and accrued storage, grouped and summed — the same report as
//! `strata costs --json` — and the estimate a backfill's dry run shows.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use strata_core::cost::{Amounts, CostRow, Estimate, Usage};
use strata_engine::costs::{self, CostQuery, QueryError};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody, Params};
use super::state::{AppState, rfc3339, select};

/// Which costs, grouped how.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CostParams {
    /// An asset selection (default: every asset).
    select: Option<String>,
    /// `asset` (default), `partition`, `group`, `day` or `tag:KEY`.
    by: Option<String>,
    /// From this date (YYYY-MM-DD, in the rate card's time zone) or RFC 3339 time.
    since: Option<String>,
    /// Up to this date (inclusive) or RFC 3339 time (exclusive); default: now.
    until: Option<String>,
}

/// Money by what it pays for, in the report's currency.
#[derive(Serialize, ToSchema)]
pub(super) struct AmountsBody {
    /// CPU time × `cpu_hour`.
    compute: f64,
    /// Bytes read × `gb_read`.
    read: f64,
    /// Bytes written × `gb_written`.
    written: f64,
    /// Units commands reported × their price.
    units: f64,
    /// Bytes held over time × `gb_month_stored`.
    storage: f64,
}

impl From<&Amounts> for AmountsBody {
    fn from(a: &Amounts) -> Self {
        Self {
            compute: a.compute,
            read: a.read,
            written: a.written,
            units: a.units,
            storage: a.storage,
        }
    }
}

/// What the steps of a row used.
#[derive(Serialize, ToSchema)]
pub(super) struct UsageBody {
    /// Elapsed seconds.
    wall_seconds: f64,
    /// CPU seconds.
    cpu_seconds: f64,
    /// The largest peak memory of a command (null when none ran).
    peak_memory_bytes: Option<u64>,
    /// Bytes of input partitions read.
    bytes_read: u64,
    /// Rows of input partitions read.
    rows_read: u64,
    /// Bytes written.
    bytes_written: u64,
    /// Rows written.
    rows_written: u64,
    /// Units commands reported, by unit.
    units: std::collections::BTreeMap<String, f64>,
}

impl From<&Usage> for UsageBody {
    fn from(u: &Usage) -> Self {
        Self {
            wall_seconds: u.wall_seconds,
            cpu_seconds: u.cpu_seconds,
            peak_memory_bytes: u.peak_memory_bytes,
            bytes_read: u.bytes_read,
            rows_read: u.rows_read,
            bytes_written: u.bytes_written,
            rows_written: u.rows_written,
            units: u.units.clone(),
        }
    }
}

/// One row of a cost report.
#[derive(Serialize, ToSchema)]
pub(super) struct CostRowBody {
    /// An asset, `asset partition`, a group, `tag=value` (`(none)` without the tag), a day
    /// (`YYYY-MM-DD`), or `total`.
    key: String,
    /// The sum of `amounts`.
    total: f64,
    /// Money by kind.
    amounts: AmountsBody,
    /// Step attempts counted (per partition for single-run ranges).
    steps: u64,
    /// What they used.
    usage: UsageBody,
}

impl From<&CostRow> for CostRowBody {
    fn from(row: &CostRow) -> Self {
        Self {
            key: row.key.clone(),
            total: row.amounts.total(),
            amounts: (&row.amounts).into(),
            steps: row.steps,
            usage: (&row.usage).into(),
        }
    }
}

/// A cost report.
#[derive(Serialize, ToSchema)]
pub(super) struct CostReportBody {
    /// The rate card's currency (ISO 4217).
    currency: String,
    /// The grouping.
    by: String,
    /// From (null: the beginning).
    since: Option<String>,
    /// To (exclusive).
    until: String,
    /// Rows, highest cost first (days in date order).
    rows: Vec<CostRowBody>,
    /// Their sum.
    total: CostRowBody,
}

/// Costs grouped by asset, partition, group, tag or day: compute, bytes, reported units and
/// storage, priced by the rate card.
#[utoipa::path(get, operation_id = "costs", path = "/costs", tag = "costs", params(CostParams),
    responses((status = 200, body = CostReportBody), (status = 400, body = ErrorBody)))]
pub(super) async fn report(
    State(state): State<AppState>,
    Params(params): Params<CostParams>,
) -> ApiResult<CostReportBody> {
    let repository = state.repository();
    let assets = params
        .select
        .as_deref()
        .map(|text| select(&repository, text))
        .transpose()?;
    let query = CostQuery::parse(
        &repository,
        assets,
        params.by.as_deref().unwrap_or("asset"),
        params.since.as_deref(),
        params.until.as_deref(),
        (state.clock)(),
    )
    .map_err(|error| match error {
        QueryError::Invalid {
            field: "by",
            message,
        } => ApiError::bad_request("invalid_grouping", message),
        QueryError::Invalid { field, message } => {
            ApiError::bad_request("invalid_time", format!("{field}: {message}"))
        }
        QueryError::EmptyWindow => {
            ApiError::bad_request("invalid_time", "`until` must be after `since`")
        }
    })?;
    let report = costs::report(state.instance.storage.as_ref(), &repository, &query)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(CostReportBody {
        currency: repository.project().rate_card.currency.clone(),
        by: query.by.name(),
        since: (!query.from_beginning()).then(|| rfc3339(query.since)),
        until: rfc3339(query.until),
        rows: report.rows.iter().map(CostRowBody::from).collect(),
        total: (&report.total).into(),
    }))
}

/// What a planned materialization is estimated to cost, from the history of the same assets'
/// partitions (storage, which accrues afterwards, is not included).
#[derive(Serialize, ToSchema)]
pub(crate) struct CostEstimate {
    /// The rate card's currency.
    currency: String,
    /// The estimate for the partitions of assets with a history (null when none has one).
    amount: Option<f64>,
    /// Asset partitions estimated.
    estimated_partitions: u64,
    /// Asset partitions of assets that never ran (not in `amount`).
    unknown_partitions: u64,
}

impl CostEstimate {
    pub(crate) fn new(estimate: &Estimate, currency: &str) -> Self {
        Self {
            currency: currency.to_string(),
            amount: (estimate.estimated_partitions > 0).then_some(estimate.amount),
            estimated_partitions: estimate.estimated_partitions,
            unknown_partitions: estimate.unknown_partitions,
        }
    }
}
