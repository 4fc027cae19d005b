//! Tests of the declaration loader: a valid repository, then each kind of error with its
//! message and file:line:col pinned.

use std::time::Duration;

use super::*;
use crate::model::{
    AlertCondition, BackfillPolicy, CheckKind, Compute, CostGrouping, CostPeriod, DataFormat,
    FreshnessPolicy, Location, OpenLineageTarget, Severity, SourceTarget,
};

const PROJECT: &str = r#"
[project]
name = "flights"
[storage]
url = ".strata/strata.db"
[io_managers.default]
kind = "parquet"
url = ".strata/data"
[io_managers.lake]
kind = "arrow_ipc"
url = "s3://bucket/prefix"
region = "eu-west-1"
[executor]
concurrency = 4
pools = { warehouse = 2 }
[daemon]
tick_interval = "30s"
max_runs_per_tick = 50
[rate_card]
currency = "USD"
timezone = "UTC"
cpu_hour = 0.05
gb_read = 0.0
gb_written = 0.01
gb_month_stored = 0.023
units = { credits = 3.0 }
[alerts.channels.ops]
kind = "webhook"
url = "http://127.0.0.1:9999/hook"
[[alerts.rules]]
name = "ops-quality"
when = { check_failed = { severity = "error" } }
select = "tag:team=ops"
channels = ["ops"]
[[alerts.rules]]
name = "budget"
when = { cost = { per = "month", over = 100.0, by = "tag:team" } }
channels = ["ops"]
[[alerts.rules]]
name = "runs"
when = "run_failed"
select = "group:flights"
channels = ["ops"]
[openlineage]
url = "http://127.0.0.1:5000/api/v1/lineage"
namespace = "flights"
[server]
bind = "127.0.0.1:3000"
"#;

const RAW_FLIGHTS: &str = r#"
description = "Flights as delivered"
command = ["python3", "scripts/ingest.py"]
code_files = ["scripts/ingest.py"]
output = "csv"
inputs = "ndjson"
schema = { flights = "int64", origin = "utf8" }
env = { MODE = "full" }
partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
tags = { team = "ingest" }
retry = { max_retries = 3, delay = "2s", backoff = "exponential", jitter = true }
timeout = "10m"
pool = "warehouse"
[deps."raw/landing"]
"#;

const LANDING: &str = r#"
source = { path = "landing/*.csv", interval = "5m" }
kinds = ["csv"]
"#;

const DAILY_DELAYS: &str = r#"/*---
description = "Average departure delay per carrier"
partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
automation = "eager.ignore('raw/landing')"
freshness = { max_lag = "26h", warn_lag = "20h" }
tags = { team = "ops", cost_center = "analytics" }
owners = ["ops@example.com", "team:ops"]
checks = [
  { not_null = ["carrier"] },
  { unique = ["carrier"], severity = "warn" },
  { accepted_values = { column = "origin", values = ["EWR", "JFK", "LGA"] } },
  { row_count = { min = 1 }, blocking = true },
  { sql = "SELECT * FROM this WHERE dep_delay < -120", name = "no_absurd_delays" },
]
io_manager = "lake"
[deps."raw/flights"]
mapping = { time_window = { start_offset = -6, end_offset = 0 } }
---*/
SELECT carrier, avg(dep_delay) AS avg_dep_delay, count(*) AS flights
FROM raw.flights GROUP BY carrier
"#;

const WEEKLY: &str = r#"/*---
partitions = { weekly = { start = "2013-01-01", timezone = "America/New_York" } }
freshness = { partition_lag = "9h", warn_partition_lag = "6h", lookback = "7d" }
backfill = "single_run"
automation = "on_cron('0 9 * * 1', 'America/New_York') & !any_deps_missing"
---*/
WITH d AS (SELECT * FROM flights.daily_delays)
SELECT partition_key, carrier, avg(avg_dep_delay) AS delay FROM d GROUP BY 1, 2
"#;

fn files(assets: &[(&str, &str)]) -> Vec<SourceFile> {
    assets
        .iter()
        .map(|(path, text)| SourceFile::new(*path, *text))
        .collect()
}

