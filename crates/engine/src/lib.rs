//! Strata's engine: everything that moves data between asset code, IO managers and the event
//! log. Today that is the commit protocol and the garbage collector; the executor and the
//! automation daemon join them here.
//!
//! # Crate organization
//!
//! - [`instance`]: a repository's instance — its storage and IO managers, opened from
//!   `strata.toml`.
//! - [`commit`]: the commit protocol: write a partition under an immutable path, then record
//!   one Materialization event — the one commit.
//! - [`gc`]: the garbage collector for superseded files and orphans of crashed writes.
//! - [`failpoint`]: crash-test boundaries (re-exported from storage).

pub mod commit;
pub mod gc;
pub mod instance;
pub mod protocol;

pub use strata_storage::failpoint;
