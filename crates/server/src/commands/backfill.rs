//! `strata backfill` (record a request, then run it here) and `strata backfills` (list, show,
//! resume, cancel).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::Keyspace;
use strata_core::plan::Target;
use strata_engine::backfill::{self, BackfillLease, JobEnd};
use strata_engine::executor::{Clock, Executor, cancel_pair};
use strata_engine::instance::Instance;
use strata_storage::event::{BackfillStatus, Event};
use strata_storage::records::{BackfillRecord, RunStatus};

use super::materialize::{self, Watch, describe_partitions, labels, print_plan, summarize};
use super::runs::time;
use crate::cli::{BackfillsAction, BackfillsArgs, MaterializeArgs};
use crate::commands::{print_json, select};
use crate::{CliError, Outcome, clock};

/// `strata backfill SELECTION …`: records the request, then runs it.
pub(crate) fn create(
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
        let targets =
            materialize::targets(&repository, &instance, &keys, &args.partitions, &keyspaces)
                .await?;
        let partitions = describe_partitions(&args.partitions);
        if args.dry_run {
            let steps = backfill::steps(&repository, targets.clone(), &keyspaces);
            let labels = labels(&steps, &keyspaces);
            let description = format!("backfill {}{partitions}", args.selection);
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
        if targets.is_empty() {
            if args.output.json {
                print_json(&json!({"backfill_id": null, "status": "nothing_to_do"}))?;
            } else {
                println!(
                    "nothing to backfill: {}{partitions} selects no partition",
                    args.selection
                );
            }
            return Ok(Outcome::Ok);
        }
        let executor = Executor::new(
            instance.clone(),
            Arc::clone(&repository),
            Arc::clone(&clock),
        );
        let (backfill_id, requested) = backfill::create(
            &executor,
            &args.selection,
            &partitions,
            &targets,
            &keyspaces,
        )
        .await
        .map_err(CliError::internal)?;
        if !args.output.json {
            eprintln!(
                "backfill {backfill_id}: {requested} partition{} of {} asset{} \
                 (if interrupted: `strata backfills resume {backfill_id}`)",
                plural(requested),
                targets.len(),
                plural(targets.len() as u64),
            );
        }
        let job = Job {
            executor: &executor,
            keyspaces: &keyspaces,
            backfill_id: &backfill_id,
            requested,
            concurrency: args.concurrency,
            as_json: args.output.json,
        };
        job.run(targets, 0).await
    })
}

/// `strata backfills [show | resume | cancel]`.
pub(crate) fn manage(
    repository: Repository,
    root: &Path,
    args: &BackfillsArgs,
) -> Result<Outcome, CliError> {
    let instance = crate::open_instance(root, repository.project())?;
    let clock = clock::event_clock()?;
    let repository = Arc::new(repository);
    crate::runtime()?.block_on(async {
        match &args.action {
            None => list(&instance, args.limit, args.output.json).await,
            Some(BackfillsAction::Show {
                backfill_id,
                output,
            }) => show(&instance, backfill_id, output.json || args.output.json).await,
            Some(BackfillsAction::Cancel { backfill_id }) => {
                let record = find(&instance, backfill_id).await?;
                if record.status != BackfillStatus::Requested {
                    return Err(CliError::Usage(format!(
                        "backfill {backfill_id} is already {}; only a requested backfill can be \
                         canceled",
                        record.status.as_str()
                    )));
                }
                backfill::cancel(instance.storage.as_ref(), backfill_id, clock())
                    .await
                    .map_err(CliError::internal)?;
                println!(
                    "backfill {backfill_id} canceled: no new steps start, and the process \
                     running it stops its steps in flight"
                );
                Ok(Outcome::Ok)
            }
            Some(BackfillsAction::Resume {
                backfill_id,
                concurrency,
                output,
            }) => {
                let as_json = output.json || args.output.json;
                resume(
                    &instance,
                    &repository,
                    clock,
                    backfill_id,
                    *concurrency,
                    as_json,
                )
                .await
            }
        }
    })
}