fn valid_assets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("assets/raw/flights.toml", RAW_FLIGHTS),
        ("assets/raw/sources/landing.toml", LANDING),
        ("assets/flights/daily_delays.sql", DAILY_DELAYS),
        ("assets/stats/weekly.sql", WEEKLY),
        ("assets/raw/notes.md", "not an asset"),
    ]
}

fn load(project: &str, assets: &[(&str, &str)]) -> Result<Repository, Vec<Diagnostic>> {
    load_repository(SourceFile::new("strata.toml", project), files(assets))
}

/// The diagnostics of a repository that must fail, as displayed.
fn errors(project: &str, assets: &[(&str, &str)]) -> Vec<String> {
    match load(project, assets) {
        Ok(_) => panic!("expected errors"),
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn key(text: &str) -> AssetKey {
    AssetKey::parse(text).unwrap()
}

/// The same asset files with one replaced.
fn with(path: &'static str, text: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut assets = valid_assets();
    match assets.iter_mut().find(|(p, _)| *p == path) {
        Some(slot) => slot.1 = text,
        None => assets.push((path, text)),
    }
    assets
}

#[test]
fn loads_a_valid_repository() {
    let repo = load(PROJECT, &valid_assets()).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let keys: Vec<String> = repo.assets().map(|a| a.key.to_string()).collect();
    assert_eq!(
        keys,
        [
            "flights/daily_delays",
            "raw/flights",
            "raw/landing",
            "stats/weekly"
        ]
    );
    assert_eq!(
        repo.topological_order(),
        [
            key("raw/landing"),
            key("raw/flights"),
            key("flights/daily_delays"),
            key("stats/weekly")
        ]
    );

    let delays = repo.find("flights/daily_delays").unwrap();
    assert_eq!(delays.io_manager, "lake");
    assert_eq!(delays.owners, ["ops@example.com", "team:ops"]);
    assert!(delays.kinds.contains("sql"));
    assert_eq!(delays.deps.len(), 1);
    assert_eq!(delays.deps[0].key, key("raw/flights"));
    assert!(delays.deps[0].mapping_spec.is_some());
    assert_eq!(
        delays.freshness,
        Some(FreshnessPolicy::MaxLag {
            max_lag: Duration::from_secs(26 * 3600),
            warn_lag: Some(Duration::from_secs(20 * 3600)),
            cron: None,
        })
    );
    let names: Vec<&str> = delays.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "not_null_carrier",
            "unique_carrier",
            "accepted_values_origin",
            "row_count",
            "no_absurd_delays"
        ]
    );
    assert_eq!(delays.checks[1].severity, Severity::Warn);
    assert!(delays.checks[3].blocking);
    assert_eq!(
        delays.checks[3].kind,
        CheckKind::RowCount {
            min: Some(1),
            max: None
        }
    );
    let automation = delays.automation.as_ref().unwrap();
    assert_eq!(automation.source, "eager.ignore('raw/landing')");
    let Compute::Sql(sql) = &delays.compute else {
        panic!()
    };
    assert!(sql.query.starts_with("SELECT carrier"));
    assert_eq!(sql.line, 19);

    let raw = repo.find("raw/flights").unwrap();
    let Compute::Command(command) = &raw.compute else {
        panic!()
    };
    assert_eq!(command.command, ["python3", "scripts/ingest.py"]);
    assert_eq!(
        (command.output, command.inputs),
        (DataFormat::Csv, DataFormat::Ndjson)
    );
    assert_eq!(command.env["MODE"], "full");
    assert_eq!(raw.retry.as_ref().unwrap().max_retries, 3);
    assert_eq!(raw.timeout, Some(Duration::from_secs(600)));
    assert_eq!(raw.pool.as_deref(), Some("warehouse"));
    assert_eq!(raw.deps[0].key, key("raw/landing"));

    let landing = repo.find("raw/landing").unwrap();
    let Compute::Source(source) = &landing.compute else {
        panic!()
    };
    assert_eq!(source.target, SourceTarget::Path("landing/*.csv".into()));
    assert_eq!(source.interval, Duration::from_secs(300));
    assert!(landing.kinds.contains("csv") && landing.kinds.contains("source"));

    let weekly = repo.find("stats/weekly").unwrap();
    assert_eq!(weekly.backfill, BackfillPolicy::SingleRun);
    assert_eq!(weekly.deps[0].key, key("flights/daily_delays"));

    let project = repo.project();
    assert_eq!(project.name, "flights");
    assert_eq!(
        project.io_managers["lake"].url,
        Location::S3 {
            bucket: "bucket".into(),
            prefix: "prefix".into()
        }
    );
    assert_eq!(project.executor.pools["warehouse"], 2);
    assert_eq!(project.rate_card.units["credits"], 3.0);
    assert_eq!(project.alerts.rules.len(), 3);
    assert_eq!(
        project.alerts.rules[1].when,
        AlertCondition::Cost {
            per: CostPeriod::Month,
            over: 100.0,
            by: CostGrouping::Tag("team".into())
        }
    );
    assert_eq!(project.alerts.rules[1].select.as_str(), "*");
    assert_eq!(
        project.openlineage.as_ref().unwrap().target,
        OpenLineageTarget::Url("http://127.0.0.1:5000/api/v1/lineage".into())
    );

    assert_eq!(
        repo.select("tag:team=ops")
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [key("flights/daily_delays")]
    );
    assert_eq!(repo.select("*stats/weekly").unwrap().len(), 4);
    assert_eq!(repo.select("kind:source").unwrap().len(), 1);
    let dependents: Vec<String> = repo
        .dependents(&key("raw/flights"))
        .map(|(asset, _)| asset.key.to_string())
        .collect();
    assert_eq!(dependents, ["flights/daily_delays"]);
    assert_eq!(
        repo.find("flights/daily_delay").unwrap_err().to_string(),
        "unknown asset `flights/daily_delay`; did you mean `flights/daily_delays`?"
    );
}

