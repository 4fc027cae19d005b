//! Conditions compiled for a tick: a flat arena of nodes, shared by every asset that has the
//! same condition.
//!
//! Compiling expands built-ins and `.since_last_handled()` once per distinct condition, instead
//! of once per asset and node at every tick, and gives each node what evaluation and
//! explanations need ready-made: its label, its cron schedule's latest tick, its place in the
//! evaluation state. A built-in is one node — its definition's root, labelled with its name —
//! so its explanation shows the definition's clauses under the built-in's name.
//!
//! **Slots.** A node outside every dependency operator is evaluated once per asset: it has a
//! fixed slot in the asset's records. A node inside a dependency operator is evaluated once per
//! dependency (its *frame*); those evaluations take the slots after the fixed ones, in
//! evaluation order.
//!
//! **Paths.** Each node also knows its path in the state format that keyed every node by path
//! (`0.1.0[group/dep].0`), so state stored in that format still loads: absolute for a fixed
//! node, relative to its dependency frame otherwise.

use std::sync::Arc;

use super::{Condition, CronArgs, DepsFilter, Operand, Quantifier};
use crate::partitions::time_window::ZonedSchedule;

/// A node's position in [`Program::nodes`].
pub(crate) type NodeId = u32;

/// A compiled condition.
#[derive(Debug)]
pub(crate) struct Program {
    /// The condition as written (its canonical text).
    pub(crate) source: Arc<str>,
    /// The nodes; children before parents.
    pub(crate) nodes: Vec<Node>,
    /// The node evaluated for the asset.
    pub(crate) root: NodeId,
    /// How many nodes have a fixed slot.
    pub(crate) fixed_slots: usize,
    /// The dependency filters, by [`Kind::Deps::filter`].
    pub(crate) filters: Vec<DepsFilter>,
    /// The latest tick (ms) at or before now of every `cron_tick_passed` in the condition.
    pub(crate) cron_ticks: Vec<i64>,
    /// How deeply dependency operators nest (0: the condition looks at the asset only).
    pub(crate) depth: usize,
    /// How many dependency operators there are.
    pub(crate) operators: usize,
}

/// One node.
#[derive(Debug)]
pub(crate) struct Node {
    /// What it computes.
    pub(crate) kind: Kind,
    /// Its label in explanations.
    pub(crate) label: String,
    /// Its path in the former state format (see the module documentation).
    pub(crate) path: String,
    /// Its fixed slot, when it is outside every dependency operator.
    pub(crate) slot: Option<usize>,
}

/// What a node computes.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A fact (never `cron_tick_passed`).
    Operand(Operand),
    /// `cron_tick_passed`, with its schedule's latest tick (ms) at or before now.
    CronTick(i64),
    /// `!a`.
    Not(NodeId),
    /// `a & b & …`.
    And(Vec<NodeId>),
    /// `a | b | …`.
    Or(Vec<NodeId>),
    /// `a.newly_true()`.
    NewlyTrue(NodeId),
    /// `a.since(b)` (and `.since_last_handled()`).
    Since {
        /// `a`.
        trigger: NodeId,
        /// `b`.
        reset: NodeId,
    },
    /// `any_deps_match(a)` / `all_deps_match(a)`.
    Deps {
        /// Any or all.
        quantifier: Quantifier,
        /// `a`, evaluated in each dependency's frame.
        inner: NodeId,
        /// Which dependencies count: an index into [`Program::filters`], `None` for all.
        filter: Option<usize>,
    },
}

impl Program {
    /// Compiles `condition` (its canonical text `source`) for a tick at `now_ms`.
    pub(crate) fn compile(condition: &Condition, source: &str, now_ms: i64) -> Self {
        let mut compiler = Compiler {
            program: Program {
                source: source.into(),
                nodes: Vec::new(),
                root: 0,
                fixed_slots: 0,
                filters: Vec::new(),
                cron_ticks: Vec::new(),
                depth: 0,
                operators: 0,
            },
            now_secs: now_ms.div_euclid(1000),
            depth: 0,
        };
        let root = compiler.node(condition, "0".to_string());
        let mut program = compiler.program;
        program.root = root;
        program
    }

    /// The node with this id.
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }
}

struct Compiler {
    program: Program,
    now_secs: i64,
    /// Dependency operators around the node being compiled.
    depth: usize,
}

impl Compiler {
    fn push(&mut self, kind: Kind, label: String, path: String) -> NodeId {
        let slot = (self.depth == 0).then(|| {
            self.program.fixed_slots += 1;
            self.program.fixed_slots - 1
        });
        self.program.nodes.push(Node {
            kind,
            label,
            path,
            slot,
        });
        (self.program.nodes.len() - 1) as NodeId
    }