async fn resume(
    instance: &Instance,
    repository: &Arc<Repository>,
    clock: Clock,
    backfill_id: &str,
    concurrency: Option<u32>,
    as_json: bool,
) -> Result<Outcome, CliError> {
    let record = find(instance, backfill_id).await?;
    match record.status {
        BackfillStatus::Requested | BackfillStatus::Failed => {}
        BackfillStatus::Completed => {
            return Err(CliError::Usage(format!(
                "backfill {backfill_id} already completed; nothing to resume"
            )));
        }
        BackfillStatus::Canceled => {
            return Err(CliError::Usage(format!(
                "backfill {backfill_id} was canceled; start a new one with `strata backfill \
                 '{}' …`",
                record.selection
            )));
        }
    }
    let storage = Arc::clone(&instance.storage);
    let dynamic = storage
        .dynamic_partitions()
        .await
        .map_err(CliError::internal)?;
    let keyspaces = repository.keyspaces(clock().div_euclid(1000), &dynamic);
    let targets = backfill::targets_of(&record, &keyspaces, |k| repository.asset(k).is_some())
        .map_err(|e| CliError::Usage(format!("backfill {backfill_id} cannot resume: {e}")))?;
    let lease = BackfillLease::take(Arc::clone(&storage), backfill_id, Arc::clone(&clock))
        .await
        .map_err(|e| CliError::Usage(format!("backfill {backfill_id} cannot resume: {e}")))?;
    let outcome = async {
        let interrupted = backfill::fail_interrupted_runs(storage.as_ref(), backfill_id, clock())
            .await
            .map_err(CliError::internal)?;
        let done = backfill::done(storage.as_ref(), backfill_id, &targets, &keyspaces)
            .await
            .map_err(CliError::internal)?;
        let done_count = backfill::partition_count(&done);
        let remaining = backfill::remaining(&targets, &done);
        let mut events = Vec::new();
        if record.status != BackfillStatus::Requested {
            events.push(Event::BackfillResumed {
                backfill_id: backfill_id.to_string(),
            });
        }
        events.push(Event::BackfillProgressed {
            backfill_id: backfill_id.to_string(),
            completed: done_count,
            failed: 0,
        });
        storage
            .append(clock(), events)
            .await
            .map_err(CliError::internal)?;
        if !as_json {
            eprintln!(
                "backfill {backfill_id}: {done_count} of {} partitions already committed{}; \
                 running the other {}",
                record.requested,
                if interrupted > 0 {
                    format!(" ({interrupted} interrupted run marked failed)")
                } else {
                    String::new()
                },
                backfill::partition_count(&remaining)
            );
        }
        let executor = Executor::new(instance.clone(), Arc::clone(repository), Arc::clone(&clock));
        let job = Job {
            executor: &executor,
            keyspaces: &keyspaces,
            backfill_id,
            requested: record.requested,
            concurrency,
            as_json,
        };
        job.run(remaining, done_count).await
    }
    .await;
    lease.release().await;
    outcome
}

/// One execution of a backfill's remaining partitions, as one run, watched from the terminal.
struct Job<'a> {
    executor: &'a Executor,
    keyspaces: &'a BTreeMap<AssetKey, Keyspace<'a>>,
    backfill_id: &'a str,
    requested: u64,
    concurrency: Option<u32>,
    as_json: bool,
}

