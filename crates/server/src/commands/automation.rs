//! `strata automation tick|why|ticks`, `strata freshness` and `strata daemon`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use strata_core::automation::evaluate::{Explanation, Subset};
use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::{Keyspace, PartitionSubset};
use strata_engine::automation::daemon::{self, LEASE};
use strata_engine::automation::facts::statuses;
use strata_engine::automation::freshness::{AssetFreshness, evaluate_all};
use strata_engine::automation::recover::{self, Recovered};
use strata_engine::automation::tick::PlannedRun;
use strata_engine::automation::{TickMode, TickOutcome, run_tick};
use strata_engine::executor::{Clock, Executor};
use strata_engine::instance::Instance;
use strata_storage::records::{EvaluationRecord, TickRecord};

use crate::cli::{AutomationAction, FreshnessArgs};
use crate::commands::materialize::{execute, execute_queued, labels};
use crate::commands::runs::time;
use crate::commands::{find_asset, print_json, select};
use crate::{CliError, Outcome, clock};

pub(crate) fn run(
    repository: Repository,
    root: &Path,
    action: AutomationAction,
) -> Result<Outcome, CliError> {
    match action {
        AutomationAction::Tick {
            now,
            dry_run,
            no_launch,
            output,
        } => {
            let mode = if dry_run {
                TickMode::DryRun
            } else if no_launch {
                TickMode::NoLaunch
            } else {
                TickMode::Launch
            };
            tick(repository, root, now.as_deref(), mode, output.json)
        }
        AutomationAction::Why {
            asset,
            partition,
            tick,
            output,
        } => why(
            &repository,
            root,
            &asset,
            partition.as_deref(),
            tick,
            output.json,
        ),
        AutomationAction::Ticks { limit, output } => ticks(&repository, root, limit, output.json),
    }
}

/// The clock a command records events with: fixed at `--now` when given, else `STRATA_NOW` or
/// the wall clock.
fn command_clock(now_flag: Option<&str>) -> Result<Clock, CliError> {
    match now_flag {
        Some(_) => {
            let fixed = clock::now(now_flag)?.timestamp_millis();
            Ok(Arc::new(move || fixed))
        }
        None => clock::event_clock(),
    }
}

/// How long `strata automation tick` retries failing alert deliveries before it ends: longer
/// than one POST may take, so every delivery records at least one attempt.
const DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_secs(15);
const _: () = assert!(DELIVERY_WAIT.as_secs() > strata_engine::alerts::HTTP_TIMEOUT.as_secs());

