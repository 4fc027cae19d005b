//! The asset model: what a repository declares, checked, in the shape every later stage uses.
//!
//! Declarations (`strata.toml`, `assets/**`) are parsed into these types by [`crate::declare`];
//! execution, the daemon, lineage and the API read them and never the files. Values here are
//! already valid: durations parsed, crons and time zones checked, dependencies resolved to
//! assets that exist, mappings validated against both partitions definitions.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

use crate::automation::Condition;
use crate::cron::CronSchedule;
use crate::graph::AssetGraph;
use crate::key::AssetKey;
use crate::partitions::PartitionMapping;
use crate::partitions::PartitionsDefinition;
use crate::partitions::spec::{MappingSpec, PartitionsSpec};
use crate::selection::{AssetAttributes, Selection, SelectionError};
use crate::suggest;

/// One declared asset.
#[derive(Clone, Debug, PartialEq)]
pub struct Asset {
    /// `group/name`.
    pub key: AssetKey,
    /// The file that declares it, relative to the repository root.
    pub path: PathBuf,
    /// What it is, for people.
    pub description: Option<String>,
    /// Emails or `team:<name>`.
    pub owners: Vec<String>,
    /// Free `key = value` tags (cost tags such as `team` are ordinary tags).
    pub tags: BTreeMap<String, String>,
    /// Kinds: the compute kind (`sql`, `command`, `source`) plus any declared ones.
    pub kinds: BTreeSet<String>,
    /// The declared code version; when absent, execution derives one from what affects output.
    pub code_version: Option<String>,
    /// How the asset is partitioned, if it is.
    pub partitions: Option<Partitions>,
    /// What it reads, each with its partition mapping, sorted by key.
    pub deps: Vec<Dependency>,
    /// When it counts as fresh.
    pub freshness: Option<FreshnessPolicy>,
    /// When the daemon requests it.
    pub automation: Option<Automation>,
    /// Quality checks run after each materialization.
    pub checks: Vec<Check>,
    /// Retries of a failed step.
    pub retry: Option<RetryPolicy>,
    /// The longest a step may run.
    pub timeout: Option<Duration>,
    /// The IO manager (a name from `strata.toml`) that stores it.
    pub io_manager: String,
    /// The concurrency pool its steps take a slot of.
    pub pool: Option<String>,
    /// How a backfill runs it.
    pub backfill: BackfillPolicy,
    /// How it is computed.
    pub compute: Compute,
}

/// A partitions definition with the spec it was declared as.
#[derive(Clone, Debug, PartialEq)]
pub struct Partitions {
    /// As declared.
    pub spec: PartitionsSpec,
    /// Checked, ready to compute keys and windows.
    pub definition: PartitionsDefinition,
}

/// One upstream asset and how partitions map from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Dependency {
    /// The upstream asset.
    pub key: AssetKey,
    /// The mapping in effect: the declared one, else the one Dagster would infer.
    pub mapping: PartitionMapping,
    /// The mapping as declared, if one was.
    pub mapping_spec: Option<MappingSpec>,
}

/// The three forms of freshness policy.
#[derive(Clone, Debug, PartialEq)]
pub enum FreshnessPolicy {
    /// Dagster's (legacy) lag policy: data must be no older than `max_lag`, evaluated now or
    /// at the latest tick of `cron`.
    MaxLag {
        /// Lag beyond which the asset fails.
        max_lag: Duration,
        /// Lag beyond which it warns (less than `max_lag`).
        warn_lag: Option<Duration>,
        /// Evaluate at the ticks of this schedule instead of continuously.
        cron: Option<CronSpec>,
    },
    /// Dagster's newer cron policy: by each `deadline` tick, a materialization must have
    /// happened within `lower_bound` before it.
    Deadline {
        /// The deadline schedule.
        deadline: CronSpec,
        /// How long before the deadline a materialization still counts.
        lower_bound: Duration,
    },
    /// Time partitions: each partition must exist `partition_lag` after its window ends, for
    /// every window ended within `lookback`.
    PartitionLag {
        /// Delay after a window's end at which a missing partition fails.
        partition_lag: Duration,
        /// Delay at which it warns (less than `partition_lag`).
        warn_partition_lag: Option<Duration>,
        /// How far back windows are checked.
        lookback: Duration,
    },
}

