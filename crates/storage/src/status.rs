//! Partition status as compact sets in a definition's order.
//!
//! Storage keeps partition state by *key* — editing a definition (a new start, a new static
//! key) must never relabel what is stored — and builds index sets in memory, against the
//! definition as it is now, each time status is asked for. Keys stored under an older
//! definition that the current one no longer has are counted, not dropped silently.

use strata_core::partitions::definition::Keyspace;
use strata_core::partitions::subset::PartitionSubset;

/// The state of every partition of one asset, as sets of indices of its keyspace.
///
/// The sets are not exclusive: a partition can be materialized (old data still served) while a
/// new attempt is in progress, or after a later attempt failed. "Missing" is the complement of
/// `materialized` in the keyspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionStatus {
    /// The number of partitions of the keyspace.
    pub total: u64,
    /// Partitions with a current materialization.
    pub materialized: PartitionSubset,
    /// Partitions whose latest attempt failed for good (cleared by a later materialization).
    pub failed: PartitionSubset,
    /// Partitions a run is executing now.
    pub in_progress: PartitionSubset,
    /// Stored keys the definition does not have (any more).
    pub unknown_keys: u64,
}

impl PartitionStatus {
    /// Partitions of the keyspace with no materialization.
    pub fn missing(&self) -> PartitionSubset {
        self.materialized.complement(self.total)
    }
}

/// Collects stored partition states, key by key, into a [`PartitionStatus`].
pub struct PartitionStatusBuilder<'k> {
    keyspace: &'k Keyspace<'k>,
    materialized: Vec<u64>,
    failed: Vec<u64>,
    in_progress: Vec<u64>,
    unknown_keys: u64,
}

impl<'k> PartitionStatusBuilder<'k> {
    /// Starts an empty status for `keyspace`.
    pub fn new(keyspace: &'k Keyspace<'k>) -> Self {
        Self {
            keyspace,
            materialized: Vec::new(),
            failed: Vec::new(),
            in_progress: Vec::new(),
            unknown_keys: 0,
        }
    }

    /// Adds the stored state of one key.
    pub fn add(&mut self, key: &str, materialized: bool, failed: bool, in_progress: bool) {
        let Some(index) = self.keyspace.index_of(key) else {
            self.unknown_keys += 1;
            return;
        };
        for (set, yes) in [
            (&mut self.materialized, materialized),
            (&mut self.failed, failed),
            (&mut self.in_progress, in_progress),
        ] {
            if yes {
                set.push(index);
            }
        }
    }

    /// The status. Indices become ranges (time windows, whose keys usually arrive already in
    /// order) or bitsets (static and dynamic keys), like every other subset of their keyspace.
    pub fn finish(self) -> PartitionStatus {
        let subset = |indices: Vec<u64>| self.keyspace.subset(indices);
        PartitionStatus {
            total: self.keyspace.len(),
            materialized: subset(self.materialized),
            failed: subset(self.failed),
            in_progress: subset(self.in_progress),
            unknown_keys: self.unknown_keys,
        }
    }
}
