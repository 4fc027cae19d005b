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
//! **How a tick is organized.** The tick indexes the repository once (assets by graph index,
//! their keyspaces, facts, previous state and resolved dependencies), compiles each distinct
//! condition once (module `program`), then walks the assets upstream first. Mapping
//! subsets along dependencies is cached per pair of partitions definitions and mapping
//! (module `edge`); sets are index ranges held inline when they have one run.
//!
//! **Incremental ticks.** Evaluation is a deterministic function of what it reads: the facts of
//! the asset and of the dependencies its operators visit, their keyspaces, the requests of this
//! tick and the previous one, cron ticks, and the asset's own records. Each evaluation stores a
//! fingerprint of those facts. An asset is skipped — its previous state and explanation stand,
//! and it requests again what it requested — when its last evaluation was a fixed point (no
//! edge-triggered input such as an update, a request or a cron tick held, and no latch
//! changed), the fingerprint is unchanged, no dependency it reads requested anything on this
//! tick or the previous one, and no cron tick of its condition passed. That is what keeps a
//! tick over ten thousand assets in milliseconds when little changes; the scenario tests run
//! every tick both ways and compare.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use super::edge::EdgeCache;
use super::node::{AssetEvaluation, Step};
use super::program::Program;
use super::set::Set;
use super::state::{AssetStateData, Fingerprint};
use crate::key::AssetKey;
use crate::model::{Asset, Repository};
use crate::partitions::Keyspace;
use crate::partitions::definition::PartitionsDefinition;
use crate::partitions::mapping::PartitionMapping;
use crate::partitions::subset::PartitionSubset;

pub use super::explain::{Evaluations, Explanation};
pub use super::state::{AssetState, AutomationState, Subset};

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
    /// Assets whose facts changed since the previous tick, which are evaluated with their
    /// dependents; `None` evaluates every asset. Changes the caller does not know of are
    /// found by the evaluator's own fingerprints of the facts.
    pub changed: Option<&'a BTreeSet<AssetKey>>,
}

/// What a tick decided.
#[derive(Clone, Debug, PartialEq)]
pub struct TickOutcome {
    /// The non-empty requests, per asset.
    pub requested: BTreeMap<AssetKey, PartitionSubset>,
    /// The explanation of every asset evaluated this tick (skipped assets keep their last).
    pub evaluations: Evaluations,
    /// The state the next tick starts from.
    pub state: AutomationState,
    /// Assets with a condition that were skipped as unchanged.
    pub skipped: usize,
}

/// Evaluates every asset with a condition, upstream first.
pub fn evaluate_tick(tick: &Tick<'_, '_>) -> TickOutcome {
    let index = TickIndex::new(tick);
    let mut run = TickRun {
        programs: Vec::new(),
        program_of_class: vec![None; index.assets.len()],
        requested: vec![None; index.assets.len()],
        shared: Shared::default(),
        signatures: vec![None; index.assets.len()],
        index: &index,
    };
    let mut states: Vec<Option<AssetState>> = vec![None; index.assets.len()];
    let mut evaluations = Vec::new();
    let mut skipped = 0;
    for &i in index.order {
        let Some(class) = tick.repository.condition_class(i) else {
            continue;
        };
        let program = run.program(class);
        let state = match run.asset(i, program) {
            Outcome::Skipped(state) => {
                skipped += 1;
                state
            }
            Outcome::Evaluated(steps, state) => {
                let program = run.programs[program].0.clone();
                evaluations.push((i, program, state.clone(), steps));
                state
            }
        };
        if !state.0.requested.is_empty() {
            run.requested[i] = Some(state.0.requested.clone());
        }
        states[i] = Some(state);
    }
    let key = |i: usize| index.keys[i].clone();
    TickOutcome {
        requested: run
            .requested
            .iter()
            .enumerate()
            .filter_map(|(i, set)| Some((key(i), set.as_ref()?.to_subset())))
            .collect(),
        evaluations: Evaluations::new(index.keys, run.shared.steps, evaluations),
        state: AutomationState {
            evaluated_at: Some(tick.now_ms),
            assets: states
                .into_iter()
                .enumerate()
                .filter_map(|(i, s)| Some((key(i), s?)))
                .collect(),
        },
        skipped,
    }
}

/// Whether the asset's condition reads `stale` anywhere (built-ins included): only then does a
/// tick need staleness, which is transitive and costs a walk of the graph.
pub fn reads_stale(asset: &Asset) -> bool {
    asset.automation.as_ref().is_some_and(|automation| {
        super::program::reads_operand(&automation.condition, &|operand| {
            matches!(operand, super::Operand::Stale)
        })
    })
}

