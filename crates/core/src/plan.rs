//! Planning a run: which partitions of which assets, and which steps wait for which.
//!
//! Two pure decisions live here. [`resolve_range`] reads `--from A --to B` the way the
//! Contracts define it: inclusive keys when every partitioned asset shares one definition,
//! otherwise dates or times that select, per asset, the partitions whose window *starts* in
//! the range. [`plan_steps`] turns per-asset partition sets into steps in dependency order,
//! each naming the steps it waits for — found through the dependency's partition mapping, so a
//! rolling seven-day window waits for exactly its seven upstream days.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeZone};

use crate::key::AssetKey;
use crate::model::{BackfillPolicy, Repository};
use crate::partitions::mapping::Sides;
use crate::partitions::{Keyspace, PartitionSubset, PartitionsDefinition};

/// Why a range cannot be resolved; the message names the argument and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RangeError(pub String);

/// One asset to resolve a range for.
pub struct RangeTarget<'a, 'k> {
    /// The asset.
    pub key: &'a AssetKey,
    /// Its definition.
    pub definition: &'a PartitionsDefinition,
    /// Its partitions now.
    pub keyspace: &'a Keyspace<'k>,
}

/// The partitions `--from from --to to` selects of each target (Contracts, "Partition ranges").
pub fn resolve_range(
    targets: &[RangeTarget<'_, '_>],
    from: &str,
    to: &str,
) -> Result<BTreeMap<AssetKey, PartitionSubset>, RangeError> {
    let shared = targets
        .windows(2)
        .all(|pair| pair[0].definition == pair[1].definition);
    let mut selected = BTreeMap::new();
    if shared && let Some(first) = targets.first() {
        let index = |arg: &str, value: &str| {
            first.keyspace.index_of(value).ok_or_else(|| {
                RangeError(format!(
                    "--{arg} `{value}` is not a partition key of {} ({})",
                    first.key,
                    first.definition.describe()
                ))
            })
        };
        // Keys first; a value that is not a key may still be a date or time.
        if let (Ok(a), Ok(b)) = (index("from", from), index("to", to)) {
            if a > b {
                return Err(RangeError(format!(
                    "--from `{from}` comes after --to `{to}`; the range is inclusive and ordered"
                )));
            }
            for target in targets {
                selected.insert(target.key.clone(), PartitionSubset::from_range(a..b + 1));
            }
            return Ok(selected);
        }
    }
    for target in targets {
        selected.insert(
            target.key.clone(),
            windows_starting_within(target, from, to)?,
        );
    }
    Ok(selected)
}

/// The partitions of `target` whose window starts within `[from, to]` read as dates or times.
fn windows_starting_within(
    target: &RangeTarget<'_, '_>,
    from: &str,
    to: &str,
) -> Result<PartitionSubset, RangeError> {
    let tz = time_zone(target)?;
    let start = parse_instant(from, tz, false).map_err(|e| RangeError(format!("--from {e}")))?;
    let end = parse_instant(to, tz, true).map_err(|e| RangeError(format!("--to {e}")))?;
    if start >= end {
        return Err(RangeError(format!(
            "--from `{from}` is not before --to `{to}`"
        )));
    }
    Ok(match target.keyspace {
        Keyspace::TimeWindow(keys) => PartitionSubset::from_range(
            keys.first_index_starting_at_or_after(start)
                ..keys.first_index_starting_at_or_after(end),
        ),
        keyspace => PartitionSubset::from_indices((0..keyspace.len()).filter(|&index| {
            keyspace
                .window(index)
                .is_some_and(|w| w.start >= start && w.start < end)
        })),
    })
}

fn time_zone(target: &RangeTarget<'_, '_>) -> Result<chrono_tz::Tz, RangeError> {
    let time_def = target.definition.as_time_window().or_else(|| {
        target
            .definition
            .dimensions()?
            .iter()
            .find_map(|(_, def)| def.as_time_window())
    });
    time_def.map(|def| def.tz()).ok_or_else(|| {
        RangeError(format!(
            "{} is partitioned by {}, which has no time windows, and the selected assets do not \
             share one definition, so --from/--to are read as dates; select it on its own to \
             give a range of its keys, or use --partition",
            target.key,
            target.definition.describe()
        ))
    })
}

