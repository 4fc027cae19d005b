//! Cost reports and estimates over an instance's recorded step costs and stored bytes: what
//! `strata costs`, the API, backfill dry runs and cost alerts all read.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate};
use strata_core::cost::{self, CostReport, Estimate, GroupBy};
use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_storage::{Storage, StorageError};

/// What a report covers.
#[derive(Clone, Debug)]
pub struct CostQuery {
    /// Only these assets (`None`: every asset with recorded costs, declared or not).
    pub assets: Option<BTreeSet<AssetKey>>,
    /// The grouping.
    pub by: GroupBy,
    /// From (ms, inclusive).
    pub since: i64,
    /// To (ms, exclusive).
    pub until: i64,
}

/// A mistake in a cost query, as the CLI and the API report it.
#[derive(Debug, PartialEq, Eq)]
pub enum QueryError {
    /// `by`, `since` or `until` does not read.
    Invalid {
        /// Which: `by`, `since` or `until`.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// `until` is not after `since`.
    EmptyWindow,
}

impl CostQuery {
    /// Reads a query as the CLI and the API take it: a grouping (`asset`, …, `tag:KEY`), and
    /// bounds that are dates or RFC 3339 times ([`parse_bound`]); `until` defaults to `now`.
    pub fn parse(
        repository: &Repository,
        assets: Option<BTreeSet<AssetKey>>,
        by: &str,
        since: Option<&str>,
        until: Option<&str>,
        now: i64,
    ) -> Result<Self, QueryError> {
        let invalid = |field| move |message| QueryError::Invalid { field, message };
        let by = GroupBy::parse(by).map_err(invalid("by"))?;
        let since = since
            .map(|t| parse_bound(t, false, repository))
            .transpose()
            .map_err(invalid("since"))?
            .unwrap_or(i64::MIN);
        let until = match until {
            Some(t) => parse_bound(t, true, repository).map_err(invalid("until"))?,
            None => now + 1,
        };
        if until <= since {
            return Err(QueryError::EmptyWindow);
        }
        Ok(Self {
            assets,
            by,
            since,
            until,
        })
    }

    /// Whether the report starts at the beginning of the history.
    pub fn from_beginning(&self) -> bool {
        self.since == i64::MIN
    }
}

/// Sums recorded step costs and accrued storage as `query` asks.
pub async fn report(
    storage: &dyn Storage,
    repository: &Repository,
    query: &CostQuery,
) -> Result<CostReport, StorageError> {
    let wanted = |asset: &AssetKey| query.assets.as_ref().is_none_or(|a| a.contains(asset));
    let mut steps = storage.step_costs(query.since, query.until).await?;
    steps.retain(|s| wanted(&s.asset));
    let mut held = storage.held_bytes(query.since, query.until).await?;
    held.retain(|h| wanted(&h.asset));
    Ok(cost::report(
        &steps,
        &held,
        &query.by,
        (query.since, query.until),
        &repository.project().rate_card,
        |asset| repository.asset(asset).map(|a| &a.tags),
    ))
}

/// Estimates what materializing `planned` (asset, partition count) will cost, from each
/// asset's average cost per partition so far.
pub async fn estimate(
    storage: &dyn Storage,
    planned: &[(AssetKey, u64)],
) -> Result<Estimate, StorageError> {
    let history = storage.cost_history().await?;
    Ok(cost::estimate(planned, &history))
}

/// Reads `--since`/`--until` (and the API's `since`/`until`): a date (`2013-01-31`, a whole
/// local day in the rate card's time zone) or an RFC 3339 time. A date as the end includes
/// that day.
pub fn parse_bound(text: &str, is_end: bool, repository: &Repository) -> Result<i64, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        format!("`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 time (2013-01-31T12:00:00Z)")
    })?;
    let tz = repository.project().rate_card.timezone;
    let date = if is_end {
        date.succ_opt()
            .ok_or_else(|| format!("`{text}` is out of range"))?
    } else {
        date
    };
    Ok(cost::day_start(date, tz))
}

/// Estimated cost as the CLI prints it: `$1.23 (estimated from history for 40 of 42 asset
/// partitions)`.
pub fn describe_estimate(estimate: &Estimate, currency: &str) -> String {
    let amount = cost::format_money(estimate.amount, currency);
    let total = estimate.estimated_partitions + estimate.unknown_partitions;
    if total == 0 {
        "nothing (nothing to run)".to_string()
    } else if estimate.unknown_partitions == 0 {
        format!("{amount} (from the history of the same assets)")
    } else if estimate.estimated_partitions == 0 {
        "unknown (none of these assets has succeeded yet)".to_string()
    } else {
        format!(
            "{amount} for {} of {total} asset partitions; the other {} belong to assets with no \
             successful run yet",
            estimate.estimated_partitions, estimate.unknown_partitions
        )
    }
}
