//! Where Strata's `tracing` spans go: to an OpenTelemetry collector over OTLP when the standard
//! `OTEL_EXPORTER_OTLP_*` variables ask for it, and as text to stderr when `STRATA_LOG` asks for
//! it. By default neither: no subscriber is installed, the spans cost next to nothing, and the
//! CLI prints exactly what it always printed.
//!
//! The executor opens a `run` span for each run and a `step` span for each step, the step's
//! the run's child (`strata_engine::executor`, `strata_engine::step`). A collector sees one trace
//! per run. See docs/execution.md, "Tracing".
//!
//! Export is OTLP over HTTP with protobuf bodies, nothing else (no gRPC: it would build tonic).
//! Spans leave in batches from the SDK's own thread, so a slow or unreachable collector neither
//! slows nor fails a run; [`Telemetry`]'s drop flushes what is left before the process exits,
//! waiting at most [`FLUSH_TIMEOUT`].

use std::io::Read;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{EnvResourceDetector, ResourceDetector};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

/// The service name when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one
/// (the SDK's own default, `unknown_service`, would name no one).
const SERVICE_NAME: &str = "strata";

/// How long the process waits at exit for the last spans to reach the collector. A CLI run is
/// short: without this flush its spans would still be queued when the process ends.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The tracing set-up of this process; dropping it flushes and stops the exporter. Keep it alive
/// for as long as spans may be opened.
pub(crate) struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // An export failure was already the collector's problem; the run's outcome stands.
            let _ = provider.shutdown_with_timeout(FLUSH_TIMEOUT);
        }
    }
}

/// Installs the global `tracing` subscriber this process's environment asks for, if any.
///
/// Nothing is installed when neither an OTLP endpoint nor `STRATA_LOG` is set, and nothing is
/// replaced when a binary embedding Strata installed its own subscriber first. A configuration
/// that cannot work (an endpoint that is not a URL, a `STRATA_LOG` that does not parse) is one
/// warning on stderr, never a failed command.
pub(crate) fn init() -> Telemetry {
    let log = log_filter();
    let provider = otlp_endpoint_set().then(tracer_provider).flatten();
    if log.is_none() && provider.is_none() {
        return Telemetry { provider: None };
    }
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("strata"))
            // The exporter's own diagnostics stay out of what it exports (STRATA_LOG shows them).
            .with_filter(
                Targets::new()
                    .with_default(LevelFilter::INFO)
                    .with_target("opentelemetry", LevelFilter::OFF),
            )
    });
    let fmt = log.map(|filter| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
    });
    let subscriber = tracing_subscriber::registry().with(otel).with(fmt);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        // Someone else's subscriber is in place: export nothing of ours beside it.
        return Telemetry { provider: None };
    }
    Telemetry { provider }
}

/// Whether an OTLP traces endpoint is configured: exporting is opt-in, by the standard variables.
fn otlp_endpoint_set() -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|var| std::env::var_os(var).is_some_and(|value| !value.is_empty()))
}

/// `STRATA_LOG` as a filter (`info`, `strata_engine=debug,warn`, …), when set. Not `RUST_LOG`:
/// that one is often set for other programs, and Strata's stderr must not change with it.
fn log_filter() -> Option<Targets> {
    let value = std::env::var("STRATA_LOG").ok().filter(|v| !v.is_empty())?;
    value
        .parse()
        .map_err(|error| eprintln!("warning: STRATA_LOG={value:?} ignored: {error}"))
        .ok()
}

/// The SDK's tracer provider with a batching OTLP/HTTP exporter. The exporter itself reads the
/// endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, or `OTEL_EXPORTER_OTLP_ENDPOINT` plus
/// `/v1/traces`), headers and compression from the environment.
fn tracer_provider() -> Option<SdkTracerProvider> {
    let client = reqwest::blocking::Client::builder()
        .timeout(export_timeout())
        .build()
        .map_err(|error| eprintln!("warning: traces are not exported: {error}"))
        .ok()?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(BlockingClient(client))
        .build()
        .map_err(|error| eprintln!("warning: traces are not exported: {error}"))
        .ok()?;
    let mut resource = Resource::builder();
    if !service_name_set() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    Some(
        SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_batch_exporter(exporter)
            .build(),
    )
}

/// Whether the environment names the service (the SDK then uses that name, as the spec says).
fn service_name_set() -> bool {
    std::env::var_os("OTEL_SERVICE_NAME").is_some_and(|name| !name.is_empty())
        || EnvResourceDetector::new()
            .detect()
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .is_some()
}

/// One export request's time limit: `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or
/// `OTEL_EXPORTER_OTLP_TIMEOUT` in milliseconds, else the specification's 10 s. The exporter
/// reads them too, but only for the clients it builds itself.
fn export_timeout() -> Duration {
    [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .find_map(|var| std::env::var(var).ok()?.trim().parse().ok())
    .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// The exporter's HTTP client: reqwest 0.12's blocking client, which object_store already builds
/// with rustls (so `https://` endpoints work). The exporter's own reqwest feature would build
/// reqwest 0.13 a second time. Blocking is what the SDK's batch thread wants: it has no async
/// runtime, and the commands' runtimes come and go.
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

/// The most of a collector's answer that is read (the exporter only looks for a partial-success
/// message in it).
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

#[async_trait::async_trait]
impl HttpClient for BlockingClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let response = self.0.execute(request.try_into()?)?;
        let status = response.status();
        let mut body = Vec::new();
        response.take(MAX_RESPONSE_BYTES).read_to_end(&mut body)?;
        Ok(Response::builder().status(status).body(Bytes::from(body))?)
    }
}
