//! The executor: runs a plan's steps in dependency order, in parallel, and records every fact.
//!
//! ```text
//!   RunQueued, RunStarted
//!   ┌─ schedule: a step starts when its upstream steps succeeded and the run's concurrency
//!   │  and its pool have room; a failure (or a failed blocking check) skips its downstream
//!   ├─ step (a task each): StepStarted → compute → commit → checks → StepSucceeded
//!   │                      or StepRetrying (backoff) … → StepFailed
//!   └─ cancellation (Ctrl-C, or the storage flag polled every 250 ms) stops new steps and
//!      interrupts executing ones
//!   RunSucceeded | RunFailed | RunCanceled
//! ```
//!
//! Every step runs in its own task, so a panic in asset code fails that step — with its asset
//! and partition — and nothing else.

mod cancel;
mod retry;
mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_core::key::AssetKey;
use strata_core::model::{Asset, Repository};
use strata_core::partitions::definition::InMemoryDynamicPartitions;
use strata_core::plan::PlannedStep;
use strata_storage::StorageError;
use strata_storage::event::{Event, Millis};
use strata_storage::records::RunStatus;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use cancel::{CancelHandle, CancelSignal, cancel_pair};
pub(crate) use retry::retry_delay;
use schedule::{Finished, Schedule};

use crate::instance::Instance;
use crate::step::{self, StepOutcome};

/// "Now" in milliseconds since the epoch: the wall clock, or a fixed instant (`STRATA_NOW`).
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// A run to execute.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The run's id (see [`new_run_id`]).
    pub run_id: String,
    /// What it materializes, for people (`* from 2013-01-01 to 2013-12-31`).
    pub description: String,
    /// The backfill it belongs to, if any.
    pub backfill_id: Option<String>,
    /// The steps, upstream first.
    pub steps: Vec<PlannedStep>,
    /// Steps at once; `[executor] concurrency` (else the number of CPUs) when `None`.
    pub concurrency: Option<usize>,
    /// Free tags recorded on the run.
    pub tags: BTreeMap<String, String>,
}

/// A fresh run id: time-ordered and unique.
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Live updates for a progress display.
#[derive(Clone, Debug)]
pub enum Progress {
    /// Step `step` started executing.
    Started {
        /// Its index in the plan.
        step: usize,
    },
    /// Step `step` ended.
    Finished {
        /// Its index in the plan.
        step: usize,
        /// How.
        outcome: StepOutcome,
    },
}

/// How a run ended, step by step.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The run.
    pub run_id: String,
    /// `succeeded`, `failed` or `canceled`.
    pub status: RunStatus,
    /// Each step's outcome, by plan index (`None`: never started because the run was canceled).
    pub outcomes: Vec<Option<StepOutcome>>,
    /// Wall time.
    pub elapsed: Duration,
}

impl RunReport {
    /// Steps that succeeded.
    pub fn succeeded(&self) -> usize {
        self.count(|o| matches!(o, StepOutcome::Succeeded { .. }))
    }

    /// Steps that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, StepOutcome::Failed { .. }))
    }

    /// Steps skipped because something upstream failed.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, StepOutcome::Skipped { .. }))
    }

    fn count(&self, f: impl Fn(&StepOutcome) -> bool) -> usize {
        self.outcomes.iter().flatten().filter(|o| f(o)).count()
    }
}

/// Why a run could not be executed at all (its steps' failures are in the [`RunReport`]).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// Recording the run failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Executes runs against one repository and its instance.
#[derive(Clone)]
pub struct Executor {
    shared: Arc<Shared>,
}

/// What every step of every run reads.
pub(crate) struct Shared {
    pub(crate) instance: Instance,
    pub(crate) repository: Arc<Repository>,
    pub(crate) clock: Clock,
}

/// What every step of one run reads.
pub(crate) struct RunContext {
    pub(crate) run_id: String,
    /// Dynamic partitions as the run started.
    pub(crate) dynamic: InMemoryDynamicPartitions,
    /// The run's start, in seconds: keyspaces are evaluated at this instant.
    pub(crate) now_secs: i64,
    pub(crate) cancel: CancelSignal,
    /// Code versions computed from the declaration alone (no code files), per asset: the same
    /// for every step of the run, and worth computing once (SQL is normalized to hash it).
    pub(crate) declared_code_versions: std::sync::Mutex<HashMap<AssetKey, String>>,
    /// OpenLineage `COMPLETE` events still reading their facets; the run awaits them last.
    pub(crate) lineage_pending: Pending,
    /// The column lineage its OpenLineage events carry, per asset.
    pub(crate) lineage_columns: Arc<crate::openlineage::ColumnsOfRun>,
}

/// Background tasks a run awaits before it ends.
#[derive(Debug, Default)]
pub(crate) struct Pending(std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>);

