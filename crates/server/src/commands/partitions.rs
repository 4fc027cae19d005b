//! `strata partitions`: an asset's keys and windows, and what a set of keys maps to.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use strata_core::model::{Asset, Repository};
use strata_core::partitions::definition::InMemoryDynamicPartitions;
use strata_core::partitions::mapping::Sides;
use strata_core::partitions::time_window::TimeWindow;
use strata_core::partitions::{Keyspace, PartitionSubset, PartitionsDefinition};
use strata_engine::dynamic::{self, DynamicError};

use super::{find_asset, print_json};
use crate::cli::{PartitionsAction, PartitionsArgs};
use crate::{CliError, Outcome, clock};

#[derive(Serialize)]
struct Listing {
    asset: String,
    count: u64,
    partitions: Vec<Partition>,
}

#[derive(Serialize)]
struct Partition {
    key: String,
    start: Option<String>,
    end: Option<String>,
}

#[derive(Serialize)]
struct Upstream {
    asset: String,
    keys: Vec<String>,
    deps: Vec<UpstreamDep>,
}

#[derive(Serialize)]
struct UpstreamDep {
    asset: String,
    mapping: String,
    keys: Vec<String>,
    nonexistent: Vec<String>,
}

#[derive(Serialize)]
struct Downstream {
    asset: String,
    keys: Vec<String>,
    downstream: Vec<DownstreamAsset>,
}

#[derive(Serialize)]
struct DownstreamAsset {
    asset: String,
    mapping: String,
    keys: Vec<String>,
}

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &PartitionsArgs,
) -> Result<Outcome, CliError> {
    if let Some(action) = &args.action {
        return change_dynamic(repository, root, action);
    }
    let asset = find_asset(repository, args.asset.as_deref().unwrap_or_default())?;
    let now = clock::now(args.now.as_deref())?.timestamp();
    let Some(def) = asset.partitions_definition() else {
        if !args.upstream_of.is_empty() || !args.downstream_of.is_empty() {
            return Err(CliError::Usage(format!(
                "`{}` is not partitioned: it is materialized as a whole, so it has no keys to map",
                asset.key
            )));
        }
        if args.output.json {
            print_json(&Listing {
                asset: asset.key.to_string(),
                count: 0,
                partitions: Vec::new(),
            })?;
        } else {
            println!("{}: not partitioned (materialized as a whole)", asset.key);
        }
        return Ok(Outcome::Ok);
    };
    let dynamic = if def.dynamic_sets().is_empty() {
        InMemoryDynamicPartitions::default()
    } else {
        let instance = crate::open_instance(root, repository.project())?;
        crate::runtime()?
            .block_on(instance.storage.dynamic_partitions())
            .map_err(CliError::internal)?
    };
    let keyspace = def.keyspace(now, &dynamic);
    if !args.upstream_of.is_empty() {
        return upstream_of(repository, asset, def, &keyspace, args, now, &dynamic);
    }
    if !args.downstream_of.is_empty() {
        return downstream_of(repository, asset, def, &keyspace, args, now, &dynamic);
    }
    if args.output.json {
        let partitions = (0..keyspace.len())
            .map(|i| {
                let window = keyspace.window(i);
                Partition {
                    key: keyspace.key(i).expect("in range"),
                    start: window.map(|w| rfc3339(def, w.start)),
                    end: window.map(|w| rfc3339(def, w.end)),
                }
            })
            .collect();
        print_json(&Listing {
            asset: asset.key.to_string(),
            count: keyspace.len(),
            partitions,
        })?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}: {} partitions ({})",
            asset.key,
            keyspace.len(),
            def.describe()
        )?;
        for i in 0..keyspace.len() {
            let key = keyspace.key(i).expect("in range");
            match keyspace.window(i) {
                Some(TimeWindow { start, end }) => writeln!(
                    out,
                    "{key:<24} {}  {}",
                    rfc3339(def, start),
                    rfc3339(def, end)
                )?,
                None => writeln!(out, "{key}")?,
            }
        }
    }
    Ok(Outcome::Ok)
}

/// The indices of the keys given on the command line, which must all be partitions now.
fn input_subset(
    asset: &Asset,
    keyspace: &Keyspace<'_>,
    keys: &[String],
) -> Result<PartitionSubset, CliError> {
    let mut indices = Vec::with_capacity(keys.len());
    for key in keys {
        let index = keyspace.index_of(key).ok_or_else(|| {
            let range = match keyspace.len() {
                0 => "it has no partitions at this time".to_string(),
                n => format!(
                    "its partitions run from `{}` to `{}`",
                    keyspace.key(0).expect("first"),
                    keyspace.key(n - 1).expect("last")
                ),
            };
            CliError::Usage(format!(
                "`{key}` is not a partition of `{}`: {range}",
                asset.key
            ))
        })?;
        indices.push(index);
    }
    Ok(PartitionSubset::from_indices(indices))
}

fn keys_in_order(keyspace: &Keyspace<'_>, subset: &PartitionSubset) -> Vec<String> {
    subset.iter().filter_map(|i| keyspace.key(i)).collect()
}

