//! Sets of partitions of one keyspace, stored compactly.
//!
//! A subset holds partition *indices* of a [`Keyspace`](super::definition::Keyspace), never key
//! strings: time windows (and multi partitions, whose indices run time-major) as sorted disjoint
//! ranges, static and dynamic keys as bitsets. "Which of 200,000 hourly partitions are missing"
//! is then one range difference, with no string allocated. Keys are produced only when a
//! caller iterates them for display.

use std::borrow::Cow;
use std::ops::Range;

/// A set of partition indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionSubset {
    /// Sorted, disjoint, non-adjacent, non-empty ranges.
    Ranges(Vec<Range<u64>>),
    /// One bit per index.
    Bits(BitSet),
}

impl Default for PartitionSubset {
    /// The empty set.
    fn default() -> Self {
        Self::empty()
    }
}

/// A growable bitset of indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    fn insert(&mut self, index: u64) {
        let word = (index / 64) as usize;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << (index % 64);
    }

    fn contains(&self, index: u64) -> bool {
        self.words
            .get((index / 64) as usize)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros();
                    rest &= rest - 1;
                    i as u64 * 64 + u64::from(bit)
                })
            })
        })
    }

    fn combine(&self, other: &BitSet, op: impl Fn(u64, u64) -> u64) -> BitSet {
        let len = self.words.len().max(other.words.len());
        let word = |set: &BitSet, i: usize| set.words.get(i).copied().unwrap_or(0);
        let mut words: Vec<u64> = (0..len)
            .map(|i| op(word(self, i), word(other, i)))
            .collect();
        while words.last() == Some(&0) {
            words.pop();
        }
        BitSet { words }
    }
}

impl PartitionSubset {
    /// The empty set, stored as ranges.
    pub fn empty() -> Self {
        Self::Ranges(Vec::new())
    }

    /// The empty set, stored as a bitset (for static and dynamic keyspaces).
    pub fn empty_bits() -> Self {
        Self::Bits(BitSet::default())
    }

    /// All of `0..len`.
    pub fn all(len: u64) -> Self {
        Self::from_range(0..len)
    }

    /// One range.
    pub fn from_range(range: Range<u64>) -> Self {
        if range.is_empty() {
            Self::empty()
        } else {
            Self::Ranges(vec![range])
        }
    }

    /// Ranges in any order, overlapping or not.
    pub fn from_ranges(ranges: impl IntoIterator<Item = Range<u64>>) -> Self {
        let mut ranges: Vec<Range<u64>> = ranges.into_iter().filter(|r| !r.is_empty()).collect();
        ranges.sort_unstable_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        Self::Ranges(merged)
    }

    /// Indices in any order, stored as ranges.
    pub fn from_indices(indices: impl IntoIterator<Item = u64>) -> Self {
        Self::from_ranges(indices.into_iter().map(|i| i..i + 1))
    }

    /// Indices in any order, stored as a bitset.
    pub fn bits_from_indices(indices: impl IntoIterator<Item = u64>) -> Self {
        let mut bits = BitSet::default();
        for index in indices {
            bits.insert(index);
        }
        Self::Bits(bits)
    }

    /// The number of partitions.
    pub fn count(&self) -> u64 {
        match self {
            Self::Ranges(ranges) => ranges.iter().map(|r| r.end - r.start).sum(),
            Self::Bits(bits) => bits.count(),
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Ranges(ranges) => ranges.iter().all(Range::is_empty),
            Self::Bits(bits) => bits.words.iter().all(|w| *w == 0),
        }
    }

    /// Whether `index` is in the set.
    pub fn contains(&self, index: u64) -> bool {
        match self {
            Self::Ranges(ranges) => {
                let i = ranges.partition_point(|r| r.end <= index);
                ranges.get(i).is_some_and(|r| r.start <= index)
            }
            Self::Bits(bits) => bits.contains(index),
        }
    }

