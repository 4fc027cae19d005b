//! Staleness: which materialized partitions no longer reflect their code or their inputs, and
//! why — Dagster's three causes.
//!
//! - **code**: the asset's code version differs from the one the partition was computed with.
//! - **data**: an input partition's data version differs from the one the partition consumed
//!   (consumed runs of partitions are compared through their digest).
//! - **dependencies**: an upstream partition the mapping selects now is itself stale, or is
//!   missing — transitively, in topological order, with no limit on the number of upstream
//!   partitions.
//!
//! Missing partitions are missing, not stale. The caller supplies every fact (current code
//! versions, what each partition recorded, what exists upstream); nothing here does I/O.

use std::collections::{BTreeMap, HashMap};

use crate::key::AssetKey;
use crate::model::Repository;
use crate::partitions::mapping::Sides;
use crate::partitions::{Keyspace, PartitionSubset};
use crate::versions::range_digest;

/// A run of consumed upstream partitions, as recorded: ends, count and data version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRange {
    /// First key (`None` for an unpartitioned upstream).
    pub first: Option<String>,
    /// Last key, inclusive.
    pub last: Option<String>,
    /// Partitions in the run.
    pub count: u64,
    /// The partition's own data version when `count == 1`, else the range digest.
    pub data_version: String,
}

/// What one materialized partition recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The code version it was computed with.
    pub code_version: String,
    /// Its data version.
    pub data_version: String,
    /// What it consumed, per upstream asset.
    pub inputs: Vec<(AssetKey, Vec<RecordedRange>)>,
}

/// The facts about one asset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetFacts {
    /// Its code version now.
    pub code_version: String,
    /// Every materialized (or, for a source, observed) partition by key (`None` when
    /// unpartitioned). Sources record no inputs and are never stale themselves.
    pub partitions: HashMap<Option<String>, Recorded>,
}

/// Why a partition is stale.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum StaleCause {
    /// Its code changed.
    Code {
        /// The version it was computed with.
        recorded: String,
        /// The version now.
        current: String,
    },
    /// Input data changed since it was computed.
    Data {
        /// The upstream asset.
        upstream: AssetKey,
        /// The consumed range whose data changed (`None` when unpartitioned).
        first: Option<String>,
        /// Its last key.
        last: Option<String>,
    },
    /// An upstream partition is stale or missing.
    Dependency {
        /// The upstream asset.
        upstream: AssetKey,
        /// The upstream partition (`None` when unpartitioned).
        partition: Option<String>,
        /// `stale` or `missing`.
        state: &'static str,
    },
}

/// Stale partitions of one asset: key → causes (at most one per kind and upstream).
pub type StaleMap = BTreeMap<Option<String>, Vec<StaleCause>>;

/// The stale partitions of every asset in `facts`, in topological order of the repository.
pub fn stale_partitions(
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    facts: &BTreeMap<AssetKey, AssetFacts>,
) -> BTreeMap<AssetKey, StaleMap> {
    let mut stale: BTreeMap<AssetKey, StaleMap> = BTreeMap::new();
    for key in repository.topological_order() {
        let (Some(asset), Some(own)) = (repository.asset(&key), facts.get(&key)) else {
            continue;
        };
        if matches!(asset.compute, crate::model::Compute::Source(_)) {
            continue;
        }
        let mut map = StaleMap::new();
        for (partition, recorded) in &own.partitions {
            let mut causes = Vec::new();
            if recorded.code_version != own.code_version {
                causes.push(StaleCause::Code {
                    recorded: recorded.code_version.clone(),
                    current: own.code_version.clone(),
                });
            }
            for (upstream, ranges) in &recorded.inputs {
                if let Some(range) = ranges
                    .iter()
                    .find(|r| changed(r, upstream, keyspaces, facts))
                {
                    causes.push(StaleCause::Data {
                        upstream: upstream.clone(),
                        first: range.first.clone(),
                        last: range.last.clone(),
                    });
                }
            }
            for dep in &asset.deps {
                let up_facts = facts.get(&dep.key);
                let up_stale = stale.get(&dep.key);
                for up_key in mapped_upstream(repository, keyspaces, &key, partition, &dep.key) {
                    let state = if up_stale.is_some_and(|s| s.contains_key(&up_key)) {
                        "stale"
                    } else if up_facts.is_none_or(|f| !f.partitions.contains_key(&up_key)) {
                        "missing"
                    } else {
                        continue;
                    };
                    causes.push(StaleCause::Dependency {
                        upstream: dep.key.clone(),
                        partition: up_key,
                        state,
                    });
                    break;
                }
            }
            if !causes.is_empty() {
                map.insert(partition.clone(), causes);
            }
        }
        if !map.is_empty() {
            stale.insert(key, map);
        }
    }
    stale
}