/// Seconds since the epoch of an RFC 3339 time, or of a date's local midnight in `tz` (the
/// next day's when `inclusive_end`, so `--to 2013-12-31` includes windows starting that day).
/// A time given as the end includes windows starting exactly then.
fn parse_instant(text: &str, tz: chrono_tz::Tz, inclusive_end: bool) -> Result<i64, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp() + i64::from(inclusive_end));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        format!(
            "`{text}` is neither a partition key of every selected asset nor a date \
             (2013-01-31) or an RFC 3339 time (2013-01-31T06:00:00-05:00)"
        )
    })?;
    let date = if inclusive_end {
        date.succ_opt()
            .ok_or_else(|| format!("`{text}` is out of range"))?
    } else {
        date
    };
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Midnight may fall in a DST gap: the first instant of the local day is then the gap's end.
    let local = tz
        .from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .ok_or_else(|| format!("`{text}` has no local midnight in {tz}"))?;
    Ok(local.timestamp())
}

/// One step of a plan: one asset over one partition (or none), or a range of them for a
/// single-run backfill.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedStep {
    /// The asset.
    pub asset: AssetKey,
    /// The partitions it computes; `None` when the asset is unpartitioned.
    pub partitions: Option<PartitionSubset>,
    /// Steps (indices into the plan) that must succeed before this one starts.
    pub upstream: Vec<usize>,
}

impl PlannedStep {
    /// `flights/clean_flights 2013-01-05`, a range `… 2013-01-01..2013-01-31`, or the asset
    /// alone when unpartitioned; `keyspace` is the asset's.
    pub fn label(&self, keyspace: Option<&Keyspace<'_>>) -> String {
        let (Some(subset), Some(keys)) = (&self.partitions, keyspace) else {
            return self.asset.to_string();
        };
        let ranges = subset.ranges();
        match (ranges.first(), ranges.last()) {
            (Some(first), Some(last)) => {
                let a = keys.key(first.start).unwrap_or_default();
                if subset.count() == 1 {
                    format!("{} {a}", self.asset)
                } else {
                    let b = keys.key(last.end - 1).unwrap_or_default();
                    format!("{} {a}..{b}", self.asset)
                }
            }
            _ => self.asset.to_string(),
        }
    }
}

/// What to materialize of one asset.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The unpartitioned asset, once.
    Unpartitioned,
    /// These partitions, one step each.
    EachPartition(PartitionSubset),
    /// These partitions, one step per contiguous range (single-run backfills).
    Ranges(PartitionSubset),
}

/// `targets` as a backfill runs them: assets declared `backfill = "single_run"` compute each
/// contiguous range of their partitions in one step; every other asset, one partition per step.
pub fn backfill_targets(
    repository: &Repository,
    targets: BTreeMap<AssetKey, Target>,
) -> BTreeMap<AssetKey, Target> {
    targets
        .into_iter()
        .map(|(key, target)| {
            let single_run = repository
                .asset(&key)
                .is_some_and(|a| a.backfill == BackfillPolicy::SingleRun);
            let target = match target {
                Target::EachPartition(subset) if single_run => Target::Ranges(subset),
                other => other,
            };
            (key, target)
        })
        .collect()
}

