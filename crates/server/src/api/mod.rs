//! The HTTP API under `/api/v1`: JSON in and out, errors as `{code, message}`, and an OpenAPI
//! document generated from the handlers' own types (so it cannot drift from them).
//!
//! [`app`] builds the whole router from an [`AppState`], so tests drive every endpoint without
//! a socket. Routes are only ever registered through `utoipa_axum::routes!`, which documents a
//! handler in the same breath as it routes it: a route cannot be served and missing from the
//! document.
//!
//! # Module organization
//!
//! - [`error`]: the JSON error body, and extractors whose rejections use it.
//! - [`state`]: what every handler reads: the instance, the current definitions, the launcher.
//! - `assets`, `partitions`, `lineage`, `runs`, `backfills`, `automation`, `meta`: one module
//!   per resource.

pub(crate) mod alerts;
pub mod assets;
mod automation;
mod backfills;
mod costs;
pub mod error;
mod lineage;
mod meta;
mod partitions;
mod runs;
pub mod state;
mod subsets;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use state::AppState;

/// The largest request body accepted (bodies are small JSON documents).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strata API",
        description = "Assets, partitions, lineage, runs, backfills and automation of one \
                       Strata repository. Errors are `{code, message}`: 4xx for the caller's \
                       mistakes, 5xx with a generic message (the server log has the cause). \
                       List endpoints answer `{\"<things>\": [...], \"next\": cursor-or-null}`."
    ),
    tags(
        (name = "assets", description = "Declared assets and their lineage"),
        (name = "partitions", description = "Partition status, keys, history and dynamic partitions"),
        (name = "runs", description = "Runs, their steps and logs, live updates"),
        (name = "backfills", description = "Persistent requests over many partitions"),
        (name = "automation", description = "Automation ticks, explanations and freshness"),
        (name = "costs", description = "What assets cost, and estimates for planned work"),
        (name = "alerts", description = "Alert rules, firings and resolutions, deliveries"),
        (name = "server", description = "Health, version, reloading definitions"),
    )
)]
struct ApiDoc;

/// The API's routes, documented.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(meta::health))
        .routes(routes!(meta::version))
        .routes(routes!(meta::reload))
        .routes(routes!(assets::list))
        .routes(routes!(assets::detail))
        .routes(routes!(assets::lineage))
        .routes(routes!(lineage::columns))
        .routes(routes!(lineage::partitions))
        .routes(routes!(partitions::status))
        .routes(routes!(partitions::keys))
        .routes(routes!(partitions::partition))
        .routes(routes!(partitions::materializations))
        .routes(routes!(partitions::add_dynamic, partitions::remove_dynamic))
        .routes(routes!(runs::list))
        .routes(routes!(runs::detail))
        .routes(routes!(runs::logs))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::run_stream))
        .routes(routes!(runs::event_stream))
        .routes(routes!(backfills::create, backfills::list))
        .routes(routes!(backfills::detail))
        .routes(routes!(backfills::cancel))
        .routes(routes!(automation::ticks))
        .routes(routes!(automation::why))
        .routes(routes!(automation::freshness))
        .routes(routes!(costs::report))
        .routes(routes!(alerts::list_rules, alerts::create_rule))
        .routes(routes!(alerts::replace_rule, alerts::delete_rule))
        .routes(routes!(alerts::test_rule))
        .routes(routes!(alerts::channels))
        .routes(routes!(alerts::history))
        .routes(routes!(alerts::firing))
}

/// The OpenAPI document of every `/api/v1` route, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api())
        .into_openapi()
}

/// The whole HTTP interface: the API, its document, `/metrics`, and the web UI.
pub fn app(state: AppState) -> Router {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api())
        .split_for_parts();
    let document = std::sync::Arc::new(document);
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let document = std::sync::Arc::clone(&document);
                async move { axum::Json(document) }
            }),
        )
        .route("/metrics", axum::routing::get(meta::metrics))
        .route("/", axum::routing::get(crate::ui::serve))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Unknown paths: a JSON error under `/api/`, never a page; elsewhere the UI answers `GET`
/// (its own routes load the app).
async fn fallback(method: Method, uri: Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let api = uri.path() == "/api" || uri.path().starts_with("/api/");
    if !api && (method == Method::GET || method == Method::HEAD) {
        return crate::ui::serve(uri).await;
    }
    ApiError::not_found(
        "no_route",
        if api {
            format!(
                "no route {method} {}; GET /api/v1/openapi.json lists them",
                uri.path()
            )
        } else {
            format!("no page {method} {}", uri.path())
        },
    )
    .into_response()
}

/// A known path with another method.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not accept {method}; GET /api/v1/openapi.json lists each route's methods",
            uri.path()
        ),
    )
}
