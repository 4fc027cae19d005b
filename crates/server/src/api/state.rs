//! What every handler reads: the instance, the current definitions, the clock, the launcher
//! and the metrics — one `Arc`, cloned per request.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use strata_core::key::AssetKey;
use strata_core::model::{Asset, Repository};
use strata_core::partitions::definition::InMemoryDynamicPartitions;
use strata_engine::executor::{Clock, Executor};
use strata_engine::instance::Instance;

use super::ApiError;
use crate::CliError;
use crate::serve::definitions::Definitions;
use crate::serve::launcher::Launcher;
use crate::serve::metrics::Metrics;
use crate::serve::status_cache::{StaleReport, StatusCache};

/// The server's state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What the state holds.
pub struct Inner {
    /// The repository's storage and IO managers.
    pub instance: Instance,
    /// The current definitions.
    pub definitions: Definitions,
    /// "Now" for events and keyspaces.
    pub clock: Clock,
    /// Runs executing in this process.
    pub launcher: Launcher,
    /// Prometheus counters.
    pub metrics: Arc<Metrics>,
    /// Partition statuses and the stale report, kept until the event log changes them.
    pub statuses: StatusCache,
    /// Lineage answers, kept per definitions generation.
    pub lineage: super::assets::LineageCache,
    /// The metrics' event-log tail, stopped with the state.
    tail: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tail.abort();
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads the repository at `root` and opens its instance. Call inside a Tokio runtime:
    /// it starts the metrics' tail of the event log.
    pub async fn open(root: &Path, clock: Clock) -> Result<Self, CliError> {
        let definitions = Definitions::load(root)?;
        let snapshot = definitions.current();
        let project = match &snapshot.repository {
            Some(repository) => repository.project().clone(),
            None => {
                crate::commands::print_diagnostics(&snapshot.errors);
                return Err(CliError::Usage(format!(
                    "the repository has {} error{}; fix them to start (`strata check` lists them)",
                    snapshot.errors.len(),
                    if snapshot.errors.len() == 1 { "" } else { "s" }
                )));
            }
        };
        let instance = crate::open_instance(root, &project)?;
        let metrics = Arc::new(Metrics::default());
        let statuses = StatusCache::starting_at(
            instance
                .storage
                .last_event_id()
                .await
                .map_err(CliError::internal)?,
        );
        let tail = tokio::spawn(crate::serve::metrics::tail(
            Arc::clone(&instance.storage),
            Arc::clone(&metrics),
        ));
        Ok(Self(Arc::new(Inner {
            instance,
            definitions,
            clock,
            launcher: Launcher::default(),
            metrics,
            statuses,
            lineage: Default::default(),
            tail,
        })))
    }

    /// The repository in service.
    pub fn repository(&self) -> Arc<Repository> {
        self.definitions
            .current()
            .repository
            .clone()
            .expect("the server starts only with a repository that loaded")
    }

    /// An executor for the repository in service.
    pub fn executor(&self) -> Executor {
        Executor::new(
            self.instance.clone(),
            self.repository(),
            Arc::clone(&self.clock),
        )
    }

    /// "Now", in seconds.
    pub fn now_secs(&self) -> i64 {
        (self.clock)().div_euclid(1000)
    }

    /// The definitions' generation now (cached statuses are kept per generation).
    pub fn generation(&self) -> u64 {
        self.definitions.current().generation
    }

    /// The status of `asset` now, from the cache when nothing changed it.
    pub async fn status(
        &self,
        asset: &AssetKey,
        keyspace: Option<&strata_core::partitions::Keyspace<'_>>,
    ) -> Result<Arc<strata_storage::status::PartitionStatus>, ApiError> {
        self.statuses
            .status(
                self.instance.storage.as_ref(),
                asset,
                keyspace,
                self.generation(),
            )
            .await
            .map_err(ApiError::internal)
    }

    /// The stale report now, from the cache when nothing changed.
    pub async fn stale(
        &self,
        repository: &Repository,
        keyspaces: &Keyspaces<'_>,
    ) -> Result<Arc<StaleReport>, ApiError> {
        self.statuses
            .stale(&self.instance, repository, keyspaces, self.generation())
            .await
            .map_err(ApiError::internal)
    }

    /// The dynamic partitions stored now.
    pub async fn dynamic(&self) -> Result<InMemoryDynamicPartitions, ApiError> {
        self.instance
            .storage
            .dynamic_partitions()
            .await
            .map_err(ApiError::internal)
    }
}

/// The asset `group/name`, or 404 naming the closest key.
pub fn find_asset<'r>(
    repository: &'r Repository,
    group: &str,
    name: &str,
) -> Result<&'r Asset, ApiError> {
    repository
        .find(&format!("{group}/{name}"))
        .map_err(|e| ApiError::not_found("unknown_asset", e.to_string()))
}

/// Resolves a selection, or 400 pointing into it.
pub fn select(
    repository: &Repository,
    text: &str,
) -> Result<std::collections::BTreeSet<AssetKey>, ApiError> {
    repository.select(text).map_err(|e| {
        let hint = e.hint.map(|h| format!("; {h}")).unwrap_or_default();
        ApiError::bad_request(
            "invalid_selection",
            format!(
                "selection `{text}`, at character {}: {}{hint}",
                e.offset + 1,
                e.message
            ),
        )
    })
}

/// Milliseconds since the epoch as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Keyspaces of every partitioned asset of `repository` now.
pub type Keyspaces<'a> = BTreeMap<AssetKey, strata_core::partitions::Keyspace<'a>>;