/// A cron schedule as written, parsed, with its time zone (UTC unless given).
#[derive(Clone, Debug, PartialEq)]
pub struct CronSpec {
    /// As written.
    pub text: String,
    /// Parsed.
    pub schedule: CronSchedule,
    /// The time zone ticks are computed in.
    pub timezone: Tz,
}

/// An automation condition with the text it was written as.
#[derive(Clone, Debug, PartialEq)]
pub struct Automation {
    /// The expression as written.
    pub source: String,
    /// The parsed condition (built-ins still named; see [`Condition::expand`]).
    pub condition: Condition,
}

/// A quality check.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Unique within the asset: declared for `sql`, else derived (`not_null_carrier`).
    pub name: String,
    /// What is checked.
    pub kind: CheckKind,
    /// How bad a failure is.
    pub severity: Severity,
    /// Whether a failure (of severity error) stops downstream partitions in the same run.
    pub blocking: bool,
}

/// What a check verifies.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    /// These columns have no nulls.
    NotNull(Vec<String>),
    /// These columns, together, have no duplicate rows.
    Unique(Vec<String>),
    /// Every value of `column` is one of `values`.
    AcceptedValues {
        /// The column checked.
        column: String,
        /// The values allowed.
        values: Vec<Literal>,
    },
    /// The number of rows is within bounds.
    RowCount {
        /// At least this many rows.
        min: Option<u64>,
        /// At most this many rows.
        max: Option<u64>,
    },
    /// A query over `this` whose rows are failures.
    Sql {
        /// The query.
        query: String,
    },
}

/// A literal value in a declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Boolean(bool),
}

/// Check severity.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported, never blocks.
    Warn,
    /// A failure; blocks downstream when the check is blocking.
    Error,
}

/// Retries of a failed step (Dagster's `RetryPolicy`).
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// Base delay between attempts.
    pub delay: Duration,
    /// How the delay grows.
    pub backoff: Backoff,
    /// Whether the delay is randomized (full jitter).
    pub jitter: bool,
}

/// How the retry delay grows with attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Always `delay`.
    Constant,
    /// `attempt × delay`.
    Linear,
    /// `(2^attempt − 1) × delay`.
    Exponential,
}

/// How a backfill runs an asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackfillPolicy {
    /// One partition per step (the default).
    #[default]
    PerPartition,
    /// One query over the whole range (SQL assets only).
    SingleRun,
}

/// How an asset is computed.
#[derive(Clone, Debug, PartialEq)]
pub enum Compute {
    /// A DataFusion query over upstream tables.
    Sql(SqlCompute),
    /// An external program speaking the command protocol.
    Command(CommandCompute),
    /// An external asset Strata observes.
    Source(SourceCompute),
    /// A Rust function registered by the binary that runs the repository (the Rust API).
    Rust(RustCompute),
}

impl Compute {
    /// `sql`, `command` or `source`.
    pub fn kind(&self) -> &'static str {
        match self {
            Compute::Sql(_) => "sql",
            Compute::Command(_) => "command",
            Compute::Source(_) => "source",
            Compute::Rust(_) => "rust",
        }
    }
}

/// An SQL asset's query.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlCompute {
    /// The query, without the header.
    pub query: String,
    /// The 1-based line of the file where the query starts.
    pub line: u64,
}

/// A Rust asset: the name its function is registered under, and where the name is declared
/// (so a binary that has no such function can point at it).
#[derive(Clone, Debug, PartialEq)]
pub struct RustCompute {
    /// The registered function's name.
    pub function: String,
    /// Files hashed into the code version (e.g. the function's source file).
    pub code_files: Vec<String>,
    /// 1-based line of the `rust = "…"` value.
    pub line: u32,
    /// 1-based column of that value.
    pub col: u32,
}

