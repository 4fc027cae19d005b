//! `strata assets`: the selected assets, one line each (or JSON).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use strata_core::model::Repository;

use super::{print_json, select};
use crate::{CliError, Outcome};

#[derive(Serialize)]
struct AssetJson<'a> {
    key: String,
    group: &'a str,
    kind: &'a str,
    partitions: Option<String>,
    deps: Vec<DepJson>,
    tags: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct DepJson {
    asset: String,
    mapping: String,
}

pub(crate) fn run(
    repository: &Repository,
    selection: Option<&str>,
    json: bool,
) -> Result<Outcome, CliError> {
    let keys = select(repository, selection.unwrap_or("*"))?;
    // Upstream assets first, alphabetical among equals.
    let assets: Vec<AssetJson<'_>> = repository
        .topological_order()
        .into_iter()
        .filter(|key| keys.contains(key))
        .map(|key| {
            let asset = repository.asset(&key).expect("selected keys exist");
            let key = &asset.key;
            AssetJson {
                key: key.to_string(),
                group: key.group(),
                kind: asset.compute.kind(),
                partitions: asset.partitions_definition().map(|p| p.describe()),
                deps: asset
                    .deps
                    .iter()
                    .map(|d| DepJson {
                        asset: d.key.to_string(),
                        mapping: d.mapping.describe(),
                    })
                    .collect(),
                tags: &asset.tags,
            }
        })
        .collect();
    if json {
        print_json(&assets)?;
        return Ok(Outcome::Ok);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<32} {:<8} {:<40} DEPS",
        "ASSET", "KIND", "PARTITIONS"
    )?;
    for asset in &assets {
        let deps: Vec<&str> = asset.deps.iter().map(|d| d.asset.as_str()).collect();
        writeln!(
            out,
            "{:<32} {:<8} {:<40} {}",
            asset.key,
            asset.kind,
            asset.partitions.as_deref().unwrap_or("-"),
            if deps.is_empty() {
                "-".to_string()
            } else {
                deps.join(", ")
            }
        )?;
        if !asset.tags.is_empty() {
            let tags: Vec<String> = asset.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(out, "{:<32} tags: {}", "", tags.join(", "))?;
        }
    }
    Ok(Outcome::Ok)
}
