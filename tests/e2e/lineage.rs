//! Lineage below the asset graph, on one materialized day of the example: the column lineage of
//! every SQL asset (a golden file, read and checked by hand), partition lineage up and down,
//! the API's two routes, and the OpenLineage events the run emitted — every one validated
//! against the OpenLineage JSON schemas committed in `openlineage-spec/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{call, example_app, get};
use crate::automation::golden;
use crate::json_schema::Registry;
use crate::materialize::{example, example_in, repository};
use crate::{json, root, stderr, stdout, strata};

/// The example with `*flights/delays_vs_weather` materialized for 2013-01-01, shared by the
/// tests here (materializing is the slow part). A static is never dropped, so it lives in one
/// folder under the test target directory, replaced by each run of the tests.
fn materialized() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lineage-example");
        let _ = std::fs::remove_dir_all(&dir);
        example_in(&dir);
        let run = strata(
            &dir,
            &[
                "materialize",
                "*flights/delays_vs_weather",
                "--partition",
                "2013-01-01",
                "--json",
            ],
        );
        assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
        dir
    })
}

/// Every SQL asset of the example, by key.
fn sql_assets() -> Vec<String> {
    let mut keys = Vec::new();
    for group in std::fs::read_dir(root().join("assets")).unwrap() {
        let group = group.unwrap();
        for file in std::fs::read_dir(group.path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "sql") {
                keys.push(format!(
                    "{}/{}",
                    group.file_name().to_string_lossy(),
                    path.file_stem().unwrap().to_string_lossy()
                ));
            }
        }
    }
    keys.sort();
    keys
}

