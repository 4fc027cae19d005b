//! Partition sets as the API shows them: compact ranges of keys with their indices, so a
//! million partitions in three states are a handful of ranges, never a million keys.

use serde::Serialize;
use strata_core::partitions::{Keyspace, PartitionSubset};
use utoipa::ToSchema;

/// A set of partitions as inclusive key ranges in definition order.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Ranges {
    /// How many partitions.
    pub(super) count: u64,
    /// The contiguous runs of the set.
    pub(super) ranges: Vec<Range>,
}

/// Partitions `first..=last` (indices `start..end`, end exclusive, in definition order).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Range {
    /// The first key.
    pub(super) first: String,
    /// The last key, inclusive.
    pub(super) last: String,
    /// The first index.
    pub(super) start: u64,
    /// One past the last index.
    pub(super) end: u64,
}

impl Ranges {
    /// `subset` of `keyspace`; for an unpartitioned asset (`None`), index 0 is the asset.
    pub(super) fn of(subset: &PartitionSubset, keyspace: Option<&Keyspace<'_>>) -> Self {
        let ranges = subset
            .ranges()
            .into_iter()
            .map(|r| {
                let key = |i: u64| match keyspace {
                    Some(keys) => keys.key(i).unwrap_or_default(),
                    None => String::new(),
                };
                Range {
                    first: key(r.start),
                    last: key(r.end - 1),
                    start: r.start,
                    end: r.end,
                }
            })
            .collect();
        Self {
            count: subset.count(),
            ranges,
        }
    }
}
