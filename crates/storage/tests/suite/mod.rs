//! The storage suite: every promise of the `Storage` contract, written against the trait only,
//! so a second backend runs it unchanged with `storage_suite!(open_that_backend);`.

use std::collections::BTreeMap;

use strata_core::cost::{Amounts, Usage};
use strata_core::key::AssetKey;
use strata_core::model::Severity;
use strata_core::partitions::definition::{
    DynamicPartitions, NoDynamicPartitions, PartitionsDefinition,
};
use strata_core::partitions::spec::{PartitionsSpec, TimeWindowSpec};
use strata_core::partitions::subset::PartitionSubset;
use strata_storage::Storage;
use strata_storage::event::{
    AlertDelivery, AlertFiring, BackfillStatus, BackfillTarget, CheckEvaluation, ConsumedInput,
    ConsumedRange, Event, FileRef, KeyRange, LogLevel, Materialization, Observation, StepCost,
};
use strata_storage::records::{RunFilter, RunStatus, StepStatus};

/// Generates one test per suite function for a backend; `$open` returns `(guard, storage)`.
macro_rules! storage_suite {
    ($open:path) => {
        storage_suite!(@tests $open;
            ids_grow_and_every_event_kind_reads_back,
            a_run_moves_through_its_states,
            a_final_step_failure_marks_the_partition_failed_until_a_materialization,
            an_ended_run_abandons_its_executing_steps,
            partition_status_is_compact_and_in_definition_order,
            state_is_kept_by_key_so_a_new_start_relabels_nothing,
            static_status_uses_the_definition_order,
            an_invalid_batch_changes_nothing,
            current_materializations_answer_from_the_index,
            consumed_inputs_round_trip_as_ranges,
            superseded_files_become_collectable_and_deleted_ones_do_not,
            recorded_paths_tell_orphans_apart,
            backfills_track_progress,
            dynamic_partitions_keep_their_order,
            a_lease_has_one_holder_at_a_time,
            concurrent_appends_all_land_once,
            cancellation_is_a_flag_executors_poll,
            the_last_event_id_and_run_pages_follow_the_log,
            skips_observations_and_check_results_read_back,
            a_tick_stores_its_state_and_explanations_together,
            freshness_changes_keep_the_current_state,
            step_costs_and_held_bytes_read_back_for_reports,
            alerts_fire_and_resolve_and_deliveries_are_an_outbox,
            failing_checks_and_failed_partitions_follow_the_latest_result,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_guard, storage) = $open();
                crate::suite::$name(&storage).await;
            }
        )*
    };
}

/// "Now" for keyspaces: mid-2014, after every 2013 window has ended.
const NOW: i64 = 1_400_000_000;

fn key(text: &str) -> AssetKey {
    AssetKey::parse(text).unwrap()
}

fn daily(start: &str) -> PartitionsDefinition {
    PartitionsDefinition::from_spec(&PartitionsSpec::Daily(TimeWindowSpec {
        start: start.into(),
        end: Some("2014-01-01".into()),
        ..Default::default()
    }))
    .unwrap()
}

fn queued(run_id: &str) -> Event {
    Event::RunQueued {
        run_id: run_id.into(),
        backfill_id: None,
        description: "flights/clean".into(),
        steps: 1,
        tags: BTreeMap::new(),
    }
}

fn step_started(run_id: &str, asset: &str, partition: Option<&str>) -> Event {
    Event::StepStarted {
        run_id: run_id.into(),
        asset: key(asset),
        partition: partition.map(str::to_string),
        attempt: 1,
    }
}

fn materialization(
    run_id: Option<&str>,
    asset: &str,
    partition: Option<&str>,
    id: &str,
) -> Materialization {
    let prefix = format!("{asset}/{}/{id}", partition.unwrap_or("_"));
    Materialization {
        asset: key(asset),
        partition: partition.map(str::to_string),
        run_id: run_id.map(str::to_string),
        materialization_id: id.into(),
        io_manager: "default".into(),
        files: vec![FileRef {
            path: format!("{prefix}/part-00000.parquet"),
            bytes: 100,
        }],
        rows: 10,
        bytes: 100,
        metadata: BTreeMap::from([("duration_ms".into(), serde_json::json!(12))]),
        code_version: "v1".into(),
        data_version: format!("dv-{id}"),
        inputs: Vec::new(),
    }
}

fn materialized(asset: &str, partition: Option<&str>, id: &str) -> Event {
    Event::Materialization(materialization(None, asset, partition, id))
}

/// The subset's ranges as `(start, end)` pairs, end exclusive.
fn ranges(subset: &PartitionSubset) -> Vec<(u64, u64)> {
    subset
        .ranges()
        .into_iter()
        .map(|r| (r.start, r.end))
        .collect()
}

