//! One asset's evaluation: its compiled condition walked over partition sets, each node's result
//! recorded in its slot.
//!
//! Stateful nodes read what they remember from the previous evaluation's records: a `since`
//! its latch (its own last true subset), a `newly_true` its child's last true subset. Records
//! of nodes in dependency frames are read only when the frames are laid out as they were
//! (the same dependencies visited in the same order); state in the former path-keyed format is
//! read by path.

use std::borrow::Cow;
use std::ops::Range;

use super::edge::Direction;
use super::evaluate::{Shared, TickIndex};
use super::program::{Kind, Node, NodeId, Program};
use super::set::Set;
use super::state::{AssetStateData, Record};
use super::{Operand, Quantifier};
use crate::partitions::Keyspace;
use crate::partitions::mapping::PartitionMapping;

/// What explaining an evaluation needs besides the records: the dependencies each dependency
/// operator visited, in evaluation order (every other node's candidates follow from its
/// parent's and its siblings' records).
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// A dependency operator, with how many dependencies it visited.
    Operator(usize),
    /// One of them: the asset (an index), its partition count, and the candidates mapped up.
    Branch(usize, u64, Set),
}

/// When partitions became true, for `.since()` ties: (time in ms, partitions); one entry held
/// inline.
#[derive(Clone, Debug)]
enum Times {
    One([(i64, Set); 1]),
    Many(Vec<(i64, Set)>),
}

impl Times {
    fn entries(&self) -> &[(i64, Set)] {
        match self {
            Times::One(entry) => entry,
            Times::Many(entries) => entries,
        }
    }

    fn from_vec(mut entries: Vec<(i64, Set)>) -> Self {
        match entries.len() {
            1 => Times::One([entries.pop().expect("one entry")]),
            _ => Times::Many(entries),
        }
    }
}

/// An asset evaluated.
pub(crate) struct Evaluated {
    /// Every node's record (where it held, since when), by slot.
    pub(crate) records: Vec<Record>,
    /// Its steps, in [`Shared::steps`].
    pub(crate) steps: Range<usize>,
    requested: Set,
    /// Something edge-triggered (an update, a request, a cron tick, a first evaluation) held.
    edge: bool,
    /// A latch or a `newly_true` memory changed.
    moved: bool,
}

impl Evaluated {
    /// What the condition requests.
    pub(crate) fn requested(&self) -> &Set {
        &self.requested
    }

    /// Whether evaluating again with the same inputs would give the same result: nothing
    /// edge-triggered held, no memory changed, and the request (which `newly_requested` reads
    /// at the next tick) is the previous one.
    pub(crate) fn settled(&self, previous_request: Option<&Set>) -> bool {
        !self.edge && !self.moved && previous_request.unwrap_or(&Set::Empty) == &self.requested
    }
}

/// Which memory a stateful node reads.
#[derive(Clone, Copy)]
enum Memory {
    /// A `since`'s latch.
    Latch,
    /// A `newly_true`'s child's previous true subset.
    Child,
}

/// The walk over one asset's condition.
pub(crate) struct AssetEvaluation<'r, 't, 'k> {
    index: &'r TickIndex<'t, 'k>,
    /// This tick's requests so far, by asset index.
    requested: &'r [Option<Set>],
    shared: &'r mut Shared<'t>,
    program: &'r Program,
    /// The program's filters resolved: whether each asset counts, by filter.
    filters: &'r [Vec<bool>],
    root: usize,
    /// The asset's previous state (same condition and partitions), if any.
    previous: Option<&'r AssetStateData>,
    /// Whether the previous records' dependency frames are laid out as this evaluation's.
    aligned: bool,
    /// When the previous tick ran, if the asset was evaluated before.
    previous_tick: Option<i64>,
    records: Vec<Record>,
    /// Where its steps start in [`Shared::steps`].
    first_step: usize,
    edge: bool,
    moved: bool,
}