#[test]
fn minimal_project_gets_defaults() {
    let repo = load("[project]\nname = \"x\"\n", &[]).unwrap();
    let project = repo.project();
    assert_eq!(
        project.storage.url,
        Location::Relative(".strata/strata.db".into())
    );
    assert_eq!(
        project.io_managers["default"].url,
        Location::Relative(".strata/data".into())
    );
    assert_eq!(project.daemon.tick_interval, Duration::from_secs(30));
    assert_eq!(project.server.bind.to_string(), "127.0.0.1:3000");
    assert!(repo.is_empty());
}

/// The "done when" repository: a cycle, an unknown dependency, a bad time zone, an invalid
/// key and a malformed header, all reported at once with file:line:col.
#[test]
fn reports_every_error_at_once_with_positions() {
    let assets = [
        ("assets/g/a.sql", "/*---\n---*/\nSELECT * FROM g.c"),
        ("assets/g/b.sql", "SELECT *\nFROM g.a"),
        (
            "assets/g/c.sql",
            "SELECT * FROM g.b JOIN g.missing_one USING (k)",
        ),
        (
            "assets/g/tz.sql",
            "/*---\nfreshness = { deadline = \"0 9 * * *\", lower_bound = \"1h\", timezone = \"Europe/Berlln\" }\n---*/\nSELECT 1",
        ),
        ("assets/g/Bad-Name.sql", "SELECT 1"),
        (
            "assets/g/open.sql",
            "/*---\ndescription = \"never closed\"\nSELECT 1",
        ),
        ("assets/g/toml_error.toml", "command = [\"x\"\n"),
    ];
    assert_eq!(
        errors("[project]\nname = \"x\"\n", &assets),
        [
            "assets/g/Bad-Name.sql:1:1: invalid asset key `g/Bad-Name` (from the file path): \
             segments may use only lowercase letters, digits and `_`\n  \
             hint: rename the file or folder, or set key = \"g/bad_name\"",
            "assets/g/a.sql:3:15: dependency cycle: g/a → g/b → g/c → g/a\n  \
             hint: `a → b` means b reads a; remove one of these dependencies",
            "assets/g/c.sql:1:24: table `g.missing_one` is not an asset (no asset `g/missing_one`)",
            "assets/g/open.sql:1:1: malformed header: `/*---` is never closed by `---*/`\n  \
             hint: end the TOML header with a line `---*/`",
            "assets/g/toml_error.toml:1:15: invalid TOML: unclosed array, expected `]`",
            "assets/g/tz.sql:2:70: `freshness.timezone`: unknown time zone `Europe/Berlln`\n  \
             hint: did you mean `Europe/Berlin`?",
        ]
    );
}

