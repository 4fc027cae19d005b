//! The inputs of a step: for each dependency, exactly the upstream partitions its mapping
//! selects, with the files of their current materializations and their data versions.
//!
//! An upstream partition the mapping needs but nobody has materialized is an error: computing
//! from a partial input would commit wrong data that looks right.

use std::collections::HashMap;
use std::path::PathBuf;

use strata_core::key::AssetKey;
use strata_core::model::{Asset, Compute, Dependency, SourceTarget};
use strata_core::partitions::PartitionSubset;
use strata_core::partitions::mapping::Sides;
use strata_io_managers::StoredPartition;
use strata_storage::event::ConsumedInput;

use super::{StepContext, StepError, source};
use crate::commit::stored_partition;

/// One dependency, resolved.
#[derive(Clone, Debug)]
pub(crate) struct Input {
    pub(crate) asset: AssetKey,
    pub(crate) data: InputData,
    /// What is consumed, recorded in the Materialization event.
    pub(crate) consumed: ConsumedInput,
    /// For a step over a range (a single-run backfill): what each of its partitions consumes,
    /// in the step's partition order — exactly what a step over that partition alone would
    /// record. Empty for a step over one partition.
    pub(crate) per_partition: Vec<ConsumedInput>,
    /// Each upstream partition read: (index, key, data version).
    versions: Vec<(u64, String, String)>,
}

/// Where an input's data is.
#[derive(Clone, Debug)]
pub(crate) enum InputData {
    /// Committed partitions behind an IO manager.
    Stored {
        io_manager: String,
        partitions: Vec<StoredPartition>,
    },
    /// A source asset: the files its path matches (none for an observe command).
    Source { files: Vec<PathBuf> },
}

pub(crate) async fn resolve(ctx: &StepContext<'_>) -> Result<Vec<Input>, StepError> {
    let mut inputs = Vec::with_capacity(ctx.asset.deps.len());
    for dep in &ctx.asset.deps {
        let upstream = ctx.shared.repository.asset(&dep.key).ok_or_else(|| {
            StepError::permanent(format!("dependency {} is not in the repository", dep.key))
        })?;
        let (needed, each) = needed_partitions(ctx, dep, upstream);
        let mut input = match &upstream.compute {
            Compute::Source(source) => {
                resolve_source(ctx, &dep.key, &source.target, &needed).await?
            }
            _ => resolve_stored(ctx, &dep.key, &upstream.io_manager, &needed).await?,
        };
        input.per_partition = match each {
            Some(subsets) => subsets
                .iter()
                .map(|subset| {
                    let versions = input.versions.iter().filter(|v| subset.contains(v.0));
                    ConsumedInput::compact(dep.key.clone(), versions.cloned().collect())
                })
                .collect(),
            // Every partition of the range consumes all of it (an unpartitioned upstream).
            None if ctx.partitions.len() > 1 => vec![input.consumed.clone(); ctx.partitions.len()],
            None => Vec::new(),
        };
        inputs.push(input);
    }
    Ok(inputs)
}

/// An upstream partition: its index and key (`None` when unpartitioned).
type Needed = (u64, Option<String>);

/// The upstream partitions `dep` needs for the whole step, as (index, key) with a `None` key
/// when unpartitioned; and, for a step over a range of a partitioned upstream, the subset each
/// of the step's partitions needs.
fn needed_partitions(
    ctx: &StepContext<'_>,
    dep: &Dependency,
    upstream: &Asset,
) -> (Vec<Needed>, Option<Vec<PartitionSubset>>) {
    let Some(up_def) = upstream.partitions_definition() else {
        return (vec![(0, None)], None);
    };
    let up_keys = up_def.keyspace(ctx.run.now_secs, &ctx.run.dynamic);
    let (subset, each) = match ctx.asset.partitions_definition() {
        Some(down_def) if !ctx.partitions.is_empty() => {
            let down_keys = down_def.keyspace(ctx.run.now_secs, &ctx.run.dynamic);
            let sides = Sides {
                upstream: up_def,
                upstream_keys: &up_keys,
                downstream: down_def,
                downstream_keys: &down_keys,
            };
            let upstream_of = |indices: &mut dyn Iterator<Item = u64>| {
                dep.mapping
                    .upstream_of(sides, &PartitionSubset::from_indices(indices))
                    .partitions
            };
            let whole = upstream_of(&mut ctx.partitions.iter().map(|p| p.index));
            let each = (ctx.partitions.len() > 1).then(|| {
                ctx.partitions
                    .iter()
                    .map(|p| upstream_of(&mut std::iter::once(p.index)))
                    .collect()
            });
            (whole, each)
        }
        _ => (PartitionSubset::all(up_keys.len()), None),
    };
    let needed = subset
        .iter()
        .filter_map(|i| Some((i, Some(up_keys.key(i)?))))
        .collect();
    (needed, each)
}

