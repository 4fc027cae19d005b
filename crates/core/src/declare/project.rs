//! `strata.toml`: project settings, read section by section with every error reported.
//!
//! Each section has defaults, so a minimal file is `[project] name = "…"`. Unknown keys are
//! errors naming the closest valid key; what the design defers ("later": PostgreSQL, `gs://`,
//! `az://`, workers, authentication, Kubernetes) is rejected with "not supported yet".

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};

use super::diagnostics::{Diagnostic, FileSink};
use super::fields::{self, Value, get};
use super::{SelectionUse, SourceFile};
use crate::model::{
    AlertChannel, AlertCondition, AlertRule, AlertsConfig, ChannelKind, CostGrouping, CostPeriod,
    DaemonConfig, ExecutorConfig, FreshnessLevel, IoManagerConfig, IoManagerKind, Location,
    OpenLineageConfig, OpenLineageTarget, ProjectConfig, RateCard, ServerConfig, Severity,
    StorageConfig,
};
use crate::selection::Selection;
use crate::suggest;

/// `strata.toml` as read: the configuration (defaults where a section was wrong) and what must
/// be checked once the assets are known.
pub(crate) struct ProjectOutput {
    pub(crate) config: ProjectConfig,
    /// Whether the file parsed as TOML, so names it declares (pools, IO managers) can be
    /// checked against; when it did not, such checks are skipped rather than all failing.
    pub(crate) parsed: bool,
    /// Alert rule selections, resolved against the assets later.
    pub(crate) selections: Vec<SelectionUse>,
}

const SECTIONS: &[&str] = &[
    "project",
    "storage",
    "io_managers",
    "executor",
    "daemon",
    "rate_card",
    "alerts",
    "openlineage",
    "server",
];

const LATER_SECTIONS: &[(&str, &str)] = &[
    (
        "worker",
        "is not supported yet: workers come with PostgreSQL storage",
    ),
    (
        "workers",
        "is not supported yet: workers come with PostgreSQL storage",
    ),
    (
        "auth",
        "is not supported yet: authentication and roles come later",
    ),
    (
        "authentication",
        "is not supported yet: authentication and roles come later",
    ),
    (
        "roles",
        "is not supported yet: authentication and roles come later",
    ),
    (
        "run_launcher",
        "is not supported yet: a Kubernetes run launcher comes later",
    ),
    (
        "kubernetes",
        "is not supported yet: a Kubernetes run launcher comes later",
    ),
];

/// The defaults of every section (what an empty `strata.toml` would mean, but for the name).
pub(crate) fn default_config() -> ProjectConfig {
    ProjectConfig {
        name: String::new(),
        storage: StorageConfig {
            url: Location::Relative(".strata/strata.db".into()),
        },
        io_managers: BTreeMap::from([("default".to_string(), default_io_manager())]),
        custom_io_managers: Default::default(),
        executor: ExecutorConfig {
            concurrency: None,
            pools: BTreeMap::new(),
        },
        daemon: DaemonConfig {
            tick_interval: Duration::from_secs(30),
            max_runs_per_tick: 50,
        },
        rate_card: RateCard {
            currency: "USD".into(),
            timezone: Tz::UTC,
            cpu_hour: 0.0,
            gb_read: 0.0,
            gb_written: 0.0,
            gb_month_stored: 0.0,
            units: BTreeMap::new(),
        },
        alerts: AlertsConfig::default(),
        openlineage: None,
        server: ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
        },
    }
}

fn default_io_manager() -> IoManagerConfig {
    IoManagerConfig {
        kind: IoManagerKind::Parquet,
        url: Location::Relative(".strata/data".into()),
        endpoint: None,
        region: None,
        allow_http: false,
    }
}

