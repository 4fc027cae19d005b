//! Automation conditions: the small expression language that says when the daemon should
//! request an asset partition (`eager`, `on_cron('0 9 * * *')`, `missing & !any_deps_missing`).
//!
//! Declarations are checked at `strata check`, long before the daemon evaluates anything, so
//! this module parses and validates an expression into a [`Condition`] tree that keeps the
//! user's shape (built-ins stay named, for explanations) and can [`Condition::expand`] every
//! built-in into Dagster's definition, leaving only operands, `!`/`&`/`|`, `.newly_true()`,
//! `.since()` and the dependency operators for the evaluator.
//!
//! - [`parser`]: text → [`Condition`], with byte offsets and suggestions in errors.
//! - this module: the tree, its canonical text, and the built-in definitions.
//! - [`evaluate`]: one tick over the repository — what to request, why, and the state the next
//!   tick starts from; built on `program` (conditions compiled once per tick), `node` (one
//!   asset's walk), `edge` (subsets mapped along dependencies), `set` (index ranges held
//!   inline), `state` (what is stored between ticks) and `explain` (the trees `why` prints).

use std::fmt;
use std::time::Duration;

use chrono_tz::Tz;

use crate::cron::CronSchedule;
use crate::duration::format_duration;
use crate::selection::Selection;

mod edge;
pub mod evaluate;
mod explain;
mod node;
pub mod parser;
mod program;
#[cfg(test)]
mod scenarios;
mod set;
mod state;

pub use parser::{ConditionError, parse_condition};

/// A condition over one asset partition, true or false at each evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// A fact about the partition itself.
    Operand(Operand),
    /// `!a`.
    Not(Box<Condition>),
    /// `a & b & …`.
    And(Vec<Condition>),
    /// `a | b | …`.
    Or(Vec<Condition>),
    /// `a.newly_true()`: true on the evaluation where `a` turns from false to true.
    NewlyTrue(Box<Condition>),
    /// `a.since(b)`: `a` has been true at some evaluation after `b` was last true.
    Since {
        /// The condition that sets the latch.
        condition: Box<Condition>,
        /// The condition that resets it.
        reset: Box<Condition>,
    },
    /// `a.since_last_handled()`: `a.since(newly_requested | newly_updated | initial_evaluation)`.
    SinceLastHandled(Box<Condition>),
    /// `any_deps_match(a)` / `all_deps_match(a)`: `a` over the mapped upstream partitions.
    Deps {
        /// Whether any or every dependency must match.
        quantifier: Quantifier,
        /// The condition evaluated on dependencies.
        condition: Box<Condition>,
        /// Which dependencies count.
        filter: DepsFilter,
    },
    /// A derived condition or built-in, kept by name; see [`Named::definition`].
    Named {
        /// Which one.
        named: Named,
        /// Which dependencies its dependency operators consider.
        filter: DepsFilter,
    },
}

/// The facts the daemon knows about an asset partition at an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// Never materialized.
    Missing,
    /// Part of a run that has not finished.
    InProgress,
    /// Its latest run failed.
    ExecutionFailed,
    /// Materialized since the previous evaluation.
    NewlyUpdated,
    /// Requested by the previous evaluation.
    NewlyRequested,
    /// Its code version differs from the one its latest materialization used.
    CodeVersionChanged,
    /// Stale: code, data or dependencies changed since it was materialized.
    Stale,
    /// A tick of the schedule passed since the previous evaluation.
    CronTickPassed(CronArgs),
    /// In the latest time window (within `lookback` of it when given); always true for
    /// partitions that are not time windows.
    InLatestTimeWindow(Option<Duration>),
    /// Its freshness policy is failing.
    FreshnessViolated,
    /// This evaluation requests it.
    WillBeRequested,
    /// This is the first evaluation of the condition.
    InitialEvaluation,
    /// Part of a backfill that has not finished.
    BackfillInProgress,
    /// Every blocking check of its latest materialization passed. Not written by users: it is
    /// what `all_deps_blocking_checks_passed` asks of each dependency.
    BlockingChecksPassed,
}

