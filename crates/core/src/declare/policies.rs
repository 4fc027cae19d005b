//! The policy fields of an asset: `freshness`, `checks` and `retry`.
//!
//! They share nothing with how an asset is computed, and each has several forms with their own
//! rules (warn below fail, names unique, one form per policy), so they are read apart from the
//! rest of an asset file.

use std::collections::BTreeSet;

use toml::de::{DeTable, DeValue};

use super::diagnostics::FileSink;
use super::fields::{self, Value, get};
use crate::model::{
    Backoff, Check, CheckKind, CronSpec, FreshnessPolicy, Literal, RetryPolicy, Severity,
};
use crate::sql_deps::{TableRef, analyze_query};

const MAX_LAG: &[&str] = &["max_lag", "warn_lag", "cron", "timezone"];
const DEADLINE: &[&str] = &["deadline", "lower_bound", "timezone"];
const PARTITION_LAG: &[&str] = &["partition_lag", "warn_partition_lag", "lookback"];
const FORMS: &str = "freshness = { max_lag = \"26h\" }, { deadline = \"0 9 * * *\", lower_bound = \"24h\" } \
                     or { partition_lag = \"9h\", lookback = \"7d\" }";

/// `freshness = { … }` in one of its three forms. `time_partitioned` tells whether the
/// partition-aware form applies.
pub(crate) fn freshness(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    time_partitioned: Option<bool>,
) -> Option<FreshnessPolicy> {
    let table = fields::table(sink, value, "freshness")?;
    let (form, allowed): (&str, &[&str]) = if get(table, "max_lag").is_some() {
        ("max_lag", MAX_LAG)
    } else if get(table, "deadline").is_some() {
        ("deadline", DEADLINE)
    } else if get(table, "partition_lag").is_some() {
        ("partition_lag", PARTITION_LAG)
    } else {
        fields::check_keys(
            sink,
            table,
            &[MAX_LAG, DEADLINE, PARTITION_LAG].concat(),
            &[],
            "freshness",
        );
        sink.span(
            value.span(),
            "`freshness` needs `max_lag`, `deadline` or `partition_lag`",
            Some(FORMS.into()),
        );
        return None;
    };
    let other_forms: Vec<(&str, String)> = [MAX_LAG, DEADLINE, PARTITION_LAG]
        .concat()
        .into_iter()
        .filter(|key| !allowed.contains(key))
        .map(|key| {
            (
                key,
                format!("cannot be combined with `{form}`: a freshness policy has one form"),
            )
        })
        .collect();
    let special: Vec<(&str, &str)> = other_forms.iter().map(|(k, m)| (*k, m.as_str())).collect();
    fields::check_keys(sink, table, allowed, &special, "freshness");
    let duration = |sink: &mut FileSink<'_>, key: &str| {
        get(table, key).and_then(|v| fields::duration(sink, v, &format!("freshness.{key}")))
    };
    match form {
        "max_lag" => {
            let max_lag = positive(sink, table, "max_lag")?;
            let warn_lag = warn_below(sink, table, "warn_lag", "max_lag", max_lag);
            let cron = match get(table, "cron") {
                Some(v) => {
                    let (text, schedule) = fields::cron(sink, v, "freshness.cron")?;
                    let timezone = match get(table, "timezone") {
                        Some(tz) => fields::timezone(sink, tz, "freshness.timezone")?,
                        None => chrono_tz::Tz::UTC,
                    };
                    Some(CronSpec {
                        text,
                        schedule,
                        timezone,
                    })
                }
                None => {
                    if let Some(tz) = get(table, "timezone") {
                        sink.span(
                            tz.span(),
                            "`freshness.timezone` applies only with `cron`",
                            None,
                        );
                        return None;
                    }
                    None
                }
            };
            Some(FreshnessPolicy::MaxLag {
                max_lag,
                warn_lag: warn_lag?,
                cron,
            })
        }
        "deadline" => {
            let deadline = get(table, "deadline")?;
            let (text, schedule) = fields::cron(sink, deadline, "freshness.deadline")?;
            let timezone = match get(table, "timezone") {
                Some(tz) => fields::timezone(sink, tz, "freshness.timezone")?,
                None => chrono_tz::Tz::UTC,
            };
            let Some(bound_value) = get(table, "lower_bound") else {
                sink.span(
                    value.span(),
                    "`freshness` with `deadline` needs `lower_bound`: how long before the deadline a materialization still counts",
                    Some("e.g. lower_bound = \"24h\"".into()),
                );
                return None;
            };
            let lower_bound = duration(sink, "lower_bound")?;
            if lower_bound.as_secs() < 60 {
                sink.span(
                    bound_value.span(),
                    "`freshness.lower_bound` must be at least 1 minute",
                    None,
                );
                return None;
            }
            Some(FreshnessPolicy::Deadline {
                deadline: CronSpec {
                    text,
                    schedule,
                    timezone,
                },
                lower_bound,
            })
        }
        _ => {
            if time_partitioned == Some(false) {
                sink.span(
                    value.span(),
                    "`partition_lag` needs time partitions (hourly, daily, weekly, monthly, cron, or a multi with one of them)",
                    Some("use `max_lag` or `deadline` for this asset".into()),
                );
                return None;
            }
            let lag_value = get(table, "partition_lag")?;
            let partition_lag = fields::duration(sink, lag_value, "freshness.partition_lag")?;
            let warn = warn_below(
                sink,
                table,
                "warn_partition_lag",
                "partition_lag",
                partition_lag,
            );
            let Some(lookback_value) = get(table, "lookback") else {
                sink.span(
                    value.span(),
                    "`freshness` with `partition_lag` needs `lookback`: how far back windows are checked",
                    Some("e.g. lookback = \"7d\"".into()),
                );
                return None;
            };
            let lookback = fields::positive_duration(sink, lookback_value, "freshness.lookback")?;
            Some(FreshnessPolicy::PartitionLag {
                partition_lag,
                warn_partition_lag: warn?,
                lookback,
            })
        }
    }
}

