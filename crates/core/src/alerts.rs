//! Alert rules: for which subjects a rule's condition holds now, and what changes follow from
//! what was firing before. A rule fires once for a subject when its condition becomes true and
//! resolves once when it is false again; nothing is sent while nothing changes.
//!
//! A subject is an asset key, except for costs summed over a group or a tag, whose subject is
//! the group (`group:flights`) or the tag value (`team=ops`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::cost::{GroupBy, format_money, group_key};
use crate::key::AssetKey;
use crate::model::{AlertCondition, AlertRule, CostGrouping, CostPeriod, FreshnessLevel, Severity};

/// A rule's condition holding for one subject.
#[derive(Clone, Debug, PartialEq)]
pub struct Holding {
    /// The asset key, group or tag value.
    pub subject: String,
    /// One sentence for people.
    pub message: String,
    /// The partitions concerned (most recent first is not promised; key order).
    pub partitions: Vec<String>,
    /// The figures behind it.
    pub values: BTreeMap<String, Value>,
}

/// A change to send.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The condition became true.
    Fire(Holding),
    /// The condition became false for this subject.
    Resolve {
        /// The subject.
        subject: String,
    },
}

/// What changes: subjects holding now that were not firing fire; firing subjects that no
/// longer hold resolve. Subjects in both stay as they are.
pub fn changes(firing: &BTreeSet<String>, holding: Vec<Holding>) -> Vec<Change> {
    let now: BTreeSet<String> = holding.iter().map(|h| h.subject.clone()).collect();
    let mut changes: Vec<Change> = holding
        .into_iter()
        .filter(|h| !firing.contains(&h.subject))
        .map(Change::Fire)
        .collect();
    changes.extend(
        firing
            .iter()
            .filter(|subject| !now.contains(*subject))
            .map(|subject| Change::Resolve {
                subject: subject.clone(),
            }),
    );
    changes
}

/// A failing check on one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct FailingCheck {
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// The check.
    pub check: String,
    /// Its severity.
    pub severity: Severity,
}

/// A partition whose latest step failed.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedPartition {
    /// The partition (`None` when unpartitioned).
    pub partition: Option<String>,
    /// The run it failed in.
    pub run_id: Option<String>,
}

/// One cost figure a cost rule compares: an asset's latest materialization, or a period's
/// sum per asset, group or tag value.
#[derive(Clone, Debug, PartialEq)]
pub struct CostFigure {
    /// The subject.
    pub subject: String,
    /// The amount.
    pub amount: f64,
    /// The partition, for a single materialization.
    pub partition: Option<String>,
}

/// What rules are evaluated against, for the assets they select.
#[derive(Clone, Debug, Default)]
pub struct AlertFacts {
    /// Failing checks per asset (the latest result of each check and partition).
    pub failing_checks: BTreeMap<AssetKey, Vec<FailingCheck>>,
    /// Freshness state per asset with a policy (`fresh`, `warn`, `fail`, `unknown`).
    pub freshness: BTreeMap<AssetKey, String>,
    /// Partitions whose latest step failed, per asset.
    pub failed: BTreeMap<AssetKey, Vec<FailedPartition>>,
    /// The rate card's currency, for messages.
    pub currency: String,
}