/// A cron schedule argument with its optional time zone (UTC when absent).
#[derive(Clone, Debug, PartialEq)]
pub struct CronArgs {
    /// The schedule as written.
    pub cron: String,
    /// The parsed schedule.
    pub schedule: CronSchedule,
    /// The time zone as written, if any.
    pub timezone: Option<Tz>,
}

impl CronArgs {
    /// The time zone ticks are computed in.
    pub fn timezone(&self) -> Tz {
        self.timezone.unwrap_or(Tz::UTC)
    }
}

/// Whether a dependency operator needs any or all dependencies to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    /// `any_deps_match`.
    Any,
    /// `all_deps_match`.
    All,
}

/// `.allow(selection)` / `.ignore(selection)`: which dependencies an operator considers.
///
/// A dependency counts when the allow list is empty or one of its selections holds it, and none
/// of the ignore selections does (Dagster's semantics; repeated calls add to the lists).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DepsFilter {
    /// Only dependencies in one of these count (every dependency when empty).
    pub allow: Vec<Selection>,
    /// Dependencies in one of these never count.
    pub ignore: Vec<Selection>,
}

impl DepsFilter {
    /// Whether no dependency is filtered out.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.ignore.is_empty()
    }

    fn extend(&mut self, other: &DepsFilter) {
        self.allow.extend(other.allow.iter().cloned());
        self.ignore.extend(other.ignore.iter().cloned());
    }
}

/// Derived conditions and built-ins: names for definitions written with operands.
#[derive(Clone, Debug, PartialEq)]
pub enum Named {
    /// `missing.newly_true()`.
    NewlyMissing,
    /// `any_deps_match(newly_updated | will_be_requested)`.
    AnyDepsUpdated,
    /// `any_deps_match(missing & !will_be_requested)`.
    AnyDepsMissing,
    /// `any_deps_match(in_progress)`.
    AnyDepsInProgress,
    /// `all_deps_match(blocking_checks_passed)`.
    AllDepsBlockingChecksPassed,
    /// Dagster's `eager()`.
    Eager,
    /// Dagster's `on_cron(cron, tz)`.
    OnCron(CronArgs),
    /// Dagster's `on_missing()`.
    OnMissing,
    /// Strata's: refresh stale partitions of the last `lookback`, once each time they become
    /// stale, when no dependency is missing or running.
    RefreshStale(Duration),
}