/// Reads `strata.toml`.
pub(crate) fn parse_project(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> ProjectOutput {
    let mut config = default_config();
    let mut selections = Vec::new();
    let mut sink = FileSink::new(&file.path, &file.text, diagnostics);
    let root = match DeTable::parse(&file.text) {
        Ok(root) => root,
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            sink.span(
                span,
                format!("invalid TOML: {}", error.message().trim()),
                None,
            );
            return ProjectOutput {
                config,
                parsed: false,
                selections,
            };
        }
    };
    let root = root.get_ref();
    fields::check_keys(&mut sink, root, SECTIONS, LATER_SECTIONS, "strata.toml");
    let section = |sink: &mut FileSink<'_>, name: &str| -> Option<&DeTable<'_>> {
        get(root, name).and_then(|value| fields::table(sink, value, name))
    };

    match section(&mut sink, "project") {
        Some(project) => {
            fields::check_keys(&mut sink, project, &["name"], &[], "[project]");
            match get(project, "name") {
                Some(value) => {
                    if let Some(name) = fields::nonempty_string(&mut sink, value, "project.name") {
                        config.name = name;
                    }
                }
                None => sink.at(
                    0,
                    "`[project]` needs a `name`",
                    Some("name = \"flights\"".into()),
                ),
            }
        }
        None => sink.at(
            0,
            "strata.toml needs a `[project]` section with a `name`",
            Some("[project]\nname = \"flights\"".into()),
        ),
    }
    if let Some(storage) = section(&mut sink, "storage") {
        fields::check_keys(&mut sink, storage, &["url"], &[], "[storage]");
        if let Some(value) = get(storage, "url")
            && let Some(url) = location(
                &mut sink,
                value,
                "storage.url",
                // A SQLite file only: an in-memory database could not be shared by the
                // connections (and processes) that read and write it.
                &["file", "sqlite"],
            )
        {
            config.storage.url = url;
        }
    }
    if let Some(managers) = section(&mut sink, "io_managers") {
        for (name, value) in managers.iter() {
            let name_text = name.get_ref().to_string();
            let what = format!("io_managers.{name_text}");
            if !valid_name(&name_text) {
                sink.span(
                    name.span(),
                    format!("invalid IO manager name `{name_text}`"),
                    Some("names use lowercase letters, digits and `_`".into()),
                );
            }
            let Some(table) = fields::table(&mut sink, value, &what) else {
                continue;
            };
            if get(table, "kind").is_some_and(|k| k.get_ref().as_str() == Some("custom")) {
                let only_kind = "a custom IO manager is configured by the binary that registers it";
                let special: Vec<(&str, &str)> = ["url", "endpoint", "region", "allow_http"]
                    .into_iter()
                    .map(|k| (k, only_kind))
                    .collect();
                fields::check_keys(&mut sink, table, &["kind"], &special, &format!("[{what}]"));
                config.io_managers.remove(&name_text);
                config.custom_io_managers.insert(name_text);
            } else if let Some(manager) = io_manager(&mut sink, table, &what) {
                config.io_managers.insert(name_text, manager);
            }
        }
    }
    if let Some(executor) = section(&mut sink, "executor") {
        fields::check_keys(
            &mut sink,
            executor,
            &["concurrency", "pools"],
            &[],
            "[executor]",
        );
        if let Some(value) = get(executor, "concurrency") {
            config.executor.concurrency =
                fields::integer_in(&mut sink, value, "executor.concurrency", 1, 10_000)
                    .map(|n| n as u32);
        }
        if let Some(value) = get(executor, "pools")
            && let Some(pools) = fields::table(&mut sink, value, "executor.pools")
        {
            for (name, limit) in pools.iter() {
                let name_text = name.get_ref().to_string();
                if !valid_name(&name_text) {
                    sink.span(
                        name.span(),
                        format!("invalid pool name `{name_text}`"),
                        Some("names use lowercase letters, digits and `_`".into()),
                    );
                }
                let what = format!("executor.pools.{name_text}");
                if let Some(n) = fields::integer_in(&mut sink, limit, &what, 1, 10_000) {
                    config.executor.pools.insert(name_text, n as u32);
                }
            }
        }
    }
    if let Some(daemon) = section(&mut sink, "daemon") {
        let allowed = ["tick_interval", "max_runs_per_tick"];
        fields::check_keys(&mut sink, daemon, &allowed, &[], "[daemon]");
        if let Some(value) = get(daemon, "tick_interval")
            && let Some(d) = fields::positive_duration(&mut sink, value, "daemon.tick_interval")
        {
            config.daemon.tick_interval = d;
        }
        if let Some(value) = get(daemon, "max_runs_per_tick")
            && let Some(n) =
                fields::integer_in(&mut sink, value, "daemon.max_runs_per_tick", 1, 1_000_000)
        {
            config.daemon.max_runs_per_tick = n as u32;
        }
    }
    if let Some(card) = section(&mut sink, "rate_card") {
        rate_card(&mut sink, card, &mut config.rate_card);
    }
    if let Some(alerts) = section(&mut sink, "alerts") {
        config.alerts = alerts_section(&mut sink, alerts, &mut selections);
    }
    if let Some(lineage) = section(&mut sink, "openlineage") {
        config.openlineage = openlineage(&mut sink, lineage, &config.name);
    }
    if let Some(server) = section(&mut sink, "server") {
        fields::check_keys(&mut sink, server, &["bind"], &[], "[server]");
        if let Some(value) = get(server, "bind")
            && let Some(text) = fields::string(&mut sink, value, "server.bind")
        {
            match text.parse::<SocketAddr>() {
                Ok(bind) => config.server.bind = bind,
                Err(_) => sink.span(
                    value.span(),
                    format!("`server.bind` \"{text}\" is not an address with a port"),
                    Some("e.g. \"127.0.0.1:3000\" or \"0.0.0.0:8080\"".into()),
                ),
            }
        }
    }
    ProjectOutput {
        config,
        parsed: true,
        selections,
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn io_manager(sink: &mut FileSink<'_>, table: &DeTable<'_>, what: &str) -> Option<IoManagerConfig> {
    let allowed = ["kind", "url", "endpoint", "region", "allow_http"];
    fields::check_keys(sink, table, &allowed, &[], &format!("[{what}]"));
    let mut manager = default_io_manager();
    let mut ok = true;
    if let Some(value) = get(table, "kind") {
        match fields::choice(
            sink,
            value,
            &format!("{what}.kind"),
            &["parquet", "arrow_ipc", "custom"],
        ) {
            Some("arrow_ipc") => manager.kind = IoManagerKind::ArrowIpc,
            Some(_) => manager.kind = IoManagerKind::Parquet,
            None => ok = false,
        }
    }
    if let Some(value) = get(table, "url") {
        match location(
            sink,
            value,
            &format!("{what}.url"),
            &["file", "s3", "memory"],
        ) {
            Some(url) => manager.url = url,
            None => ok = false,
        }
    }
    let is_s3 = matches!(manager.url, Location::S3 { .. });
    for key in ["endpoint", "region", "allow_http"] {
        let Some(value) = get(table, key) else {
            continue;
        };
        let field = format!("{what}.{key}");
        if !is_s3 {
            sink.span(
                value.span(),
                format!("`{field}` applies only to s3:// URLs"),
                None,
            );
            ok = false;
            continue;
        }
        match key {
            "allow_http" => {
                manager.allow_http = fields::boolean(sink, value, &field).unwrap_or(false)
            }
            "endpoint" => manager.endpoint = fields::nonempty_string(sink, value, &field),
            _ => manager.region = fields::nonempty_string(sink, value, &field),
        }
    }
    ok.then_some(manager)
}

/// A plain path (relative to the repository root) or a URL of one of `schemes`.
fn location(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    what: &str,
    schemes: &[&str],
) -> Option<Location> {
    let text = fields::nonempty_string(sink, value, what)?;
    let Some((scheme, rest)) = text.split_once("://") else {
        return Some(Location::Relative(PathBuf::from(text)));
    };
    let later = match scheme {
        "postgres" | "postgresql" => Some("PostgreSQL storage comes later"),
        "gs" | "gcs" => Some("Google Cloud Storage comes later"),
        "az" | "azure" | "abfs" | "abfss" => Some("Azure storage comes later"),
        _ => None,
    };
    if let Some(reason) = later {
        sink.span(
            value.span(),
            format!("`{what}`: {scheme}:// is not supported yet ({reason})"),
            Some(format!(
                "supported here: a plain path or {}",
                schemes_list(schemes)
            )),
        );
        return None;
    }
    if !schemes.contains(&scheme) {
        let hint = suggest::did_you_mean(scheme, schemes.iter().copied()).unwrap_or_else(|| {
            format!("supported here: a plain path or {}", schemes_list(schemes))
        });
        sink.span(
            value.span(),
            format!("`{what}`: unsupported URL scheme `{scheme}://`"),
            Some(hint),
        );
        return None;
    }
    match scheme {
        "file" | "sqlite" => {
            if scheme == "file" && !rest.starts_with('/') {
                sink.span(
                    value.span(),
                    format!("`{what}`: a file URL holds an absolute path"),
                    Some(
                        "write file:///abs/path, or a plain path relative to the repository".into(),
                    ),
                );
                return None;
            }
            if rest.is_empty() {
                sink.span(value.span(), format!("`{what}`: the URL has no path"), None);
                return None;
            }
            if rest.starts_with('/') {
                Some(Location::File(PathBuf::from(rest)))
            } else {
                Some(Location::Relative(PathBuf::from(rest)))
            }
        }
        "s3" => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                sink.span(
                    value.span(),
                    format!("`{what}`: the s3:// URL names no bucket"),
                    Some("write s3://bucket/prefix".into()),
                );
                return None;
            }
            Some(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            })
        }
        _ => Some(Location::Memory),
    }
}

