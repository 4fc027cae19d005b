//! The HTTP API: every endpoint through `app()` (no socket) on a copy of the example, the bad
//! input a caller can send, the committed OpenAPI document, and `strata serve` as a real
//! process followed over server-sent events.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use strata_server::api::{AppState, app, openapi};
use tower::ServiceExt;

use crate::materialize::example;
use crate::root;

/// The app on a copy of the example, with the real clock.
pub(crate) async fn example_app(dir: &Path) -> (AppState, Router) {
    let clock: strata_engine::executor::Clock = Arc::new(|| chrono::Utc::now().timestamp_millis());
    let state = AppState::open(dir, clock).await.expect("the example loads");
    (state.clone(), app(state))
}

/// Sends one request; returns the status and the body (JSON, or the text as a JSON string).
pub(crate) async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Body::from(body.unwrap_or_default().to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

pub(crate) async fn get(app: &Router, uri: &str) -> Value {
    let (status, body) = call(app, "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_on_the_example() {
    let dir = example();
    let (_state, app) = example_app(dir.path()).await;

    let health = get(&app, "/api/v1/health").await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(get(&app, "/api/v1/version").await["api"], "v1");

    let assets = get(&app, "/api/v1/assets").await;
    let keys: Vec<&str> = assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"flights/daily_delays"), "{keys:?}");
    assert_eq!(assets["next"], Value::Null);
    let flights = get(&app, "/api/v1/assets?group=flights&kind=sql&q=delay").await;
    for asset in flights["assets"].as_array().unwrap() {
        assert_eq!(asset["group"], "flights");
        let text = format!("{} {}", asset["key"], asset["description"]).to_lowercase();
        assert!(text.contains("delay"), "{asset}");
    }
    let ops = get(&app, "/api/v1/assets?tag=team%3Dops").await;
    assert!(!ops["assets"].as_array().unwrap().is_empty(), "{ops}");
    let missing = get(&app, "/api/v1/assets?status=missing").await;
    assert!(
        missing["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "flights/daily_delays"),
        "nothing is materialized on a fresh instance: {missing}"
    );

    let detail = get(&app, "/api/v1/assets/flights/daily_delays").await;
    assert_eq!(detail["kind"], "sql");
    assert_eq!(detail["path"], "assets/flights/daily_delays.sql");
    assert!(detail["code_version"].is_string(), "{detail}");
    assert!(detail["upstream"][0]["mapping"].is_string(), "{detail}");
    assert!(!detail["checks"].as_array().unwrap().is_empty(), "{detail}");

    let lineage = get(
        &app,
        "/api/v1/lineage?selection=flights/daily_delays&depth=1",
    )
    .await;
    let nodes = lineage["nodes"].as_array().unwrap();
    assert!(nodes.len() > 1, "depth 1 adds neighbours: {lineage}");
    assert!(
        lineage["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["to"] == "flights/daily_delays"),
        "{lineage}"
    );

    let status = get(
        &app,
        "/api/v1/assets/flights/daily_delays/partitions/status",
    )
    .await;
    assert_eq!(status["total"], 365, "{status}");
    assert_eq!(status["missing"]["count"], 365);
    assert_eq!(status["missing"]["ranges"][0]["first"], "2013-01-01");
    assert_eq!(status["missing"]["ranges"][0]["last"], "2013-12-31");
    assert_eq!(status["materialized"]["count"], 0);

    let page = get(
        &app,
        "/api/v1/assets/flights/daily_delays/partitions?limit=2",
    )
    .await;
    assert_eq!(page["partitions"][1]["key"], "2013-01-02");
    assert_eq!(page["partitions"][1]["status"], "missing");
    assert_eq!(page["next"], "2");
    let last = get(
        &app,
        "/api/v1/assets/flights/daily_delays/partitions?cursor=364",
    )
    .await;
    assert_eq!(last["partitions"][0]["key"], "2013-12-31");
    assert_eq!(last["next"], Value::Null);

    let partition = get(
        &app,
        "/api/v1/assets/features/rolling_delays_7d/partitions/2013-01-03",
    )
    .await;
    assert_eq!(partition["index"], 2);
    assert_eq!(partition["status"], "missing");
    let upstream = &partition["upstream"][0];
    assert_eq!(upstream["asset"], "flights/clean_flights", "{partition}");
    assert_eq!(
        upstream["partitions"],
        json!(["2013-01-01", "2013-01-02", "2013-01-03"]),
        "the rolling 7-day window, clipped at the first day: {partition}"
    );

    let history = get(
        &app,
        "/api/v1/assets/flights/daily_delays/materializations?limit=5",
    )
    .await;
    assert_eq!(history["materializations"], json!([]));

    let (status, dry) = call(
        &app,
        "POST",
        "/api/v1/backfills",
        Some(
            r#"{"selection": "*flights/clean_flights", "partitions": {"kind": "range",
                "from": "2013-01-01", "to": "2013-01-07"}, "dry_run": true}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["backfill_id"], Value::Null);
    assert_eq!(dry["runs"], 1);
    let clean = dry["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["asset"] == "flights/clean_flights")
        .unwrap();
    assert_eq!(clean["partitions"], 7, "{dry}");
    assert_eq!(
        clean["ranges"],
        json!([{"first": "2013-01-01", "last": "2013-01-07"}])
    );

    // Two dimensions: a range of days × some origins.
    let (status, grid) = call(
        &app,
        "POST",
        "/api/v1/backfills",
        Some(
            r#"{"selection": "flights/origin_daily", "partitions": {"kind": "range",
                "from": "2013-01-01", "to": "2013-01-02"}, "dimension_keys": ["JFK"],
                "dry_run": true}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{grid}");
    assert_eq!(grid["partitions"], 2, "{grid}");
    let keys: Vec<&str> = grid["targets"][0]["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| [r["first"].as_str().unwrap(), r["last"].as_str().unwrap()])
        .collect();
    assert!(keys.iter().all(|k| k.contains("JFK")), "{grid}");
    let (status, bad) = call(
        &app,
        "POST",
        "/api/v1/backfills",
        Some(
            r#"{"selection": "flights/origin_daily", "partitions": {"kind": "missing"},
                "dimension_keys": ["ORD"], "dry_run": true}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("`ORD`"), "{bad}");

    assert_eq!(get(&app, "/api/v1/runs").await["runs"], json!([]));
    assert_eq!(get(&app, "/api/v1/backfills").await["backfills"], json!([]));
    assert_eq!(
        get(&app, "/api/v1/automation/ticks").await["ticks"],
        json!([])
    );
    let freshness = get(&app, "/api/v1/freshness").await;
    assert!(
        !freshness["assets"].as_array().unwrap().is_empty(),
        "{freshness}"
    );
    let (status, why) = call(
        &app,
        "GET",
        "/api/v1/automation/assets/flights/daily_delays",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no tick yet: {why}");
    assert_eq!(why["code"], "not_evaluated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_precise_4xx_and_changes_nothing() {
    let dir = example();
    let (state, app) = example_app(dir.path()).await;
    let events_before = state.instance.storage.last_event_id().await.unwrap();
    let backfill = |body: &str| {
        let app = app.clone();
        let body = body.to_string();
        async move { call(&app, "POST", "/api/v1/backfills", Some(&body)).await }
    };
    let cases: Vec<(StatusCode, &str, (StatusCode, Value))> = vec![
        (
            StatusCode::NOT_FOUND,
            "unknown_asset",
            call(&app, "GET", "/api/v1/assets/flights/daily_delay", None).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_partitions",
            backfill(
                r#"{"selection": "flights/daily_delays", "partitions": {"kind": "range",
                    "from": "2013-01-07", "to": "2013-01-01"}}"#,
            )
            .await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_partitions",
            backfill(
                r#"{"selection": "flights/daily_delays",
                    "partitions": {"kind": "keys", "keys": ["2013-13-01"]}}"#,
            )
            .await,
        ),
        (
            // A key of another asset's definition: monthly_delays is monthly.
            StatusCode::BAD_REQUEST,
            "invalid_partitions",
            backfill(
                r#"{"selection": "flights/daily_delays",
                    "partitions": {"kind": "keys", "keys": ["2013-01"]}}"#,
            )
            .await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_partition",
            call(
                &app,
                "GET",
                "/api/v1/assets/flights/daily_delays/partitions/2013-02-30",
                None,
            )
            .await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "missing_partitions",
            backfill(r#"{"selection": "flights/daily_delays"}"#).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_selection",
            backfill(r#"{"selection": "flights/nope+", "partitions": {"kind": "missing"}}"#).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_body",
            backfill(r#"{"selection": "flights/daily_delays", "#).await,
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            backfill(r#"{"selection": "*", "partitions": {"kind": "everything"}}"#).await,
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            backfill(r#"{"selection": "*", "partitions": {"kind": "missing"}, "dryrun": true}"#)
                .await,
        ),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            backfill(&format!(
                r#"{{"selection": "{}", "partitions": {{"kind": "missing"}}}}"#,
                "x".repeat(200_000)
            ))
            .await,
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            {
                let request = Request::builder()
                    .method("POST")
                    .uri("/api/v1/backfills")
                    .body(Body::from("selection=*"))
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                let status = response.status();
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                (status, serde_json::from_slice(&bytes).unwrap())
            },
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_query",
            call(&app, "GET", "/api/v1/runs?limit=many", None).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            call(&app, "GET", "/api/v1/runs?limit=0", None).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid_status",
            call(&app, "GET", "/api/v1/assets?status=sleepy", None).await,
        ),
        (
            StatusCode::NOT_FOUND,
            "unknown_run",
            call(&app, "POST", "/api/v1/runs/nope/cancel", None).await,
        ),
        (
            StatusCode::NOT_FOUND,
            "unknown_backfill",
            call(&app, "POST", "/api/v1/backfills/nope/cancel", None).await,
        ),
        (
            StatusCode::NOT_FOUND,
            "unknown_partitions_set",
            call(
                &app,
                "POST",
                "/api/v1/partitions/dynamic/nope",
                Some(r#"{"keys": ["a"]}"#),
            )
            .await,
        ),
        (
            StatusCode::NOT_FOUND,
            "no_route",
            call(&app, "GET", "/api/v1/nothing/here", None).await,
        ),
        (
            StatusCode::NOT_FOUND,
            "no_route",
            call(&app, "GET", "/api/v2/assets", None).await,
        ),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            call(&app, "DELETE", "/api/v1/assets", None).await,
        ),
    ];
    for (i, (status, code, (got_status, body))) in cases.iter().enumerate() {
        assert_eq!(got_status, status, "case {i}: {body}");
        assert_eq!(body["code"], *code, "case {i}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.len() > 10,
            "case {i}: a message that says what is wrong: {body}"
        );
    }
    // The messages name the thing and the fix.
    assert!(
        cases[0].2.1["message"]
            .as_str()
            .unwrap()
            .contains("flights/daily_delays"),
        "the closest key is suggested: {}",
        cases[0].2.1
    );
    assert!(
        cases[4].2.1["message"]
            .as_str()
            .unwrap()
            .contains("2013-02-30"),
        "{}",
        cases[4].2.1
    );
    assert_eq!(
        state.instance.storage.last_event_id().await.unwrap(),
        events_before,
        "no bad request recorded anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_over_the_api_runs_and_the_status_reads_back() {
    let dir = example();
    let (_state, app) = example_app(dir.path()).await;
    let (status, created) = call(
        &app,
        "POST",
        "/api/v1/backfills",
        Some(
            r#"{"selection": "*flights/clean_flights", "partitions": {"kind": "range",
                "from": "2013-01-01", "to": "2013-01-02"}, "dry_run": false}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["backfill_id"].as_str().unwrap().to_string();
    let run_id = created["run_id"].as_str().unwrap().to_string();
    let listed = get(&app, "/api/v1/runs").await;
    assert_eq!(
        listed["runs"][0]["run_id"],
        run_id.as_str(),
        "queued before the answer"
    );

    let deadline = Instant::now() + Duration::from_secs(180);
    let backfill = loop {
        let detail = get(&app, &format!("/api/v1/backfills/{id}")).await;
        if detail["backfill"]["status"] != "requested" {
            break detail;
        }
        assert!(
            Instant::now() < deadline,
            "the backfill did not end: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(backfill["backfill"]["status"], "completed", "{backfill}");
    assert_eq!(backfill["runs"][0]["status"], "succeeded");

    let status = get(
        &app,
        "/api/v1/assets/flights/clean_flights/partitions/status?stale=false",
    )
    .await;
    assert_eq!(status["materialized"]["count"], 2, "{status}");
    assert_eq!(status["materialized"]["ranges"][0]["last"], "2013-01-02");
    let run = get(&app, &format!("/api/v1/runs/{run_id}")).await;
    assert!(
        run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "succeeded"),
        "{run}"
    );
    let history = get(
        &app,
        "/api/v1/assets/flights/clean_flights/materializations?partition=2013-01-02",
    )
    .await;
    let latest = &history["materializations"][0];
    assert!(latest["rows"].as_u64().unwrap() > 0, "{history}");
    assert!(latest["duration_ms"].is_i64(), "{history}");
    let logs = get(&app, &format!("/api/v1/runs/{run_id}/logs?limit=1")).await;
    assert!(logs["logs"].is_array(), "{logs}");

    let (status, again) = call(
        &app,
        "POST",
        &format!("/api/v1/backfills/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["code"], "backfill_ended");
}

/// Where the document is committed; `STRATA_BLESS=1` rewrites it.
fn committed_document() -> std::path::PathBuf {
    root().join("docs/openapi.json")
}

#[test]
fn the_committed_openapi_document_is_the_served_one() {
    let served = serde_json::to_string_pretty(&openapi()).unwrap() + "\n";
    let path = committed_document();
    if std::env::var_os("STRATA_BLESS").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "docs/openapi.json differs from the document the server generates; review the change \
         and rewrite it with `STRATA_BLESS=1 cargo test --test e2e openapi`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_every_served_route_documented() {
    let dir = example();
    let (_state, app) = example_app(dir.path()).await;
    let document = serde_json::to_value(openapi()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let uri = path
                .replace("{group}", "flights")
                .replace("{name}", "daily_delays")
                .replace("{key}", "2013-01-01")
                .replace("{run_id}", "none")
                .replace("{backfill_id}", "none");
            documented.push((method.to_uppercase(), path.clone()));
            if uri.ends_with("/events") {
                continue; // streams: checked by the serve test
            }
            let (_, body) = call(&app, &method.to_uppercase(), &uri, Some("{}")).await;
            assert!(
                body["code"] != "no_route" && body["code"] != "method_not_allowed",
                "{method} {path} is documented but not served: {body}"
            );
        }
    }
    // The other direction: the routes the API serves, as the router answers them.
    for (method, path) in [
        ("GET", "/api/v1/assets"),
        ("GET", "/api/v1/lineage"),
        ("POST", "/api/v1/backfills"),
        ("GET", "/api/v1/backfills"),
        ("GET", "/api/v1/runs"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/freshness"),
        ("GET", "/api/v1/automation/ticks"),
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/version"),
        ("POST", "/api/v1/reload"),
        ("POST", "/api/v1/partitions/dynamic/{name}"),
        ("DELETE", "/api/v1/partitions/dynamic/{name}"),
        ("GET", "/api/v1/assets/{group}/{name}/partitions/status"),
        ("GET", "/api/v1/assets/{group}/{name}/lineage/columns"),
        ("GET", "/api/v1/assets/{group}/{name}/lineage/partitions"),
        ("GET", "/api/v1/costs"),
        ("GET", "/api/v1/alerts/rules"),
        ("POST", "/api/v1/alerts/rules"),
        ("PUT", "/api/v1/alerts/rules/{name}"),
        ("DELETE", "/api/v1/alerts/rules/{name}"),
        ("POST", "/api/v1/alerts/rules/{name}/test"),
        ("GET", "/api/v1/alerts/channels"),
        ("GET", "/api/v1/alerts/history"),
        ("GET", "/api/v1/alerts/firing"),
    ] {
        assert!(
            documented.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is served but missing from the document"
        );
    }
    assert_eq!(
        documented.len(),
        36,
        "a route was added or removed: update this test and docs/api.md: {documented:?}"
    );
}

/// `strata serve` on a free port, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("STRATA_NOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("serve prints its URL first: {line:?}"))
        .trim_end_matches('/')
        .to_string();
    Server { child, url }
}

#[test]
fn serve_runs_a_backfill_followed_over_sse_and_counts_it_in_metrics() {
    let dir = example();
    let server = serve(dir.path());
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(240))
        .build()
        .unwrap();
    let read = |response: reqwest::blocking::Response| -> Value {
        serde_json::from_str(&response.text().unwrap()).unwrap()
    };
    let health = read(
        client
            .get(format!("{}/api/v1/health", server.url))
            .send()
            .unwrap(),
    );
    assert_eq!(health["status"], "ok");
    let created = read(
        client
            .post(format!("{}/api/v1/backfills", server.url))
            .header("content-type", "application/json")
            .body(
                json!({
                    "selection": "*flights/clean_flights",
                    "partitions": {"kind": "range", "from": "2013-01-01", "to": "2013-01-01"},
                    "dry_run": false,
                })
                .to_string(),
            )
            .send()
            .unwrap(),
    );
    let run_id = created["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));

    // Follow the run over server-sent events until its final event.
    let mut stream = client
        .get(format!("{}/api/v1/runs/{run_id}/events", server.url))
        .send()
        .unwrap();
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    let mut buffer = [0u8; 4096];
    let mut names = Vec::new();
    while !names
        .iter()
        .any(|n: &String| n.starts_with("run_") && n != "run_queued" && n != "run_started")
    {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the stream ended before the run did: {text}");
        text.push_str(&String::from_utf8_lossy(&buffer[..n]));
        names = text
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .map(str::to_string)
            .collect();
    }
    assert!(names.contains(&"step_succeeded".to_string()), "{names:?}");
    assert_eq!(names.last().unwrap(), "run_succeeded", "{text}");

    let status = read(
        client
            .get(format!(
                "{}/api/v1/assets/flights/clean_flights/partitions/status",
                server.url
            ))
            .send()
            .unwrap(),
    );
    assert_eq!(status["materialized"]["count"], 1, "{status}");

    // The metrics' tail polls the log: give it a moment to see the run's end.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = client
            .get(format!("{}/metrics", server.url))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let sample = |name: &str| -> u64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or(0)
        };
        // The backfill's run, and maybe runs the daemon launched after it.
        if sample("strata_runs_total{state=\"succeeded\"}") >= 1 {
            assert!(
                sample("strata_steps_total{outcome=\"succeeded\"}") >= 2,
                "{metrics}"
            );
            assert!(sample("strata_events_total") > 10, "{metrics}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run is not counted: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let unknown = client
        .get(format!("{}/api/v1/nothing", server.url))
        .send()
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let body = read(unknown);
    assert_eq!(body["code"], "no_route");
    let ticks = read(
        client
            .get(format!("{}/api/v1/automation/ticks", server.url))
            .send()
            .unwrap(),
    );
    assert!(
        !ticks["ticks"].as_array().unwrap().is_empty(),
        "the daemon ticks inside the server: {ticks}"
    );

    // A new declaration file is picked up without a request to reload.
    std::fs::write(
        dir.path().join("assets/flights/busiest_days.sql"),
        "SELECT flight_date, sum(flights) AS flights FROM flights.daily_delays GROUP BY 1\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("{}/api/v1/assets/flights/busiest_days", server.url))
        .send()
        .unwrap()
        .status()
        .as_u16()
        != 200
    {
        assert!(Instant::now() < deadline, "the new asset was not loaded");
        std::thread::sleep(Duration::from_millis(200));
    }

    // SIGTERM stops it cleanly, and it gives the daemon's lease back: a tick can run at once.
    let mut server = server;
    let stopped = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
    let tick = crate::strata(dir.path(), &["automation", "tick", "--no-launch", "--json"]);
    assert!(
        tick.status.success(),
        "the lease was released: {}",
        crate::stderr(&tick)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_partitions_are_added_and_removed_over_the_api() {
    let dir = crate::materialize::repository(&[(
        "assets/g/per_region.sql",
        "/*---\npartitions = { dynamic = \"regions\" }\n---*/\nSELECT $partition_key AS region",
    )]);
    let (_state, app) = example_app(dir.path()).await;
    let uri = "/api/v1/partitions/dynamic/regions";
    let (status, added) = call(&app, "POST", uri, Some(r#"{"keys": ["eu", "us", "eu"]}"#)).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["changed"], 2);
    assert_eq!(added["keys"], json!(["eu", "us"]));
    let page = get(&app, "/api/v1/assets/g/per_region/partitions").await;
    assert_eq!(page["total"], 2, "{page}");
    let (status, bad) = call(&app, "POST", uri, Some(r#"{"keys": ["a|b"]}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["code"], "invalid_partition");
    let (status, removed) = call(&app, "DELETE", uri, Some(r#"{"keys": ["eu"]}"#)).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["keys"], json!(["us"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_reload_atomically_and_a_broken_repository_keeps_the_old_ones() {
    let dir = example();
    let (_state, app) = example_app(dir.path()).await;
    let count = |assets: &Value| assets["assets"].as_array().unwrap().len();
    let before = count(&get(&app, "/api/v1/assets").await);

    let new_asset = dir.path().join("assets/flights/busiest_days.sql");
    std::fs::write(
        &new_asset,
        "SELECT flight_date, sum(flights) AS flights FROM flights.daily_delays GROUP BY 1\n",
    )
    .unwrap();
    let (status, reload) = call(&app, "POST", "/api/v1/reload", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reload["loaded"], true, "{reload}");
    assert_eq!(count(&get(&app, "/api/v1/assets").await), before + 1);
    assert_eq!(
        get(&app, "/api/v1/assets/flights/busiest_days").await["kind"],
        "sql"
    );

    std::fs::write(
        &new_asset,
        "/*---\nautomation = \"eagerly\"\n---*/\nSELECT 1\n",
    )
    .unwrap();
    let (_, reload) = call(&app, "POST", "/api/v1/reload", None).await;
    assert_eq!(reload["loaded"], false, "{reload}");
    let location = reload["errors"][0]["location"].as_str().unwrap();
    assert!(
        location.starts_with("assets/flights/busiest_days.sql:2:"),
        "errors point at file:line:col: {reload}"
    );
    assert_eq!(
        count(&get(&app, "/api/v1/assets").await),
        before + 1,
        "the previous definitions stay in service"
    );
    let health = get(&app, "/api/v1/health").await;
    assert_eq!(health["errors"][0]["location"], location, "{health}");

    std::fs::remove_file(&new_asset).unwrap();
    let (_, reload) = call(&app, "POST", "/api/v1/reload", None).await;
    assert_eq!(reload["loaded"], true);
    assert_eq!(count(&get(&app, "/api/v1/assets").await), before);
    assert_eq!(get(&app, "/api/v1/health").await["errors"], json!([]));
}
