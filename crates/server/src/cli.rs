//! Command-line arguments, parsed once into typed values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Strata: partitioned, self-maintaining data assets from a folder of declarations.
///
/// Exit codes: 0 ok; 1 the command ran and what it checked failed; 2 usage or internal error.
#[derive(Debug, Parser)]
#[command(name = "strata", version, long_about = None, after_help = "Docs: docs/cli.md (commands), docs/declarations.md, docs/partitions.md, docs/selection.md")]
pub(crate) struct Cli {
    /// The repository: the folder holding strata.toml (default: the current directory).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub(crate) repo: PathBuf,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Load and validate the repository; print a summary, or every error with file:line:col.
    Check(JsonFlag),
    /// List assets: key, group, compute kind, partitions, dependencies, tags.
    Assets {
        /// Asset selection (e.g. `*flights/daily_delays`, `group:flights`); default: all.
        selection: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// The selected subgraph: nodes and edges, with each edge's partition mapping.
    Lineage {
        /// Asset selection, e.g. `+flights/daily_delays+`.
        selection: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// An asset's partitions with their time windows, or the partitions a set of keys maps to.
    Partitions(PartitionsArgs),
    /// Delete partition files no reader will be given again: files superseded by a newer
    /// materialization, and orphans of writes that crashed before committing — each only once
    /// older than the grace period.
    Gc(GcArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Keep files superseded (or written) less than this long ago, e.g. `1h`, `7d` [default: 1d].
    #[arg(long, value_name = "DURATION")]
    pub(crate) grace: Option<String>,
    /// Report what would be deleted; delete nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Args)]
pub(crate) struct JsonFlag {
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PartitionsArgs {
    /// The asset key, `group/name`.
    pub(crate) asset: String,
    /// Evaluate at this time (RFC 3339, e.g. 2013-06-01T00:00:00Z) instead of now.
    #[arg(long, value_name = "TS")]
    pub(crate) now: Option<String>,
    /// Show, per dependency, the upstream partitions these keys of ASSET need (repeatable).
    #[arg(long, value_name = "KEY", conflicts_with = "downstream_of")]
    pub(crate) upstream_of: Vec<String>,
    /// Show, per downstream asset, the partitions these keys of ASSET feed (repeatable).
    #[arg(long, value_name = "KEY")]
    pub(crate) downstream_of: Vec<String>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}