/// The repository and the tick's inputs by graph index (the assets' key order), looked up once.
pub(crate) struct TickIndex<'t, 'k> {
    pub(crate) tick: &'t Tick<'t, 'k>,
    /// Every key, sorted: an asset's index is its position.
    pub(crate) keys: &'t [AssetKey],
    pub(crate) assets: Vec<&'t Asset>,
    pub(crate) keyspaces: Vec<Option<&'t Keyspace<'k>>>,
    pub(crate) facts: Vec<&'t AssetFacts>,
    /// The previous tick's state of each asset, whatever its condition was.
    pub(crate) previous: Vec<Option<&'t AssetState>>,
    /// The number of partitions (1 when unpartitioned).
    pub(crate) len: Vec<u64>,
    /// The partitions definition, as an index into `definitions` (equal definitions, one
    /// index).
    pub(crate) definition: Vec<Option<usize>>,
    pub(crate) definitions: Vec<Definition<'t>>,
    /// Assets the caller said changed (all `false` when it did not say).
    pub(crate) changed: Vec<bool>,
    /// Upstream first, ties by key.
    pub(crate) order: &'t [usize],
}

/// A distinct partitions definition of the tick.
pub(crate) struct Definition<'t> {
    pub(crate) definition: &'t PartitionsDefinition,
    pub(crate) description: Arc<str>,
    /// A fingerprint of the description.
    pub(crate) fingerprint: u64,
    /// Whether its partitions are time windows.
    pub(crate) time_window: bool,
}

impl<'t, 'k> TickIndex<'t, 'k> {
    fn new(tick: &'t Tick<'t, 'k>) -> Self {
        static NO_FACTS: std::sync::OnceLock<AssetFacts> = std::sync::OnceLock::new();
        let no_facts = NO_FACTS.get_or_init(AssetFacts::default);
        let repository = tick.repository;
        let graph = repository.graph();
        let keys = graph.keys();
        let assets: Vec<&Asset> = repository.assets().collect();
        debug_assert!(assets.iter().zip(keys).all(|(a, k)| &a.key == k));
        let keyspaces = join(keys, tick.keyspaces);
        let facts = join(keys, tick.facts)
            .into_iter()
            .map(|f| f.unwrap_or(no_facts))
            .collect();
        let previous = join(keys, &tick.previous.assets);
        let len = keyspaces
            .iter()
            .map(|k| k.map_or(1, Keyspace::len))
            .collect();
        let mut definitions: Vec<Definition<'t>> = Vec::new();
        let mut class_definition: Vec<Option<usize>> = vec![None; keys.len()];
        let definition = (0..keys.len())
            .map(|i| {
                let class = repository.partitions_class(i)?;
                Some(*class_definition[class].get_or_insert_with(|| {
                    let def = assets[class].partitions_definition().expect("partitioned");
                    let description = def.describe();
                    // The previous state's text when equal: later comparisons find one pointer.
                    let stored = previous[class].map(|p: &AssetState| &p.0.partitions);
                    definitions.push(Definition {
                        definition: def,
                        fingerprint: Fingerprint::default().str(&description).finish(),
                        description: shared_text(stored, description),
                        time_window: def.as_time_window().is_some(),
                    });
                    definitions.len() - 1
                }))
            })
            .collect();
        let mut changed = vec![false; keys.len()];
        for key in tick.changed.into_iter().flatten() {
            if let Some(i) = graph.index_of(key) {
                changed[i] = true;
            }
        }
        Self {
            tick,
            keys,
            assets,
            keyspaces,
            facts,
            previous,
            len,
            definition,
            definitions,
            changed,
            order: repository.topological_indices(),
        }
    }

    /// The asset's dependencies in declaration order: (index, mapping).
    pub(crate) fn deps(
        &self,
        asset: usize,
    ) -> impl Iterator<Item = (usize, &'t PartitionMapping)> + use<'t, 'k> {
        let indices = self.tick.repository.dependency_indices(asset);
        indices
            .iter()
            .zip(&self.assets[asset].deps)
            .map(|(&i, dep)| (i, &dep.mapping))
    }

    /// Whether the asset declares a blocking check.
    pub(crate) fn blocking(&self, asset: usize) -> bool {
        self.assets[asset].checks.iter().any(|c| c.blocking)
    }

    /// The asset's partitions definition when it is partitioned at this tick (has a keyspace).
    pub(crate) fn partitioned(&self, asset: usize) -> Option<usize> {
        self.keyspaces[asset].and(self.definition[asset])
    }

