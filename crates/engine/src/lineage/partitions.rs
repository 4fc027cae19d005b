//! Partition lineage: which upstream partitions, at which data versions, a materialized
//! partition was made from (recursively), and which downstream partitions were made from it.
//!
//! Every Materialization event records what it consumed — per dependency, runs of upstream
//! partitions with the data version read ([`ConsumedInput`]) — so lineage is read, never
//! re-derived from today's mappings: a partition made before a mapping changed still shows
//! what it really read. Walking up follows the current materialization of each partition
//! consumed; walking down scans the current inputs of each dependent asset for runs that
//! contain the partition.
//!
//! ```text
//!   upstream:   (asset, key) ─ current materialization ─ inputs ─▶ upstream runs first..last
//!                                                                   └─ each key ─▶ recurse
//!   downstream: (asset, key) ◀─ dependents' current inputs whose runs contain key ─ recurse
//! ```
//!
//! An edge says whether the upstream data is still what was consumed (`current`): for one
//! partition its data version equals the one recorded; for a run of many, the digest of the
//! (key, data version) pairs now equals the recorded one.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Serialize;
use strata_core::key::AssetKey;
use strata_core::model::{Compute, Repository};
use strata_core::partitions::Keyspace;
use strata_storage::event::{ConsumedInput, ConsumedRange, PartitionInputs};
use strata_storage::records::CurrentMaterialization;
use strata_storage::{Storage, StorageError};
use utoipa::ToSchema;

/// At most this many partitions in one answer; beyond it the answer says `truncated`.
pub const MAX_NODES: usize = 5_000;

/// Which way to walk from the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// What it was made from.
    Upstream,
    /// What was made from it.
    Downstream,
    /// Both.
    Both,
}

impl Direction {
    fn up(self) -> bool {
        matches!(self, Self::Upstream | Self::Both)
    }

    fn down(self) -> bool {
        matches!(self, Self::Downstream | Self::Both)
    }
}

/// A partition and the partitions it is connected to.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct PartitionLineage {
    /// The asset asked about.
    #[schema(value_type = String)]
    pub asset: AssetKey,
    /// Its partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// Which way the walk went.
    pub direction: Direction,
    /// Every partition reached, the one asked about first, then by distance.
    pub nodes: Vec<PartitionNode>,
    /// What each partition consumed, as recorded: one edge per run of upstream partitions.
    pub edges: Vec<PartitionEdge>,
    /// Whether the walk stopped at [`MAX_NODES`].
    pub truncated: bool,
}

/// One asset partition and its current materialization.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct PartitionNode {
    /// The asset.
    #[schema(value_type = String)]
    pub asset: AssetKey,
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// Steps from the partition asked about: negative upstream, positive downstream.
    pub distance: i32,
    /// `materialized`, `observed` (a source) or `missing` (consumed once, gone or never
    /// stored since).
    pub status: &'static str,
    /// Its current data version.
    pub data_version: Option<String>,
    /// The code version it was computed with.
    pub code_version: Option<String>,
    /// The run that wrote it.
    pub run_id: Option<String>,
    /// When it was committed (RFC 3339, UTC).
    pub materialized_at: Option<String>,
}

/// A run of upstream partitions one downstream partition consumed.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct PartitionEdge {
    /// The upstream asset.
    #[schema(value_type = String)]
    pub upstream: AssetKey,
    /// The first partition of the run (`None` for an unpartitioned upstream).
    pub first: Option<String>,
    /// The last partition of the run, inclusive.
    pub last: Option<String>,
    /// How many partitions the run holds.
    pub count: u64,
    /// The data version consumed: the partition's own for one partition, else the digest of
    /// the run's (key, data version) pairs.
    pub data_version: String,
    /// Whether the upstream data is still exactly what was consumed.
    pub current: bool,
    /// The downstream asset.
    #[schema(value_type = String)]
    pub downstream: AssetKey,
    /// The downstream partition.
    pub partition: Option<String>,
}

