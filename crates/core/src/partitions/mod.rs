//! Partitions: definitions, compact subsets, and mappings between definitions.
//!
//! Semantics follow Dagster's, key for key: the same definition gives the same keys, windows and
//! mapped partitions (the reference vectors in `tests/data/dagster` hold Strata to that).
//!
//! - [`definition`]: what partitions exist at a given `now`, key ↔ index ↔ time window.
//! - [`subset`]: sets of partitions as index ranges or bitsets, never lists of strings.
//! - [`mapping`]: which upstream partitions a downstream partition needs, and back.
//! - [`spec`]: the declaration syntax the two are built from.

pub mod definition;
pub mod mapping;
pub mod spec;
pub mod strptime;
pub mod subset;
pub mod time_window;

pub use definition::{DynamicPartitions, Keyspace, PartitionsDefinition, PartitionsError};
pub use mapping::PartitionMapping;
pub use subset::PartitionSubset;
