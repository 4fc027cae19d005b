//! Cost: what a step used, priced by the rate card; storage accrued from the bytes an asset
//! holds over time; and the sums by asset, partition, group, tag or day that `strata costs`,
//! the API and cost alerts show.
//!
//! Prices are applied when a step's usage is recorded, so a later rate card does not reprice
//! history. Storage is priced when asked, from how long each materialization's bytes were the
//! current data: a GB is 10⁹ bytes and a month is 30 days, as cloud bills count them.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::key::AssetKey;
use crate::model::{CostPeriod, RateCard};

/// Bytes in a GB, as prices count them.
pub const GB: f64 = 1e9;

/// Milliseconds in the 30-day month `gb_month_stored` is priced for.
const MONTH_MS: f64 = 30.0 * 86_400_000.0;

/// What one step (or its share of a single-run range) used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Elapsed time of the attempt.
    pub wall_seconds: f64,
    /// CPU time: the child's user + system time for commands; DataFusion's compute and decode
    /// time plus the IO manager's write time for in-process SQL.
    pub cpu_seconds: f64,
    /// A command's peak resident memory (`None` for in-process steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    /// Bytes of the input partitions read.
    pub bytes_read: u64,
    /// Rows of the input partitions read.
    pub rows_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Units a command reported (`{"type": "cost", …}`), by unit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, f64>,
}

impl Usage {
    /// This usage shared equally by `parts` partitions (a single-run range commits many
    /// partitions with one query; each is charged its share). Counts are split so the shares add
    /// back up exactly: the first ones get the remainder.
    pub fn split(&self, parts: usize) -> Vec<Usage> {
        let n = parts.max(1);
        let f = n as f64;
        let count =
            |total: u64, i: usize| total / n as u64 + u64::from((i as u64) < total % n as u64);
        (0..n)
            .map(|i| Usage {
                wall_seconds: self.wall_seconds / f,
                cpu_seconds: self.cpu_seconds / f,
                peak_memory_bytes: self.peak_memory_bytes,
                bytes_read: count(self.bytes_read, i),
                rows_read: count(self.rows_read, i),
                bytes_written: count(self.bytes_written, i),
                rows_written: count(self.rows_written, i),
                units: self.units.iter().map(|(u, a)| (u.clone(), a / f)).collect(),
            })
            .collect()
    }

    /// Adds `other` (peak memory: the larger).
    pub fn add(&mut self, other: &Usage) {
        self.wall_seconds += other.wall_seconds;
        self.cpu_seconds += other.cpu_seconds;
        self.peak_memory_bytes = match (self.peak_memory_bytes, other.peak_memory_bytes) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.bytes_read += other.bytes_read;
        self.rows_read += other.rows_read;
        self.bytes_written += other.bytes_written;
        self.rows_written += other.rows_written;
        for (unit, amount) in &other.units {
            *self.units.entry(unit.clone()).or_default() += amount;
        }
    }
}

/// Money, by what it pays for, in the rate card's currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Amounts {
    /// CPU time × `cpu_hour`.
    pub compute: f64,
    /// Bytes read × `gb_read`.
    pub read: f64,
    /// Bytes written × `gb_written`.
    pub written: f64,
    /// Reported units × their price.
    pub units: f64,
    /// Bytes held × time × `gb_month_stored`.
    pub storage: f64,
}

impl Amounts {
    /// The sum of every part.
    pub fn total(&self) -> f64 {
        self.compute + self.read + self.written + self.units + self.storage
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &Amounts) {
        self.compute += other.compute;
        self.read += other.read;
        self.written += other.written;
        self.units += other.units;
        self.storage += other.storage;
    }
}

/// Prices `usage` with `card`. Units the card has no price for cost nothing and are returned,
/// so the step log can say so.
pub fn price(usage: &Usage, card: &RateCard) -> (Amounts, Vec<String>) {
    let mut unpriced = Vec::new();
    let mut units = 0.0;
    for (unit, amount) in &usage.units {
        match card.units.get(unit) {
            Some(price) => units += amount * price,
            None => unpriced.push(unit.clone()),
        }
    }
    let amounts = Amounts {
        compute: usage.cpu_seconds / 3600.0 * card.cpu_hour,
        read: usage.bytes_read as f64 / GB * card.gb_read,
        written: usage.bytes_written as f64 / GB * card.gb_written,
        units,
        storage: 0.0,
    };
    (amounts, unpriced)
}

