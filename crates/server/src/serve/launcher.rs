//! Runs launched by the server (backfills from the API): executed in the background, each
//! holding its backfill's lease, and stopped explicitly on shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_core::plan::PlannedStep;
use strata_engine::backfill::{self, BackfillLease};
use strata_engine::executor::{CancelHandle, Executor, cancel_pair};
use tokio::task::JoinSet;

/// The background runs of this process.
#[derive(Debug, Default)]
pub struct Launcher {
    tasks: Mutex<JoinSet<()>>,
    running: Arc<Mutex<HashMap<String, CancelHandle>>>,
}

/// A backfill to execute in the background.
pub struct BackfillLaunch {
    /// Executes it (built on the definitions it was created with).
    pub executor: Executor,
    /// The backfill.
    pub backfill_id: String,
    /// Its steps.
    pub steps: Vec<PlannedStep>,
    /// Steps at once (`None`: the project's default).
    pub concurrency: Option<usize>,
}

impl Launcher {
    /// Queues the backfill's run now (so it is listed as soon as the request returns) and
    /// executes it in the background. Returns the run's id.
    pub async fn backfill(
        &self,
        launch: BackfillLaunch,
    ) -> Result<String, strata_engine::executor::ExecuteError> {
        let BackfillLaunch {
            executor,
            backfill_id,
            steps,
            concurrency,
        } = launch;
        let job = backfill::Job {
            executor,
            backfill_id,
            steps,
            done_before: 0,
            concurrency,
            launched_by: "api",
        };
        let request = job.request();
        let run_id = request.run_id.clone();
        job.executor.queue(&request).await?;
        let (cancel, _) = cancel_pair();
        self.lock_running().insert(run_id.clone(), cancel.clone());
        let running = Arc::clone(&self.running);
        let task_run_id = run_id.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let storage = Arc::clone(&job.executor.instance().storage);
            let id = job.backfill_id.clone();
            match BackfillLease::take(storage, &id, job.executor.clock()).await {
                Ok(lease) => {
                    if let Err(error) = job.execute(request, cancel, None).await {
                        tracing::error!(%error, backfill_id = id, "backfill run failed to record");
                    }
                    lease.release().await;
                }
                Err(error) => tracing::error!(%error, backfill_id = id, "backfill not started"),
            }
            running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&task_run_id);
        });
        Ok(run_id)
    }

    /// Runs executing in this process now.
    pub fn running(&self) -> usize {
        self.lock_running().len()
    }

    /// Stops every run of this process: their steps in flight are interrupted and recorded as
    /// canceled, and each run ends canceled (a canceled backfill run can be resumed). Waits up
    /// to `grace` for them to record it.
    pub async fn shutdown(&self, grace: Duration) {
        for cancel in self.lock_running().values() {
            cancel.cancel();
        }
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let drained = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!("runs still executing after the shutdown grace period were abandoned");
        }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancelHandle>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}
