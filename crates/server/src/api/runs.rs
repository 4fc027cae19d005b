//! Runs: the list, one run with its steps, its logs page by page, cancellation, and live
//! updates as server-sent events.
//!
//! Streams read the event log itself (every 200 ms while idle), so they follow runs of any
//! process on the storage — a `strata materialize` in a terminal too — and a client that
//! reconnects with `Last-Event-ID` misses nothing.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use strata_storage::event::{Event, EventRecord, LogLevel};
use strata_storage::records::{RunFilter, RunRecord, RunStatus, StepRecord};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody, Params, limit};
use super::state::{AppState, rfc3339};

/// A run.
#[derive(Serialize, ToSchema)]
pub(super) struct Run {
    /// Its id.
    run_id: String,
    /// `queued`, `started`, `succeeded`, `failed` or `canceled`.
    status: String,
    /// What it materializes, as asked.
    description: String,
    /// The backfill it belongs to.
    backfill_id: Option<String>,
    /// Steps planned.
    steps: u64,
    /// Tags (`launched_by`: `cli`, `api`, `automation`).
    #[schema(value_type = Object)]
    tags: std::collections::BTreeMap<String, String>,
    /// When it was queued.
    created_at: String,
    /// When it started.
    started_at: Option<String>,
    /// When it ended.
    ended_at: Option<String>,
    /// Why it failed.
    error: Option<String>,
    /// Whether cancellation was asked for.
    cancel_requested: bool,
}

impl From<RunRecord> for Run {
    fn from(r: RunRecord) -> Self {
        Self {
            status: r.status.as_str().to_string(),
            description: r.description,
            backfill_id: r.backfill_id,
            steps: r.steps,
            tags: r.tags,
            created_at: rfc3339(r.created_at),
            started_at: r.started_at.map(rfc3339),
            ended_at: r.ended_at.map(rfc3339),
            error: r.error,
            cancel_requested: r.cancel_requested,
            run_id: r.run_id,
        }
    }
}

/// Runs, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct RunList {
    /// The runs.
    runs: Vec<Run>,
    /// The cursor of the next (older) page, null on the last.
    next: Option<String>,
}

/// Which runs.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RunQuery {
    /// Only runs in this state.
    status: Option<String>,
    /// Only runs of this backfill.
    backfill: Option<String>,
    /// `next` of the previous page.
    cursor: Option<String>,
    /// Runs per page, 1 to 500 (default 50).
    limit: Option<u32>,
}

/// The run list.
#[utoipa::path(get, operation_id = "list_runs", path = "/runs", tag = "runs", params(RunQuery),
    responses((status = 200, body = RunList), (status = 400, body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<AppState>,
    Params(query): Params<RunQuery>,
) -> ApiResult<RunList> {
    let limit = limit(query.limit, 50, 500)?;
    let statuses = match &query.status {
        None => Vec::new(),
        Some(text) => vec![RunStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_status",
                format!(
                    "status `{text}` is not one of queued, started, succeeded, failed, canceled"
                ),
            )
        })?],
    };
    let storage = &state.instance.storage;
    if let Some(cursor) = &query.cursor {
        find(&state, cursor).await.map_err(|_| {
            ApiError::bad_request(
                "invalid_cursor",
                format!("cursor `{cursor}` is not a run id this endpoint returned"),
            )
        })?;
    }
    let runs = storage
        .runs(&RunFilter {
            statuses,
            backfill_id: query.backfill.clone(),
            before: query.cursor.clone(),
            limit: Some(limit + 1),
        })
        .await
        .map_err(ApiError::internal)?;
    let more = runs.len() > limit as usize;
    let runs: Vec<Run> = runs
        .into_iter()
        .take(limit as usize)
        .map(Run::from)
        .collect();
    let next = if more {
        runs.last().map(|r| r.run_id.clone())
    } else {
        None
    };
    Ok(Json(RunList { runs, next }))
}

async fn find(state: &AppState, run_id: &str) -> Result<RunRecord, ApiError> {
    state
        .instance
        .storage
        .run(run_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("unknown_run", format!("no run `{run_id}`")))
}

/// A step of a run.
#[derive(Serialize, ToSchema)]
pub(super) struct Step {
    /// The asset.
    asset: String,
    /// The partition (or the first and last of a range step, `a..b`).
    partition: Option<String>,
    /// `started`, `retrying`, `succeeded`, `failed`, `skipped`, `canceled` or `abandoned`.
    status: String,
    /// The latest attempt, from 1.
    attempt: u32,
    /// When it started.
    started_at: String,
    /// When it ended.
    ended_at: Option<String>,
    /// How long it took (so far, while executing).
    duration_ms: Option<i64>,
    /// Why it failed.
    error: Option<String>,
}