fn tick(
    repository: Repository,
    root: &Path,
    now_flag: Option<&str>,
    mode: TickMode,
    as_json: bool,
) -> Result<Outcome, CliError> {
    let now_ms = clock::now(now_flag)?.timestamp_millis();
    let instance = crate::open_instance(root, repository.project())?;
    let repository = Arc::new(repository);
    let clock = command_clock(now_flag)?;
    crate::runtime()?.block_on(async {
        let holder = daemon::holder();
        if mode != TickMode::DryRun {
            daemon::take_lease(
                &instance,
                &holder,
                now_ms,
                std::time::Duration::from_secs(60),
            )
            .await
            .map_err(CliError::internal)?;
        }
        // Before ticking: what a ticking process that died asked for and did not do.
        let recovered = match mode {
            TickMode::Launch => {
                let found = recover::interrupted_runs(&instance, &repository, now_ms).await;
                if !as_json {
                    Recovered::report(found.as_ref());
                }
                found.map_err(CliError::internal)?.relaunch
            }
            _ => Vec::new(),
        };
        let outcome = run_tick(&instance, &repository, now_ms, mode).await;
        // What alert rules fired or resolved is sent now, beside the runs below, by this process
        // while it holds the lease (so no other process sends the same): retried for up to
        // DELIVERY_WAIT, then the lease is released and what still fails waits for the next tick.
        let delivering = (mode != TickMode::DryRun).then(|| {
            let deliverer =
                strata_engine::alerts::Deliverer::new(Arc::clone(&instance.storage), Arc::clone(&clock));
            let (storage, repository, holder) =
                (Arc::clone(&instance.storage), Arc::clone(&repository), holder.clone());
            let start = outcome.is_ok();
            tokio::spawn(async move {
                let mut tasks = tokio::task::JoinSet::new();
                if start && let Err(e) = deliverer.start(&repository, &mut tasks).await {
                    tracing::warn!(error = %e, "starting alert deliveries failed");
                }
                // What was delivered counts even when the wait ends with some still failing.
                let deadline = tokio::time::Instant::now() + DELIVERY_WAIT;
                let mut delivered = 0;
                let mut complete = true;
                loop {
                    match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                        Ok(Some(done)) => delivered += done.unwrap_or(0),
                        Ok(None) => break,
                        Err(_) => {
                            complete = false;
                            break;
                        }
                    }
                }
                // Stop sending before the lease goes: another process may send what is left.
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                let _ = storage.release_lease(LEASE, &holder).await;
                (delivered, complete)
            })
        });
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                if let Some(delivering) = delivering {
                    let _ = delivering.await;
                }
                return Err(CliError::internal(error));
            }
        };
        if !as_json {
            print_tick(&outcome);
        }
        // The runs, beside the deliveries; whatever happens to them, the deliveries are waited
        // for (and the lease released) before the command ends.
        let launched: Result<(bool, Vec<Value>), CliError> = async {
            let mut failed = false;
            let mut runs = Vec::new();
            let launches = recovered
                .into_iter()
                .map(|again| (again.run, again.queued))
                .chain(outcome.runs.iter().map(|run| (run.clone(), false)));
            let launches: Vec<(PlannedRun, bool)> = launches.collect();
            if !launches.is_empty() {
                let executor = Executor::new(
                    instance.clone(),
                    Arc::clone(&repository),
                    Arc::clone(&clock),
                );
                let dynamic = instance
                    .storage
                    .dynamic_partitions()
                    .await
                    .map_err(CliError::internal)?;
                let keyspaces = repository.keyspaces(now_ms.div_euclid(1000), &dynamic);
                for (run, queued) in &launches {
                    let labels = labels(&run.request.steps, &keyspaces);
                    let request = run.request.clone();
                    let report = if *queued {
                        execute_queued(&executor, request, &labels, as_json).await?
                    } else {
                        execute(&executor, request, &labels, as_json).await?
                    };
                    failed |= report.failed() > 0;
                    runs.push(json!({
                        "run_id": report.run_id,
                        "status": report.status.as_str(),
                        "description": run.request.description,
                        "steps": run.request.steps.len(),
                        "failed": report.failed(),
                    }));
                    if !as_json {
                        println!(
                            "run {} {}: {}",
                            report.run_id,
                            report.status.as_str(),
                            run.request.description
                        );
                    }
                }
            }
            Ok((failed, runs))
        }
        .await;
        let (delivered, complete) = match delivering {
            Some(delivering) => delivering.await.unwrap_or((0, false)),
            None => (0, true),
        };
        let (failed, runs) = launched?;
        if !complete {
            eprintln!(
                "alerts: some deliveries still fail after {}s; the next tick retries them \
                 (`strata alerts history` shows each attempt)",
                DELIVERY_WAIT.as_secs()
            );
        }
        if as_json {
            let mut document = tick_json(&outcome, runs);
            document["alerts"] = json!(outcome.alerts);
            document["alerts_delivered"] = json!(delivered);
            print_json(&document)?;
        } else if outcome.alerts > 0 {
            println!(
                "alerts: {} fired or resolved (`strata alerts history`); {delivered} deliveries made",
                outcome.alerts
            );
        }
        Ok(if failed { Outcome::Failed } else { Outcome::Ok })
    })
}

fn tick_json(outcome: &TickOutcome, runs: Vec<Value>) -> Value {
    json!({
        "tick": outcome.tick,
        "now": time(outcome.now_ms),
        "requested": outcome.requested,
        "duration_ms": outcome.duration_ms,
        "evaluated": outcome.evaluated,
        "skipped": outcome.skipped,
        "runs": runs,
        "queued": outcome.queued,
        "freshness": outcome.freshness.iter().map(freshness_json).collect::<Vec<_>>(),
    })
}

