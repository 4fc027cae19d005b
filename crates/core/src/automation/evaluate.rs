//! One automation tick: every asset's condition evaluated over partition subsets, in
//! dependency order, with Dagster's semantics, returning what to request and why.
//!
//! The evaluator is given everything it may look at — the repository, each asset's keyspace
//! and [`AssetFacts`] at `now`, and the [`AutomationState`] the previous tick left — and does
//! no I/O and reads no clock. Conditions are evaluated the way Dagster evaluates them:
//!
//! - `a & b`: `b` only over the partitions where `a` held (its *candidates*);
//! - `a.newly_true()` and `a.since(b)` evaluate their children over every partition and keep
//!   state between ticks (the child's previous true subset; the latch's previous value);
//! - `any_deps_match(c)` maps the candidates up each dependency's partition mapping, evaluates
//!   `c` on the dependency, and maps what is true back down;
//! - a tie inside `.since()` (trigger and reset true on the same tick) goes to the reset
//!   unless both sides carry timestamps and the trigger's is later — Dagster's timing rule.
//!
//! **Incremental ticks.** Evaluation is a deterministic function of an asset's inputs and its
//! previous state, so an asset whose previous evaluation reached a fixed point (its state did
//! not change and nothing edge-triggered was true) and whose inputs did not change since
//! (no event touched it or a dependency, no dependency requested, no new partition, no cron
//! tick) would evaluate to the same thing again: it is skipped, and its previous explanation
//! stands. That is what keeps a tick over ten thousand assets in milliseconds.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Condition, DepsFilter, Operand, Quantifier};
use crate::key::AssetKey;
use crate::model::{Asset, Repository};
use crate::partitions::mapping::{PartitionMapping, Sides};
use crate::partitions::subset::PartitionSubset;
use crate::partitions::time_window::ZonedSchedule;
use crate::partitions::{Keyspace, PartitionsDefinition};

/// What the caller knows about one asset at `now`. Subsets index the asset's keyspace; an
/// unpartitioned asset has a keyspace of one partition, index 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssetFacts {
    /// Partitions with a current materialization (for a source: an observation).
    pub materialized: PartitionSubset,
    /// Partitions a run is executing.
    pub in_progress: PartitionSubset,
    /// Partitions whose latest run failed.
    pub failed: PartitionSubset,
    /// Partitions targeted by a backfill that has not finished.
    pub backfill_in_progress: PartitionSubset,
    /// Materialized partitions that are stale (code, data or dependencies).
    pub stale: PartitionSubset,
    /// Partitions whose latest materialization passed every blocking check (a check that has
    /// not run on it has not passed).
    pub blocking_checks_passed: PartitionSubset,
    /// Partitions updated since the previous tick, by the time (ms) of the update.
    pub updated: Vec<(i64, PartitionSubset)>,
    /// The asset's code version now.
    pub code_version: String,
    /// Whether its freshness policy is failing.
    pub freshness_failing: bool,
}

/// What a tick reads.
pub struct Tick<'a, 'k> {
    /// The assets.
    pub repository: &'a Repository,
    /// The keyspace of every partitioned asset at `now`.
    pub keyspaces: &'a BTreeMap<AssetKey, Keyspace<'k>>,
    /// Facts about every asset (an asset absent here has none: nothing materialized).
    pub facts: &'a BTreeMap<AssetKey, AssetFacts>,
    /// The tick's time, milliseconds since the epoch.
    pub now_ms: i64,
    /// What the previous tick left.
    pub previous: &'a AutomationState,
    /// Assets whose facts changed since the previous tick; `None` evaluates every asset.
    pub changed: Option<&'a BTreeSet<AssetKey>>,
}

/// What a tick decided.
#[derive(Clone, Debug, PartialEq)]
pub struct TickOutcome {
    /// The non-empty requests, per asset.
    pub requested: BTreeMap<AssetKey, PartitionSubset>,
    /// The explanation of every asset evaluated this tick (skipped assets keep their last).
    pub evaluations: BTreeMap<AssetKey, Explanation>,
    /// The state the next tick starts from.
    pub state: AutomationState,
    /// Assets with a condition that were skipped as unchanged.
    pub skipped: usize,
}