impl From<StepRecord> for Step {
    fn from(s: StepRecord) -> Self {
        Self {
            asset: s.asset.to_string(),
            partition: s.partition,
            status: s.status.as_str().to_string(),
            attempt: s.attempt,
            started_at: rfc3339(s.started_at),
            ended_at: s.ended_at.map(rfc3339),
            duration_ms: s.ended_at.map(|e| e - s.started_at),
            error: s.error,
        }
    }
}

/// One run with its steps.
#[derive(Serialize, ToSchema)]
pub(super) struct RunDetail {
    /// The run.
    run: Run,
    /// Its steps, in the order they started.
    steps: Vec<Step>,
}

/// One run.
#[utoipa::path(get, operation_id = "get_run", path = "/runs/{run_id}", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = RunDetail), (status = 404, body = ErrorBody)))]
pub(super) async fn detail(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<RunDetail> {
    let run = find(&state, &run_id).await?;
    let steps = state
        .instance
        .storage
        .steps(&run_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(RunDetail {
        run: run.into(),
        steps: steps.into_iter().map(Step::from).collect(),
    }))
}

/// One log line of a run.
#[derive(Serialize, ToSchema)]
pub(super) struct LogLine {
    /// Its event's id (a cursor).
    id: i64,
    /// When (RFC 3339).
    at: String,
    /// `debug`, `info`, `warn` or `error`.
    level: String,
    /// The step's asset, when the line is a step's.
    asset: Option<String>,
    /// The step's partition.
    partition: Option<String>,
    /// The line.
    message: String,
}

/// A page of log lines, oldest first.
#[derive(Serialize, ToSchema)]
pub(super) struct LogPage {
    /// The lines.
    logs: Vec<LogLine>,
    /// The cursor of the next page, null when there is nothing more now.
    next: Option<String>,
}

/// Which log lines.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LogQuery {
    /// `next` of the previous page (an event id).
    cursor: Option<String>,
    /// Lines per page, 1 to 5000 (default 1000).
    limit: Option<u32>,
}

/// The run's log, page by page.
#[utoipa::path(get, operation_id = "list_run_logs", path = "/runs/{run_id}/logs", tag = "runs",
    params(("run_id" = String, Path), LogQuery),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(super) async fn logs(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Params(query): Params<LogQuery>,
) -> ApiResult<LogPage> {
    find(&state, &run_id).await?;
    let limit = limit(query.limit, 1000, 5000)?;
    let mut cursor = match &query.cursor {
        None => 0,
        Some(text) => text.parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_cursor",
                format!("cursor `{text}` is not one this endpoint returned (an event id)"),
            )
        })?,
    };
    let mut logs = Vec::new();
    // Log lines are among the run's other events: read on until a page is full or the run's
    // events are exhausted.
    loop {
        let records = state
            .instance
            .storage
            .run_events(&run_id, cursor, 5000)
            .await
            .map_err(ApiError::internal)?;
        let exhausted = records.len() < 5000;
        for record in records {
            cursor = record.id;
            if let Event::Log {
                level,
                asset,
                partition,
                message,
                ..
            } = record.event
            {
                logs.push(LogLine {
                    id: record.id,
                    at: rfc3339(record.timestamp),
                    level: match level {
                        LogLevel::Debug => "debug",
                        LogLevel::Info => "info",
                        LogLevel::Warn => "warn",
                        LogLevel::Error => "error",
                    }
                    .to_string(),
                    asset: asset.map(|a| a.to_string()),
                    partition,
                    message,
                });
                if logs.len() == limit as usize {
                    return Ok(Json(LogPage {
                        logs,
                        next: Some(cursor.to_string()),
                    }));
                }
            }
        }
        if exhausted {
            return Ok(Json(LogPage { logs, next: None }));
        }
    }
}

/// A run after a cancel request.
#[derive(Serialize, ToSchema)]
pub(super) struct Canceled {
    /// The run.
    run_id: String,
    /// Its state now (the executor stops it within a poll interval).
    status: String,
    /// Whether cancellation is requested.
    cancel_requested: bool,
}

