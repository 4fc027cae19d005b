//! `strata materialize`: plan the selected partitions, execute them, show progress, summarize.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use strata_core::cost::Estimate;
use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::Keyspace;
use strata_core::plan::{PlannedStep, Target, plan_steps};
use strata_engine::StepOutcome;
use strata_engine::executor::{
    CancelHandle, Executor, Progress, RunReport, RunRequest, cancel_pair, new_run_id,
};
use strata_engine::instance::Instance;
use strata_engine::request::{PartitionSet, RequestError, resolve_targets};
use strata_storage::event::Event;
use tokio::sync::mpsc;

use crate::cli::{MaterializeArgs, PartitionArgs};
use crate::commands::{print_json, select};
use crate::{CliError, Outcome, clock};

pub(crate) fn run(
    repository: Repository,
    root: &Path,
    args: &MaterializeArgs,
) -> Result<Outcome, CliError> {
    let keys = select(&repository, &args.selection)?;
    let instance = crate::open_instance(root, repository.project())?;
    let clock = clock::event_clock()?;
    let now_secs = clock().div_euclid(1000);
    let repository = Arc::new(repository);
    crate::runtime()?.block_on(async {
        let dynamic = instance
            .storage
            .dynamic_partitions()
            .await
            .map_err(CliError::internal)?;
        let keyspaces = repository.keyspaces(now_secs, &dynamic);
        let targets = targets(&repository, &instance, &keys, &args.partitions, &keyspaces).await?;
        let steps = plan_steps(&repository, &targets, &keyspaces);
        let labels = labels(&steps, &keyspaces);
        let description = describe_request(&args.selection, &args.partitions);
        if args.dry_run {
            return print_plan(
                &repository,
                &instance,
                &targets,
                &steps,
                &labels,
                &description,
                args.output.json,
            )
            .await;
        }
        if steps.is_empty() {
            if args.output.json {
                print_json(&json!({"run_id": null, "status": "nothing_to_do", "steps": 0}))?;
            } else {
                println!("nothing to materialize: {description} selects no partition");
            }
            return Ok(Outcome::Ok);
        }
        let executor = Executor::new(
            instance.clone(),
            Arc::clone(&repository),
            Arc::clone(&clock),
        );
        let request = RunRequest {
            run_id: new_run_id(),
            description,
            backfill_id: None,
            steps,
            concurrency: args.concurrency.map(|c| c as usize),
            tags: BTreeMap::from([("launched_by".to_string(), "cli".to_string())]),
        };
        let report = execute(&executor, request, &labels, args.output.json).await?;
        summarize(&report, &labels, args.output.json)
    })
}

