//! Alerts against a real HTTP receiver on loopback: exactly one firing and one resolution per
//! state change (a failing check then fixed, freshness failing then fresh, a failed run then
//! fixed, a month's cost pushed over budget by a backfill), retries against a receiver that
//! answers 500 while runs still succeed, `strata alerts` and the rules API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::api::{call, example_app, get};
use crate::materialize::repository;
use crate::{json, stderr, stdout};

/// An HTTP server on loopback that answers every POST with `status` and keeps the bodies.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok()
                    && let Ok(value) = serde_json::from_slice(&body)
                {
                    kept.lock().unwrap().push(value);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Self { url, bodies }
    }

    /// (rule, state, subject) of every body received, in order.
    fn received(&self) -> Vec<(String, String, String)> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["rule"].as_str().unwrap_or_default().to_string(),
                    b["state"].as_str().unwrap_or_default().to_string(),
                    b["subject"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn of_rule(&self, rule: &str) -> Vec<(String, String)> {
        self.received()
            .into_iter()
            .filter(|(r, _, _)| r == rule)
            .map(|(_, state, subject)| (state, subject))
            .collect()
    }
}

/// A command that reports one credit and writes a row whose `value` is empty while
/// `data/bad` exists (so its not_null check fails), and exits 1 while `data/crash` exists.
const SCRIPT: &str = r#"import json, os, sys
if os.path.exists("data/crash"):
    sys.exit(1)
value = "" if os.path.exists("data/bad") else "7"
with open(os.environ["STRATA_OUTPUT"], "w") as f:
    f.write("id,value\n1,%s\n" % value)
with open(os.environ["STRATA_EVENTS"], "a") as f:
    f.write(json.dumps({"type": "cost", "amount": 1.0, "unit": "credits"}) + "\n")
"#;

fn alerts_repository(receiver: &Receiver, extra: &str) -> tempfile::TempDir {
    let dir = repository(&[
        ("scripts/events.py", SCRIPT),
        ("data/.keep", ""),
        (
            "assets/raw/events.toml",
            r#"command = ["python3", "scripts/events.py"]
output = "csv"
schema = { id = "int64", value = "int64" }
tags = { team = "ops" }
freshness = { max_lag = "1h" }
checks = [{ not_null = ["value"] }]
"#,
        ),
        (
            "assets/stats/summary.sql",
            "/*---\ntags = { team = \"ops\" }\nautomation = \"missing & !in_progress\"\n---*/\nSELECT count(*) AS n FROM raw.events\n",
        ),
    ]);
    let project = format!(
        r#"[project]
name = "alerts"
[executor]
concurrency = 2
[rate_card]
currency = "USD"
cpu_hour = 0.05
units = {{ credits = 10.0 }}
[alerts]
max_attempts = 3
retry_delay = "1s"
{extra}
[alerts.channels.hook]
kind = "webhook"
url = "{}"
[[alerts.rules]]
name = "quality"
when = {{ check_failed = {{ severity = "error" }} }}
select = "tag:team=ops"
channels = ["hook"]
[[alerts.rules]]
name = "stale"
when = {{ freshness = "fail" }}
select = "raw/events"
channels = ["hook"]
[[alerts.rules]]
name = "failures"
when = "run_failed"
channels = ["hook"]
[[alerts.rules]]
name = "budget"
when = {{ cost = {{ per = "month", over = 25.0, by = "tag:team" }} }}
channels = ["hook"]
"#,
        receiver.url
    );
    std::fs::write(dir.path().join("strata.toml"), project).unwrap();
    dir
}

/// Runs `strata` at a fixed "now".
fn strata_at(dir: &Path, now: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(dir)
        .env("STRATA_NOW", now)
        .output()
        .expect("strata runs")
}

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

fn flag(dir: &Path, name: &str, on: bool) {
    let path = dir.join("data").join(name);
    if on {
        std::fs::write(path, "").unwrap();
    } else {
        std::fs::remove_file(path).unwrap();
    }
}

fn firing(subject: &str) -> (String, String) {
    ("firing".into(), subject.into())
}

fn resolved(subject: &str) -> (String, String) {
    ("resolved".into(), subject.into())
}