async fn resolve_stored(
    ctx: &StepContext<'_>,
    asset: &AssetKey,
    io_manager: &str,
    needed: &[Needed],
) -> Result<Input, StepError> {
    let keys: Vec<Option<String>> = needed.iter().map(|(_, k)| k.clone()).collect();
    let current = ctx
        .shared
        .instance
        .storage
        .current_materializations(asset, Some(&keys))
        .await
        .map_err(|e| StepError::retryable(format!("reading {asset}'s partitions failed: {e}")))?;
    let by_key: HashMap<Option<&str>, usize> = current
        .iter()
        .enumerate()
        .map(|(i, c)| (c.partition.as_deref(), i))
        .collect();
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(_, key)| !by_key.contains_key(&key.as_deref()))
        .map(|(_, key)| key.as_deref().unwrap_or("(unpartitioned)"))
        .collect();
    if !missing.is_empty() {
        return Err(StepError::permanent(missing_message(asset, &missing)));
    }
    let mut partitions = Vec::with_capacity(needed.len());
    let mut versions = Vec::with_capacity(needed.len());
    for (index, key) in needed {
        let materialization = &current[by_key[&key.as_deref()]];
        ctx.meter.read(materialization.rows, materialization.bytes);
        partitions.push(stored_partition(key.clone(), &materialization.files));
        versions.push((
            *index,
            key.clone().unwrap_or_default(),
            materialization.data_version.clone(),
        ));
    }
    Ok(Input {
        asset: asset.clone(),
        consumed: consumed(asset, needed, versions.clone()),
        per_partition: Vec::new(),
        versions,
        data: InputData::Stored {
            io_manager: io_manager.to_string(),
            partitions,
        },
    })
}

async fn resolve_source(
    ctx: &StepContext<'_>,
    asset: &AssetKey,
    target: &SourceTarget,
    needed: &[Needed],
) -> Result<Input, StepError> {
    let observations = ctx
        .shared
        .instance
        .storage
        .observations(asset)
        .await
        .map_err(|e| StepError::retryable(format!("reading {asset}'s observations failed: {e}")))?;
    let by_key: HashMap<Option<&str>, &str> = observations
        .iter()
        .map(|o| (o.partition.as_deref(), o.data_version.as_str()))
        .collect();
    let mut versions = Vec::with_capacity(needed.len());
    for (index, key) in needed {
        let Some(version) = by_key.get(&key.as_deref()) else {
            return Err(StepError::permanent(format!(
                "source {asset} has not been observed yet; observe it first \
                 (`strata materialize {asset}`) or include it in the run"
            )));
        };
        versions.push((*index, key.clone().unwrap_or_default(), version.to_string()));
    }
    let files = match target {
        SourceTarget::Path(pattern) => source::matching_files(&ctx.shared.instance.root, pattern)
            .map_err(StepError::retryable)?,
        SourceTarget::Observe(_) => Vec::new(),
    };
    Ok(Input {
        asset: asset.clone(),
        consumed: consumed(asset, needed, versions.clone()),
        per_partition: Vec::new(),
        versions,
        data: InputData::Source { files },
    })
}

fn consumed(
    asset: &AssetKey,
    needed: &[Needed],
    versions: Vec<(u64, String, String)>,
) -> ConsumedInput {
    if needed.first().is_some_and(|(_, key)| key.is_none()) {
        let version = versions.into_iter().next().map(|v| v.2).unwrap_or_default();
        ConsumedInput::unpartitioned(asset.clone(), version)
    } else {
        ConsumedInput::compact(asset.clone(), versions)
    }
}

fn missing_message(asset: &AssetKey, missing: &[&str]) -> String {
    if missing == ["(unpartitioned)"] {
        return format!(
            "upstream {asset} has not been materialized; materialize it first \
             (`strata materialize {asset}`) or include it in the run"
        );
    }
    let shown: Vec<&str> = missing.iter().take(5).copied().collect();
    let more = if missing.len() > shown.len() {
        format!(" and {} more", missing.len() - shown.len())
    } else {
        String::new()
    };
    format!(
        "upstream {asset} has no materialized partition {}{more}; materialize {} first \
         (`strata materialize {asset} --missing`)",
        shown.join(", "),
        if missing.len() == 1 { "it" } else { "them" },
    )
}
