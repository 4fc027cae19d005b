//! `strata status`: per asset, which partitions are materialized, missing, failed or in
//! progress (as key ranges), the latest materialization and the checks failing now.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use strata_core::model::{Compute, Repository};
use strata_core::partitions::{Keyspace, PartitionSubset};
use strata_engine::staleness::stale_report;
use strata_storage::event::Event;
use strata_storage::status::PartitionStatus;

use crate::cli::StatusArgs;
use crate::commands::runs::time;
use crate::commands::{print_json, select};
use crate::{CliError, Outcome, clock};

/// Ranges shown per state in text output (JSON has them all).
const RANGES_SHOWN: usize = 4;

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &StatusArgs,
) -> Result<Outcome, CliError> {
    let keys = match &args.selection {
        Some(selection) => select(repository, selection)?,
        None => repository.assets().map(|a| a.key.clone()).collect(),
    };
    let instance = crate::open_instance(root, repository.project())?;
    let now_secs = clock::now(None)?.timestamp();
    let storage = &instance.storage;
    let reports = crate::runtime()?.block_on(async {
        let dynamic = storage
            .dynamic_partitions()
            .await
            .map_err(CliError::internal)?;
        let keyspaces = repository.keyspaces(now_secs, &dynamic);
        let stale = stale_report(&instance, repository, &keyspaces)
            .await
            .map_err(CliError::internal)?;
        let mut reports = Vec::new();
        for key in repository.topological_order() {
            if !keys.contains(&key) {
                continue;
            }
            let asset = repository
                .asset(&key)
                .expect("selected from the repository");
            let mut report = serde_json::Map::new();
            report.insert("asset".into(), json!(key.to_string()));
            report.insert("kind".into(), json!(asset.compute.kind()));
            if let Compute::Source(_) = asset.compute {
                let observed = storage
                    .observations(&key)
                    .await
                    .map_err(CliError::internal)?;
                report.insert(
                    "last_observation".into(),
                    observed
                        .iter()
                        .max_by_key(|o| o.event_id)
                        .map(|o| json!({"at": time(o.timestamp), "data_version": o.data_version}))
                        .unwrap_or(Value::Null),
                );
                reports.push(Value::Object(report));
                continue;
            }
            let (status, keyspace) = match keyspaces.get(&key) {
                Some(keyspace) => (
                    storage
                        .partition_status(&key, keyspace)
                        .await
                        .map_err(CliError::internal)?,
                    Some(keyspace),
                ),
                None => (
                    storage
                        .unpartitioned_status(&key)
                        .await
                        .map_err(CliError::internal)?,
                    None,
                ),
            };
            report.insert("partitions".into(), json!(status.total));
            for (name, subset) in states(&status) {
                report.insert(name.into(), subset_json(&subset, keyspace));
            }
            let stale_map = stale.get(&key);
            let stale_subset = match (stale_map, keyspace) {
                (Some(map), Some(keys)) => PartitionSubset::from_indices(
                    map.keys().filter_map(|k| keys.index_of(k.as_deref()?)),
                ),
                (Some(map), None) if map.contains_key(&None) => PartitionSubset::from_range(0..1),
                _ => PartitionSubset::empty(),
            };
            let mut stale_json = subset_json(&stale_subset, keyspace);
            stale_json["causes"] = json!(
                stale_map
                    .into_iter()
                    .flatten()
                    .map(|(partition, causes)| json!({"partition": partition, "causes": causes}))
                    .collect::<Vec<_>>()
            );
            report.insert("stale".into(), stale_json);
            let latest = storage
                .materialization_history(&key, None, 1)
                .await
                .map_err(CliError::internal)?;
            report.insert(
                "last_materialization".into(),
                match latest.first() {
                    Some(record) => match &record.event {
                        Event::Materialization(m) => json!({
                            "at": time(record.timestamp),
                            "partition": m.partition,
                            "run_id": m.run_id,
                            "rows": m.rows,
                        }),
                        _ => Value::Null,
                    },
                    None => Value::Null,
                },
            );
            let mut failing: BTreeMap<String, (u64, String)> = BTreeMap::new();
            for result in storage
                .check_results(&key)
                .await
                .map_err(CliError::internal)?
            {
                if !result.passed {
                    let entry = failing
                        .entry(result.check.clone())
                        .or_insert((0, format!("{:?}", result.severity).to_lowercase()));
                    entry.0 += 1;
                }
            }
            report.insert(
                "failing_checks".into(),
                Value::Array(
                    failing
                        .into_iter()
                        .map(|(check, (partitions, severity))| {
                            json!({"check": check, "severity": severity, "partitions": partitions})
                        })
                        .collect(),
                ),
            );
            reports.push(Value::Object(report));
        }
        Ok::<_, CliError>(reports)
    })?;
    if args.output.json {
        print_json(&json!({ "assets": reports }))?;
    } else {
        for report in &reports {
            print_text(report);
        }
    }
    Ok(Outcome::Ok)
}