fn schemes_list(schemes: &[&str]) -> String {
    let urls: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    suggest::one_of(&refs)
}

fn rate_card(sink: &mut FileSink<'_>, table: &DeTable<'_>, card: &mut RateCard) {
    let allowed = [
        "currency",
        "timezone",
        "cpu_hour",
        "gb_read",
        "gb_written",
        "gb_month_stored",
        "units",
    ];
    fields::check_keys(sink, table, &allowed, &[], "[rate_card]");
    if let Some(value) = get(table, "currency")
        && let Some(currency) = fields::string(sink, value, "rate_card.currency")
    {
        if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
            card.currency = currency;
        } else {
            sink.span(
                value.span(),
                format!("`rate_card.currency` \"{currency}\" is not a three-letter currency code"),
                Some("e.g. \"USD\" or \"EUR\"".into()),
            );
        }
    }
    if let Some(value) = get(table, "timezone")
        && let Some(tz) = fields::timezone(sink, value, "rate_card.timezone")
    {
        card.timezone = tz;
    }
    for (key, slot) in [
        ("cpu_hour", &mut card.cpu_hour),
        ("gb_read", &mut card.gb_read),
        ("gb_written", &mut card.gb_written),
        ("gb_month_stored", &mut card.gb_month_stored),
    ] {
        if let Some(value) = get(table, key)
            && let Some(price) = fields::price(sink, value, &format!("rate_card.{key}"))
        {
            *slot = price;
        }
    }
    if let Some(value) = get(table, "units")
        && let Some(units) = fields::table(sink, value, "rate_card.units")
    {
        for (unit, price) in units.iter() {
            let what = format!("rate_card.units.{}", unit.get_ref());
            if let Some(price) = fields::price(sink, price, &what) {
                card.units.insert(unit.get_ref().to_string(), price);
            }
        }
    }
}