/// A command asset.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandCompute {
    /// Program and arguments, run from the repository root.
    pub command: Vec<String>,
    /// Files hashed into the code version.
    pub code_files: Vec<String>,
    /// The format the command writes.
    pub output: DataFormat,
    /// The format it wants its inputs in.
    pub inputs: DataFormat,
    /// Pinned column types for CSV/NDJSON output.
    pub schema: BTreeMap<String, ColumnType>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
}

/// A file format of the command protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataFormat {
    /// Apache Parquet (the default).
    #[default]
    Parquet,
    /// Arrow IPC file.
    ArrowIpc,
    /// CSV with a header row.
    Csv,
    /// Newline-delimited JSON.
    Ndjson,
}

impl DataFormat {
    /// The names accepted in declarations, in order.
    pub const NAMES: [&'static str; 4] = ["parquet", "arrow_ipc", "csv", "ndjson"];

    /// Reads a declared name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "parquet" => Self::Parquet,
            "arrow_ipc" => Self::ArrowIpc,
            "csv" => Self::Csv,
            "ndjson" => Self::Ndjson,
            _ => return None,
        })
    }
}

/// A pinned column type (Arrow's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit signed integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// UTF-8 string.
    Utf8,
}

impl ColumnType {
    /// The names accepted in declarations, in order.
    pub const NAMES: [&'static str; 3] = ["int64", "float64", "utf8"];

    /// Reads a declared name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "int64" => Self::Int64,
            "float64" => Self::Float64,
            "utf8" => Self::Utf8,
            _ => return None,
        })
    }
}

/// A source asset: observed, never materialized by Strata.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceCompute {
    /// What is observed.
    pub target: SourceTarget,
    /// How often to observe it.
    pub interval: Duration,
}

/// What a source asset observes.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceTarget {
    /// A path or glob relative to the repository root.
    Path(String),
    /// A program whose output reports the source's state.
    Observe(Vec<String>),
}

/// `strata.toml`, checked, with defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectConfig {
    /// `[project] name`.
    pub name: String,
    /// Where instance metadata lives.
    pub storage: StorageConfig,
    /// IO managers by name; always holds `default`.
    pub io_managers: BTreeMap<String, IoManagerConfig>,
    /// IO managers declared `kind = "custom"`: implemented in Rust and registered by the binary
    /// that runs the repository (the Rust API), which fails to start without them.
    pub custom_io_managers: std::collections::BTreeSet<String>,
    /// Run execution limits.
    pub executor: ExecutorConfig,
    /// The automation daemon.
    pub daemon: DaemonConfig,
    /// Prices of measured resources.
    pub rate_card: RateCard,
    /// Alert channels and rules.
    pub alerts: AlertsConfig,
    /// OpenLineage export, when configured.
    pub openlineage: Option<OpenLineageConfig>,
    /// The HTTP server.
    pub server: ServerConfig,
}

/// A storage location: a path relative to the repository root or a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A plain path, relative to the repository root.
    Relative(PathBuf),
    /// `file:///abs/path`.
    File(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (no leading `/`; may be empty).
        prefix: String,
    },
    /// `memory://` (tests).
    Memory,
}

/// `[storage]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// The SQLite file (`.strata/strata.db` by default).
    pub url: Location,
}

/// An `[io_managers.<name>]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoManagerConfig {
    /// The file format it stores.
    pub kind: IoManagerKind,
    /// Where it stores.
    pub url: Location,
    /// S3: a custom endpoint.
    pub endpoint: Option<String>,
    /// S3: the region.
    pub region: Option<String>,
    /// S3: allow plain HTTP to the endpoint.
    pub allow_http: bool,
}

/// The format an IO manager stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoManagerKind {
    /// Parquet files.
    Parquet,
    /// Arrow IPC files.
    ArrowIpc,
}

/// `[executor]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// Steps running at once; the machine's CPU count when absent.
    pub concurrency: Option<u32>,
    /// Slots per pool.
    pub pools: BTreeMap<String, u32>,
}

/// `[daemon]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    /// Time between ticks (30 s by default).
    pub tick_interval: Duration,
    /// Runs launched per tick; the excess waits (50 by default).
    pub max_runs_per_tick: u32,
}