impl<'r, 't, 'k> AssetEvaluation<'r, 't, 'k> {
    pub(crate) fn new(
        index: &'r TickIndex<'t, 'k>,
        requested: &'r [Option<Set>],
        shared: &'r mut Shared<'t>,
        (program, filters): (&'r Program, &'r [Vec<bool>]),
        root: usize,
        previous: Option<&'r AssetStateData>,
        aligned: bool,
    ) -> Self {
        let first_step = shared.steps.len();
        Self {
            index,
            requested,
            shared,
            program,
            filters,
            root,
            previous,
            aligned,
            previous_tick: index
                .tick
                .previous
                .evaluated_at
                .filter(|_| previous.is_some()),
            records: {
                // As many slots as last time, or a guess: one frame per dependency.
                let frames =
                    index.assets[root].deps.len() * (program.nodes.len() - program.fixed_slots);
                let expected = previous.map_or(program.fixed_slots + frames, |p| p.records.len());
                let mut records = Vec::with_capacity(expected);
                records.resize(program.fixed_slots, Record(Set::Empty, 0));
                records
            },
            first_step,
            edge: false,
            moved: false,
        }
    }

    pub(crate) fn run(mut self) -> Evaluated {
        let candidates = Set::all(self.index.len[self.root]);
        let (requested, _) = self.eval(self.program.root, self.root, "", &candidates);
        Evaluated {
            records: self.records,
            steps: self.first_step..self.shared.steps.len(),
            requested,
            edge: self.edge,
            moved: self.moved,
        }
    }

    /// Whether the previous state is in the former, path-keyed format.
    fn former(&self) -> bool {
        self.previous.is_some_and(AssetStateData::is_former)
    }

    /// Evaluates node `id` on `asset` over `candidates` and records it. `frame` is the path of
    /// the dependency frame in the former format (only built when that format is read).
    fn eval(
        &mut self,
        id: NodeId,
        asset: usize,
        frame: &str,
        candidates: &Set,
    ) -> (Set, Option<Times>) {
        let program = self.program;
        let node = program.node(id);
        let position = node.slot.unwrap_or_else(|| {
            self.records.push(Record(Set::Empty, 0));
            self.records.len() - 1
        });
        let (true_subset, timing) = match &node.kind {
            Kind::Operand(operand) => self.operand(operand, asset, candidates),
            Kind::CronTick(tick) => self.cron_tick(*tick, candidates),
            Kind::Not(inner) => {
                let (child, _) = self.eval(*inner, asset, frame, candidates);
                (candidates.minus(child.ranges()), None)
            }
            Kind::And(parts) => {
                let mut subset = candidates.clone();
                for &part in parts {
                    let (child, _) = self.eval(part, asset, frame, &subset);
                    subset = subset.and(child.ranges());
                }
                (subset, None)
            }
            Kind::Or(parts) => {
                let mut subset = Set::Empty;
                for &part in parts {
                    let (child, _) = self.eval(part, asset, frame, candidates);
                    subset = subset.or(child.ranges());
                }
                (subset.and(candidates.ranges()), None)
            }
            Kind::NewlyTrue(inner) => {
                let full = Set::all(self.index.len[asset]);
                let child_position = program.node(*inner).slot.unwrap_or(self.records.len());
                let (child, _) = self.eval(*inner, asset, frame, &full);
                let before = self.remembered(node, frame, child_position, Memory::Child);
                self.moved |= child != before;
                let subset = child.minus(before.ranges()).and(candidates.ranges());
                (subset, None)
            }
            Kind::Since { trigger, reset } => {
                let full = Set::all(self.index.len[asset]);
                let (trigger, trigger_times) = self.eval(*trigger, asset, frame, &full);
                let (reset, reset_times) = self.eval(*reset, asset, frame, &full);
                let before = self.remembered(node, frame, position, Memory::Latch);
                let mut latch = before.or(trigger.ranges()).minus(reset.ranges());
                let both = trigger.and(reset.ranges());
                if !both.is_empty()
                    && let (Some(t), Some(r)) = (&trigger_times, &reset_times)
                {
                    latch = latch.or(later(t.entries(), r.entries(), &both).ranges());
                }
                self.moved |= latch != before;
                (latch, trigger_times)
            }
            Kind::Deps {
                quantifier,
                inner,
                filter,
            } => self.deps(
                (*quantifier, *inner, *filter),
                asset,
                (frame, node),
                candidates,
            ),
        };
        let since = self.since(position, node.slot.is_some(), &true_subset);
        self.records[position] = Record(true_subset.clone(), since);
        (true_subset, timing)
    }