fn alerts_section(
    sink: &mut FileSink<'_>,
    table: &DeTable<'_>,
    selections: &mut Vec<SelectionUse>,
) -> AlertsConfig {
    fields::check_keys(
        sink,
        table,
        &["channels", "rules", "max_attempts", "retry_delay"],
        &[],
        "[alerts]",
    );
    let mut alerts = AlertsConfig::default();
    if let Some(value) = get(table, "max_attempts")
        && let Some(n) = fields::integer_in(sink, value, "alerts.max_attempts", 1, 100)
    {
        alerts.delivery.max_attempts = n as u32;
    }
    if let Some(value) = get(table, "retry_delay")
        && let Some(delay) = fields::positive_duration(sink, value, "alerts.retry_delay")
    {
        alerts.delivery.retry_delay = delay;
    }
    // Channels that were declared, valid or not, so rules naming a broken one are not reported.
    let mut declared = BTreeSet::new();
    if let Some(value) = get(table, "channels")
        && let Some(channels) = fields::table(sink, value, "alerts.channels")
    {
        for (name, value) in channels.iter() {
            let name_text = name.get_ref().to_string();
            declared.insert(name_text.clone());
            let what = format!("alerts.channels.{name_text}");
            let Some(channel) = fields::table(sink, value, &what) else {
                continue;
            };
            fields::check_keys(sink, channel, &["kind", "url"], &[], &format!("[{what}]"));
            let kind = match get(channel, "kind") {
                Some(value) => match fields::choice(
                    sink,
                    value,
                    &format!("{what}.kind"),
                    &["webhook", "slack"],
                ) {
                    Some("slack") => Some(ChannelKind::Slack),
                    Some(_) => Some(ChannelKind::Webhook),
                    None => None,
                },
                None => Some(ChannelKind::Webhook),
            };
            let url = match get(channel, "url") {
                Some(value) => http_url(sink, value, &format!("{what}.url")),
                None => {
                    sink.span(name.span(), format!("`{what}` needs a `url`"), None);
                    None
                }
            };
            if let (Some(kind), Some(url)) = (kind, url) {
                alerts
                    .channels
                    .insert(name_text, AlertChannel { kind, url });
            }
        }
    }
    if let Some(value) = get(table, "rules") {
        let DeValue::Array(rules) = value.get_ref() else {
            fields::wrong_type(
                sink,
                value,
                "alerts.rules",
                "an array of tables (`[[alerts.rules]]`)",
            );
            return alerts;
        };
        let mut names = BTreeSet::new();
        for rule in rules.iter() {
            let Some(table) = fields::table(sink, rule, "alerts.rules[]") else {
                continue;
            };
            if let Some(rule) = alert_rule(sink, table, rule.span(), &declared, selections) {
                if !names.insert(rule.name.clone()) {
                    let span = get(table, "name").map_or(0..0, |v| v.span());
                    sink.span(
                        span,
                        format!("alert rule `{}` is declared twice", rule.name),
                        Some("rule names are unique".into()),
                    );
                    continue;
                }
                alerts.rules.push(rule);
            }
        }
    }
    alerts
}

