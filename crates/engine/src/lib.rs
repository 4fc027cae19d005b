//! Strata's engine: everything that moves data between asset code, IO managers and the event
//! log: the commit protocol, the executor and the garbage collector (the automation daemon
//! joins them here).
//!
//! # Crate organization
//!
//! - [`instance`]: a repository's instance — its storage and IO managers, opened from
//!   `strata.toml`.
//! - [`commit`]: the commit protocol: write a partition under an immutable path, then record
//!   one Materialization event — the one commit.
//! - [`dynamic`]: adding and removing keys of dynamic partitions sets.
//! - [`lease`]: who holds a storage lease, and whether that process still exists.
//! - [`lineage`]: column lineage (from SQL plans, or as commands report it) and partition
//!   lineage (from the inputs each materialization recorded).
//! - [`openlineage`]: OpenLineage RunEvents per step, delivered in the background.
//! - [`backfill`]: persistent backfills: the recorded request, what of it is done, and the
//!   lease of the process running it.
//! - [`extensions`]: the Rust API — functions and IO managers a binary registers.
//! - [`executor`]: runs a plan's steps in dependency order, in parallel, with retries,
//!   timeouts and cancellation; the `step` module is the one boundary into asset code
//!   (SQL, commands, sources) and runs quality checks.
//! - [`request`]: the partitions a materialization or backfill request selects.
//! - [`protocol`]: the command protocol's events file and output formats.
//! - [`sql_session`]: DataFusion sessions where assets are `group.name` tables.
//! - [`staleness`]: stale partitions and their causes, from what storage recorded.
//! - [`versions`]: provenance and content data versions; code versions with code files.
//! - [`gc`]: the garbage collector for superseded files and orphans of crashed writes.
//! - [`failpoint`]: crash-test boundaries (re-exported from storage).

pub mod alerts;
pub mod automation;
pub mod backfill;
pub mod commit;
pub mod costs;
pub mod dynamic;
pub mod executor;
pub mod extensions;
pub mod gc;
pub mod instance;
pub mod lease;
pub mod lineage;
pub mod openlineage;
pub mod protocol;
pub mod request;
pub mod sql_session;
pub mod staleness;
mod step;
pub mod versions;

pub use step::StepOutcome;

pub use strata_storage::failpoint;
