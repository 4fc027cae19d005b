//! Scenario tests: each file of `tests/automation/scenarios/` declares a few assets and steps
//! through ticks with a simulated clock; every tick must request exactly what the file says.
//! For `"reference": "dagster"` files the expectations were produced by running the same
//! scenario through Dagster (`tests/automation/dagster_scenarios.py`).
//!
//! Each scenario runs twice in lockstep: evaluating every asset at every tick, and
//! incrementally (only what the step's events touched); both must agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::evaluate::{AssetFacts, AutomationState, Tick, evaluate_tick};
use crate::declare::{SourceFile, load_repository};
use crate::key::AssetKey;
use crate::model::Repository;
use crate::partitions::Keyspace;
use crate::partitions::definition::NoDynamicPartitions;
use crate::partitions::mapping::Sides;
use crate::partitions::subset::PartitionSubset;
use crate::staleness::{self, Recorded, RecordedRange};

#[derive(Deserialize)]
struct Scenario {
    name: String,
    assets: BTreeMap<String, ScenarioAsset>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct ScenarioAsset {
    toml: String,
}

#[derive(Deserialize)]
struct Step {
    now: String,
    #[serde(default)]
    events: Vec<BTreeMap<String, serde_json::Value>>,
    requested: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Target {
    asset: String,
    #[serde(default)]
    partitions: Option<Vec<String>>,
}

/// A partition of an asset: its key, `None` when unpartitioned.
type Partition = Option<String>;

/// The instance a scenario runs against: what is materialized, running, failed.
struct World {
    repository: Repository,
    records: BTreeMap<AssetKey, HashMap<Partition, Recorded>>,
    in_progress: BTreeMap<AssetKey, BTreeSet<Partition>>,
    failed: BTreeMap<AssetKey, BTreeSet<Partition>>,
    /// The blocking check's result on each asset's latest materialization, once it ran.
    checks: BTreeMap<AssetKey, bool>,
    code_versions: BTreeMap<AssetKey, String>,
    updated: BTreeMap<AssetKey, Vec<(i64, Partition)>>,
    versions: u64,
}

impl World {
    fn new(repository: Repository) -> Self {
        let code_versions = repository
            .assets()
            .map(|a| (a.key.clone(), a.code_version.clone().unwrap_or_default()))
            .collect();
        Self {
            repository,
            records: BTreeMap::new(),
            in_progress: BTreeMap::new(),
            failed: BTreeMap::new(),
            checks: BTreeMap::new(),
            code_versions,
            updated: BTreeMap::new(),
            versions: 0,
        }
    }

    fn keyspaces(&self, now: i64) -> BTreeMap<AssetKey, Keyspace<'_>> {
        self.repository.keyspaces(now, &NoDynamicPartitions)
    }

    fn materialize(&mut self, key: &AssetKey, partition: Partition, at_ms: i64, now: i64) {
        self.versions += 1;
        let mut inputs = Vec::new();
        let asset = self.repository.asset(key).expect("scenario asset").clone();
        let keyspaces = self.keyspaces(now);
        for dep in &asset.deps {
            let upstream = self.records.get(&dep.key);
            let ranges = upstream_of(&self.repository, &keyspaces, key, &partition, &dep.key)
                .into_iter()
                .filter_map(|up| {
                    let recorded = upstream?.get(&up)?;
                    Some(RecordedRange {
                        first: up.clone(),
                        last: up,
                        count: 1,
                        data_version: recorded.data_version.clone(),
                    })
                })
                .collect();
            inputs.push((dep.key.clone(), ranges));
        }
        let recorded = Recorded {
            code_version: self.code_versions[key].clone(),
            data_version: format!("v{}", self.versions),
            inputs,
        };
        self.records
            .entry(key.clone())
            .or_default()
            .insert(partition.clone(), recorded);
        self.in_progress
            .entry(key.clone())
            .or_default()
            .remove(&partition);
        self.failed
            .entry(key.clone())
            .or_default()
            .remove(&partition);
        self.checks.remove(key);
        self.updated
            .entry(key.clone())
            .or_default()
            .push((at_ms, partition));
    }

