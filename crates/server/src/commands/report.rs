//! `strata report`: record a materialization that happened outside Strata.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use strata_core::model::{Compute, Repository};
use strata_engine::versions::asset_code_version;
use strata_storage::event::{Event, Materialization};

use crate::cli::ReportArgs;
use crate::commands::{find_asset, print_json};
use crate::{CliError, Outcome, clock};

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &ReportArgs,
) -> Result<Outcome, CliError> {
    let asset = find_asset(repository, &args.asset)?;
    if let Compute::Source(_) = asset.compute {
        return Err(CliError::Usage(format!(
            "`{}` is a source: Strata observes it; report materializations of assets it computes or that an external pipeline writes",
            asset.key
        )));
    }
    let now = clock::now(None)?.timestamp_millis();
    let instance = crate::open_instance(root, repository.project())?;
    let code_version = asset_code_version(&instance.root, asset).map_err(CliError::Usage)?;
    let runtime = crate::runtime()?;
    let dynamic = runtime
        .block_on(instance.storage.dynamic_partitions())
        .map_err(CliError::internal)?;
    let keyspaces = repository.keyspaces(now.div_euclid(1000), &dynamic);
    let partitions: Vec<Option<String>> = match (
        keyspaces.get(&asset.key),
        args.partition.as_slice(),
    ) {
        (None, []) => vec![None],
        (None, _) => {
            return Err(CliError::Usage(format!(
                "`{}` is not partitioned; leave out --partition",
                asset.key
            )));
        }
        (Some(_), []) => {
            return Err(CliError::Usage(format!(
                "`{}` is partitioned: name what was written with --partition KEY (repeatable)",
                asset.key
            )));
        }
        (Some(keys), given) => {
            let mut partitions = Vec::new();
            for key in given {
                if keys.index_of(key).is_none() {
                    return Err(CliError::Usage(format!(
                        "`{key}` is not a partition of `{}` ({}); `strata partitions {}` lists them",
                        asset.key,
                        asset
                            .partitions_definition()
                            .map(|d| d.describe())
                            .unwrap_or_default(),
                        asset.key
                    )));
                }
                partitions.push(Some(key.clone()));
            }
            partitions
        }
    };
    let events: Vec<Event> = partitions
        .iter()
        .map(|partition| {
            let id = strata_engine::executor::new_run_id();
            Event::Materialization(Materialization {
                asset: asset.key.clone(),
                partition: partition.clone(),
                run_id: None,
                materialization_id: id.clone(),
                io_manager: asset.io_manager.clone(),
                files: Vec::new(),
                rows: 0,
                bytes: 0,
                metadata: BTreeMap::from([("reported".to_string(), json!(true))]),
                code_version: code_version.clone(),
                data_version: args
                    .data_version
                    .clone()
                    .unwrap_or_else(|| format!("reported:{id}")),
                inputs: Vec::new(),
            })
        })
        .collect();
    let count = events.len();
    runtime
        .block_on(instance.storage.append(now, events))
        .map_err(CliError::internal)?;
    if args.output.json {
        print_json(&json!({
            "asset": asset.key.to_string(),
            "partitions": partitions.iter().flatten().collect::<Vec<_>>(),
            "reported": count,
        }))?;
    } else {
        println!(
            "recorded {count} materialization{} of {} reported from outside Strata",
            if count == 1 { "" } else { "s" },
            asset.key
        );
    }
    Ok(Outcome::Ok)
}
