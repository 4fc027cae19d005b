//! Command-line arguments, parsed once into typed values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Strata: partitioned, self-maintaining data assets from a folder of declarations.
///
/// Exit codes: 0 ok; 1 the command ran and what it checked failed; 2 usage or internal error.
#[derive(Debug, Parser)]
#[command(name = "strata", version, long_about = None, after_help = "Docs: docs/cli.md (commands), docs/declarations.md, docs/partitions.md, docs/selection.md, docs/costs.md, docs/alerts.md")]
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
    /// The selected subgraph (nodes and edges, with each edge's partition mapping); or one
    /// asset's column lineage (--columns); or one partition's lineage (--partition).
    ///
    /// --columns: each column of ASSET with the upstream columns it comes from and how (copy,
    /// expression, window, aggregate), and the columns that decide its rows (join keys,
    /// filters, GROUP BY, ORDER BY). SQL assets are planned against their upstreams' schemas;
    /// commands show what they reported with `column_lineage` events.
    ///
    /// --partition KEY: the upstream partitions and data versions that materialized partition
    /// was made from, recursively, and the downstream partitions made from it; --upstream or
    /// --downstream walks one way only. For an unpartitioned asset, give --upstream or
    /// --downstream alone, or --partition '' for both.
    Lineage(LineageArgs),
    /// An asset's partitions with their time windows, or the partitions a set of keys maps to.
    Partitions(PartitionsArgs),
    /// Materialize the selected assets' partitions in dependency order, with a progress bar.
    ///
    /// Partitioned assets need a partition set: --partition, --from/--to (inclusive keys when
    /// every selected partitioned asset shares one definition, else dates: windows starting
    /// within the range), --missing or --failed. Unpartitioned assets run once (with --missing or
    /// --failed, only when missing or failed). Exit 1 if any step failed.
    Materialize(MaterializeArgs),
    /// Start a persistent backfill of the selected assets' partitions and run it here.
    ///
    /// Like `materialize`, but the request is recorded first: an interrupted backfill (Ctrl-C,
    /// a crash, `kill -9`) continues with `strata backfills resume ID` and does nothing twice;
    /// `strata backfills cancel ID` stops it. SQL assets declared `backfill = "single_run"`
    /// compute each contiguous range in one query. Exit 1 if any step failed.
    Backfill(MaterializeArgs),
    /// Backfills, newest first, with progress; `show`, `resume` or `cancel` one.
    Backfills(BackfillsArgs),
    /// Runs, newest first; `strata runs show RUN_ID` for one run's steps and logs.
    Runs(RunsArgs),
    /// Read-only SQL over materialized assets: each asset is the table `group.name` with a
    /// `partition_key` column (one column per dimension for two-dimensional assets).
    Query(QueryArgs),
    /// Per asset: materialized, missing, failed, stale and in-progress partitions (as ranges),
    /// why stale partitions are stale, the latest materialization and failing checks.
    Status(StatusArgs),
    /// Delete partition files no reader will be given again: files superseded by a newer
    /// materialization, and orphans of writes that crashed before committing — each only once
    /// older than the grace period.
    Gc(GcArgs),
    /// Declarative automation: run a tick now (`tick`), explain a decision (`why`), list ticks.
    ///
    /// Each asset's `automation` condition is evaluated over its partitions; what is requested
    /// runs through the executor. `STRATA_NOW` or `--now` fixes "now" for replays.
    Automation(AutomationArgs),
    /// Freshness of every asset with a policy: state (fresh, warn, fail, unknown), data time,
    /// lag, how overdue, and which partitions are late.
    Freshness(FreshnessArgs),
    /// What assets cost: CPU, bytes read and written and units commands reported, priced by
    /// `[rate_card]`, plus storage accrued from the bytes each asset holds per day.
    ///
    /// Rows are sorted by cost (days in date order) and add up to the total line. `--json`
    /// gives every figure: amounts by kind (compute, read, written, units, storage) and usage
    /// (CPU and wall seconds, bytes and rows read and written, peak memory).
    Costs(CostsArgs),
    /// Alert rules (from strata.toml and the API), their history of firings and resolutions,
    /// and `test RULE`, which sends a sample to the rule's channels.
    Alerts(AlertsArgs),
    /// Record a materialization that happened outside Strata (an external pipeline wrote the
    /// data): status, freshness and automation treat it like any other.
    Report(ReportArgs),
    /// Run the automation daemon in the foreground: a tick every `[daemon] tick_interval`,
    /// launching the runs it requests, until Ctrl-C.
    Daemon,
    /// Serve the HTTP API (and UI) with the automation daemon and the executor in one process,
    /// reloading definitions when the repository's files change, until Ctrl-C or SIGTERM.
    Serve {
        /// The address and port to listen on (default: `[server] bind` of strata.toml,
        /// 127.0.0.1:3000 unless set).
        #[arg(long, value_name = "ADDR:PORT")]
        bind: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AutomationArgs {
    #[command(subcommand)]
    pub(crate) action: AutomationAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AutomationAction {
    /// Evaluate every condition now: store the tick, launch what it requests and wait for it.
    Tick {
        /// Evaluate as of this RFC 3339 time instead of now (also stamps what it records).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Store nothing and launch nothing: what a tick would request now.
        #[arg(long, conflicts_with = "no_launch")]
        dry_run: bool,
        /// Store the tick (its requests count as requested) but launch nothing.
        #[arg(long)]
        no_launch: bool,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Why an asset was (or was not) requested: its condition as a tree, each clause true or
    /// false, since when.
    Why {
        /// The asset, e.g. `flights/daily_delays`.
        asset: String,
        /// Explain this partition only.
        #[arg(long, value_name = "KEY")]
        partition: Option<String>,
        /// At this tick [default: the latest that evaluated the asset].
        #[arg(long, value_name = "N")]
        tick: Option<i64>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Recent ticks: when, how long, how many assets evaluated and skipped, what was requested.
    Ticks {
        /// How many ticks to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub(crate) struct FreshnessArgs {
    /// Asset selection; default: every asset with a freshness policy.
    pub(crate) selection: Option<String>,
    /// Evaluate as of this RFC 3339 time instead of now.
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<String>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The asset, e.g. `raw/flights`.
    pub(crate) asset: String,
    /// A partition that was written (repeat for several); required for partitioned assets.
    #[arg(long, value_name = "KEY")]
    pub(crate) partition: Vec<String>,
    /// The data version of what was written [default: a new unique version].
    #[arg(long, value_name = "VERSION")]
    pub(crate) data_version: Option<String>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Args)]
pub(crate) struct MaterializeArgs {
    /// Asset selection, e.g. `*`, `+flights/daily_delays`, `group:flights`.
    pub(crate) selection: String,
    #[command(flatten)]
    pub(crate) partitions: PartitionArgs,
    /// Steps at once [default: `[executor] concurrency`, else the number of CPUs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) concurrency: Option<u32>,
    /// Print the steps that would run; run nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

/// Which partitions of the selected partitioned assets.
#[derive(Debug, Args)]
pub(crate) struct PartitionArgs {
    /// One partition key (of every selected partitioned asset).
    #[arg(long, value_name = "KEY", conflicts_with_all = ["from", "missing", "failed", "stale"])]
    pub(crate) partition: Option<String>,
    /// First partition of an inclusive range (a key, a date or an RFC 3339 time).
    #[arg(long, value_name = "A", requires = "to", conflicts_with_all = ["missing", "failed", "stale"])]
    pub(crate) from: Option<String>,
    /// Last partition of the range, inclusive.
    #[arg(long, value_name = "B", requires = "from")]
    pub(crate) to: Option<String>,
    /// Every partition that has never been materialized.
    #[arg(long, conflicts_with_all = ["failed", "stale"])]
    pub(crate) missing: bool,
    /// Every partition whose latest step failed.
    #[arg(long, conflicts_with = "stale")]
    pub(crate) failed: bool,
    /// Every materialized partition that is stale: its code changed, an input's data changed,
    /// or an upstream partition is stale or missing (`strata status` shows why).
    #[arg(long)]
    pub(crate) stale: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<RunsAction>,
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RunsAction {
    /// One run: its steps with timings and errors, and its log.
    Show {
        /// The run id.
        run_id: String,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BackfillsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<BackfillsAction>,
    /// How many backfills to list.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BackfillsAction {
    /// One backfill: what it requests, its progress and its runs.
    Show {
        /// The backfill id.
        backfill_id: String,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Continue an interrupted or failed backfill here: runs what it has not yet committed.
    Resume {
        /// The backfill id.
        backfill_id: String,
        /// Steps at once [default: `[executor] concurrency`, else the number of CPUs].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        concurrency: Option<u32>,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Cancel a backfill: no new steps start, and steps in flight are stopped.
    Cancel {
        /// The backfill id.
        backfill_id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The query, e.g. "SELECT origin, count(*) FROM flights.clean_flights GROUP BY origin".
    pub(crate) sql: String,
    /// Print a JSON array of row objects.
    #[arg(long, conflicts_with = "csv")]
    pub(crate) json: bool,
    /// Print CSV with a header row.
    #[arg(long)]
    pub(crate) csv: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Asset selection; default: all.
    pub(crate) selection: Option<String>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Args)]
pub(crate) struct CostsArgs {
    /// Asset selection; default: all.
    pub(crate) selection: Option<String>,
    /// Group rows by `asset`, `partition`, `group`, `day` or `tag:KEY` (e.g. `tag:team`).
    #[arg(long, value_name = "GROUPING", default_value = "asset")]
    pub(crate) by: String,
    /// From this date (YYYY-MM-DD, in the rate card's time zone) or RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub(crate) since: Option<String>,
    /// Up to this date (inclusive) or RFC 3339 time (exclusive); default: now.
    #[arg(long, value_name = "DATE")]
    pub(crate) until: Option<String>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Args)]
pub(crate) struct AlertsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<AlertsAction>,
    #[command(flatten)]
    pub(crate) output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertsAction {
    /// Every rule, where it comes from, and the subjects it is firing for (the default).
    List {
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Firings and resolutions, newest first, with each channel's delivery.
    History {
        /// Only this rule's.
        #[arg(long, value_name = "RULE")]
        rule: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Send a sample alert of RULE to each of its channels now (changes no state); exit 1 if
    /// a channel did not accept it.
    Test {
        /// The rule's name.
        rule: String,
        #[command(flatten)]
        output: JsonFlag,
    },
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
pub(crate) struct LineageArgs {
    /// Asset selection, e.g. `+flights/daily_delays+`; one asset with --columns or --partition.
    pub(crate) selection: String,
    /// Column lineage of the asset.
    #[arg(long, conflicts_with = "partition")]
    pub(crate) columns: bool,
    /// Partition lineage of this materialized partition of the asset.
    #[arg(long, value_name = "KEY")]
    pub(crate) partition: Option<String>,
    /// Partition lineage, only what the partition was made from (alone: of an unpartitioned
    /// asset).
    #[arg(long, conflicts_with_all = ["downstream", "columns"])]
    pub(crate) upstream: bool,
    /// Partition lineage, only what was made from the partition (alone: of an unpartitioned
    /// asset).
    #[arg(long, conflicts_with = "columns")]
    pub(crate) downstream: bool,
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
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct PartitionsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<PartitionsAction>,
    /// The asset key, `group/name`.
    #[arg(required = true)]
    pub(crate) asset: Option<String>,
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

#[derive(Debug, Subcommand)]
pub(crate) enum PartitionsAction {
    /// Add keys to a dynamic partitions set (`partitions = { dynamic = "NAME" }`); keys it
    /// already has are left as they are.
    Add {
        /// The set's name.
        name: String,
        /// The keys, in order.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Remove keys from a dynamic partitions set (their materializations stay in history).
    Remove {
        /// The set's name.
        name: String,
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
}