fn upstream_of(
    repository: &Repository,
    asset: &Asset,
    def: &PartitionsDefinition,
    keyspace: &Keyspace<'_>,
    args: &PartitionsArgs,
    now: i64,
    dynamic: &InMemoryDynamicPartitions,
) -> Result<Outcome, CliError> {
    let input = input_subset(asset, keyspace, &args.upstream_of)?;
    let mut deps = Vec::new();
    for dep in &asset.deps {
        let upstream = repository
            .asset(&dep.key)
            .expect("loaded repositories resolve deps");
        let (keys, nonexistent) = match upstream.partitions_definition() {
            None => (Vec::new(), Vec::new()),
            Some(up_def) => {
                let up_keys = up_def.keyspace(now, dynamic);
                let result = dep.mapping.upstream_of(
                    Sides {
                        upstream: up_def,
                        upstream_keys: &up_keys,
                        downstream: def,
                        downstream_keys: keyspace,
                    },
                    &input,
                );
                (
                    keys_in_order(&up_keys, &result.partitions),
                    result.nonexistent,
                )
            }
        };
        deps.push(UpstreamDep {
            asset: dep.key.to_string(),
            mapping: dep.mapping.describe(),
            keys,
            nonexistent,
        });
    }
    let report = Upstream {
        asset: asset.key.to_string(),
        keys: keys_in_order(keyspace, &input),
        deps,
    };
    if args.output.json {
        print_json(&report)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{} {}", report.asset, report.keys.join(", "))?;
        for dep in &report.deps {
            writeln!(
                out,
                "  needs {} ({}): {}",
                dep.asset,
                dep.mapping,
                summarize(&dep.keys)
            )?;
            if !dep.nonexistent.is_empty() {
                writeln!(
                    out,
                    "    required but nonexistent: {}",
                    summarize(&dep.nonexistent)
                )?;
            }
        }
    }
    Ok(Outcome::Ok)
}

fn downstream_of(
    repository: &Repository,
    asset: &Asset,
    def: &PartitionsDefinition,
    keyspace: &Keyspace<'_>,
    args: &PartitionsArgs,
    now: i64,
    dynamic: &InMemoryDynamicPartitions,
) -> Result<Outcome, CliError> {
    let input = input_subset(asset, keyspace, &args.downstream_of)?;
    let mut downstream = Vec::new();
    for (child, dep) in repository.dependents(&asset.key) {
        let keys = match child.partitions_definition() {
            None => Vec::new(),
            Some(child_def) => {
                let child_keys = child_def.keyspace(now, dynamic);
                let subset = dep.mapping.downstream_of(
                    Sides {
                        upstream: def,
                        upstream_keys: keyspace,
                        downstream: child_def,
                        downstream_keys: &child_keys,
                    },
                    &input,
                );
                keys_in_order(&child_keys, &subset)
            }
        };
        downstream.push(DownstreamAsset {
            asset: child.key.to_string(),
            mapping: dep.mapping.describe(),
            keys,
        });
    }
    let report = Downstream {
        asset: asset.key.to_string(),
        keys: keys_in_order(keyspace, &input),
        downstream,
    };
    if args.output.json {
        print_json(&report)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{} {}", report.asset, report.keys.join(", "))?;
        for child in &report.downstream {
            writeln!(
                out,
                "  feeds {} ({}): {}",
                child.asset,
                child.mapping,
                summarize(&child.keys)
            )?;
        }
    }
    Ok(Outcome::Ok)
}

/// `a, b, c` for short lists; `first … last (n keys)` for long ones.
fn summarize(keys: &[String]) -> String {
    match keys.len() {
        0 => "(none)".into(),
        1..=6 => keys.join(", "),
        n => format!("{} … {} ({n} keys)", keys[0], keys[n - 1]),
    }
}

/// An instant in RFC 3339 with the offset of the definition's (time dimension's) zone.
fn rfc3339(def: &PartitionsDefinition, t: i64) -> String {
    let tz = def.time_zone().unwrap_or(chrono_tz::UTC);
    strata_core::partitions::time_window::instant(t)
        .with_timezone(&tz)
        .to_rfc3339()
}

/// `strata partitions add|remove NAME KEY…`: changes a dynamic partitions set declared by some
/// asset of the repository; a bad name or key changes nothing.
fn change_dynamic(
    repository: &Repository,
    root: &Path,
    action: &PartitionsAction,
) -> Result<Outcome, CliError> {
    let (name, keys, adding) = match action {
        PartitionsAction::Add { name, keys } => (name, keys, true),
        PartitionsAction::Remove { name, keys } => (name, keys, false),
    };
    // Refuse before opening storage: a bad name or key creates nothing.
    dynamic::check(repository, name, keys, adding).map_err(|e| CliError::Usage(e.to_string()))?;
    let instance = crate::open_instance(root, repository.project())?;
    let clock = crate::clock::event_clock()?;
    let result = crate::runtime()?.block_on(dynamic::change(
        instance.storage.as_ref(),
        repository,
        name,
        keys.clone(),
        adding,
        clock(),
    ));
    let changed = match result {
        Ok(changed) => changed,
        Err(DynamicError::Storage(e)) => return Err(CliError::internal(e)),
        Err(e) => return Err(CliError::Usage(e.to_string())),
    };
    println!(
        "{} {} key{} {} `{name}`; it has {} now",
        if adding { "added" } else { "removed" },
        changed.changed,
        if changed.changed == 1 { "" } else { "s" },
        if adding { "to" } else { "from" },
        changed.keys.len()
    );
    Ok(Outcome::Ok)
}