fn positive(
    sink: &mut FileSink<'_>,
    table: &DeTable<'_>,
    key: &str,
) -> Option<std::time::Duration> {
    fields::positive_duration(sink, get(table, key)?, &format!("freshness.{key}"))
}

/// An optional warn level that must be below its fail level. `Some(None)`: absent.
fn warn_below(
    sink: &mut FileSink<'_>,
    table: &DeTable<'_>,
    key: &str,
    fail_key: &str,
    fail: std::time::Duration,
) -> Option<Option<std::time::Duration>> {
    let Some(value) = get(table, key) else {
        return Some(None);
    };
    let warn = fields::duration(sink, value, &format!("freshness.{key}"))?;
    if warn >= fail {
        sink.span(
            value.span(),
            format!("`freshness.{key}` must be less than `{fail_key}`"),
            Some("the warn level is reached first, then the fail level".into()),
        );
        return None;
    }
    Some(Some(warn))
}

const CHECK_KINDS: &[&str] = &["not_null", "unique", "accepted_values", "row_count", "sql"];

/// A table referenced by a check's SQL, located in the file.
pub(crate) struct CheckTable {
    pub(crate) table: TableRef,
    pub(crate) offset: usize,
}

/// `checks = [ … ]`.
pub(crate) fn checks(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    tables: &mut Vec<CheckTable>,
) -> Option<Vec<Check>> {
    let DeValue::Array(items) = value.get_ref() else {
        fields::wrong_type(sink, value, "checks", "an array of tables");
        return None;
    };
    let mut checks = Vec::new();
    let mut names = BTreeSet::new();
    let mut ok = true;
    for item in items.iter() {
        match check(sink, item, tables) {
            Some(check) => {
                if !names.insert(check.name.clone()) {
                    sink.span(
                        item.span(),
                        format!("two checks are named `{}`", check.name),
                        Some("give one a different `name`".into()),
                    );
                    ok = false;
                }
                checks.push(check);
            }
            None => ok = false,
        }
    }
    ok.then_some(checks)
}

