//! Partition benchmarks, the same operations as `bench/dagster/partitions_bench.py` runs in
//! Dagster. Run: `cargo bench -p strata-core --bench partitions`. Prints one JSON line with the
//! median of 5 runs after one warm-up, in milliseconds.

use std::hint::black_box;
use std::time::Instant;

use chrono::DateTime;
use strata_core::partitions::definition::NoDynamicPartitions;
use strata_core::partitions::mapping::Sides;
use strata_core::partitions::spec::{PartitionsSpec, TimeWindowSpec};
use strata_core::partitions::{PartitionMapping, PartitionSubset, PartitionsDefinition};

fn median_ms(mut run: impl FnMut()) -> f64 {
    run();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

fn instant(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).unwrap().timestamp()
}

fn main() {
    let dynamic = NoDynamicPartitions;

    // 200,000 hourly partitions (UTC): 2000-01-01 plus 200,000 hours.
    let hourly = PartitionsDefinition::from_spec(&PartitionsSpec::Hourly(TimeWindowSpec {
        start: "2000-01-01-00:00".into(),
        ..TimeWindowSpec::default()
    }))
    .unwrap();
    let hourly_now = instant("2000-01-01T00:00:00Z") + 200_000 * 3600;
    let hourly_keys = hourly.keyspace(hourly_now, &dynamic);
    assert_eq!(hourly_keys.len(), 200_000);

    let keys_200k_hourly = median_ms(|| {
        let keys: Vec<String> = hourly_keys.keys().collect();
        black_box(keys);
    });

    let every_other: Vec<String> = (0..100_000)
        .map(|i| hourly_keys.key(2 * i).unwrap())
        .collect();
    let build_materialized_subset_100k = median_ms(|| {
        let subset = PartitionSubset::from_indices(
            every_other.iter().map(|k| hourly_keys.index_of(k).unwrap()),
        );
        black_box(subset);
    });
    let materialized =
        PartitionSubset::from_indices(every_other.iter().map(|k| hourly_keys.index_of(k).unwrap()));
    let missing_200k = median_ms(|| {
        let missing = materialized.complement(hourly_keys.len());
        assert_eq!(black_box(missing.count()), 100_000);
    });

    // 10,000 daily partitions mapped through a rolling 7-day window.
    let daily = PartitionsDefinition::from_spec(&PartitionsSpec::Daily(TimeWindowSpec {
        start: "2000-01-01".into(),
        ..TimeWindowSpec::default()
    }))
    .unwrap();
    let daily_now = instant("2000-01-01T00:00:00Z") + 10_000 * 86_400;
    let daily_keys = daily.keyspace(daily_now, &dynamic);
    assert_eq!(daily_keys.len(), 10_000);
    let rolling = PartitionMapping::TimeWindow {
        start_offset: -6,
        end_offset: 0,
        allow_nonexistent: false,
    };
    let sides = Sides {
        upstream: &daily,
        upstream_keys: &daily_keys,
        downstream: &daily,
        downstream_keys: &daily_keys,
    };
    let rolling_window_10k_daily = median_ms(|| {
        let result = rolling.upstream_of(sides, &PartitionSubset::all(10_000));
        assert_eq!(black_box(result.partitions.count()), 10_000);
    });
    let rolling_window_10k_daily_each = median_ms(|| {
        for i in 0..10_000 {
            let result = rolling.upstream_of(sides, &PartitionSubset::from_range(i..i + 1));
            black_box(result);
        }
    });

    println!(
        "{{\"keys_200k_hourly_ms\": {keys_200k_hourly:.3}, \"build_materialized_subset_100k_ms\": {build_materialized_subset_100k:.3}, \"missing_200k_ms\": {missing_200k:.3}, \"rolling_window_10k_daily_ms\": {rolling_window_10k_daily:.3}, \"rolling_window_10k_daily_each_ms\": {rolling_window_10k_daily_each:.3}}}"
    );
}
