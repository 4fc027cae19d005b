//! Alerts at the edge: gathering what rules are evaluated against, recording firings and
//! resolutions, and delivering them to channels.
//!
//! ```text
//!   daemon tick ─▶ evaluate: facts from storage ─▶ core::alerts::changes ─▶ AlertFired /
//!                  AlertResolved events (+ a pending delivery per channel, same transaction)
//!               ─▶ deliver: POST each pending delivery; every attempt is an AlertDelivery
//!                  event; failures wait retry_delay, doubling, up to max_attempts
//! ```
//!
//! Evaluation and delivery run in the automation process, never in a step: a channel that is
//! down or slow cannot slow or fail a materialization.

mod deliver;

use std::collections::{BTreeMap, BTreeSet};

use strata_core::alerts::{
    self, AlertFacts, Change, CostFigure, FailedPartition, FailingCheck, cost_subject,
};
use strata_core::cost::{self, GroupBy};
use strata_core::declare::parse_alert_rule;
use strata_core::key::AssetKey;
use strata_core::model::{AlertCondition, AlertRule, CostGrouping, CostPeriod, Repository};
use strata_storage::event::{AlertFiring, Event};
use strata_storage::{Storage, StorageError};

pub use deliver::{Deliverer, DeliveryResult, HTTP_TIMEOUT, link_path, send_test};

/// Where a rule comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleSource {
    /// `[[alerts.rules]]` in strata.toml (read-only elsewhere).
    Config,
    /// Created through the API (stored in the instance).
    Api,
}

impl RuleSource {
    /// `strata.toml` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "strata.toml",
            Self::Api => "api",
        }
    }
}

/// A rule in force, with its source and (for API rules) its stored JSON form.
#[derive(Clone, Debug)]
pub struct ActiveRule {
    /// The rule.
    pub rule: AlertRule,
    /// Where it comes from.
    pub source: RuleSource,
}

/// Every rule in force: strata.toml's, then the API's (an API rule that no longer reads
/// against the current declarations — a channel removed — is left out, with a warning).
pub async fn rules(
    storage: &dyn Storage,
    repository: &Repository,
) -> Result<Vec<ActiveRule>, StorageError> {
    let config = &repository.project().alerts;
    let mut active: Vec<ActiveRule> = config
        .rules
        .iter()
        .map(|rule| ActiveRule {
            rule: rule.clone(),
            source: RuleSource::Config,
        })
        .collect();
    let channels: BTreeSet<String> = config.channels.keys().cloned().collect();
    for (name, stored) in storage.alert_rules().await? {
        if active.iter().any(|a| a.rule.name == name) {
            tracing::warn!(rule = %name, "an API alert rule has the name of a strata.toml rule; strata.toml's is used");
            continue;
        }
        match rule_from_json(&stored, &channels) {
            Ok(rule) => active.push(ActiveRule {
                rule,
                source: RuleSource::Api,
            }),
            Err(errors) => {
                tracing::warn!(rule = %name, errors = %errors.join("; "), "an API alert rule no longer reads; it is not evaluated");
            }
        }
    }
    Ok(active)
}

/// Reads an API rule (`{name, when, select, channels}`) with strata.toml's rules and messages.
pub fn rule_from_json(
    json: &serde_json::Value,
    channels: &BTreeSet<String>,
) -> Result<AlertRule, Vec<String>> {
    let serde_json::Value::Object(fields) = json else {
        return Err(vec![
            "a rule is a JSON object: {name, when, select, channels}".into(),
        ]);
    };
    let table: toml::Table = fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            Ok((
                k.clone(),
                toml::Value::try_from(v).map_err(|e| vec![format!("`{k}`: {e}")])?,
            ))
        })
        .collect::<Result<_, Vec<String>>>()?;
    let text = toml::to_string(&table).map_err(|e| vec![e.to_string()])?;
    parse_alert_rule(&text, channels)
}

/// The JSON form of a rule's condition (the TOML form, as the API takes it).
pub fn when_json(when: &AlertCondition) -> serde_json::Value {
    use serde_json::json;
    let severity = |s: &strata_core::model::Severity| match s {
        strata_core::model::Severity::Warn => "warn",
        strata_core::model::Severity::Error => "error",
    };
    match when {
        AlertCondition::CheckFailed { severity: None } => json!({"check_failed": {}}),
        AlertCondition::CheckFailed { severity: Some(s) } => {
            json!({"check_failed": {"severity": severity(s)}})
        }
        AlertCondition::Freshness(level) => json!({"freshness": match level {
            strata_core::model::FreshnessLevel::Warn => "warn",
            strata_core::model::FreshnessLevel::Fail => "fail",
        }}),
        AlertCondition::RunFailed => json!("run_failed"),
        AlertCondition::Cost { per, over, by } => json!({"cost": {
            "per": match per {
                CostPeriod::Run => "materialization",
                CostPeriod::Day => "day",
                CostPeriod::Month => "month",
            },
            "over": over,
            "by": match by {
                CostGrouping::Asset => "asset".to_string(),
                CostGrouping::Group => "group".to_string(),
                CostGrouping::Tag(key) => format!("tag:{key}"),
            },
        }}),
    }
}