    /// The description of the asset's partitions definition ("" when unpartitioned).
    fn description(&self, asset: usize) -> &Arc<str> {
        static NONE: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        match self.definition[asset] {
            Some(d) => &self.definitions[d].description,
            None => NONE.get_or_init(|| Arc::from("")),
        }
    }
}

/// `stored` when it holds `text`, else `text`, shared.
fn shared_text(stored: Option<&Arc<str>>, text: String) -> Arc<str> {
    match stored {
        Some(stored) if **stored == *text => stored.clone(),
        _ => text.into(),
    }
}

/// Whether two shared texts are equal, comparing pointers first.
fn same_text(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// The values of a key-sorted map for each of the sorted `keys`, in one merge pass.
fn join<'m, V>(keys: &[AssetKey], map: &'m BTreeMap<AssetKey, V>) -> Vec<Option<&'m V>> {
    let mut entries = map.iter().peekable();
    keys.iter()
        .map(|key| {
            while entries.next_if(|(k, _)| *k < key).is_some() {}
            entries.next_if(|(k, _)| *k == key).map(|(_, v)| v)
        })
        .collect()
}

/// What happened to one asset.
enum Outcome {
    Skipped(AssetState),
    Evaluated(Range<usize>, AssetState),
}

/// What evaluations share within a tick.
#[derive(Default)]
pub(crate) struct Shared<'t> {
    /// Subsets mapped along dependencies.
    pub(crate) edges: EdgeCache<'t>,
    /// The latest time windows: (definition, lookback) → partitions.
    pub(crate) windows: Vec<(WindowKey, Set)>,
    /// The steps of every evaluation, one after the other (see [`Step`]).
    pub(crate) steps: Vec<Step>,
}

/// A latest-time-window query: the partitions definition and the lookback.
pub(crate) type WindowKey = (Option<usize>, Option<std::time::Duration>);

/// The tick's mutable side: compiled programs, requests so far, shared.
pub(crate) struct TickRun<'r, 't, 'k> {
    pub(crate) index: &'r TickIndex<'t, 'k>,
    /// Each distinct condition compiled, with its filters resolved by asset index.
    pub(crate) programs: Vec<(Arc<Program>, Vec<Vec<bool>>)>,
    /// The program of each condition class.
    program_of_class: Vec<Option<usize>>,
    /// What this tick requests, by asset index.
    pub(crate) requested: Vec<Option<Set>>,
    pub(crate) shared: Shared<'t>,
    /// Fingerprints of each asset's facts, computed when first needed.
    signatures: Vec<Option<(u64, u64)>>,
}

