//! The partition sets the evaluator computes with.
//!
//! Nearly every set a condition produces is empty or one run of partitions: all of them, the
//! latest window, the missing ones before the first materialization. [`Set`] keeps those two
//! cases inline, so the evaluator allocates only for sets with holes, and combines sets by
//! index ranges — whatever the keyspace's own [`PartitionSubset`] representation is. Anything
//! not covered by the two-range fast paths goes through the subset module's range merge.

use std::ops::Range;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::partitions::subset::{PartitionSubset, merge};

/// A set of partition indices: sorted, disjoint, non-adjacent, non-empty ranges, held inline
/// when there are fewer than two.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Set {
    /// No partition.
    #[default]
    Empty,
    /// One run, never empty.
    Span(Range<u64>),
    /// Two runs or more.
    Ranges(Vec<Range<u64>>),
}

impl Set {
    /// `0..len`.
    pub(crate) fn all(len: u64) -> Self {
        Self::span(0..len)
    }

    /// One run (empty when the range is).
    pub(crate) fn span(range: Range<u64>) -> Self {
        if range.is_empty() {
            Self::Empty
        } else {
            Self::Span(range)
        }
    }

    /// Canonical ranges, as the subset module's merge returns them.
    fn from_vec(mut ranges: Vec<Range<u64>>) -> Self {
        match ranges.len() {
            0 => Self::Empty,
            1 => Self::Span(ranges.pop().expect("one range")),
            _ => Self::Ranges(ranges),
        }
    }

    /// Canonical ranges from a slice.
    pub(crate) fn from_ranges(ranges: &[Range<u64>]) -> Self {
        match ranges {
            [] => Self::Empty,
            [one] => Self::Span(one.clone()),
            more => Self::Ranges(more.to_vec()),
        }
    }

    /// The set of a subset.
    pub(crate) fn of(subset: &PartitionSubset) -> Self {
        Self::from_ranges(&subset.range_view())
    }

    /// As a subset, stored as ranges.
    pub(crate) fn to_subset(&self) -> PartitionSubset {
        PartitionSubset::Ranges(self.ranges().to_vec())
    }

    /// The runs.
    pub(crate) fn ranges(&self) -> &[Range<u64>] {
        match self {
            Self::Empty => &[],
            Self::Span(range) => std::slice::from_ref(range),
            Self::Ranges(ranges) => ranges,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// Indices in both.
    pub(crate) fn and(&self, other: &[Range<u64>]) -> Self {
        match (self.ranges(), other) {
            ([], _) | (_, []) => Self::Empty,
            ([a], [b]) => Self::span(a.start.max(b.start)..a.end.min(b.end)),
            (a, b) => Self::from_vec(merge(a, b, |x, y| x && y)),
        }
    }

    /// Indices in either.
    pub(crate) fn or(&self, other: &[Range<u64>]) -> Self {
        match (self.ranges(), other) {
            (_, []) => self.clone(),
            ([], b) => Self::from_ranges(b),
            ([a], [b]) if a.start <= b.end && b.start <= a.end => {
                Self::Span(a.start.min(b.start)..a.end.max(b.end))
            }
            (a, b) => Self::from_vec(merge(a, b, |x, y| x || y)),
        }
    }

    /// Indices in `self` and not in `other`.
    pub(crate) fn minus(&self, other: &[Range<u64>]) -> Self {
        match (self.ranges(), other) {
            ([], _) => Self::Empty,
            (_, []) => self.clone(),
            ([a], [b]) if b.end <= a.start || a.end <= b.start => self.clone(),
            ([a], [b]) if b.start <= a.start => Self::span(b.end..a.end),
            ([a], [b]) if a.end <= b.end => Self::span(a.start..b.start),
            (a, b) => Self::from_vec(merge(a, b, |x, y| x && !y)),
        }
    }

    /// Indices in both, `other` being a subset.
    pub(crate) fn and_subset(&self, other: &PartitionSubset) -> Self {
        if self.is_empty() {
            return Self::Empty;
        }
        self.and(&other.range_view())
    }

    /// Indices in `self` and not in the subset `other`.
    pub(crate) fn minus_subset(&self, other: &PartitionSubset) -> Self {
        if self.is_empty() {
            return Self::Empty;
        }
        self.minus(&other.range_view())
    }

    /// Whether `index` is in the set.
    pub(crate) fn contains(&self, index: u64) -> bool {
        let ranges = self.ranges();
        let i = ranges.partition_point(|r| r.end <= index);
        ranges.get(i).is_some_and(|r| r.start <= index)
    }
}

impl Serialize for Set {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.ranges().iter().map(|r| [r.start, r.end]))
    }
}

impl<'de> Deserialize<'de> for Set {
    /// Any list of `[start, end]` pairs, normalized.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<[u64; 2]>::deserialize(deserializer)?;
        let subset = PartitionSubset::from_ranges(pairs.into_iter().map(|[s, e]| s..e));
        Ok(Self::from_ranges(&subset.range_view()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set(indices: &BTreeSet<u64>) -> Set {
        Set::of(&PartitionSubset::from_indices(indices.iter().copied()))
    }

    fn model(s: &Set) -> BTreeSet<u64> {
        s.ranges().iter().flat_map(Clone::clone).collect()
    }

    fn canonical(s: &Set) -> bool {
        match s {
            Set::Empty => true,
            Set::Span(r) => !r.is_empty(),
            Set::Ranges(rs) => rs.len() >= 2 && rs.windows(2).all(|w| w[0].end < w[1].start),
        }
    }

    proptest! {
        #[test]
        fn operations_behave_like_sets(
            a in proptest::collection::btree_set(0u64..40, 0..30),
            b in proptest::collection::btree_set(0u64..40, 0..30),
        ) {
            let (sa, sb) = (set(&a), set(&b));
            let cases = [
                (sa.and(sb.ranges()), a.intersection(&b).copied().collect::<BTreeSet<_>>()),
                (sa.or(sb.ranges()), a.union(&b).copied().collect()),
                (sa.minus(sb.ranges()), a.difference(&b).copied().collect()),
            ];
            for (got, want) in cases {
                prop_assert!(canonical(&got), "{got:?}");
                prop_assert_eq!(model(&got), want);
            }
            for i in 0..40 {
                prop_assert_eq!(sa.contains(i), a.contains(&i));
            }
            let json = serde_json::to_string(&sa).unwrap();
            prop_assert_eq!(serde_json::from_str::<Set>(&json).unwrap(), sa);
        }
    }
}