/// The subjects `rule` holds for. `selected` are the assets it watches; `costs` are the
/// figures of a cost rule (the caller sums them for the rule's period and grouping).
pub fn holding(
    rule: &AlertRule,
    selected: &BTreeSet<AssetKey>,
    facts: &AlertFacts,
    costs: &[CostFigure],
) -> Vec<Holding> {
    match &rule.when {
        AlertCondition::CheckFailed { severity } => facts
            .failing_checks
            .iter()
            .filter(|(asset, _)| selected.contains(*asset))
            .filter_map(|(asset, failing)| {
                let failing: Vec<&FailingCheck> = failing
                    .iter()
                    // `warn` covers errors too: an error is worse than a warning.
                    .filter(|f| severity.is_none_or(|s| s == Severity::Warn || f.severity == s))
                    .collect();
                if failing.is_empty() {
                    return None;
                }
                let checks: BTreeSet<&str> = failing.iter().map(|f| f.check.as_str()).collect();
                let partitions = keys(failing.iter().map(|f| f.partition.as_deref()));
                Some(Holding {
                    subject: asset.to_string(),
                    message: format!(
                        "{asset}: check{} {} failed{}",
                        plural(checks.len()),
                        quoted(&checks),
                        on_partitions(&partitions)
                    ),
                    values: BTreeMap::from([("checks".into(), json!(checks))]),
                    partitions,
                })
            })
            .collect(),
        AlertCondition::Freshness(level) => facts
            .freshness
            .iter()
            .filter(|(asset, _)| selected.contains(*asset))
            .filter(|(_, state)| match level {
                FreshnessLevel::Fail => state.as_str() == "fail",
                FreshnessLevel::Warn => matches!(state.as_str(), "warn" | "fail"),
            })
            .map(|(asset, state)| Holding {
                subject: asset.to_string(),
                message: format!("{asset} is not fresh: freshness is {state}"),
                partitions: Vec::new(),
                values: BTreeMap::from([("freshness".into(), json!(state))]),
            })
            .collect(),
        AlertCondition::RunFailed => facts
            .failed
            .iter()
            .filter(|(asset, failed)| selected.contains(*asset) && !failed.is_empty())
            .map(|(asset, failed)| {
                let partitions = keys(failed.iter().map(|f| f.partition.as_deref()));
                let runs: BTreeSet<&str> =
                    failed.iter().filter_map(|f| f.run_id.as_deref()).collect();
                Holding {
                    subject: asset.to_string(),
                    message: format!("{asset} failed{}", on_partitions(&partitions)),
                    partitions,
                    values: BTreeMap::from([("runs".into(), json!(runs))]),
                }
            })
            .collect(),
        AlertCondition::Cost { per, over, .. } => costs
            .iter()
            .filter(|figure| figure.amount > *over)
            .map(|figure| {
                let amount = format_money(figure.amount, &facts.currency);
                let budget = format_money(*over, &facts.currency);
                let period = match per {
                    CostPeriod::Run => "its latest materialization",
                    CostPeriod::Day => "today",
                    CostPeriod::Month => "this month",
                };
                Holding {
                    subject: figure.subject.clone(),
                    message: format!("{}: {period} cost {amount}, over {budget}", figure.subject),
                    partitions: figure.partition.iter().cloned().collect(),
                    values: BTreeMap::from([
                        ("cost".into(), json!(figure.amount)),
                        ("over".into(), json!(over)),
                        ("currency".into(), json!(facts.currency)),
                    ]),
                }
            })
            .collect(),
    }
}

/// The grouping a cost rule sums by.
pub fn cost_grouping(by: &CostGrouping) -> GroupBy {
    match by {
        CostGrouping::Asset => GroupBy::Asset,
        CostGrouping::Group => GroupBy::Group,
        CostGrouping::Tag(key) => GroupBy::Tag(key.clone()),
    }
}

/// The subject a cost row counts under, with `group:` in front of a group (an asset key and a
/// group never look alike then).
pub fn cost_subject(
    by: &CostGrouping,
    asset: &AssetKey,
    tags: Option<&BTreeMap<String, String>>,
) -> String {
    match by {
        CostGrouping::Group => format!("group:{}", asset.group()),
        _ => group_key(&cost_grouping(by), asset, None, tags),
    }
}

fn keys<'a>(partitions: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    let keys: BTreeSet<&str> = partitions.flatten().collect();
    keys.into_iter().map(str::to_string).collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn quoted(names: &BTreeSet<&str>) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` on 2013-01-01, 2013-01-02 and 3 more` (nothing when unpartitioned).
