//! Times automation ticks over the layered benchmark graph (bench/automation/README.md):
//! every asset daily over 2024 (366 partitions) and `eager`; the first tick (nothing
//! materialized), a tick after every root's latest partition is updated, and a tick with no
//! change — the three ticks Dagster's `bench_automation.py` times.
//!
//! `python3 bench/automation/graphgen.py 1000 > g.json && cargo run --release -p strata-core
//! --example automation_tick -- g.json [--repeat N]`
//!
//! With `--repeat N`, each tick is evaluated N times from the same inputs (a tick is a pure
//! function of them) and the median wall time is reported; `tickK_cpu_ms` is the process's CPU
//! time per evaluation (Linux, from `/proc/self/stat`), which other processes competing for
//! the cores do not inflate.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use strata_core::automation::evaluate::{AssetFacts, AutomationState, Tick, evaluate_tick};
use strata_core::declare::{SourceFile, load_repository};
use strata_core::key::AssetKey;
use strata_core::partitions::definition::NoDynamicPartitions;
use strata_core::partitions::subset::PartitionSubset;

/// This process's user + system CPU time in ms, when the platform says (Linux).
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which ends with the last `)`): state is field 3,
    // utime and stime fields 14 and 15, in clock ticks of 10 ms (USER_HZ = 100 on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: automation_tick GRAPH.json [--repeat N]";
    let path = args.get(1).expect(usage);
    let repeat: usize = match args.get(2).map(String::as_str) {
        Some("--repeat") => args.get(3).and_then(|n| n.parse().ok()).expect(usage),
        None => 1,
        Some(_) => panic!("{usage}"),
    };
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
    // (median wall ms, CPU ms per evaluation, partitions requested, assets evaluated)
    let tick = |facts: &BTreeMap<AssetKey, AssetFacts>,
                state: &mut AutomationState,
                now_ms: i64,
                changed: Option<&BTreeSet<AssetKey>>| {
        let mut wall = Vec::with_capacity(repeat);
        let mut cpu = Some(0.0);
        let mut last = None;
        for _ in 0..repeat {
            let cpu_before = cpu_ms();
            let started = Instant::now();
            let outcome = evaluate_tick(&Tick {
                repository: &repository,
                keyspaces: &keyspaces,
                facts,
                now_ms,
                previous: state,
                changed,
            });
            wall.push(started.elapsed().as_secs_f64() * 1000.0);
            cpu = cpu
                .zip(cpu_before.zip(cpu_ms()))
                .map(|(sum, (a, b))| sum + b - a);
            last = Some(outcome);
        }
        let outcome = last.expect("at least one evaluation");
        *state = outcome.state;
        wall.sort_by(f64::total_cmp);
        let requested: u64 = outcome.requested.values().map(PartitionSubset::count).sum();
        let cpu = cpu.map(|ms| ms / repeat as f64);
        (
            wall[wall.len() / 2],
            cpu,
            requested,
            outcome.evaluations.len(),
        )
    };

    let (t1, c1, r1, e1) = tick(&facts, &mut state, now_ms, None);
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
    let (t2, c2, r2, e2) = tick(&facts, &mut state, now_ms + 60_000, Some(&changed));
    for root in &roots {
        let key = AssetKey::parse(&format!("bench/{root}")).unwrap();
        facts.get_mut(&key).unwrap().updated.clear();
    }
    let (t3, c3, r3, e3) = tick(&facts, &mut state, now_ms + 120_000, Some(&BTreeSet::new()));
    let (t4, c4, r4, e4) = tick(&facts, &mut state, now_ms + 180_000, Some(&BTreeSet::new()));
    let (t5, c5, r5, e5) = tick(&facts, &mut state, now_ms + 240_000, Some(&BTreeSet::new()));
    println!(
        "{}",
        serde_json::json!({
            "n_assets": repository.len(),
            "repeat": repeat,
            "partitions_per_asset": 366,
            "load_declarations_ms": load_ms,
            "tick1_ms": t1, "tick1_cpu_ms": c1, "tick1_requested": r1, "tick1_evaluated": e1,
            "tick2_ms": t2, "tick2_cpu_ms": c2, "tick2_requested": r2, "tick2_evaluated": e2,
            "tick3_ms": t3, "tick3_cpu_ms": c3, "tick3_requested": r3, "tick3_evaluated": e3,
            "tick4_ms": t4, "tick4_cpu_ms": c4, "tick4_requested": r4, "tick4_evaluated": e4,
            "tick5_ms": t5, "tick5_cpu_ms": c5, "tick5_requested": r5, "tick5_evaluated": e5,
        })
    );
}