    fn children(&mut self, parts: &[Condition], path: &str) -> Vec<NodeId> {
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| self.node(part, format!("{path}.{i}")))
            .collect()
    }

    fn node(&mut self, condition: &Condition, path: String) -> NodeId {
        let kind = match condition {
            Condition::Operand(Operand::CronTickPassed(cron)) => {
                let tick = self.cron_tick(cron);
                self.program.cron_ticks.push(tick);
                Kind::CronTick(tick)
            }
            Condition::Operand(operand) => Kind::Operand(operand.clone()),
            Condition::Not(inner) => Kind::Not(self.node(inner, format!("{path}.0"))),
            Condition::And(parts) => Kind::And(self.children(parts, &path)),
            Condition::Or(parts) => Kind::Or(self.children(parts, &path)),
            Condition::NewlyTrue(inner) => Kind::NewlyTrue(self.node(inner, format!("{path}.0"))),
            Condition::Since { condition, reset } => Kind::Since {
                trigger: self.node(condition, format!("{path}.0")),
                reset: self.node(reset, format!("{path}.1")),
            },
            Condition::SinceLastHandled(inner) => {
                let reset = Condition::Or(vec![
                    Condition::Operand(Operand::NewlyRequested),
                    Condition::Operand(Operand::NewlyUpdated),
                    Condition::Operand(Operand::InitialEvaluation),
                ]);
                Kind::Since {
                    trigger: self.node(inner, format!("{path}.0")),
                    reset: self.node(&reset, format!("{path}.1")),
                }
            }
            Condition::Deps {
                quantifier,
                condition,
                filter,
            } => {
                self.depth += 1;
                self.program.operators += 1;
                self.program.depth = self.program.depth.max(self.depth);
                let inner = self.node(condition, String::new());
                self.depth -= 1;
                let filter = (!filter.is_empty()).then(|| {
                    self.program.filters.push(filter.clone());
                    self.program.filters.len() - 1
                });
                Kind::Deps {
                    quantifier: *quantifier,
                    inner,
                    filter,
                }
            }
            Condition::Named { named, filter } => {
                let mut definition = named.definition();
                definition.apply_filter(filter);
                let id = self.node(&definition, format!("{path}.0"));
                self.program.nodes[id as usize].label = label(condition);
                return id;
            }
        };
        self.push(kind, label(condition), path)
    }

    fn cron_tick(&self, cron: &CronArgs) -> i64 {
        let schedule = ZonedSchedule::new(cron.schedule.clone(), cron.timezone(), self.now_secs);
        schedule.tick_at_or_before(self.now_secs) * 1000
    }
}

/// The display name of a node: built-ins by name, the rest in canonical text.
fn label(node: &Condition) -> String {
    match node {
        Condition::Named { named, filter } => {
            let mut text = Condition::Named {
                named: named.clone(),
                filter: DepsFilter::default(),
            }
            .to_string();
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

/// Whether the condition reads an operand for which `wanted` holds, anywhere (built-ins
/// included).
pub(crate) fn reads_operand(condition: &Condition, wanted: &dyn Fn(&Operand) -> bool) -> bool {
    match condition {
        Condition::Operand(operand) => wanted(operand),
        Condition::Not(inner)
        | Condition::NewlyTrue(inner)
        | Condition::SinceLastHandled(inner) => reads_operand(inner, wanted),
        Condition::And(parts) | Condition::Or(parts) => {
            parts.iter().any(|p| reads_operand(p, wanted))
        }
        Condition::Since { condition, reset } => {
            reads_operand(condition, wanted) || reads_operand(reset, wanted)
        }
        Condition::Deps { condition, .. } => reads_operand(condition, wanted),
        Condition::Named { named, .. } => reads_operand(&named.definition(), wanted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::parse_condition;

    #[test]
    fn eager_compiles_to_one_node_per_clause_with_the_former_paths() {
        let condition = parse_condition("eager").unwrap();
        let program = Program::compile(&condition, "eager", 0);
        let root = program.node(program.root);
        assert_eq!(root.label, "eager");
        assert_eq!(root.path, "0.0");
        let Kind::And(parts) = &root.kind else {
            panic!("eager is a conjunction: {:?}", root.kind);
        };
        let handled = program.node(parts[1]);
        assert_eq!(handled.label, "since_last_handled");
        assert_eq!(handled.path, "0.0.1");
        let Kind::Since { trigger, .. } = handled.kind else {
            panic!("since_last_handled is a since");
        };
        let Kind::Or(triggers) = &program.node(trigger).kind else {
            panic!("a disjunction triggers eager");
        };
        let newly_missing = program.node(triggers[0]);
        assert_eq!(
            (newly_missing.label.as_str(), newly_missing.path.as_str()),
            ("newly_missing", "0.0.1.0.0.0")
        );
        // Nodes in a dependency's frame have no fixed slot and a relative path.
        let Kind::Deps { inner, .. } = program.node(triggers[1]).kind else {
            panic!("any_deps_updated is a dependency operator");
        };
        let inner = program.node(inner);
        assert_eq!((inner.path.as_str(), inner.slot), ("", None));
        assert_eq!(program.depth, 1);
        let fixed = program.nodes.iter().filter(|n| n.slot.is_some()).count();
        assert_eq!(fixed, program.fixed_slots);
    }
}