/// `[rate_card]`: prices in `currency`.
#[derive(Clone, Debug, PartialEq)]
pub struct RateCard {
    /// ISO 4217 code.
    pub currency: String,
    /// Time zone of daily and monthly cost periods.
    pub timezone: Tz,
    /// Per CPU hour.
    pub cpu_hour: f64,
    /// Per GB read.
    pub gb_read: f64,
    /// Per GB written.
    pub gb_written: f64,
    /// Per GB stored for a month.
    pub gb_month_stored: f64,
    /// Per unit that commands report (e.g. `credits`).
    pub units: BTreeMap<String, f64>,
}

/// `[alerts]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertsConfig {
    /// Channels by name.
    pub channels: BTreeMap<String, AlertChannel>,
    /// Rules, in declaration order.
    pub rules: Vec<AlertRule>,
    /// How deliveries are retried.
    pub delivery: DeliveryPolicy,
}

/// How a failed delivery is retried: `max_attempts` in all, waiting `retry_delay`, then twice
/// as long after each further failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts in all, from 1 (5 by default).
    pub max_attempts: u32,
    /// The wait after the first failure (2 s by default).
    pub retry_delay: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_delay: Duration::from_secs(2),
        }
    }
}

impl DeliveryPolicy {
    /// The wait after failed attempt `attempt` (from 1), or `None` when it was the last.
    pub fn retry_after(&self, attempt: u32) -> Option<Duration> {
        (attempt < self.max_attempts)
            .then(|| self.retry_delay.saturating_mul(1 << (attempt - 1).min(16)))
    }
}

/// An alert channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertChannel {
    /// The body format.
    pub kind: ChannelKind,
    /// Where to POST.
    pub url: String,
}

/// The body format of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// Strata's JSON body.
    Webhook,
    /// A Slack-compatible body.
    Slack,
}

/// An alert rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    /// Unique name.
    pub name: String,
    /// What fires it.
    pub when: AlertCondition,
    /// Which assets it watches.
    pub select: Selection,
    /// Channel names (all declared).
    pub channels: Vec<String>,
}

/// What fires an alert rule.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertCondition {
    /// A check failed, of this severity (any when absent).
    CheckFailed {
        /// Only failures of this severity.
        severity: Option<Severity>,
    },
    /// Freshness reached this level.
    Freshness(FreshnessLevel),
    /// A run failed.
    RunFailed,
    /// Cost over a threshold per period, grouped.
    Cost {
        /// The period summed.
        per: CostPeriod,
        /// The threshold, in the rate card's currency.
        over: f64,
        /// How costs are grouped.
        by: CostGrouping,
    },
}

/// A freshness level an alert fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreshnessLevel {
    /// Warn or worse.
    Warn,
    /// Fail.
    Fail,
}

/// The period a cost alert sums over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostPeriod {
    /// One materialization (`per = "materialization"`, or `"run"`): an asset's latest step.
    Run,
    /// A calendar day.
    Day,
    /// A calendar month.
    Month,
}

/// How a cost alert groups costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CostGrouping {
    /// Per asset (the default).
    Asset,
    /// Per group.
    Group,
    /// Per value of a tag.
    Tag(String),
}

/// `[openlineage]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenLineageConfig {
    /// Where events go.
    pub target: OpenLineageTarget,
    /// The job namespace (the project name by default).
    pub namespace: String,
}

/// Where OpenLineage events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenLineageTarget {
    /// POSTed to this URL.
    Url(String),
    /// Appended as NDJSON to this file (relative to the repository root).
    File(PathBuf),
}

/// `[server]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:3000` by default).
    pub bind: SocketAddr,
}

/// A checked repository: the project and its assets, which form an acyclic graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    project: ProjectConfig,
    assets: BTreeMap<AssetKey, Asset>,
    graph: AssetGraph,
    /// Derived once, for code that walks every asset at every tick; by node index.
    nodes: NodeTables,
}

