//! `strata lineage ASSET --partition KEY`: the partitions it was made from and those made
//! from it, with the data versions consumed.

use std::io::Write;
use std::path::Path;

use strata_core::model::Repository;
use strata_engine::lineage::partitions::{
    Direction, PartitionEdge, PartitionLineage, PartitionLineageError, partition_lineage,
};

use crate::cli::LineageArgs;
use crate::commands::{find_asset, print_json};
use crate::{CliError, Outcome, clock};

pub(super) fn run(
    repository: &Repository,
    root: &Path,
    args: &LineageArgs,
) -> Result<Outcome, CliError> {
    let asset = find_asset(repository, &args.selection)?;
    let direction = match (args.upstream, args.downstream) {
        (true, _) => Direction::Upstream,
        (_, true) => Direction::Downstream,
        _ => Direction::Both,
    };
    let partition = args.partition.as_deref().filter(|p| !p.is_empty());
    let instance = crate::open_instance(root, repository.project())?;
    let now_secs = clock::now(None)?.timestamp();
    let storage = instance.storage.as_ref();
    let lineage = crate::runtime()?.block_on(async {
        let dynamic = storage
            .dynamic_partitions()
            .await
            .map_err(CliError::internal)?;
        let keyspaces = repository.keyspaces(now_secs, &dynamic);
        partition_lineage(
            repository, storage, &keyspaces, &asset.key, partition, direction,
        )
        .await
        .map_err(|e| match e {
            PartitionLineageError::Storage(e) => CliError::internal(e),
            other => CliError::Usage(other.to_string()),
        })
    })?;
    if args.output.json {
        print_json(&lineage)?;
    } else {
        print_text(&lineage)?;
    }
    Ok(Outcome::Ok)
}

fn print_text(lineage: &PartitionLineage) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let root = &lineage.nodes[0];
    writeln!(
        out,
        "{}{}: data version {}{}{}",
        root.asset,
        label(root.partition.as_deref()),
        root.data_version.as_deref().unwrap_or("-"),
        root.materialized_at
            .as_deref()
            .map(|t| format!(", materialized {t}"))
            .unwrap_or_default(),
        root.run_id
            .as_deref()
            .map(|r| format!(" by run {r}"))
            .unwrap_or_default(),
    )?;
    // An edge's downstream side is at distance <= 0 walking up, >= 1 walking down.
    let depth = |asset: &strata_core::key::AssetKey, partition: &Option<String>| {
        lineage
            .nodes
            .iter()
            .find(|n| &n.asset == asset && &n.partition == partition)
            .map_or(0, |n| n.distance)
    };
    let (up, down): (Vec<&PartitionEdge>, Vec<&PartitionEdge>) = lineage
        .edges
        .iter()
        .partition(|e| depth(&e.downstream, &e.partition) <= 0);
    if lineage.direction != Direction::Downstream {
        writeln!(out, "made from:")?;
        for edge in up {
            let indent =
                "  ".repeat(1 + depth(&edge.downstream, &edge.partition).unsigned_abs() as usize);
            writeln!(
                out,
                "{indent}{}{} <- {}{} ({}, data version {}, {})",
                edge.downstream,
                label(edge.partition.as_deref()),
                edge.upstream,
                range(edge),
                count(edge.count),
                edge.data_version,
                if edge.current {
                    "current"
                } else {
                    "changed since"
                }
            )?;
        }
    }
    if lineage.direction != Direction::Upstream {
        writeln!(out, "used by:")?;
        for edge in down {
            let indent = "  ".repeat(depth(&edge.downstream, &edge.partition).max(1) as usize);
            writeln!(
                out,
                "{indent}{}{} -> {}{} ({}{})",
                edge.upstream,
                range(edge),
                edge.downstream,
                label(edge.partition.as_deref()),
                count(edge.count),
                if edge.current { "" } else { ", changed since" }
            )?;
        }
    }
    if lineage.truncated {
        writeln!(
            out,
            "(stopped at {} partitions; --json has them all up to there)",
            lineage.nodes.len()
        )?;
    }
    Ok(())
}

fn label(partition: Option<&str>) -> String {
    partition.map(|p| format!(" {p}")).unwrap_or_default()
}

fn range(edge: &PartitionEdge) -> String {
    match (&edge.first, &edge.last) {
        (Some(first), Some(last)) if first != last => format!(" {first}..{last}"),
        (Some(first), _) => format!(" {first}"),
        _ => String::new(),
    }
}

fn count(n: u64) -> String {
    format!("{n} partition{}", if n == 1 { "" } else { "s" })
}