fn print_tick(outcome: &TickOutcome) {
    let name = outcome
        .tick
        .map_or_else(|| "dry run".to_string(), |n| format!("tick {n}"));
    println!(
        "{name} at {}: {} asset(s) evaluated, {} unchanged, {} ms",
        time(outcome.now_ms),
        outcome.evaluated,
        outcome.skipped,
        outcome.duration_ms
    );
    if outcome.requested.is_empty() {
        println!("  nothing requested");
    }
    for r in &outcome.requested {
        match r.partitions.as_slice() {
            [] => println!("  requested {}", r.asset),
            [one] => println!("  requested {} {one}", r.asset),
            [first, .., last] => println!(
                "  requested {} {first}..{last} ({} partitions)",
                r.asset,
                r.partitions.len()
            ),
        }
    }
    if outcome.queued > 0 {
        println!(
            "  {} run(s) over max_runs_per_tick queued for the next tick",
            outcome.queued
        );
    }
}

/// A stored tick as JSON (the CLI's `automation ticks --json` and the API's ticks).
pub(crate) fn tick_record_json(t: &TickRecord) -> Value {
    json!({
        "tick": t.tick,
        "now": time(t.now),
        "duration_ms": t.duration_ms,
        "evaluated": t.evaluated,
        "skipped": t.skipped,
        "requested": serde_json::from_str::<Value>(&t.requested).unwrap_or(Value::Null),
        "runs": serde_json::from_str::<Value>(&t.runs).unwrap_or(Value::Null),
        "launched": t.launched,
    })
}

fn ticks(
    repository: &Repository,
    root: &Path,
    limit: u32,
    as_json: bool,
) -> Result<Outcome, CliError> {
    let instance = crate::open_instance(root, repository.project())?;
    let ticks = crate::runtime()?
        .block_on(instance.storage.ticks(limit))
        .map_err(CliError::internal)?;
    if as_json {
        let list: Vec<Value> = ticks.iter().map(tick_record_json).collect();
        print_json(&list)?;
        return Ok(Outcome::Ok);
    }
    if ticks.is_empty() {
        println!("no ticks yet: run `strata automation tick` or `strata daemon`");
    }
    for t in &ticks {
        let requested: Vec<Value> = serde_json::from_str(&t.requested).unwrap_or_default();
        let runs: Vec<Value> = serde_json::from_str(&t.runs).unwrap_or_default();
        println!(
            "tick {:>5}  {}  {:>6} ms  {} evaluated, {} unchanged  {} asset(s) requested, {} run(s){}",
            t.tick,
            time(t.now),
            t.duration_ms,
            t.evaluated,
            t.skipped,
            requested.len(),
            runs.len(),
            if t.launched { "" } else { " (not launched)" }
        );
    }
    Ok(Outcome::Ok)
}

fn why(
    repository: &Repository,
    root: &Path,
    text: &str,
    partition: Option<&str>,
    tick: Option<i64>,
    as_json: bool,
) -> Result<Outcome, CliError> {
    let asset = find_asset(repository, text)?;
    let Some(automation) = &asset.automation else {
        return Err(CliError::Usage(format!(
            "`{}` has no automation condition; add `automation = \"eager\"` (see docs/automation.md)",
            asset.key
        )));
    };
    let instance = crate::open_instance(root, repository.project())?;
    let runtime = crate::runtime()?;
    let record = runtime
        .block_on(instance.storage.evaluation(&asset.key, tick))
        .map_err(CliError::internal)?;
    let Some(record) = record else {
        return Err(CliError::Usage(format!(
            "`{}` has not been evaluated{}; run `strata automation tick` first",
            asset.key,
            tick.map(|t| format!(" at or before tick {t}"))
                .unwrap_or_default()
        )));
    };
    let explanation: Explanation =
        serde_json::from_str(&record.explanation).map_err(CliError::internal)?;
    let dynamic = runtime
        .block_on(instance.storage.dynamic_partitions())
        .map_err(CliError::internal)?;
    let keyspaces = repository.keyspaces(record.now.div_euclid(1000), &dynamic);
    let index = match (partition, keyspaces.get(&asset.key)) {
        (Some(key), Some(keys)) => Some(keys.index_of(key).ok_or_else(|| {
            CliError::Usage(format!(
                "`{key}` is not a partition of `{}` at tick {}",
                asset.key, record.tick
            ))
        })?),
        (Some(_), None) => {
            return Err(CliError::Usage(format!(
                "`{}` is not partitioned; leave out --partition",
                asset.key
            )));
        }
        (None, _) => None,
    };
    let view = View {
        keyspaces: &keyspaces,
        root: &asset.key,
    };
    if as_json {
        print_json(&why_json(
            &view,
            &automation.source,
            &record,
            partition,
            &explanation,
        ))?;
        return Ok(Outcome::Ok);
    }
    let requested = view.describe(&asset.key, &explanation.true_subset);
    println!(
        "{} at tick {} ({}): condition `{}`",
        asset.key,
        record.tick,
        time(record.now),
        automation.source
    );
    match (index, partition) {
        (Some(i), Some(key)) => println!(
            "partition {key}: {}",
            if set(&explanation.true_subset).contains(i) {
                "requested"
            } else {
                "not requested"
            }
        ),
        _ => println!("requested: {requested}"),
    }
    let mut lines = Vec::new();
    view.render(&explanation, &asset.key, index, 0, &mut lines);
    for line in lines {
        println!("{line}");
    }
    Ok(Outcome::Ok)
}