/// Evaluation state carried from tick to tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AutomationState {
    /// When the previous tick ran (ms).
    pub evaluated_at: Option<i64>,
    /// Per asset with a condition.
    pub assets: BTreeMap<AssetKey, AssetState>,
}

/// One asset's evaluation state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssetState {
    /// The condition evaluated (canonical text): another condition starts afresh.
    pub condition: String,
    /// The partitions definition it was evaluated against (described): another starts afresh.
    pub partitions: String,
    /// What the last evaluation requested.
    pub requested: Subset,
    /// The code version at the last evaluation.
    pub code_version: String,
    /// Every node's true subset at the last evaluation, by node path.
    pub nodes: BTreeMap<String, Subset>,
    /// `newly_true` children's previous true subsets, by node path.
    pub children: BTreeMap<String, Subset>,
    /// The last evaluation changed nothing and nothing edge-triggered held.
    pub settled: bool,
    /// The number of partitions at the last evaluation.
    pub partition_count: u64,
    /// The freshness state at the last evaluation.
    pub freshness_failing: bool,
    /// When the asset was last evaluated (ms).
    pub evaluated_at: i64,
}

/// A partition subset as stored: index ranges, `[start, end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Subset(pub Vec<[u64; 2]>);

impl From<&PartitionSubset> for Subset {
    fn from(subset: &PartitionSubset) -> Self {
        Subset(subset.ranges().iter().map(|r| [r.start, r.end]).collect())
    }
}

impl Subset {
    /// Back to a subset (bitsets for static and dynamic keyspaces).
    pub fn to_subset(&self, bits: bool) -> PartitionSubset {
        let ranges = self.0.iter().map(|[s, e]| *s..*e);
        if bits {
            PartitionSubset::bits_from_indices(ranges.flatten())
        } else {
            PartitionSubset::from_ranges(ranges)
        }
    }
}

/// One node of a condition as evaluated: its true subset among its candidates, its children.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The node as written (`eager`, `any_deps_missing`, `missing`, `since_last_handled`, …),
    /// or for a dependency's branch of a dependency operator, the dependency's key.
    pub label: String,
    /// The asset the node was evaluated on, when it is a dependency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetKey>,
    /// The partitions it was evaluated for.
    pub candidates: Subset,
    /// Where it held.
    pub true_subset: Subset,
    /// When its true subset last changed (ms), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Sub-conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Explanation>,
}

/// Evaluates every asset with a condition, upstream first.
pub fn evaluate_tick(tick: &Tick<'_, '_>) -> TickOutcome {
    let mut evaluator = Evaluator {
        tick,
        requested: BTreeMap::new(),
        empty: AssetFacts::default(),
    };
    let dirty = tick
        .changed
        .map(|changed| dirty_assets(tick.repository, changed));
    let mut state = AutomationState {
        evaluated_at: Some(tick.now_ms),
        assets: BTreeMap::new(),
    };
    let mut evaluations = BTreeMap::new();
    let mut skipped = 0;
    for key in tick.repository.topological_order() {
        let asset = tick.repository.asset(&key).expect("key of the repository");
        let Some(automation) = &asset.automation else {
            continue;
        };
        let previous = tick
            .previous
            .assets
            .get(&key)
            .filter(|p| p.condition == automation.source && p.partitions == describe(asset));
        if let Some(previous) = previous
            && evaluator.can_skip(asset, previous, dirty.as_ref())
        {
            skipped += 1;
            state.assets.insert(key, previous.clone());
            continue;
        }
        let (requested, explanation, asset_state) =
            evaluator.evaluate_asset(asset, &automation.condition, &automation.source, previous);
        if !requested.is_empty() {
            evaluator.requested.insert(key.clone(), requested);
        }
        evaluations.insert(key.clone(), explanation);
        state.assets.insert(key, asset_state);
    }
    TickOutcome {
        requested: evaluator.requested,
        evaluations,
        state,
        skipped,
    }
}