/// Per-asset facts derived from the declarations, by node index (an asset's position in
/// [`AssetGraph::keys`], which is also the order of [`Repository::assets`]).
#[derive(Clone, Debug, PartialEq)]
struct NodeTables {
    /// Upstream first, ties alphabetical.
    order: Vec<usize>,
    /// Each asset's dependencies, in declaration order.
    dependencies: Vec<Vec<usize>>,
    /// The first asset with an equal partitions definition; `None` when unpartitioned.
    partitions_class: Vec<Option<usize>>,
    /// The first asset with the same automation condition; `None` without one.
    condition_class: Vec<Option<usize>>,
}

/// For each asset, the first asset whose `attribute` equals its own (`None` when it has none).
/// One comparison per asset when assets sharing a value are neighbours.
fn classes<T: PartialEq + ?Sized>(
    assets: &[&Asset],
    attribute: impl Fn(&Asset) -> Option<&T>,
) -> Vec<Option<usize>> {
    let mut classes: Vec<usize> = Vec::new();
    assets
        .iter()
        .enumerate()
        .map(|(i, asset)| {
            let value = attribute(asset)?;
            let same = |&&c: &&usize| attribute(assets[c]) == Some(value);
            Some(classes.iter().rev().find(same).copied().unwrap_or_else(|| {
                classes.push(i);
                i
            }))
        })
        .collect()
}

impl NodeTables {
    fn new(assets: &BTreeMap<AssetKey, Asset>, graph: &AssetGraph, order: Vec<usize>) -> Self {
        let assets: Vec<&Asset> = assets.values().collect();
        let dependencies = assets
            .iter()
            .map(|asset| {
                let index =
                    |dep: &Dependency| graph.index_of(&dep.key).expect("a checked dependency");
                asset.deps.iter().map(index).collect()
            })
            .collect();
        Self {
            order,
            dependencies,
            partitions_class: classes(&assets, Asset::partitions_definition),
            condition_class: classes(&assets, |a| a.automation.as_ref().map(|c| &c.source)),
        }
    }
}

/// Why assets do not form a repository.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RepositoryError {
    /// Two assets have one key.
    #[error("asset `{0}` is declared twice")]
    DuplicateKey(AssetKey),
    /// A dependency names no asset.
    #[error(transparent)]
    MissingNode(#[from] crate::graph::MissingNode),
    /// The dependencies form cycles.
    #[error("dependency cycle: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Cycles(Vec<crate::graph::Cycle>),
}

/// A key that names no asset, with the closest one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown asset `{key}`{}", .suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
pub struct UnknownAsset {
    /// The key asked for.
    pub key: String,
    /// The closest existing key.
    pub suggestion: Option<String>,
}

impl Repository {
    /// Builds a repository from valid assets: keys unique, dependencies existing, no cycles.
    pub fn new(project: ProjectConfig, assets: Vec<Asset>) -> Result<Self, RepositoryError> {
        let mut by_key = BTreeMap::new();
        for asset in assets {
            let key = asset.key.clone();
            if by_key.insert(key.clone(), asset).is_some() {
                return Err(RepositoryError::DuplicateKey(key));
            }
        }
        let graph = AssetGraph::new(
            by_key
                .values()
                .map(|asset| (asset.key.clone(), asset.deps.iter().map(|d| d.key.clone()))),
        )?;
        let order = graph
            .topological_indices()
            .ok_or_else(|| RepositoryError::Cycles(graph.cycles()))?;
        let nodes = NodeTables::new(&by_key, &graph, order);
        Ok(Self {
            project,
            assets: by_key,
            graph,
            nodes,
        })
    }

    /// `strata.toml`.
    pub fn project(&self) -> &ProjectConfig {
        &self.project
    }

    /// Every asset, sorted by key.
    pub fn assets(&self) -> impl ExactSizeIterator<Item = &Asset> {
        self.assets.values()
    }

    /// The asset with this key.
    pub fn asset(&self, key: &AssetKey) -> Option<&Asset> {
        self.assets.get(key)
    }

    /// The asset named by `text`, or an error suggesting the closest key.
    pub fn find(&self, text: &str) -> Result<&Asset, UnknownAsset> {
        if let Ok(key) = AssetKey::parse(text)
            && let Some(asset) = self.assets.get(&key)
        {
            return Ok(asset);
        }
        let names: Vec<String> = self.assets.keys().map(ToString::to_string).collect();
        Err(UnknownAsset {
            key: text.to_string(),
            suggestion: suggest::closest(text, names.iter().map(String::as_str))
                .map(str::to_string),
        })
    }