#[test]
fn every_sql_asset_of_the_example_has_exact_column_lineage() {
    let dir = materialized();
    let mut text = String::new();
    for key in sql_assets() {
        let out = strata(dir, &["lineage", &key, "--columns"]);
        assert!(out.status.success(), "{key}: {}", stderr(&out));
        text.push_str(&stdout(&out));
        text.push('\n');
    }
    golden("column_lineage.txt", &text);

    // The JSON form, spot-checked: a rolling aggregate, a join's copies and its keys.
    let daily = json(&strata(
        dir,
        &["lineage", "flights/daily_delays", "--columns", "--json"],
    ));
    assert_eq!(daily["origin"], "sql");
    let share = column(&daily, "share_delayed_15");
    assert_eq!(share["transform"], "aggregate");
    assert_eq!(
        share["sources"],
        json!([{"asset": "flights/clean_flights", "column": "delayed_15", "transform": "aggregate"}])
    );
    let weather = json(&strata(
        dir,
        &[
            "lineage",
            "flights/delays_vs_weather",
            "--columns",
            "--json",
        ],
    ));
    assert_eq!(
        column(&weather, "airline_name")["sources"],
        json!([{"asset": "dims/airlines", "column": "airline_name", "transform": "copy"}])
    );
    let join_keys: Vec<String> = weather["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["effects"] == json!(["join_key"]))
        .map(|r| {
            format!(
                "{}.{}",
                r["asset"].as_str().unwrap(),
                r["column"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        join_keys,
        [
            "dims/airlines.carrier",
            "dims/airports.faa",
            "flights/daily_delays.carrier",
            "flights/daily_delays.origin",
            "weather/daily_weather.origin",
        ]
    );

    // A command reports its own: raw/flights reported none, so its columns have no sources.
    let raw = json(&strata(
        dir,
        &["lineage", "raw/flights", "--columns", "--json"],
    ));
    assert_eq!(raw["origin"], "none");
    assert!(column(&raw, "carrier")["sources"] == json!([]), "{raw}");
}

fn column<'a>(lineage: &'a Value, name: &str) -> &'a Value {
    lineage["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {lineage}"))
}

#[test]
fn column_lineage_says_which_upstream_to_materialize_first() {
    let dir = example();
    let out = strata(
        dir.path(),
        &["lineage", "flights/daily_delays", "--columns"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: the columns of `raw/flights` are not known yet: materialize it once \
         (`strata materialize raw/flights`), then ask again"
    );
    let out = strata(dir.path(), &["lineage", "flights/daily_delay", "--columns"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("flights/daily_delays"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn partition_lineage_goes_up_to_the_sources_and_down_to_every_consumer() {
    let dir = materialized();
    let up = json(&strata(
        dir,
        &[
            "lineage",
            "flights/delays_vs_weather",
            "--partition",
            "2013-01-01",
            "--upstream",
            "--json",
        ],
    ));
    let nodes: Vec<(String, String, i64, String)> = up["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["asset"].as_str().unwrap().to_string(),
                n["partition"].as_str().unwrap_or("-").to_string(),
                n["distance"].as_i64().unwrap(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, i64, String)> = [
        ("flights/delays_vs_weather", "2013-01-01", 0, "materialized"),
        ("dims/airlines", "-", -1, "materialized"),
        ("dims/airports", "-", -1, "materialized"),
        ("flights/daily_delays", "2013-01-01", -1, "materialized"),
        ("weather/daily_weather", "2013-01-01", -1, "materialized"),
        ("raw/airlines", "-", -2, "materialized"),
        ("raw/airports", "-", -2, "materialized"),
        ("flights/clean_flights", "2013-01-01", -2, "materialized"),
        ("raw/weather", "2013-01-01", -2, "materialized"),
        ("raw/nycflights13_files", "-", -3, "observed"),
        ("raw/flights", "2013-01-01", -3, "materialized"),
    ]
    .iter()
    .map(|(a, p, d, s)| (a.to_string(), p.to_string(), *d, s.to_string()))
    .collect();
    assert_eq!(nodes, expected, "{up}");
    // Every edge is what was consumed, and nothing changed since.
    let edges = up["edges"].as_array().unwrap();
    assert!(edges.iter().all(|e| e["current"] == true), "{up}");
    let daily = edges
        .iter()
        .find(|e| e["upstream"] == "flights/daily_delays")
        .unwrap();
    let daily_now = up["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["asset"] == "flights/daily_delays")
        .unwrap();
    assert_eq!(daily["data_version"], daily_now["data_version"]);
    assert_eq!(daily["count"], 1);

    let down = json(&strata(
        dir,
        &[
            "lineage",
            "raw/flights",
            "--partition",
            "2013-01-01",
            "--downstream",
            "--json",
        ],
    ));
    let reached: Vec<String> = down["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{} {}", n["asset"].as_str().unwrap(), n["distance"]))
        .collect();
    assert_eq!(
        reached,
        [
            "raw/flights 0",
            "flights/clean_flights 1",
            "flights/daily_delays 2",
            "flights/delays_vs_weather 3",
        ]
    );

    // An unpartitioned asset, both ways, in text.
    let out = strata(dir, &["lineage", "dims/airlines", "--partition", ""]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("dims/airlines <- raw/airlines (1 partition"),
        "{text}"
    );
    assert!(
        text.contains("dims/airlines -> flights/delays_vs_weather 2013-01-01"),
        "{text}"
    );
}

#[test]
fn partition_lineage_rejects_what_it_cannot_answer() {
    let dir = materialized();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "lineage",
                "flights/daily_delays",
                "--partition",
                "2013-01-02",
            ],
            "error: flights/daily_delays 2013-01-02 is not materialized; partition lineage starts from a materialized partition",
        ),
        (
            &[
                "lineage",
                "flights/daily_delays",
                "--partition",
                "2014-05-01",
            ],
            "error: `2014-05-01` is not a partition of flights/daily_delays: its partitions run from `2013-01-01` to `2013-12-31`",
        ),
        (
            &["lineage", "dims/airlines", "--partition", "2013-01-01"],
            "error: dims/airlines is not partitioned; leave the partition out",
        ),
        (
            &["lineage", "flights/daily_delays", "--upstream"],
            "error: flights/daily_delays is partitioned (daily from 2013-01-01 to 2014-01-01 (America/New_York)); name a partition",
        ),
    ];
    for (args, message) in cases {
        let out = strata(dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&out).trim(), message, "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_column_and_partition_lineage() {
    let dir = materialized();
    let (_state, app) = example_app(dir).await;
    let columns = get(
        &app,
        "/api/v1/assets/flights/monthly_delays/lineage/columns",
    )
    .await;
    assert_eq!(columns["asset"], "flights/monthly_delays");
    assert_eq!(
        column(&columns, "avg_arr_delay")["sources"],
        json!([
            {"asset": "flights/daily_delays", "column": "arr_delay_sum", "transform": "aggregate"},
            {"asset": "flights/daily_delays", "column": "arrivals", "transform": "aggregate"},
        ])
    );
    let up = get(
        &app,
        "/api/v1/assets/flights/clean_flights/lineage/partitions?partition=2013-01-01&direction=upstream",
    )
    .await;
    assert_eq!(up["direction"], "upstream");
    assert_eq!(up["nodes"].as_array().unwrap().len(), 3, "{up}");

    for (uri, status, code) in [
        (
            "/api/v1/assets/flights/nope/lineage/columns",
            StatusCode::NOT_FOUND,
            "unknown_asset",
        ),
        (
            "/api/v1/assets/flights/clean_flights/lineage/partitions?partition=2013-01-01&direction=sideways",
            StatusCode::BAD_REQUEST,
            "invalid_direction",
        ),
        (
            "/api/v1/assets/flights/clean_flights/lineage/partitions?partition=2013-02-30",
            StatusCode::BAD_REQUEST,
            "invalid_partition",
        ),
        (
            "/api/v1/assets/flights/clean_flights/lineage/partitions?partition=2013-03-01",
            StatusCode::NOT_FOUND,
            "not_materialized",
        ),
        (
            "/api/v1/assets/flights/clean_flights/lineage/partitions?partiton=2013-03-01",
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ] {
        let (got, body) = call(&app, "GET", uri, None).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(body["code"], code, "{uri}: {body}");
    }

    let fresh = example();
    let (_state, app) = example_app(fresh.path()).await;
    let (got, body) = call(
        &app,
        "GET",
        "/api/v1/assets/flights/daily_delays/lineage/columns",
        None,
    )
    .await;
    assert_eq!(got, StatusCode::OK, "{body}");
    assert_eq!(body["columns"], serde_json::json!([]), "{body}");
    assert!(
        body["unavailable"]
            .as_str()
            .is_some_and(|why| why.contains("are not known yet")),
        "says which upstream to materialize: {body}"
    );
}

/// The OpenLineage schemas committed as test data, with their `$ref`s resolved offline.
///
/// The facets point at `https://openlineage.io/spec/1-0-x/OpenLineage.json#/$defs/…`; the
/// committed core document keeps its definitions under `definitions` (the older layout), so it
/// is registered at those URLs with `$defs` holding the same definitions.
struct Spec {
    registry: Registry,
}

const CORE: &str = "openlineage-spec:OpenLineage.json";
const FACETS: [(&str, &str); 3] = [
    (
        "ColumnLineageDatasetFacet",
        "https://openlineage.io/spec/facets/1-0-1/ColumnLineageDatasetFacet.json",
    ),
    (
        "SchemaDatasetFacet",
        "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json",
    ),
    (
        "NominalTimeRunFacet",
        "https://openlineage.io/spec/1-0-1/NominalTimeRunFacet.json",
    ),
];

impl Spec {
    fn load() -> Self {
        let dir = root().join("tests/e2e/openlineage-spec");
        let read = |name: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
        };
        let mut registry = Registry::default();
        let core = read("OpenLineage.json");
        let mut core_with_defs = core.clone();
        core_with_defs["$defs"] = core["definitions"].clone();
        registry.register(CORE, core);
        for version in ["1-0-1", "1-0-2"] {
            registry.register(
                &format!("https://openlineage.io/spec/{version}/OpenLineage.json"),
                core_with_defs.clone(),
            );
        }
        for (name, url) in FACETS {
            let facet = read(&format!("facets/{name}.json"));
            assert_eq!(facet["$id"], url, "{name}");
            registry.register(url, facet);
        }
        Self { registry }
    }

    /// Every error in `event`: against the core schema, and each facet object (run facets,
    /// each dataset's facets) against every facet schema (each checks the facet it names).
    fn errors(&self, event: &Value) -> Vec<String> {
        let mut errors = self.registry.errors(CORE, event);
        let mut facet_objects = vec![&event["run"]["facets"]];
        for list in ["inputs", "outputs"] {
            for dataset in event[list].as_array().into_iter().flatten() {
                facet_objects.push(&dataset["facets"]);
            }
        }
        for facets in facet_objects.into_iter().filter(|f| !f.is_null()) {
            for (name, url) in FACETS {
                errors.extend(
                    self.registry
                        .errors(url, facets)
                        .into_iter()
                        .map(|e| format!("{name}: {e}")),
                );
            }
        }
        errors
    }
}

fn events_of(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn every_openlineage_event_of_a_run_validates_against_the_spec() {
    let dir = materialized();
    let events = events_of(&std::fs::read_to_string(dir.join(".strata/lineage.ndjson")).unwrap());
    let spec = Spec::load();
    for event in &events {
        let errors = spec.errors(event);
        assert!(errors.is_empty(), "{errors:?}\n{event}");
    }
    // One START and one COMPLETE per step (11 steps, the source's observation too), each pair
    // under one run id.
    let mut runs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for event in &events {
        runs.entry(event["run"]["runId"].as_str().unwrap().to_string())
            .or_default()
            .push(event["eventType"].as_str().unwrap().to_string());
    }
    assert_eq!(runs.len(), 11, "{runs:?}");
    assert!(
        runs.values().all(|types| types == &["START", "COMPLETE"]),
        "{runs:?}"
    );

    let complete = events
        .iter()
        .find(|e| e["eventType"] == "COMPLETE" && e["job"]["name"] == "flights/daily_delays")
        .unwrap();
    assert_eq!(complete["job"]["namespace"], "flights");
    assert_eq!(
        complete["run"]["facets"]["nominalTime"]["nominalStartTime"],
        "2013-01-01T05:00:00.000Z"
    );
    assert_eq!(
        complete["run"]["facets"]["nominalTime"]["nominalEndTime"],
        "2013-01-02T05:00:00.000Z"
    );
    let output = &complete["outputs"][0];
    assert_eq!(output["name"], "flights/daily_delays");
    let fields = &output["facets"]["columnLineage"]["fields"];
    assert_eq!(
        fields["avg_dep_delay"]["inputFields"],
        json!([{
            "namespace": "flights", "name": "flights/clean_flights", "field": "dep_delay",
            "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION", "description": "aggregate", "masking": false}],
        }])
    );
    // Every column with lineage is in the schema facet.
    let schema: Vec<&str> = output["facets"]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for name in fields.as_object().unwrap().keys() {
        assert!(schema.contains(&name.as_str()), "{name} not in {schema:?}");
    }
    assert!(!schema.contains(&"partition_key"), "{schema:?}");
    // The inputs carry their schemas.
    assert!(complete["inputs"][0]["facets"]["schema"]["fields"].is_array());
}

#[test]
fn a_broken_event_fails_validation() {
    let spec = Spec::load();
    let dir = materialized();
    let events = events_of(&std::fs::read_to_string(dir.join(".strata/lineage.ndjson")).unwrap());
    let complete = events
        .iter()
        .find(|e| e["eventType"] == "COMPLETE" && e["job"]["name"] == "flights/daily_delays")
        .unwrap();
    assert_eq!(spec.errors(complete), Vec::<String>::new());
    type Breakage = fn(&mut Value);
    let breakages: [(&str, Breakage); 5] = [
        ("no run id", |e| {
            e["run"].as_object_mut().unwrap().remove("runId");
        }),
        ("unknown event type", |e| e["eventType"] = json!("DONE")),
        ("a facet without _producer", |e| {
            e["run"]["facets"]["nominalTime"]
                .as_object_mut()
                .unwrap()
                .remove("_producer");
        }),
        ("a schema field without a name", |e| {
            e["outputs"][0]["facets"]["schema"]["fields"][0] = json!({"type": "Utf8"});
        }),
        ("a lineage input without its field", |e| {
            e["outputs"][0]["facets"]["columnLineage"]["fields"]["avg_dep_delay"]["inputFields"][0]
                .as_object_mut()
                .unwrap()
                .remove("field");
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = complete.clone();
        breakage(&mut broken);
        assert!(!spec.errors(&broken).is_empty(), "{what} passed validation");
    }
}

/// A loopback HTTP server that answers 200 to every POST and keeps the bodies.
fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/lineage", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut length = 0;
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                assert!(
                    request_line.starts_with("POST /api/v1/lineage "),
                    "{request_line}"
                );
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .unwrap();
            }
        }
    });
    (url, bodies)
}

fn lineage_repository(openlineage: &str) -> tempfile::TempDir {
    repository(&[
        (
            "strata.toml",
            &format!(
                "[project]\nname = \"t\"\n[openlineage]\n{openlineage}\nnamespace = \"tests\"\n"
            ),
        ),
        (
            "assets/a/numbers.sql",
            "/*---\npartitions = { daily = { start = \"2024-01-01\" } }\n---*/\n\
             SELECT 1 AS n, 'x' AS label",
        ),
        (
            "assets/a/doubled.sql",
            "/*---\npartitions = { daily = { start = \"2024-01-01\" } }\n---*/\n\
             SELECT n * 2 AS doubled, label FROM a.numbers",
        ),
    ])
}

#[test]
fn openlineage_events_are_posted_to_a_real_http_receiver() {
    let (url, bodies) = receiver();
    let dir = lineage_repository(&format!("url = \"{url}\""));
    let run = strata(
        dir.path(),
        &["materialize", "*", "--partition", "2024-01-02"],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let events = bodies.lock().unwrap().clone();
    let summary: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["eventType"].as_str().unwrap(),
                e["job"]["name"].as_str().unwrap()
            )
        })
        .collect();
    // Each step's START comes before its COMPLETE; a COMPLETE (sent once its facets are read)
    // may follow the next step's START.
    let position = |event: &str| summary.iter().position(|s| s == event);
    for asset in ["a/numbers", "a/doubled"] {
        let (start, complete) = (
            position(&format!("START {asset}")),
            position(&format!("COMPLETE {asset}")),
        );
        assert!(
            start.is_some() && complete.is_some() && start < complete,
            "{summary:?}"
        );
    }
    assert_eq!(summary.len(), 4, "{summary:?}");
    assert!(
        position("START a/numbers") < position("START a/doubled"),
        "upstream first: {summary:?}"
    );
    let spec = Spec::load();
    for event in &events {
        assert_eq!(spec.errors(event), Vec::<String>::new(), "{event}");
        assert_eq!(event["job"]["namespace"], "tests");
    }
    let doubled = &events[3]["outputs"][0]["facets"]["columnLineage"]["fields"];
    assert_eq!(doubled["doubled"]["inputFields"][0]["name"], "a/numbers");
    assert_eq!(doubled["doubled"]["inputFields"][0]["field"], "n");
    assert_eq!(
        events[3]["run"]["facets"]["nominalTime"]["nominalStartTime"],
        "2024-01-02T00:00:00.000Z"
    );
}