fn check(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    tables: &mut Vec<CheckTable>,
) -> Option<Check> {
    let table = fields::table(sink, value, "checks[]")?;
    let allowed = [CHECK_KINDS, &["severity", "blocking", "name"]].concat();
    fields::check_keys(sink, table, &allowed, &[], "a check");
    let kinds: Vec<&str> = CHECK_KINDS
        .iter()
        .copied()
        .filter(|k| get(table, k).is_some())
        .collect();
    let [kind_name] = kinds.as_slice() else {
        sink.span(
            value.span(),
            if kinds.is_empty() {
                "a check needs one of `not_null`, `unique`, `accepted_values`, `row_count` or `sql`"
                    .to_string()
            } else {
                format!("a check has one kind, found {}", kinds.join(" and "))
            },
            Some("e.g. { not_null = [\"carrier\"] } or { row_count = { min = 1 } }".into()),
        );
        return None;
    };
    let kind_value = get(table, kind_name)?;
    let what = format!("checks.{kind_name}");
    let (kind, default_name) = match *kind_name {
        "not_null" | "unique" => {
            let columns = columns(sink, kind_value, &what)?;
            let name = format!("{kind_name}_{}", columns.join("_"));
            let kind = if *kind_name == "unique" {
                CheckKind::Unique(columns)
            } else {
                CheckKind::NotNull(columns)
            };
            (kind, Some(name))
        }
        "accepted_values" => {
            let inner = fields::table(sink, kind_value, &what)?;
            fields::check_keys(sink, inner, &["column", "values"], &[], "`accepted_values`");
            let column = match get(inner, "column") {
                Some(v) => fields::nonempty_string(sink, v, "checks.accepted_values.column")?,
                None => {
                    sink.span(kind_value.span(), "`accepted_values` needs `column`", None);
                    return None;
                }
            };
            let Some(values_value) = get(inner, "values") else {
                sink.span(kind_value.span(), "`accepted_values` needs `values`", None);
                return None;
            };
            let values = literals(sink, values_value)?;
            let name = format!("accepted_values_{column}");
            (CheckKind::AcceptedValues { column, values }, Some(name))
        }
        "row_count" => {
            let inner = fields::table(sink, kind_value, &what)?;
            fields::check_keys(sink, inner, &["min", "max"], &[], "`row_count`");
            let bound = |sink: &mut FileSink<'_>, key: &str| {
                get(inner, key).map(|v| {
                    fields::integer_in(sink, v, &format!("checks.row_count.{key}"), 0, i64::MAX)
                        .map(|n| n as u64)
                })
            };
            let (min, max) = (bound(sink, "min"), bound(sink, "max"));
            let (min, max) = (
                min.map_or(Some(None), |m| m.map(Some))?,
                max.map_or(Some(None), |m| m.map(Some))?,
            );
            if min.is_none() && max.is_none() {
                sink.span(
                    kind_value.span(),
                    "`row_count` needs `min`, `max` or both",
                    None,
                );
                return None;
            }
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                sink.span(
                    kind_value.span(),
                    format!("`row_count` min {lo} is above max {hi}"),
                    None,
                );
                return None;
            }
            (
                CheckKind::RowCount { min, max },
                Some("row_count".to_string()),
            )
        }
        _ => {
            let query = fields::nonempty_string(sink, kind_value, "checks.sql")?;
            match analyze_query(&query) {
                Ok(info) => {
                    let index = super::diagnostics::LineIndex::new(&query);
                    for table_ref in info.tables {
                        if table_ref.parts == ["this"] {
                            continue;
                        }
                        let inner = index.offset(&query, table_ref.line, table_ref.col);
                        let offset = sink.offset_in_string(kind_value.span(), &query, inner);
                        tables.push(CheckTable {
                            table: table_ref,
                            offset,
                        });
                    }
                }
                Err(error) => {
                    let index = super::diagnostics::LineIndex::new(&query);
                    let inner = index.offset(&query, error.line, error.col);
                    let offset = sink.offset_in_string(kind_value.span(), &query, inner);
                    sink.at(offset, format!("`checks.sql`: {}", error.message), None);
                    return None;
                }
            }
            (CheckKind::Sql { query }, None)
        }
    };
    let name = match (get(table, "name"), default_name) {
        (Some(v), _) => {
            let name = fields::nonempty_string(sink, v, "checks.name")?;
            if !super::project::valid_name(&name) {
                sink.span(
                    v.span(),
                    format!("invalid check name `{name}`"),
                    Some("names use lowercase letters, digits and `_`".into()),
                );
                return None;
            }
            name
        }
        (None, Some(name)) => name.to_lowercase(),
        (None, None) => {
            sink.span(
                value.span(),
                "an `sql` check needs a `name`",
                Some(
                    "e.g. { sql = \"SELECT * FROM this WHERE x < 0\", name = \"no_negative_x\" }"
                        .into(),
                ),
            );
            return None;
        }
    };
    let severity = match get(table, "severity") {
        Some(v) => match fields::choice(sink, v, "checks.severity", &["warn", "error"])? {
            "warn" => Severity::Warn,
            _ => Severity::Error,
        },
        None => Severity::Error,
    };
    let blocking = match get(table, "blocking") {
        Some(v) => fields::boolean(sink, v, "checks.blocking")?,
        None => false,
    };
    Some(Check {
        name,
        kind,
        severity,
        blocking,
    })
}