/// Reads one alert rule given as a TOML table (the API's rules, converted from JSON), against
/// the declared `channels`. Errors are the messages strata.toml would give, without a place.
pub fn parse_alert_rule(text: &str, channels: &BTreeSet<String>) -> Result<AlertRule, Vec<String>> {
    let mut diagnostics = Vec::new();
    let path = std::path::Path::new("rule");
    let mut sink = FileSink::new(path, text, &mut diagnostics);
    let rule = match DeTable::parse(text) {
        Ok(root) => {
            let span = 0..text.len();
            alert_rule(&mut sink, root.get_ref(), span, channels, &mut Vec::new())
        }
        Err(error) => {
            sink.at(0, format!("invalid rule: {}", error.message().trim()), None);
            None
        }
    };
    match rule {
        Some(rule) if diagnostics.is_empty() => Ok(rule),
        _ => Err(diagnostics
            .into_iter()
            .map(|d| match d.hint {
                Some(hint) => format!("{} ({hint})", d.message),
                None => d.message,
            })
            .collect()),
    }
}

fn alert_rule(
    sink: &mut FileSink<'_>,
    table: &DeTable<'_>,
    span: std::ops::Range<usize>,
    channels: &BTreeSet<String>,
    selections: &mut Vec<SelectionUse>,
) -> Option<AlertRule> {
    let allowed = ["name", "when", "select", "channels"];
    fields::check_keys(sink, table, &allowed, &[], "[[alerts.rules]]");
    let mut ok = true;
    let name = match get(table, "name") {
        Some(value) => fields::nonempty_string(sink, value, "alerts.rules.name"),
        None => {
            sink.span(span.clone(), "an alert rule needs a `name`", None);
            None
        }
    };
    let when = match get(table, "when") {
        Some(value) => alert_condition(sink, value),
        None => {
            sink.span(
                span.clone(),
                "an alert rule needs `when`",
                Some(WHEN_FORMS.into()),
            );
            None
        }
    };
    let select = match get(table, "select") {
        Some(value) => {
            let text = fields::string(sink, value, "alerts.rules.select")?;
            match Selection::parse(&text) {
                Ok(selection) => {
                    selections.push(SelectionUse {
                        selection: selection.clone(),
                        path: sink.path.to_path_buf(),
                        offset: sink.offset_in_string(value.span(), &text, 0),
                        exact: sink.string_content(value.span(), &text).is_some(),
                    });
                    Some(selection)
                }
                Err(error) => {
                    let offset = sink.offset_in_string(value.span(), &text, error.offset);
                    sink.at(offset, format!("`select`: {}", error.message), error.hint);
                    None
                }
            }
        }
        None => Some(Selection::all()),
    };
    let mut names = Vec::new();
    match get(table, "channels") {
        Some(value) => {
            for channel in
                fields::string_list(sink, value, "alerts.rules.channels").unwrap_or_default()
            {
                if !channels.contains(channel.get_ref()) {
                    let hint = suggest::did_you_mean(
                        channel.get_ref(),
                        channels.iter().map(String::as_str),
                    )
                    .or_else(|| Some("declare it as [alerts.channels.<name>]".into()));
                    sink.span(
                        channel.span(),
                        format!("unknown alert channel `{}`", channel.get_ref()),
                        hint,
                    );
                    ok = false;
                }
                names.push(channel.into_inner());
            }
            if names.is_empty() {
                sink.span(
                    value.span(),
                    "an alert rule needs at least one channel",
                    None,
                );
                ok = false;
            }
        }
        None => {
            sink.span(span, "an alert rule needs `channels`", None);
            ok = false;
        }
    }
    Some(AlertRule {
        name: name?,
        when: when?,
        select: select?,
        channels: ok.then_some(names)?,
    })
}

