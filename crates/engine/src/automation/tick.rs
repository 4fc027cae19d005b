//! One automation tick, as `strata automation tick` and the daemon run it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use strata_core::automation::evaluate::{AutomationState, Evaluations, Tick, evaluate_tick};
use strata_core::key::AssetKey;
use strata_core::model::Repository;
use strata_core::partitions::Keyspace;
use strata_core::partitions::subset::PartitionSubset;
use strata_storage::records::NewTick;

use super::freshness::{self, AssetFreshness};
use super::recover::PROCESS_TAG;
use super::runs::{self, Requested};
use super::{AutomationError, facts};
use crate::executor::RunRequest;
use crate::instance::Instance;

/// What a tick may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickMode {
    /// Store the tick and return its runs to launch.
    Launch,
    /// Store the tick (its requests count as requested) but launch nothing.
    NoLaunch,
    /// Store nothing: what a tick would request now.
    DryRun,
}

/// What the daemon keeps between ticks besides the evaluation state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct StoredState {
    /// The evaluation state.
    evaluation: AutomationState,
    /// Runs requested beyond `max_runs_per_tick`, launched first by later ticks.
    #[serde(default)]
    queue: Vec<Vec<Requested>>,
    /// The last data version seen per observed source partition (`asset|partition`).
    #[serde(default)]
    sources: BTreeMap<String, String>,
}

/// A run the tick asks for.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// The run.
    pub request: RunRequest,
    /// What it materializes.
    pub targets: Vec<Requested>,
}

/// What a tick did.
#[derive(Clone, Debug)]
pub struct TickOutcome {
    /// Its number (`None` for a dry run, which stores nothing).
    pub tick: Option<i64>,
    /// Its "now" (ms).
    pub now_ms: i64,
    /// How long it took (ms).
    pub duration_ms: i64,
    /// What the conditions requested (before grouping; in-progress partitions removed).
    pub requested: Vec<Requested>,
    /// Runs to launch now.
    pub runs: Vec<PlannedRun>,
    /// Runs left queued for later ticks.
    pub queued: usize,
    /// Assets evaluated.
    pub evaluated: usize,
    /// Assets skipped as unchanged since their last evaluation.
    pub skipped: usize,
    /// Explanations of the evaluated assets (each built when asked for).
    pub evaluations: Evaluations,
    /// Freshness of every asset with a policy.
    pub freshness: Vec<AssetFreshness>,
    /// Alerts that fired or resolved at this tick.
    pub alerts: usize,
}

/// Unpartitioned sources whose last observation is older than their `interval` (or that were
/// never observed): observing them is how a new upstream version reaches eager assets.
async fn sources_due(
    instance: &Instance,
    repository: &Repository,
    keyspaces: &BTreeMap<AssetKey, Keyspace<'_>>,
    now_ms: i64,
) -> Result<Vec<Requested>, AutomationError> {
    let mut due = Vec::new();
    for asset in repository.assets() {
        let strata_core::model::Compute::Source(source) = &asset.compute else {
            continue;
        };
        if keyspaces.contains_key(&asset.key) {
            continue;
        }
        let last = instance
            .storage
            .observations(&asset.key)
            .await?
            .iter()
            .map(|o| o.timestamp)
            .max();
        if last.is_none_or(|t| t + source.interval.as_millis() as i64 <= now_ms) {
            due.push(Requested {
                asset: asset.key.clone(),
                partitions: Vec::new(),
                unpartitioned: true,
            });
        }
    }
    Ok(due)
}

