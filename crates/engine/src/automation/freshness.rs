//! Freshness of every asset with a policy, and `FreshnessChanged` events when a state changes.

use std::collections::BTreeMap;

use strata_core::freshness::{FreshnessFacts, FreshnessState, FreshnessStatus, evaluate};
use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::Keyspace;
use strata_storage::event::Event;
use strata_storage::status::PartitionStatus;

use super::AutomationError;
use crate::instance::Instance;

/// One asset's freshness now.
#[derive(Clone, Debug)]
pub struct AssetFreshness {
    /// The asset.
    pub asset: AssetKey,
    /// Its status.
    pub status: FreshnessStatus,
    /// The late partitions' keys (or the first missing one for `max_lag`).
    pub missing: Vec<String>,
    /// The stored state before this evaluation and since when (ms), if any.
    pub previous: Option<(String, i64)>,
}

/// Evaluates every policy at `now_ms`.
///
/// The data time of an unpartitioned asset is the oldest of its own latest materialization
/// and its upstreams' data times (recursively; a root's is its materialization time). When an
/// upstream was materialized again after the asset read it, the asset's data is older than
/// that, so the figure is an upper bound until the asset is recomputed.
pub async fn evaluate_all(
    instance: &Instance,
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    statuses: &BTreeMap<AssetKey, PartitionStatus>,
    now_ms: i64,
) -> Result<Vec<AssetFreshness>, AutomationError> {
    let storage = instance.storage.as_ref();
    let stored: BTreeMap<AssetKey, (String, i64)> = storage
        .freshness_states()
        .await?
        .into_iter()
        .map(|r| (r.asset, (r.state, r.since)))
        .collect();
    let mut last: BTreeMap<AssetKey, Option<i64>> = BTreeMap::new();
    let mut data_time: BTreeMap<AssetKey, Option<i64>> = BTreeMap::new();
    let mut results = Vec::new();
    for key in repository.topological_order() {
        let asset = repository.asset(&key).expect("key of the repository");
        let newest = storage
            .materialization_history(&key, None, 1)
            .await?
            .first()
            .map(|r| r.timestamp);
        let newest = match newest {
            Some(t) => Some(t),
            None => storage
                .observations(&key)
                .await?
                .iter()
                .map(|o| o.timestamp)
                .max(),
        };
        last.insert(key.clone(), newest);
        let own = if keyspaces.contains_key(&key) {
            newest
        } else {
            asset.deps.iter().fold(newest, |acc, dep| {
                let up = data_time.get(&dep.key).copied().flatten();
                match (acc, up) {
                    (Some(a), Some(u)) => Some(a.min(u)),
                    (_, None) => None,
                    (None, _) => None,
                }
            })
        };
        data_time.insert(key.clone(), own);
        let Some(policy) = &asset.freshness else {
            continue;
        };
        let keys = keyspaces.get(&key);
        let facts = FreshnessFacts {
            keyspace: keys,
            materialized: &statuses[&key].materialized,
            last_materialized: newest,
            data_time: own,
        };
        let status = evaluate(policy, &facts, now_ms);
        let missing = match keys {
            Some(keys) => status.missing.iter().filter_map(|i| keys.key(i)).collect(),
            None => Vec::new(),
        };
        results.push(AssetFreshness {
            previous: stored.get(&key).cloned(),
            asset: key,
            status,
            missing,
        });
    }
    Ok(results)
}

/// The `FreshnessChanged` events for states that differ from the stored ones.
pub fn changes(results: &[AssetFreshness]) -> Vec<Event> {
    results
        .iter()
        .filter_map(|r| {
            let previous = r
                .previous
                .as_ref()
                .map_or(FreshnessState::Unknown.as_str(), |(s, _)| s.as_str());
            let state = r.status.state.as_str();
            let first = r.previous.is_none();
            (state != previous || first).then(|| Event::FreshnessChanged {
                asset: r.asset.clone(),
                state: state.to_string(),
                previous: previous.to_string(),
                reason: r.status.reason.clone(),
            })
        })
        .collect()
}
