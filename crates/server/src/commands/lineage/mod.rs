//! `strata lineage`: the selected subgraph as nodes and edges, with mappings; with
//! `--columns`, one asset's column lineage; with `--partition`, one partition's lineage.

mod columns;
mod partitions;

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use strata_core::model::Repository;

use super::{print_json, select};
use crate::cli::LineageArgs;
use crate::{CliError, Outcome};

#[derive(Serialize)]
struct Graph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

#[derive(Serialize)]
struct Node {
    key: String,
    kind: String,
    partitions: Option<String>,
}

#[derive(Serialize)]
struct Edge {
    from: String,
    to: String,
    mapping: String,
}

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &LineageArgs,
) -> Result<Outcome, CliError> {
    if args.columns {
        return columns::run(repository, root, &args.selection, args.output.json);
    }
    if args.partition.is_some() || args.upstream || args.downstream {
        return partitions::run(repository, root, args);
    }
    graph(repository, &args.selection, args.output.json)
}

fn graph(repository: &Repository, selection: &str, json: bool) -> Result<Outcome, CliError> {
    let keys = select(repository, selection)?;
    // Topological order (alphabetical among equals) so upstream assets print first.
    let order = repository
        .graph()
        .topological_order()
        .expect("a loaded repository has no cycles");
    let mut graph = Graph {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    for key in order.iter().filter(|k| keys.contains(k)) {
        let asset = repository.asset(key).expect("graph nodes are assets");
        graph.nodes.push(Node {
            key: key.to_string(),
            kind: asset.compute.kind().to_string(),
            partitions: asset.partitions_definition().map(|p| p.describe()),
        });
        for dep in asset.deps.iter().filter(|d| keys.contains(&d.key)) {
            graph.edges.push(Edge {
                from: dep.key.to_string(),
                to: key.to_string(),
                mapping: dep.mapping.describe(),
            });
        }
    }
    if json {
        print_json(&graph)?;
        return Ok(Outcome::Ok);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} assets, {} edges",
        graph.nodes.len(),
        graph.edges.len()
    )?;
    for node in &graph.nodes {
        writeln!(out, "{} [{}]", node.key, node.kind)?;
        for edge in graph.edges.iter().filter(|e| e.to == node.key) {
            writeln!(out, "  <- {} ({})", edge.from, edge.mapping)?;
        }
    }
    Ok(Outcome::Ok)
}