impl Job<'_> {
    /// Runs `remaining` (one partition per step, or a range per step for single-run assets)
    /// and reports how it ended.
    async fn run(
        &self,
        remaining: BTreeMap<AssetKey, Target>,
        done_before: u64,
    ) -> Result<Outcome, CliError> {
        let steps = backfill::steps(self.executor.repository(), remaining, self.keyspaces);
        let labels = labels(&steps, self.keyspaces);
        let job = backfill::Job {
            executor: self.executor.clone(),
            backfill_id: self.backfill_id.to_string(),
            steps,
            done_before,
            concurrency: self.concurrency.map(|c| c as usize),
            launched_by: "cli",
        };
        let request = job.request();
        let end = if request.steps.is_empty() {
            let (cancel, _) = cancel_pair();
            job.execute(request, cancel, None).await
        } else {
            self.executor
                .queue(&request)
                .await
                .map_err(CliError::internal)?;
            let watch = Watch::start(self.executor, &request, &labels, self.as_json);
            let end = job
                .execute(request, watch.cancel.clone(), Some(watch.progress.clone()))
                .await;
            watch.finish().await;
            end
        }
        .map_err(CliError::internal)?;
        if let Some(report) = &end.run
            && !self.as_json
        {
            summarize(report, &labels, false)?;
        }
        self.report(&end, &labels)
    }

    fn report(&self, end: &JobEnd, labels: &[String]) -> Result<Outcome, CliError> {
        let id = self.backfill_id;
        let (status, completed, failed) = (end.status, end.completed, end.failed);
        let ok = end
            .run
            .as_ref()
            .is_none_or(|r| r.status == RunStatus::Succeeded);
        if self.as_json {
            print_json(&json!({
                "backfill_id": id,
                "status": status.as_str(),
                "requested": self.requested,
                "completed": completed,
                "failed": failed,
                "run": end.run.as_ref().map(|r| materialize::report_json(r, labels)),
            }))?;
        } else if status == BackfillStatus::Requested {
            println!(
                "backfill {id} interrupted: {completed} of {} partitions committed; \
                 `strata backfills resume {id}` continues it",
                self.requested
            );
        } else {
            println!(
                "backfill {id} {}: {completed} of {} partitions committed, {failed} failed",
                status.as_str(),
                self.requested
            );
        }
        Ok(if ok { Outcome::Ok } else { Outcome::Failed })
    }
}

async fn find(instance: &Instance, backfill_id: &str) -> Result<BackfillRecord, CliError> {
    instance
        .storage
        .backfill(backfill_id)
        .await
        .map_err(CliError::internal)?
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no backfill `{backfill_id}`; `strata backfills` lists them"
            ))
        })
}

async fn list(instance: &Instance, limit: u32, as_json: bool) -> Result<Outcome, CliError> {
    let backfills = instance
        .storage
        .backfills(limit)
        .await
        .map_err(CliError::internal)?;
    if as_json {
        print_json(&json!({"backfills": backfills}))?;
    } else if backfills.is_empty() {
        println!("no backfills yet; `strata backfill SELECTION --from A --to B` starts one");
    } else {
        for b in &backfills {
            println!(
                "{}  {:<9}  {}  {:>6}/{:<6} {:>4} failed  {} {}",
                b.backfill_id,
                b.status.as_str(),
                time(b.created_at),
                b.completed,
                b.requested,
                b.failed,
                b.selection,
                b.partitions
            );
        }
    }
    Ok(Outcome::Ok)
}

async fn show(instance: &Instance, backfill_id: &str, as_json: bool) -> Result<Outcome, CliError> {
    let record = find(instance, backfill_id).await?;
    let runs = backfill::runs(instance.storage.as_ref(), backfill_id)
        .await
        .map_err(CliError::internal)?;
    if as_json {
        print_json(&json!({"backfill": record, "runs": runs}))?;
        return Ok(Outcome::Ok);
    }
    println!(
        "backfill {}  {}",
        record.backfill_id,
        record.status.as_str()
    );
    println!("  {} {}", record.selection, record.partitions);
    println!(
        "  {} of {} partitions committed, {} failed; created {}{}",
        record.completed,
        record.requested,
        record.failed,
        time(record.created_at),
        record
            .ended_at
            .map(|t| format!(", ended {}", time(t)))
            .unwrap_or_default()
    );
    println!("  requests:");
    for target in &record.targets {
        let ranges: Vec<String> = target
            .ranges
            .iter()
            .map(|r| {
                if r.first == r.last {
                    r.first.clone()
                } else {
                    format!("{}..{}", r.first, r.last)
                }
            })
            .collect();
        println!(
            "    {} {}",
            target.asset,
            if ranges.is_empty() {
                "(unpartitioned)".to_string()
            } else {
                ranges.join(", ")
            }
        );
    }
    println!("  runs:");
    for run in &runs {
        println!(
            "    {}  {:<9}  {}  {:>5} steps{}",
            run.run_id,
            run.status.as_str(),
            time(run.created_at),
            run.steps,
            run.error
                .as_ref()
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        );
    }
    Ok(Outcome::Ok)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