/// A column name or a non-empty list of them.
fn columns(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<Vec<String>> {
    let columns = match value.get_ref() {
        DeValue::String(column) => vec![column.to_string()],
        _ => fields::string_list(sink, value, what)?
            .into_iter()
            .map(|c| c.into_inner())
            .collect(),
    };
    if columns.is_empty() || columns.iter().any(|c| c.trim().is_empty()) {
        sink.span(
            value.span(),
            format!("`{what}` needs at least one column name"),
            None,
        );
        return None;
    }
    Some(columns)
}

fn literals(sink: &mut FileSink<'_>, value: &Value<'_>) -> Option<Vec<Literal>> {
    let DeValue::Array(items) = value.get_ref() else {
        fields::wrong_type(sink, value, "checks.accepted_values.values", "an array");
        return None;
    };
    let mut out = Vec::new();
    for item in items.iter() {
        out.push(match item.get_ref() {
            DeValue::String(s) => Literal::String(s.to_string()),
            DeValue::Boolean(b) => Literal::Boolean(*b),
            DeValue::Integer(_) => Literal::Integer(fields::integer(sink, item, "values[]")?),
            DeValue::Float(_) => Literal::Float(fields::number(sink, item, "values[]")?),
            _ => {
                fields::wrong_type(
                    sink,
                    item,
                    "checks.accepted_values.values[]",
                    "a string, number or boolean",
                );
                return None;
            }
        });
    }
    if out.is_empty() {
        sink.span(
            value.span(),
            "`accepted_values` needs at least one value",
            None,
        );
        return None;
    }
    Some(out)
}

/// `retry = { max_retries, delay, backoff, jitter }`.
pub(crate) fn retry(sink: &mut FileSink<'_>, value: &Value<'_>) -> Option<RetryPolicy> {
    let table = fields::table(sink, value, "retry")?;
    fields::check_keys(
        sink,
        table,
        &["max_retries", "delay", "backoff", "jitter"],
        &[],
        "retry",
    );
    let max_retries = match get(table, "max_retries") {
        Some(v) => fields::integer_in(sink, v, "retry.max_retries", 0, 100)? as u32,
        None => 1,
    };
    let delay = match get(table, "delay") {
        Some(v) => fields::duration(sink, v, "retry.delay")?,
        None => std::time::Duration::ZERO,
    };
    let backoff = match get(table, "backoff") {
        Some(v) => match fields::choice(
            sink,
            v,
            "retry.backoff",
            &["constant", "linear", "exponential"],
        )? {
            "linear" => Backoff::Linear,
            "exponential" => Backoff::Exponential,
            _ => Backoff::Constant,
        },
        None => Backoff::Constant,
    };
    let jitter = match get(table, "jitter") {
        Some(v) => fields::boolean(sink, v, "retry.jitter")?,
        None => false,
    };
    Some(RetryPolicy {
        max_retries,
        delay,
        backoff,
        jitter,
    })
}