/// An asset's explanation at a tick as JSON (`automation why --json` and the API).
pub(crate) fn why_json(
    view: &View<'_, '_>,
    condition: &str,
    record: &EvaluationRecord,
    partition: Option<&str>,
    explanation: &Explanation,
) -> Value {
    json!({
        "asset": view.root.to_string(),
        "condition": condition,
        "tick": record.tick,
        "now": time(record.now),
        "partition": partition,
        "requested": view.keys(view.root, &explanation.true_subset),
        "explanation": view.json(explanation, None),
    })
}

/// A stored subset as a set, for its operations.
fn set(subset: &Subset) -> PartitionSubset {
    subset.to_subset(false)
}

/// Renders explanations against the keyspaces of the tick.
pub(crate) struct View<'v, 'k> {
    /// The keyspaces at the tick.
    pub(crate) keyspaces: &'v BTreeMap<AssetKey, Keyspace<'k>>,
    /// The asset explained.
    pub(crate) root: &'v AssetKey,
}

impl View<'_, '_> {
    fn keys(&self, asset: &AssetKey, subset: &Subset) -> Value {
        match self.keyspaces.get(asset) {
            None => json!(set(subset).count() > 0),
            Some(keys) => Value::Array(
                subset
                    .0
                    .iter()
                    .map(|[s, e]| {
                        json!({
                            "first": keys.key(*s),
                            "last": keys.key(e - 1),
                            "count": e - s,
                        })
                    })
                    .collect(),
            ),
        }
    }

    /// `2013-01-05`, `2013-01-01..2013-01-05 (5)`, `yes`/`no` for an unpartitioned asset.
    fn describe(&self, asset: &AssetKey, subset: &Subset) -> String {
        let Some(keys) = self.keyspaces.get(asset) else {
            return if set(subset).count() > 0 { "yes" } else { "no" }.into();
        };
        if subset.0.is_empty() {
            return "none".into();
        }
        let shown: Vec<String> = subset
            .0
            .iter()
            .take(3)
            .map(|[s, e]| {
                let a = keys.key(*s).unwrap_or_default();
                if e - s == 1 {
                    a
                } else {
                    format!("{a}..{} ({})", keys.key(e - 1).unwrap_or_default(), e - s)
                }
            })
            .collect();
        let more = if subset.0.len() > 3 {
            format!(
                " and {} more partitions",
                set(subset).count() - subset.0[..3].iter().map(|[s, e]| e - s).sum::<u64>()
            )
        } else {
            String::new()
        };
        format!("{}{more}", shown.join(", "))
    }

    fn json(&self, node: &Explanation, parent: Option<&AssetKey>) -> Value {
        let asset = node.asset.as_ref().or(parent).unwrap_or(self.root);
        json!({
            "label": node.label,
            "meaning": meaning(&node.label),
            "asset": node.asset.as_ref().map(ToString::to_string),
            "candidates": self.keys(asset, &node.candidates),
            "true": self.keys(asset, &node.true_subset),
            "since": node.since.map(time),
            "children": node.children.iter().map(|c| self.json(c, Some(asset))).collect::<Vec<_>>(),
        })
    }