impl Named {
    /// The name written in expressions.
    pub fn name(&self) -> &'static str {
        match self {
            Named::NewlyMissing => "newly_missing",
            Named::AnyDepsUpdated => "any_deps_updated",
            Named::AnyDepsMissing => "any_deps_missing",
            Named::AnyDepsInProgress => "any_deps_in_progress",
            Named::AllDepsBlockingChecksPassed => "all_deps_blocking_checks_passed",
            Named::Eager => "eager",
            Named::OnCron(_) => "on_cron",
            Named::OnMissing => "on_missing",
            Named::RefreshStale(_) => "refresh_stale",
        }
    }

    /// Whether the definition looks at dependencies (so `.allow`/`.ignore` apply to it).
    pub fn uses_deps(&self) -> bool {
        !matches!(self, Named::NewlyMissing)
    }

    /// The definition, one level deep (named conditions inside stay named).
    pub fn definition(&self) -> Condition {
        use Condition as C;
        use Operand as O;
        let op = C::Operand;
        let named = |named: Named| C::Named {
            named,
            filter: DepsFilter::default(),
        };
        let not = |c: Condition| C::Not(Box::new(c));
        let deps = |quantifier, condition| C::Deps {
            quantifier,
            condition: Box::new(condition),
            filter: DepsFilter::default(),
        };
        let handled = |c: Condition| C::SinceLastHandled(Box::new(c));
        match self {
            Named::NewlyMissing => C::NewlyTrue(Box::new(op(O::Missing))),
            Named::AnyDepsUpdated => deps(
                Quantifier::Any,
                C::Or(vec![op(O::NewlyUpdated), op(O::WillBeRequested)]),
            ),
            Named::AnyDepsMissing => deps(
                Quantifier::Any,
                C::And(vec![op(O::Missing), not(op(O::WillBeRequested))]),
            ),
            Named::AnyDepsInProgress => deps(Quantifier::Any, op(O::InProgress)),
            Named::AllDepsBlockingChecksPassed => {
                deps(Quantifier::All, op(O::BlockingChecksPassed))
            }
            Named::Eager => C::And(vec![
                op(O::InLatestTimeWindow(None)),
                handled(C::Or(vec![
                    named(Named::NewlyMissing),
                    named(Named::AnyDepsUpdated),
                ])),
                not(named(Named::AnyDepsMissing)),
                not(named(Named::AnyDepsInProgress)),
                not(op(O::InProgress)),
            ]),
            Named::OnCron(cron) => {
                let tick = || op(O::CronTickPassed(cron.clone()));
                C::And(vec![
                    op(O::InLatestTimeWindow(None)),
                    handled(tick()),
                    deps(
                        Quantifier::All,
                        C::Or(vec![
                            C::Since {
                                condition: Box::new(op(O::NewlyUpdated)),
                                reset: Box::new(tick()),
                            },
                            op(O::WillBeRequested),
                        ]),
                    ),
                ])
            }
            Named::OnMissing => C::And(vec![
                op(O::InLatestTimeWindow(None)),
                handled(C::NewlyTrue(Box::new(op(O::Missing)))),
                not(named(Named::AnyDepsMissing)),
            ]),
            // As the automation issue defines it: every stale partition in the lookback, paced
            // by the daemon's `max_runs_per_tick`, not only the newly stale ones.
            Named::RefreshStale(lookback) => C::And(vec![
                op(O::Stale),
                op(O::InLatestTimeWindow(Some(*lookback))),
                not(named(Named::AnyDepsMissing)),
                not(named(Named::AnyDepsInProgress)),
                not(op(O::InProgress)),
            ]),
        }
    }
}

impl Condition {
    /// Every named condition replaced by its definition and `.since_last_handled()` by its
    /// `.since(…)`, recursively; dependency filters move onto the operators they filter.
    pub fn expand(&self) -> Condition {
        match self {
            Condition::Operand(operand) => Condition::Operand(operand.clone()),
            Condition::Not(inner) => Condition::Not(Box::new(inner.expand())),
            Condition::And(parts) => Condition::And(parts.iter().map(Self::expand).collect()),
            Condition::Or(parts) => Condition::Or(parts.iter().map(Self::expand).collect()),
            Condition::NewlyTrue(inner) => Condition::NewlyTrue(Box::new(inner.expand())),
            Condition::Since { condition, reset } => Condition::Since {
                condition: Box::new(condition.expand()),
                reset: Box::new(reset.expand()),
            },
            Condition::SinceLastHandled(inner) => Condition::Since {
                condition: Box::new(inner.expand()),
                reset: Box::new(Condition::Or(vec![
                    Condition::Operand(Operand::NewlyRequested),
                    Condition::Operand(Operand::NewlyUpdated),
                    Condition::Operand(Operand::InitialEvaluation),
                ])),
            },
            Condition::Deps {
                quantifier,
                condition,
                filter,
            } => Condition::Deps {
                quantifier: *quantifier,
                condition: Box::new(condition.expand()),
                filter: filter.clone(),
            },
            Condition::Named { named, filter } => {
                let mut definition = named.definition();
                definition.apply_filter(filter);
                definition.expand()
            }
        }
    }