const WHEN_FORMS: &str = "when = { check_failed = { severity = \"error\" } }, { freshness = \"fail\" }, \
                          \"run_failed\" or { cost = { per = \"month\", over = 100.0, by = \"tag:team\" } }";

fn alert_condition(sink: &mut FileSink<'_>, value: &Value<'_>) -> Option<AlertCondition> {
    let table = match value.get_ref() {
        DeValue::String(text) if text.as_ref() == "run_failed" => {
            return Some(AlertCondition::RunFailed);
        }
        DeValue::String(text) => {
            sink.span(
                value.span(),
                format!("invalid `when` \"{text}\""),
                Some(WHEN_FORMS.into()),
            );
            return None;
        }
        DeValue::Table(table) => table,
        _ => {
            fields::wrong_type(sink, value, "when", "a table or \"run_failed\"");
            return None;
        }
    };
    let forms = ["check_failed", "freshness", "cost"];
    fields::check_keys(
        sink,
        table,
        &forms,
        &[("run_failed", "is written `when = \"run_failed\"`")],
        "`when`",
    );
    if table.len() != 1 {
        sink.span(
            value.span(),
            "`when` holds exactly one condition",
            Some(WHEN_FORMS.into()),
        );
        return None;
    }
    if let Some(inner) = get(table, "check_failed") {
        let inner_table = fields::table(sink, inner, "when.check_failed")?;
        fields::check_keys(sink, inner_table, &["severity"], &[], "`check_failed`");
        let severity = match get(inner_table, "severity") {
            Some(v) => {
                match fields::choice(sink, v, "when.check_failed.severity", &["warn", "error"])? {
                    "warn" => Some(Severity::Warn),
                    _ => Some(Severity::Error),
                }
            }
            None => None,
        };
        return Some(AlertCondition::CheckFailed { severity });
    }
    if let Some(inner) = get(table, "freshness") {
        return match fields::choice(sink, inner, "when.freshness", &["warn", "fail"])? {
            "warn" => Some(AlertCondition::Freshness(FreshnessLevel::Warn)),
            _ => Some(AlertCondition::Freshness(FreshnessLevel::Fail)),
        };
    }
    let inner = get(table, "cost")?;
    let cost = fields::table(sink, inner, "when.cost")?;
    fields::check_keys(sink, cost, &["per", "over", "by"], &[], "`cost`");
    let per = match get(cost, "per") {
        Some(v) => match fields::choice(
            sink,
            v,
            "when.cost.per",
            &["materialization", "run", "day", "month"],
        ) {
            Some("materialization" | "run") => Some(CostPeriod::Run),
            Some("day") => Some(CostPeriod::Day),
            Some(_) => Some(CostPeriod::Month),
            None => None,
        },
        None => {
            sink.span(
                inner.span(),
                "`cost` needs `per` (\"materialization\", \"day\" or \"month\")",
                None,
            );
            None
        }
    };
    let over = match get(cost, "over") {
        Some(v) => match fields::number(sink, v, "when.cost.over") {
            Some(n) if n > 0.0 => Some(n),
            Some(_) => {
                sink.span(v.span(), "`when.cost.over` must be greater than zero", None);
                None
            }
            None => None,
        },
        None => {
            sink.span(
                inner.span(),
                "`cost` needs `over`, a threshold in the rate card's currency",
                None,
            );
            None
        }
    };
    let by = match get(cost, "by") {
        Some(v) => {
            let text = fields::string(sink, v, "when.cost.by")?;
            match text.as_str() {
                "asset" => Some(CostGrouping::Asset),
                "group" => Some(CostGrouping::Group),
                other => match other.strip_prefix("tag:") {
                    Some(tag) if !tag.is_empty() => Some(CostGrouping::Tag(tag.to_string())),
                    _ => {
                        sink.span(
                            v.span(),
                            format!("invalid `when.cost.by` \"{text}\""),
                            Some("valid values: \"asset\", \"group\" or \"tag:<key>\"".into()),
                        );
                        None
                    }
                },
            }
        }
        None => Some(CostGrouping::Asset),
    };
    if per == Some(CostPeriod::Run)
        && let (Some(by @ (CostGrouping::Group | CostGrouping::Tag(_))), Some(v)) =
            (&by, get(cost, "by"))
    {
        let grouping = match by {
            CostGrouping::Group => "group".to_string(),
            CostGrouping::Tag(key) => format!("tag:{key}"),
            CostGrouping::Asset => unreachable!("matched above"),
        };
        sink.span(
            v.span(),
            format!(
                "`per = \"materialization\"` compares each asset's latest materialization: it \
                 cannot be summed `by = \"{grouping}\"`"
            ),
            Some("leave out `by`, or sum per \"day\" or \"month\"".into()),
        );
        return None;
    }
    Some(AlertCondition::Cost {
        per: per?,
        over: over?,
        by: by?,
    })
}