impl TickRun<'_, '_, '_> {
    /// The compiled program of a condition class (see [`Repository::condition_class`]),
    /// compiling it on first use.
    fn program(&mut self, class: usize) -> usize {
        if let Some(i) = self.program_of_class[class] {
            return i;
        }
        let automation = self.index.assets[class].automation.as_ref();
        let automation = automation.expect("a condition class has a condition");
        let now_ms = self.index.tick.now_ms;
        let mut program = Program::compile(&automation.condition, &automation.source, now_ms);
        // The previous state's text when equal: later comparisons find one pointer.
        let stored = self.index.previous[class].map(|p| &p.0.condition);
        program.source = shared_text(stored, program.source.to_string());
        let repository = self.index.tick.repository;
        let resolved = |selections: &[crate::selection::Selection]| {
            let mut members = vec![false; self.index.keys.len()];
            for selection in selections {
                let Ok(keys) = selection.resolve(repository.graph(), repository) else {
                    continue;
                };
                for key in keys {
                    if let Some(i) = repository.graph().index_of(&key) {
                        members[i] = true;
                    }
                }
            }
            members
        };
        let filters = program
            .filters
            .iter()
            .map(|filter| {
                let allow = resolved(&filter.allow);
                let ignore = resolved(&filter.ignore);
                (0..self.index.keys.len())
                    .map(|i| (filter.allow.is_empty() || allow[i]) && !ignore[i])
                    .collect()
            })
            .collect();
        self.programs.push((Arc::new(program), filters));
        self.program_of_class[class] = Some(self.programs.len() - 1);
        self.programs.len() - 1
    }

    /// Skips the asset if nothing it reads changed since its last evaluation, which was a
    /// fixed point; evaluates it otherwise.
    fn asset(&mut self, asset: usize, program: usize) -> Outcome {
        let index = self.index;
        let description = index.description(asset);
        let previous = index.previous[asset].filter(|p| {
            same_text(&p.0.condition, &self.programs[program].0.source)
                && same_text(&p.0.partitions, description)
        });
        let (inputs, layout, quiet) = self.fingerprints(asset, program);
        if let Some(previous) = previous
            && index.tick.changed.is_some()
            && quiet
            && previous.0.settled
            && previous.0.inputs == Some(inputs)
            && previous.0.layout == layout
            && !self.programs[program]
                .0
                .cron_ticks
                .iter()
                .any(|&t| t >= previous.0.evaluated_at)
        {
            return Outcome::Skipped(previous.clone());
        }
        let previous = previous.map(|p| &*p.0);
        let (program, filters) = &self.programs[program];
        let evaluation = AssetEvaluation::new(
            index,
            &self.requested,
            &mut self.shared,
            (program, filters),
            asset,
            previous,
            previous.is_some_and(|p| p.layout == layout),
        );
        let evaluated = evaluation.run();
        let facts = index.facts[asset];
        let settled = evaluated.settled(previous.map(|p| &p.requested));
        let state = AssetStateData {
            condition: program.source.clone(),
            partitions: description.clone(),
            requested: evaluated.requested().clone(),
            code_version: match previous {
                Some(p) if *p.code_version == *facts.code_version => p.code_version.clone(),
                _ => facts.code_version.as_str().into(),
            },
            settled,
            partition_count: index.len[asset],
            evaluated_at: index.tick.now_ms,
            inputs: Some(inputs),
            layout,
            records: evaluated.records,
            nodes: BTreeMap::new(),
            children: BTreeMap::new(),
        };
        Outcome::Evaluated(evaluated.steps, AssetState(Arc::new(state)))
    }

    /// Fingerprints of what evaluating `asset` reads (`inputs`) and of the dependency frames
    /// its records are laid out in (`layout`), and whether it is quiet: neither it nor any
    /// dependency its operators visit was named changed by the caller, and none of those
    /// dependencies requested anything on this tick or the previous one.
    fn fingerprints(&mut self, asset: usize, program: usize) -> (u64, u64, bool) {
        let mut inputs = Fingerprint::default();
        let mut layout = Fingerprint::default();
        inputs.u64(self.signature(asset).1);
        let mut quiet = !self.index.changed[asset];
        let depth = self.programs[program].0.depth;
        self.reach(asset, program, depth, &mut inputs, &mut layout, &mut quiet);
        (inputs.finish(), layout.finish(), quiet)
    }

    fn reach(
        &mut self,
        asset: usize,
        program: usize,
        depth: usize,
        inputs: &mut Fingerprint,
        layout: &mut Fingerprint,
        quiet: &mut bool,
    ) {
        if depth == 0 {
            return;
        }
        let index = self.index;
        for &dep in index.tick.repository.dependency_indices(asset) {
            let (key, signature) = self.signature(dep);
            layout.u64(key);
            for filter in &self.programs[program].1 {
                layout.u64(u64::from(filter[dep]));
            }
            inputs.u64(signature);
            *quiet &= !index.changed[dep]
                && self.requested[dep].is_none()
                && index.previous[dep].is_none_or(|p| p.0.requested.is_empty());
            self.reach(dep, program, depth - 1, inputs, layout, quiet);
        }
        layout.u64(u64::MAX);
    }

    /// Fingerprints of the asset's key and of everything known about it at this tick.
    fn signature(&mut self, asset: usize) -> (u64, u64) {
        if let Some(signature) = self.signatures[asset] {
            return signature;
        }
        let index = self.index;
        let facts = index.facts[asset];
        let key = &index.keys[asset];
        let key = Fingerprint::default()
            .str(key.group())
            .str(key.name())
            .finish();
        let mut fp = Fingerprint::default();
        let definition = index.definition[asset].map(|d| index.definitions[d].fingerprint);
        fp.u64(definition.unwrap_or(0))
            .u64(index.len[asset])
            .u64(u64::from(index.blocking(asset)))
            .subset(&facts.materialized)
            .subset(&facts.in_progress)
            .subset(&facts.failed)
            .subset(&facts.backfill_in_progress)
            .subset(&facts.stale)
            .subset(&facts.blocking_checks_passed)
            .u64(facts.updated.len() as u64);
        for (at, subset) in &facts.updated {
            fp.u64(*at as u64).subset(subset);
        }
        fp.str(&facts.code_version)
            .u64(u64::from(facts.freshness_failing));
        let signature = (key, fp.finish());
        self.signatures[asset] = Some(signature);
        signature
    }
}