#[test]
fn each_state_change_posts_exactly_once() {
    let receiver = Receiver::start(200);
    let dir = alerts_repository(&receiver, "");
    let dir = dir.path();
    let tick = |now: &str| json(&ok(strata_at(dir, now, &["automation", "tick", "--json"])));

    // A failing check fires once; ticks that find it still failing send nothing.
    flag(dir, "bad", true);
    ok(strata_at(
        dir,
        "2026-01-10T00:00:00Z",
        &["materialize", "raw/events"],
    ));
    let first = tick("2026-01-10T00:01:00Z");
    assert_eq!(first["alerts"], 1, "{first}");
    assert_eq!(first["runs"][0]["status"], "succeeded", "{first}");
    tick("2026-01-10T00:02:00Z");
    assert_eq!(receiver.of_rule("quality"), vec![firing("raw/events")]);

    // Fixed: it resolves once.
    flag(dir, "bad", false);
    ok(strata_at(
        dir,
        "2026-01-10T00:03:00Z",
        &["materialize", "raw/events"],
    ));
    tick("2026-01-10T00:04:00Z");
    tick("2026-01-10T00:05:00Z");
    assert_eq!(
        receiver.of_rule("quality"),
        vec![firing("raw/events"), resolved("raw/events")]
    );
    assert!(receiver.of_rule("budget").is_empty(), "$20 is under budget");

    // Three hours on, after a failed run: freshness fails and the failure fires.
    flag(dir, "crash", true);
    let crashed = strata_at(dir, "2026-01-10T03:00:00Z", &["materialize", "raw/events"]);
    assert_eq!(crashed.status.code(), Some(1));
    tick("2026-01-10T03:01:00Z");
    assert_eq!(receiver.of_rule("stale"), vec![firing("raw/events")]);
    assert_eq!(receiver.of_rule("failures"), vec![firing("raw/events")]);

    // A backfill fixes both and pushes the month's cost over $25: the budget fires for the
    // team, and freshness and the failure resolve.
    flag(dir, "crash", false);
    ok(strata_at(
        dir,
        "2026-01-10T03:02:00Z",
        &["backfill", "raw/events"],
    ));
    tick("2026-01-10T03:03:00Z");
    tick("2026-01-10T03:04:00Z");
    assert_eq!(
        receiver.of_rule("stale"),
        vec![firing("raw/events"), resolved("raw/events")]
    );
    assert_eq!(
        receiver.of_rule("failures"),
        vec![firing("raw/events"), resolved("raw/events")]
    );
    assert_eq!(receiver.of_rule("budget"), vec![firing("team=ops")]);
    let budget = receiver
        .bodies
        .lock()
        .unwrap()
        .iter()
        .find(|b| b["rule"] == "budget")
        .cloned()
        .unwrap();
    assert!(
        budget["values"]["cost"].as_f64().unwrap() > 30.0,
        "{budget}"
    );
    assert_eq!(budget["values"]["over"], 25.0);
    assert!(budget["link"].as_str().unwrap().starts_with("http://"));

    // The history has all of it, newest first, each delivered once.
    let history = json(&ok(strata_at(
        dir,
        "2026-01-10T03:05:00Z",
        &["alerts", "history", "--json"],
    )));
    let entries = history["alerts"].as_array().unwrap();
    assert_eq!(entries.len(), receiver.received().len(), "{history}");
    for entry in entries {
        assert_eq!(entry["deliveries"][0]["status"], "delivered", "{entry}");
        assert_eq!(entry["deliveries"][0]["attempts"], 1, "{entry}");
    }
    assert_eq!(entries[0]["rule"], "budget");
    let list = json(&ok(strata_at(
        dir,
        "2026-01-10T03:05:00Z",
        &["alerts", "--json"],
    )));
    let budget_rule = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "budget")
        .unwrap()
        .clone();
    assert_eq!(budget_rule["firing"], serde_json::json!(["team=ops"]));
    assert_eq!(budget_rule["source"], "strata.toml");

    // A test send reaches the channel and changes nothing.
    let before = receiver.received().len();
    let test = ok(strata_at(
        dir,
        "2026-01-10T03:06:00Z",
        &["alerts", "test", "quality"],
    ));
    assert!(
        stdout(&test).contains("hook: delivered"),
        "{}",
        stdout(&test)
    );
    let sent = receiver.bodies.lock().unwrap()[before].clone();
    assert_eq!(sent["test"], true);
    let again = json(&ok(strata_at(
        dir,
        "2026-01-10T03:06:00Z",
        &["alerts", "history", "--json"],
    )));
    assert_eq!(again["alerts"].as_array().unwrap().len(), entries.len());
    let unknown = strata_at(dir, "2026-01-10T03:06:00Z", &["alerts", "test", "qualty"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("no alert rule `qualty`"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn a_failing_channel_is_retried_and_recorded_while_runs_succeed() {
    let receiver = Receiver::start(500);
    let dir = alerts_repository(&receiver, "");
    let dir = dir.path();
    flag(dir, "bad", true);
    ok(strata_at(
        dir,
        "2026-01-10T00:00:00Z",
        &["materialize", "raw/events"],
    ));
    // The tick launches the missing downstream: it succeeds while the channel fails.
    let tick = json(&ok(strata_at(
        dir,
        "2026-01-10T00:01:00Z",
        &["automation", "tick", "--json"],
    )));
    assert_eq!(tick["runs"][0]["status"], "succeeded", "{tick}");
    assert_eq!(tick["alerts_delivered"], 0, "{tick}");
    // max_attempts = 3: the same firing three times.
    assert_eq!(
        receiver.received(),
        vec![
            (
                "quality".to_string(),
                "firing".to_string(),
                "raw/events".to_string()
            );
            3
        ]
    );
    let history = json(&ok(strata_at(
        dir,
        "2026-01-10T00:02:00Z",
        &["alerts", "history", "--json"],
    )));
    let delivery = &history["alerts"][0]["deliveries"][0];
    assert_eq!(delivery["status"], "failed", "{history}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["http_status"], 500);
    // Given up: later ticks do not send it again.
    ok(strata_at(
        dir,
        "2026-01-10T00:03:00Z",
        &["automation", "tick"],
    ));
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_created_edited_and_deleted_over_the_api() {
    let receiver = Receiver::start(200);
    let chat = format!(
        "[alerts.channels.chat]\nkind = \"slack\"\nurl = \"{}\"\n",
        receiver.url
    );
    let dir = alerts_repository(&receiver, &chat);
    let (_, app) = example_app(dir.path()).await;
    let rules = get(&app, "/api/v1/alerts/rules").await;
    assert_eq!(rules["rules"].as_array().unwrap().len(), 4);
    assert_eq!(rules["rules"][0]["editable"], false);

    let new = r#"{"name": "summary-fails", "when": "run_failed", "select": "stats/summary", "channels": ["hook"]}"#;
    let (status, created) = call(&app, "POST", "/api/v1/alerts/rules", Some(new)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["source"], "api");
    assert_eq!(created["when"], "run_failed");
    let (status, _) = call(&app, "POST", "/api/v1/alerts/rules", Some(new)).await;
    assert_eq!(status, 409);

    let edited = r#"{"name": "summary-fails", "when": {"cost": {"per": "day", "over": 5, "by": "asset"}}, "channels": ["hook", "chat"]}"#;
    let (status, body) = call(
        &app,
        "PUT",
        "/api/v1/alerts/rules/summary-fails",
        Some(edited),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["when"]["cost"]["per"], "day");
    assert_eq!(body["select"], "*");

    // Mistakes: precise 4xx, nothing changed.
    for (method, uri, body, code, says) in [
        (
            "POST",
            "/api/v1/alerts/rules",
            r#"{"name": "x", "when": "run_faild", "channels": ["hook"]}"#,
            400,
            "invalid `when`",
        ),
        (
            "POST",
            "/api/v1/alerts/rules",
            r#"{"name": "x", "when": "run_failed", "channels": ["hooks"]}"#,
            400,
            "unknown alert channel `hooks`",
        ),
        (
            "POST",
            "/api/v1/alerts/rules",
            r#"{"name": "x", "when": "run_failed", "select": "raw/evnts", "channels": ["hook"]}"#,
            400,
            "unknown asset `raw/evnts`",
        ),
        (
            "POST",
            "/api/v1/alerts/rules",
            r#"{"name": "x", "when": {"freshness": "bad"}, "channels": ["hook"]}"#,
            400,
            "freshness",
        ),
        (
            "PUT",
            "/api/v1/alerts/rules/quality",
            r#"{"name": "quality", "when": "run_failed", "channels": ["hook"]}"#,
            409,
            "strata.toml",
        ),
        (
            "DELETE",
            "/api/v1/alerts/rules/quality",
            "",
            409,
            "strata.toml",
        ),
        (
            "DELETE",
            "/api/v1/alerts/rules/nope",
            "",
            404,
            "no alert rule `nope`",
        ),
    ] {
        let (status, answer) = call(&app, method, uri, (!body.is_empty()).then_some(body)).await;
        assert_eq!(status, code, "{method} {uri} {body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    assert_eq!(
        get(&app, "/api/v1/alerts/rules").await["rules"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    let (status, test) = call(
        &app,
        "POST",
        "/api/v1/alerts/rules/summary-fails/test",
        None,
    )
    .await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["deliveries"][0]["delivered"], true);
    assert_eq!(test["deliveries"][1]["channel"], "chat");
    let bodies = receiver.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    // The webhook gets Strata's document; the Slack channel a Slack-compatible message.
    assert_eq!(bodies[0]["rule"], "summary-fails");
    assert_eq!(bodies[0]["test"], true);
    let text = bodies[1]["text"].as_str().unwrap();
    assert!(text.contains("*summary-fails* firing"), "{text}");
    assert_eq!(bodies[1]["blocks"][0]["text"]["type"], "mrkdwn");

    let (status, _) = call(&app, "DELETE", "/api/v1/alerts/rules/summary-fails", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&app, "/api/v1/alerts/rules").await["rules"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let channels = get(&app, "/api/v1/alerts/channels").await;
    assert_eq!(channels["channels"][0]["name"], "chat");
    assert_eq!(channels["channels"][0]["kind"], "slack");
    assert_eq!(channels["channels"][1]["kind"], "webhook");
    assert!(
        get(&app, "/api/v1/alerts/history").await["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        get(&app, "/api/v1/alerts/firing").await["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_channel_that_keeps_failing_holds_up_no_other_and_is_continued_by_the_next_tick() {
    let healthy = Receiver::start(200);
    let down = Receiver::start(503);
    let extra = format!(
        "[alerts.channels.down]\nkind = \"webhook\"\nurl = \"{}\"\n",
        down.url
    );
    let dir = alerts_repository(&healthy, &extra);
    let dir = dir.path();
    // Many attempts, so the command's wait (15 s) ends before the failing channel gives up.
    let toml = std::fs::read_to_string(dir.join("strata.toml"))
        .unwrap()
        .replace("max_attempts = 3", "max_attempts = 100")
        .replace(
            "channels = [\"hook\"]\n[[alerts.rules]]\nname = \"stale\"",
            "channels = [\"hook\", \"down\"]\n[[alerts.rules]]\nname = \"stale\"",
        );
    std::fs::write(dir.join("strata.toml"), toml).unwrap();
    flag(dir, "bad", true);
    ok(strata_at(
        dir,
        "2026-01-10T00:00:00Z",
        &["materialize", "raw/events"],
    ));
    let tick = ok(strata_at(
        dir,
        "2026-01-10T00:01:00Z",
        &["automation", "tick", "--json"],
    ));
    let document = json(&tick);
    // The healthy channel got the firing once, at once; the failing one was cut off, counted.
    assert_eq!(document["alerts_delivered"], 1, "{document}");
    assert_eq!(healthy.of_rule("quality"), vec![firing("raw/events")]);
    let tried = down.received().len();
    assert!(tried >= 3, "{tried}");
    assert!(stderr(&tick).contains("still fail"), "{}", stderr(&tick));
    let history = json(&ok(strata_at(
        dir,
        "2026-01-10T00:02:00Z",
        &["alerts", "history", "--json"],
    )));
    let deliveries = &history["alerts"][0]["deliveries"];
    assert_eq!(deliveries[0]["channel"], "down");
    assert_eq!(deliveries[0]["status"], "pending", "{history}");
    // Every attempt is recorded, but one cut off mid-POST may have reached the receiver first.
    let recorded = deliveries[0]["attempts"].as_u64().unwrap() as usize;
    assert!(
        recorded == tried || recorded + 1 == tried,
        "{recorded} of {tried}"
    );
    assert_eq!(deliveries[1]["status"], "delivered");
    // The next tick continues the failing delivery, and sends nothing again to the healthy one.
    ok(strata_at(
        dir,
        "2026-01-10T00:03:00Z",
        &["automation", "tick"],
    ));
    assert!(down.received().len() > tried);
    assert_eq!(healthy.received().len(), 1);
}