    /// A stateful node's memory from the previous evaluation (empty when there is none).
    fn remembered(&self, node: &Node, frame: &str, position: usize, memory: Memory) -> Set {
        let Some(previous) = self.previous else {
            return Set::Empty;
        };
        if previous.is_former() {
            let map = match memory {
                Memory::Latch => &previous.nodes,
                Memory::Child => &previous.children,
            };
            let path = if frame.is_empty() {
                Cow::Borrowed(&node.path)
            } else {
                Cow::Owned(format!("{frame}{}", node.path))
            };
            return map.get(path.as_str()).cloned().unwrap_or_default();
        }
        if node.slot.is_none() && !self.aligned {
            return Set::Empty;
        }
        previous
            .records
            .get(position)
            .map(|record| record.0.clone())
            .unwrap_or_default()
    }

    /// Since when the node has held where it holds now: its previous record's time if that
    /// record held exactly there, else now.
    fn since(&self, position: usize, fixed: bool, true_subset: &Set) -> i64 {
        let record = self
            .previous
            .filter(|_| fixed || self.aligned)
            .and_then(|previous| previous.records.get(position));
        match record {
            Some(Record(before, since)) if before == true_subset => *since,
            _ => self.index.tick.now_ms,
        }
    }

    fn deps(
        &mut self,
        (quantifier, inner, filter): (Quantifier, NodeId, Option<usize>),
        asset: usize,
        (frame, node): (&str, &Node),
        candidates: &Set,
    ) -> (Set, Option<Times>) {
        let index = self.index;
        let mut subset = match quantifier {
            Quantifier::Any => Set::Empty,
            Quantifier::All => candidates.clone(),
        };
        let mut times = Vec::new();
        let operator = self.shared.steps.len();
        self.shared.steps.push(Step::Operator(0));
        let mut visited = 0;
        for (dep, mapping) in index.deps(asset) {
            if filter.is_some_and(|f| !self.filters[f][dep]) {
                continue;
            }
            visited += 1;
            let edge = (dep, asset, mapping);
            let up = self
                .shared
                .edges
                .map(index, edge, Direction::Up, candidates);
            self.shared
                .steps
                .push(Step::Branch(dep, index.len[dep], up.clone()));
            let dep_frame = if self.former() {
                format!("{frame}{}[{}]", node.path, index.keys[dep])
            } else {
                String::new()
            };
            let (child, timing) = self.eval(inner, dep, &dep_frame, &up);
            let down = self.shared.edges.map(index, edge, Direction::Down, &child);
            for (at, set) in timing.iter().flat_map(Times::entries) {
                times.push((
                    *at,
                    self.shared.edges.map(index, edge, Direction::Down, set),
                ));
            }
            subset = match quantifier {
                Quantifier::Any => subset.or(down.ranges()),
                Quantifier::All => subset.and(down.ranges()),
            };
        }
        self.shared.steps[operator] = Step::Operator(visited);
        let timing =
            (quantifier == Quantifier::Any && !times.is_empty()).then(|| Times::from_vec(times));
        (subset.and(candidates.ranges()), timing)
    }

    fn cron_tick(&mut self, tick: i64, candidates: &Set) -> (Set, Option<Times>) {
        if candidates.is_empty() {
            return (Set::Empty, None);
        }
        let passed = self.previous_tick.is_some_and(|p| tick >= p);
        self.edge |= passed;
        if passed {
            let times = Times::One([(tick, candidates.clone())]);
            (candidates.clone(), Some(times))
        } else {
            (Set::Empty, None)
        }
    }