/// Assets whose inputs may have changed: the changed ones, their direct dependents (whose
/// dependency operators look one level up), and — for conditions that read `stale`, which is
/// transitive — everything downstream of a change.
fn dirty_assets(repository: &Repository, changed: &BTreeSet<AssetKey>) -> BTreeSet<AssetKey> {
    let mut dirty = changed.clone();
    let any_reads_stale = repository.assets().any(reads_stale);
    for key in changed {
        for (dependent, _) in repository.dependents(key) {
            dirty.insert(dependent.key.clone());
        }
        if !any_reads_stale {
            continue;
        }
        let reads_stale = repository
            .graph()
            .descendants(key, None)
            .into_iter()
            .filter(|d| repository.asset(d).is_some_and(reads_stale))
            .collect::<Vec<_>>();
        dirty.extend(reads_stale);
    }
    dirty
}

/// Whether the asset's condition reads `stale` anywhere (built-ins included): only then does a
/// tick need staleness, which is transitive and costs a walk of the graph.
pub fn reads_stale(asset: &Asset) -> bool {
    let mut found = false;
    if let Some(automation) = &asset.automation {
        visit_operands(&automation.condition, &mut |operand| {
            found |= matches!(operand, Operand::Stale);
        });
    }
    found
}

fn describe(asset: &Asset) -> String {
    asset
        .partitions
        .as_ref()
        .map(|p| p.definition.describe())
        .unwrap_or_default()
}

/// When partitions became true: (time in ms, partitions), for `.since()` ties.
type Timing = Vec<(i64, PartitionSubset)>;

/// A stateful node's memory, gathered while evaluating one asset.
#[derive(Default)]
struct Memory {
    nodes: BTreeMap<String, Subset>,
    children: BTreeMap<String, Subset>,
    /// Something edge-triggered (an update, a request, a cron tick, a first evaluation) held.
    edge: bool,
}

/// The root asset being evaluated, and its previous state.
struct Root<'r> {
    asset: &'r Asset,
    previous: Option<&'r AssetState>,
}

/// A node's result: where it is true, and when (for `.since()` ties).
struct Evaluated {
    true_subset: PartitionSubset,
    timing: Option<Timing>,
    explanation: Explanation,
}

struct Evaluator<'t, 'a, 'k> {
    tick: &'t Tick<'a, 'k>,
    requested: BTreeMap<AssetKey, PartitionSubset>,
    empty: AssetFacts,
}