    fn render(
        &self,
        node: &Explanation,
        asset: &AssetKey,
        index: Option<u64>,
        depth: usize,
        lines: &mut Vec<String>,
    ) {
        let asset = node.asset.as_ref().unwrap_or(asset);
        let on_root = asset == self.root;
        // A latch (`since`) remembers partitions beyond its candidates; show what counts.
        let shown = Subset::from(&set(&node.true_subset).intersection(&set(&node.candidates)));
        let evaluated = set(&node.candidates).count() > 0;
        let (mark, detail) = match index.filter(|_| on_root) {
            Some(i) if !set(&node.candidates).contains(i) => (
                "·",
                "not evaluated: an earlier clause was false".to_string(),
            ),
            Some(i) => {
                if set(&shown).contains(i) {
                    ("✓", "true".to_string())
                } else {
                    ("✗", "false".to_string())
                }
            }
            None if !evaluated => (
                "·",
                "not evaluated: an earlier clause was false".to_string(),
            ),
            None => {
                let holds = set(&shown).count() > 0;
                let detail = match self.keyspaces.get(asset) {
                    Some(_) => format!(
                        "true for {} of {}",
                        self.describe(asset, &shown),
                        set(&node.candidates).count()
                    ),
                    None => if holds { "true" } else { "false" }.into(),
                };
                (if holds { "✓" } else { "✗" }, detail)
            }
        };
        let since = node
            .since
            .map(|t| format!(", since {}", time(t)))
            .unwrap_or_default();
        let gloss = meaning(&node.label);
        let gloss = if gloss.is_empty() {
            String::new()
        } else {
            format!(" ({gloss})")
        };
        lines.push(format!(
            "{}{mark} {}{gloss}: {detail}{since}",
            "  ".repeat(depth + 1),
            node.label
        ));
        for child in &node.children {
            let child_index = if child.asset.is_some() && child.asset.as_ref() != Some(asset) {
                None
            } else {
                index
            };
            self.render(child, asset, child_index, depth + 1, lines);
        }
    }
}

/// What a node means, in words.
fn meaning(label: &str) -> &'static str {
    let name = label.split(['(', '.']).next().unwrap_or(label);
    match name {
        "missing" => "never materialized",
        "in_progress" => "a run is materializing it",
        "execution_failed" => "its latest run failed",
        "newly_updated" => "materialized since the previous tick",
        "newly_requested" => "requested by the previous tick",
        "code_version_changed" => "its code version changed since the previous tick",
        "stale" => "its code, an input's data or an upstream changed since it was computed",
        "cron_tick_passed" => "the schedule ticked since the previous tick",
        "in_latest_time_window" => "the latest time window (or within the lookback)",
        "freshness_violated" => "its freshness policy is failing",
        "will_be_requested" => "requested by this tick",
        "initial_evaluation" => "the first evaluation of this condition",
        "backfill_in_progress" => "a backfill that has not finished targets it",
        "blocking_checks_passed" => "every blocking check of its latest materialization passed",
        "newly_missing" => "became missing since the previous tick",
        "any_deps_updated" => "a dependency was updated, or is requested in the same run",
        "any_deps_missing" => "a dependency partition is missing and not requested",
        "any_deps_in_progress" => "a dependency partition is being materialized",
        "all_deps_blocking_checks_passed" => "every dependency passed its blocking checks",
        "since_last_handled" => "happened since it was last requested or materialized",
        "since" => "the first became true after the second last did",
        "newly_true" => "turned true since the previous tick",
        "not" => "the clause below is false",
        "all of" => "every clause holds",
        "any of" => "some clause holds",
        "any_deps_match" => "some dependency matches",
        "all_deps_match" => "every dependency matches",
        "eager" => "materialize when a dependency updates or it goes missing, once per change",
        "on_cron" => "materialize once per schedule tick, after every dependency updated",
        "on_missing" => "materialize partitions that go missing, once",
        "refresh_stale" => "recompute stale partitions within the lookback",
        _ => "",
    }
}

