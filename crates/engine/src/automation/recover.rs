//! Runs a ticking process asked for but did not live to finish.
//!
//! A tick stores what it requested before its runs are queued, and the stored state counts
//! those partitions as handled: a process killed between the two (or while its runs execute)
//! would leave requests that no later tick repeats. So the process that takes the automation
//! lease looks, before its first tick, at the runs of processes of this machine that are gone
//! (their `automation_process` tag, `pid@host`):
//!
//! - a run of the latest tick that was never queued, or a run of a recent tick queued and never
//!   started, is launched again under its own run id — exactly what the tick planned;
//! - a run that started is failed explicitly (`interrupted: …`), so its partitions stop being in
//!   progress and the next ticks evaluate them again.
//!
//! A process on another machine cannot be checked from here: its runs are left as they are.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use strata_core::model::Repository;
use strata_storage::event::Event;
use strata_storage::records::{RunFilter, RunStatus};

use super::AutomationError;
use super::runs::{self, Requested};
use super::tick::PlannedRun;
use crate::instance::Instance;
use crate::lease::holder_is_gone;

/// The tag naming the process (`pid@host`) that launched an automation run.
pub const PROCESS_TAG: &str = "automation_process";

/// How many of the latest ticks are searched for runs to launch again.
const RECENT_TICKS: u32 = 50;

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Runs to launch again (queue them when `queued` is false, then execute them).
    pub relaunch: Vec<RecoveredRun>,
    /// Started runs failed as interrupted.
    pub failed: usize,
}

impl Recovered {
    /// `automation: 1 run launched again, 2 interrupted runs failed (their process stopped)`;
    /// `None` when there was nothing to recover.
    pub fn summary(&self) -> Option<String> {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        match (self.relaunch.len(), self.failed) {
            (0, 0) => None,
            (again, failed) => Some(format!(
                "automation: {} launched again, {} failed (the process that launched them stopped)",
                plural(again, "run"),
                plural(failed, "interrupted run")
            )),
        }
    }

    /// Prints the summary (or the error) on standard error.
    pub fn report(found: Result<&Self, &AutomationError>) {
        match found {
            Ok(found) => {
                if let Some(summary) = found.summary() {
                    eprintln!("{summary}");
                }
            }
            Err(error) => eprintln!("automation: recovering interrupted runs failed: {error}"),
        }
    }
}

/// A run to launch again.
#[derive(Debug)]
pub struct RecoveredRun {
    /// The run, under its original id.
    pub run: PlannedRun,
    /// Whether its RunQueued event is already stored.
    pub queued: bool,
}

/// One entry of a tick's `runs` record.
#[derive(Deserialize)]
struct TickRun {
    run_id: String,
    targets: Vec<Requested>,
    #[serde(default)]
    process: Option<String>,
}

/// Finds the runs that processes now gone asked for and did not finish (see the module), fails
/// the started ones, and returns the others to launch again.
pub async fn interrupted_runs(
    instance: &Instance,
    repository: &Repository,
    now_ms: i64,
) -> Result<Recovered, AutomationError> {
    let storage = instance.storage.as_ref();
    let gone = |process: Option<&String>| process.is_some_and(|p| holder_is_gone(p));
    let unfinished = storage
        .runs(&RunFilter {
            statuses: vec![RunStatus::Queued, RunStatus::Started],
            limit: Some(10_000),
            ..RunFilter::default()
        })
        .await?;
    let mut queued = BTreeSet::new();
    let mut failed = Vec::new();
    for run in unfinished {
        if run.tags.get("launched_by").map(String::as_str) != Some("automation")
            || !gone(run.tags.get(PROCESS_TAG))
        {
            continue;
        }
        if run.status == RunStatus::Queued {
            queued.insert(run.run_id);
        } else {
            failed.push(Event::RunFailed {
                error: format!(
                    "interrupted: the process running it ({}) stopped before it ended",
                    run.tags[PROCESS_TAG]
                ),
                run_id: run.run_id,
            });
        }
    }
    let mut recovered = Recovered {
        failed: failed.len(),
        ..Recovered::default()
    };
    if !failed.is_empty() {
        storage.append(now_ms, failed).await?;
    }

    let dynamic = storage.dynamic_partitions().await?;
    let keyspaces = repository.keyspaces(now_ms.div_euclid(1000), &dynamic);
    // Only the latest launched tick can hold runs never queued: a process that ticks after it
    // recovers first. Runs queued and never started may come from older ticks (a
    // `strata automation tick` executes its runs one after the other).
    let launched = storage
        .ticks(RECENT_TICKS)
        .await?
        .into_iter()
        .filter(|t| t.launched);
    for (age, tick) in launched.enumerate() {
        let planned: Vec<TickRun> = serde_json::from_str(&tick.runs)
            .map_err(|e| AutomationError::State(format!("tick {}: {e}", tick.tick)))?;
        for entry in planned {
            let was_queued = queued.contains(&entry.run_id);
            let never_queued = !was_queued
                && age == 0
                && gone(entry.process.as_ref())
                && storage.run(&entry.run_id).await?.is_none();
            if !(was_queued || never_queued) {
                continue;
            }
            let tags = BTreeMap::from([
                ("launched_by".to_string(), "automation".to_string()),
                ("automation_tick".to_string(), tick.tick.to_string()),
                (PROCESS_TAG.to_string(), crate::lease::holder()),
            ]);
            let description = runs::describe(&entry.targets);
            let Some(mut request) =
                runs::run_request(repository, &keyspaces, &entry.targets, description, tags)
            else {
                continue; // its assets are gone from the repository: nothing to run
            };
            queued.remove(&entry.run_id);
            request.run_id = entry.run_id;
            recovered.relaunch.push(RecoveredRun {
                run: PlannedRun {
                    request,
                    targets: entry.targets,
                },
                queued: was_queued,
            });
        }
    }
    // Queued by a tick too old to find: fail it rather than leave it queued for ever.
    if !queued.is_empty() {
        recovered.failed += queued.len();
        let events = queued
            .into_iter()
            .map(|run_id| Event::RunFailed {
                run_id,
                error: "interrupted: the process that queued it stopped before starting it"
                    .to_string(),
            })
            .collect();
        storage.append(now_ms, events).await?;
    }
    Ok(recovered)
}