/// One step's recorded cost for one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct StepCostItem {
    /// The asset.
    pub asset: AssetKey,
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// When the step ended (ms since the epoch).
    pub at: i64,
    /// What it used.
    pub usage: Usage,
    /// What that cost when it was recorded.
    pub amounts: Amounts,
    /// Whether the step succeeded (failed attempts cost too).
    pub succeeded: bool,
}

/// Bytes of one materialization, held from its commit until it was superseded.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldBytes {
    /// The asset.
    pub asset: AssetKey,
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// When it became current (ms).
    pub from: i64,
    /// When a newer materialization replaced it (ms); `None` while current.
    pub until: Option<i64>,
    /// Its size.
    pub bytes: u64,
}

/// How cost rows are grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// One row per asset.
    Asset,
    /// One row per asset partition.
    Partition,
    /// One row per asset group.
    Group,
    /// One row per value of this tag (assets without it: `(none)`).
    Tag(String),
    /// One row per calendar day in the rate card's time zone.
    Day,
}

impl GroupBy {
    /// Parses `asset`, `partition`, `group`, `day` or `tag:KEY`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "asset" => Ok(Self::Asset),
            "partition" => Ok(Self::Partition),
            "group" => Ok(Self::Group),
            "day" => Ok(Self::Day),
            _ => match text.strip_prefix("tag:") {
                Some(key) if !key.is_empty() => Ok(Self::Tag(key.to_string())),
                _ => Err(format!(
                    "`{text}` is not a grouping; use asset, partition, group, day or tag:KEY"
                )),
            },
        }
    }

    /// The text [`GroupBy::parse`] reads.
    pub fn name(&self) -> String {
        match self {
            Self::Asset => "asset".into(),
            Self::Partition => "partition".into(),
            Self::Group => "group".into(),
            Self::Day => "day".into(),
            Self::Tag(key) => format!("tag:{key}"),
        }
    }
}

/// The key of the row an asset's cost counts in, for every grouping but `Day`.
pub fn group_key(
    by: &GroupBy,
    asset: &AssetKey,
    partition: Option<&str>,
    tags: Option<&BTreeMap<String, String>>,
) -> String {
    match by {
        GroupBy::Asset | GroupBy::Day => asset.to_string(),
        GroupBy::Partition => match partition {
            Some(key) => format!("{asset} {key}"),
            None => asset.to_string(),
        },
        GroupBy::Group => asset.group().to_string(),
        GroupBy::Tag(key) => match tags.and_then(|t| t.get(key)) {
            Some(value) => format!("{key}={value}"),
            None => "(none)".to_string(),
        },
    }
}

/// One row of a cost report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    /// What the row sums: an asset, `asset partition`, a group, `tag=value` or a day.
    pub key: String,
    /// The money.
    pub amounts: Amounts,
    /// Step attempts counted (per partition for single-run ranges).
    pub steps: u64,
    /// What they used.
    pub usage: Usage,
}

/// A whole cost report: rows sorted by total cost (highest first; days in date order).
#[derive(Clone, Debug, PartialEq)]
pub struct CostReport {
    /// The rows.
    pub rows: Vec<CostRow>,
    /// Their sum.
    pub total: CostRow,
}

/// The calendar day of `ms` in `tz`, as `YYYY-MM-DD`.
pub fn day_of(ms: i64, tz: Tz) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        None => "(invalid)".to_string(),
    }
}

/// The start (ms) of the local day `date` in `tz`.
pub fn day_start(date: NaiveDate, tz: Tz) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Where a DST change skips midnight (America/Santiago, America/Havana), the day starts at
    // the first local time that exists.
    (0..=180)
        .map(|minutes| midnight + chrono::Duration::minutes(minutes))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map_or_else(
            || midnight.and_utc().timestamp_millis(),
            |t| t.timestamp_millis(),
        )
}

/// The start (ms) of the cost period holding `now`, in `tz`: the calendar day or month, or
/// `None` for a per-materialization period.
pub fn period_start(per: CostPeriod, now: i64, tz: Tz) -> Option<i64> {
    let local = DateTime::from_timestamp_millis(now)?
        .with_timezone(&tz)
        .date_naive();
    match per {
        CostPeriod::Run => None,
        CostPeriod::Day => Some(day_start(local, tz)),
        CostPeriod::Month => Some(day_start(local.with_day(1)?, tz)),
    }
}

