//! Prometheus metrics, in the text exposition format.
//!
//! Run, step and event counters are fed by a tail of the event log, so they count what every
//! process on the storage did (a `strata materialize` in a terminal too) since this server
//! started; automation tick timings come from the daemon inside this process.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::collections::HashMap;

use strata_core::key::AssetKey;
use strata_storage::Storage;
use strata_storage::event::{Event, EventRecord, Millis};

/// Counters and sums, updated lock-free.
#[derive(Debug, Default)]
pub struct Metrics {
    events: AtomicU64,
    runs_queued: AtomicU64,
    runs_started: AtomicU64,
    runs_succeeded: AtomicU64,
    runs_failed: AtomicU64,
    runs_canceled: AtomicU64,
    steps_succeeded: AtomicU64,
    steps_failed: AtomicU64,
    steps_skipped: AtomicU64,
    step_millis: AtomicU64,
    ticks: AtomicU64,
    tick_failures: AtomicU64,
    tick_millis: AtomicU64,
    last_tick_millis: AtomicU64,
    reloads: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A step's identity within the log, to pair its start with its end.
type StepId = (String, String, Option<String>);

/// When each executing step started, to time it when it ends.
#[derive(Debug, Default)]
pub struct StepClock(HashMap<StepId, Millis>);

impl Metrics {
    /// Counts one event read from the log.
    pub fn observe(&self, record: &EventRecord, steps: &mut StepClock) {
        add(&self.events, 1);
        let ended =
            |run_id: &str, asset: &AssetKey, partition: &Option<String>, steps: &mut StepClock| {
                let id = (run_id.to_string(), asset.to_string(), partition.clone());
                if let Some(started) = steps.0.remove(&id) {
                    add(
                        &self.step_millis,
                        (record.timestamp - started).max(0) as u64,
                    );
                }
            };
        match &record.event {
            Event::RunQueued { .. } => add(&self.runs_queued, 1),
            Event::RunStarted { .. } => add(&self.runs_started, 1),
            Event::RunSucceeded { .. } => add(&self.runs_succeeded, 1),
            Event::RunFailed { run_id, .. } => {
                add(&self.runs_failed, 1);
                steps.0.retain(|(run, _, _), _| run != run_id);
            }
            Event::RunCanceled { run_id } => {
                add(&self.runs_canceled, 1);
                steps.0.retain(|(run, _, _), _| run != run_id);
            }
            Event::StepStarted {
                run_id,
                asset,
                partition,
                ..
            } => {
                let id = (run_id.clone(), asset.to_string(), partition.clone());
                steps.0.entry(id).or_insert(record.timestamp);
            }
            Event::StepSucceeded {
                run_id,
                asset,
                partition,
                ..
            } => {
                add(&self.steps_succeeded, 1);
                ended(run_id, asset, partition, steps);
            }
            Event::StepFailed {
                run_id,
                asset,
                partition,
                ..
            } => {
                add(&self.steps_failed, 1);
                ended(run_id, asset, partition, steps);
            }
            Event::StepSkipped { .. } => add(&self.steps_skipped, 1),
            _ => {}
        }
    }

    /// Counts one automation tick of this process.
    pub fn tick(&self, duration_ms: u64, ok: bool) {
        add(&self.ticks, 1);
        if !ok {
            add(&self.tick_failures, 1);
        }
        add(&self.tick_millis, duration_ms);
        self.last_tick_millis.store(duration_ms, Ordering::Relaxed);
    }

    /// Counts one reload of the definitions.
    pub fn reload(&self) {
        add(&self.reloads, 1);
    }

    /// The exposition text; `queued` is the number of runs waiting to start now.
    pub fn render(&self, queued: u64) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        let seconds = |c: &AtomicU64| format!("{:.3}", c.load(Ordering::Relaxed) as f64 / 1000.0);
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "strata_events_total",
            "counter",
            "Events appended to the log since the server started.",
            &[("", get(&self.events))],
        );
        family(
            "strata_runs_total",
            "counter",
            "Runs reaching each state since the server started.",
            &[
                ("{state=\"queued\"}", get(&self.runs_queued)),
                ("{state=\"started\"}", get(&self.runs_started)),
                ("{state=\"succeeded\"}", get(&self.runs_succeeded)),
                ("{state=\"failed\"}", get(&self.runs_failed)),
                ("{state=\"canceled\"}", get(&self.runs_canceled)),
            ],
        );
        family(
            "strata_steps_total",
            "counter",
            "Steps (asset partitions) by outcome since the server started.",
            &[
                ("{outcome=\"succeeded\"}", get(&self.steps_succeeded)),
                ("{outcome=\"failed\"}", get(&self.steps_failed)),
                ("{outcome=\"skipped\"}", get(&self.steps_skipped)),
            ],
        );
        family(
            "strata_step_duration_seconds_total",
            "counter",
            "Wall time of the steps that ended, from start to end.",
            &[("", seconds(&self.step_millis))],
        );
        family(
            "strata_run_queue_depth",
            "gauge",
            "Runs queued and not yet started.",
            &[("", queued.to_string())],
        );
        family(
            "strata_automation_ticks_total",
            "counter",
            "Automation ticks of this process, and how many failed.",
            &[
                ("", get(&self.ticks)),
                ("{result=\"failed\"}", get(&self.tick_failures)),
            ],
        );
        family(
            "strata_automation_tick_duration_seconds_total",
            "counter",
            "Total duration of this process's automation ticks.",
            &[("", seconds(&self.tick_millis))],
        );
        family(
            "strata_automation_last_tick_duration_seconds",
            "gauge",
            "Duration of this process's latest automation tick.",
            &[("", seconds(&self.last_tick_millis))],
        );
        family(
            "strata_definition_reloads_total",
            "counter",
            "Reloads of the repository's definitions.",
            &[("", get(&self.reloads))],
        );
        out
    }
}

/// How often the tail looks for new events when it found none.
const TAIL_POLL: Duration = Duration::from_millis(250);

/// Reads every event appended from now on and counts it, until the task is aborted.
pub async fn tail(storage: Arc<dyn Storage>, metrics: Arc<Metrics>) {
    let mut cursor = match storage.last_event_id().await {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "metrics: cannot read the event log");
            return;
        }
    };
    let mut steps = StepClock::default();
    loop {
        match storage.events_after(cursor, 1000).await {
            Ok(records) if !records.is_empty() => {
                for record in &records {
                    metrics.observe(record, &mut steps);
                }
                cursor = records.last().map_or(cursor, |r| r.id);
                continue;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "metrics: reading the event log failed"),
        }
        tokio::time::sleep(TAIL_POLL).await;
    }
}
