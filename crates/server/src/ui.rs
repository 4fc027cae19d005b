//! The web UI: the bundle `build.rs` built from `ui/` and embedded in the binary.
//!
//! Every path outside `/api/` that is not a file of the bundle answers `index.html`, so the
//! UI's own routes (`/assets/flights/daily_delays`, `/runs/…`) load the app, which routes in
//! the browser. Files under `assets/` have content hashes in their names and are cached for good;
//! `index.html` is revalidated. A binary built with `STRATA_SKIP_UI=1` answers a page saying how
//! to build the UI instead.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/ui_bundle.rs"));

/// Answers a UI path: a bundle file, else `index.html`.
pub(crate) async fn serve(uri: Uri) -> Response {
    if BUNDLE.is_empty() {
        return (StatusCode::OK, Html(not_built_page())).into_response();
    }
    let path = uri.path().trim_start_matches('/');
    match file(path) {
        Some(contents) => respond(path, contents),
        None => match file("index.html") {
            Some(index) => respond("index.html", index),
            None => (StatusCode::NOT_FOUND, "the UI bundle has no index.html").into_response(),
        },
    }
}

fn file(path: &str) -> Option<&'static [u8]> {
    BUNDLE
        .binary_search_by(|(name, _)| (*name).cmp(path))
        .ok()
        .map(|i| BUNDLE[i].1)
}

fn respond(path: &str, contents: &'static [u8]) -> Response {
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = contents.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The page of a binary without the UI: why, and how to build it.
fn not_built_page() -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Strata</title>\
         </head><body><h1>Strata</h1><p>This binary has no web UI: {MISSING_REASON}.</p>\
         <p>To build it in, install Node.js 20.19 or later with npm, then build without \
         <code>STRATA_SKIP_UI</code> (<code>cargo build --bin strata</code>): the build runs \
         <code>npm ci</code> and <code>npm run build</code> in <code>ui/</code> and embeds the \
         result.</p><p>The API is served under <a href=\"/api/v1/health\">/api/v1</a>; its OpenAPI \
         document is <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>, and Prometheus \
         metrics are at <a href=\"/metrics\">/metrics</a>.</p></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_is_sorted_for_lookups() {
        assert!(BUNDLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[tokio::test]
    async fn client_routes_answer_the_index_and_files_their_type() {
        let response = serve(Uri::from_static("/assets/flights/daily_delays")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        if let Some((path, _)) = BUNDLE.iter().find(|(p, _)| p.ends_with(".js")) {
            let response = serve(format!("/{path}").parse().expect("a path")).await;
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            assert!(
                response.headers()[header::CACHE_CONTROL]
                    .to_str()
                    .is_ok_and(|c| c.contains("immutable"))
            );
        }
    }
}
