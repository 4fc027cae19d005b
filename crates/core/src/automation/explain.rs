//! Explanations: an asset's evaluation as a tree of its condition's nodes, each with the
//! partitions it was evaluated for and where it held — what `strata automation why` prints.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::node::Step;
use super::program::{Kind, NodeId, Program};
use super::set::Set;
use super::state::{AssetState, Record, Subset};
use crate::key::AssetKey;

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
    /// Since when its true subset has been exactly this (ms), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Sub-conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Explanation>,
}

/// The explanations of the assets one tick evaluated, each built when it is asked for: a tick
/// over ten thousand assets evaluates them in milliseconds, and building every tree would
/// cost more than evaluating.
#[derive(Clone, Default)]
pub struct Evaluations {
    /// Every key of the repository, by asset index.
    keys: Arc<[AssetKey]>,
    /// The steps of every evaluation.
    steps: Arc<Vec<Step>>,
    /// By asset index (which is key order).
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    asset: usize,
    program: Arc<Program>,
    /// Holds the records.
    state: AssetState,
    /// Its steps, in `steps`.
    steps: Range<usize>,
}

impl Evaluations {
    /// Collects evaluations given by asset index (in any order).
    pub(crate) fn new(
        keys: &[AssetKey],
        steps: Vec<Step>,
        mut evaluated: Vec<(usize, Arc<Program>, AssetState, Range<usize>)>,
    ) -> Self {
        if evaluated.is_empty() {
            return Self::default();
        }
        evaluated.sort_by_key(|e| e.0);
        Self {
            keys: keys.into(),
            steps: Arc::new(steps),
            entries: evaluated
                .into_iter()
                .map(|(asset, program, state, steps)| Entry {
                    asset,
                    program,
                    state,
                    steps,
                })
                .collect(),
        }
    }

    /// How many assets were evaluated.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no asset was evaluated.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The evaluated assets, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &AssetKey> + '_ {
        self.entries.iter().map(|e| &self.keys[e.asset])
    }

    /// Whether `key` was evaluated.
    pub fn contains_key(&self, key: &AssetKey) -> bool {
        self.position(key).is_some()
    }

    /// The explanation of `key`, if it was evaluated.
    pub fn get(&self, key: &AssetKey) -> Option<Explanation> {
        self.position(key).map(|i| self.explain(&self.entries[i]))
    }

    /// Every evaluated asset with its explanation, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&AssetKey, Explanation)> + '_ {
        self.entries
            .iter()
            .map(|e| (&self.keys[e.asset], self.explain(e)))
    }

    fn position(&self, key: &AssetKey) -> Option<usize> {
        self.entries
            .binary_search_by(|e| self.keys[e.asset].cmp(key))
            .ok()
    }

    fn explain(&self, entry: &Entry) -> Explanation {
        let program = &entry.program;
        let mut builder = Builder {
            program,
            records: &entry.state.0.records,
            steps: &self.steps[entry.steps.clone()],
            keys: &self.keys,
            root: entry.asset,
            next_slot: program.fixed_slots,
            next_step: 0,
        };
        let len = entry.state.0.partition_count;
        builder
            .node(program.root, entry.asset, len, &Set::all(len))
            .0
    }
}

impl PartialEq for Evaluations {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Evaluations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Walks a program in evaluation order, taking each node's record from its slot and working
/// out its candidates the way evaluation did.
struct Builder<'b> {
    program: &'b Program,
    records: &'b [Record],
    steps: &'b [Step],
    keys: &'b [AssetKey],
    root: usize,
    /// The next slot of a node in a dependency frame.
    next_slot: usize,
    next_step: usize,
}

impl<'b> Builder<'b> {
    /// The explanation of node `id` evaluated on `asset` (with `len` partitions) over
    /// `candidates`, and where the node held.
    fn node(
        &mut self,
        id: NodeId,
        asset: usize,
        len: u64,
        candidates: &Set,
    ) -> (Explanation, &'b Set) {
        let node = self.program.node(id);
        let position = node.slot.unwrap_or_else(|| {
            self.next_slot += 1;
            self.next_slot - 1
        });
        let records = self.records;
        let Record(true_subset, since) = &records[position];
        let all = Set::all(len);
        let children = match &node.kind {
            Kind::Operand(_) | Kind::CronTick(_) => Vec::new(),
            Kind::Not(inner) => vec![self.node(*inner, asset, len, candidates).0],
            Kind::NewlyTrue(inner) => vec![self.node(*inner, asset, len, &all).0],
            Kind::Or(parts) => parts
                .iter()
                .map(|&p| self.node(p, asset, len, candidates).0)
                .collect(),
            Kind::And(parts) => {
                let mut subset = candidates.clone();
                let mut children = Vec::with_capacity(parts.len());
                for &part in parts {
                    let (child, held) = self.node(part, asset, len, &subset);
                    subset = subset.and(held.ranges());
                    children.push(child);
                }
                children
            }
            Kind::Since { trigger, reset } => vec![
                self.node(*trigger, asset, len, &all).0,
                self.node(*reset, asset, len, &all).0,
            ],
            Kind::Deps { inner, .. } => {
                let Step::Operator(visited) = self.step() else {
                    unreachable!("a dependency operator's step");
                };
                (0..*visited)
                    .map(|_| {
                        let Step::Branch(dep, dep_len, up) = self.step() else {
                            unreachable!("a dependency's step");
                        };
                        let (child, _) = self.node(*inner, *dep, *dep_len, up);
                        let key = self.keys[*dep].clone();
                        Explanation {
                            label: key.to_string(),
                            asset: Some(key),
                            candidates: child.candidates.clone(),
                            true_subset: child.true_subset.clone(),
                            since: None,
                            children: vec![child],
                        }
                    })
                    .collect()
            }
        };
        let explanation = Explanation {
            label: node.label.clone(),
            asset: (asset != self.root).then(|| self.keys[asset].clone()),
            candidates: Subset::from(candidates),
            true_subset: Subset::from(true_subset),
            since: Some(*since),
            children,
        };
        (explanation, true_subset)
    }

    fn step(&mut self) -> &'b Step {
        self.next_step += 1;
        &self.steps[self.next_step - 1]
    }
}
