//! `strata alerts`: the rules, their history, and a test send.

use std::path::Path;

use strata_core::model::Repository;
use strata_engine::alerts;

use crate::api::alerts::{TestResult, feed, rule_list};
use crate::cli::{AlertsAction, AlertsArgs};
use crate::commands::print_json;
use crate::{CliError, Outcome};

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &AlertsArgs,
) -> Result<Outcome, CliError> {
    let instance = crate::open_instance(root, repository.project())?;
    let storage = instance.storage;
    crate::runtime()?.block_on(async {
        match &args.action {
            None | Some(AlertsAction::List { .. }) => {
                let as_json = args.output.json
                    || matches!(&args.action, Some(AlertsAction::List { output }) if output.json);
                let list = rule_list(storage.as_ref(), repository)
                    .await
                    .map_err(CliError::internal)?;
                if as_json {
                    print_json(&list)?;
                    return Ok(Outcome::Ok);
                }
                if list.rules.is_empty() {
                    println!(
                        "no alert rules; declare them as [[alerts.rules]] in strata.toml (docs/alerts.md)"
                    );
                }
                for rule in &list.rules {
                    println!(
                        "{}  ({})  when {}  select {}  → {}",
                        rule.name,
                        rule.source,
                        rule.when,
                        rule.select,
                        rule.channels.join(", ")
                    );
                    if rule.firing.is_empty() {
                        println!("  ok");
                    } else {
                        println!("  FIRING for {}", rule.firing.join(", "));
                    }
                }
                Ok(Outcome::Ok)
            }
            Some(AlertsAction::History {
                rule,
                limit,
                output,
            }) => {
                if *limit == 0 {
                    return Err(CliError::Usage("--limit must be at least 1".into()));
                }
                let feed = feed(storage.as_ref(), rule.as_deref(), *limit)
                    .await
                    .map_err(CliError::internal)?;
                if output.json || args.output.json {
                    print_json(&feed)?;
                    return Ok(Outcome::Ok);
                }
                if feed.alerts.is_empty() {
                    println!("no alert has fired yet");
                }
                for entry in &feed.alerts {
                    println!(
                        "{}  {:<8}  {}  {}",
                        entry.at, entry.state, entry.rule, entry.message
                    );
                    let deliveries: Vec<String> = entry
                        .deliveries
                        .iter()
                        .map(|d| {
                            format!(
                                "{} {} after {} attempt{}",
                                d.channel,
                                d.status,
                                d.attempts,
                                if d.attempts == 1 { "" } else { "s" }
                            )
                        })
                        .collect();
                    if !deliveries.is_empty() {
                        println!("  {}", deliveries.join("; "));
                    }
                }
                Ok(Outcome::Ok)
            }
            Some(AlertsAction::Test { rule, output }) => {
                let active = alerts::rules(storage.as_ref(), repository)
                    .await
                    .map_err(CliError::internal)?;
                let Some(found) = active.iter().find(|a| &a.rule.name == rule) else {
                    let names: Vec<&str> = active.iter().map(|a| a.rule.name.as_str()).collect();
                    return Err(CliError::Usage(format!(
                        "no alert rule `{rule}`; rules: {}",
                        if names.is_empty() { "none".to_string() } else { names.join(", ") }
                    )));
                };
                let now = crate::clock::now(None)?.timestamp_millis();
                let results = alerts::send_test(repository, &found.rule, now).await;
                let all_delivered = results.iter().all(|r| r.delivered);
                if output.json || args.output.json {
                    print_json(&TestResult::new(rule, results))?;
                } else {
                    for r in &results {
                        match &r.error {
                            None => println!("{}: delivered ({})", r.channel, r.http_status.unwrap_or(0)),
                            Some(error) => println!("{}: FAILED: {error}", r.channel),
                        }
                    }
                }
                Ok(if all_delivered { Outcome::Ok } else { Outcome::Failed })
            }
        }
    })
}