impl Pending {
    pub(crate) fn push(&self, task: tokio::task::JoinHandle<()>) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(task);
    }

    async fn wait(&self) {
        let tasks = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl RunContext {
    /// The code version of `asset` for a step of this run. Code files are read for every step
    /// (a command's script may change while the run executes; its steps record what they ran).
    pub(crate) fn code_version(&self, root: &Path, asset: &Asset) -> Result<String, String> {
        if crate::versions::reads_code_files(asset) {
            return crate::versions::asset_code_version(root, asset);
        }
        let mut cache = self
            .declared_code_versions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(version) = cache.get(&asset.key) {
            return Ok(version.clone());
        }
        let version = crate::versions::asset_code_version(root, asset)?;
        cache.insert(asset.key.clone(), version.clone());
        Ok(version)
    }
}

impl Executor {
    /// An executor for `repository` on `instance`.
    pub fn new(instance: Instance, repository: Arc<Repository>, clock: Clock) -> Self {
        Self {
            shared: Arc::new(Shared {
                instance,
                repository,
                clock,
            }),
        }
    }

    /// The repository it executes.
    pub fn repository(&self) -> &Arc<Repository> {
        &self.shared.repository
    }

    /// The instance it records to.
    pub fn instance(&self) -> &Instance {
        &self.shared.instance
    }

    /// The clock its events are stamped with.
    pub fn clock(&self) -> Clock {
        Arc::clone(&self.shared.clock)
    }

    /// Records the run as queued. Separate from [`execute`](Self::execute) so a caller can
    /// queue a run and have it executed later (backfills, the daemon).
    pub async fn queue(&self, request: &RunRequest) -> Result<(), ExecuteError> {
        let now = (self.shared.clock)();
        self.shared
            .instance
            .storage
            .append(
                now,
                vec![Event::RunQueued {
                    run_id: request.run_id.clone(),
                    backfill_id: request.backfill_id.clone(),
                    description: request.description.clone(),
                    steps: request.steps.len() as u64,
                    tags: request.tags.clone(),
                }],
            )
            .await?;
        Ok(())
    }

    /// Executes a queued run to its end. Step failures are reported, not returned as errors.
    pub async fn execute(
        &self,
        request: RunRequest,
        cancel: CancelHandle,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<RunReport, ExecuteError> {
        // i64: OpenTelemetry has no unsigned integers; a usize would be exported as text.
        let span = tracing::info_span!("run", run_id = %request.run_id, steps = request.steps.len() as i64, description = %request.description);
        self.execute_in_span(request, cancel, progress)
            .instrument(span)
            .await
    }

    async fn execute_in_span(
        &self,
        request: RunRequest,
        cancel: CancelHandle,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<RunReport, ExecuteError> {
        let started = Instant::now();
        let storage = Arc::clone(&self.shared.instance.storage);
        let now = (self.shared.clock)();
        storage
            .append(
                now,
                vec![Event::RunStarted {
                    run_id: request.run_id.clone(),
                }],
            )
            .await?;
        let run = Arc::new(RunContext {
            run_id: request.run_id.clone(),
            dynamic: storage.dynamic_partitions().await?,
            now_secs: now.div_euclid(1000),
            cancel: cancel.signal(),
            declared_code_versions: Default::default(),
            lineage_pending: Pending::default(),
            lineage_columns: Arc::default(),
        });
        let poller = tokio::spawn(poll_cancel_flag(
            Arc::clone(&storage),
            request.run_id.clone(),
            cancel.clone(),
        ));

        let project = self.shared.repository.project();
        let concurrency = request
            .concurrency
            .or(project.executor.concurrency.map(|c| c as usize))
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let pools: Vec<Option<String>> = request
            .steps
            .iter()
            .map(|s| {
                self.shared
                    .repository
                    .asset(&s.asset)
                    .and_then(|a| a.pool.clone())
            })
            .collect();
        let limits = project
            .executor
            .pools
            .iter()
            .map(|(name, limit)| (name.clone(), *limit as usize))
            .collect();
        let mut schedule = Schedule::new(&request.steps, pools, concurrency, limits);
        let steps = Arc::new(request.steps);
        let mut outcomes: Vec<Option<StepOutcome>> = vec![None; steps.len()];
        let mut tasks = JoinSet::new();
        let mut task_steps = BTreeMap::new();
        let signal = cancel.signal();
        let mut canceled = false;

        loop {
            if !canceled && signal.is_cancelled() {
                canceled = true;
                schedule.skip_the_rest();
            }
            while let Some(id) = schedule.next() {
                // A spawned task starts outside every span: carry the run's span into it so
                // each step's span is the run span's child (one trace per run when exported).
                let handle = tasks.spawn(
                    step::run_step(
                        Arc::clone(&self.shared),
                        Arc::clone(&run),
                        Arc::clone(&steps),
                        id,
                    )
                    .in_current_span(),
                );
                task_steps.insert(handle.id(), id);
                if let Some(progress) = &progress {
                    let _ = progress.send(Progress::Started { step: id });
                }
            }
            if schedule.is_done() {
                break;
            }
            let mut waiting = signal.clone();
            let joined = tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                () = waiting.cancelled(), if !canceled => continue,
            };
            let Some(joined) = joined else { break };
            let (id, outcome) = match joined {
                Ok((task, outcome)) => (task_steps[&task], outcome),
                Err(error) => {
                    let id = task_steps[&error.id()];
                    let outcome =
                        step::record_panic(&self.shared, &run, &steps[id], error.to_string()).await;
                    (id, outcome)
                }
            };
            let finished = match &outcome {
                StepOutcome::Succeeded {
                    blocking_failures, ..
                } if blocking_failures.is_empty() => Finished::Succeeded,
                StepOutcome::Succeeded {
                    blocking_failures, ..
                } => Finished::Stops(format!(
                    "blocking check {} of {} failed",
                    blocking_failures.join(", "),
                    step::describe(&self.shared, &run, &steps[id])
                )),
                StepOutcome::Failed { .. } => Finished::Stops(format!(
                    "upstream {} failed",
                    step::describe(&self.shared, &run, &steps[id])
                )),
                StepOutcome::Canceled | StepOutcome::Skipped { .. } => {
                    Finished::Stops("the run was canceled".into())
                }
            };
            let skipped = schedule.finish(id, finished);
            if let Some(progress) = &progress {
                let _ = progress.send(Progress::Finished {
                    step: id,
                    outcome: outcome.clone(),
                });
            }
            outcomes[id] = Some(outcome);
            if !skipped.is_empty() && !canceled {
                let now = (self.shared.clock)();
                let mut events = Vec::new();
                for (down, reason) in skipped {
                    events.extend(step::skipped_events(
                        &self.shared,
                        &run,
                        &steps[down],
                        &reason,
                    ));
                    let outcome = StepOutcome::Skipped { reason };
                    if let Some(progress) = &progress {
                        let _ = progress.send(Progress::Finished {
                            step: down,
                            outcome: outcome.clone(),
                        });
                    }
                    outcomes[down] = Some(outcome);
                }
                storage.append(now, events).await?;
            }
        }
        poller.abort();
        run.lineage_pending.wait().await;

        let failures = outcomes
            .iter()
            .flatten()
            .filter(|o| !matches!(o, StepOutcome::Succeeded { blocking_failures, .. } if blocking_failures.is_empty()))
            .count();
        let (status, event) = if canceled {
            (
                RunStatus::Canceled,
                Event::RunCanceled {
                    run_id: run.run_id.clone(),
                },
            )
        } else if failures > 0 {
            (
                RunStatus::Failed,
                Event::RunFailed {
                    run_id: run.run_id.clone(),
                    error: run_failure_summary(&outcomes),
                },
            )
        } else {
            (
                RunStatus::Succeeded,
                Event::RunSucceeded {
                    run_id: run.run_id.clone(),
                },
            )
        };
        storage.append((self.shared.clock)(), vec![event]).await?;
        tracing::info!(status = status.as_str(), "run ended");
        Ok(RunReport {
            run_id: run.run_id.clone(),
            status,
            outcomes,
            elapsed: started.elapsed(),
        })
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("root", &self.shared.instance.root)
            .finish_non_exhaustive()
    }
}

fn run_failure_summary(outcomes: &[Option<StepOutcome>]) -> String {
    let count = |f: fn(&StepOutcome) -> bool| outcomes.iter().flatten().filter(|o| f(o)).count();
    let failed = count(|o| matches!(o, StepOutcome::Failed { .. }));
    let blocked = count(
        |o| matches!(o, StepOutcome::Succeeded { blocking_failures, .. } if !blocking_failures.is_empty()),
    );
    let skipped = count(|o| matches!(o, StepOutcome::Skipped { .. }));
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!("{failed} step(s) failed"));
    }
    if blocked > 0 {
        parts.push(format!("{blocked} blocking check failure(s)"));
    }
    if skipped > 0 {
        parts.push(format!("{skipped} step(s) skipped"));
    }
    parts.join(", ")
}

/// Polls the run's cancellation flag in storage (set by `strata runs cancel`, the API, or
/// another process) and raises the in-process flag when it is set.
async fn poll_cancel_flag(
    storage: Arc<dyn strata_storage::Storage>,
    run_id: String,
    cancel: CancelHandle,
) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    loop {
        interval.tick().await;
        if storage.cancel_requested(&run_id).await.unwrap_or(false) {
            cancel.cancel();
            return;
        }
    }
}
