//! What a materialization or backfill request selects: the selected assets' partitions, from
//! the partition set a user names on the command line or in an API body.
//!
//! The CLI and the HTTP API resolve requests here, so `strata backfill --missing` and
//! `POST /api/v1/backfills` with `"missing"` select exactly the same partitions.

use std::collections::{BTreeMap, BTreeSet};

use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::{Keyspace, PartitionSubset};
use strata_core::plan::{RangeTarget, Target, resolve_range};
use strata_core::staleness::StaleMap;

use crate::instance::Instance;
use crate::staleness::stale_report;

/// The partitions a request names, the same for every selected partitioned asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionSet {
    /// Nothing named: only valid when every selected asset is unpartitioned.
    Unspecified,
    /// These partition keys.
    Keys(Vec<String>),
    /// An inclusive range: partition keys when the selected assets share one definition, else
    /// dates or times (Contracts, "Partition ranges").
    Range {
        /// The first partition (a key, a date or an RFC 3339 time).
        from: String,
        /// The last partition, inclusive.
        to: String,
    },
    /// Partitions never materialized.
    Missing,
    /// Partitions whose latest step failed.
    Failed,
    /// Materialized partitions that are stale.
    Stale,
}

impl PartitionSet {
    /// The set as a person reads it, with a leading space (empty when unspecified):
    /// ` from 2013-01-01 to 2013-01-07`, ` missing`.
    pub fn describe(&self) -> String {
        match self {
            Self::Unspecified => String::new(),
            Self::Keys(keys) if keys.len() == 1 => format!(" partition {}", keys[0]),
            Self::Keys(keys) => format!(" partitions {}", keys.join(", ")),
            Self::Range { from, to } => format!(" from {from} to {to}"),
            Self::Missing => " missing".to_string(),
            Self::Failed => " failed".to_string(),
            Self::Stale => " stale".to_string(),
        }
    }
}

/// A narrowing of two-dimensional assets: only partitions whose other (non-time, or second)
/// dimension key is one of `keys`. A range then selects "these days × these keys".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondDimension {
    /// Keys of the dimension that the partition set does not already choose.
    pub keys: Vec<String>,
}

/// Why a request selects nothing it can run.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The caller named something that does not exist or cannot be combined; the message
    /// names it and the fix.
    #[error("{0}")]
    Invalid(String),
    /// A partitioned asset is selected and no partition set was named.
    #[error("{0} is partitioned: choose partitions (keys, a range, missing, failed or stale)")]
    Unspecified(AssetKey),
    /// Reading storage (or code versions, for `stale`) failed.
    #[error("{0}")]
    Internal(String),
}

impl RequestError {
    fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

/// What to run of each selected asset (one partition per step); assets the set selects nothing
/// of are left out.
pub async fn resolve_targets(
    repository: &Repository,
    instance: &Instance,
    keys: &BTreeSet<AssetKey>,
    set: &PartitionSet,
    second: Option<&SecondDimension>,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Result<BTreeMap<AssetKey, Target>, RequestError> {
    let storage = instance.storage.as_ref();
    let stale: Option<BTreeMap<AssetKey, StaleMap>> = if *set == PartitionSet::Stale {
        Some(
            stale_report(instance, repository, keyspaces)
                .await
                .map_err(RequestError::internal)?,
        )
    } else {
        None
    };
    let stale = stale.as_ref();
    let ranges = match set {
        PartitionSet::Range { from, to } => {
            let range_targets: Vec<RangeTarget<'_, '_>> = keys
                .iter()
                .filter_map(|key| {
                    Some(RangeTarget {
                        key,
                        definition: repository.asset(key)?.partitions_definition()?,
                        keyspace: keyspaces.get(key)?,
                    })
                })
                .collect();
            resolve_range(&range_targets, from, to)
                .map_err(|e| RequestError::Invalid(e.to_string()))?
        }
        _ => BTreeMap::new(),
    };
    let mut targets = BTreeMap::new();
    for key in keys {
        let Some(keyspace) = keyspaces.get(key) else {
            let include = match set {
                PartitionSet::Stale => stale
                    .and_then(|s| s.get(key))
                    .is_some_and(|m| m.contains_key(&None)),
                PartitionSet::Missing | PartitionSet::Failed => {
                    let status = storage
                        .unpartitioned_status(key)
                        .await
                        .map_err(RequestError::internal)?;
                    if *set == PartitionSet::Missing {
                        !status.missing().is_empty()
                    } else {
                        !status.failed.is_empty()
                    }
                }
                _ => true,
            };
            if include {
                targets.insert(key.clone(), Target::Unpartitioned);
            }
            continue;
        };
        let subset = match set {
            PartitionSet::Keys(wanted) => {
                let mut indices = Vec::with_capacity(wanted.len());
                for partition in wanted {
                    indices.push(keyspace.index_of(partition).ok_or_else(|| {
                        RequestError::Invalid(format!(
                            "`{partition}` is not a partition of {key}; `strata partitions {key}` \
                             lists them"
                        ))
                    })?);
                }
                keyspace.subset(indices)
            }
            PartitionSet::Range { .. } => ranges.get(key).cloned().unwrap_or_default(),
            PartitionSet::Stale => keyspace.subset(
                stale
                    .and_then(|s| s.get(key))
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter_map(|k| keyspace.index_of(k.as_deref()?)),
            ),
            PartitionSet::Missing | PartitionSet::Failed => {
                let status = storage
                    .partition_status(key, keyspace)
                    .await
                    .map_err(RequestError::internal)?;
                if *set == PartitionSet::Missing {
                    status.missing()
                } else {
                    status.failed
                }
            }
            PartitionSet::Unspecified => return Err(RequestError::Unspecified(key.clone())),
        };
        let subset = match second {
            Some(second) => narrow_second_dimension(key, keyspace, &subset, second)?,
            None => subset,
        };
        if !subset.is_empty() {
            targets.insert(key.clone(), Target::EachPartition(subset));
        }
    }
    Ok(targets)
}

/// Keeps the partitions of a two-dimensional asset whose non-time dimension (the second, when
/// neither or both are time) has one of the given keys.
fn narrow_second_dimension(
    key: &AssetKey,
    keyspace: &Keyspace<'_>,
    subset: &PartitionSubset,
    second: &SecondDimension,
) -> Result<PartitionSubset, RequestError> {
    let Some(dims) = keyspace.dimensions() else {
        return Err(RequestError::Invalid(format!(
            "{key} is not two-dimensional: a second dimension's keys only narrow \
             two-dimensional assets"
        )));
    };
    let (other, other_is_first) = match (&dims[0], &dims[1]) {
        (Keyspace::TimeWindow(_), _) => (&dims[1], false),
        (_, Keyspace::TimeWindow(_)) => (&dims[0], true),
        _ => (&dims[1], false),
    };
    let mut wanted = BTreeSet::new();
    for partition in &second.keys {
        wanted.insert(other.index_of(partition).ok_or_else(|| {
            RequestError::Invalid(format!(
                "`{partition}` is not a key of {key}'s {} dimension; `strata partitions {key}` \
                 lists them",
                if other_is_first { "first" } else { "second" }
            ))
        })?);
    }
    Ok(keyspace.subset(subset.iter().filter(|&index| {
        keyspace
            .split_multi_index(index)
            .is_some_and(|(a, b)| wanted.contains(if other_is_first { &a } else { &b }))
    })))
}
