//! Turns a tick's requests into runs: requested assets that depend on each other run together
//! (upstream first), a contiguous range of a single-run SQL asset is one step, and unrelated
//! requests are separate runs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::{Keyspace, PartitionSubset};
use strata_core::plan::{Target, backfill_targets, plan_steps};

use crate::executor::{RunRequest, new_run_id};

/// A requested asset with its partitions (keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    /// The asset.
    pub asset: AssetKey,
    /// Its partitions; empty when the asset is unpartitioned.
    pub partitions: Vec<String>,
    /// Whether the asset is unpartitioned (the request is the asset itself).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unpartitioned: bool,
}

/// The requests as keys, per asset, sorted.
pub fn requested(
    subsets: &BTreeMap<AssetKey, PartitionSubset>,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Vec<Requested> {
    subsets
        .iter()
        .map(|(asset, subset)| match keyspaces.get(asset) {
            Some(keys) => Requested {
                asset: asset.clone(),
                partitions: subset.iter().filter_map(|i| keys.key(i)).collect(),
                unpartitioned: false,
            },
            None => Requested {
                asset: asset.clone(),
                partitions: Vec::new(),
                unpartitioned: true,
            },
        })
        .collect()
}

/// Groups requests into runs: one per set of requested assets connected by dependencies.
pub fn group(repository: &Repository, requests: &[Requested]) -> Vec<Vec<Requested>> {
    let by_key: BTreeMap<&AssetKey, &Requested> = requests.iter().map(|r| (&r.asset, r)).collect();
    let keys: BTreeSet<&AssetKey> = by_key.keys().copied().collect();
    let mut component: BTreeMap<&AssetKey, usize> = BTreeMap::new();
    let mut groups: Vec<Vec<Requested>> = Vec::new();
    for key in repository.topological_order() {
        let Some(&request) = by_key.get(&key) else {
            continue;
        };
        let asset = repository.asset(&key).expect("key of the repository");
        let joined: BTreeSet<usize> = asset
            .deps
            .iter()
            .filter(|d| keys.contains(&d.key))
            .filter_map(|d| component.get(&d.key).copied())
            .collect();
        let target = match joined.first() {
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
            Some(&first) => {
                // Merge every other joined group into the first.
                for &other in joined.iter().skip(1) {
                    let moved = std::mem::take(&mut groups[other]);
                    for r in &moved {
                        component
                            .insert(keys.get(&r.asset).copied().expect("requested key"), first);
                    }
                    groups[first].extend(moved);
                }
                first
            }
        };
        component.insert(keys.get(&key).copied().expect("requested key"), target);
        groups[target].push(request.clone());
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// The run for one group of requests, or `None` when it plans no step.
pub fn run_request(
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    group: &[Requested],
    description: String,
    tags: BTreeMap<String, String>,
) -> Option<RunRequest> {
    let targets: BTreeMap<AssetKey, Target> = group
        .iter()
        .filter_map(|r| {
            let target = match keyspaces.get(&r.asset) {
                None => Target::Unpartitioned,
                Some(keys) => {
                    let indices: Vec<u64> = r
                        .partitions
                        .iter()
                        .filter_map(|k| keys.index_of(k))
                        .collect();
                    if indices.is_empty() {
                        return None;
                    }
                    Target::EachPartition(keys.subset(indices))
                }
            };
            Some((r.asset.clone(), target))
        })
        .collect();
    let targets = backfill_targets(repository, targets);
    let steps = plan_steps(repository, &targets, keyspaces);
    (!steps.is_empty()).then(|| RunRequest {
        run_id: new_run_id(),
        description,
        backfill_id: None,
        steps,
        concurrency: None,
        tags,
    })
}

/// `flights/daily_delays 2013-01-05, stats/summary`: what a group materializes, for people.
pub fn describe(group: &[Requested]) -> String {
    group
        .iter()
        .map(|r| match r.partitions.as_slice() {
            [] => r.asset.to_string(),
            [one] => format!("{} {one}", r.asset),
            [first, .., last] => format!("{} {first}..{last} ({})", r.asset, r.partitions.len()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