#[test]
fn unknown_dependencies_suggest_the_closest_key() {
    let assets = with(
        "assets/stats/weekly.sql",
        "SELECT * FROM flights.daily_delay",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/weekly.sql:1:15: table `flights.daily_delay` is not an asset \
          (no asset `flights/daily_delay`)\n  hint: did you mean `flights.daily_delays`?"
        ]
    );
    let assets = with(
        "assets/stats/extra.toml",
        "command = [\"true\"]\n[deps.\"raw/flight\"]\n",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/extra.toml:2:7: unknown asset `raw/flight` in `deps`\n  \
          hint: did you mean `raw/flights`?"
        ]
    );
    let assets = with("assets/stats/extra.sql", "SELECT * FROM daily_delays");
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/extra.sql:1:15: table `daily_delays` is not an asset table: asset tables \
          are `group.name`\n  hint: did you mean `flights.daily_delays`?"
        ]
    );
}

#[test]
fn header_positions_are_file_positions() {
    let text = "/*---\ndescription = \"d\"\ntimeout = \"10x\"\nautomation = \"eager & missin\"\n---*/\nSELECT 1";
    let assets = with("assets/stats/h.sql", text);
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/h.sql:3:14: `timeout`: invalid duration `10x`: unknown unit `x`; units \
             are `s`, `m`, `h` and `d`\n  hint: durations look like \"90s\", \"15m\", \"26h\", \"7d\" or \"1h30m\"",
            "assets/stats/h.sql:4:23: `automation`: unknown condition `missin`\n  \
             hint: did you mean `missing`?",
        ]
    );
}

#[test]
fn sql_errors_are_located_in_the_file() {
    let text = "/*---\ndescription = \"d\"\n---*/\nSELECT a\n  FROM raw.flights WHERE )";
    let assets = with("assets/stats/s.sql", text);
    let shown = errors(PROJECT, &assets);
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].starts_with("assets/stats/s.sql:5:26: SQL syntax error: "),
        "{}",
        shown[0]
    );
    let assets = with("assets/stats/s.sql", "SELECT 1\n/*--- tags = {} ---*/");
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/s.sql:2:1: the `/*--- … ---*/` header must come first in the file\n  \
          hint: move it above the query"
        ]
    );
}

#[test]
fn unknown_fields_name_the_closest() {
    let assets = with(
        "assets/stats/u.toml",
        "command = [\"x\"]\ndescriptoin = \"d\"\nbackfill = \"single_run\"\nfreshness = { max_lag = \"1h\", lower_bound = \"1h\" }\npartitions = { daily = { start = \"2013-01-01\", timezon = \"UTC\" } }\n",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/u.toml:2:1: unknown field `descriptoin` in a command asset\n  \
             hint: did you mean `description`?",
            "assets/stats/u.toml:3:1: `backfill` applies only to SQL assets (`backfill = \
             \"single_run\"` runs one query over a range)",
            "assets/stats/u.toml:4:31: `lower_bound` cannot be combined with `max_lag`: a \
             freshness policy has one form",
            "assets/stats/u.toml:5:48: `partitions`: unknown field `timezon`\n  \
             hint: did you mean `timezone`?",
        ]
    );
}

