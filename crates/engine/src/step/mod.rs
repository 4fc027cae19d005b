//! One step: an asset over one partition (or a range, for single-run backfills), with its
//! retries, timeout and cancellation — the one boundary every call into asset code goes through.
//!
//! Whatever fails inside (bad SQL, a command's exit status, an unreadable output, a missing
//! upstream partition, a timeout) comes back as a [`StepError`] and is recorded with the asset
//! and partition in its message. Errors that cannot go away by themselves (a query that does not
//! plan, schema drift, a missing upstream partition) are not retried.

mod checks;
mod command;
mod inputs;
mod meter;
mod output;
mod rust;
mod source;
mod sql;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_core::model::{Asset, Compute};
use strata_core::partitions::time_window::TimeWindow;
use strata_core::plan::PlannedStep;
use strata_storage::event::{Event, LogLevel, StepCost};
use tracing::Instrument;

use crate::executor::{RunContext, Shared, retry_delay};
use crate::openlineage::{StepEnd, StepLineage};
use meter::StepMeter;

/// How a step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum StepOutcome {
    /// Its partitions were committed (or, for a source, observed).
    Succeeded {
        /// Rows written.
        rows: u64,
        /// Attempts it took.
        attempts: u32,
        /// Blocking checks (severity error) that failed: downstream steps are skipped.
        blocking_failures: Vec<String>,
        /// Other checks that failed.
        failed_checks: Vec<String>,
    },
    /// It failed for good.
    Failed {
        /// Why, naming the asset and partition.
        error: String,
        /// Attempts made.
        attempts: u32,
    },
    /// It never ran.
    Skipped {
        /// Why.
        reason: String,
    },
    /// The run was canceled while it executed.
    Canceled,
}

/// Why an attempt failed.
#[derive(Clone, Debug)]
pub(crate) struct StepError {
    pub(crate) message: String,
    /// Whether another attempt could succeed.
    pub(crate) retryable: bool,
}

impl StepError {
    /// A failure another attempt may not repeat (a crash, an I/O error, a non-zero exit).
    pub(crate) fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure every attempt would repeat (bad SQL, schema drift, a missing input).
    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// One partition a step computes.
#[derive(Clone, Debug)]
pub(crate) struct PartitionRef {
    pub(crate) index: u64,
    pub(crate) key: String,
    pub(crate) window: Option<TimeWindow>,
}

/// Log lines of one attempt, recorded with the attempt's outcome.
#[derive(Debug, Default)]
pub(crate) struct StepLog(Mutex<Vec<(LogLevel, String)>>);

impl StepLog {
    pub(crate) fn push(&self, level: LogLevel, message: impl Into<String>) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push((level, message.into()));
        }
    }

    fn take(&self) -> Vec<(LogLevel, String)> {
        self.0
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

/// Everything an attempt reads.
pub(crate) struct StepContext<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) run: &'a RunContext,
    pub(crate) asset: &'a Asset,
    /// Empty when the asset is unpartitioned.
    pub(crate) partitions: &'a [PartitionRef],
    pub(crate) code_version: String,
    pub(crate) log: &'a StepLog,
    pub(crate) meter: &'a StepMeter,
}

impl StepContext<'_> {
    pub(crate) fn now(&self) -> i64 {
        (self.shared.clock)()
    }
}

/// What a successful attempt produced, to record with StepSucceeded.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub(crate) events: Vec<Event>,
    pub(crate) rows: u64,
    pub(crate) blocking_failures: Vec<String>,
    pub(crate) failed_checks: Vec<String>,
}

/// `flights/clean_flights 2013-01-05`, `dims/airlines`, or a range `a 2013-01-01..2013-01-31`.
pub(crate) fn describe(shared: &Shared, run: &RunContext, step: &PlannedStep) -> String {
    let def = shared
        .repository
        .asset(&step.asset)
        .and_then(Asset::partitions_definition);
    let keyspace = def.map(|d| d.keyspace(run.now_secs, &run.dynamic));
    step.label(keyspace.as_ref())
}

