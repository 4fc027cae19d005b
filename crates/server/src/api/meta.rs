//! The server itself: health, version, reloading definitions, metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use strata_storage::records::{RunFilter, RunStatus};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::state::AppState;

/// The server is up and its storage answers.
#[derive(Serialize, ToSchema)]
pub(super) struct Health {
    /// `ok`.
    status: &'static str,
    /// Definitions loaded since start (1 + reloads that changed something).
    generation: u64,
    /// Errors of the latest load (the previous definitions stay in service).
    errors: Vec<Diagnostic>,
    /// Runs executing in this process.
    running: usize,
}

/// One declaration error.
#[derive(Serialize, ToSchema)]
pub(super) struct Diagnostic {
    /// `path:line:col`.
    location: String,
    /// What is wrong.
    message: String,
    /// How to fix it.
    hint: Option<String>,
}

impl Diagnostic {
    fn list(errors: &[strata_core::declare::Diagnostic]) -> Vec<Self> {
        errors
            .iter()
            .map(|d| Self {
                location: format!("{}:{}:{}", d.path.display(), d.line, d.col),
                message: d.message.clone(),
                hint: d.hint.clone(),
            })
            .collect()
    }
}

/// Health.
#[utoipa::path(get, operation_id = "get_health", path = "/health", tag = "server",
    responses((status = 200, body = Health), (status = 500, body = super::error::ErrorBody)))]
pub(super) async fn health(State(state): State<AppState>) -> ApiResult<Health> {
    state
        .instance
        .storage
        .last_event_id()
        .await
        .map_err(ApiError::internal)?;
    let snapshot = state.definitions.current();
    Ok(Json(Health {
        status: "ok",
        generation: snapshot.generation,
        errors: Diagnostic::list(&snapshot.errors),
        running: state.launcher.running(),
    }))
}

/// The server's version.
#[derive(Serialize, ToSchema)]
pub(super) struct Version {
    /// Strata's version.
    version: &'static str,
    /// The API's version.
    api: &'static str,
}

/// Version.
#[utoipa::path(get, operation_id = "get_version", path = "/version", tag = "server", responses((status = 200, body = Version)))]
pub(super) async fn version() -> Json<Version> {
    Json(Version {
        version: env!("CARGO_PKG_VERSION"),
        api: "v1",
    })
}

/// The outcome of a reload.
#[derive(Serialize, ToSchema)]
pub(super) struct Reload {
    /// Whether the files loaded (when not, the previous definitions stay in service).
    loaded: bool,
    /// The definitions' generation now.
    generation: u64,
    /// Assets in service.
    assets: usize,
    /// Errors of this load.
    errors: Vec<Diagnostic>,
}

/// Reads the repository's files again and swaps the definitions in atomically. A repository
/// that fails to load keeps the previous definitions in service; its errors are returned.
#[utoipa::path(post, operation_id = "reload_definitions", path = "/reload", tag = "server", responses((status = 200, body = Reload)))]
pub(super) async fn reload(State(state): State<AppState>) -> Json<Reload> {
    let snapshot = state.definitions.reload();
    state.metrics.reload();
    Json(Reload {
        loaded: snapshot.errors.is_empty(),
        generation: snapshot.generation,
        assets: snapshot.repository.as_ref().map_or(0, |r| r.len()),
        errors: Diagnostic::list(&snapshot.errors),
    })
}

/// Prometheus metrics.
pub(super) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let queued = state
        .instance
        .storage
        .runs(&RunFilter {
            statuses: vec![RunStatus::Queued],
            limit: Some(100_000),
            ..RunFilter::default()
        })
        .await
        .map_err(ApiError::internal)?
        .len() as u64;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(queued),
    ))
}