#[test]
fn an_unreachable_receiver_never_fails_a_materialization() {
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = lineage_repository(&format!("url = \"http://127.0.0.1:{port}/lineage\""));
    let run = strata(
        dir.path(),
        &["materialize", "*", "--partition", "2024-01-02", "--json"],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(json(&run)["status"], "succeeded");
}

#[test]
fn a_failed_step_sends_fail_with_its_error() {
    let dir = repository(&[
        (
            "strata.toml",
            "[project]\nname = \"t\"\n[openlineage]\nfile = \"events.ndjson\"\n",
        ),
        ("assets/a/broken.sql", "SELECT nope FROM (SELECT 1 AS n)"),
    ]);
    let run = strata(dir.path(), &["materialize", "a/broken"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let events = events_of(&std::fs::read_to_string(dir.path().join("events.ndjson")).unwrap());
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["START", "FAIL"]);
    let fail = &events[1];
    assert_eq!(fail["job"]["namespace"], "t", "the project name by default");
    assert!(
        fail["run"]["facets"]["errorMessage"]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{fail}"
    );
    assert_eq!(Spec::load().errors(fail), Vec::<String>::new());
}

#[test]
fn a_command_shows_the_column_lineage_it_reported() {
    let script = "import os\n\
        open(os.environ['STRATA_OUTPUT'], 'w').write('total,id\\n3,1\\n')\n\
        open(os.environ['STRATA_EVENTS'], 'a').write('{\"type\": \"column_lineage\", \"columns\": {\"total\": [{\"asset\": \"a/orders\", \"column\": \"amount\"}]}}\\n')\n";
    let dir = repository(&[
        ("report.py", script),
        ("assets/a/orders.sql", "SELECT 1.5 AS amount"),
        (
            "assets/a/totals.toml",
            "command = [\"python3\", \"report.py\"]\noutput = \"csv\"\n[deps.\"a/orders\"]\n",
        ),
    ]);
    let run = strata(dir.path(), &["materialize", "*"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let lineage = json(&strata(
        dir.path(),
        &["lineage", "a/totals", "--columns", "--json"],
    ));
    assert_eq!(
        lineage,
        json!({
            "asset": "a/totals",
            "origin": "reported",
            "columns": [
                {"name": "total", "type": "Int64", "transform": null,
                 "sources": [{"asset": "a/orders", "column": "amount", "transform": null}]},
                {"name": "id", "type": "Int64", "transform": null, "sources": []},
            ],
            "rows": [],
        })
    );
}
