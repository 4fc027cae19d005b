//! Creating a backfill and executing what remains of it, as one run, for any front end: the
//! CLI shows a progress bar around it, the server streams its progress to clients.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::Keyspace;
use strata_core::plan::{PlannedStep, Target, backfill_targets, plan_steps};
use strata_storage::StorageError;
use strata_storage::event::{BackfillStatus, Event};
use strata_storage::records::RunStatus;
use tokio::sync::mpsc;

use super::{partition_count, records};
use crate::StepOutcome;
use crate::executor::{
    CancelHandle, ExecuteError, Executor, Progress, RunReport, RunRequest, new_run_id,
};

/// How often a running backfill records its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Records a new backfill of `targets` and returns its id and partition count.
pub async fn create(
    executor: &Executor,
    selection: &str,
    partitions: &str,
    targets: &BTreeMap<AssetKey, Target>,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Result<(String, u64), StorageError> {
    let backfill_id = new_run_id();
    let requested = partition_count(targets);
    let clock = executor.clock();
    executor
        .instance()
        .storage
        .append(
            clock(),
            vec![Event::BackfillCreated {
                backfill_id: backfill_id.clone(),
                selection: selection.to_string(),
                partitions: partitions.trim().to_string(),
                requested,
                targets: records(targets, keyspaces),
            }],
        )
        .await?;
    Ok((backfill_id, requested))
}

/// The steps that run `remaining` of a backfill: single-run assets a range per step, every
/// other asset one partition per step.
pub fn steps(
    repository: &Repository,
    remaining: BTreeMap<AssetKey, Target>,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Vec<PlannedStep> {
    plan_steps(
        repository,
        &backfill_targets(repository, remaining),
        keyspaces,
    )
}

/// One execution of a backfill's remaining steps (owned, so a server can move it into a
/// background task).
pub struct Job {
    /// Executes the run.
    pub executor: Executor,
    /// The backfill.
    pub backfill_id: String,
    /// Its steps (see [`steps`]).
    pub steps: Vec<PlannedStep>,
    /// Partitions its earlier runs already committed.
    pub done_before: u64,
    /// Steps at once (`None`: the project's default).
    pub concurrency: Option<usize>,
    /// Who launched it (the run's `launched_by` tag: `cli`, `api`).
    pub launched_by: &'static str,
}

/// How a backfill execution ended.
#[derive(Debug)]
pub struct JobEnd {
    /// The backfill's status now: `requested` when the run was interrupted here (resumable).
    pub status: BackfillStatus,
    /// The run, when there was anything to run.
    pub run: Option<RunReport>,
    /// Partitions committed, including earlier runs'.
    pub completed: u64,
    /// Partitions failed or skipped in this run.
    pub failed: u64,
}

impl Job {
    /// The run this job executes (queue it with [`Executor::queue`] first, then
    /// [`execute`](Self::execute) it).
    pub fn request(&self) -> RunRequest {
        RunRequest {
            run_id: new_run_id(),
            description: format!("backfill {}", self.backfill_id),
            backfill_id: Some(self.backfill_id.clone()),
            steps: self.steps.clone(),
            concurrency: self.concurrency,
            tags: BTreeMap::from([("launched_by".to_string(), self.launched_by.to_string())]),
        }
    }

    /// Executes the queued `request`, recording progress as it goes and how it ended:
    /// completed, failed — or nothing when it was canceled (already recorded by the cancel) or
    /// interrupted here (resumable). `progress` sees every step start and end.
    pub async fn execute(
        &self,
        request: RunRequest,
        cancel: CancelHandle,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<JobEnd, ExecuteError> {
        let storage = Arc::clone(&self.executor.instance().storage);
        let clock = self.executor.clock();
        if request.steps.is_empty() {
            let status = finish(
                &self.executor,
                &self.backfill_id,
                Some(BackfillStatus::Completed),
            )
            .await?;
            return Ok(JobEnd {
                status,
                run: None,
                completed: self.done_before,
                failed: 0,
            });
        }
        let sizes: Vec<u64> = request
            .steps
            .iter()
            .map(|s| s.partitions.as_ref().map_or(1, |p| p.count()))
            .collect();
        let (sender, mut updates) = mpsc::unbounded_channel::<Progress>();
        let recorder = {
            let (clock, id) = (Arc::clone(&clock), self.backfill_id.clone());
            let done_before = self.done_before;
            tokio::spawn(async move {
                let (mut completed, mut failed) = (done_before, 0u64);
                let mut recorded = Instant::now();
                let record = |completed, failed| Event::BackfillProgressed {
                    backfill_id: id.clone(),
                    completed,
                    failed,
                };
                while let Some(update) = updates.recv().await {
                    if let Progress::Finished { step, outcome } = &update {
                        match outcome {
                            StepOutcome::Succeeded { .. } => completed += sizes[*step],
                            StepOutcome::Failed { .. } | StepOutcome::Skipped { .. } => {
                                failed += sizes[*step]
                            }
                            StepOutcome::Canceled => {}
                        }
                        if recorded.elapsed() >= PROGRESS_EVERY {
                            recorded = Instant::now();
                            let _ = storage
                                .append(clock(), vec![record(completed, failed)])
                                .await;
                        }
                    }
                    if let Some(progress) = &progress {
                        let _ = progress.send(update);
                    }
                }
                let _ = storage
                    .append(clock(), vec![record(completed, failed)])
                    .await;
                (completed, failed)
            })
        };
        let report = self.executor.execute(request, cancel, Some(sender)).await?;
        let (completed, failed) = recorder.await.unwrap_or((self.done_before, 0));
        let ended = match report.status {
            RunStatus::Succeeded => Some(BackfillStatus::Completed),
            RunStatus::Failed => Some(BackfillStatus::Failed),
            _ => None,
        };
        let status = finish(&self.executor, &self.backfill_id, ended).await?;
        Ok(JobEnd {
            status,
            run: Some(report),
            completed,
            failed,
        })
    }
}

/// Records how the backfill ended (`None`: it did not, it was interrupted here), unless it
/// already ended (canceled meanwhile). Returns its status now.
async fn finish(
    executor: &Executor,
    backfill_id: &str,
    ended: Option<BackfillStatus>,
) -> Result<BackfillStatus, StorageError> {
    let storage = &executor.instance().storage;
    let current = storage
        .backfill(backfill_id)
        .await?
        .map_or(BackfillStatus::Requested, |b| b.status);
    if current == BackfillStatus::Requested
        && let Some(status) = ended
    {
        storage
            .append(
                executor.clock()(),
                vec![Event::BackfillFinished {
                    backfill_id: backfill_id.to_string(),
                    status,
                }],
            )
            .await?;
        return Ok(status);
    }
    Ok(current)
}