fn on_partitions(partitions: &[String]) -> String {
    const SHOWN: usize = 5;
    match partitions.len() {
        0 => String::new(),
        n if n <= SHOWN => format!(" on {}", partitions.join(", ")),
        n => format!(
            " on {} and {} more",
            partitions[..SHOWN].join(", "),
            n - SHOWN
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::Selection;

    fn key(text: &str) -> AssetKey {
        text.parse().unwrap()
    }

    fn rule(when: AlertCondition) -> AlertRule {
        AlertRule {
            name: "r".into(),
            when,
            select: Selection::all(),
            channels: vec!["ops".into()],
        }
    }

    fn holding_subject(subject: &str) -> Holding {
        Holding {
            subject: subject.into(),
            message: String::new(),
            partitions: Vec::new(),
            values: BTreeMap::new(),
        }
    }

    #[test]
    fn fires_once_and_resolves_once() {
        let mut firing = BTreeSet::new();
        let first = changes(&firing, vec![holding_subject("a/x")]);
        assert!(matches!(&first[..], [Change::Fire(h)] if h.subject == "a/x"));
        firing.insert("a/x".to_string());
        assert!(changes(&firing, vec![holding_subject("a/x")]).is_empty());
        let resolved = changes(&firing, vec![]);
        assert_eq!(
            resolved,
            vec![Change::Resolve {
                subject: "a/x".into()
            }]
        );
        firing.clear();
        assert!(changes(&firing, vec![]).is_empty());
    }

    #[test]
    fn check_failures_filter_by_severity_and_list_partitions() {
        let mut facts = AlertFacts::default();
        facts.failing_checks.insert(
            key("flights/clean"),
            vec![
                FailingCheck {
                    partition: Some("2013-01-02".into()),
                    check: "not_null".into(),
                    severity: Severity::Error,
                },
                FailingCheck {
                    partition: Some("2013-01-01".into()),
                    check: "unique".into(),
                    severity: Severity::Warn,
                },
            ],
        );
        let selected = BTreeSet::from([key("flights/clean")]);
        let errors = holding(
            &rule(AlertCondition::CheckFailed {
                severity: Some(Severity::Error),
            }),
            &selected,
            &facts,
            &[],
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].partitions, vec!["2013-01-02".to_string()]);
        assert_eq!(
            errors[0].message,
            "flights/clean: check `not_null` failed on 2013-01-02"
        );
        let any = holding(
            &rule(AlertCondition::CheckFailed { severity: None }),
            &selected,
            &facts,
            &[],
        );
        assert_eq!(any[0].partitions.len(), 2);
        // `warn` covers errors as well.
        let warn = holding(
            &rule(AlertCondition::CheckFailed {
                severity: Some(Severity::Warn),
            }),
            &selected,
            &facts,
            &[],
        );
        assert_eq!(warn, any);
        let none = holding(
            &rule(AlertCondition::CheckFailed { severity: None }),
            &BTreeSet::new(),
            &facts,
            &[],
        );
        assert!(none.is_empty());
    }

    #[test]
    fn freshness_warn_includes_fail() {
        let mut facts = AlertFacts::default();
        facts.freshness.insert(key("a/w"), "warn".into());
        facts.freshness.insert(key("a/f"), "fail".into());
        facts.freshness.insert(key("a/ok"), "fresh".into());
        let selected: BTreeSet<AssetKey> = facts.freshness.keys().cloned().collect();
        let warn = holding(
            &rule(AlertCondition::Freshness(FreshnessLevel::Warn)),
            &selected,
            &facts,
            &[],
        );
        let fail = holding(
            &rule(AlertCondition::Freshness(FreshnessLevel::Fail)),
            &selected,
            &facts,
            &[],
        );
        assert_eq!(warn.len(), 2);
        assert_eq!(fail.len(), 1);
        assert_eq!(fail[0].subject, "a/f");
    }

    #[test]
    fn costs_fire_strictly_over_the_budget() {
        let facts = AlertFacts {
            currency: "USD".into(),
            ..AlertFacts::default()
        };
        let when = AlertCondition::Cost {
            per: CostPeriod::Month,
            over: 1.0,
            by: CostGrouping::Tag("team".into()),
        };
        let figures = [
            CostFigure {
                subject: "team=ops".into(),
                amount: 1.5,
                partition: None,
            },
            CostFigure {
                subject: "team=data".into(),
                amount: 1.0,
                partition: None,
            },
        ];
        let fired = holding(&rule(when), &BTreeSet::new(), &facts, &figures);
        assert_eq!(fired.len(), 1);
        assert_eq!(
            fired[0].message,
            "team=ops: this month cost $1.50, over $1.00"
        );
        assert_eq!(fired[0].values["cost"], json!(1.5));
    }

    #[test]
    fn cost_subjects_name_groups_and_tags() {
        let tags = BTreeMap::from([("team".to_string(), "ops".to_string())]);
        let asset = key("flights/raw");
        assert_eq!(
            cost_subject(&CostGrouping::Group, &asset, Some(&tags)),
            "group:flights"
        );
        assert_eq!(
            cost_subject(&CostGrouping::Tag("team".into()), &asset, Some(&tags)),
            "team=ops"
        );
        assert_eq!(
            cost_subject(&CostGrouping::Asset, &asset, Some(&tags)),
            "flights/raw"
        );
    }
}