#[test]
fn project_errors() {
    let project = r#"
[project]
name = "x"
[storage]
url = "postgres://db/strata"
[io_managers.default]
url = "gs://bucket/data"
[io_managers.other]
kind = "csv"
[executor]
concurency = 4
pools = { warehouse = 0 }
[daemon]
tick_interval = "0s"
[rate_card]
currency = "dollars"
timezone = "Mars/Base"
cpu_hour = -1
[alerts.channels.ops]
kind = "email"
url = "ftp://x"
[[alerts.rules]]
name = "r"
when = { freshness = "late" }
select = "grop:x"
channels = ["opps"]
[openlineage]
namespace = "n"
[server]
bind = "localhost"
[auth]
users = []
"#;
    assert_eq!(
        errors(project, &[]),
        [
            "strata.toml:5:7: `storage.url`: postgres:// is not supported yet (PostgreSQL \
             storage comes later)\n  hint: supported here: a plain path or `file://` or `sqlite://`",
            "strata.toml:7:7: `io_managers.default.url`: gs:// is not supported yet (Google Cloud \
             Storage comes later)\n  hint: supported here: a plain path or `file://`, `s3://` or `memory://`",
            "strata.toml:9:8: invalid `io_managers.other.kind` \"csv\"\n  \
             hint: valid values: `parquet`, `arrow_ipc` or `custom`",
            "strata.toml:11:1: unknown field `concurency` in [executor]\n  \
             hint: did you mean `concurrency`?",
            "strata.toml:12:23: `executor.pools.warehouse` must be between 1 and 10000, found 0",
            "strata.toml:14:17: `daemon.tick_interval` must be longer than zero",
            "strata.toml:16:12: `rate_card.currency` \"dollars\" is not a three-letter currency \
             code\n  hint: e.g. \"USD\" or \"EUR\"",
            "strata.toml:17:12: `rate_card.timezone`: unknown time zone `Mars/Base`\n  \
             hint: use an IANA name such as `UTC` or `America/New_York`",
            "strata.toml:18:12: `rate_card.cpu_hour` must not be negative",
            "strata.toml:20:8: invalid `alerts.channels.ops.kind` \"email\"\n  \
             hint: valid values: `webhook` or `slack`",
            "strata.toml:21:7: `alerts.channels.ops.url` must be an http:// or https:// URL, \
             found \"ftp://x\"",
            "strata.toml:24:22: invalid `when.freshness` \"late\"\n  hint: valid values: `warn` or `fail`",
            "strata.toml:25:11: `select`: unknown selection prefix `grop:`\n  \
             hint: did you mean `group`?",
            "strata.toml:26:13: unknown alert channel `opps`\n  hint: did you mean `ops`?",
            "strata.toml:28:1: `[openlineage]` needs `url` (an HTTP endpoint) or `file` (an NDJSON file)",
            "strata.toml:30:8: `server.bind` \"localhost\" is not an address with a port\n  \
             hint: e.g. \"127.0.0.1:3000\" or \"0.0.0.0:8080\"",
            "strata.toml:31:2: `auth` is not supported yet: authentication and roles come later",
        ]
    );
}

#[test]
fn project_needs_a_name_and_valid_toml() {
    assert_eq!(
        errors("", &[]),
        [
            "strata.toml:1:1: strata.toml needs a `[project]` section with a `name`\n  \
          hint: [project]\nname = \"flights\""
        ]
    );
    assert_eq!(
        errors("[project\nname = 1", &[]),
        ["strata.toml:1:9: invalid TOML: unclosed table, expected `]`"]
    );
}

#[test]
fn names_from_strata_toml_must_exist() {
    let assets = with(
        "assets/stats/p.toml",
        "command = [\"x\"]\nio_manager = \"lak\"\npool = \"gpu\"\n",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/p.toml:2:14: unknown IO manager `lak`\n  hint: did you mean `lake`?",
            "assets/stats/p.toml:3:8: unknown pool `gpu`\n  hint: declare it in strata.toml: \
             [executor] pools = { gpu = 2 }",
        ]
    );
}

#[test]
fn selections_in_declarations_must_resolve() {
    let assets = with(
        "assets/stats/sel.sql",
        "/*---\nautomation = \"any_deps_missing.ignore('raw/flightz')\"\n---*/\nSELECT * FROM raw.flights",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/sel.sql:2:40: unknown asset `raw/flightz`\n  hint: did you mean `raw/flights`?"
        ]
    );
    let project = PROJECT.replace("select = \"group:flights\"", "select = \"*raw/flightz\"");
    assert_eq!(
        errors(&project, &valid_assets()),
        ["strata.toml:42:12: unknown asset `raw/flightz`\n  hint: did you mean `raw/flights`?"]
    );
}