    fn operand(
        &mut self,
        operand: &Operand,
        asset: usize,
        candidates: &Set,
    ) -> (Set, Option<Times>) {
        if candidates.is_empty() {
            return (Set::Empty, None);
        }
        let index = self.index;
        let facts = index.facts[asset];
        let all_if = |yes: bool| if yes { candidates.clone() } else { Set::Empty };
        let subset = match operand {
            Operand::Missing => candidates.minus_subset(&facts.materialized),
            Operand::InProgress => candidates.and_subset(&facts.in_progress),
            Operand::ExecutionFailed => candidates.and_subset(&facts.failed),
            Operand::BackfillInProgress => candidates.and_subset(&facts.backfill_in_progress),
            Operand::Stale => candidates.and_subset(&facts.stale),
            Operand::NewlyUpdated => {
                if self.previous_tick.is_none() {
                    return (Set::Empty, None);
                }
                let mut updated = Set::Empty;
                for (_, subset) in &facts.updated {
                    updated = updated.or(&subset.range_view());
                }
                self.edge |= !updated.is_empty();
                let times = facts
                    .updated
                    .iter()
                    .map(|(at, subset)| (*at, candidates.and_subset(subset)))
                    .collect();
                return (
                    updated.and(candidates.ranges()),
                    Some(Times::from_vec(times)),
                );
            }
            Operand::NewlyRequested => {
                let before = index.previous[asset]
                    .map(|p| p.0.requested.clone())
                    .unwrap_or_default();
                self.edge |= !before.is_empty();
                let subset = before.and(candidates.ranges());
                let times = self.previous_tick.map(|at| Times::One([(at, before)]));
                return (subset, times);
            }
            Operand::CodeVersionChanged => {
                let before = index.previous[asset].map(|p| &p.0.code_version);
                let changed = before.is_some_and(|b| **b != *facts.code_version);
                self.edge |= changed;
                all_if(changed)
            }
            Operand::CronTickPassed(_) => unreachable!("compiled as a cron tick"),
            Operand::InLatestTimeWindow(lookback) => {
                candidates.and(self.latest_time_window(asset, *lookback).ranges())
            }
            Operand::FreshnessViolated => all_if(facts.freshness_failing),
            Operand::WillBeRequested => {
                let requested = match &self.requested[asset] {
                    Some(set) if asset != self.root && self.executable_together(asset) => set,
                    _ => &Set::Empty,
                };
                self.edge |= !requested.is_empty();
                candidates.and(requested.ranges())
            }
            Operand::InitialEvaluation => {
                let initial = self.previous.is_none();
                self.edge |= initial;
                all_if(initial)
            }
            Operand::BlockingChecksPassed => {
                if index.blocking(asset) {
                    candidates.and_subset(&facts.blocking_checks_passed)
                } else {
                    candidates.clone()
                }
            }
        };
        (subset, None)
    }

    /// Dagster's rule for `will_be_requested` seen from a dependent: both in one run needs one
    /// partitions definition and an identity or time-window mapping.
    fn executable_together(&self, dep: usize) -> bool {
        let index = self.index;
        if index.definition[dep] != index.definition[self.root] {
            return false;
        }
        if index.definition[self.root].is_none() {
            return true;
        }
        index.deps(self.root).any(|(d, mapping)| {
            d == dep
                && matches!(
                    mapping,
                    PartitionMapping::Identity | PartitionMapping::TimeWindow { .. }
                )
        })
    }

    /// The latest partition, or with a lookback every partition whose window overlaps the
    /// `lookback` before the end of the latest window. Every partition when not time-based.
    fn latest_time_window(&mut self, asset: usize, lookback: Option<std::time::Duration>) -> Set {
        let index = self.index;
        let key = (index.partitioned(asset), lookback);
        if let Some((_, set)) = self.shared.windows.iter().find(|(k, _)| *k == key) {
            return set.clone();
        }
        let set = match index.keyspaces[asset] {
            Some(Keyspace::TimeWindow(keys)) => {
                let len = keys.len();
                match len.checked_sub(1).and_then(|i| keys.window(i)) {
                    None => Set::Empty,
                    Some(latest) => {
                        let first = match lookback {
                            None => len - 1,
                            Some(lookback) => {
                                let from = latest.end - lookback.as_secs() as i64;
                                keys.first_index_starting_at_or_after(from + 1)
                                    .saturating_sub(1)
                            }
                        };
                        Set::span(first..len)
                    }
                }
            }
            _ => Set::all(index.len[asset]),
        };
        self.shared.windows.push((key, set.clone()));
        set
    }
}

/// The partitions of `both` where the trigger's latest time is later than the reset's.
fn later(trigger: &[(i64, Set)], reset: &[(i64, Set)], both: &Set) -> Set {
    let mut wins = Set::Empty;
    for (at, subset) in trigger {
        let mut candidates = subset.and(both.ranges());
        for (reset_at, reset_subset) in reset {
            if reset_at >= at {
                candidates = candidates.minus(reset_subset.ranges());
            }
        }
        wins = wins.or(candidates.ranges());
    }
    wins
}
