//! Persistent backfills: what a backfill requests (resolved once, when it is created), what of
//! it is done (the partitions its own runs committed), and which process is running it.
//!
//! Resuming never re-reads `missing` or `stale` against a world the backfill itself changed: it
//! takes the recorded request and subtracts what the backfill's runs already committed, so an
//! interrupted backfill completes with nothing committed twice.

mod job;

pub use job::{Job, JobEnd, create, steps};

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use strata_core::key::AssetKey;
use strata_core::partitions::{Keyspace, PartitionSubset};
use strata_core::plan::Target;
use strata_storage::event::{BackfillTarget, Event, KeyRange, Millis};
use strata_storage::records::{BackfillRecord, RunFilter, RunRecord, RunStatus};
use strata_storage::{Storage, StorageError};

/// The request as recorded: each asset with its partitions as inclusive key ranges.
pub fn records(
    targets: &BTreeMap<AssetKey, Target>,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Vec<BackfillTarget> {
    targets
        .iter()
        .map(|(asset, target)| {
            let ranges = match (subset_of(target), keyspaces.get(asset)) {
                (Some(subset), Some(keys)) => subset
                    .ranges()
                    .into_iter()
                    .filter_map(|r| {
                        Some(KeyRange {
                            first: keys.key(r.start)?,
                            last: keys.key(r.end - 1)?,
                        })
                    })
                    .collect(),
                _ => Vec::new(),
            };
            BackfillTarget {
                asset: asset.clone(),
                ranges,
            }
        })
        .collect()
}

/// Asset partitions requested by `targets` (an unpartitioned asset counts once).
pub fn partition_count(targets: &BTreeMap<AssetKey, Target>) -> u64 {
    targets.values().map(target_count).sum()
}

/// Asset partitions one target requests (an unpartitioned asset counts once).
pub fn target_count(target: &Target) -> u64 {
    subset_of(target).map_or(1, PartitionSubset::count)
}

/// The recorded request as targets of one partition per step (apply
/// [`strata_core::plan::backfill_targets`] for single-run assets). Fails when the repository
/// changed so that an asset or a partition of the request no longer exists.
pub fn targets_of(
    record: &BackfillRecord,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    exists: impl Fn(&AssetKey) -> bool,
) -> Result<BTreeMap<AssetKey, Target>, String> {
    let mut targets = BTreeMap::new();
    for target in &record.targets {
        if !exists(&target.asset) {
            return Err(format!(
                "{} is no longer in the repository; start a new backfill",
                target.asset
            ));
        }
        let Some(keys) = keyspaces.get(&target.asset) else {
            if !target.ranges.is_empty() {
                return Err(format!(
                    "{} is no longer partitioned; start a new backfill",
                    target.asset
                ));
            }
            targets.insert(target.asset.clone(), Target::Unpartitioned);
            continue;
        };
        let index = |key: &str| {
            keys.index_of(key).ok_or_else(|| {
                format!(
                    "partition `{key}` of {} no longer exists; start a new backfill",
                    target.asset
                )
            })
        };
        let mut ranges = Vec::with_capacity(target.ranges.len());
        for range in &target.ranges {
            ranges.push(index(&range.first)?..index(&range.last)? + 1);
        }
        targets.insert(
            target.asset.clone(),
            Target::EachPartition(PartitionSubset::from_ranges(ranges)),
        );
    }
    Ok(targets)
}

/// The backfill's runs, newest first.
pub async fn runs(
    storage: &dyn Storage,
    backfill_id: &str,
) -> Result<Vec<RunRecord>, StorageError> {
    storage
        .runs(&RunFilter {
            backfill_id: Some(backfill_id.to_string()),
            limit: Some(10_000),
            ..RunFilter::default()
        })
        .await
}

/// What of `targets` the backfill's runs have committed: the partitions whose current
/// materialization one of them wrote. (Anything re-materialized since by someone else is not
/// counted, and so is done again — it is no longer what the backfill made.)
pub async fn done(
    storage: &dyn Storage,
    backfill_id: &str,
    targets: &BTreeMap<AssetKey, Target>,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Result<BTreeMap<AssetKey, Target>, StorageError> {
    let run_ids: HashSet<String> = runs(storage, backfill_id)
        .await?
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    let mut done = BTreeMap::new();
    if run_ids.is_empty() {
        return Ok(done);
    }
    for asset in targets.keys() {
        let ours = storage
            .current_materializations(asset, None)
            .await?
            .into_iter()
            .filter(|m| m.run_id.as_ref().is_some_and(|r| run_ids.contains(r)));
        let target = match keyspaces.get(asset) {
            None => match ours.count() {
                0 => continue,
                _ => Target::Unpartitioned,
            },
            Some(keys) => Target::EachPartition(PartitionSubset::from_indices(
                ours.filter_map(|m| keys.index_of(m.partition.as_deref()?)),
            )),
        };
        done.insert(asset.clone(), target);
    }
    Ok(done)
}

/// `targets` without what is `done`; assets with nothing left are dropped.
pub fn remaining(
    targets: &BTreeMap<AssetKey, Target>,
    done: &BTreeMap<AssetKey, Target>,
) -> BTreeMap<AssetKey, Target> {
    targets
        .iter()
        .filter_map(|(asset, target)| {
            let left = match (target, done.get(asset)) {
                (Target::Unpartitioned, Some(Target::Unpartitioned)) => return None,
                (Target::Unpartitioned, _) => Target::Unpartitioned,
                (Target::EachPartition(all) | Target::Ranges(all), finished) => {
                    let left = match finished.and_then(subset_of) {
                        Some(finished) => all.difference(finished),
                        None => all.clone(),
                    };
                    if left.is_empty() {
                        return None;
                    }
                    Target::EachPartition(left)
                }
            };
            Some((asset.clone(), left))
        })
        .collect()
}

/// Fails, explicitly, the backfill's runs that never ended (their process stopped: `kill -9`,
/// a crash, a power cut). Their unfinished steps are recorded as abandoned. Returns how many.
pub async fn fail_interrupted_runs(
    storage: &dyn Storage,
    backfill_id: &str,
    now: Millis,
) -> Result<usize, StorageError> {
    let events: Vec<Event> = runs(storage, backfill_id)
        .await?
        .into_iter()
        .filter(|r| matches!(r.status, RunStatus::Queued | RunStatus::Started))
        .map(|r| Event::RunFailed {
            run_id: r.run_id,
            error: "interrupted: the process running it stopped before it ended; \
                    the backfill was resumed"
                .to_string(),
        })
        .collect();
    let count = events.len();
    if count > 0 {
        storage.append(now, events).await?;
    }
    Ok(count)
}

/// Cancels a backfill: marks it canceled and asks its unfinished runs to stop, in one
/// transaction (the process running them stops their steps within a poll interval).
pub async fn cancel(
    storage: &dyn Storage,
    backfill_id: &str,
    now: Millis,
) -> Result<(), StorageError> {
    let mut events = vec![Event::BackfillFinished {
        backfill_id: backfill_id.to_string(),
        status: strata_storage::event::BackfillStatus::Canceled,
    }];
    events.extend(
        runs(storage, backfill_id)
            .await?
            .into_iter()
            .filter(|r| matches!(r.status, RunStatus::Queued | RunStatus::Started))
            .map(|r| Event::RunCancelRequested { run_id: r.run_id }),
    );
    storage.append(now, events).await.map(drop)
}

fn subset_of(target: &Target) -> Option<&PartitionSubset> {
    match target {
        Target::Unpartitioned => None,
        Target::EachPartition(subset) | Target::Ranges(subset) => Some(subset),
    }
}

/// How long a backfill's lease lasts without renewal, and how often its holder renews it.
const LEASE_TTL: Duration = Duration::from_secs(30);
const LEASE_RENEWAL: Duration = Duration::from_secs(10);

/// The right to run one backfill, held by one process at a time and renewed in the background
/// while it runs. A lease left by a process that is gone (on this machine) is taken over at
/// once; otherwise it lapses after 30 s without renewal.
pub struct BackfillLease {
    storage: Arc<dyn Storage>,
    name: String,
    holder: String,
    renewal: tokio::task::JoinHandle<()>,
}

/// Someone else is running the backfill.
#[derive(Debug)]
pub enum LeaseError {
    /// Held by a live process.
    Held {
        /// `pid@host` of the holder.
        holder: String,
        /// Seconds until it lapses unless renewed.
        seconds_left: i64,
    },
    /// Storage failed.
    Storage(StorageError),
}

impl std::fmt::Display for LeaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Held {
                holder,
                seconds_left,
            } => write!(
                f,
                "the backfill is being run by process {holder}; stop that process, or wait \
                 {seconds_left} s if it is gone"
            ),
            Self::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl BackfillLease {
    /// Takes the lease of `backfill_id` for this process.
    pub async fn take(
        storage: Arc<dyn Storage>,
        backfill_id: &str,
        clock: crate::executor::Clock,
    ) -> Result<Self, LeaseError> {
        let name = format!("backfill:{backfill_id}");
        let holder = crate::lease::holder();
        let ttl = LEASE_TTL.as_millis() as i64;
        let mut lease = storage
            .acquire_lease(&name, &holder, clock(), ttl)
            .await
            .map_err(LeaseError::Storage)?;
        if lease.holder != holder && crate::lease::holder_is_gone(&lease.holder) {
            storage
                .release_lease(&name, &lease.holder)
                .await
                .map_err(LeaseError::Storage)?;
            lease = storage
                .acquire_lease(&name, &holder, clock(), ttl)
                .await
                .map_err(LeaseError::Storage)?;
        }
        if lease.holder != holder {
            return Err(LeaseError::Held {
                seconds_left: (lease.expires_at - clock()).max(0) / 1000 + 1,
                holder: lease.holder,
            });
        }
        let renewal = {
            let (storage, name, holder) = (Arc::clone(&storage), name.clone(), holder.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LEASE_RENEWAL).await;
                    if let Err(e) = storage.acquire_lease(&name, &holder, clock(), ttl).await {
                        tracing::warn!(error = %e, "renewing the backfill lease failed");
                    }
                }
            })
        };
        Ok(Self {
            storage,
            name,
            holder,
            renewal,
        })
    }

    /// Gives the lease up.
    pub async fn release(self) {
        self.renewal.abort();
        let _ = self.storage.release_lease(&self.name, &self.holder).await;
    }
}