/// Why partition lineage could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum PartitionLineageError {
    /// The asset is not in the repository.
    #[error("unknown asset `{0}`")]
    UnknownAsset(AssetKey),
    /// A partition was given for an unpartitioned asset, or none for a partitioned one.
    #[error("{0}")]
    Partition(String),
    /// The partition has no current materialization.
    #[error(
        "{asset} {partition} is not materialized; partition lineage starts from a materialized partition"
    )]
    NotMaterialized {
        /// The asset.
        asset: AssetKey,
        /// The partition, as text.
        partition: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The partition lineage of `asset`'s `partition` (`None` when unpartitioned), walking
/// `direction`; `keyspaces` are the repository's partitioned assets' keyspaces now.
pub async fn partition_lineage(
    repository: &Repository,
    storage: &dyn Storage,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    asset: &AssetKey,
    partition: Option<&str>,
    direction: Direction,
) -> Result<PartitionLineage, PartitionLineageError> {
    check_partition(repository, keyspaces, asset, partition)?;
    let mut walk = Walk {
        repository,
        storage,
        keyspaces,
        current: HashMap::new(),
        inputs: HashMap::new(),
        nodes: BTreeMap::new(),
        order: Vec::new(),
        edges: Vec::new(),
        truncated: false,
    };
    let root = (asset.clone(), partition.map(str::to_string));
    walk.add_node(&root, 0).await?;
    if walk.nodes[&root].status != "materialized" {
        return Err(PartitionLineageError::NotMaterialized {
            asset: asset.clone(),
            partition: partition.unwrap_or("(unpartitioned)").to_string(),
        });
    }
    if direction.up() {
        walk.upstream(&root).await?;
    }
    if direction.down() {
        walk.downstream(&root).await?;
    }
    let Walk {
        mut nodes,
        order,
        edges,
        truncated,
        ..
    } = walk;
    Ok(PartitionLineage {
        asset: asset.clone(),
        partition: partition.map(str::to_string),
        direction,
        nodes: order.iter().filter_map(|k| nodes.remove(k)).collect(),
        edges,
        truncated,
    })
}

/// A partition given where there is none, none where one is needed, or an unknown key: each
/// with a message saying what the asset's partitions look like.
fn check_partition(
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    asset: &AssetKey,
    partition: Option<&str>,
) -> Result<(), PartitionLineageError> {
    let declared = repository
        .asset(asset)
        .ok_or_else(|| PartitionLineageError::UnknownAsset(asset.clone()))?;
    let keyspace = keyspaces.get(asset);
    match (partition, keyspace) {
        (Some(_), None) => Err(PartitionLineageError::Partition(format!(
            "{asset} is not partitioned; leave the partition out"
        ))),
        (None, Some(_)) => Err(PartitionLineageError::Partition(format!(
            "{asset} is partitioned ({}); name a partition",
            declared
                .partitions_definition()
                .map(|d| d.describe())
                .unwrap_or_default()
        ))),
        (Some(key), Some(keyspace)) if keyspace.index_of(key).is_none() => {
            let range = match keyspace.len() {
                0 => "it has no partitions now".to_string(),
                n => format!(
                    "its partitions run from `{}` to `{}`",
                    keyspace.key(0).unwrap_or_default(),
                    keyspace.key(n - 1).unwrap_or_default()
                ),
            };
            Err(PartitionLineageError::Partition(format!(
                "`{key}` is not a partition of {asset}: {range}"
            )))
        }
        _ => Ok(()),
    }
}

type NodeKey = (AssetKey, Option<String>);

struct Walk<'a, 'k> {
    repository: &'a Repository,
    storage: &'a dyn Storage,
    keyspaces: &'a BTreeMap<AssetKey, Keyspace<'k>>,
    /// Each asset's current materializations by partition, read once.
    current: HashMap<AssetKey, BTreeMap<Option<String>, CurrentMaterialization>>,
    /// Each asset's current inputs by partition, read once.
    inputs: HashMap<AssetKey, BTreeMap<Option<String>, Vec<ConsumedInput>>>,
    nodes: BTreeMap<NodeKey, PartitionNode>,
    order: Vec<NodeKey>,
    edges: Vec<PartitionEdge>,
    truncated: bool,
}

impl Walk<'_, '_> {
    async fn upstream(&mut self, root: &NodeKey) -> Result<(), PartitionLineageError> {
        let mut queue = VecDeque::from([(root.clone(), 0)]);
        let mut seen = BTreeSet::from([root.clone()]);
        while let Some((node, distance)) = queue.pop_front() {
            let consumed = self.inputs_of(&node).await?;
            for input in consumed {
                for range in &input.ranges {
                    let keys = self.keys_of(&input.asset, range);
                    let current = self.range_is_current(&input.asset, range, &keys).await?;
                    self.edges.push(edge(&input.asset, range, current, &node));
                    for key in keys {
                        let up = (input.asset.clone(), key);
                        if !seen.insert(up.clone()) {
                            continue;
                        }
                        if !self.add_node(&up, distance - 1).await? {
                            return Ok(());
                        }
                        queue.push_back((up, distance - 1));
                    }
                }
            }
        }
        Ok(())
    }

    async fn downstream(&mut self, root: &NodeKey) -> Result<(), PartitionLineageError> {
        let mut queue = VecDeque::from([(root.clone(), 0)]);
        let mut seen = BTreeSet::from([root.clone()]);
        while let Some(((asset, partition), distance)) = queue.pop_front() {
            let dependents: Vec<AssetKey> = self
                .repository
                .dependents(&asset)
                .map(|(a, _)| a.key.clone())
                .collect();
            for dependent in dependents {
                self.load_inputs(&dependent).await?;
                let mut found = Vec::new();
                for (down_partition, consumed) in &self.inputs[&dependent] {
                    for input in consumed.iter().filter(|i| i.asset == asset) {
                        for range in &input.ranges {
                            if self.contains(&asset, range, partition.as_deref()) {
                                found.push((down_partition.clone(), range.clone()));
                            }
                        }
                    }
                }
                for (down_partition, range) in found {
                    let keys = self.keys_of(&asset, &range);
                    let current = self.range_is_current(&asset, &range, &keys).await?;
                    let down = (dependent.clone(), down_partition);
                    self.edges.push(edge(&asset, &range, current, &down));
                    if !seen.insert(down.clone()) {
                        continue;
                    }
                    if !self.add_node(&down, distance + 1).await? {
                        return Ok(());
                    }
                    queue.push_back((down, distance + 1));
                }
            }
        }
        Ok(())
    }

    /// Adds a node (once); `false` when the limit is reached.
    async fn add_node(&mut self, key: &NodeKey, distance: i32) -> Result<bool, StorageError> {
        if self.nodes.contains_key(key) {
            return Ok(true);
        }
        if self.nodes.len() >= MAX_NODES {
            self.truncated = true;
            return Ok(false);
        }
        self.load_current(&key.0).await?;
        let current = self.current[&key.0].get(&key.1);
        let is_source = matches!(
            self.repository.asset(&key.0).map(|a| &a.compute),
            Some(Compute::Source(_))
        );
        let status = match current {
            Some(_) if is_source => "observed",
            Some(_) => "materialized",
            None => "missing",
        };
        self.nodes.insert(
            key.clone(),
            PartitionNode {
                asset: key.0.clone(),
                partition: key.1.clone(),
                distance,
                status,
                data_version: current.map(|c| c.data_version.clone()),
                code_version: current
                    .map(|c| c.code_version.clone())
                    .filter(|v| !v.is_empty()),
                run_id: current.and_then(|c| c.run_id.clone()),
                materialized_at: current.map(|c| super::rfc3339(c.timestamp)),
            },
        );
        self.order.push(key.clone());
        Ok(true)
    }

    async fn inputs_of(&mut self, key: &NodeKey) -> Result<Vec<ConsumedInput>, StorageError> {
        self.load_inputs(&key.0).await?;
        Ok(self.inputs[&key.0].get(&key.1).cloned().unwrap_or_default())
    }

    async fn load_inputs(&mut self, asset: &AssetKey) -> Result<(), StorageError> {
        if !self.inputs.contains_key(asset) {
            let all: Vec<PartitionInputs> = self.storage.current_inputs(asset).await?;
            self.inputs.insert(asset.clone(), all.into_iter().collect());
        }
        Ok(())
    }

    /// Current materializations of `asset`; for a source, its latest observations stand in
    /// (what consumers recorded is the observed data version).
    async fn load_current(&mut self, asset: &AssetKey) -> Result<(), StorageError> {
        if self.current.contains_key(asset) {
            return Ok(());
        }
        let is_source = matches!(
            self.repository.asset(asset).map(|a| &a.compute),
            Some(Compute::Source(_))
        );
        let by_partition = if is_source {
            self.storage
                .observations(asset)
                .await?
                .into_iter()
                .map(|o| {
                    let partition = o.partition.clone();
                    let current = CurrentMaterialization {
                        partition: o.partition,
                        event_id: o.event_id,
                        timestamp: o.timestamp,
                        materialization_id: String::new(),
                        run_id: None,
                        io_manager: String::new(),
                        files: Vec::new(),
                        rows: 0,
                        bytes: 0,
                        code_version: String::new(),
                        data_version: o.data_version,
                    };
                    (partition, current)
                })
                .collect()
        } else {
            self.storage
                .current_materializations(asset, None)
                .await?
                .into_iter()
                .map(|c| (c.partition.clone(), c))
                .collect()
        };
        self.current.insert(asset.clone(), by_partition);
        Ok(())
    }

    /// The keys of a recorded run of `asset`'s partitions, in order (`[None]` when
    /// unpartitioned). Keys the definition no longer has are left out.
    fn keys_of(&self, asset: &AssetKey, range: &ConsumedRange) -> Vec<Option<String>> {
        let (Some(first), Some(last)) = (&range.first, &range.last) else {
            return vec![None];
        };
        let Some(keyspace) = self.keyspaces.get(asset) else {
            return vec![Some(first.clone())];
        };
        match (keyspace.index_of(first), keyspace.index_of(last)) {
            (Some(a), Some(b)) if a <= b => (a..=b).map(|i| keyspace.key(i)).collect(),
            _ => vec![Some(first.clone())],
        }
    }

    /// Whether `partition` of `asset` is within a recorded run.
    fn contains(&self, asset: &AssetKey, range: &ConsumedRange, partition: Option<&str>) -> bool {
        let (Some(first), Some(last), Some(partition)) = (&range.first, &range.last, partition)
        else {
            return range.first.is_none() && partition.is_none();
        };
        let Some(keyspace) = self.keyspaces.get(asset) else {
            return false;
        };
        match (
            keyspace.index_of(first),
            keyspace.index_of(last),
            keyspace.index_of(partition),
        ) {
            (Some(a), Some(b), Some(p)) => a <= p && p <= b,
            _ => first == partition || last == partition,
        }
    }

    /// Whether the run's data is still exactly what was consumed.
    async fn range_is_current(
        &mut self,
        asset: &AssetKey,
        range: &ConsumedRange,
        keys: &[Option<String>],
    ) -> Result<bool, StorageError> {
        self.load_current(asset).await?;
        let current = &self.current[asset];
        if keys.len() as u64 != range.count {
            return Ok(false);
        }
        if range.count == 1 {
            return Ok(current
                .get(&keys[0])
                .is_some_and(|c| c.data_version == range.data_version));
        }
        let mut pairs = Vec::with_capacity(keys.len());
        for key in keys {
            let (Some(key), Some(c)) = (key, current.get(key)) else {
                return Ok(false);
            };
            pairs.push((key.as_str(), c.data_version.as_str()));
        }
        Ok(ConsumedRange::digest(pairs) == range.data_version)
    }
}

fn edge(
    upstream: &AssetKey,
    range: &ConsumedRange,
    current: bool,
    down: &NodeKey,
) -> PartitionEdge {
    PartitionEdge {
        upstream: upstream.clone(),
        first: range.first.clone(),
        last: range.last.clone(),
        count: range.count,
        data_version: range.data_version.clone(),
        current,
        downstream: down.0.clone(),
        partition: down.1.clone(),
    }
}