/// Sums step costs and the storage accrued in `[since, until)` into rows grouped `by`.
/// `tags` gives an asset's tags (cost tags are ordinary tags); `gb_month_stored` prices
/// storage.
pub fn report<'a>(
    steps: &[StepCostItem],
    held: &[HeldBytes],
    by: &GroupBy,
    window: (i64, i64),
    card: &RateCard,
    tags: impl Fn(&AssetKey) -> Option<&'a BTreeMap<String, String>>,
) -> CostReport {
    let (since, until) = window;
    let mut rows: BTreeMap<String, CostRow> = BTreeMap::new();
    fn row(rows: &mut BTreeMap<String, CostRow>, key: String) -> &mut CostRow {
        rows.entry(key.clone()).or_insert_with(|| CostRow {
            key,
            ..CostRow::default()
        })
    }
    for step in steps.iter().filter(|s| s.at >= since && s.at < until) {
        let key = match by {
            GroupBy::Day => day_of(step.at, card.timezone),
            _ => group_key(
                by,
                &step.asset,
                step.partition.as_deref(),
                tags(&step.asset),
            ),
        };
        let row = row(&mut rows, key);
        row.amounts.add(&step.amounts);
        row.usage.add(&step.usage);
        row.steps += 1;
    }
    let per_byte_ms = card.gb_month_stored / GB / MONTH_MS;
    for piece in held {
        let from = piece.from.max(since);
        let to = piece.until.unwrap_or(until).min(until);
        if to <= from || piece.bytes == 0 {
            continue;
        }
        let spans = match by {
            GroupBy::Day => day_spans(from, to, card.timezone),
            _ => vec![(
                group_key(
                    by,
                    &piece.asset,
                    piece.partition.as_deref(),
                    tags(&piece.asset),
                ),
                from,
                to,
            )],
        };
        for (key, from, to) in spans {
            row(&mut rows, key).amounts.storage +=
                piece.bytes as f64 * (to - from) as f64 * per_byte_ms;
        }
    }
    let mut rows: Vec<CostRow> = rows.into_values().collect();
    if *by != GroupBy::Day {
        rows.sort_by(|a, b| {
            b.amounts
                .total()
                .total_cmp(&a.amounts.total())
                .then_with(|| a.key.cmp(&b.key))
        });
    }
    let mut total = CostRow {
        key: "total".to_string(),
        ..CostRow::default()
    };
    for row in &rows {
        total.amounts.add(&row.amounts);
        total.usage.add(&row.usage);
        total.steps += row.steps;
    }
    CostReport { rows, total }
}

/// `[from, to)` cut at local midnights: (day, start, end) pieces.
fn day_spans(from: i64, to: i64, tz: Tz) -> Vec<(String, i64, i64)> {
    let mut spans = Vec::new();
    let mut at = from;
    while at < to {
        let Some(date) =
            DateTime::from_timestamp_millis(at).map(|t| t.with_timezone(&tz).date_naive())
        else {
            break;
        };
        let next = date
            .succ_opt()
            .map_or(to, |next| day_start(next, tz))
            .min(to)
            .max(at + 1);
        spans.push((date.format("%Y-%m-%d").to_string(), at, next));
        at = next;
    }
    spans
}

/// The recorded cost history of one asset: successful step partitions and what they cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AssetCostHistory {
    /// Successful asset partitions with a recorded cost.
    pub partitions: u64,
    /// What they cost in total.
    pub total: f64,
}

/// An estimate of what materializing some asset partitions will cost.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    /// The estimated amount, for the partitions with a history.
    pub amount: f64,
    /// Asset partitions estimated from their asset's history.
    pub estimated_partitions: u64,
    /// Asset partitions of assets never costed before (not in `amount`).
    pub unknown_partitions: u64,
    /// Per asset: (partitions planned, estimated amount; `None` without history).
    pub per_asset: Vec<(AssetKey, u64, Option<f64>)>,
}