/// Asks a queued or executing run to stop: no new step starts, steps in flight are
/// interrupted. Whichever process executes it stops it.
#[utoipa::path(post, operation_id = "cancel_run", path = "/runs/{run_id}/cancel", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = Canceled), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(super) async fn cancel(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<Canceled> {
    let run = find(&state, &run_id).await?;
    if !matches!(run.status, RunStatus::Queued | RunStatus::Started) {
        return Err(ApiError::conflict(
            "run_ended",
            format!(
                "run {run_id} already ended ({}); only a queued or started run can be canceled",
                run.status.as_str()
            ),
        ));
    }
    state
        .instance
        .storage
        .append(
            (state.clock)(),
            vec![Event::RunCancelRequested {
                run_id: run_id.clone(),
            }],
        )
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(Canceled {
        run_id,
        status: run.status.as_str().to_string(),
        cancel_requested: true,
    }))
}

/// How long a stream waits before looking for new events when it found none.
const STREAM_POLL: Duration = Duration::from_millis(200);

/// Where a stream starts: after `Last-Event-ID` when the client reconnects.
fn resume_cursor(headers: &HeaderMap, default: i64) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sse(record: &EventRecord) -> SseEvent {
    SseEvent::default()
        .id(record.id.to_string())
        .event(record.event.kind())
        .json_data(record)
        .unwrap_or_else(|_| SseEvent::default().comment("unserializable event"))
}

/// The run's events from its start (or `Last-Event-ID`), then live, as server-sent events:
/// each has the event's id, its kind as the SSE event name (`step_started`, `log`,
/// `run_succeeded`, …) and the event record as JSON data. The stream ends after the run's
/// final event.
#[utoipa::path(get, operation_id = "stream_run_events", path = "/runs/{run_id}/events", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, content_type = "text/event-stream",
               description = "Server-sent events: the run's event records as JSON"),
              (status = 404, body = ErrorBody)))]
pub(super) async fn run_stream(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    find(&state, &run_id).await?;
    let cursor = resume_cursor(&headers, 0);
    let stream = futures::stream::unfold(
        (state, run_id, cursor, false),
        |(state, run_id, mut cursor, ended)| async move {
            if ended {
                return None;
            }
            loop {
                match state
                    .instance
                    .storage
                    .run_events(&run_id, cursor, 500)
                    .await
                {
                    Ok(records) if !records.is_empty() => {
                        cursor = records.last().map_or(cursor, |r| r.id);
                        let ended = records.iter().any(|r| {
                            matches!(
                                r.event,
                                Event::RunSucceeded { .. }
                                    | Event::RunFailed { .. }
                                    | Event::RunCanceled { .. }
                            )
                        });
                        let events: Vec<Result<SseEvent, Infallible>> =
                            records.iter().map(|r| Ok(sse(r))).collect();
                        return Some((
                            futures::stream::iter(events),
                            (state, run_id, cursor, ended),
                        ));
                    }
                    Ok(_) => tokio::time::sleep(STREAM_POLL).await,
                    Err(error) => {
                        tracing::warn!(%error, "run stream: reading events failed");
                        return None;
                    }
                }
            }
        },
    );
    Ok(Sse::new(futures::StreamExt::flatten(stream)).keep_alive(KeepAlive::default()))
}

/// Every event appended from now on (or after `Last-Event-ID`), as server-sent events, for
/// views that refresh when anything changes.
#[utoipa::path(get, operation_id = "stream_events", path = "/events", tag = "runs",
    responses((status = 200, content_type = "text/event-stream",
               description = "Server-sent events: every event record as JSON")))]
pub(super) async fn event_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let now = state
        .instance
        .storage
        .last_event_id()
        .await
        .map_err(ApiError::internal)?;
    let cursor = resume_cursor(&headers, now);
    let stream = futures::stream::unfold((state, cursor), |(state, mut cursor)| async move {
        loop {
            match state.instance.storage.events_after(cursor, 500).await {
                Ok(records) if !records.is_empty() => {
                    cursor = records.last().map_or(cursor, |r| r.id);
                    let events: Vec<Result<SseEvent, Infallible>> =
                        records.iter().map(|r| Ok(sse(r))).collect();
                    return Some((futures::stream::iter(events), (state, cursor)));
                }
                Ok(_) => tokio::time::sleep(STREAM_POLL).await,
                Err(error) => {
                    tracing::warn!(%error, "event stream: reading events failed");
                    return None;
                }
            }
        }
    });
    Ok(Sse::new(futures::StreamExt::flatten(stream)).keep_alive(KeepAlive::default()))
}