#[test]
fn keys_are_unique_and_overridable() {
    let assets = with(
        "assets/other/daily.sql",
        "/*---\nkey = \"flights/daily_delays\"\n---*/\nSELECT 1",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/other/daily.sql:2:7: asset `flights/daily_delays` is declared twice: also in \
          assets/flights/daily_delays.sql\n  hint: asset keys are unique; rename one file or set `key`"
        ]
    );
    let assets = with(
        "assets/other/x.sql",
        "/*---\nkey = \"Other/X\"\n---*/\nSELECT 1",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/other/x.sql:2:7: invalid asset key \"Other/X\": segments may use only lowercase \
          letters, digits and `_`\n  hint: keys are `group/name`, lowercase letters, digits and `_`"
        ]
    );
    let assets = with("assets/top.sql", "SELECT 1");
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/top.sql:1:1: cannot derive an asset key from `assets/top.sql`: asset files live \
          at assets/<group>/**/<name>.sql or .toml\n  hint: move the file into a group folder, or \
          set key = \"group/name\""
        ]
    );
}

#[test]
fn policy_errors() {
    let text = r#"command = ["x"]
freshness = { max_lag = "1h", warn_lag = "2h" }
checks = [
  { sql = "SELECT * FROM this" },
  { not_null = [] },
  { row_count = { min = 5, max = 1 } },
  { unique = ["a"], not_null = ["a"] },
  { accepted_values = { column = "c", values = [] }, severity = "fatal" },
  { sql = "SELECT * FROM raw.nope", name = "n" },
]
retry = { max_retries = -1, backoff = "exponentail" }
owners = ["nobody"]
tags = { "a b" = "x", team = "o p" }
"#;
    let assets = with("assets/stats/policies.toml", text);
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/policies.toml:2:42: `freshness.warn_lag` must be less than `max_lag`\n  \
             hint: the warn level is reached first, then the fail level",
            "assets/stats/policies.toml:4:3: an `sql` check needs a `name`\n  \
             hint: e.g. { sql = \"SELECT * FROM this WHERE x < 0\", name = \"no_negative_x\" }",
            "assets/stats/policies.toml:5:16: `checks.not_null` needs at least one column name",
            "assets/stats/policies.toml:6:17: `row_count` min 5 is above max 1",
            "assets/stats/policies.toml:7:3: a check has one kind, found not_null and unique\n  \
             hint: e.g. { not_null = [\"carrier\"] } or { row_count = { min = 1 } }",
            "assets/stats/policies.toml:8:48: `accepted_values` needs at least one value",
            "assets/stats/policies.toml:9:26: table `raw.nope` in a check is not an asset\n  \
             hint: a check reads `this` (the asset checked) or asset tables `group.name`",
            "assets/stats/policies.toml:11:25: `retry.max_retries` must be between 0 and 100, found -1",
            "assets/stats/policies.toml:12:11: invalid owner \"nobody\"\n  \
             hint: an owner is an email address or `team:<name>`",
            "assets/stats/policies.toml:13:10: invalid tag key `a b`\n  hint: a tag key is an \
             optional `prefix/` and a name of letters, digits, `-`, `_` and `.` (at most 63)",
            "assets/stats/policies.toml:13:30: invalid value \"o p\" for tag `team`\n  \
             hint: tag values use letters, digits, `-`, `_` and `.`, at most 63 characters",
        ]
    );
}

