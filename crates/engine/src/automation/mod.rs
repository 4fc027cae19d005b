//! Automation: the tick that evaluates every asset's condition and freshness policy and asks
//! for runs, and the daemon that ticks on the real clock.
//!
//! ```text
//!   state + cursor (storage) ─┐
//!   events after the cursor ──┼─► facts (status, updates, stale, checks, freshness)
//!   keyspaces at now ─────────┘        │
//!                         strata_core::automation::evaluate::evaluate_tick
//!                                      │ requests + explanations + next state
//!              runs (grouped, capped, queued) ─► tick, state and cursor stored in one transaction
//! ```
//!
//! - [`facts`]: what a tick reads.
//! - [`freshness`]: every policy at `now`, and the state-change events.
//! - [`runs`]: requests grouped into runs.
//! - [`tick`]: one tick.
//! - [`recover`]: the runs of a ticking process that died, launched again or failed.
//! - [`daemon`]: the loop.

pub mod daemon;
pub mod facts;
pub mod freshness;
pub mod recover;
pub mod runs;
pub mod tick;

pub use tick::{TickMode, TickOutcome, run_tick};

/// Why a tick could not run.
#[derive(Debug, thiserror::Error)]
pub enum AutomationError {
    /// Reading or writing storage failed.
    #[error(transparent)]
    Storage(#[from] strata_storage::StorageError),
    /// Staleness could not be computed.
    #[error(transparent)]
    Staleness(#[from] crate::staleness::StalenessError),
    /// A code version could not be computed.
    #[error("{0}")]
    CodeVersion(String),
    /// The stored state could not be read.
    #[error(
        "the stored automation state is unreadable ({0}); delete the automation_state row to start afresh"
    )]
    State(String),
    /// Another process ticks this storage.
    #[error("{0}")]
    Busy(String),
}