/// Steps for `targets`, upstream before downstream (ties in key order, partitions ascending).
/// `keyspaces` must hold every partitioned target asset and its partitioned upstreams.
pub fn plan_steps(
    repository: &Repository,
    targets: &BTreeMap<AssetKey, Target>,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Vec<PlannedStep> {
    let mut steps: Vec<PlannedStep> = Vec::new();
    // Per planned asset: partition index → step (unpartitioned assets use index 0).
    let mut step_of: HashMap<&AssetKey, HashMap<u64, usize>> = HashMap::new();
    for key in repository.topological_order() {
        let Some(target) = targets.get(&key) else {
            continue;
        };
        let Some(asset) = repository.asset(&key) else {
            continue;
        };
        let parts: Vec<Option<PartitionSubset>> = match target {
            Target::Unpartitioned => vec![None],
            Target::EachPartition(subset) => subset
                .iter()
                .map(|i| Some(PartitionSubset::from_range(i..i + 1)))
                .collect(),
            Target::Ranges(subset) => subset
                .ranges()
                .into_iter()
                .map(|r| Some(PartitionSubset::from_range(r)))
                .collect(),
        };
        let (asset_key, _) = targets.get_key_value(&key).expect("present");
        for partitions in parts {
            let mut upstream = Vec::new();
            for dep in &asset.deps {
                let Some(up_steps) = step_of.get(&dep.key) else {
                    continue;
                };
                match (
                    &partitions,
                    repository
                        .asset(&dep.key)
                        .and_then(|a| a.partitions_definition()),
                    asset.partitions_definition(),
                    keyspaces.get(&dep.key),
                    keyspaces.get(&key),
                ) {
                    (Some(down), Some(up_def), Some(down_def), Some(up_keys), Some(down_keys)) => {
                        let sides = Sides {
                            upstream: up_def,
                            upstream_keys: up_keys,
                            downstream: down_def,
                            downstream_keys: down_keys,
                        };
                        let needed = dep.mapping.upstream_of(sides, down).partitions;
                        upstream.extend(needed.iter().filter_map(|i| up_steps.get(&i).copied()));
                    }
                    // Toward or from an unpartitioned side the mapping is `all`.
                    _ => upstream.extend(up_steps.values().copied()),
                }
            }
            upstream.sort_unstable();
            upstream.dedup();
            let id = steps.len();
            let indices = step_of.entry(asset_key).or_default();
            match &partitions {
                Some(subset) => indices.extend(subset.iter().map(|i| (i, id))),
                None => {
                    indices.insert(0, id);
                }
            }
            steps.push(PlannedStep {
                asset: key.clone(),
                partitions,
                upstream,
            });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{SourceFile, load_repository};
    use crate::partitions::definition::NoDynamicPartitions;

    fn repository() -> Repository {
        let daily = "partitions = { daily = { start = \"2013-01-01\", end = \"2014-01-01\", timezone = \"America/New_York\" } }";
        let files = vec![
            SourceFile::new("assets/raw/src.toml", "command = [\"true\"]\n"),
            SourceFile::new(
                "assets/raw/day.toml",
                format!("command = [\"true\"]\n{daily}\n[deps.\"raw/src\"]\n"),
            ),
            SourceFile::new(
                "assets/s/roll.sql",
                format!(
                    "/*---\n{daily}\nbackfill = \"single_run\"\n[deps.\"raw/day\"]\nmapping = {{ time_window = {{ start_offset = -6 }} }}\n---*/\nSELECT partition_key, count(*) AS n FROM raw.day GROUP BY partition_key"
                ),
            ),
            SourceFile::new(
                "assets/s/month.sql",
                "/*---\npartitions = { monthly = { start = \"2013-01-01\", end = \"2014-01-01\", timezone = \"America/New_York\" } }\n---*/\nSELECT * FROM raw.day",
            ),
            SourceFile::new("assets/s/total.sql", "SELECT count(*) FROM s.month"),
        ];
        load_repository(
            SourceFile::new("strata.toml", "[project]\nname = \"t\"\n"),
            files,
        )
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn key(text: &str) -> AssetKey {
        AssetKey::parse(text).unwrap()
    }

    fn keyspaces(repo: &Repository) -> BTreeMap<AssetKey, Keyspace<'_>> {
        repo.assets()
            .filter_map(|a| {
                let def = a.partitions_definition()?;
                Some((
                    a.key.clone(),
                    def.keyspace(2_000_000_000, &NoDynamicPartitions),
                ))
            })
            .collect()
    }

    fn range(
        repo: &Repository,
        keys: &[&str],
        from: &str,
        to: &str,
    ) -> Result<Vec<u64>, RangeError> {
        let spaces = keyspaces(repo);
        let owned: Vec<AssetKey> = keys.iter().map(|k| key(k)).collect();
        let targets: Vec<RangeTarget<'_, '_>> = owned
            .iter()
            .map(|k| RangeTarget {
                key: k,
                definition: repo.asset(k).unwrap().partitions_definition().unwrap(),
                keyspace: &spaces[k],
            })
            .collect();
        let selected = resolve_range(&targets, from, to)?;
        Ok(owned.iter().map(|k| selected[k].count()).collect())
    }

    #[test]
    fn shared_definitions_read_keys_and_mixed_ones_read_dates() {
        let repo = repository();
        assert_eq!(
            range(&repo, &["raw/day", "s/roll"], "2013-01-01", "2013-01-07"),
            Ok(vec![7, 7])
        );
        // Mixed: a daily and a monthly asset; months starting within the year's first 40 days.
        assert_eq!(
            range(&repo, &["raw/day", "s/month"], "2013-01-01", "2013-02-09"),
            Ok(vec![40, 2])
        );
        assert_eq!(
            range(&repo, &["raw/day", "s/month"], "2013-01-01", "2013-12-31"),
            Ok(vec![365, 12])
        );
        // An RFC 3339 end includes a window starting exactly then (midnight New York).
        assert_eq!(
            range(
                &repo,
                &["raw/day", "s/month"],
                "2013-01-01",
                "2013-01-03T00:00:00-05:00"
            ),
            Ok(vec![3, 1])
        );
    }

    #[test]
    fn bad_ranges_say_why() {
        let repo = repository();
        let reversed = range(&repo, &["raw/day"], "2013-01-07", "2013-01-01").unwrap_err();
        assert!(reversed.0.contains("comes after"), "{reversed}");
        let junk = range(&repo, &["raw/day", "s/month"], "yesterday", "2013-01-01").unwrap_err();
        assert!(
            junk.0.starts_with("--from `yesterday` is neither"),
            "{junk}"
        );
    }

    #[test]
    fn steps_wait_for_exactly_the_partitions_their_mapping_reads() {
        let repo = repository();
        let spaces = keyspaces(&repo);
        let mut targets = BTreeMap::new();
        targets.insert(key("raw/src"), Target::Unpartitioned);
        targets.insert(
            key("raw/day"),
            Target::EachPartition(PartitionSubset::from_range(0..10)),
        );
        targets.insert(
            key("s/roll"),
            Target::EachPartition(PartitionSubset::from_range(0..10)),
        );
        targets.insert(
            key("s/month"),
            Target::EachPartition(PartitionSubset::from_range(0..1)),
        );
        targets.insert(key("s/total"), Target::Unpartitioned);
        let steps = plan_steps(&repo, &targets, &spaces);
        assert_eq!(steps.len(), 1 + 10 + 10 + 1 + 1);
        assert_eq!(steps[0].asset, key("raw/src"));
        let step = |asset: &str, index: u64| {
            steps
                .iter()
                .position(|s| {
                    s.asset == key(asset)
                        && s.partitions.as_ref().is_some_and(|p| p.contains(index))
                })
                .unwrap()
        };
        // Every day waits for the unpartitioned source.
        assert_eq!(steps[step("raw/day", 3)].upstream, vec![0]);
        // Day 9 of the rolling window waits for days 3..=9.
        let roll = &steps[step("s/roll", 9)].upstream;
        assert_eq!(
            roll,
            &(3..=9).map(|d| step("raw/day", d)).collect::<Vec<_>>()
        );
        // The month waits for the ten planned January days only (the rest are not in the run).
        assert_eq!(steps[step("s/month", 0)].upstream.len(), 10);
        let total = steps
            .iter()
            .position(|s| s.asset == key("s/total"))
            .unwrap();
        assert_eq!(steps[total].upstream, vec![step("s/month", 0)]);
        // Upstream first.
        for (i, s) in steps.iter().enumerate() {
            assert!(s.upstream.iter().all(|&u| u < i));
        }
    }

    #[test]
    fn single_run_targets_plan_one_step_per_range() {
        let repo = repository();
        let spaces = keyspaces(&repo);
        let mut targets = BTreeMap::new();
        targets.insert(
            key("raw/day"),
            Target::EachPartition(PartitionSubset::from_range(0..5)),
        );
        targets.insert(
            key("s/roll"),
            Target::Ranges(PartitionSubset::from_ranges([0..3, 4..5])),
        );
        let steps = plan_steps(&repo, &targets, &spaces);
        assert_eq!(steps.len(), 7);
        assert_eq!(steps[5].partitions.as_ref().unwrap().count(), 3);
        assert_eq!(steps[5].upstream, vec![0, 1, 2]);
        assert_eq!(steps[6].upstream, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn backfills_run_single_run_assets_by_range() {
        let repo = repository();
        let days = PartitionSubset::from_ranges([0..3, 5..6]);
        let targets = BTreeMap::from([
            (key("raw/day"), Target::EachPartition(days.clone())),
            (key("s/roll"), Target::EachPartition(days.clone())),
            (key("s/total"), Target::Unpartitioned),
        ]);
        let backfill = backfill_targets(&repo, targets);
        assert_eq!(
            backfill[&key("raw/day")],
            Target::EachPartition(days.clone())
        );
        assert_eq!(backfill[&key("s/roll")], Target::Ranges(days));
        assert_eq!(backfill[&key("s/total")], Target::Unpartitioned);
    }
}