pub(crate) async fn ids_grow_and_every_event_kind_reads_back(storage: &dyn Storage) {
    let events = vec![
        queued("r1"),
        Event::RunStarted {
            run_id: "r1".into(),
        },
        step_started("r1", "flights/clean", Some("2013-01-01")),
        Event::StepRetrying {
            run_id: "r1".into(),
            asset: key("flights/clean"),
            partition: Some("2013-01-01".into()),
            attempt: 1,
            delay_ms: 2000,
            error: "timeout".into(),
        },
        Event::Log {
            run_id: "r1".into(),
            asset: Some(key("flights/clean")),
            partition: Some("2013-01-01".into()),
            level: LogLevel::Info,
            message: "read 842 rows".into(),
        },
        Event::Materialization(materialization(
            Some("r1"),
            "flights/clean",
            Some("2013-01-01"),
            "m1",
        )),
        Event::Observation(Observation {
            asset: key("raw/landing"),
            partition: None,
            run_id: None,
            data_version: "sha256:abc".into(),
            metadata: BTreeMap::new(),
        }),
        Event::CheckEvaluation(CheckEvaluation {
            asset: key("flights/clean"),
            partition: Some("2013-01-01".into()),
            run_id: Some("r1".into()),
            check: "not_null_carrier".into(),
            passed: false,
            severity: Severity::Error,
            blocking: true,
            metadata: BTreeMap::new(),
        }),
        Event::StepSucceeded {
            run_id: "r1".into(),
            asset: key("flights/clean"),
            partition: Some("2013-01-01".into()),
        },
        Event::RunSucceeded {
            run_id: "r1".into(),
        },
        Event::BackfillCreated {
            backfill_id: "b1".into(),
            selection: "*".into(),
            partitions: "missing".into(),
            requested: 3,
            targets: Vec::new(),
        },
        Event::BackfillResumed {
            backfill_id: "b1".into(),
        },
        Event::BackfillProgressed {
            backfill_id: "b1".into(),
            completed: 1,
            failed: 0,
        },
        Event::BackfillFinished {
            backfill_id: "b1".into(),
            status: BackfillStatus::Completed,
        },
        Event::DynamicPartitionsAdded {
            name: "regions".into(),
            keys: vec!["eu".into()],
        },
        Event::DynamicPartitionsRemoved {
            name: "regions".into(),
            keys: vec!["eu".into()],
        },
        Event::FilesDeleted {
            io_manager: "default".into(),
            paths: vec![],
        },
        Event::FreshnessChanged {
            asset: key("raw/flights"),
            state: "fail".into(),
            previous: "fresh".into(),
            reason: "late".into(),
        },
    ];
    let first = storage.append(1_000, events[..5].to_vec()).await.unwrap();
    let rest = storage.append(2_000, events[5..].to_vec()).await.unwrap();
    let ids: Vec<i64> = first.into_iter().chain(rest).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let read = storage.events_after(0, 100).await.unwrap();
    assert_eq!(read.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    assert_eq!(
        read.iter().map(|r| r.event.clone()).collect::<Vec<_>>(),
        events
    );
    assert_eq!(read[4].timestamp, 1_000);
    assert_eq!(read[5].timestamp, 2_000);

    // A cursor resumes exactly after the last event it saw.
    let after = storage.events_after(ids[9], 100).await.unwrap();
    assert_eq!(after.first().map(|r| r.id), Some(ids[10]));
    assert_eq!(storage.events_after(ids[2], 2).await.unwrap().len(), 2);

    let run_events = storage.run_events("r1", 0, 100).await.unwrap();
    assert_eq!(run_events.len(), 9, "every event that names r1, in order");
    assert!(
        storage
            .run_events("r1", ids[9], 100)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn a_run_moves_through_its_states(storage: &dyn Storage) {
    storage.append(10, vec![queued("r1")]).await.unwrap();
    let run = storage.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.created_at, run.started_at),
        (RunStatus::Queued, 10, None)
    );

    let asset = "flights/clean";
    storage
        .append(
            20,
            vec![
                Event::RunStarted {
                    run_id: "r1".into(),
                },
                step_started("r1", asset, Some("2013-01-02")),
            ],
        )
        .await
        .unwrap();
    let steps = storage.steps("r1").await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].status, steps[0].attempt),
        (StepStatus::Started, 1)
    );
    let status = storage
        .partition_status(
            &key(asset),
            &daily("2013-01-01").keyspace(NOW, &NoDynamicPartitions),
        )
        .await
        .unwrap();
    assert_eq!(ranges(&status.in_progress), [(1, 2)]);

    storage
        .append(
            30,
            vec![
                Event::StepRetrying {
                    run_id: "r1".into(),
                    asset: key(asset),
                    partition: Some("2013-01-02".into()),
                    attempt: 1,
                    delay_ms: 10,
                    error: "flaky".into(),
                },
                Event::StepStarted {
                    run_id: "r1".into(),
                    asset: key(asset),
                    partition: Some("2013-01-02".into()),
                    attempt: 2,
                },
                Event::Materialization(materialization(
                    Some("r1"),
                    asset,
                    Some("2013-01-02"),
                    "m1",
                )),
                Event::StepSucceeded {
                    run_id: "r1".into(),
                    asset: key(asset),
                    partition: Some("2013-01-02".into()),
                },
                Event::RunSucceeded {
                    run_id: "r1".into(),
                },
            ],
        )
        .await
        .unwrap();
    let run = storage.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.started_at, run.ended_at),
        (RunStatus::Succeeded, Some(20), Some(30))
    );
    let steps = storage.steps("r1").await.unwrap();
    assert_eq!(
        (steps[0].status, steps[0].attempt, steps[0].ended_at),
        (StepStatus::Succeeded, 2, Some(30))
    );
    let status = storage
        .partition_status(
            &key(asset),
            &daily("2013-01-01").keyspace(NOW, &NoDynamicPartitions),
        )
        .await
        .unwrap();
    assert!(status.in_progress.is_empty());
    assert_eq!(ranges(&status.materialized), [(1, 2)]);

    // Listing: newest first, filtered by status.
    storage.append(40, vec![queued("r2")]).await.unwrap();
    let all = storage.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["r2", "r1"]
    );
    let done = storage
        .runs(&RunFilter {
            statuses: vec![RunStatus::Succeeded],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert!(storage.run("nope").await.unwrap().is_none());
}

pub(crate) async fn a_final_step_failure_marks_the_partition_failed_until_a_materialization(
    storage: &dyn Storage,
) {
    let asset = "flights/clean";
    let keyspace_def = daily("2013-01-01");
    let keyspace = keyspace_def.keyspace(NOW, &NoDynamicPartitions);
    storage
        .append(
            1,
            vec![
                queued("r1"),
                step_started("r1", asset, Some("2013-01-03")),
                Event::StepFailed {
                    run_id: "r1".into(),
                    asset: key(asset),
                    partition: Some("2013-01-03".into()),
                    attempt: 1,
                    error: "division by zero".into(),
                },
                Event::RunFailed {
                    run_id: "r1".into(),
                    error: "1 step failed".into(),
                },
            ],
        )
        .await
        .unwrap();
    let status = storage
        .partition_status(&key(asset), &keyspace)
        .await
        .unwrap();
    assert_eq!(ranges(&status.failed), [(2, 3)]);
    assert!(status.materialized.is_empty() && status.in_progress.is_empty());
    let step = &storage.steps("r1").await.unwrap()[0];
    assert_eq!(
        (step.status, step.error.as_deref()),
        (StepStatus::Failed, Some("division by zero"))
    );
    assert_eq!(
        storage.run("r1").await.unwrap().unwrap().error.as_deref(),
        Some("1 step failed")
    );

    storage
        .append(2, vec![materialized(asset, Some("2013-01-03"), "m2")])
        .await
        .unwrap();
    let status = storage
        .partition_status(&key(asset), &keyspace)
        .await
        .unwrap();
    assert!(status.failed.is_empty());
    assert_eq!(ranges(&status.materialized), [(2, 3)]);
}

pub(crate) async fn an_ended_run_abandons_its_executing_steps(storage: &dyn Storage) {
    let asset = "flights/clean";
    storage
        .append(
            1,
            vec![
                queued("r1"),
                step_started("r1", asset, Some("2013-01-01")),
                step_started("r1", asset, Some("2013-01-02")),
                Event::RunCanceled {
                    run_id: "r1".into(),
                },
            ],
        )
        .await
        .unwrap();
    let steps = storage.steps("r1").await.unwrap();
    assert!(
        steps.iter().all(|s| s.status == StepStatus::Abandoned),
        "{steps:?}"
    );
    let status = storage
        .partition_status(
            &key(asset),
            &daily("2013-01-01").keyspace(NOW, &NoDynamicPartitions),
        )
        .await
        .unwrap();
    assert!(status.in_progress.is_empty() && status.failed.is_empty());
    assert_eq!(
        storage.run("r1").await.unwrap().unwrap().status,
        RunStatus::Canceled
    );
}

pub(crate) async fn partition_status_is_compact_and_in_definition_order(storage: &dyn Storage) {
    let asset = "flights/clean";
    // Out of order, with a key the definition does not have.
    let keys = [
        "2013-01-05",
        "2013-01-01",
        "2013-01-02",
        "2013-01-03",
        "2012-12-31",
        "2013-03-01",
    ];
    let events = keys
        .iter()
        .enumerate()
        .map(|(i, k)| materialized(asset, Some(k), &format!("m{i}")))
        .collect();
    storage.append(1, events).await.unwrap();
    let definition = daily("2013-01-01");
    let keyspace = definition.keyspace(NOW, &NoDynamicPartitions);
    let status = storage
        .partition_status(&key(asset), &keyspace)
        .await
        .unwrap();
    assert_eq!(status.total, 365);
    assert_eq!(ranges(&status.materialized), [(0, 3), (4, 5), (59, 60)]);
    assert_eq!(status.unknown_keys, 1, "2012-12-31 is before the start");
    assert_eq!(status.missing().count(), 360);
    // Another asset's state is its own.
    let other = storage
        .partition_status(&key("flights/other"), &keyspace)
        .await
        .unwrap();
    assert!(other.materialized.is_empty());
}

pub(crate) async fn state_is_kept_by_key_so_a_new_start_relabels_nothing(storage: &dyn Storage) {
    let asset = "flights/clean";
    storage
        .append(1, vec![materialized(asset, Some("2013-01-10"), "m1")])
        .await
        .unwrap();
    for (start, index) in [("2013-01-01", 9), ("2013-01-05", 5), ("2013-01-10", 0)] {
        let definition = daily(start);
        let status = storage
            .partition_status(&key(asset), &definition.keyspace(NOW, &NoDynamicPartitions))
            .await
            .unwrap();
        assert_eq!(
            ranges(&status.materialized),
            [(index, index + 1)],
            "start {start}"
        );
    }
}

pub(crate) async fn static_status_uses_the_definition_order(storage: &dyn Storage) {
    let asset = "dims/regions";
    storage
        .append(
            1,
            vec![
                materialized(asset, Some("us"), "m1"),
                materialized(asset, Some("eu"), "m2"),
            ],
        )
        .await
        .unwrap();
    let definition = PartitionsDefinition::from_spec(&PartitionsSpec::Static(vec![
        "us".into(),
        "apac".into(),
        "eu".into(),
    ]))
    .unwrap();
    let status = storage
        .partition_status(&key(asset), &definition.keyspace(NOW, &NoDynamicPartitions))
        .await
        .unwrap();
    assert_eq!(status.materialized.iter().collect::<Vec<_>>(), [0, 2]);
    assert_eq!(status.missing().iter().collect::<Vec<_>>(), [1]);
}

pub(crate) async fn an_invalid_batch_changes_nothing(storage: &dyn Storage) {
    storage.append(1, vec![queued("r1")]).await.unwrap();
    let asset = "flights/clean";
    let mut same_file = materialization(None, asset, Some("2013-01-02"), "m9");
    same_file.files = materialization(None, asset, Some("2013-01-01"), "m1").files;
    let bad_batches: Vec<(Vec<Event>, &str)> = vec![
        (vec![queued("r1")], "already queued"),
        (
            vec![queued("r2"), step_started("r-unknown", asset, None)],
            "never queued",
        ),
        (
            vec![
                materialized(asset, Some("2013-01-01"), "m1"),
                materialized(asset, Some(""), "m2"),
            ],
            "empty partition key",
        ),
        (
            vec![
                materialized(asset, Some("2013-01-01"), "m1"),
                Event::Materialization(same_file),
            ],
            "already recorded",
        ),
        (
            vec![Event::StepSucceeded {
                run_id: "r1".into(),
                asset: key(asset),
                partition: None,
            }],
            "never started",
        ),
        (
            vec![Event::BackfillProgressed {
                backfill_id: "nope".into(),
                completed: 1,
                failed: 0,
            }],
            "never created",
        ),
    ];
    for (batch, expected) in bad_batches {
        let error = storage.append(2, batch).await.unwrap_err();
        assert!(
            matches!(error, strata_storage::StorageError::Invalid(_)),
            "{error:?}"
        );
        assert!(
            error.to_string().contains(expected),
            "{error} should say {expected}"
        );
        assert_eq!(
            storage.events_after(0, 100).await.unwrap().len(),
            1,
            "{expected}"
        );
        assert!(storage.run("r2").await.unwrap().is_none());
        assert!(
            storage
                .current_materializations(&key(asset), None)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

pub(crate) async fn current_materializations_answer_from_the_index(storage: &dyn Storage) {
    let asset = "flights/clean";
    storage
        .append(
            5,
            vec![
                materialized(asset, Some("2013-01-02"), "m1"),
                materialized(asset, Some("2013-01-01"), "m2"),
            ],
        )
        .await
        .unwrap();
    storage
        .append(6, vec![materialized(asset, Some("2013-01-02"), "m3")])
        .await
        .unwrap();
    storage
        .append(7, vec![materialized("dims/carriers", None, "m4")])
        .await
        .unwrap();

    let all = storage
        .current_materializations(&key(asset), None)
        .await
        .unwrap();
    let summary: Vec<_> = all
        .iter()
        .map(|m| {
            (
                m.partition.as_deref().unwrap(),
                m.materialization_id.as_str(),
                m.timestamp,
            )
        })
        .collect();
    assert_eq!(summary, [("2013-01-01", "m2", 5), ("2013-01-02", "m3", 6)]);
    assert_eq!(
        all[1].files[0].path,
        "flights/clean/2013-01-02/m3/part-00000.parquet"
    );
    assert_eq!(
        (
            all[1].rows,
            all[1].code_version.as_str(),
            all[1].data_version.as_str()
        ),
        (10, "v1", "dv-m3")
    );

    let some = storage
        .current_materializations(
            &key(asset),
            Some(&[Some("2013-01-02".into()), Some("2013-01-09".into())]),
        )
        .await
        .unwrap();
    assert_eq!(
        some.len(),
        1,
        "a partition never materialized is simply absent"
    );
    let unpartitioned = storage
        .current_materializations(&key("dims/carriers"), Some(&[None]))
        .await
        .unwrap();
    assert_eq!(unpartitioned[0].partition, None);

    let history = storage
        .materialization_history(&key(asset), Some("2013-01-02"), 10)
        .await
        .unwrap();
    let ids: Vec<_> = history
        .iter()
        .map(|r| match &r.event {
            Event::Materialization(m) => m.materialization_id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, ["m3", "m1"], "newest first");
    assert_eq!(
        storage
            .materialization_history(&key(asset), None, 2)
            .await
            .unwrap()
            .len(),
        2
    );
}

pub(crate) async fn consumed_inputs_round_trip_as_ranges(storage: &dyn Storage) {
    let mut m = materialization(None, "features/rolling", Some("2013-01-07"), "m1");
    m.inputs = vec![
        ConsumedInput {
            asset: key("flights/clean"),
            ranges: vec![ConsumedRange {
                first: Some("2013-01-01".into()),
                last: Some("2013-01-07".into()),
                count: 7,
                data_version: "digest".into(),
            }],
        },
        ConsumedInput {
            asset: key("dims/carriers"),
            ranges: vec![ConsumedRange {
                first: None,
                last: None,
                count: 1,
                data_version: "dv".into(),
            }],
        },
    ];
    storage
        .append(1, vec![Event::Materialization(m.clone())])
        .await
        .unwrap();
    let history = storage
        .materialization_history(&key("features/rolling"), None, 1)
        .await
        .unwrap();
    assert_eq!(history[0].event, Event::Materialization(m.clone()));
    let current = storage
        .current_inputs(&key("features/rolling"))
        .await
        .unwrap();
    assert_eq!(current, vec![(Some("2013-01-07".to_string()), m.inputs)]);
}

pub(crate) async fn superseded_files_become_collectable_and_deleted_ones_do_not(
    storage: &dyn Storage,
) {
    let asset = "flights/clean";
    storage
        .append(100, vec![materialized(asset, Some("2013-01-01"), "m1")])
        .await
        .unwrap();
    assert!(
        storage
            .superseded_files("default", i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
    storage
        .append(200, vec![materialized(asset, Some("2013-01-01"), "m2")])
        .await
        .unwrap();
    let old = "flights/clean/2013-01-01/m1/part-00000.parquet".to_string();
    // Within the grace period: nothing yet.
    assert!(
        storage
            .superseded_files("default", 200, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let collectable = storage.superseded_files("default", 201, 10).await.unwrap();
    assert_eq!(collectable.len(), 1);
    assert_eq!(
        (collectable[0].path.as_str(), collectable[0].superseded_at),
        (old.as_str(), 200)
    );
    assert!(
        storage
            .superseded_files("other", 201, 10)
            .await
            .unwrap()
            .is_empty()
    );

    storage
        .append(
            300,
            vec![Event::FilesDeleted {
                io_manager: "default".into(),
                paths: vec![old],
            }],
        )
        .await
        .unwrap();
    assert!(
        storage
            .superseded_files("default", i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn recorded_paths_tell_orphans_apart(storage: &dyn Storage) {
    storage
        .append(
            1,
            vec![materialized("flights/clean", Some("2013-01-01"), "m1")],
        )
        .await
        .unwrap();
    let paths = vec![
        "flights/clean/2013-01-01/m1/part-00000.parquet".to_string(),
        "flights/clean/2013-01-01/crashed/part-00000.parquet".to_string(),
    ];
    assert_eq!(
        storage.recorded_paths("default", &paths).await.unwrap(),
        [true, false]
    );
    assert_eq!(
        storage.recorded_paths("other", &paths).await.unwrap(),
        [false, false]
    );
}

pub(crate) async fn backfills_track_progress(storage: &dyn Storage) {
    storage
        .append(
            1,
            vec![Event::BackfillCreated {
                backfill_id: "b1".into(),
                selection: "group:flights".into(),
                partitions: "2013-01-01...2013-01-31".into(),
                requested: 62,
                targets: vec![
                    BackfillTarget {
                        asset: key("flights/clean"),
                        ranges: vec![KeyRange {
                            first: "2013-01-01".into(),
                            last: "2013-01-31".into(),
                        }],
                    },
                    BackfillTarget {
                        asset: key("dims/airlines"),
                        ranges: Vec::new(),
                    },
                ],
            }],
        )
        .await
        .unwrap();
    storage
        .append(
            2,
            vec![
                Event::RunQueued {
                    run_id: "r1".into(),
                    backfill_id: Some("b1".into()),
                    description: "backfill b1".into(),
                    steps: 62,
                    tags: BTreeMap::from([("launched_by".into(), "cli".into())]),
                },
                Event::BackfillProgressed {
                    backfill_id: "b1".into(),
                    completed: 40,
                    failed: 2,
                },
            ],
        )
        .await
        .unwrap();
    let backfill = storage.backfill("b1").await.unwrap().unwrap();
    assert_eq!(
        (
            backfill.status,
            backfill.requested,
            backfill.completed,
            backfill.failed
        ),
        (BackfillStatus::Requested, 62, 40, 2)
    );
    let runs = storage
        .runs(&RunFilter {
            backfill_id: Some("b1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].tags["launched_by"], "cli");
    storage
        .append(
            3,
            vec![Event::BackfillFinished {
                backfill_id: "b1".into(),
                status: BackfillStatus::Failed,
            }],
        )
        .await
        .unwrap();
    let backfill = storage.backfill("b1").await.unwrap().unwrap();
    assert_eq!(
        (backfill.status, backfill.ended_at),
        (BackfillStatus::Failed, Some(3))
    );
    assert_eq!(backfill.targets.len(), 2);
    assert_eq!(backfill.targets[0].ranges[0].last, "2013-01-31");
    storage
        .append(
            4,
            vec![Event::BackfillResumed {
                backfill_id: "b1".into(),
            }],
        )
        .await
        .unwrap();
    let backfill = storage.backfill("b1").await.unwrap().unwrap();
    assert_eq!(
        (backfill.status, backfill.ended_at),
        (BackfillStatus::Requested, None)
    );
    assert_eq!(storage.backfills(10).await.unwrap().len(), 1);
    assert!(storage.backfill("b2").await.unwrap().is_none());
}

pub(crate) async fn dynamic_partitions_keep_their_order(storage: &dyn Storage) {
    let add = |keys: &[&str]| Event::DynamicPartitionsAdded {
        name: "regions".into(),
        keys: keys.iter().map(|k| k.to_string()).collect(),
    };
    storage.append(1, vec![add(&["us", "eu"])]).await.unwrap();
    storage.append(2, vec![add(&["apac", "us"])]).await.unwrap();
    storage
        .append(
            3,
            vec![Event::DynamicPartitionsRemoved {
                name: "regions".into(),
                keys: vec!["eu".into(), "never-added".into()],
            }],
        )
        .await
        .unwrap();
    let sets = storage.dynamic_partitions().await.unwrap();
    assert_eq!(
        sets.keys("regions").unwrap(),
        ["us".to_string(), "apac".to_string()]
    );
    assert!(sets.keys("other").is_none());
}

pub(crate) async fn a_lease_has_one_holder_at_a_time(storage: &dyn Storage) {
    let lease = storage
        .acquire_lease("daemon", "a", 1_000, 30_000)
        .await
        .unwrap();
    assert_eq!((lease.holder.as_str(), lease.expires_at), ("a", 31_000));
    let refused = storage
        .acquire_lease("daemon", "b", 2_000, 30_000)
        .await
        .unwrap();
    assert_eq!(refused.holder, "a", "b cannot take a live lease");
    let renewed = storage
        .acquire_lease("daemon", "a", 20_000, 30_000)
        .await
        .unwrap();
    assert_eq!(renewed.expires_at, 50_000);
    let taken = storage
        .acquire_lease("daemon", "b", 50_000, 30_000)
        .await
        .unwrap();
    assert_eq!(taken.holder, "b", "an expired lease can be taken");
    storage.release_lease("daemon", "a").await.unwrap();
    assert_eq!(
        storage
            .acquire_lease("daemon", "a", 50_001, 30_000)
            .await
            .unwrap()
            .holder,
        "b",
        "releasing a lease you do not hold changes nothing"
    );
    storage.release_lease("daemon", "b").await.unwrap();
    assert_eq!(
        storage
            .acquire_lease("daemon", "a", 50_002, 30_000)
            .await
            .unwrap()
            .holder,
        "a"
    );
}

pub(crate) async fn concurrent_appends_all_land_once(storage: &dyn Storage) {
    let tasks = 8;
    let per_task = 25;
    futures_join(storage, tasks, per_task).await;
    let all = storage.events_after(0, 10_000).await.unwrap();
    assert_eq!(all.len(), tasks * per_task);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let keys: std::collections::BTreeSet<_> = all
        .iter()
        .map(|r| match &r.event {
            Event::DynamicPartitionsAdded { keys, .. } => keys[0].clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys.len(), tasks * per_task);
}

async fn futures_join(storage: &dyn Storage, tasks: usize, per_task: usize) {
    let work = (0..tasks).map(|t| async move {
        for i in 0..per_task {
            storage
                .append(
                    i as i64,
                    vec![Event::DynamicPartitionsAdded {
                        name: "set".into(),
                        keys: vec![format!("{t}-{i}")],
                    }],
                )
                .await
                .unwrap();
        }
    });
    futures::future::join_all(work).await;
}

pub(crate) async fn cancellation_is_a_flag_executors_poll(storage: &dyn Storage) {
    storage.append(1, vec![queued("r1")]).await.unwrap();
    assert!(!storage.cancel_requested("r1").await.unwrap());
    storage
        .append(
            2,
            vec![Event::RunCancelRequested {
                run_id: "r1".into(),
            }],
        )
        .await
        .unwrap();
    assert!(storage.cancel_requested("r1").await.unwrap());
    assert!(storage.run("r1").await.unwrap().unwrap().cancel_requested);
    assert!(!storage.cancel_requested("unknown").await.unwrap());
    let error = storage
        .append(
            3,
            vec![Event::RunCancelRequested {
                run_id: "unknown".into(),
            }],
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("never queued"), "{error}");
}

pub(crate) async fn skips_observations_and_check_results_read_back(storage: &dyn Storage) {
    let check = |partition: &str, name: &str, passed: bool| {
        Event::CheckEvaluation(CheckEvaluation {
            asset: key("flights/clean"),
            partition: Some(partition.into()),
            run_id: Some("r1".into()),
            check: name.into(),
            passed,
            severity: Severity::Error,
            blocking: name == "rows",
            metadata: BTreeMap::new(),
        })
    };
    let observation = |version: &str| {
        Event::Observation(Observation {
            asset: key("raw/landing"),
            partition: None,
            run_id: None,
            data_version: version.into(),
            metadata: BTreeMap::new(),
        })
    };
    storage
        .append(
            10,
            vec![
                queued("r1"),
                Event::StepSkipped {
                    run_id: "r1".into(),
                    asset: key("flights/daily"),
                    partition: Some("2013-01-02".into()),
                    reason: "flights/clean 2013-01-02 failed".into(),
                },
                observation("v1"),
                check("2013-01-02", "rows", false),
                check("2013-01-01", "rows", true),
            ],
        )
        .await
        .unwrap();
    storage
        .append(
            20,
            vec![observation("v2"), check("2013-01-02", "rows", true)],
        )
        .await
        .unwrap();

    let steps = storage.steps("r1").await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].status, StepStatus::Skipped);
    assert_eq!(
        steps[0].error.as_deref(),
        Some("flights/clean 2013-01-02 failed")
    );
    let status = storage
        .partition_status(
            &key("flights/daily"),
            &daily("2013-01-01").keyspace(NOW, &NoDynamicPartitions),
        )
        .await
        .unwrap();
    assert!(status.failed.is_empty() && status.in_progress.is_empty());

    let observations = storage.observations(&key("raw/landing")).await.unwrap();
    assert_eq!(observations.len(), 1, "the latest observation only");
    assert_eq!(observations[0].data_version, "v2");
    assert_eq!(observations[0].timestamp, 20);
    assert_eq!(observations[0].partition, None);

    let results = storage.check_results(&key("flights/clean")).await.unwrap();
    let summary: Vec<(Option<&str>, bool, bool, i64)> = results
        .iter()
        .map(|r| (r.partition.as_deref(), r.passed, r.blocking, r.timestamp))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("2013-01-01"), true, true, 10),
            (Some("2013-01-02"), true, true, 20),
        ]
    );
    assert!(
        storage
            .check_results(&key("raw/none"))
            .await
            .unwrap()
            .is_empty()
    );

    // An unpartitioned asset's status is a keyspace of one.
    let never = storage
        .unpartitioned_status(&key("dims/none"))
        .await
        .unwrap();
    assert_eq!((never.total, never.missing().count()), (1, 1));
    storage
        .append(30, vec![materialized("dims/one", None, "m9")])
        .await
        .unwrap();
    let once = storage
        .unpartitioned_status(&key("dims/one"))
        .await
        .unwrap();
    assert_eq!((once.materialized.count(), once.missing().count()), (1, 0));
}

pub(crate) async fn a_tick_stores_its_state_and_explanations_together(storage: &dyn Storage) {
    use strata_storage::records::NewTick;
    assert_eq!(storage.automation_state().await.unwrap(), None);
    let tick = |now: i64, cursor: i64, evaluations: Vec<(AssetKey, String)>| NewTick {
        now,
        started_at: now,
        duration_ms: 3,
        cursor,
        evaluated: evaluations.len() as u64,
        skipped: 0,
        requested: "[]".into(),
        runs: "[]".into(),
        launched: true,
        evaluations,
        state: format!("{{\"at\": {now}}}"),
    };
    let first = storage
        .record_tick(tick(
            1_000,
            7,
            vec![(key("a/x"), "x1".into()), (key("a/y"), "y1".into())],
        ))
        .await
        .unwrap();
    let second = storage
        .record_tick(tick(2_000, 9, vec![(key("a/x"), "x2".into())]))
        .await
        .unwrap();
    assert!(second > first);
    let state = storage.automation_state().await.unwrap().unwrap();
    assert_eq!(
        (state.tick, state.cursor, state.state.as_str()),
        (second, 9, "{\"at\": 2000}")
    );

    // An asset not evaluated at a tick keeps the explanation of the tick that last did.
    let y = storage
        .evaluation(&key("a/y"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (y.tick, y.now, y.explanation.as_str()),
        (first, 1_000, "y1")
    );
    let x = storage
        .evaluation(&key("a/x"), Some(first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(x.explanation, "x1");
    let x = storage
        .evaluation(&key("a/x"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(x.explanation, "x2");
    assert_eq!(storage.evaluation(&key("a/z"), None).await.unwrap(), None);

    let ticks = storage.ticks(10).await.unwrap();
    assert_eq!(
        ticks.iter().map(|t| t.tick).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(ticks[0].evaluated, 1);
}

pub(crate) async fn freshness_changes_keep_the_current_state(storage: &dyn Storage) {
    let change = |state: &str, previous: &str| Event::FreshnessChanged {
        asset: key("a/x"),
        state: state.into(),
        previous: previous.into(),
        reason: format!("now {state}"),
    };
    storage
        .append(1_000, vec![change("warn", "fresh")])
        .await
        .unwrap();
    storage
        .append(5_000, vec![change("fail", "warn")])
        .await
        .unwrap();
    let states = storage.freshness_states().await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!((states[0].state.as_str(), states[0].since), ("fail", 5_000));
    assert_eq!(states[0].reason, "now fail");
}

pub(crate) async fn the_last_event_id_and_run_pages_follow_the_log(storage: &dyn Storage) {
    assert_eq!(storage.last_event_id().await.unwrap(), 0);
    let ids = storage
        .append(1, vec![queued("r1"), queued("r2"), queued("r3")])
        .await
        .unwrap();
    assert_eq!(storage.last_event_id().await.unwrap(), *ids.last().unwrap());
    let page = |before: Option<&str>| RunFilter {
        before: before.map(str::to_string),
        limit: Some(2),
        ..RunFilter::default()
    };
    let ids_of = |runs: Vec<strata_storage::records::RunRecord>| {
        runs.into_iter().map(|r| r.run_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids_of(storage.runs(&page(None)).await.unwrap()),
        ["r3", "r2"]
    );
    assert_eq!(
        ids_of(storage.runs(&page(Some("r2"))).await.unwrap()),
        ["r1"]
    );
    assert!(storage.runs(&page(Some("r1"))).await.unwrap().is_empty());
}

fn step_cost(run_id: &str, asset: &str, partition: &str, succeeded: bool, total: f64) -> Event {
    Event::StepCost(StepCost {
        run_id: run_id.into(),
        asset: key(asset),
        partition: Some(partition.into()),
        attempt: 1,
        succeeded,
        usage: Usage {
            wall_seconds: 1.5,
            cpu_seconds: 1.0,
            peak_memory_bytes: Some(4096),
            bytes_written: 100,
            units: BTreeMap::from([("credits".to_string(), 0.5)]),
            ..Usage::default()
        },
        amounts: Amounts {
            compute: total,
            ..Amounts::default()
        },
        currency: "USD".into(),
    })
}

pub(crate) async fn step_costs_and_held_bytes_read_back_for_reports(storage: &dyn Storage) {
    storage.append(500, vec![queued("r1")]).await.unwrap();
    storage
        .append(
            1_000,
            vec![
                step_cost("r1", "a/x", "p1", true, 2.0),
                materialized("a/x", Some("p1"), "m1"),
            ],
        )
        .await
        .unwrap();
    storage
        .append(2_000, vec![step_cost("r1", "a/x", "p2", false, 1.0)])
        .await
        .unwrap();
    storage
        .append(
            5_000,
            vec![
                step_cost("r1", "a/x", "p1", true, 4.0),
                materialized("a/x", Some("p1"), "m2"),
            ],
        )
        .await
        .unwrap();
    let all = storage.step_costs(0, 10_000).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        (all[0].at, all[0].partition.as_deref(), all[0].succeeded),
        (1_000, Some("p1"), true)
    );
    assert_eq!(all[0].usage.peak_memory_bytes, Some(4096));
    assert_eq!(all[0].usage.units["credits"], 0.5);
    assert_eq!(all[1].amounts.compute, 1.0);
    assert!(!all[1].succeeded);
    // The window is [since, until).
    assert_eq!(storage.step_costs(1_000, 5_000).await.unwrap().len(), 2);
    assert_eq!(storage.step_costs(1_001, 5_001).await.unwrap().len(), 2);
    // History and the latest cost count successful steps only.
    let history = storage.cost_history().await.unwrap();
    assert_eq!(history[&key("a/x")].partitions, 2);
    assert_eq!(history[&key("a/x")].total, 6.0);
    let latest = storage.latest_step_costs().await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].at, latest[0].amounts.compute), (5_000, 4.0));
    // m1 was current from 1 000 until m2 replaced it at 5 000; m2 since.
    let held = storage.held_bytes(0, 10_000).await.unwrap();
    let spans: Vec<(i64, Option<i64>, u64)> =
        held.iter().map(|h| (h.from, h.until, h.bytes)).collect();
    assert_eq!(spans, vec![(1_000, Some(5_000), 100), (5_000, None, 100)]);
    // A window after m1 was replaced, or before anything was written, leaves it out.
    assert_eq!(storage.held_bytes(6_000, 7_000).await.unwrap().len(), 1);
    assert!(storage.held_bytes(0, 1_000).await.unwrap().is_empty());
}

fn firing(rule: &str, subject: &str) -> AlertFiring {
    AlertFiring {
        rule: rule.into(),
        subject: subject.into(),
        message: format!("{subject} is bad"),
        partitions: vec!["p1".into()],
        values: BTreeMap::from([("cost".to_string(), serde_json::json!(3.5))]),
        channels: vec!["hook".into(), "chat".into()],
    }
}

fn delivery(
    alert: i64,
    channel: &str,
    attempt: u32,
    delivered: bool,
    retry_at: Option<i64>,
) -> Event {
    Event::AlertDelivery(AlertDelivery {
        alert_event: alert,
        channel: channel.into(),
        attempt,
        delivered,
        status: Some(if delivered { 200 } else { 500 }),
        error: (!delivered).then(|| "answered 500".to_string()),
        retry_at,
    })
}

pub(crate) async fn alerts_fire_and_resolve_and_deliveries_are_an_outbox(storage: &dyn Storage) {
    let fired = storage
        .append(1_000, vec![Event::AlertFired(firing("quality", "a/x"))])
        .await
        .unwrap()[0];
    let firing_now = storage.firing_alerts().await.unwrap();
    assert_eq!(firing_now.len(), 1);
    assert_eq!(
        (firing_now[0].event_id, firing_now[0].since),
        (fired, 1_000)
    );
    assert_eq!(firing_now[0].firing, firing("quality", "a/x"));
    // One pending delivery per channel, recorded with the firing.
    let due = storage.pending_deliveries().await.unwrap();
    let channels: Vec<&str> = due.iter().map(|d| d.channel.as_str()).collect();
    assert_eq!(channels, ["chat", "hook"]);
    assert!(due.iter().all(|d| d.attempts == 0 && d.alert.fired));

    storage
        .append(1_100, vec![delivery(fired, "hook", 1, true, None)])
        .await
        .unwrap();
    storage
        .append(1_100, vec![delivery(fired, "chat", 1, false, Some(3_100))])
        .await
        .unwrap();
    let due = storage.pending_deliveries().await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].channel.as_str(), due[0].attempts), ("chat", 1));
    storage
        .append(3_100, vec![delivery(fired, "chat", 2, false, None)])
        .await
        .unwrap();
    assert!(storage.pending_deliveries().await.unwrap().is_empty());

    let resolved = storage
        .append(9_000, vec![Event::AlertResolved(firing("quality", "a/x"))])
        .await
        .unwrap()[0];
    assert!(storage.firing_alerts().await.unwrap().is_empty());
    assert_eq!(storage.pending_deliveries().await.unwrap().len(), 2);

    let history = storage.alert_history(None, 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].event_id, history[0].fired), (resolved, false));
    assert_eq!(history[1].event_id, fired);
    let deliveries: Vec<(&str, &str, u32, Option<u16>)> = history[1]
        .deliveries
        .iter()
        .map(|d| {
            (
                d.channel.as_str(),
                d.status.as_str(),
                d.attempts,
                d.http_status,
            )
        })
        .collect();
    assert_eq!(
        deliveries,
        vec![
            ("chat", "failed", 2, Some(500)),
            ("hook", "delivered", 1, Some(200))
        ]
    );
    assert_eq!(storage.alert_history(None, 1).await.unwrap().len(), 1);
    assert!(
        storage
            .alert_history(Some("other"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        storage
            .alert_history(Some("quality"), 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // Rules stored through the API: saved, replaced, deleted.
    let rule = |over: f64| serde_json::json!({"name": "budget", "when": {"cost": {"over": over}}});
    for over in [1.0, 2.0] {
        storage
            .append(
                10_000,
                vec![Event::AlertRuleSaved {
                    name: "budget".into(),
                    rule: rule(over),
                }],
            )
            .await
            .unwrap();
    }
    assert_eq!(
        storage.alert_rules().await.unwrap(),
        vec![("budget".to_string(), rule(2.0))]
    );
    storage
        .append(
            11_000,
            vec![Event::AlertRuleDeleted {
                name: "budget".into(),
            }],
        )
        .await
        .unwrap();
    assert!(storage.alert_rules().await.unwrap().is_empty());
}

pub(crate) async fn failing_checks_and_failed_partitions_follow_the_latest_result(
    storage: &dyn Storage,
) {
    let check = |passed: bool| {
        Event::CheckEvaluation(CheckEvaluation {
            asset: key("a/x"),
            partition: Some("p1".into()),
            run_id: None,
            check: "not_null".into(),
            passed,
            severity: Severity::Warn,
            blocking: false,
            metadata: BTreeMap::new(),
        })
    };
    storage.append(1_000, vec![check(false)]).await.unwrap();
    assert_eq!(
        storage.failing_checks().await.unwrap(),
        vec![(
            key("a/x"),
            Some("p1".to_string()),
            "not_null".to_string(),
            Severity::Warn
        )]
    );
    storage.append(2_000, vec![check(true)]).await.unwrap();
    assert!(storage.failing_checks().await.unwrap().is_empty());

    storage
        .append(
            3_000,
            vec![
                queued("r1"),
                step_started("r1", "a/y", None),
                Event::StepFailed {
                    run_id: "r1".into(),
                    asset: key("a/y"),
                    partition: None,
                    attempt: 1,
                    error: "boom".into(),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        storage.failed_partitions().await.unwrap(),
        vec![(key("a/y"), None, Some("r1".to_string()))]
    );
    storage
        .append(4_000, vec![materialized("a/y", None, "m1")])
        .await
        .unwrap();
    assert!(storage.failed_partitions().await.unwrap().is_empty());
}
