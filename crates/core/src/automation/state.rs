//! What one tick leaves for the next, as stored between ticks.
//!
//! Per asset with a condition: what it requested, a record of every node's true subset and
//! since when it holds (in slot order, see [`program`](super::program)), and fingerprints of
//! what the evaluation read, which let the next tick skip an asset whose inputs did not change.
//!
//! **Format.** State stored by earlier versions (every node's true subset keyed by node path,
//! in `nodes`, and `newly_true` children in `children`) still loads: an asset's first
//! evaluation reads its latches from those maps by path, and writes the current format.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::set::Set;
use crate::key::AssetKey;
use crate::partitions::subset::PartitionSubset;

/// Evaluation state carried from tick to tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AutomationState {
    /// When the previous tick ran (ms).
    pub evaluated_at: Option<i64>,
    /// Per asset with a condition.
    pub assets: BTreeMap<AssetKey, AssetState>,
}

/// One asset's evaluation state: opaque, cheap to clone (a tick keeps the state of every asset
/// it skips), serialized with serde.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetState(pub(crate) Arc<AssetStateData>);

impl AssetState {
    /// What the asset's last evaluation requested.
    pub fn requested(&self) -> PartitionSubset {
        self.0.requested.to_subset()
    }

    /// When the asset was last evaluated (ms).
    pub fn evaluated_at(&self) -> i64 {
        self.0.evaluated_at
    }
}

impl Serialize for AssetState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AssetState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        AssetStateData::deserialize(deserializer).map(|data| AssetState(Arc::new(data)))
    }
}

/// The fields of an [`AssetState`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct AssetStateData {
    /// The condition evaluated (canonical text): another condition starts afresh.
    #[serde(with = "shared_str")]
    pub(crate) condition: Arc<str>,
    /// The partitions definition it was evaluated against (described): another starts afresh.
    #[serde(with = "shared_str")]
    pub(crate) partitions: Arc<str>,
    /// What the last evaluation requested.
    pub(crate) requested: Set,
    /// The code version at the last evaluation.
    #[serde(with = "shared_str")]
    pub(crate) code_version: Arc<str>,
    /// The last evaluation read no edge-triggered input and left every latch as it found it.
    pub(crate) settled: bool,
    /// The number of partitions at the last evaluation.
    pub(crate) partition_count: u64,
    /// When the asset was last evaluated (ms).
    pub(crate) evaluated_at: i64,
    /// A fingerprint of every fact the last evaluation could read (its own and its
    /// dependencies', their keyspaces, which dependencies each operator visited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inputs: Option<u64>,
    /// A fingerprint of the dependency frames the records were laid out for.
    #[serde(default)]
    pub(crate) layout: u64,
    /// Every node's evaluation, by slot.
    #[serde(default)]
    pub(crate) records: Vec<Record>,
    /// Former format: every node's true subset by path.
    #[serde(default, skip_serializing)]
    pub(crate) nodes: BTreeMap<String, Set>,
    /// Former format: `newly_true` children's true subsets by path.
    #[serde(default, skip_serializing)]
    pub(crate) children: BTreeMap<String, Set>,
}

/// A node's last evaluation: where it held, and since when (ms) it has held exactly there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record(pub(crate) Set, pub(crate) i64);

impl AssetStateData {
    /// Whether the state comes from the former, path-keyed format.
    pub(crate) fn is_former(&self) -> bool {
        self.records.is_empty() && !(self.nodes.is_empty() && self.children.is_empty())
    }
}

mod shared_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(d).map(Arc::from)
    }
}

/// A partition subset as stored in explanations: index ranges, `[start, end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Subset(pub Vec<[u64; 2]>);

impl From<&PartitionSubset> for Subset {
    fn from(subset: &PartitionSubset) -> Self {
        Subset(
            subset
                .range_view()
                .iter()
                .map(|r| [r.start, r.end])
                .collect(),
        )
    }
}

impl From<&Set> for Subset {
    fn from(set: &Set) -> Self {
        Subset(set.ranges().iter().map(|r| [r.start, r.end]).collect())
    }
}

impl Subset {
    /// Back to a subset (bitsets for static and dynamic keyspaces).
    pub fn to_subset(&self, bits: bool) -> PartitionSubset {
        let ranges = self.0.iter().map(|[s, e]| *s..*e);
        if bits {
            PartitionSubset::bits_from_indices(ranges.flatten())
        } else {
            PartitionSubset::from_ranges(ranges)
        }
    }
}

/// Fingerprints of what an evaluation reads: equal inputs give equal fingerprints, different
/// ones different fingerprints but with negligible probability (64 bits, each word mixed by a
/// full 64×64→128-bit multiplication). Stable across builds and versions: a stored fingerprint
/// stays comparable.
#[derive(Default)]
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
        let product = u128::from(self.0 ^ value ^ 0xa076_1d64_78bd_642f) * u128::from(MULTIPLIER);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
        self
    }

    pub(crate) fn str(&mut self, text: &str) -> &mut Self {
        self.u64(text.len() as u64);
        let mut chunks = text.as_bytes().chunks_exact(8);
        for chunk in &mut chunks {
            self.u64(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.u64(u64::from_le_bytes(last))
    }

    pub(crate) fn subset(&mut self, subset: &PartitionSubset) -> &mut Self {
        let ranges = subset.range_view();
        self.u64(ranges.len() as u64);
        for range in ranges.iter() {
            self.u64(range.start).u64(range.end);
        }
        self
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}
