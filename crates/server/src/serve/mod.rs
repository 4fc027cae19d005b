//! `strata serve`: one process for the API, the automation daemon and the executor.
//!
//! It watches the repository's files and swaps the definitions in when they change (a
//! repository that fails to load keeps the old definitions and shows its errors), ticks the
//! daemon on the real clock, and on Ctrl-C or SIGTERM stops taking requests, cancels the runs
//! it launched (their steps in flight end as canceled, and a backfill stays resumable), waits
//! for the daemon's runs, and releases the daemon's lease.
//!
//! # Module organization
//!
//! - [`definitions`]: the current definitions, reloaded atomically.
//! - [`launcher`]: runs this process executes in the background.
//! - [`metrics`]: Prometheus counters, fed by a tail of the event log.
//! - [`status_cache`]: partition statuses kept until the event log changes them.

pub mod definitions;
pub mod launcher;
pub mod metrics;
pub mod status_cache;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata_engine::automation::daemon;
use strata_engine::automation::recover::Recovered;

use crate::api::{AppState, app};
use crate::{CliError, Outcome};

/// How often the repository's files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// How long shutdown waits for canceled runs to record that they stopped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the server until Ctrl-C or SIGTERM.
pub(crate) fn run(root: &Path, bind: Option<&str>) -> Result<Outcome, CliError> {
    let bind: Option<SocketAddr> = bind
        .map(|text| {
            text.parse().map_err(|_| {
                CliError::Usage(format!(
                    "--bind `{text}` is not an address and port, such as 127.0.0.1:3000"
                ))
            })
        })
        .transpose()?;
    let clock = crate::clock::event_clock()?;
    crate::runtime()?.block_on(async {
        let state = AppState::open(root, clock).await?;
        let address = bind.unwrap_or(state.repository().project().server.bind);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| CliError::Usage(format!("cannot listen on {address}: {e}")))?;
        // The port actually bound (`--bind 127.0.0.1:0` picks a free one).
        let address = listener.local_addr().map_err(CliError::Io)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(watch_files(state.clone(), stopped.clone()));
        let daemon = spawn_daemon(state.clone(), stopped.clone())?;
        let repository = state.repository();
        println!(
            "strata serve: {} ({} assets) at http://{address}/ — API under /api/v1, Ctrl-C stops",
            repository.project().name,
            repository.len()
        );
        let shutdown = {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        tokio::spawn(async move {
            wait_for_signal().await;
            eprintln!("stopping: canceling this server's runs, then waiting for the daemon's");
            let _ = stop.send(true);
        });
        axum::serve(listener, app(state.clone()))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(CliError::Io)?;
        state.launcher.shutdown(SHUTDOWN_GRACE).await;
        let _ = tokio::task::spawn_blocking(move || daemon.join()).await;
        watcher.abort();
        Ok(Outcome::Ok)
    })
}

/// Ctrl-C, or SIGTERM (how service managers stop a process).
async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// Reloads the definitions whenever a declaration file changes.
async fn watch_files(state: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = stopped.changed() => return,
        }
        let definitions = &state.definitions;
        if let Some(snapshot) = definitions.reload_if_changed() {
            state.metrics.reload();
            if snapshot.errors.is_empty() {
                eprintln!("definitions reloaded (generation {})", snapshot.generation);
            } else {
                eprintln!(
                    "the repository has {} error{}; the previous definitions stay in service \
                     (`strata check` lists them)",
                    snapshot.errors.len(),
                    if snapshot.errors.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
}

/// Starts the daemon on its own runtime and threads: a tick evaluates for as long as it
/// needs (seconds on a million partitions) without taking the API's threads, so requests
/// keep their latency while it runs.
fn spawn_daemon(
    state: AppState,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<()>, CliError> {
    let runtime = crate::runtime()?;
    std::thread::Builder::new()
        .name("strata-daemon".into())
        .spawn(move || runtime.block_on(run_daemon(state, stopped)))
        .map_err(CliError::Io)
}

/// The automation daemon on the current definitions, until the server stops.
async fn run_daemon(state: AppState, stopped: tokio::sync::watch::Receiver<bool>) {
    let definitions = {
        let state = state.clone();
        move || state.repository()
    };
    let metrics = Arc::clone(&state.metrics);
    let result = daemon::run(
        state.instance.clone(),
        definitions,
        Arc::clone(&state.clock),
        stopped,
        |result| match result {
            Ok(outcome) => {
                metrics.tick(outcome.duration_ms.max(0) as u64, true);
                if !outcome.runs.is_empty() {
                    eprintln!(
                        "automation tick {}: {} run(s) launched",
                        outcome.tick.unwrap_or_default(),
                        outcome.runs.len()
                    );
                }
            }
            Err(error) => {
                metrics.tick(0, false);
                tracing::warn!(%error, "automation tick failed; retrying at the next interval");
            }
        },
        Recovered::report,
    )
    .await;
    if let Err(error) = result {
        eprintln!("the automation daemon stopped: {error}");
    }
}