#[test]
fn kind_specific_fields() {
    let both = with(
        "assets/stats/k.toml",
        "command = [\"x\"]\nsource = { path = \"p\" }\n",
    );
    assert_eq!(
        errors(PROJECT, &both),
        [
            "assets/stats/k.toml:2:10: an asset is computed one way: `command` and `source` \
             cannot both be set\n  hint: remove `command` or `source`"
        ]
    );
    let rust = with(
        "assets/stats/k.toml",
        "rust = \"weekday counts\"\noutput = \"csv\"\n",
    );
    assert_eq!(
        errors(PROJECT, &rust),
        [
            "assets/stats/k.toml:1:8: `rust = \"weekday counts\"` is not a function name\n  \
             hint: the name the binary registers the function under, e.g. rust = \"weekday_counts\"",
            "assets/stats/k.toml:2:1: `output` applies only to command assets (`.toml` files \
             with `command = [...]`)",
        ]
    );
    let neither = with("assets/stats/k.toml", "description = \"d\"\n");
    assert_eq!(
        errors(PROJECT, &neither),
        [
            "assets/stats/k.toml:1:1: a .toml asset needs `command = [...]` (a command asset), \
             `source = { … }` (a source asset) or `rust = \"name\"` (a function registered \
             through the Rust API)\n  hint: SQL assets are .sql files"
        ]
    );
    let source = with(
        "assets/stats/k.toml",
        "source = { observe = [\"probe\"] }\nautomation = \"eager\"\n",
    );
    assert_eq!(
        errors(PROJECT, &source),
        [
            "assets/stats/k.toml:1:10: `source` needs `interval`: how often to observe it\n  \
             hint: e.g. interval = \"1h\"",
            "assets/stats/k.toml:2:1: `automation` does not apply to a source asset: Strata \
             observes it and never materializes it (it takes `source`, `description`, `owners`, \
             `tags`, `kinds` and `key`)",
        ]
    );
    let sql = with(
        "assets/stats/k.sql",
        "/*---\ncommand = [\"x\"]\n---*/\nSELECT 1",
    );
    assert_eq!(
        errors(PROJECT, &sql),
        [
            "assets/stats/k.sql:2:1: `command` applies only to command assets (`.toml` files with \
          `command = [...]`)"
        ]
    );
    let single = with(
        "assets/stats/k.sql",
        "/*---\npartitions = { daily = { start = \"2013-01-01\", timezone = \"America/New_York\" } }\nbackfill = \"single_run\"\n---*/\nSELECT carrier FROM raw.flights",
    );
    assert_eq!(
        errors(PROJECT, &single),
        [
            "assets/stats/k.sql:3:12: `backfill = \"single_run\"` needs the query to output a \
          `partition_key` column\n  hint: select each upstream's `partition_key` and group by \
          it, so Strata can split the result into partitions"
        ]
    );
}

#[test]
fn bad_crons_are_reported_where_written() {
    let assets = with(
        "assets/stats/c.sql",
        "/*---\nfreshness = { deadline = \"0 25 * * *\", lower_bound = \"1h\" }\nautomation = \"on_cron('61 * * * *')\"\n---*/\nSELECT 1",
    );
    assert_eq!(
        errors(PROJECT, &assets),
        [
            "assets/stats/c.sql:2:26: `freshness.deadline`: invalid cron schedule `0 25 * * *`: \
             25 is out of range for the hour field (0-23)\n  hint: five fields: minute hour \
             day-of-month month day-of-week, e.g. \"0 9 * * *\"",
            "assets/stats/c.sql:3:24: `automation`: invalid cron schedule `61 * * * *`: 61 is \
             out of range for the minute field (0-59)\n  hint: five fields: minute hour \
             day-of-month month day-of-week",
        ]
    );
}

#[test]
fn storage_is_a_sqlite_file_never_memory_or_s3() {
    for (url, expected) in [
        (
            "memory://",
            "strata.toml:4:7: `storage.url`: unsupported URL scheme `memory://`",
        ),
        (
            "s3://bucket/db",
            "strata.toml:4:7: `storage.url`: unsupported URL scheme `s3://`",
        ),
    ] {
        let project = format!("[project]\nname = \"p\"\n[storage]\nurl = \"{url}\"\n");
        let errors = errors(&project, &[]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with(expected), "{}", errors[0]);
        assert!(
            errors[0].contains("a plain path or `file://` or `sqlite://`"),
            "{}",
            errors[0]
        );
    }
}