/// Runs one tick at `now_ms` (also the timestamp of what it records).
pub async fn run_tick(
    instance: &Instance,
    repository: &Repository,
    now_ms: i64,
    mode: TickMode,
) -> Result<TickOutcome, AutomationError> {
    let started = std::time::Instant::now();
    let storage = instance.storage.as_ref();
    let stored = storage.automation_state().await?;
    let (cursor, mut state) = match &stored {
        Some(record) => (
            record.cursor,
            serde_json::from_str::<StoredState>(&record.state)
                .map_err(|e| AutomationError::State(e.to_string()))?,
        ),
        None => (0, StoredState::default()),
    };
    let changes = facts::changes_since(instance, cursor, &mut state.sources).await?;
    let dynamic = storage.dynamic_partitions().await?;
    let now_secs = now_ms.div_euclid(1000);
    let keyspaces = repository.keyspaces(now_secs, &dynamic);
    let statuses = facts::statuses(instance, repository, &keyspaces).await?;
    let freshness =
        freshness::evaluate_all(instance, repository, &keyspaces, &statuses, now_ms).await?;
    let failing: BTreeSet<AssetKey> = freshness
        .iter()
        .filter(|f| f.status.state == strata_core::freshness::FreshnessState::Fail)
        .map(|f| f.asset.clone())
        .collect();
    let all_facts = facts::load_facts(
        instance,
        repository,
        &keyspaces,
        &statuses,
        &changes.updates,
        &failing,
    )
    .await?;
    // The first tick, or events that change state without naming an asset (a run canceled
    // with steps still executing, a backfill, dynamic partitions): evaluate everything.
    let global = stored.is_none() || changes.global;
    let outcome = evaluate_tick(&Tick {
        repository,
        keyspaces: &keyspaces,
        facts: &all_facts,
        now_ms,
        previous: &state.evaluation,
        changed: (!global).then_some(&changes.touched),
    });

    // Never ask again for what is already running.
    let requested_subsets: BTreeMap<AssetKey, PartitionSubset> = outcome
        .requested
        .iter()
        .filter_map(|(key, subset)| {
            let running = all_facts.get(key).map(|f| &f.in_progress);
            let left = running.map_or(subset.clone(), |r| subset.difference(r));
            (!left.is_empty()).then(|| (key.clone(), left))
        })
        .collect();
    let mut requested = runs::requested(&requested_subsets, &keyspaces);
    requested.extend(sources_due(instance, repository, &keyspaces, now_ms).await?);

    let mut groups: Vec<Vec<Requested>> = Vec::new();
    if mode == TickMode::Launch {
        groups.append(&mut state.queue);
    }
    groups.extend(runs::group(repository, &requested));
    let cap = repository.project().daemon.max_runs_per_tick as usize;
    let mut planned = Vec::new();
    let mut queue = Vec::new();
    for group in groups {
        if planned.len() >= cap {
            queue.push(group);
            continue;
        }
        let tags = BTreeMap::from([
            ("launched_by".to_string(), "automation".to_string()),
            (PROCESS_TAG.to_string(), crate::lease::holder()),
        ]);
        if let Some(request) =
            runs::run_request(repository, &keyspaces, &group, runs::describe(&group), tags)
        {
            planned.push(PlannedRun {
                request,
                targets: group,
            });
        }
    }
    let queued = queue.len();
    let evaluated = outcome.evaluations.len();
    let skipped = outcome.skipped;
    let mut tick_number = None;
    let mut alerts = 0;
    if mode != TickMode::DryRun {
        let events = freshness::changes(&freshness);
        if !events.is_empty() {
            storage.append(now_ms, events).await?;
        }
        // Alert rules see this tick's freshness; what they fire is delivered afterwards, by
        // whoever ran the tick (`crate::alerts::deliver_pending`).
        // A rule that cannot be evaluated must not stop automation: it is logged and evaluated
        // again at the next tick.
        alerts = match crate::alerts::evaluate(storage, repository, now_ms).await {
            Ok(changes) => changes.len(),
            Err(error) => {
                tracing::warn!(%error, "evaluating alert rules failed; retried at the next tick");
                0
            }
        };
        let next = StoredState {
            evaluation: outcome.state,
            queue: if mode == TickMode::Launch {
                queue
            } else {
                state.queue
            },
            sources: state.sources,
        };
        let runs_json: Vec<_> = planned
            .iter()
            .map(|r| {
                serde_json::json!({
                    "run_id": r.request.run_id,
                    "targets": r.targets,
                    "process": r.request.tags[PROCESS_TAG],
                })
            })
            .collect();
        let evaluations = outcome
            .evaluations
            .iter()
            .map(|(k, e)| {
                (
                    k.clone(),
                    serde_json::to_string(&e).expect("explanations serialize"),
                )
            })
            .collect();
        let tick = NewTick {
            now: now_ms,
            started_at: chrono::Utc::now().timestamp_millis(),
            duration_ms: started.elapsed().as_millis() as i64,
            cursor: changes.cursor,
            evaluated: evaluated as u64,
            skipped: skipped as u64,
            requested: serde_json::to_string(&requested).expect("requests serialize"),
            runs: serde_json::Value::Array(runs_json).to_string(),
            launched: mode == TickMode::Launch,
            evaluations,
            state: serde_json::to_string(&next).expect("state serializes"),
        };
        crate::failpoint::hit("automation.before_record");
        tick_number = Some(storage.record_tick(tick).await?);
        crate::failpoint::hit("automation.after_record");
        if let Some(number) = tick_number {
            for run in &mut planned {
                run.request
                    .tags
                    .insert("automation_tick".to_string(), number.to_string());
            }
        }
    }
    Ok(TickOutcome {
        tick: tick_number,
        now_ms,
        duration_ms: started.elapsed().as_millis() as i64,
        requested,
        runs: if mode == TickMode::Launch {
            planned
        } else {
            Vec::new()
        },
        queued,
        evaluated,
        skipped,
        evaluations: outcome.evaluations,
        freshness,
        alerts,
    })
}