/// One asset's freshness as JSON (`strata freshness --json` and the API).
pub(crate) fn freshness_json(f: &AssetFreshness) -> Value {
    json!({
        "asset": f.asset.to_string(),
        "state": f.status.state.as_str(),
        "evaluated_at": time(f.status.evaluated_at),
        "data_time": f.status.data_time.map(time),
        "lag_seconds": f.status.lag_ms.map(|m| m / 1000),
        "overdue_seconds": f.status.overdue_ms.map(|m| m / 1000),
        "fresh_until": f.status.fresh_until.map(time),
        "missing": f.missing,
        "reason": f.status.reason,
        "since": f.previous.as_ref().filter(|(s, _)| s == f.status.state.as_str()).map(|(_, t)| time(*t)),
    })
}

pub(crate) fn freshness(
    repository: &Repository,
    root: &Path,
    args: &FreshnessArgs,
) -> Result<Outcome, CliError> {
    let selected = match &args.selection {
        Some(selection) => Some(select(repository, selection)?),
        None => None,
    };
    let now_ms = clock::now(args.now.as_deref())?.timestamp_millis();
    let instance = crate::open_instance(root, repository.project())?;
    let results = crate::runtime()?.block_on(async {
        let dynamic = instance
            .storage
            .dynamic_partitions()
            .await
            .map_err(CliError::internal)?;
        let keyspaces = repository.keyspaces(now_ms.div_euclid(1000), &dynamic);
        let statuses = statuses(&instance, repository, &keyspaces)
            .await
            .map_err(CliError::internal)?;
        evaluate_all(&instance, repository, &keyspaces, &statuses, now_ms)
            .await
            .map_err(CliError::internal)
    })?;
    let results: Vec<&AssetFreshness> = results
        .iter()
        .filter(|r| selected.as_ref().is_none_or(|s| s.contains(&r.asset)))
        .collect();
    if args.output.json {
        print_json(&json!({
            "now": time(now_ms),
            "assets": results.iter().map(|r| freshness_json(r)).collect::<Vec<_>>(),
        }))?;
    } else {
        if results.is_empty() {
            println!("no selected asset has a freshness policy (see docs/automation.md#freshness)");
        }
        for r in &results {
            println!(
                "{:<32} {:<7} {}",
                r.asset.to_string(),
                r.status.state.as_str(),
                r.status.reason
            );
            if !r.missing.is_empty() {
                let shown: Vec<&str> = r.missing.iter().take(5).map(String::as_str).collect();
                println!(
                    "{:<32}         late: {}{}",
                    "",
                    shown.join(", "),
                    if r.missing.len() > 5 {
                        format!(" and {} more", r.missing.len() - 5)
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    let failing = results
        .iter()
        .any(|r| r.status.state == strata_core::freshness::FreshnessState::Fail);
    Ok(if failing {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

pub(crate) fn daemon(repository: Repository, root: &Path) -> Result<Outcome, CliError> {
    let instance: Instance = crate::open_instance(root, repository.project())?;
    let repository = Arc::new(repository);
    let clock = clock::event_clock()?;
    crate::runtime()?.block_on(async {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping: waiting for launched runs to finish");
                let _ = stop.send(true);
            }
        });
        eprintln!(
            "daemon: ticking every {} (Ctrl-C stops)",
            strata_core::duration::format_duration(repository.project().daemon.tick_interval)
        );
        let repository = Arc::clone(&repository);
        let definitions = move || Arc::clone(&repository);
        daemon::run(instance, definitions, clock, stopped, |result| match result {
            Ok(outcome) => {
                let requested: usize = outcome.requested.len();
                eprintln!(
                    "tick {} at {}: {} evaluated, {} unchanged, {requested} asset(s) requested, {} run(s) launched, {} ms",
                    outcome.tick.unwrap_or_default(),
                    time(outcome.now_ms),
                    outcome.evaluated,
                    outcome.skipped,
                    outcome.runs.len(),
                    outcome.duration_ms
                );
            }
            Err(error) => eprintln!("tick failed (retrying next interval): {error}"),
        }, Recovered::report)
        .await
        .map_err(CliError::internal)
    })?;
    Ok(Outcome::Ok)
}