fn partition_refs(shared: &Shared, run: &RunContext, step: &PlannedStep) -> Vec<PartitionRef> {
    let (Some(subset), Some(def)) = (
        &step.partitions,
        shared
            .repository
            .asset(&step.asset)
            .and_then(Asset::partitions_definition),
    ) else {
        return Vec::new();
    };
    let keyspace = def.keyspace(run.now_secs, &run.dynamic);
    subset
        .iter()
        .filter_map(|index| {
            Some(PartitionRef {
                index,
                key: keyspace.key(index)?,
                window: keyspace.window(index),
            })
        })
        .collect()
}

/// The partition keys, `[None]` when unpartitioned.
pub(crate) fn keys_of(partitions: &[PartitionRef]) -> Vec<Option<String>> {
    if partitions.is_empty() {
        vec![None]
    } else {
        partitions.iter().map(|p| Some(p.key.clone())).collect()
    }
}

/// StepSkipped events for a step that will not run.
pub(crate) fn skipped_events(
    shared: &Shared,
    run: &RunContext,
    step: &PlannedStep,
    reason: &str,
) -> Vec<Event> {
    keys_of(&partition_refs(shared, run, step))
        .into_iter()
        .map(|partition| Event::StepSkipped {
            run_id: run.run_id.clone(),
            asset: step.asset.clone(),
            partition,
            reason: reason.to_string(),
        })
        .collect()
}

/// Records a step whose task panicked as failed.
pub(crate) async fn record_panic(
    shared: &Shared,
    run: &RunContext,
    step: &PlannedStep,
    panic: String,
) -> StepOutcome {
    let error = format!(
        "{}: asset code panicked: {panic}",
        describe(shared, run, step)
    );
    let events = keys_of(&partition_refs(shared, run, step))
        .into_iter()
        .map(|partition| Event::StepFailed {
            run_id: run.run_id.clone(),
            asset: step.asset.clone(),
            partition,
            attempt: 1,
            error: error.clone(),
        })
        .collect();
    let _ = shared
        .instance
        .storage
        .append((shared.clock)(), events)
        .await;
    StepOutcome::Failed { error, attempts: 1 }
}

/// Runs step `id` of a plan to its outcome: attempts, retries, timeout, cancellation.
pub(crate) async fn run_step(
    shared: Arc<Shared>,
    run: Arc<RunContext>,
    steps: Arc<Vec<PlannedStep>>,
    id: usize,
) -> StepOutcome {
    let step = &steps[id];
    let label = describe(&shared, &run, step);
    let span = tracing::info_span!("step", asset = %step.asset, label = %label, attempts = tracing::field::Empty, outcome = tracing::field::Empty);
    let partitions = partition_refs(&shared, &run, step);
    let lineage = open_lineage(&shared, &run, step, &partitions);
    let outcome = attempts(&shared, &run, step, &partitions, &label)
        .instrument(span.clone())
        .await;
    if let Some(lineage) = lineage {
        let end = match &outcome {
            StepOutcome::Succeeded { .. } => StepEnd::Completed,
            StepOutcome::Failed { error, .. } => StepEnd::Failed(error),
            StepOutcome::Skipped { .. } | StepOutcome::Canceled => StepEnd::Aborted,
        };
        let storage = Arc::clone(&shared.instance.storage);
        if let Some(sending) = lineage.finish(end, storage, (shared.clock)()) {
            run.lineage_pending.push(sending);
        }
    }
    let (name, attempts) = match &outcome {
        StepOutcome::Succeeded { attempts, .. } => ("succeeded", *attempts),
        StepOutcome::Failed { attempts, .. } => ("failed", *attempts),
        StepOutcome::Skipped { .. } => ("skipped", 0),
        StepOutcome::Canceled => ("canceled", 0),
    };
    span.record("attempts", i64::from(attempts)); // i64: an exported u32 would be text
    span.record("outcome", name);
    outcome
}