    fn facts(&self, now: i64) -> BTreeMap<AssetKey, AssetFacts> {
        let keyspaces = self.keyspaces(now);
        let index = |key: &AssetKey, partition: &Partition| match (keyspaces.get(key), partition) {
            (Some(keys), Some(p)) => keys.index_of(p),
            (None, None) => Some(0),
            _ => None,
        };
        let subset = |key: &AssetKey, partitions: &mut dyn Iterator<Item = &Partition>| {
            let indices: Vec<u64> = partitions.filter_map(|p| index(key, p)).collect();
            match keyspaces.get(key) {
                Some(keys) => keys.subset(indices),
                None => PartitionSubset::from_indices(indices),
            }
        };
        let stale_facts = self
            .repository
            .assets()
            .map(|a| {
                (
                    a.key.clone(),
                    staleness::AssetFacts {
                        code_version: self.code_versions[&a.key].clone(),
                        partitions: self.records.get(&a.key).cloned().unwrap_or_default(),
                    },
                )
            })
            .collect();
        let stale = staleness::stale_partitions(&self.repository, &keyspaces, &stale_facts);
        let none = BTreeSet::new();
        self.repository
            .assets()
            .map(|a| {
                let key = &a.key;
                let materialized = subset(
                    key,
                    &mut self.records.get(key).into_iter().flat_map(|r| r.keys()),
                );
                let mut updated: BTreeMap<i64, Vec<Partition>> = BTreeMap::new();
                for (t, p) in self.updated.get(key).into_iter().flatten() {
                    updated.entry(*t).or_default().push(p.clone());
                }
                let facts = AssetFacts {
                    blocking_checks_passed: if self.checks.get(key) == Some(&true) {
                        materialized.clone()
                    } else {
                        PartitionSubset::empty()
                    },
                    materialized,
                    in_progress: subset(
                        key,
                        &mut self.in_progress.get(key).unwrap_or(&none).iter(),
                    ),
                    failed: subset(key, &mut self.failed.get(key).unwrap_or(&none).iter()),
                    backfill_in_progress: PartitionSubset::empty(),
                    stale: subset(key, &mut stale.get(key).into_iter().flat_map(|m| m.keys())),
                    updated: updated
                        .into_iter()
                        .map(|(t, ps)| (t, subset(key, &mut ps.iter())))
                        .collect(),
                    code_version: self.code_versions[key].clone(),
                    freshness_failing: false,
                };
                (key.clone(), facts)
            })
            .collect()
    }
}

/// The upstream partitions a partition reads now.
fn upstream_of(
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    downstream: &AssetKey,
    partition: &Partition,
    upstream: &AssetKey,
) -> Vec<Partition> {
    let Some(up_keys) = keyspaces.get(upstream) else {
        return vec![None];
    };
    let down = repository
        .asset(downstream)
        .and_then(|a| a.partitions_definition());
    let up = repository
        .asset(upstream)
        .and_then(|a| a.partitions_definition());
    let subset = match (down, up, keyspaces.get(downstream), partition) {
        (Some(down_def), Some(up_def), Some(down_keys), Some(key)) => {
            let index = down_keys.index_of(key).expect("partition of the keyspace");
            let dep = repository
                .dependency(downstream, upstream)
                .expect("dependency");
            dep.mapping
                .upstream_of(
                    Sides {
                        upstream: up_def,
                        upstream_keys: up_keys,
                        downstream: down_def,
                        downstream_keys: down_keys,
                    },
                    &PartitionSubset::from_range(index..index + 1),
                )
                .partitions
        }
        _ => PartitionSubset::all(up_keys.len()),
    };
    subset.iter().map(|i| up_keys.key(i)).collect()
}

fn parse_time(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad time {text}: {e}"))
        .timestamp()
}

fn target(value: &serde_json::Value) -> (AssetKey, Vec<Partition>) {
    let target: Target = serde_json::from_value(value.clone()).expect("event target");
    let key = AssetKey::parse(&target.asset).expect("asset key");
    let partitions = match target.partitions {
        Some(keys) if !keys.is_empty() => keys.into_iter().map(Some).collect(),
        _ => vec![None],
    };
    (key, partitions)
}

/// One simulation: a world and the automation state it carries.
struct Run {
    world: World,
    state: AutomationState,
    requested: BTreeMap<AssetKey, PartitionSubset>,
    incremental: bool,
}

impl Run {
    /// Applies a step's events and ticks; returns the requests by key.
    fn step(&mut self, step: &Step) -> BTreeMap<String, Vec<String>> {
        let now = parse_time(&step.now);
        let mut changed = BTreeSet::new();
        let count = step.events.len() as i64;
        for (i, event) in step.events.iter().enumerate() {
            let at_ms = (now - (count - i as i64)) * 1000;
            let (kind, value) = event.iter().next().expect("an event kind");
            match kind.as_str() {
                "materialized" => {
                    let (key, partitions) = target(value);
                    for partition in partitions {
                        self.world.materialize(&key, partition, at_ms, now);
                    }
                    changed.insert(key);
                }
                "in_progress" => {
                    let (key, partitions) = target(value);
                    self.world
                        .in_progress
                        .entry(key.clone())
                        .or_default()
                        .extend(partitions);
                    changed.insert(key);
                }
                "failed" => {
                    let (key, partitions) = target(value);
                    for partition in partitions {
                        self.world
                            .in_progress
                            .entry(key.clone())
                            .or_default()
                            .remove(&partition);
                        self.world
                            .failed
                            .entry(key.clone())
                            .or_default()
                            .insert(partition);
                    }
                    changed.insert(key);
                }
                "materialize_requested" => {
                    let keyspaces = self.world.keyspaces(now);
                    let mut planned = Vec::new();
                    for key in self.world.repository.topological_order() {
                        let Some(subset) = self.requested.get(&key) else {
                            continue;
                        };
                        for index in subset.iter() {
                            let partition = keyspaces.get(&key).map(|k| k.key(index).expect("key"));
                            planned.push((key.clone(), partition));
                        }
                    }
                    drop(keyspaces);
                    for (key, partition) in planned {
                        self.world.materialize(&key, partition, at_ms, now);
                        changed.insert(key);
                    }
                }
                "code_version" => {
                    let key = AssetKey::parse(value["asset"].as_str().expect("asset")).unwrap();
                    let version = value["version"].as_str().expect("version").to_string();
                    self.world.code_versions.insert(key.clone(), version);
                    changed.insert(key);
                }
                "check" => {
                    let key = AssetKey::parse(value["asset"].as_str().expect("asset")).unwrap();
                    let passed = value["passed"].as_bool().expect("passed");
                    self.world.checks.insert(key.clone(), passed);
                    changed.insert(key);
                }
                other => panic!("unknown event kind {other}"),
            }
        }
        let keyspaces = self.world.keyspaces(now);
        let facts = self.world.facts(now);
        let outcome = evaluate_tick(&Tick {
            repository: &self.world.repository,
            keyspaces: &keyspaces,
            facts: &facts,
            now_ms: now * 1000,
            previous: &self.state,
            changed: self.incremental.then_some(&changed),
        });
        let requested = outcome
            .requested
            .iter()
            .map(|(key, subset)| {
                let keys = match keyspaces.get(key) {
                    Some(k) => subset.iter().filter_map(|i| k.key(i)).collect(),
                    None => Vec::new(),
                };
                (key.to_string(), keys)
            })
            .collect();
        drop(keyspaces);
        self.state = outcome.state;
        self.requested = outcome.requested;
        self.world.updated.clear();
        requested
    }
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/automation/scenarios")
}

fn load(scenario: &Scenario) -> Repository {
    let assets = scenario
        .assets
        .iter()
        .map(|(key, asset)| SourceFile::new(format!("assets/{key}.toml"), asset.toml.clone()))
        .collect();
    load_repository(
        SourceFile::new("strata.toml", "[project]\nname = \"scenario\"\n"),
        assets,
    )
    .unwrap_or_else(|e| panic!("{}: {e:?}", scenario.name))
}

fn run_scenario(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let scenario: Scenario = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let new_run = |incremental| Run {
        world: World::new(load(&scenario)),
        state: AutomationState::default(),
        requested: BTreeMap::new(),
        incremental,
    };
    let (mut full, mut incremental) = (new_run(false), new_run(true));
    for (i, step) in scenario.steps.iter().enumerate() {
        let got = full.step(step);
        if got != step.requested {
            return Err(format!(
                "{}: step {} at {}: expected {:?}, got {:?}",
                scenario.name, i, step.now, step.requested, got
            ));
        }
        let got_incremental = incremental.step(step);
        if got_incremental != got {
            return Err(format!(
                "{}: step {} at {}: incremental tick requested {:?}, full tick {:?}",
                scenario.name, i, step.now, got_incremental, got
            ));
        }
    }
    Ok(())
}

/// One test per scenario file, named by what it proves.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let path = scenario_dir().join(concat!(stringify!($name), ".json"));
                if let Err(e) = run_scenario(&path) {
                    panic!("{e}");
                }
            }
        )*

        #[test]
        fn every_scenario_file_has_a_test() {
            let listed: BTreeSet<&str> = [$(stringify!($name)),*].into_iter().collect();
            let files: BTreeSet<String> = std::fs::read_dir(scenario_dir())
                .expect("tests/automation/scenarios")
                .filter_map(|e| {
                    let path = e.expect("entry").path();
                    let name = path.file_stem()?.to_str()?.to_string();
                    path.extension().is_some_and(|x| x == "json").then_some(name)
                })
                .collect();
            let files: BTreeSet<&str> = files.iter().map(String::as_str).collect();
            assert_eq!(files, listed, "list every scenario file in scenarios!()");
        }
    };
}

scenarios!(
    blocking_check_failure_holds_eager_downstream,
    code_version_changed_requests_the_redeployed_asset,
    eager_does_not_retry_a_failed_partition,
    eager_hourly_crosses_midnight,
    eager_ignore_leaves_out_a_dependency,
    eager_requests_a_new_daily_partition_once,
    eager_requests_each_downstream_once_per_upstream_update,
    eager_rolling_seven_day_window,
    eager_swallows_an_upstream_update_between_request_and_run,
    eager_update_and_own_update_in_one_interval_cancel,
    eager_waits_for_missing_then_running_dependency,
    on_cron_counts_updates_after_the_tick_in_the_same_interval,
    on_cron_waits_for_every_dependency_since_the_tick,
    on_missing_requests_each_new_daily_partition_once,
    refresh_stale_recomputes_partitions_whose_upstream_changed,
    refresh_stale_recomputes_the_lookback_after_a_code_change,
    static_partitions_missing_from_the_start_are_never_requested,
);