#[test]
fn node_tables_align_with_the_declarations() {
    let daily = |start: &str, rest: &str| {
        format!(
            "command = [\"true\"]\npartitions = {{ daily = {{ start = \"{start}\" }} }}\n{rest}"
        )
    };
    let (a, b) = (
        daily("2024-01-01", "automation = \"eager\"\n"),
        daily("2024-01-01", ""),
    );
    let d = daily("2024-02-01", "automation = \"on_missing\"\n");
    let c = "command = [\"true\"]\nautomation = \"eager\"\n[deps.\"g/b\"]\n[deps.\"g/a\"]\n";
    let assets = [
        ("assets/g/a.toml", a.as_str()),
        ("assets/g/b.toml", b.as_str()),
        ("assets/g/c.toml", c),
        ("assets/g/d.toml", d.as_str()),
    ];
    let repo = load("[project]\nname = \"t\"\n", &assets).unwrap();
    let index = |k: &str| repo.graph().index_of(&key(k)).unwrap();
    assert_eq!((index("g/a"), index("g/c"), index("g/d")), (0, 2, 3));
    let c_deps: Vec<usize> = repo
        .asset(&key("g/c"))
        .unwrap()
        .deps
        .iter()
        .map(|d| repo.graph().index_of(&d.key).unwrap())
        .collect();
    assert_eq!(repo.dependency_indices(2), c_deps);
    let classes = |f: &dyn Fn(usize) -> Option<usize>| (0..4).map(f).collect::<Vec<_>>();
    // a and b share a definition, d starts later; c is unpartitioned.
    assert_eq!(
        classes(&|i| repo.partitions_class(i)),
        [Some(0), Some(0), None, Some(3)]
    );
    assert_eq!(
        classes(&|i| repo.condition_class(i)),
        [Some(0), None, Some(0), Some(3)]
    );
    assert_eq!(repo.topological_indices(), [0, 1, 2, 3]);
}

#[test]
fn api_rules_read_like_strata_toml_and_cost_periods_are_checked() {
    use crate::declare::parse_alert_rule;
    use crate::model::{AlertCondition, CostGrouping, CostPeriod};
    let channels = std::collections::BTreeSet::from(["ops".to_string()]);
    let rule = parse_alert_rule(
        "name = \"b\"\nchannels = [\"ops\"]\nwhen = { cost = { per = \"materialization\", over = 2 } }\n",
        &channels,
    )
    .unwrap();
    assert_eq!(
        rule.when,
        AlertCondition::Cost {
            per: CostPeriod::Run,
            over: 2.0,
            by: CostGrouping::Asset
        }
    );
    assert_eq!(rule.select.as_str(), "*");
    let problems = parse_alert_rule(
        "name = \"b\"\nchannels = [\"ops\"]\nwhen = { cost = { per = \"materialization\", over = 2, by = \"tag:team\" } }\n",
        &channels,
    )
    .unwrap_err();
    assert_eq!(
        problems,
        vec![
            "`per = \"materialization\"` compares each asset's latest materialization: it cannot \
             be summed `by = \"tag:team\"` (leave out `by`, or sum per \"day\" or \"month\")"
        ]
    );
    let problems = parse_alert_rule(
        "name = \"b\"\nchannels = [\"pager\"]\nwhen = \"run_failed\"\n",
        &channels,
    )
    .unwrap_err();
    assert_eq!(
        problems,
        vec!["unknown alert channel `pager` (declare it as [alerts.channels.<name>])"]
    );

    let project = "[project]\nname = \"p\"\n[alerts]\nmax_attempts = 3\nretry_delay = \"5s\"\n";
    let repository = load(project, &[]).unwrap();
    let delivery = repository.project().alerts.delivery;
    assert_eq!(delivery.max_attempts, 3);
    assert_eq!(
        delivery.retry_after(1),
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        delivery.retry_after(2),
        Some(std::time::Duration::from_secs(10))
    );
    assert_eq!(delivery.retry_after(3), None);
    let problems = errors("[project]\nname = \"p\"\n[alerts]\nmax_attempts = 0\n", &[]);
    assert!(problems[0].contains("alerts.max_attempts"), "{problems:?}");
}
