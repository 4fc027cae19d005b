//! Times automation ticks over the layered benchmark graph (bench/automation/README.md):
//! every asset daily over 2024 (366 partitions) and `eager`; the first tick (nothing
//! materialized), a tick after every root's latest partition is updated, and a tick with no
//! change — the three ticks Dagster's `bench_automation.py` times.
//!
//! `python3 bench/automation/graphgen.py 1000 > g.json && cargo run --release -p strata-core
//! --example automation_tick -- g.json`

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use strata_core::automation::evaluate::{AssetFacts, AutomationState, Tick, evaluate_tick};
use strata_core::declare::{SourceFile, load_repository};
use strata_core::key::AssetKey;
use strata_core::partitions::definition::NoDynamicPartitions;
use strata_core::partitions::subset::PartitionSubset;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: automation_tick GRAPH.json");
    let graph: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("graph file")).expect("JSON");
    let deps = graph["deps"].as_object().expect("deps");
    let roots: Vec<String> = graph["layers"][0]
        .as_array()
        .expect("layers")
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let started = Instant::now();
    let files = deps
        .iter()
        .map(|(name, ups)| {
            let mut text = String::from(
                "command = [\"true\"]\npartitions = { daily = { start = \"2024-01-01\", end = \"2025-01-01\" } }\nautomation = \"eager\"\n",
            );
            for up in ups.as_array().unwrap() {
                text.push_str(&format!("[deps.\"bench/{}\"]\n", up.as_str().unwrap()));
            }
            SourceFile::new(format!("assets/bench/{name}.toml"), text)
        })
        .collect();
    let repository = load_repository(
        SourceFile::new("strata.toml", "[project]\nname = \"bench\"\n"),
        files,
    )
    .unwrap_or_else(|e| panic!("{} errors, first: {}", e.len(), e[0]));
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let now_ms = 1_748_736_000_000; // 2025-06-01: every 2024 window has ended
    let keyspaces = repository.keyspaces(now_ms / 1000, &NoDynamicPartitions);
    let mut facts: BTreeMap<AssetKey, AssetFacts> = repository
        .assets()
        .map(|a| (a.key.clone(), AssetFacts::default()))
        .collect();
    let mut state = AutomationState::default();
    let tick = |facts: &BTreeMap<AssetKey, AssetFacts>,
                state: &mut AutomationState,
                now_ms: i64,
                changed: Option<&BTreeSet<AssetKey>>| {
        let started = Instant::now();
        let outcome = evaluate_tick(&Tick {
            repository: &repository,
            keyspaces: &keyspaces,
            facts,
            now_ms,
            previous: state,
            changed,
        });
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        *state = outcome.state;
        let requested: u64 = outcome.requested.values().map(PartitionSubset::count).sum();
        (ms, requested, outcome.evaluations.len())
    };

    let (t1, r1, e1) = tick(&facts, &mut state, now_ms, None);
    // Every root's latest partition (2024-12-31, index 365) is updated.
    let latest = PartitionSubset::from_range(365..366);
    let mut changed = BTreeSet::new();
    for root in &roots {
        let key = AssetKey::parse(&format!("bench/{root}")).unwrap();
        let f = facts.get_mut(&key).unwrap();
        f.materialized = latest.clone();
        f.updated = vec![(now_ms + 30_000, latest.clone())];
        changed.insert(key);
    }
    let (t2, r2, e2) = tick(&facts, &mut state, now_ms + 60_000, Some(&changed));
    for root in &roots {
        let key = AssetKey::parse(&format!("bench/{root}")).unwrap();
        facts.get_mut(&key).unwrap().updated.clear();
    }
    let (t3, r3, e3) = tick(&facts, &mut state, now_ms + 120_000, Some(&BTreeSet::new()));
    let (t4, r4, e4) = tick(&facts, &mut state, now_ms + 180_000, Some(&BTreeSet::new()));
    let (t5, r5, e5) = tick(&facts, &mut state, now_ms + 240_000, Some(&BTreeSet::new()));
    println!(
        "{}",
        serde_json::json!({
            "n_assets": repository.len(),
            "partitions_per_asset": 366,
            "load_declarations_ms": load_ms,
            "tick1_ms": t1, "tick1_requested": r1, "tick1_evaluated": e1,
            "tick2_ms": t2, "tick2_requested": r2, "tick2_evaluated": e2,
            "tick3_ms": t3, "tick3_requested": r3, "tick3_evaluated": e3,
            "tick4_ms": t4, "tick4_requested": r4, "tick4_evaluated": e4,
            "tick5_ms": t5, "tick5_requested": r5, "tick5_evaluated": e5,
        })
    );
}
