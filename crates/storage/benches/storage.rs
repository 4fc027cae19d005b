//! Instance storage benchmarks: events appended per second (one per transaction, and batched)
//! and the partition status of an asset with 1,000,000 partitions, half of them materialized by
//! two alternating runs. Run: `cargo bench -p strata-storage --bench storage`. Prints one JSON
//! line; times are medians of 5 runs after a warm-up.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use strata_core::key::AssetKey;
use strata_core::partitions::definition::{NoDynamicPartitions, PartitionsDefinition};
use strata_core::partitions::spec::{PartitionsSpec, TimeWindowSpec};
use strata_storage::event::{Event, FileRef, Materialization};
use strata_storage::{SqliteStorage, Storage};

fn materialization(asset: &AssetKey, key: String, run: usize, id: usize) -> Event {
    Event::Materialization(Materialization {
        asset: asset.clone(),
        files: vec![FileRef {
            path: format!("{asset}/p={key}/m{id}/part-00000.parquet"),
            bytes: 4_096,
        }],
        partition: Some(key),
        run_id: Some(format!("run-{run}")),
        materialization_id: format!("m{id}"),
        io_manager: "default".into(),
        rows: 1_000,
        bytes: 4_096,
        metadata: BTreeMap::from([("duration_ms".into(), serde_json::json!(12))]),
        code_version: "v1".into(),
        data_version: format!("dv{id}"),
        inputs: Vec::new(),
    })
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(&dir.path().join("strata.db")).unwrap();
    let asset = AssetKey::parse("bench/hourly").unwrap();

    // Runs exist before their events reference them.
    storage
        .append(
            0,
            (0..2)
                .map(|run| Event::RunQueued {
                    run_id: format!("run-{run}"),
                    backfill_id: None,
                    description: "bench".into(),
                    steps: 0,
                    tags: BTreeMap::new(),
                })
                .collect(),
        )
        .await
        .unwrap();

    // Single appends: one materialization per transaction.
    let single_n = 2_000;
    let mut next_id = 0;
    let mut single = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..single_n {
            next_id += 1;
            let event = materialization(&asset, format!("single-{next_id}"), next_id % 2, next_id);
            storage.append(next_id as i64, vec![event]).await.unwrap();
        }
        single.push(single_n as f64 / start.elapsed().as_secs_f64());
    }

    // Batched appends: 1,000 materializations per transaction.
    let batch = 1_000;
    let mut batched = Vec::new();
    for _ in 0..5 {
        let events: Vec<Event> = (0..batch)
            .map(|_| {
                next_id += 1;
                materialization(&asset, format!("batch-{next_id}"), next_id % 2, next_id)
            })
            .collect();
        let start = Instant::now();
        storage.append(next_id as i64, events).await.unwrap();
        batched.push(batch as f64 / start.elapsed().as_secs_f64());
    }

    // 1,000,000 hourly partitions; every other one materialized, by two alternating runs.
    let big = AssetKey::parse("bench/million").unwrap();
    let definition = PartitionsDefinition::from_spec(&PartitionsSpec::Hourly(TimeWindowSpec {
        start: "1900-01-01-00:00".into(),
        ..TimeWindowSpec::default()
    }))
    .unwrap();
    let start_1900 = -2_208_988_800;
    let keyspace = definition.keyspace(start_1900 + 1_000_000 * 3600, &NoDynamicPartitions);
    assert_eq!(keyspace.len(), 1_000_000);
    let seed = Instant::now();
    for chunk in (0..1_000_000u64)
        .step_by(2)
        .collect::<Vec<_>>()
        .chunks(10_000)
    {
        let events = chunk
            .iter()
            .map(|&i| {
                next_id += 1;
                materialization(
                    &big,
                    keyspace.key(i).unwrap(),
                    (i / 2) as usize % 2,
                    next_id,
                )
            })
            .collect();
        storage.append(next_id as i64, events).await.unwrap();
    }
    let seed_s = seed.elapsed().as_secs_f64();

    let mut status_ms = Vec::new();
    for _ in 0..6 {
        let start = Instant::now();
        let status = storage.partition_status(&big, &keyspace).await.unwrap();
        status_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status.materialized.count(), 500_000);
        assert_eq!(status.missing().count(), 500_000);
        black_box(status);
    }
    status_ms.remove(0);

    println!(
        "{}",
        serde_json::json!({
            "append_single_events_per_s": median(single).round(),
            "append_batched_1000_events_per_s": median(batched).round(),
            "seed_500k_materializations_s": (seed_s * 10.0).round() / 10.0,
            "status_1m_partitions_half_materialized_ms": (median(status_ms) * 10.0).round() / 10.0,
        })
    );
}
