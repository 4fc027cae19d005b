//! Strata's instance storage: the append-only event log and the indexes derived from it.
//!
//! The event log is the source of truth: every state Strata shows (partition status, runs,
//! backfills, dynamic partitions, which files are current) is derivable from its events, and the
//! derived indexes are updated in the same transaction as the event that changes them, so a
//! crash never loses a committed event or leaves an index that contradicts the log.
//!
//! # Crate organization
//!
//! - [`event`]: the events of the log.
//! - [`Storage`]: the trait every backend implements, with its contract; callers never see a
//!   backend's types, so PostgreSQL can implement it unchanged.
//! - [`records`]: what the indexes answer (runs, steps, current materializations, backfills).
//! - [`status`]: partition status as compact sets of a definition's indices.
//! - [`failpoint`]: crash-test boundaries, compiled out of release builds.
//! - [`sqlite`]: the embedded backend (one SQLite file, WAL, versioned migrations).

pub mod error;
pub mod event;
pub mod failpoint;
pub mod records;
pub mod sqlite;
pub mod status;
mod storage;

pub use error::StorageError;
pub use sqlite::SqliteStorage;
pub use storage::Storage;