    /// Adds `filter` to every dependency operator and dependency-using named condition in the
    /// tree (not inside a dependency operator's own condition); returns how many it reached.
    pub(crate) fn apply_filter(&mut self, filter: &DepsFilter) -> usize {
        if filter.is_empty() {
            return 0;
        }
        match self {
            Condition::Operand(_) => 0,
            Condition::Not(inner)
            | Condition::NewlyTrue(inner)
            | Condition::SinceLastHandled(inner) => inner.apply_filter(filter),
            Condition::And(parts) | Condition::Or(parts) => {
                parts.iter_mut().map(|part| part.apply_filter(filter)).sum()
            }
            Condition::Since { condition, reset } => {
                condition.apply_filter(filter) + reset.apply_filter(filter)
            }
            Condition::Deps { filter: own, .. } => {
                own.extend(filter);
                1
            }
            Condition::Named { named, filter: own } => {
                if named.uses_deps() {
                    own.extend(filter);
                    1
                } else {
                    0
                }
            }
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Condition::Or(_) => 0,
            Condition::And(_) => 1,
            Condition::Not(_) => 2,
            _ => 3,
        }
    }

    fn write_operand(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Missing => f.write_str("missing"),
            Operand::InProgress => f.write_str("in_progress"),
            Operand::ExecutionFailed => f.write_str("execution_failed"),
            Operand::NewlyUpdated => f.write_str("newly_updated"),
            Operand::NewlyRequested => f.write_str("newly_requested"),
            Operand::CodeVersionChanged => f.write_str("code_version_changed"),
            Operand::Stale => f.write_str("stale"),
            Operand::CronTickPassed(cron) => write!(f, "cron_tick_passed({cron})"),
            Operand::InLatestTimeWindow(None) => f.write_str("in_latest_time_window"),
            Operand::InLatestTimeWindow(Some(lookback)) => {
                write!(f, "in_latest_time_window('{}')", format_duration(*lookback))
            }
            Operand::FreshnessViolated => f.write_str("freshness_violated"),
            Operand::WillBeRequested => f.write_str("will_be_requested"),
            Operand::InitialEvaluation => f.write_str("initial_evaluation"),
            Operand::BackfillInProgress => f.write_str("backfill_in_progress"),
            Operand::BlockingChecksPassed => f.write_str("blocking_checks_passed"),
        }
    }
}

impl fmt::Display for CronArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.cron)?;
        if let Some(tz) = self.timezone {
            write!(f, ", '{}'", tz.name())?;
        }
        Ok(())
    }
}

impl fmt::Display for DepsFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for selection in &self.allow {
            write!(f, ".allow('{selection}')")?;
        }
        for selection in &self.ignore {
            write!(f, ".ignore('{selection}')")?;
        }
        Ok(())
    }
}

impl fmt::Display for Condition {
    /// The canonical text: it parses back to an equal condition.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[Condition], sep: &str, min: u8| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                part.write_operand(f, min)?;
            }
            Ok(())
        };
        match self {
            Condition::Operand(operand) => write!(f, "{operand}"),
            Condition::Not(inner) => {
                f.write_str("!")?;
                inner.write_operand(f, 2)
            }
            Condition::And(parts) => join(f, parts, " & ", 2),
            Condition::Or(parts) => join(f, parts, " | ", 1),
            Condition::NewlyTrue(inner) => {
                inner.write_operand(f, 3)?;
                f.write_str(".newly_true()")
            }
            Condition::Since { condition, reset } => {
                condition.write_operand(f, 3)?;
                write!(f, ".since({reset})")
            }
            Condition::SinceLastHandled(inner) => {
                inner.write_operand(f, 3)?;
                f.write_str(".since_last_handled()")
            }
            Condition::Deps {
                quantifier,
                condition,
                filter,
            } => {
                let name = match quantifier {
                    Quantifier::Any => "any_deps_match",
                    Quantifier::All => "all_deps_match",
                };
                write!(f, "{name}({condition}){filter}")
            }
            Condition::Named { named, filter } => {
                f.write_str(named.name())?;
                match named {
                    Named::OnCron(cron) => write!(f, "({cron})")?,
                    Named::RefreshStale(lookback) => {
                        write!(f, "('{}')", format_duration(*lookback))?
                    }
                    _ => {}
                }
                write!(f, "{filter}")
            }
        }
    }
}

#[cfg(test)]
mod tests;
