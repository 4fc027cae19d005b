//! Gathers what staleness is decided from — current code versions, and what every current
//! materialization (or observation) recorded — and asks `strata_core::staleness`.

use std::collections::{BTreeMap, HashMap};

use strata_core::key::AssetKey;
use strata_core::model::{Compute, Repository};
use strata_core::partitions::Keyspace;
use strata_core::staleness::{AssetFacts, Recorded, RecordedRange, StaleMap, stale_partitions};
use strata_storage::Storage;

use crate::instance::Instance;
use crate::versions::asset_code_version;

/// Why staleness could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum StalenessError {
    /// Reading storage failed.
    #[error(transparent)]
    Storage(#[from] strata_storage::StorageError),
    /// A code version could not be computed (a `code_files` entry is unreadable).
    #[error("{0}")]
    CodeVersion(String),
}

/// The stale partitions of every asset of the repository, with their causes.
pub async fn stale_report(
    instance: &Instance,
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
) -> Result<BTreeMap<AssetKey, StaleMap>, StalenessError> {
    let mut facts = BTreeMap::new();
    for asset in repository.assets() {
        let code_version =
            asset_code_version(&instance.root, asset).map_err(StalenessError::CodeVersion)?;
        let partitions = match asset.compute {
            Compute::Source(_) => {
                observed(instance.storage.as_ref(), &asset.key, &code_version).await?
            }
            _ => materialized(instance.storage.as_ref(), &asset.key).await?,
        };
        facts.insert(
            asset.key.clone(),
            AssetFacts {
                code_version,
                partitions,
            },
        );
    }
    Ok(stale_partitions(repository, keyspaces, &facts))
}

async fn observed(
    storage: &dyn Storage,
    key: &AssetKey,
    code_version: &str,
) -> Result<HashMap<Option<String>, Recorded>, StalenessError> {
    Ok(storage
        .observations(key)
        .await?
        .into_iter()
        .map(|o| {
            (
                o.partition,
                Recorded {
                    code_version: code_version.to_string(),
                    data_version: o.data_version,
                    inputs: Vec::new(),
                },
            )
        })
        .collect())
}

async fn materialized(
    storage: &dyn Storage,
    key: &AssetKey,
) -> Result<HashMap<Option<String>, Recorded>, StalenessError> {
    let mut inputs: HashMap<Option<String>, _> =
        storage.current_inputs(key).await?.into_iter().collect();
    Ok(storage
        .current_materializations(key, None)
        .await?
        .into_iter()
        .map(|m| {
            let consumed = inputs.remove(&m.partition).unwrap_or_default();
            let recorded = Recorded {
                code_version: m.code_version,
                data_version: m.data_version,
                inputs: consumed
                    .into_iter()
                    .map(|input| {
                        let ranges = input
                            .ranges
                            .into_iter()
                            .map(|r| RecordedRange {
                                first: r.first,
                                last: r.last,
                                count: r.count,
                                data_version: r.data_version,
                            })
                            .collect();
                        (input.asset, ranges)
                    })
                    .collect(),
            };
            (m.partition, recorded)
        })
        .collect())
}