/// Sends the step's OpenLineage `START`, when `[openlineage]` is declared.
fn open_lineage(
    shared: &Shared,
    run: &RunContext,
    step: &PlannedStep,
    partitions: &[PartitionRef],
) -> Option<StepLineage> {
    let lineage = shared.instance.openlineage.clone()?;
    let windows: Vec<_> = partitions
        .iter()
        .map(|p| (p.key.clone(), p.window))
        .collect();
    StepLineage::start(
        lineage,
        Arc::clone(&shared.repository),
        Arc::clone(&run.lineage_columns),
        &step.asset,
        &run.run_id,
        &windows,
        (shared.clock)(),
    )
}

async fn attempts(
    shared: &Shared,
    run: &RunContext,
    step: &PlannedStep,
    partitions: &[PartitionRef],
    label: &str,
) -> StepOutcome {
    let Some(asset) = shared.repository.asset(&step.asset) else {
        return StepOutcome::Failed {
            error: format!("{label}: the asset is not in the repository"),
            attempts: 0,
        };
    };
    let keys = keys_of(partitions);
    let storage = &shared.instance.storage;
    let mut cancel = run.cancel.clone();
    let max_retries = asset.retry.as_ref().map_or(0, |r| r.max_retries);
    let mut attempt = 1;
    loop {
        let started: Vec<Event> = keys
            .iter()
            .map(|partition| Event::StepStarted {
                run_id: run.run_id.clone(),
                asset: asset.key.clone(),
                partition: partition.clone(),
                attempt,
            })
            .collect();
        if let Err(e) = storage.append((shared.clock)(), started).await {
            return StepOutcome::Failed {
                error: format!("{label}: recording the step failed: {e}"),
                attempts: attempt,
            };
        }
        let log = StepLog::default();
        let meter = StepMeter::default();
        let began = Instant::now();
        let result = {
            let work = attempt_once(shared, run, asset, partitions, &log, &meter);
            let timed = async {
                match asset.timeout {
                    Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                        Err(StepError::retryable(format!(
                            "timed out after {}",
                            humanize(limit)
                        )))
                    }),
                    None => work.await,
                }
            };
            tokio::select! {
                result = timed => Some(result),
                () = cancel.cancelled() => None,
            }
        };
        let succeeded = matches!(result, Some(Ok(_)));
        meter.settle().await;
        let costs = cost_events(
            shared, run, asset, &keys, attempt, succeeded, &meter, began, &log,
        );
        let mut events = log_events(run, asset, partitions, log.take());
        events.extend(costs);
        let now = (shared.clock)();
        let outcome = match result {
            None => {
                events.push(Event::Log {
                    run_id: run.run_id.clone(),
                    asset: Some(asset.key.clone()),
                    partition: keys[0].clone(),
                    level: LogLevel::Warn,
                    message: format!("{label}: interrupted: the run was canceled"),
                });
                let _ = storage.append(now, events).await;
                return StepOutcome::Canceled;
            }
            Some(Ok(done)) => {
                events.extend(done.events);
                events.extend(keys.iter().map(|partition| Event::StepSucceeded {
                    run_id: run.run_id.clone(),
                    asset: asset.key.clone(),
                    partition: partition.clone(),
                }));
                tracing::info!(
                    rows = done.rows,
                    ms = began.elapsed().as_millis() as u64,
                    "step succeeded"
                );
                StepOutcome::Succeeded {
                    rows: done.rows,
                    attempts: attempt,
                    blocking_failures: done.blocking_failures,
                    failed_checks: done.failed_checks,
                }
            }
            Some(Err(error)) if error.retryable && attempt <= max_retries => {
                let policy = asset
                    .retry
                    .as_ref()
                    .expect("max_retries > 0 implies a policy");
                let delay = retry_delay(policy, attempt, fastrand::f64());
                let message = format!("{label}: {}", error.message);
                tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, error = %message, "step attempt failed; retrying");
                events.extend(keys.iter().map(|partition| Event::StepRetrying {
                    run_id: run.run_id.clone(),
                    asset: asset.key.clone(),
                    partition: partition.clone(),
                    attempt,
                    delay_ms: delay.as_millis() as u64,
                    error: message.clone(),
                }));
                if let Err(e) = storage.append(now, events).await {
                    return StepOutcome::Failed {
                        error: format!("{label}: recording the step failed: {e}"),
                        attempts: attempt,
                    };
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => return StepOutcome::Canceled,
                }
                attempt += 1;
                continue;
            }
            Some(Err(error)) => {
                let message = format!("{label}: {}", error.message);
                tracing::error!(error = %message, "step failed");
                events.extend(keys.iter().map(|partition| Event::StepFailed {
                    run_id: run.run_id.clone(),
                    asset: asset.key.clone(),
                    partition: partition.clone(),
                    attempt,
                    error: message.clone(),
                }));
                StepOutcome::Failed {
                    error: message,
                    attempts: attempt,
                }
            }
        };
        if let Err(e) = storage.append(now, events).await {
            return StepOutcome::Failed {
                error: format!("{label}: recording the step failed: {e}"),
                attempts: attempt,
            };
        }
        return outcome;
    }
}