/// Whether the consumed `range` of `upstream` no longer has the data version it recorded.
fn changed(
    range: &RecordedRange,
    upstream: &AssetKey,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    facts: &BTreeMap<AssetKey, AssetFacts>,
) -> bool {
    let Some(up) = facts.get(upstream) else {
        return true;
    };
    let current = |key: &Option<String>| up.partitions.get(key).map(|r| r.data_version.as_str());
    if range.count == 1 {
        return current(&range.first) != Some(range.data_version.as_str());
    }
    let (Some(keys), Some(first), Some(last)) =
        (keyspaces.get(upstream), &range.first, &range.last)
    else {
        return true;
    };
    let (Some(a), Some(b)) = (keys.index_of(first), keys.index_of(last)) else {
        return true;
    };
    let mut pairs: Vec<(String, &str)> = Vec::with_capacity((b + 1 - a) as usize);
    for index in a..=b {
        let Some(key) = keys.key(index) else {
            return true;
        };
        let Some(version) = current(&Some(key.clone())) else {
            return true;
        };
        pairs.push((key, version));
    }
    range_digest(pairs.iter().map(|(k, v)| (k.as_str(), *v))) != range.data_version
}

/// The upstream partitions `partition` of `downstream` depends on now, by key.
fn mapped_upstream(
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    downstream: &AssetKey,
    partition: &Option<String>,
    upstream: &AssetKey,
) -> Vec<Option<String>> {
    let Some(up_keys) = keyspaces.get(upstream) else {
        return vec![None];
    };
    let down_def = repository
        .asset(downstream)
        .and_then(|a| a.partitions_definition());
    let up_def = repository
        .asset(upstream)
        .and_then(|a| a.partitions_definition());
    let subset = match (down_def, up_def, keyspaces.get(downstream), partition) {
        (Some(down_def), Some(up_def), Some(down_keys), Some(key)) => {
            let Some(index) = down_keys.index_of(key) else {
                return Vec::new();
            };
            let Some(dep) = repository.dependency(downstream, upstream) else {
                return Vec::new();
            };
            let sides = Sides {
                upstream: up_def,
                upstream_keys: up_keys,
                downstream: down_def,
                downstream_keys: down_keys,
            };
            dep.mapping
                .upstream_of(sides, &PartitionSubset::from_range(index..index + 1))
                .partitions
        }
        _ => PartitionSubset::all(up_keys.len()),
    };
    subset.iter().map(|i| up_keys.key(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{SourceFile, load_repository};
    use crate::partitions::definition::NoDynamicPartitions;

    fn repo() -> Repository {
        let daily = "partitions = { daily = { start = \"2024-01-01\", end = \"2024-01-05\" } }";
        load_repository(
            SourceFile::new("strata.toml", "[project]\nname = \"t\"\n"),
            vec![
                SourceFile::new("assets/s/src.toml", "source = { path = \"x\", interval = \"1h\" }\n"),
                SourceFile::new(
                    "assets/a/up.toml",
                    format!("command = [\"true\"]\n{daily}\n[deps.\"s/src\"]\n"),
                ),
                SourceFile::new(
                    "assets/a/roll.sql",
                    format!(
                        "/*---\n{daily}\n[deps.\"a/up\"]\nmapping = {{ time_window = {{ start_offset = -1 }} }}\n---*/\nSELECT * FROM a.up"
                    ),
                ),
                SourceFile::new("assets/a/total.sql", "SELECT count(*) FROM a.roll"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn key(text: &str) -> AssetKey {
        AssetKey::parse(text).unwrap()
    }

    fn day(d: u32) -> Option<String> {
        Some(format!("2024-01-0{d}"))
    }

    fn one(key: &Option<String>, version: &str) -> RecordedRange {
        RecordedRange {
            first: key.clone(),
            last: key.clone(),
            count: 1,
            data_version: version.into(),
        }
    }

    /// Everything materialized for days 1..=4, consistently.
    fn consistent() -> BTreeMap<AssetKey, AssetFacts> {
        let mut facts = BTreeMap::new();
        let src = AssetFacts {
            code_version: "s".into(),
            partitions: HashMap::from([(
                None,
                Recorded {
                    code_version: "s".into(),
                    data_version: "obs1".into(),
                    inputs: vec![],
                },
            )]),
        };
        facts.insert(key("s/src"), src);
        let up_version = |d: u32| format!("up{d}");
        let up = AssetFacts {
            code_version: "u1".into(),
            partitions: (1..=4)
                .map(|d| {
                    (
                        day(d),
                        Recorded {
                            code_version: "u1".into(),
                            data_version: up_version(d),
                            inputs: vec![(key("s/src"), vec![one(&None, "obs1")])],
                        },
                    )
                })
                .collect(),
        };
        facts.insert(key("a/up"), up);
        let roll = AssetFacts {
            code_version: "r1".into(),
            partitions: (1..=4)
                .map(|d| {
                    let range = if d == 1 {
                        one(&day(1), &up_version(1))
                    } else {
                        let pairs = [
                            (day(d - 1).unwrap(), up_version(d - 1)),
                            (day(d).unwrap(), up_version(d)),
                        ];
                        RecordedRange {
                            first: day(d - 1),
                            last: day(d),
                            count: 2,
                            data_version: range_digest(
                                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                            ),
                        }
                    };
                    (
                        day(d),
                        Recorded {
                            code_version: "r1".into(),
                            data_version: format!("roll{d}"),
                            inputs: vec![(key("a/up"), vec![range])],
                        },
                    )
                })
                .collect(),
        };
        facts.insert(key("a/roll"), roll);
        facts
    }

    fn run(facts: &BTreeMap<AssetKey, AssetFacts>) -> BTreeMap<AssetKey, StaleMap> {
        let repo = repo();
        let keyspaces: BTreeMap<AssetKey, Keyspace<'_>> = repo
            .assets()
            .filter_map(|a| {
                Some((
                    a.key.clone(),
                    a.partitions_definition()?
                        .keyspace(2_000_000_000, &NoDynamicPartitions),
                ))
            })
            .collect();
        stale_partitions(&repo, &keyspaces, facts)
    }

    #[test]
    fn consistent_partitions_are_not_stale() {
        assert_eq!(run(&consistent()), BTreeMap::new());
    }

    #[test]
    fn a_code_change_makes_the_asset_stale_and_its_downstream_stale_by_dependency() {
        let mut facts = consistent();
        facts.get_mut(&key("a/up")).unwrap().code_version = "u2".into();
        let stale = run(&facts);
        assert_eq!(stale[&key("a/up")].len(), 4);
        assert_eq!(
            stale[&key("a/up")][&day(2)],
            vec![StaleCause::Code {
                recorded: "u1".into(),
                current: "u2".into()
            }]
        );
        assert_eq!(stale[&key("a/roll")].len(), 4);
        assert_eq!(
            stale[&key("a/roll")][&day(3)],
            vec![StaleCause::Dependency {
                upstream: key("a/up"),
                partition: day(2),
                state: "stale"
            }]
        );
    }

    #[test]
    fn new_upstream_data_makes_exactly_its_consumers_stale() {
        let mut facts = consistent();
        facts
            .get_mut(&key("a/up"))
            .unwrap()
            .partitions
            .get_mut(&day(2))
            .unwrap()
            .data_version = "up2-new".into();
        let stale = run(&facts);
        // Days 2 and 3 of the rolling window read day 2.
        let roll = &stale[&key("a/roll")];
        assert_eq!(
            roll.keys().cloned().collect::<Vec<_>>(),
            vec![day(2), day(3)]
        );
        assert_eq!(
            roll[&day(3)],
            vec![StaleCause::Data {
                upstream: key("a/up"),
                first: day(2),
                last: day(3)
            }]
        );
        assert!(!stale.contains_key(&key("a/up")));
    }

    #[test]
    fn a_new_observation_and_a_missing_upstream_partition_are_causes_too() {
        let mut facts = consistent();
        facts
            .get_mut(&key("s/src"))
            .unwrap()
            .partitions
            .get_mut(&None)
            .unwrap()
            .data_version = "obs2".into();
        let stale = run(&facts);
        assert_eq!(stale[&key("a/up")].len(), 4, "every day read the source");
        assert_eq!(
            stale[&key("a/roll")].len(),
            4,
            "and every window reads a stale day"
        );

        let mut facts = consistent();
        facts
            .get_mut(&key("a/up"))
            .unwrap()
            .partitions
            .remove(&day(1));
        let stale = run(&facts);
        assert_eq!(
            stale[&key("a/roll")][&day(2)][0],
            StaleCause::Data {
                upstream: key("a/up"),
                first: day(1),
                last: day(2)
            }
        );
        assert!(
            stale[&key("a/roll")][&day(2)].contains(&StaleCause::Dependency {
                upstream: key("a/up"),
                partition: day(1),
                state: "missing"
            })
        );
    }
}