/// Evaluates every rule at `now` and records what changed (in one transaction). Firings of
/// rules that no longer exist resolve. Returns the events recorded.
pub async fn evaluate(
    storage: &dyn Storage,
    repository: &Repository,
    now: i64,
) -> Result<Vec<Event>, StorageError> {
    let active = rules(storage, repository).await?;
    let facts = facts(storage, repository).await?;
    let mut firing: BTreeMap<String, BTreeMap<String, AlertFiring>> = BTreeMap::new();
    for alert in storage.firing_alerts().await? {
        firing
            .entry(alert.firing.rule.clone())
            .or_default()
            .insert(alert.firing.subject.clone(), alert.firing);
    }
    let mut events = Vec::new();
    let mut costs = CostCache::default();
    for ActiveRule { rule, .. } in &active {
        let selected = rule
            .select
            .resolve(repository.graph(), repository)
            .unwrap_or_default();
        let figures = cost_figures(storage, repository, rule, &selected, now, &mut costs).await?;
        let holding = alerts::holding(rule, &selected, &facts, &figures);
        let before = firing.remove(&rule.name).unwrap_or_default();
        let subjects: BTreeSet<String> = before.keys().cloned().collect();
        for change in alerts::changes(&subjects, holding) {
            events.push(match change {
                Change::Fire(h) => Event::AlertFired(AlertFiring {
                    rule: rule.name.clone(),
                    subject: h.subject,
                    message: h.message,
                    partitions: h.partitions,
                    values: h.values,
                    channels: rule.channels.clone(),
                }),
                Change::Resolve { subject } => {
                    let fired = &before[&subject];
                    Event::AlertResolved(AlertFiring {
                        rule: rule.name.clone(),
                        message: format!("resolved: {}", fired.message),
                        subject,
                        partitions: fired.partitions.clone(),
                        values: fired.values.clone(),
                        channels: rule.channels.clone(),
                    })
                }
            });
        }
    }
    // Rules that are gone: their firings resolve, to the channels they fired to.
    for (_, subjects) in firing {
        for (_, fired) in subjects {
            events.push(Event::AlertResolved(AlertFiring {
                message: format!("resolved: the rule `{}` was removed", fired.rule),
                ..fired
            }));
        }
    }
    if !events.is_empty() {
        storage.append(now, events.clone()).await?;
    }
    Ok(events)
}

async fn facts(storage: &dyn Storage, repository: &Repository) -> Result<AlertFacts, StorageError> {
    let mut facts = AlertFacts {
        currency: repository.project().rate_card.currency.clone(),
        ..AlertFacts::default()
    };
    for (asset, partition, check, severity) in storage.failing_checks().await? {
        facts
            .failing_checks
            .entry(asset)
            .or_default()
            .push(FailingCheck {
                partition,
                check,
                severity,
            });
    }
    for record in storage.freshness_states().await? {
        facts.freshness.insert(record.asset, record.state);
    }
    for (asset, partition, run_id) in storage.failed_partitions().await? {
        facts
            .failed
            .entry(asset)
            .or_default()
            .push(FailedPartition { partition, run_id });
    }
    Ok(facts)
}

/// Cost records a tick's cost rules share, read once whatever the number of rules: each
/// period's total per asset, and each asset's latest step.
#[derive(Default)]
struct CostCache {
    /// By period start: every asset's cost in the period, by asset key.
    periods: BTreeMap<i64, BTreeMap<String, f64>>,
    latest: Option<Vec<strata_core::cost::StepCostItem>>,
}

/// The figures a cost rule compares: each selected asset's latest materialization, or the
/// period's sums per asset, group or tag value over the selected assets.
async fn cost_figures(
    storage: &dyn Storage,
    repository: &Repository,
    rule: &AlertRule,
    selected: &BTreeSet<AssetKey>,
    now: i64,
    cache: &mut CostCache,
) -> Result<Vec<CostFigure>, StorageError> {
    let AlertCondition::Cost { per, by, .. } = &rule.when else {
        return Ok(Vec::new());
    };
    let card = &repository.project().rate_card;
    let tags = |asset: &AssetKey| repository.asset(asset).map(|a| &a.tags);
    let Some(since) = cost::period_start(*per, now, card.timezone) else {
        if cache.latest.is_none() {
            cache.latest = Some(storage.latest_step_costs().await?);
        }
        return Ok(cache
            .latest
            .iter()
            .flatten()
            .filter(|item| selected.contains(&item.asset))
            .map(|item| CostFigure {
                subject: item.asset.to_string(),
                amount: item.amounts.total(),
                partition: item.partition.clone(),
            })
            .collect());
    };
    if let std::collections::btree_map::Entry::Vacant(period) = cache.periods.entry(since) {
        let window = (since, now + 1);
        let steps = storage.step_costs(window.0, window.1).await?;
        let held = storage.held_bytes(window.0, window.1).await?;
        let per_asset = cost::report(&steps, &held, &GroupBy::Asset, window, card, tags);
        period.insert(
            per_asset
                .rows
                .into_iter()
                .map(|row| (row.key, row.amounts.total()))
                .collect(),
        );
    }
    let totals = &cache.periods[&since];
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for asset in selected {
        if let Some(amount) = totals.get(&asset.to_string()) {
            *sums
                .entry(cost_subject(by, asset, tags(asset)))
                .or_default() += amount;
        }
    }
    Ok(sums
        .into_iter()
        .map(|(subject, amount)| CostFigure {
            subject,
            amount,
            partition: None,
        })
        .collect())
}