/// One attempt: dispatch to the compute kind.
async fn attempt_once(
    shared: &Shared,
    run: &RunContext,
    asset: &Asset,
    partitions: &[PartitionRef],
    log: &StepLog,
    meter: &StepMeter,
) -> Result<Done, StepError> {
    let code_version = run
        .code_version(&shared.instance.root, asset)
        .map_err(StepError::permanent)?;
    let ctx = StepContext {
        shared,
        run,
        asset,
        partitions,
        code_version,
        log,
        meter,
    };
    match &asset.compute {
        Compute::Source(source) => source::observe(&ctx, source).await,
        Compute::Sql(query) => {
            let inputs = inputs::resolve(&ctx).await?;
            let materialized = sql::materialize(&ctx, query, &inputs).await?;
            checks::after_commit(&ctx, materialized).await
        }
        Compute::Command(command) => {
            let inputs = inputs::resolve(&ctx).await?;
            let materialized = command::materialize(&ctx, command, &inputs).await?;
            checks::after_commit(&ctx, materialized).await
        }
        Compute::Rust(rust) => {
            let inputs = inputs::resolve(&ctx).await?;
            let materialized = rust::materialize(&ctx, rust, &inputs).await?;
            checks::after_commit(&ctx, materialized).await
        }
    }
}

/// One StepCost per partition: the attempt's usage shared equally, priced by the rate card.
#[allow(clippy::too_many_arguments)] // one call site; the parts of one attempt
fn cost_events(
    shared: &Shared,
    run: &RunContext,
    asset: &Asset,
    keys: &[Option<String>],
    attempt: u32,
    succeeded: bool,
    meter: &StepMeter,
    began: Instant,
    log: &StepLog,
) -> Vec<Event> {
    let card = &shared.repository.project().rate_card;
    let shares = meter.finish(began.elapsed()).split(keys.len());
    let unpriced = strata_core::cost::price(&shares[0], card).1;
    for unit in unpriced {
        log.push(
            LogLevel::Warn,
            format!("the rate card has no price for reported unit `{unit}`: it counts as 0 (add it under [rate_card] units)"),
        );
    }
    keys.iter()
        .zip(shares)
        .map(|(partition, usage)| {
            let (amounts, _) = strata_core::cost::price(&usage, card);
            Event::StepCost(StepCost {
                run_id: run.run_id.clone(),
                asset: asset.key.clone(),
                partition: partition.clone(),
                attempt,
                succeeded,
                usage,
                amounts,
                currency: card.currency.clone(),
            })
        })
        .collect()
}

fn log_events(
    run: &RunContext,
    asset: &Asset,
    partitions: &[PartitionRef],
    lines: Vec<(LogLevel, String)>,
) -> Vec<Event> {
    let partition = partitions.first().map(|p| p.key.clone());
    lines
        .into_iter()
        .map(|(level, message)| Event::Log {
            run_id: run.run_id.clone(),
            asset: Some(asset.key.clone()),
            partition: partition.clone(),
            level,
            message,
        })
        .collect()
}

/// `10m`, `90s`, `1h30m`.
fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}