fn states(status: &PartitionStatus) -> [(&'static str, PartitionSubset); 4] {
    [
        ("materialized", status.materialized.clone()),
        ("missing", status.missing()),
        ("failed", status.failed.clone()),
        ("in_progress", status.in_progress.clone()),
    ]
}

/// `{"count": n, "ranges": [["2013-01-01", "2013-01-31"], …]}`.
fn subset_json(subset: &PartitionSubset, keyspace: Option<&Keyspace<'_>>) -> Value {
    let ranges: Vec<Value> = match keyspace {
        Some(keys) => subset
            .ranges()
            .into_iter()
            .map(|r| json!([keys.key(r.start), keys.key(r.end - 1)]))
            .collect(),
        None => Vec::new(),
    };
    json!({"count": subset.count(), "ranges": ranges})
}

fn print_text(report: &Value) {
    let asset = report["asset"].as_str().unwrap_or_default();
    if report["kind"] == "source" {
        let observed = match &report["last_observation"] {
            Value::Null => "never observed".to_string(),
            o => format!(
                "observed {} (data version {})",
                o["at"].as_str().unwrap_or_default(),
                o["data_version"].as_str().unwrap_or_default()
            ),
        };
        println!("{asset}  source · {observed}");
        return;
    }
    let count = |name: &str| report[name]["count"].as_u64().unwrap_or(0);
    let last = match &report["last_materialization"] {
        Value::Null => "never materialized".to_string(),
        m => format!("last {}", m["at"].as_str().unwrap_or_default()),
    };
    println!(
        "{asset}  {} partition{} · {} materialized · {} missing · {} failed · {} stale · {} in progress · {last}",
        report["partitions"],
        if report["partitions"] == 1 { "" } else { "s" },
        count("materialized"),
        count("missing"),
        count("failed"),
        count("stale"),
        count("in_progress"),
    );
    for name in ["missing", "failed", "stale", "in_progress"] {
        let ranges = report[name]["ranges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if ranges.is_empty() {
            continue;
        }
        let shown: Vec<String> = ranges
            .iter()
            .take(RANGES_SHOWN)
            .map(|r| match (r[0].as_str(), r[1].as_str()) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => String::new(),
            })
            .collect();
        let more = ranges.len().saturating_sub(RANGES_SHOWN);
        let more = if more > 0 {
            format!(" and {more} more ranges")
        } else {
            String::new()
        };
        println!("  {}: {}{more}", name.replace('_', " "), shown.join(", "));
    }
    if let Some(first) = report["stale"]["causes"].as_array().and_then(|c| c.first()) {
        let partition = first["partition"]
            .as_str()
            .map(|p| format!(" {p}"))
            .unwrap_or_default();
        let why: Vec<String> = first["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(describe_cause)
            .collect();
        println!("  stale because (e.g.{partition}): {}", why.join("; "));
    }
    for check in report["failing_checks"].as_array().into_iter().flatten() {
        println!(
            "  check {} ({}) failing on {} partition{}",
            check["check"].as_str().unwrap_or_default(),
            check["severity"].as_str().unwrap_or_default(),
            check["partitions"],
            if check["partitions"] == 1 { "" } else { "s" }
        );
    }
}

/// One stale cause in words.
fn describe_cause(cause: &Value) -> String {
    let text = |field: &str| cause[field].as_str().unwrap_or_default().to_string();
    match cause["cause"].as_str() {
        Some("code") => format!("code changed ({} → {})", text("recorded"), text("current")),
        Some("data") => {
            let range = match (cause["first"].as_str(), cause["last"].as_str()) {
                (Some(a), Some(b)) if a == b => format!(" {a}"),
                (Some(a), Some(b)) => format!(" {a}..{b}"),
                _ => String::new(),
            };
            format!("new data in {}{range}", text("upstream"))
        }
        Some("dependency") => {
            let partition = cause["partition"]
                .as_str()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            format!(
                "upstream {}{partition} is {}",
                text("upstream"),
                text("state")
            )
        }
        _ => cause.to_string(),
    }
}