fn http_url(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<String> {
    let text = fields::nonempty_string(sink, value, what)?;
    let host = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    if host.is_none_or(str::is_empty) {
        sink.span(
            value.span(),
            format!("`{what}` must be an http:// or https:// URL, found \"{text}\""),
            None,
        );
        return None;
    }
    Some(text)
}

fn openlineage(
    sink: &mut FileSink<'_>,
    table: &DeTable<'_>,
    project: &str,
) -> Option<OpenLineageConfig> {
    fields::check_keys(
        sink,
        table,
        &["url", "file", "namespace"],
        &[],
        "[openlineage]",
    );
    let url = get(table, "url");
    let file = get(table, "file");
    let target = match (url, file) {
        (Some(url), None) => OpenLineageTarget::Url(http_url(sink, url, "openlineage.url")?),
        (None, Some(file)) => OpenLineageTarget::File(PathBuf::from(fields::nonempty_string(
            sink,
            file,
            "openlineage.file",
        )?)),
        (Some(url), Some(_)) => {
            sink.span(
                url.span(),
                "`[openlineage]` takes `url` or `file`, not both",
                None,
            );
            return None;
        }
        (None, None) => {
            let span = table.iter().next().map_or(0..0, |(k, _)| k.span());
            sink.span(
                span,
                "`[openlineage]` needs `url` (an HTTP endpoint) or `file` (an NDJSON file)",
                None,
            );
            return None;
        }
    };
    let namespace = match get(table, "namespace") {
        Some(value) => fields::nonempty_string(sink, value, "openlineage.namespace")?,
        None => project.to_string(),
    };
    Some(OpenLineageConfig { target, namespace })
}