/// Estimates `planned` (asset, partitions to materialize) from each asset's average cost per
/// partition so far. Storage is not included: it accrues after the fact.
pub fn estimate(
    planned: &[(AssetKey, u64)],
    history: &BTreeMap<AssetKey, AssetCostHistory>,
) -> Estimate {
    let mut estimate = Estimate::default();
    for (asset, count) in planned {
        match history.get(asset).filter(|h| h.partitions > 0) {
            Some(h) => {
                let amount = h.total / h.partitions as f64 * *count as f64;
                estimate.amount += amount;
                estimate.estimated_partitions += count;
                estimate
                    .per_asset
                    .push((asset.clone(), *count, Some(amount)));
            }
            None => {
                estimate.unknown_partitions += count;
                estimate.per_asset.push((asset.clone(), *count, None));
            }
        }
    }
    estimate
}

/// An amount in `currency` for people: `$12.34`, `€0.0042`, `12.34 CHF`. Amounts under one
/// cent keep two significant digits (down to millionths), so small costs do not read as zero.
pub fn format_money(amount: f64, currency: &str) -> String {
    let digits = if amount == 0.0 || amount.abs() >= 0.01 {
        2
    } else {
        let magnitude = (-amount.abs().log10()).ceil() as usize;
        (magnitude + 1).min(6)
    };
    let number = format!("{amount:.digits$}");
    match currency {
        "USD" => format!("${number}"),
        "EUR" => format!("€{number}"),
        "GBP" => format!("£{number}"),
        _ => format!("{number} {currency}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> RateCard {
        RateCard {
            currency: "USD".into(),
            timezone: chrono_tz::UTC,
            cpu_hour: 0.05,
            gb_read: 0.0,
            gb_written: 0.01,
            gb_month_stored: 0.023,
            units: BTreeMap::from([("credits".into(), 3.0)]),
        }
    }

    fn key(text: &str) -> AssetKey {
        text.parse().unwrap()
    }

    fn usage(cpu: f64, written: u64) -> Usage {
        Usage {
            wall_seconds: cpu,
            cpu_seconds: cpu,
            bytes_written: written,
            ..Usage::default()
        }
    }

    fn item(asset: &str, partition: Option<&str>, at: i64, cpu: f64) -> StepCostItem {
        let usage = usage(cpu, 0);
        let (amounts, _) = price(&usage, &card());
        StepCostItem {
            asset: key(asset),
            partition: partition.map(str::to_string),
            at,
            usage,
            amounts,
            succeeded: true,
        }
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn prices_follow_the_rate_card() {
        let mut used = usage(3600.0, 2_000_000_000);
        used.units.insert("credits".into(), 0.5);
        used.units.insert("slots".into(), 7.0);
        let (amounts, unpriced) = price(&used, &card());
        assert_eq!(amounts.compute, 0.05);
        assert_eq!(amounts.written, 0.02);
        assert_eq!(amounts.units, 1.5);
        assert_eq!(amounts.read, 0.0);
        assert_eq!(unpriced, vec!["slots".to_string()]);
        assert!((amounts.total() - 1.57).abs() < 1e-12);
    }

    #[test]
    fn a_range_is_shared_by_its_partitions() {
        let mut used = usage(10.0, 1001);
        used.units.insert("credits".into(), 4.0);
        let shares = used.split(4);
        assert_eq!(shares[0].cpu_seconds, 2.5);
        assert_eq!(shares[0].units["credits"], 1.0);
        let written: Vec<u64> = shares.iter().map(|s| s.bytes_written).collect();
        assert_eq!(written, [251, 250, 250, 250]);
        assert_eq!(used.split(0).len(), 1);
    }

    #[test]
    fn groupings_add_up_to_the_same_total() {
        let tags_ops = BTreeMap::from([("team".to_string(), "ops".to_string())]);
        let steps = vec![
            item("flights/raw", Some("2013-01-01"), 0, 36.0),
            item("flights/raw", Some("2013-01-02"), DAY, 72.0),
            item("stats/agg", None, DAY + 5, 18.0),
            item("stats/agg", None, 10 * DAY, 18.0), // outside the window
        ];
        let held = vec![HeldBytes {
            asset: key("flights/raw"),
            partition: Some("2013-01-01".into()),
            from: DAY / 2,
            until: None,
            bytes: 1_000_000_000,
        }];
        let tags = |asset: &AssetKey| (asset.group() == "flights").then_some(&tags_ops);
        let window = (0, 3 * DAY);
        let totals: Vec<f64> = [
            GroupBy::Asset,
            GroupBy::Partition,
            GroupBy::Group,
            GroupBy::Tag("team".into()),
            GroupBy::Day,
        ]
        .iter()
        .map(|by| {
            let report = report(&steps, &held, by, window, &card(), tags);
            let sum: f64 = report.rows.iter().map(|r| r.amounts.total()).sum();
            assert!((sum - report.total.amounts.total()).abs() < 1e-12, "{by:?}");
            assert_eq!(report.total.steps, 3);
            report.total.amounts.total()
        })
        .collect();
        for total in &totals {
            assert!((total - totals[0]).abs() < 1e-12, "{totals:?}");
        }
        // 126 CPU seconds at $0.05/h, plus 1 GB held 2.5 days at $0.023 per GB-month.
        let expected = 126.0 / 3600.0 * 0.05 + 0.023 * 2.5 / 30.0;
        assert!((totals[0] - expected).abs() < 1e-12);
        let by_tag = report(
            &steps,
            &held,
            &GroupBy::Tag("team".into()),
            window,
            &card(),
            tags,
        );
        let keys: Vec<&str> = by_tag.rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["team=ops", "(none)"]);
        let by_day = report(&steps, &held, &GroupBy::Day, window, &card(), tags);
        let days: Vec<&str> = by_day.rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(days, ["1970-01-01", "1970-01-02", "1970-01-03"]);
        // Half a day of storage on the first day, a whole one on each of the next.
        let day1 = by_day.rows[0].amounts.storage;
        let day2 = by_day.rows[1].amounts.storage;
        assert!((day2 - 2.0 * day1).abs() < 1e-15);
    }

    #[test]
    fn days_follow_the_rate_card_time_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 03:00 UTC on Jan 2 is still Jan 1 in New York.
        assert_eq!(day_of(DAY + 3 * 3_600_000, tz), "1970-01-01");
        let spans = day_spans(0, DAY, tz);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].2, 5 * 3_600_000);
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_at_its_first_local_time() {
        // Santiago skipped 2022-09-11 00:00–01:00 (clocks went to 01:00, UTC−3).
        let tz: Tz = "America/Santiago".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let start = DateTime::from_timestamp_millis(day_start(date, tz)).unwrap();
        assert_eq!(start.to_rfc3339(), "2022-09-11T04:00:00+00:00");
    }

    #[test]
    fn periods_start_at_local_midnight_and_the_first_of_the_month() {
        let now = 45 * DAY + 3_600_000; // 1970-02-15 01:00 UTC
        assert_eq!(
            period_start(CostPeriod::Day, now, chrono_tz::UTC),
            Some(45 * DAY)
        );
        assert_eq!(
            period_start(CostPeriod::Month, now, chrono_tz::UTC),
            Some(31 * DAY)
        );
        assert_eq!(period_start(CostPeriod::Run, now, chrono_tz::UTC), None);
    }

    #[test]
    fn estimates_use_the_average_per_partition_and_say_what_they_cannot() {
        let history = BTreeMap::from([(
            key("flights/raw"),
            AssetCostHistory {
                partitions: 4,
                total: 2.0,
            },
        )]);
        let estimate = estimate(&[(key("flights/raw"), 10), (key("stats/agg"), 3)], &history);
        assert_eq!(estimate.amount, 5.0);
        assert_eq!(estimate.estimated_partitions, 10);
        assert_eq!(estimate.unknown_partitions, 3);
    }

    #[test]
    fn groupings_parse_and_reject_precisely() {
        assert_eq!(GroupBy::parse("tag:team"), Ok(GroupBy::Tag("team".into())));
        assert_eq!(GroupBy::parse("day").unwrap().name(), "day");
        assert!(GroupBy::parse("tag:").unwrap_err().contains("tag:KEY"));
        assert!(GroupBy::parse("week").is_err());
    }

    #[test]
    fn money_keeps_small_amounts_readable() {
        assert_eq!(format_money(12.345, "USD"), "$12.35");
        assert_eq!(format_money(0.0042, "USD"), "$0.0042");
        assert_eq!(format_money(0.0, "EUR"), "€0.00");
        assert_eq!(format_money(3.0, "CHF"), "3.00 CHF");
        assert_eq!(format_money(4e-11, "USD"), "$0.000000");
    }
}
