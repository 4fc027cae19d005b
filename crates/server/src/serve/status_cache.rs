//! Partition statuses (and the stale report) served from memory, recomputed only when the event
//! log shows they may have changed.
//!
//! Building an asset's status from storage turns every stored key into its index of the
//! current definition: about half a second for a million partitions. A server answers the same
//! question many times between changes, so each status is kept with the id of the newest event
//! it reflects. Every read first asks storage for the newest event id (one indexed query) and
//! reads the events it has not seen, noting which assets they touch: a status is reused only
//! when nothing touched its asset since it was built. Events of other processes count the
//! same, so a read never returns a status older than the log at the moment of the read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::Keyspace;
use strata_core::staleness::StaleMap;
use strata_engine::instance::Instance;
use strata_engine::staleness::stale_report;
use strata_storage::event::{Event, EventId};
use strata_storage::status::PartitionStatus;
use strata_storage::{Storage, StorageError};
use tokio::sync::Mutex;

/// The stale report of every asset.
pub type StaleReport = BTreeMap<AssetKey, StaleMap>;

/// Cached statuses and what invalidates them.
#[derive(Debug, Default)]
pub struct StatusCache {
    state: Mutex<State>,
    /// Held while the stale report is built, so concurrent requests wait for one build
    /// instead of each starting their own.
    building_stale: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    /// Every event up to this id has been looked at.
    cursor: EventId,
    /// The newest event that touched each asset.
    changed: HashMap<AssetKey, EventId>,
    /// The newest event that may touch every asset (a run ended, abandoning its steps;
    /// dynamic partitions changed).
    changed_all: EventId,
    /// Statuses by asset.
    statuses: HashMap<AssetKey, Entry>,
    /// The stale report, with the event id and definitions generation it reflects.
    stale: Option<(EventId, u64, Arc<StaleReport>)>,
}

#[derive(Debug)]
struct Entry {
    /// The newest event it reflects.
    built_at: EventId,
    /// The definitions it was built against.
    generation: u64,
    /// How many partitions the keyspace had (new time windows appear as time passes).
    partitions: u64,
    status: Arc<PartitionStatus>,
}

impl State {
    /// Reads the events after the cursor up to `latest`, noting what they touch.
    async fn catch_up(
        &mut self,
        storage: &dyn Storage,
        latest: EventId,
    ) -> Result<(), StorageError> {
        while self.cursor < latest {
            let records = storage.events_after(self.cursor, 10_000).await?;
            let Some(last) = records.last() else {
                break;
            };
            self.cursor = last.id;
            for record in &records {
                match &record.event {
                    Event::RunFailed { .. }
                    | Event::RunCanceled { .. }
                    | Event::RunSucceeded { .. }
                    | Event::DynamicPartitionsAdded { .. }
                    | Event::DynamicPartitionsRemoved { .. } => self.changed_all = record.id,
                    event => {
                        if let Some((asset, _)) = event.asset_partition() {
                            self.changed.insert(asset.clone(), record.id);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn changed_since(&self, asset: &AssetKey, built_at: EventId) -> bool {
        self.changed_all > built_at || self.changed.get(asset).is_some_and(|&id| id > built_at)
    }
}

impl StatusCache {
    /// Starts looking at events after `cursor` (the log's end when the server starts: nothing
    /// is cached yet, so nothing earlier can invalidate anything).
    pub fn starting_at(cursor: EventId) -> Self {
        Self {
            state: Mutex::new(State {
                cursor,
                ..State::default()
            }),
            building_stale: Mutex::new(()),
        }
    }

    /// The status of `asset` now (`keyspace` `None`: unpartitioned).
    pub async fn status(
        &self,
        storage: &dyn Storage,
        asset: &AssetKey,
        keyspace: Option<&Keyspace<'_>>,
        generation: u64,
    ) -> Result<Arc<PartitionStatus>, StorageError> {
        let latest = storage.last_event_id().await?;
        let partitions = keyspace.map_or(1, Keyspace::len);
        {
            let mut state = self.state.lock().await;
            state.catch_up(storage, latest).await?;
            if let Some(entry) = state.statuses.get(asset)
                && entry.generation == generation
                && entry.partitions == partitions
                && !state.changed_since(asset, entry.built_at)
            {
                return Ok(Arc::clone(&entry.status));
            }
        }
        let status = Arc::new(match keyspace {
            Some(keyspace) => storage.partition_status(asset, keyspace).await?,
            None => storage.unpartitioned_status(asset).await?,
        });
        self.state.lock().await.statuses.insert(
            asset.clone(),
            Entry {
                // Events appended while it was built are newer than `latest`: they invalidate it.
                built_at: latest,
                generation,
                partitions,
                status: Arc::clone(&status),
            },
        );
        Ok(status)
    }

    /// The stale report now: reused while no event was appended and the definitions (and the
    /// code files they hash) did not change.
    pub async fn stale(
        &self,
        instance: &Instance,
        repository: &Repository,
        keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
        generation: u64,
    ) -> Result<Arc<StaleReport>, String> {
        let storage = instance.storage.as_ref();
        let _building = self.building_stale.lock().await;
        let latest = storage.last_event_id().await.map_err(|e| e.to_string())?;
        if let Some((built_at, built_for, report)) = &self.state.lock().await.stale
            && *built_at == latest
            && *built_for == generation
        {
            return Ok(Arc::clone(report));
        }
        let report = Arc::new(
            stale_report(instance, repository, keyspaces)
                .await
                .map_err(|e| e.to_string())?,
        );
        self.state.lock().await.stale = Some((latest, generation, Arc::clone(&report)));
        Ok(report)
    }
}
