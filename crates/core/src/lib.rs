//! Strata's model and every pure decision made about it.
//!
//! This crate does no I/O and never reads the clock: callers pass file texts and `now`. That
//! keeps partition logic, planning and declaration checking exhaustively testable and fast.
//!
//! # Crate organization
//!
//! - [`key`]: asset keys (`group/name`).
//! - [`cron`]: five-field cron schedules, iterated in a time zone with Dagster's DST rules.
//! - [`partitions`]: partitions definitions, compact subsets, and the mappings between them.
//! - [`duration`]: the duration syntax of declarations (`"90s"`, `"1h30m"`).
//! - [`automation`]: automation condition expressions (parse and validate).
//! - [`model`]: the asset model every later stage works from.
//! - [`graph`]: the asset graph: cycles, deterministic topological order.
//! - [`selection`]: Dagster's asset selection syntax, kept apart from the graph it selects from.
//! - [`sql_deps`]: the asset tables an SQL query reads.
//! - [`plan`]: `--from/--to` ranges, and the steps of a run with the steps each waits for.
//! - [`staleness`]: which partitions are stale, with Dagster's causes (code, data,
//!   dependencies).
//! - [`versions`]: code versions derived from what affects an asset's output.
//! - [`declare`]: `strata.toml` and `assets/**` texts into a validated repository, with every
//!   error located at file:line:col.

pub mod alerts;
pub mod automation;
pub mod cost;
pub mod cron;
pub mod declare;
pub mod duration;
pub mod freshness;
pub mod graph;
pub mod key;
pub mod model;
pub mod partitions;
pub mod plan;
pub mod selection;
pub mod sql_deps;
pub mod staleness;
mod suggest;
pub mod versions;
