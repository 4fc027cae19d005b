//! `strata runs` and `strata runs show RUN_ID`.

use std::path::Path;

use serde_json::json;
use strata_core::model::Repository;
use strata_storage::event::Event;
use strata_storage::records::{RunFilter, RunRecord, StepRecord};

use crate::cli::{RunsAction, RunsArgs};
use crate::commands::print_json;
use crate::{CliError, Outcome};

/// Log lines shown by `runs show` (the newest are kept when there are more).
const LOG_LINES: u32 = 10_000;

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &RunsArgs,
) -> Result<Outcome, CliError> {
    let instance = crate::open_instance(root, repository.project())?;
    let storage = instance.storage;
    crate::runtime()?.block_on(async {
        match &args.action {
            None => {
                let runs = storage
                    .runs(&RunFilter {
                        limit: Some(args.limit),
                        ..RunFilter::default()
                    })
                    .await
                    .map_err(CliError::internal)?;
                if args.output.json {
                    print_json(&json!({"runs": runs}))?;
                } else if runs.is_empty() {
                    println!("no runs yet; `strata materialize` starts one");
                } else {
                    for run in &runs {
                        println!(
                            "{}  {:<9}  {}  {:>8}  {:>5} steps  {}",
                            run.run_id,
                            run.status.as_str(),
                            time(run.created_at),
                            duration(run),
                            run.steps,
                            run.description
                        );
                    }
                }
                Ok(Outcome::Ok)
            }
            Some(RunsAction::Show { run_id, output }) => {
                let Some(run) = storage.run(run_id).await.map_err(CliError::internal)? else {
                    return Err(CliError::Usage(format!(
                        "no run `{run_id}`; `strata runs` lists them"
                    )));
                };
                let steps = storage.steps(run_id).await.map_err(CliError::internal)?;
                let logs: Vec<_> = storage
                    .run_events(run_id, 0, LOG_LINES)
                    .await
                    .map_err(CliError::internal)?
                    .into_iter()
                    .filter(|r| matches!(r.event, Event::Log { .. }))
                    .collect();
                if output.json || args.output.json {
                    print_json(&json!({"run": run, "steps": steps, "logs": logs}))?;
                    return Ok(Outcome::Ok);
                }
                println!("run {}  {}", run.run_id, run.status.as_str());
                println!("  {}", run.description);
                println!(
                    "  created {}  took {}",
                    time(run.created_at),
                    duration(&run)
                );
                if let Some(error) = &run.error {
                    println!("  error: {error}");
                }
                println!("steps:");
                for step in &steps {
                    println!("  {}", step_line(step));
                }
                if !logs.is_empty() {
                    println!("log:");
                    for record in &logs {
                        if let Event::Log {
                            asset,
                            partition,
                            level,
                            message,
                            ..
                        } = &record.event
                        {
                            let source = match (asset, partition) {
                                (Some(a), Some(p)) => format!("{a} {p}"),
                                (Some(a), None) => a.to_string(),
                                _ => "run".to_string(),
                            };
                            println!(
                                "  {} {:<5} {source}: {message}",
                                time(record.timestamp),
                                format!("{level:?}").to_lowercase()
                            );
                        }
                    }
                }
                Ok(Outcome::Ok)
            }
        }
    })
}

fn step_line(step: &StepRecord) -> String {
    let took = step
        .ended_at
        .map(|end| format!("{} ms", end - step.started_at))
        .unwrap_or_else(|| "…".into());
    let partition = step
        .partition
        .as_deref()
        .map(|p| format!(" {p}"))
        .unwrap_or_default();
    let error = step
        .error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    format!(
        "{:<9} {}{partition}  attempt {}  {took}{error}",
        step.status.as_str(),
        step.asset,
        step.attempt
    )
}

/// RFC 3339 in UTC, seconds.
pub(crate) fn time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn duration(run: &RunRecord) -> String {
    match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => format!("{:.1}s", (end - start) as f64 / 1000.0),
        (Some(_), None) => "running".into(),
        _ => "queued".into(),
    }
}
