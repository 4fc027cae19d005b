//! The declaration syntax of partitions definitions and partition mappings, as serde types.
//!
//! These mirror what users write in `strata.toml`-style TOML (and what the reference vectors
//! hold as JSON) and nothing more: no validation beyond shape happens here. A spec becomes a
//! checked [`PartitionsDefinition`](super::PartitionsDefinition) or
//! [`PartitionMapping`](super::PartitionMapping) through their `from_spec` constructors.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `partitions = { <kind> = … }`: exactly one kind per definition.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PartitionsSpec {
    /// One window per hour (`minute_offset`).
    Hourly(TimeWindowSpec),
    /// One window per day (`hour_offset`, `minute_offset`).
    Daily(TimeWindowSpec),
    /// One window per week (`day_offset`: day of week, 0 = Sunday).
    Weekly(TimeWindowSpec),
    /// One window per month (`day_offset`: day of month, default 1).
    Monthly(TimeWindowSpec),
    /// Windows between consecutive ticks of any five-field cron schedule.
    Cron(CronWindowSpec),
    /// A fixed, ordered list of keys.
    Static(Vec<String>),
    /// A named set of keys added and removed at run time.
    Dynamic(String),
    /// Exactly two named dimensions; keys are `a|b` with dimensions ordered by name.
    Multi(BTreeMap<String, PartitionsSpec>),
}

/// The fields of `hourly`, `daily`, `weekly` and `monthly` definitions.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindowSpec {
    /// The first window starts at the first tick at or after this, parsed in `fmt`.
    pub start: String,
    /// Exclusive end, parsed in `fmt`; open-ended when absent.
    pub end: Option<String>,
    /// IANA time zone; UTC when absent.
    pub timezone: Option<String>,
    /// strftime format of keys; Dagster's default per grain when absent.
    pub fmt: Option<String>,
    /// Minute of the hour windows start at.
    pub minute_offset: Option<u32>,
    /// Hour of the day windows start at (daily, weekly, monthly).
    pub hour_offset: Option<u32>,
    /// Day of week (weekly, 0 = Sunday) or day of month (monthly) windows start at.
    pub day_offset: Option<u32>,
    /// Windows added (positive) or removed (negative) past the last complete one.
    pub end_offset: Option<i64>,
    /// Cron strings or dates/times whose windows are removed.
    pub exclusions: Option<Vec<String>>,
}

/// The fields of a `cron` definition.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronWindowSpec {
    /// Five-field cron schedule whose ticks start windows.
    pub schedule: String,
    /// See [`TimeWindowSpec::start`].
    pub start: String,
    /// See [`TimeWindowSpec::end`].
    pub end: Option<String>,
    /// See [`TimeWindowSpec::timezone`].
    pub timezone: Option<String>,
    /// strftime format of keys; `%Y-%m-%d-%H:%M` when absent.
    pub fmt: Option<String>,
    /// See [`TimeWindowSpec::end_offset`].
    pub end_offset: Option<i64>,
    /// See [`TimeWindowSpec::exclusions`].
    pub exclusions: Option<Vec<String>>,
}

/// `mapping = …` in a `[deps."group/name"]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MappingSpec {
    /// Same key upstream and downstream.
    Identity,
    /// Every upstream partition.
    All,
    /// The last upstream partition.
    Last,
    /// Upstream windows overlapping the (offset) downstream window.
    TimeWindow(TimeWindowMappingSpec),
    /// Upstream key → the downstream keys it feeds.
    Static(BTreeMap<String, OneOrMany>),
    /// A fixed list of upstream keys.
    Specific(Vec<String>),
    /// A multi-partitioned side to a single dimension of it.
    MultiToSingle(MultiToSingleSpec),
    /// One mapping per dimension both sides share; a dimension left out maps as `all`.
    Multi(BTreeMap<String, MappingSpec>),
}

/// The fields of a `time_window` mapping, offsets in units of the downstream definition.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindowMappingSpec {
    /// Shift of the start of the mapped window.
    #[serde(default)]
    pub start_offset: i64,
    /// Shift of the end of the mapped window.
    #[serde(default)]
    pub end_offset: i64,
    /// Accept upstream partitions outside the upstream's range instead of reporting them.
    #[serde(default)]
    pub allow_nonexistent: bool,
}

/// The fields of a `multi_to_single` mapping.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiToSingleSpec {
    /// The dimension of the multi-partitioned side; inferred as Dagster does when absent.
    pub dimension: Option<String>,
}

/// A key or a list of keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One key.
    One(String),
    /// Several keys.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The keys, in the order given.
    pub fn keys(&self) -> &[String] {
        match self {
            OneOrMany::One(key) => std::slice::from_ref(key),
            OneOrMany::Many(keys) => keys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        partitions: Option<PartitionsSpec>,
        mapping: Option<MappingSpec>,
    }

    fn parse(text: &str) -> Holder {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn reads_every_contract_example() {
        let examples = [
            r#"partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }"#,
            r#"partitions = { hourly = { start = "2024-03-01-00:00", timezone = "Europe/Berlin", fmt = "%Y-%m-%d-%H:%M", minute_offset = 30 } }"#,
            r#"partitions = { weekly = { start = "2024-01-01", day_offset = 1, end_offset = 1 } }"#,
            r#"partitions = { monthly = { start = "2024-01-01", day_offset = 15 } }"#,
            r#"partitions = { cron = { schedule = "0 */4 * * *", start = "2024-01-01-00:00", fmt = "%Y-%m-%d-%H:%M" } }"#,
            r#"partitions = { static = ["EWR", "JFK", "LGA"] }"#,
            r#"partitions = { dynamic = "customers" }"#,
            r#"partitions = { multi = { date = { daily = { start = "2013-01-01" } }, origin = { static = ["EWR", "JFK", "LGA"] } } }"#,
        ];
        for example in examples {
            assert!(parse(example).partitions.is_some(), "{example}");
        }
    }

    #[test]
    fn reads_every_mapping_example() {
        let examples = [
            r#"mapping = "identity""#,
            r#"mapping = "all""#,
            r#"mapping = "last""#,
            r#"mapping = { time_window = { start_offset = -6, end_offset = 0, allow_nonexistent = false } }"#,
            r#"mapping = { static = { "EWR" = ["east"], "JFK" = ["east", "north"] } }"#,
            r#"mapping = { specific = ["2013-01-01", "2013-01-02"] }"#,
            r#"mapping = { multi_to_single = { dimension = "date" } }"#,
            r#"mapping = { multi_to_single = {} }"#,
            r#"mapping = { multi = { date = { time_window = { start_offset = -1, end_offset = -1 } }, origin = "identity" } }"#,
        ];
        for example in examples {
            assert!(parse(example).mapping.is_some(), "{example}");
        }
    }

    #[test]
    fn rejects_unknown_fields() {
        let result: Result<Holder, _> =
            toml::from_str(r#"partitions = { daily = { start = "2013-01-01", timezon = "UTC" } }"#);
        let message = result.err().unwrap().to_string();
        assert!(message.contains("timezon"), "{message}");
    }
}