    /// The number of assets.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Whether there are no assets.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// The dependency graph.
    pub fn graph(&self) -> &AssetGraph {
        &self.graph
    }

    /// Every key, upstream before downstream, ties alphabetical.
    pub fn topological_order(&self) -> Vec<AssetKey> {
        self.nodes
            .order
            .iter()
            .map(|&i| self.graph.keys()[i].clone())
            .collect()
    }

    /// [`topological_order`](Self::topological_order) as node indices: positions in
    /// [`AssetGraph::keys`], which is also the order of [`assets`](Self::assets).
    pub fn topological_indices(&self) -> &[usize] {
        &self.nodes.order
    }

    /// The node indices of the asset's dependencies, in the order of [`Asset::deps`].
    pub fn dependency_indices(&self, node: usize) -> &[usize] {
        &self.nodes.dependencies[node]
    }

    /// The partitions class of an asset (a node index): the first asset, in key order, whose
    /// partitions definition equals its own — so two assets share a definition exactly when
    /// their classes are equal. `None` when the asset is unpartitioned.
    pub fn partitions_class(&self, node: usize) -> Option<usize> {
        self.nodes.partitions_class[node]
    }

    /// The condition class of an asset (a node index): the first asset, in key order, with the
    /// same automation condition. `None` when the asset has no condition.
    pub fn condition_class(&self, node: usize) -> Option<usize> {
        self.nodes.condition_class[node]
    }

    /// Every partitioned asset's keyspace at `now_secs` (seconds since the epoch).
    pub fn keyspaces<'a>(
        &'a self,
        now_secs: i64,
        dynamic: &'a dyn crate::partitions::definition::DynamicPartitions,
    ) -> BTreeMap<AssetKey, crate::partitions::Keyspace<'a>> {
        self.assets
            .values()
            .filter_map(|asset| {
                let def = asset.partitions_definition()?;
                Some((asset.key.clone(), def.keyspace(now_secs, dynamic)))
            })
            .collect()
    }

    /// `downstream`'s dependency on `upstream`, if it has one.
    pub fn dependency(&self, downstream: &AssetKey, upstream: &AssetKey) -> Option<&Dependency> {
        self.assets
            .get(downstream)?
            .deps
            .iter()
            .find(|dep| &dep.key == upstream)
    }

    /// The assets that depend on `key`, each with its dependency on it, sorted by key.
    pub fn dependents<'a>(
        &'a self,
        key: &'a AssetKey,
    ) -> impl Iterator<Item = (&'a Asset, &'a Dependency)> + 'a {
        self.graph.downstream(key).filter_map(move |down| {
            let asset = self.assets.get(down)?;
            Some((asset, asset.deps.iter().find(|dep| &dep.key == key)?))
        })
    }

    /// Resolves a selection (see [`crate::selection`]) against this repository.
    pub fn select(&self, text: &str) -> Result<BTreeSet<AssetKey>, SelectionError> {
        Selection::parse(text)?.resolve(&self.graph, self)
    }
}

impl AssetAttributes for Repository {
    fn has_tag(&self, key: &AssetKey, tag: &str, value: Option<&str>) -> bool {
        self.assets
            .get(key)
            .is_some_and(|asset| asset.has_tag(tag, value))
    }

    fn has_kind(&self, key: &AssetKey, kind: &str) -> bool {
        self.assets
            .get(key)
            .is_some_and(|asset| asset.kinds.contains(kind))
    }
}

impl Asset {
    /// Whether the asset has tag `tag` (with value `value` when given).
    pub fn has_tag(&self, tag: &str, value: Option<&str>) -> bool {
        self.tags
            .get(tag)
            .is_some_and(|v| value.is_none_or(|value| value == v))
    }

    /// The partitions definition, if partitioned.
    pub fn partitions_definition(&self) -> Option<&PartitionsDefinition> {
        self.partitions.as_ref().map(|p| &p.definition)
    }
}
