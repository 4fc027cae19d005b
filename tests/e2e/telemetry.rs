//! Span export over OTLP/HTTP: `strata materialize` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing
//! at a loopback collector made here, which decodes what arrives as the OTLP protobuf messages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::materialize::repository;
use crate::{json, stderr, stdout};

/// Every variable that could turn export on or redirect it, cleared for the child so a
/// developer's own OpenTelemetry set-up cannot leak into the test.
const OTEL_VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "STRATA_LOG",
];

/// Runs `strata` like `crate::strata`, with `env` set and every other OpenTelemetry variable
/// cleared.
fn strata_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    command.args(args).current_dir(dir).env_remove("STRATA_NOW");
    for var in OTEL_VARS {
        command.env_remove(var);
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("strata runs")
}

/// A loopback OTLP/HTTP collector: answers every POST with 200 and an empty
/// `ExportTraceServiceResponse`, and hands over each request's path and body. It stops (and its
/// threads end) when dropped; each connection ends at the client's close or after 10 s idle.
struct Collector {
    port: u16,
    requests: mpsc::Receiver<(String, Vec<u8>)>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, requests) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let acceptor = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let sender = sender.clone();
                        std::thread::spawn(move || serve(stream, &sender));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Collector {
            port,
            requests,
            stop,
            acceptor: Some(acceptor),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests received so far. The collector queues a request before it answers, and
    /// `strata` waits for the answers before it exits, so after the run they are all here.
    fn received(&self) -> Vec<(String, Vec<u8>)> {
        self.requests.try_iter().collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Serves HTTP/1.1 requests on one connection (keep-alive) until the client closes it.
fn serve(stream: TcpStream, requests: &mpsc::Sender<(String, Vec<u8>)>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            assert!(
                !name.eq_ignore_ascii_case("transfer-encoding"),
                "the exporter sends bodies with a length: {header}"
            );
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let _ = requests.send((path, body));
        let answer = ExportTraceServiceResponse::default().encode_to_vec();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&answer).is_err() {
            return;
        }
    }
}

/// Two daily SQL assets, the second reading the first, over 2024-01-01 and 2024-01-02.
fn two_assets_two_days() -> tempfile::TempDir {
    let daily = "partitions = { daily = { start = \"2024-01-01\", end = \"2024-01-03\" } }";
    repository(&[
        (
            "assets/g/up.sql",
            &format!("/*---\n{daily}\n---*/\nSELECT $partition_key AS day, 1 AS n"),
        ),
        (
            "assets/g/down.sql",
            &format!("/*---\n{daily}\n---*/\nSELECT day, n * 2 AS n FROM g.up"),
        ),
    ])
}

const MATERIALIZE: &[&str] = &[
    "materialize",
    "*",
    "--from",
    "2024-01-01",
    "--to",
    "2024-01-02",
    "--json",
];

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> String {
    match attribute(attributes, key) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => panic!("attribute {key}: {other:?}"),
    }
}

/// The run's JSON report without what differs from run to run.
fn comparable(report: &serde_json::Value) -> serde_json::Value {
    let mut report = report.clone();
    let object = report.as_object_mut().unwrap();
    object.remove("run_id");
    object.remove("elapsed_ms");
    report
}

#[test]
fn a_run_and_its_steps_are_exported_as_one_trace_over_otlp_http() {
    let collector = Collector::start();
    let dir = two_assets_two_days();
    let output = strata_with_env(
        dir.path(),
        MATERIALIZE,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint())],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "export must print nothing");
    let report = json(&output);
    assert_eq!(report["steps"], 4, "{}", stdout(&output));
    let run_id = report["run_id"].as_str().unwrap();

    let received = collector.received();
    assert!(!received.is_empty(), "no export reached the collector");
    let mut spans: Vec<Span> = Vec::new();
    for (path, body) in &received {
        assert_eq!(path, "/v1/traces");
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        for resource_spans in request.resource_spans {
            let resource = resource_spans.resource.expect("a resource");
            assert_eq!(
                string_attribute(&resource.attributes, "service.name"),
                "strata"
            );
            for scope_spans in resource_spans.scope_spans {
                spans.extend(scope_spans.spans);
            }
        }
    }

    let runs: Vec<&Span> = spans.iter().filter(|s| s.name == "run").collect();
    assert_eq!(runs.len(), 1, "{spans:#?}");
    let run = runs[0];
    assert_eq!(string_attribute(&run.attributes, "run_id"), run_id);
    assert!(run.parent_span_id.is_empty(), "the run span is a root");
    assert_eq!(
        attribute(&run.attributes, "steps"),
        Some(&any_value::Value::IntValue(4))
    );

    let steps: Vec<&Span> = spans.iter().filter(|s| s.name == "step").collect();
    assert_eq!(steps.len(), 4, "{spans:#?}");
    let mut assets: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for step in &steps {
        assert_eq!(step.trace_id, run.trace_id, "a step is in its run's trace");
        assert_eq!(
            step.parent_span_id, run.span_id,
            "a step is its run's child"
        );
        assert_eq!(string_attribute(&step.attributes, "outcome"), "succeeded");
        assert_eq!(
            attribute(&step.attributes, "attempts"),
            Some(&any_value::Value::IntValue(1))
        );
        assert!(step.start_time_unix_nano >= run.start_time_unix_nano);
        assert!(step.end_time_unix_nano <= run.end_time_unix_nano);
        assets.push(string_attribute(&step.attributes, "asset"));
        labels.push(string_attribute(&step.attributes, "label"));
    }
    assets.sort();
    assert_eq!(assets, ["g/down", "g/down", "g/up", "g/up"]);
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), 4, "one label per step: {labels:?}");
}

#[test]
fn without_an_endpoint_or_with_an_unreachable_one_a_run_prints_the_same() {
    // Without any OpenTelemetry variable: no subscriber, and the collector hears nothing.
    let collector = Collector::start();
    let plain = strata_with_env(
        two_assets_two_days().path(),
        MATERIALIZE,
        &[("OTEL_SERVICE_NAME", "not-an-endpoint")],
    );
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(stderr(&plain), "");
    assert!(collector.received().is_empty());
    drop(collector);

    // A collector that refuses connections: the run succeeds and prints the same, and the
    // process does not hang on the flush at exit.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let started = Instant::now();
    let unreachable = strata_with_env(
        two_assets_two_days().path(),
        MATERIALIZE,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    let took = started.elapsed();
    assert!(unreachable.status.success(), "{}", stderr(&unreachable));
    assert_eq!(stderr(&unreachable), "");
    assert_eq!(comparable(&json(&unreachable)), comparable(&json(&plain)));
    assert!(
        took < Duration::from_secs(15),
        "an unreachable collector held the exit for {took:?}"
    );
}