impl Evaluator<'_, '_, '_> {
    fn facts(&self, key: &AssetKey) -> &AssetFacts {
        self.tick.facts.get(key).unwrap_or(&self.empty)
    }

    fn keyspace(&self, key: &AssetKey) -> Option<&Keyspace<'_>> {
        self.tick.keyspaces.get(key)
    }

    fn len(&self, key: &AssetKey) -> u64 {
        self.keyspace(key).map_or(1, Keyspace::len)
    }

    fn full(&self, key: &AssetKey) -> PartitionSubset {
        PartitionSubset::all(self.len(key))
    }

    fn bits(&self, key: &AssetKey) -> bool {
        matches!(
            self.keyspace(key),
            Some(Keyspace::Static(_) | Keyspace::Dynamic(_))
        )
    }

    fn can_skip(
        &self,
        asset: &Asset,
        previous: &AssetState,
        dirty: Option<&BTreeSet<AssetKey>>,
    ) -> bool {
        let Some(dirty) = dirty else {
            return false;
        };
        let key = &asset.key;
        let facts = self.facts(key);
        previous.settled
            && !dirty.contains(key)
            && previous.partition_count == self.len(key)
            && previous.code_version == facts.code_version
            && previous.freshness_failing == facts.freshness_failing
            && asset.deps.iter().all(|dep| {
                !self.requested.contains_key(&dep.key)
                    && self
                        .tick
                        .previous
                        .assets
                        .get(&dep.key)
                        .is_none_or(|p| p.requested.0.is_empty())
            })
            && !self.cron_tick_between(asset, previous.evaluated_at)
    }

    /// Whether a cron tick of one of the asset's `cron_tick_passed` operands fell after `since`.
    fn cron_tick_between(&self, asset: &Asset, since_ms: i64) -> bool {
        let Some(automation) = &asset.automation else {
            return false;
        };
        let mut found = false;
        visit_operands(&automation.condition, &mut |operand| {
            if let Operand::CronTickPassed(cron) = operand {
                let now = self.tick.now_ms.div_euclid(1000);
                let schedule = ZonedSchedule::new(cron.schedule.clone(), cron.timezone(), now);
                if schedule.tick_at_or_before(now) * 1000 >= since_ms {
                    found = true;
                }
            }
        });
        found
    }

    fn evaluate_asset(
        &self,
        asset: &Asset,
        condition: &Condition,
        source: &str,
        previous: Option<&AssetState>,
    ) -> (PartitionSubset, Explanation, AssetState) {
        let root = Root { asset, previous };
        let mut memory = Memory::default();
        let candidates = self.full(&asset.key);
        let result = self.eval(condition, &asset.key, &candidates, "0", &root, &mut memory);
        let requested = result.true_subset;
        let facts = self.facts(&asset.key);
        let requested_stored = Subset::from(&requested);
        let settled = !memory.edge
            && previous.is_some_and(|p| {
                p.nodes == memory.nodes
                    && p.children == memory.children
                    && p.requested == requested_stored
            });
        let state = AssetState {
            condition: source.to_string(),
            partitions: describe(asset),
            requested: requested_stored,
            code_version: facts.code_version.clone(),
            nodes: memory.nodes,
            children: memory.children,
            settled,
            partition_count: self.len(&asset.key),
            freshness_failing: facts.freshness_failing,
            evaluated_at: self.tick.now_ms,
        };
        (requested, result.explanation, state)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval(
        &self,
        node: &Condition,
        key: &AssetKey,
        candidates: &PartitionSubset,
        path: &str,
        root: &Root<'_>,
        memory: &mut Memory,
    ) -> Evaluated {
        let mut children = Vec::new();
        let mut timing = None;
        let true_subset = match node {
            Condition::Operand(operand) => {
                let (subset, t) = self.operand(operand, key, candidates, root, memory);
                timing = t;
                subset
            }
            Condition::Not(inner) => {
                let child = self.eval(inner, key, candidates, &format!("{path}.0"), root, memory);
                let subset = candidates.difference(&child.true_subset);
                children.push(child.explanation);
                subset
            }
            Condition::And(parts) => {
                let mut subset = candidates.clone();
                for (i, part) in parts.iter().enumerate() {
                    let child = self.eval(part, key, &subset, &format!("{path}.{i}"), root, memory);
                    subset = subset.intersection(&child.true_subset);
                    children.push(child.explanation);
                }
                subset
            }
            Condition::Or(parts) => {
                let mut subset = PartitionSubset::empty();
                for (i, part) in parts.iter().enumerate() {
                    let child =
                        self.eval(part, key, candidates, &format!("{path}.{i}"), root, memory);
                    subset = subset.union(&child.true_subset);
                    children.push(child.explanation);
                }
                subset.intersection(candidates)
            }
            Condition::NewlyTrue(inner) => {
                let full = self.full(key);
                let child = self.eval(inner, key, &full, &format!("{path}.0"), root, memory);
                let before = self.remembered(root, key, path, true);
                let subset = child
                    .true_subset
                    .difference(&before)
                    .intersection(candidates);
                memory
                    .children
                    .insert(path.to_string(), Subset::from(&child.true_subset));
                children.push(child.explanation);
                subset
            }
            Condition::Since { condition, reset } => {
                let full = self.full(key);
                let trigger = self.eval(condition, key, &full, &format!("{path}.0"), root, memory);
                let reset = self.eval(reset, key, &full, &format!("{path}.1"), root, memory);
                let before = self.remembered(root, key, path, false);
                let mut subset = before
                    .union(&trigger.true_subset)
                    .difference(&reset.true_subset);
                let both = trigger.true_subset.intersection(&reset.true_subset);
                if !both.is_empty()
                    && let (Some(t), Some(r)) = (&trigger.timing, &reset.timing)
                {
                    subset = subset.union(&later(t, r, &both));
                }
                timing = trigger.timing;
                children.push(trigger.explanation);
                children.push(reset.explanation);
                subset
            }
            Condition::SinceLastHandled(inner) => {
                let since = Condition::Since {
                    condition: inner.clone(),
                    reset: Box::new(Condition::Or(vec![
                        Condition::Operand(Operand::NewlyRequested),
                        Condition::Operand(Operand::NewlyUpdated),
                        Condition::Operand(Operand::InitialEvaluation),
                    ])),
                };
                let mut evaluated = self.eval(&since, key, candidates, path, root, memory);
                evaluated.explanation.label = label(node);
                return evaluated;
            }
            Condition::Deps {
                quantifier,
                condition,
                filter,
            } => {
                let (subset, t, explained) = self.deps(
                    *quantifier,
                    condition,
                    filter,
                    key,
                    candidates,
                    path,
                    root,
                    memory,
                );
                timing = t;
                children = explained;
                subset
            }
            Condition::Named { named, filter } => {
                let mut definition = named.definition();
                definition.apply_filter(filter);
                let child = self.eval(
                    &definition,
                    key,
                    candidates,
                    &format!("{path}.0"),
                    root,
                    memory,
                );
                timing = child.timing;
                children = child.explanation.children;
                child.true_subset
            }
        };
        let stored = Subset::from(&true_subset);
        let since = match root.previous.and_then(|p| p.nodes.get(path)) {
            Some(before) if *before == stored => root.previous.map(|p| p.evaluated_at),
            _ => Some(self.tick.now_ms),
        };
        memory.nodes.insert(path.to_string(), stored.clone());
        Evaluated {
            explanation: Explanation {
                label: label(node),
                asset: (key != &root.asset.key).then(|| key.clone()),
                candidates: Subset::from(candidates),
                true_subset: stored,
                since,
                children,
            },
            true_subset,
            timing,
        }
    }

    /// A stateful node's previous value: the latch (`since`) or the child's true subset
    /// (`newly_true`). Nodes evaluated on a dependency keep theirs under the dependency's path.
    fn remembered(
        &self,
        root: &Root<'_>,
        key: &AssetKey,
        path: &str,
        child: bool,
    ) -> PartitionSubset {
        let Some(previous) = root.previous else {
            return PartitionSubset::empty();
        };
        let map = if child {
            &previous.children
        } else {
            &previous.nodes
        };
        map.get(path)
            .map(|s| s.to_subset(self.bits(key)))
            .unwrap_or_else(PartitionSubset::empty)
    }

    #[allow(clippy::too_many_arguments)]
    fn deps(
        &self,
        quantifier: Quantifier,
        condition: &Condition,
        filter: &DepsFilter,
        key: &AssetKey,
        candidates: &PartitionSubset,
        path: &str,
        root: &Root<'_>,
        memory: &mut Memory,
    ) -> (PartitionSubset, Option<Timing>, Vec<Explanation>) {
        let repository = self.tick.repository;
        let asset = repository.asset(key).expect("asset of the repository");
        let allowed = |dep: &AssetKey| {
            let within = |selections: &[crate::selection::Selection]| {
                selections.iter().any(|s| {
                    s.resolve(repository.graph(), repository)
                        .is_ok_and(|keys| keys.contains(dep))
                })
            };
            (filter.allow.is_empty() || within(&filter.allow)) && !within(&filter.ignore)
        };
        let mut subset = match quantifier {
            Quantifier::Any => PartitionSubset::empty(),
            Quantifier::All => candidates.clone(),
        };
        let mut timings: Vec<(i64, PartitionSubset)> = Vec::new();
        let mut explained = Vec::new();
        for dep in asset.deps.iter().filter(|d| allowed(&d.key)) {
            let edge = self.edge(&dep.key, key, &dep.mapping);
            let up_candidates = edge.up(candidates);
            let child_path = format!("{path}[{}]", dep.key);
            let child = self.eval(
                condition,
                &dep.key,
                &up_candidates,
                &child_path,
                root,
                memory,
            );
            let down = edge.down(&child.true_subset);
            if let Some(t) = &child.timing {
                timings.extend(t.iter().map(|(ts, s)| (*ts, edge.down(s))));
            }
            subset = match quantifier {
                Quantifier::Any => subset.union(&down),
                Quantifier::All => subset.intersection(&down),
            };
            explained.push(Explanation {
                label: dep.key.to_string(),
                asset: Some(dep.key.clone()),
                candidates: Subset::from(&up_candidates),
                true_subset: Subset::from(&child.true_subset),
                since: None,
                children: vec![child.explanation],
            });
        }
        let timing = (quantifier == Quantifier::Any && !timings.is_empty()).then_some(timings);
        (subset.intersection(candidates), timing, explained)
    }

    fn edge<'e>(
        &'e self,
        upstream: &'e AssetKey,
        downstream: &'e AssetKey,
        mapping: &'e PartitionMapping,
    ) -> Edge<'e> {
        let def = |key: &AssetKey| {
            self.tick
                .repository
                .asset(key)
                .and_then(|a| a.partitions.as_ref())
                .map(|p| &p.definition)
        };
        Edge {
            up: def(upstream).zip(self.keyspace(upstream)),
            down: def(downstream).zip(self.keyspace(downstream)),
            up_len: self.len(upstream),
            down_len: self.len(downstream),
            mapping,
        }
    }

    fn operand(
        &self,
        operand: &Operand,
        key: &AssetKey,
        candidates: &PartitionSubset,
        root: &Root<'_>,
        memory: &mut Memory,
    ) -> (PartitionSubset, Option<Timing>) {
        if candidates.is_empty() {
            return (PartitionSubset::empty(), None);
        }
        let facts = self.facts(key);
        let previous_tick = self
            .tick
            .previous
            .evaluated_at
            .filter(|_| root.previous.is_some());
        let none = |subset: PartitionSubset| (subset.intersection(candidates), None);
        let all_if = |yes: bool| {
            if yes {
                candidates.clone()
            } else {
                PartitionSubset::empty()
            }
        };
        match operand {
            Operand::Missing => (candidates.difference(&facts.materialized), None),
            Operand::InProgress => none(facts.in_progress.clone()),
            Operand::ExecutionFailed => none(facts.failed.clone()),
            Operand::BackfillInProgress => none(facts.backfill_in_progress.clone()),
            Operand::Stale => none(facts.stale.clone()),
            Operand::NewlyUpdated => {
                if previous_tick.is_none() {
                    return (PartitionSubset::empty(), None);
                }
                let mut subset = PartitionSubset::empty();
                for (_, updated) in &facts.updated {
                    subset = subset.union(updated);
                }
                memory.edge |= !subset.is_empty();
                let timing = facts
                    .updated
                    .iter()
                    .map(|(t, s)| (*t, s.intersection(candidates)))
                    .collect();
                (subset.intersection(candidates), Some(timing))
            }
            Operand::NewlyRequested => {
                let before = self
                    .tick
                    .previous
                    .assets
                    .get(key)
                    .map(|p| p.requested.to_subset(self.bits(key)))
                    .unwrap_or_else(PartitionSubset::empty);
                memory.edge |= !before.is_empty();
                let timing = previous_tick.map(|t| vec![(t, before.clone())]);
                (before.intersection(candidates), timing)
            }
            Operand::CodeVersionChanged => {
                let before = self.tick.previous.assets.get(key).map(|p| &p.code_version);
                let changed = before.is_some_and(|b| *b != facts.code_version);
                memory.edge |= changed;
                (all_if(changed), None)
            }
            Operand::CronTickPassed(cron) => {
                let now = self.tick.now_ms.div_euclid(1000);
                let schedule = ZonedSchedule::new(cron.schedule.clone(), cron.timezone(), now);
                let tick = schedule.tick_at_or_before(now);
                let passed = previous_tick.is_some_and(|p| tick * 1000 >= p);
                memory.edge |= passed;
                (
                    all_if(passed),
                    passed.then(|| vec![(tick * 1000, candidates.clone())]),
                )
            }
            Operand::InLatestTimeWindow(lookback) => none(self.latest_time_window(key, *lookback)),
            Operand::FreshnessViolated => (all_if(facts.freshness_failing), None),
            Operand::WillBeRequested => {
                let together = key != &root.asset.key && self.executable_together(root.asset, key);
                let subset = if together {
                    self.requested
                        .get(key)
                        .cloned()
                        .unwrap_or_else(PartitionSubset::empty)
                } else {
                    PartitionSubset::empty()
                };
                memory.edge |= !subset.is_empty();
                none(subset)
            }
            Operand::InitialEvaluation => {
                let initial = root.previous.is_none();
                memory.edge |= initial;
                (all_if(initial), None)
            }
            Operand::BlockingChecksPassed => {
                let asset = self.tick.repository.asset(key);
                let has_blocking = asset.is_some_and(|a| a.checks.iter().any(|c| c.blocking));
                if has_blocking {
                    none(facts.blocking_checks_passed.clone())
                } else {
                    (candidates.clone(), None)
                }
            }
        }
    }

    /// Dagster's rule for `will_be_requested` seen from a dependent: both in one run needs one
    /// partitions definition and an identity or time-window mapping.
    fn executable_together(&self, root: &Asset, dep: &AssetKey) -> bool {
        let Some(up) = self.tick.repository.asset(dep) else {
            return false;
        };
        fn def(asset: &Asset) -> Option<&PartitionsDefinition> {
            asset.partitions.as_ref().map(|p| &p.definition)
        }
        if def(up) != def(root) {
            return false;
        }
        if def(root).is_none() {
            return true;
        }
        root.deps.iter().any(|d| {
            &d.key == dep
                && matches!(
                    d.mapping,
                    PartitionMapping::Identity | PartitionMapping::TimeWindow { .. }
                )
        })
    }

    /// The latest partition, or with a lookback every partition whose window overlaps the
    /// `lookback` before the end of the latest window. Every partition when not time-based.
    fn latest_time_window(
        &self,
        key: &AssetKey,
        lookback: Option<std::time::Duration>,
    ) -> PartitionSubset {
        let Some(Keyspace::TimeWindow(keys)) = self.keyspace(key) else {
            return self.full(key);
        };
        let len = keys.len();
        let Some(latest) = len.checked_sub(1).and_then(|i| keys.window(i)) else {
            return PartitionSubset::empty();
        };
        let first = match lookback {
            None => len - 1,
            Some(lookback) => {
                let from = latest.end - lookback.as_secs() as i64;
                keys.first_index_starting_at_or_after(from + 1)
                    .saturating_sub(1)
            }
        };
        PartitionSubset::from_range(first..len)
    }
}