    /// Indices in ascending order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Self::Ranges(ranges) => Box::new(ranges.iter().flat_map(Clone::clone)),
            Self::Bits(bits) => Box::new(bits.iter()),
        }
    }

    /// The set as sorted, disjoint, non-adjacent ranges.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        match self {
            Self::Ranges(ranges) => ranges.clone(),
            Self::Bits(_) => self.to_ranges(),
        }
    }

    fn to_ranges(&self) -> Vec<Range<u64>> {
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for index in self.iter() {
            match ranges.last_mut() {
                Some(last) if last.end == index => last.end += 1,
                _ => ranges.push(index..index + 1),
            }
        }
        ranges
    }

    /// Indices in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        match (self, other) {
            (Self::Bits(a), Self::Bits(b)) => Self::Bits(a.combine(b, |x, y| x & y)),
            _ => Self::Ranges(merge(&self.range_view(), &other.range_view(), |a, b| {
                a && b
            })),
        }
    }

    /// Indices in either set.
    pub fn union(&self, other: &Self) -> Self {
        match (self, other) {
            (Self::Bits(a), Self::Bits(b)) => Self::Bits(a.combine(b, |x, y| x | y)),
            _ => Self::Ranges(merge(&self.range_view(), &other.range_view(), |a, b| {
                a || b
            })),
        }
    }

    /// Indices in `self` and not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        match (self, other) {
            (Self::Bits(a), Self::Bits(b)) => Self::Bits(a.combine(b, |x, y| x & !y)),
            _ => Self::Ranges(merge(&self.range_view(), &other.range_view(), |a, b| {
                a && !b
            })),
        }
    }

    /// The set as ranges, borrowed when it is stored as ranges.
    pub fn range_view(&self) -> Cow<'_, [Range<u64>]> {
        match self {
            Self::Ranges(ranges) => Cow::Borrowed(ranges),
            Self::Bits(_) => Cow::Owned(self.to_ranges()),
        }
    }

    /// `0..len` without this set.
    pub fn complement(&self, len: u64) -> Self {
        Self::all(len).difference(self)
    }
}

/// Combines two sorted, disjoint range lists in one pass, keeping the stretches where `keep`
/// holds (`keep(false, false)` must be false); the result is sorted, disjoint, non-adjacent.
pub(crate) fn merge(
    a: &[Range<u64>],
    b: &[Range<u64>],
    keep: impl Fn(bool, bool) -> bool,
) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    let (mut ia, mut ib) = (0, 0);
    let mut at = match (a.first(), b.first()) {
        (Some(x), Some(y)) => x.start.min(y.start),
        (Some(x), None) => x.start,
        (None, Some(y)) => y.start,
        (None, None) => return out,
    };
    loop {
        while ia < a.len() && a[ia].end <= at {
            ia += 1;
        }
        while ib < b.len() && b[ib].end <= at {
            ib += 1;
        }
        if ia == a.len() && ib == b.len() {
            return out;
        }
        // The state at `at` and the next point where either list changes it.
        let side = |ranges: &[Range<u64>], i: usize| match ranges.get(i) {
            Some(r) if r.start <= at => (true, r.end),
            Some(r) => (false, r.start),
            None => (false, u64::MAX),
        };
        let (in_a, next_a) = side(a, ia);
        let (in_b, next_b) = side(b, ib);
        let next = next_a.min(next_b);
        if keep(in_a, in_b) {
            match out.last_mut() {
                Some(last) if last.end == at => last.end = next,
                _ => out.push(at..next),
            }
        }
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn model(subset: &PartitionSubset) -> BTreeSet<u64> {
        subset.iter().collect()
    }

    fn arb_indices() -> impl Strategy<Value = BTreeSet<u64>> {
        proptest::collection::btree_set(0u64..300, 0..120)
    }

    proptest! {
        #[test]
        fn ranges_behave_like_sets(a in arb_indices(), b in arb_indices(), bits_a: bool, bits_b: bool) {
            let make = |s: &BTreeSet<u64>, bits: bool| if bits {
                PartitionSubset::bits_from_indices(s.iter().copied())
            } else {
                PartitionSubset::from_indices(s.iter().copied())
            };
            let (sa, sb) = (make(&a, bits_a), make(&b, bits_b));
            prop_assert_eq!(model(&sa.union(&sb)), a.union(&b).copied().collect::<BTreeSet<_>>());
            prop_assert_eq!(model(&sa.intersection(&sb)), a.intersection(&b).copied().collect::<BTreeSet<_>>());
            prop_assert_eq!(model(&sa.difference(&sb)), a.difference(&b).copied().collect::<BTreeSet<_>>());
            prop_assert_eq!(sa.count(), a.len() as u64);
            let complement: BTreeSet<u64> = (0..300).filter(|i| !a.contains(i)).collect();
            prop_assert_eq!(model(&sa.complement(300)), complement);
            for i in 0..300 {
                prop_assert_eq!(sa.contains(i), a.contains(&i));
            }
            // Ranges stay canonical: sorted, disjoint, non-adjacent.
            let ranges = sa.union(&sb).ranges();
            for pair in ranges.windows(2) {
                prop_assert!(pair[0].end < pair[1].start);
            }
        }
    }

    #[test]
    fn every_other_of_200k_is_100k_ranges() {
        let done = PartitionSubset::from_ranges((0..100_000u64).map(|i| 2 * i..2 * i + 1));
        let missing = done.complement(200_000);
        assert_eq!(missing.count(), 100_000);
        assert!(missing.contains(1) && !missing.contains(0));
    }
}
