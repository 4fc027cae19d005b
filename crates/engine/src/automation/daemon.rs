//! The daemon: ticks on the real clock, one per storage, supervised.
//!
//! It holds the storage lease `automation` (renewed every tick, 3 intervals to live), so a
//! second daemon waits as a standby — and `strata automation tick` refuses — instead of
//! double-requesting. A tick that fails is logged and retried at the next interval; the
//! stored state only moves when a tick completes, so nothing is missed.

use std::sync::Arc;
use std::time::Duration;

use strata_core::model::Repository;

use super::tick::{TickMode, run_tick};
use super::{AutomationError, recover};
use crate::executor::{Clock, Executor, cancel_pair};
use crate::instance::Instance;

/// The lease one ticking process holds.
pub const LEASE: &str = "automation";

pub use crate::lease::holder;

/// Takes the automation lease for `ttl`, or says who holds it. A lease left by a process of
/// this machine that no longer exists (a tick killed half-way) is taken over at once.
pub async fn take_lease(
    instance: &Instance,
    holder: &str,
    now_ms: i64,
    ttl: Duration,
) -> Result<(), AutomationError> {
    let storage = &instance.storage;
    let ttl_ms = ttl.as_millis() as i64;
    let mut lease = storage.acquire_lease(LEASE, holder, now_ms, ttl_ms).await?;
    if lease.holder != holder && crate::lease::holder_is_gone(&lease.holder) {
        storage.release_lease(LEASE, &lease.holder).await?;
        lease = storage.acquire_lease(LEASE, holder, now_ms, ttl_ms).await?;
    }
    if lease.holder == holder {
        Ok(())
    } else {
        Err(AutomationError::Busy(format!(
            "another process ticks this storage (lease `{LEASE}` held by {} until {}); stop it or wait",
            lease.holder,
            chrono::DateTime::from_timestamp_millis(lease.expires_at)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        )))
    }
}

/// Ticks every `[daemon] tick_interval` until `stop` resolves, launching each tick's runs in
/// the background. Each tick evaluates the definitions `repository` returns then (a server
/// swaps them when the files change). `on_tick` sees every outcome (for logs and metrics).
/// Before its first tick it recovers what a process that died left undone
/// ([`recover::interrupted_runs`]; `on_recover` sees it).
pub async fn run(
    instance: Instance,
    repository: impl Fn() -> Arc<Repository> + Send,
    clock: Clock,
    mut stop: tokio::sync::watch::Receiver<bool>,
    on_tick: impl Fn(Result<&super::TickOutcome, &AutomationError>) + Send,
    on_recover: impl Fn(Result<&recover::Recovered, &AutomationError>) + Send,
) -> Result<(), AutomationError> {
    let holder = holder();
    let mut running = tokio::task::JoinSet::new();
    let mut delivering = tokio::task::JoinSet::new();
    let deliverer =
        crate::alerts::Deliverer::new(Arc::clone(&instance.storage), Arc::clone(&clock));
    let mut recovered = false;
    loop {
        let repository = repository();
        let interval = repository.project().daemon.tick_interval;
        let executor = Executor::new(
            instance.clone(),
            Arc::clone(&repository),
            Arc::clone(&clock),
        );
        let now = clock();
        // A daemon that finds the lease taken waits as a standby and takes over when the other
        // process stops renewing it.
        let leased = take_lease(&instance, &holder, now, interval * 3).await;
        let holds_lease = leased.is_ok();
        let result = match leased {
            Ok(()) if !recovered => {
                // Before the first tick: what a process that died asked for and did not do. A
                // tick waits until that is done, or it would bury the runs to recover.
                let found = recover::interrupted_runs(&instance, &repository, now).await;
                on_recover(found.as_ref());
                match found {
                    Ok(found) => {
                        recovered = true;
                        for again in found.relaunch {
                            launch(&mut running, &executor, again.run.request, !again.queued);
                        }
                        run_tick(&instance, &repository, now, TickMode::Launch).await
                    }
                    Err(error) => Err(error),
                }
            }
            Ok(()) => run_tick(&instance, &repository, now, TickMode::Launch).await,
            Err(error) => Err(error),
        };
        on_tick(result.as_ref());
        // Alert deliveries run beside the ticks, by the process that holds the lease only (a
        // standby sends nothing): a channel that is down retries with backoff without delaying
        // the next tick, any run, or the other channels.
        if !holds_lease {
            delivering.abort_all();
        } else if let Err(e) = deliverer.start(&repository, &mut delivering).await {
            tracing::warn!(error = %e, "starting alert deliveries failed; retried at the next tick");
        }
        if let Ok(outcome) = result {
            for run in outcome.runs {
                launch(&mut running, &executor, run.request, true);
            }
        }
        while running.try_join_next().is_some() {}
        while delivering.try_join_next().is_some() {}
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => break,
        }
    }
    // Deliveries stop with the daemon (what is pending stays pending for whoever ticks next):
    // once runs are waited for below, the lease may lapse, and another process may send them.
    delivering.abort_all();
    while delivering.join_next().await.is_some() {}
    // Runs end before the lease is given up: a process taking it over must not find them
    // unfinished and launch them again.
    while running.join_next().await.is_some() {}
    let _ = instance.storage.release_lease(LEASE, &holder).await;
    Ok(())
}

/// Executes `request` in the background (queuing it first unless it already is).
fn launch(
    running: &mut tokio::task::JoinSet<()>,
    executor: &Executor,
    request: crate::executor::RunRequest,
    queue: bool,
) {
    let executor = executor.clone();
    running.spawn(async move {
        if !queue || executor.queue(&request).await.is_ok() {
            let (cancel, _) = cancel_pair();
            let _ = executor.execute(request, cancel, None).await;
        }
    });
}