/// The partitions of `both` where the trigger's latest time is later than the reset's.
fn later(
    trigger: &[(i64, PartitionSubset)],
    reset: &[(i64, PartitionSubset)],
    both: &PartitionSubset,
) -> PartitionSubset {
    let mut wins = PartitionSubset::empty();
    for (t, subset) in trigger {
        let mut candidates = subset.intersection(both);
        for (r, reset_subset) in reset {
            if r >= t {
                candidates = candidates.difference(reset_subset);
            }
        }
        wins = wins.union(&candidates);
    }
    wins
}

/// The display name of a node: built-ins by name, the rest in canonical text.
fn label(node: &Condition) -> String {
    match node {
        Condition::Named { named, filter } => {
            let mut text = node_name(named);
            if !filter.is_empty() {
                text.push_str(&filter.to_string());
            }
            text
        }
        Condition::Not(_) => "not".into(),
        Condition::And(_) => "all of".into(),
        Condition::Or(_) => "any of".into(),
        Condition::NewlyTrue(_) => "newly_true".into(),
        Condition::Since { .. } => "since".into(),
        Condition::SinceLastHandled(_) => "since_last_handled".into(),
        Condition::Deps { quantifier, .. } => match quantifier {
            Quantifier::Any => "any_deps_match".into(),
            Quantifier::All => "all_deps_match".into(),
        },
        Condition::Operand(_) => node.to_string(),
    }
}

