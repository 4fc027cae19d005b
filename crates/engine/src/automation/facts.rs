//! Reads what a tick decides from: every asset's partition status, what changed since the
//! cursor, staleness (when a condition asks), backfills in progress, blocking checks, code
//! versions — as [`AssetFacts`] over each asset's keyspace.

use std::collections::{BTreeMap, BTreeSet};

use strata_core::automation::evaluate::{AssetFacts, reads_stale};
use strata_core::key::AssetKey;
use strata_core::model::{Compute, Repository};
use strata_core::partitions::{Keyspace, PartitionSubset};
use strata_storage::event::{BackfillStatus, Event, EventId};
use strata_storage::status::PartitionStatus;

use super::AutomationError;
use crate::instance::Instance;
use crate::staleness::stale_report;
use crate::versions::asset_code_version;

/// How many events one read of the log returns.
const PAGE: u32 = 10_000;

/// What happened since the cursor.
#[derive(Default)]
pub(crate) struct Changes {
    /// The last event id read.
    pub cursor: EventId,
    /// Assets some event was about.
    pub touched: BTreeSet<AssetKey>,
    /// Materializations, and observations with a new data version: (asset, partition, ms).
    pub updates: Vec<(AssetKey, Option<String>, i64)>,
    /// An event changed state without naming an asset (a run ended abnormally, a backfill,
    /// dynamic partitions): every asset must be evaluated.
    pub global: bool,
}