/// Each step's label for progress and summaries (`flights/daily_delays 2013-01-05`).
pub(crate) fn labels(
    steps: &[PlannedStep],
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Vec<String> {
    steps
        .iter()
        .map(|s| s.label(keyspaces.get(&s.asset)))
        .collect()
}

/// What to run of each selected asset (one partition per step).
pub(crate) async fn targets(
    repository: &Repository,
    instance: &Instance,
    keys: &std::collections::BTreeSet<AssetKey>,
    choice: &PartitionArgs,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Result<BTreeMap<AssetKey, Target>, CliError> {
    resolve_targets(
        repository,
        instance,
        keys,
        &partition_set(choice),
        None,
        keyspaces,
    )
    .await
    .map_err(|e| match e {
        RequestError::Invalid(message) => CliError::Usage(message),
        RequestError::Unspecified(key) => CliError::Usage(format!(
            "{key} is partitioned: choose partitions with --partition KEY, --from A --to B, \
             --missing, --failed or --stale"
        )),
        RequestError::Internal(message) => CliError::Internal(message),
    })
}

/// The partition set the flags name.
fn partition_set(choice: &PartitionArgs) -> PartitionSet {
    if let Some(p) = &choice.partition {
        PartitionSet::Keys(vec![p.clone()])
    } else if let (Some(from), Some(to)) = (&choice.from, &choice.to) {
        PartitionSet::Range {
            from: from.clone(),
            to: to.clone(),
        }
    } else if choice.missing {
        PartitionSet::Missing
    } else if choice.failed {
        PartitionSet::Failed
    } else if choice.stale {
        PartitionSet::Stale
    } else {
        PartitionSet::Unspecified
    }
}

fn describe_request(selection: &str, choice: &PartitionArgs) -> String {
    format!("{selection}{}", describe_partitions(choice))
}

/// The partition set as the user chose it, with a leading space (empty when none was chosen).
pub(crate) fn describe_partitions(choice: &PartitionArgs) -> String {
    partition_set(choice).describe()
}

/// What materializing `targets` is estimated to cost, from the same assets' history.
async fn estimate(
    instance: &Instance,
    targets: &BTreeMap<AssetKey, Target>,
) -> Result<Estimate, CliError> {
    let planned: Vec<(AssetKey, u64)> = targets
        .iter()
        .map(|(asset, target)| (asset.clone(), strata_engine::backfill::target_count(target)))
        .collect();
    strata_engine::costs::estimate(instance.storage.as_ref(), &planned)
        .await
        .map_err(CliError::internal)
}

/// What a dry run prints: the steps per asset and what they are estimated to cost.
pub(crate) async fn print_plan(
    repository: &Repository,
    instance: &Instance,
    targets: &BTreeMap<AssetKey, Target>,
    steps: &[PlannedStep],
    labels: &[String],
    description: &str,
    as_json: bool,
) -> Result<Outcome, CliError> {
    let estimate = &estimate(instance, targets).await?;
    let currency = &repository.project().rate_card.currency;
    let mut per_asset: BTreeMap<&AssetKey, u64> = BTreeMap::new();
    for step in steps {
        *per_asset.entry(&step.asset).or_default() += 1;
    }
    if as_json {
        print_json(&json!({
            "dry_run": true,
            "description": description,
            "steps": steps.len(),
            "assets": per_asset.iter().map(|(k, n)| json!({"asset": k.to_string(), "steps": n})).collect::<Vec<_>>(),
            "plan": labels,
            "estimated_cost": {
                "currency": currency,
                "amount": (estimate.estimated_partitions > 0).then_some(estimate.amount),
                "estimated_partitions": estimate.estimated_partitions,
                "unknown_partitions": estimate.unknown_partitions,
            },
        }))?;
        return Ok(Outcome::Ok);
    }
    println!(
        "would materialize {} step{} ({description}):",
        steps.len(),
        if steps.len() == 1 { "" } else { "s" }
    );
    for (asset, count) in per_asset {
        println!("  {asset}: {count}");
    }
    println!(
        "estimated cost: {}",
        strata_engine::costs::describe_estimate(estimate, currency)
    );
    Ok(Outcome::Ok)
}

/// Queues and executes a run with Ctrl-C handling and a progress display.
pub(crate) async fn execute(
    executor: &Executor,
    request: RunRequest,
    labels: &[String],
    as_json: bool,
) -> Result<RunReport, CliError> {
    executor.queue(&request).await.map_err(CliError::internal)?;
    execute_queued(executor, request, labels, as_json).await
}

/// Executes a run already queued, watched from the terminal.
pub(crate) async fn execute_queued(
    executor: &Executor,
    request: RunRequest,
    labels: &[String],
    as_json: bool,
) -> Result<RunReport, CliError> {
    let watch = Watch::start(executor, &request, labels, as_json);
    let report = executor
        .execute(request, watch.cancel.clone(), Some(watch.progress.clone()))
        .await
        .map_err(CliError::internal)?;
    watch.finish().await;
    Ok(report)
}

/// A run watched from the terminal: Ctrl-C cancels it, a progress display follows it.
pub(crate) struct Watch {
    /// Cancels the run (Ctrl-C does).
    pub(crate) cancel: CancelHandle,
    /// Where the executor reports progress.
    pub(crate) progress: mpsc::UnboundedSender<Progress>,
    interrupt: tokio::task::JoinHandle<()>,
    display: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// Starts watching the queued `request`.
    pub(crate) fn start(
        executor: &Executor,
        request: &RunRequest,
        labels: &[String],
        as_json: bool,
    ) -> Self {
        let run_id = request.run_id.clone();
        let total = request.steps.len();
        let (cancel, _) = cancel_pair();
        let (progress, receiver) = mpsc::unbounded_channel();
        let storage = Arc::clone(&executor.instance().storage);
        let clock = executor.clock();
        let interrupt = {
            let cancel = cancel.clone();
            let run_id = run_id.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("\ninterrupted: canceling the run (steps in flight are stopped)");
                    let _ = storage
                        .append(clock(), vec![Event::RunCancelRequested { run_id }])
                        .await;
                    cancel.cancel();
                }
            })
        };
        if !as_json {
            eprintln!(
                "run {run_id}: {total} step{}",
                if total == 1 { "" } else { "s" }
            );
        }
        let display = tokio::spawn(show_progress(receiver, labels.to_vec(), total, !as_json));
        Self {
            cancel,
            progress,
            interrupt,
            display,
        }
    }

    /// Stops watching once the run ended (the display drains what is left).
    pub(crate) async fn finish(self) {
        self.interrupt.abort();
        drop(self.progress);
        let _ = self.display.await;
    }
}