fn node_name(named: &super::Named) -> String {
    Condition::Named {
        named: named.clone(),
        filter: DepsFilter::default(),
    }
    .to_string()
}

fn visit_operands(condition: &Condition, f: &mut impl FnMut(&Operand)) {
    match condition {
        Condition::Operand(operand) => f(operand),
        Condition::Not(inner)
        | Condition::NewlyTrue(inner)
        | Condition::SinceLastHandled(inner) => visit_operands(inner, f),
        Condition::And(parts) | Condition::Or(parts) => {
            parts.iter().for_each(|p| visit_operands(p, f))
        }
        Condition::Since { condition, reset } => {
            visit_operands(condition, f);
            visit_operands(reset, f);
        }
        Condition::Deps { condition, .. } => visit_operands(condition, f),
        Condition::Named { .. } => visit_operands(&condition.expand(), f),
    }
}

/// One dependency edge at this tick, mapping subsets both ways. An unpartitioned side is a
/// keyspace of one partition that maps to and from everything on the other side (Dagster's
/// all-partitions mapping), except that `last` reads only the upstream's last partition.
struct Edge<'e> {
    up: Option<(&'e PartitionsDefinition, &'e Keyspace<'e>)>,
    down: Option<(&'e PartitionsDefinition, &'e Keyspace<'e>)>,
    up_len: u64,
    down_len: u64,
    mapping: &'e PartitionMapping,
}

impl Edge<'_> {
    /// The upstream partitions that `down` reads.
    fn up(&self, down: &PartitionSubset) -> PartitionSubset {
        if down.is_empty() {
            return PartitionSubset::empty();
        }
        match (self.up, self.down) {
            (Some((up, up_keys)), Some((down_def, down_keys))) => {
                let sides = Sides {
                    upstream: up,
                    upstream_keys: up_keys,
                    downstream: down_def,
                    downstream_keys: down_keys,
                };
                self.mapping.upstream_of(sides, down).partitions
            }
            (Some(_), None) if matches!(self.mapping, PartitionMapping::Last) => {
                match self.up_len {
                    0 => PartitionSubset::empty(),
                    n => PartitionSubset::from_range(n - 1..n),
                }
            }
            _ => PartitionSubset::all(self.up_len),
        }
    }

    /// The downstream partitions that read some of `up`.
    fn down(&self, up: &PartitionSubset) -> PartitionSubset {
        if up.is_empty() {
            return PartitionSubset::empty();
        }
        match (self.up, self.down) {
            (Some((up_def, up_keys)), Some((down_def, down_keys))) => {
                let sides = Sides {
                    upstream: up_def,
                    upstream_keys: up_keys,
                    downstream: down_def,
                    downstream_keys: down_keys,
                };
                self.mapping.downstream_of(sides, up)
            }
            (Some(_), None) if matches!(self.mapping, PartitionMapping::Last) => {
                let last = self.up_len.saturating_sub(1);
                if up.contains(last) {
                    PartitionSubset::all(self.down_len)
                } else {
                    PartitionSubset::empty()
                }
            }
            _ => PartitionSubset::all(self.down_len),
        }
    }
}