/// Reads the log after `cursor`. `sources` holds the last data version seen per observed
/// source partition (`asset|partition`) and is updated: an observation that repeats the
/// version is not an update.
pub(crate) async fn changes_since(
    instance: &Instance,
    cursor: EventId,
    sources: &mut BTreeMap<String, String>,
) -> Result<Changes, AutomationError> {
    let mut changes = Changes {
        cursor,
        ..Changes::default()
    };
    loop {
        let page = instance.storage.events_after(changes.cursor, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        changes.cursor = last.id;
        for record in &page {
            if let Some((asset, _)) = record.event.asset_partition() {
                changes.touched.insert(asset.clone());
            }
            match &record.event {
                Event::Materialization(m) => {
                    changes
                        .updates
                        .push((m.asset.clone(), m.partition.clone(), record.timestamp));
                }
                Event::Observation(o) => {
                    let slot = format!("{}|{}", o.asset, o.partition.as_deref().unwrap_or(""));
                    if sources.get(&slot) != Some(&o.data_version) {
                        sources.insert(slot, o.data_version.clone());
                        changes.updates.push((
                            o.asset.clone(),
                            o.partition.clone(),
                            record.timestamp,
                        ));
                    }
                }
                Event::RunFailed { .. }
                | Event::RunCanceled { .. }
                | Event::BackfillCreated { .. }
                | Event::BackfillResumed { .. }
                | Event::BackfillFinished { .. }
                | Event::DynamicPartitionsAdded { .. }
                | Event::DynamicPartitionsRemoved { .. } => changes.global = true,
                _ => {}
            }
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(changes)
}

/// Every asset's partition status at `now` (keyspaces given); a source counts as
/// materialized where it was observed. Read once per tick, for conditions and freshness.
pub async fn statuses(
    instance: &Instance,
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Result<BTreeMap<AssetKey, PartitionStatus>, AutomationError> {
    let storage = instance.storage.as_ref();
    let mut all = BTreeMap::new();
    for asset in repository.assets() {
        let key = &asset.key;
        let keys = keyspaces.get(key);
        let mut status = match keys {
            Some(keys) => storage.partition_status(key, keys).await?,
            None => storage.unpartitioned_status(key).await?,
        };
        if let Compute::Source(_) = asset.compute {
            let observed = storage.observations(key).await?;
            let indices = observed.iter().filter_map(|o| index(keys, &o.partition));
            status.materialized = subset_of(keys, indices);
        }
        all.insert(key.clone(), status);
    }
    Ok(all)
}

/// A partition's index in the asset's keyspace (0 when unpartitioned).
fn index(keys: Option<&Keyspace<'_>>, partition: &Option<String>) -> Option<u64> {
    match (keys, partition) {
        (Some(keys), Some(p)) => keys.index_of(p),
        (None, None) => Some(0),
        _ => None,
    }
}

fn subset_of(
    keys: Option<&Keyspace<'_>>,
    indices: impl IntoIterator<Item = u64>,
) -> PartitionSubset {
    match keys {
        Some(keys) => keys.subset(indices),
        None => PartitionSubset::from_indices(indices),
    }
}

/// The facts of every asset at `now` (keyspaces and statuses given), with `updates` as the
/// updates since the previous tick.
pub(crate) async fn load_facts(
    instance: &Instance,
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    statuses: &BTreeMap<AssetKey, PartitionStatus>,
    updates: &[(AssetKey, Option<String>, i64)],
    freshness_failing: &BTreeSet<AssetKey>,
) -> Result<BTreeMap<AssetKey, AssetFacts>, AutomationError> {
    let storage = instance.storage.as_ref();
    let stale = if repository.assets().any(reads_stale) {
        Some(stale_report(instance, repository, keyspaces).await?)
    } else {
        None
    };
    let backfills: Vec<_> = storage
        .backfills(1_000)
        .await?
        .into_iter()
        .filter(|b| b.status == BackfillStatus::Requested)
        .collect();
    let mut all = BTreeMap::new();
    for asset in repository.assets() {
        let key = &asset.key;
        let keys = keyspaces.get(key);
        let status = statuses[key].clone();
        let index = |partition: &Option<String>| index(keys, partition);
        let subset_of = |indices: Vec<u64>| subset_of(keys, indices);
        let mut by_time: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for (asset, partition, at) in updates {
            if asset == key
                && let Some(i) = index(partition)
            {
                by_time.entry(*at).or_default().push(i);
            }
        }
        let stale_subset = stale
            .as_ref()
            .and_then(|s| s.get(key))
            .map(|map| subset_of(map.keys().filter_map(index).collect()))
            .unwrap_or_default();
        let backfill = subset_of(
            backfills
                .iter()
                .flat_map(|b| &b.targets)
                .filter(|t| &t.asset == key)
                .flat_map(|t| &t.ranges)
                .flat_map(|r| match keys {
                    Some(keys) => match (keys.index_of(&r.first), keys.index_of(&r.last)) {
                        (Some(a), Some(b)) => (a..=b).collect::<Vec<_>>(),
                        _ => Vec::new(),
                    },
                    None => vec![0],
                })
                .collect(),
        );
        let blocking: BTreeSet<&str> = asset
            .checks
            .iter()
            .filter(|c| c.blocking)
            .map(|c| c.name.as_str())
            .collect();
        let blocking_failed = if blocking.is_empty() {
            PartitionSubset::empty()
        } else {
            subset_of(
                storage
                    .check_results(key)
                    .await?
                    .iter()
                    .filter(|r| !r.passed && blocking.contains(r.check.as_str()))
                    .filter_map(|r| index(&r.partition))
                    .collect(),
            )
        };
        let code_version = match asset.compute {
            Compute::Source(_) => String::new(),
            _ => asset_code_version(&instance.root, asset).map_err(AutomationError::CodeVersion)?,
        };
        all.insert(
            key.clone(),
            AssetFacts {
                blocking_checks_passed: status.materialized.difference(&blocking_failed),
                materialized: status.materialized,
                in_progress: status.in_progress,
                failed: status.failed,
                backfill_in_progress: backfill,
                stale: stale_subset,
                updated: by_time
                    .into_iter()
                    .map(|(t, indices)| (t, subset_of(indices)))
                    .collect(),
                code_version,
                freshness_failing: freshness_failing.contains(key),
            },
        );
    }
    Ok(all)
}