/// Counts and ETA on a terminal (redrawn in place on stderr); plain lines otherwise.
async fn show_progress(
    mut receiver: mpsc::UnboundedReceiver<Progress>,
    labels: Vec<String>,
    total: usize,
    enabled: bool,
) {
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let (mut done, mut ok, mut failed, mut skipped) = (0usize, 0usize, 0usize, 0usize);
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    while let Some(update) = receiver.recv().await {
        let Progress::Finished { step, outcome } = update else {
            continue;
        };
        done += 1;
        let verdict = match &outcome {
            StepOutcome::Succeeded { .. } => {
                ok += 1;
                "ok"
            }
            StepOutcome::Failed { .. } => {
                failed += 1;
                "FAILED"
            }
            StepOutcome::Skipped { .. } => {
                skipped += 1;
                "skipped"
            }
            StepOutcome::Canceled => "canceled",
        };
        if !enabled {
            continue;
        }
        let mut err = std::io::stderr().lock();
        if terminal {
            if done == total || last_draw.elapsed() > Duration::from_millis(100) {
                last_draw = Instant::now();
                let _ = write!(
                    err,
                    "\r\x1b[2K{}",
                    bar(done, total, ok, failed, skipped, started.elapsed())
                );
                let _ = err.flush();
            }
        } else {
            let line = match &outcome {
                StepOutcome::Failed { error, .. } => error.clone(),
                StepOutcome::Skipped { reason } => format!("{}: {reason}", labels[step]),
                _ => labels[step].clone(),
            };
            let _ = writeln!(err, "[{done}/{total}] {verdict} {line}");
        }
    }
    if enabled && terminal {
        let _ = writeln!(std::io::stderr());
    }
}

fn bar(
    done: usize,
    total: usize,
    ok: usize,
    failed: usize,
    skipped: usize,
    elapsed: Duration,
) -> String {
    const WIDTH: usize = 30;
    let filled = WIDTH * done / total.max(1);
    let eta = if done > 0 && done < total {
        let left = elapsed.mul_f64((total - done) as f64 / done as f64);
        format!(" · ETA {}", clock_time(left))
    } else {
        String::new()
    };
    format!(
        "[{}{}] {done}/{total} · {ok} ok · {failed} failed · {skipped} skipped · {}{eta}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        clock_time(elapsed)
    )
}

fn clock_time(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

pub(crate) fn summarize(
    report: &RunReport,
    labels: &[String],
    as_json: bool,
) -> Result<Outcome, CliError> {
    let ok = report.status == strata_storage::records::RunStatus::Succeeded;
    if as_json {
        print_json(&report_json(report, labels))?;
        return Ok(if ok { Outcome::Ok } else { Outcome::Failed });
    }
    for (i, outcome) in problems(report) {
        match outcome {
            StepOutcome::Failed { error, attempts } => {
                println!(
                    "failed  {error} (after {attempts} attempt{})",
                    if *attempts == 1 { "" } else { "s" }
                )
            }
            StepOutcome::Skipped { reason } => println!("skipped {}: {reason}", labels[i]),
            StepOutcome::Succeeded {
                blocking_failures,
                failed_checks,
                ..
            } => {
                for check in blocking_failures {
                    println!(
                        "check   {}: blocking check {check} failed; downstream partitions were skipped",
                        labels[i]
                    );
                }
                for check in failed_checks {
                    println!("check   {}: check {check} failed", labels[i]);
                }
            }
            StepOutcome::Canceled => println!("canceled {}", labels[i]),
        }
    }
    println!(
        "run {} {}: {} succeeded, {} failed, {} skipped, {} rows in {:.1}s",
        report.run_id,
        report.status.as_str(),
        report.succeeded(),
        report.failed(),
        report.skipped(),
        rows(report),
        report.elapsed.as_secs_f64()
    );
    Ok(if ok { Outcome::Ok } else { Outcome::Failed })
}

/// The run's summary as JSON: counts, rows, time, and every step that did not simply succeed.
pub(crate) fn report_json(report: &RunReport, labels: &[String]) -> serde_json::Value {
    json!({
        "run_id": report.run_id,
        "status": report.status.as_str(),
        "steps": report.outcomes.len(),
        "succeeded": report.succeeded(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "rows": rows(report),
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "problems": problems(report)
            .map(|(i, o)| json!({"step": labels[i], "outcome": outcome_json(o)}))
            .collect::<Vec<_>>(),
    })
}

/// Steps that failed, were skipped or canceled, or succeeded with failed checks.
fn problems(report: &RunReport) -> impl Iterator<Item = (usize, &StepOutcome)> {
    report
        .outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| Some((i, o.as_ref()?)))
        .filter(|(_, o)| match o {
            StepOutcome::Succeeded {
                blocking_failures,
                failed_checks,
                ..
            } => !blocking_failures.is_empty() || !failed_checks.is_empty(),
            _ => true,
        })
}

fn rows(report: &RunReport) -> u64 {
    report
        .outcomes
        .iter()
        .flatten()
        .map(|o| match o {
            StepOutcome::Succeeded { rows, .. } => *rows,
            _ => 0,
        })
        .sum()
}

fn outcome_json(outcome: &StepOutcome) -> serde_json::Value {
    match outcome {
        StepOutcome::Succeeded {
            blocking_failures,
            failed_checks,
            ..
        } => {
            json!({"status": "succeeded", "blocking_checks_failed": blocking_failures, "checks_failed": failed_checks})
        }
        StepOutcome::Failed { error, attempts } => {
            json!({"status": "failed", "error": error, "attempts": attempts})
        }
        StepOutcome::Skipped { reason } => json!({"status": "skipped", "reason": reason}),
        StepOutcome::Canceled => json!({"status": "canceled"}),
    }
}
