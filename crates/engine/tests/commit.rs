//! The commit protocol and the garbage collector, in process.

use std::collections::BTreeMap;

use strata_engine::commit::{CommitError, CommitRequest, commit_partition};
use strata_engine::gc::{GcOptions, collect_garbage};
use strata_storage::Storage;

use crate::fixture::{Fixture, asset, batches, now};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_visible_through_the_index_with_its_files_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::open(dir.path());
    let committed = fixture.commit("2013-01-01", 1).await;
    let m = &committed.materialization;
    assert_eq!(m.rows, 2_000);
    assert_eq!(m.files.len(), 1);
    assert!(
        m.files[0].path
            == format!(
                "flights/clean/p=2013-01-01/{}.parquet",
                m.materialization_id
            ),
        "{}",
        m.files[0].path
    );
    assert_eq!(m.bytes, m.files.iter().map(|f| f.bytes).sum::<u64>());
    let schema = m.metadata["schema"].as_array().unwrap();
    assert_eq!(schema[1]["name"], "generation");
    assert_eq!(
        fixture.current_generations().await,
        BTreeMap::from([("2013-01-01".into(), 1)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommitting_supersedes_and_old_files_go_only_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::open(dir.path());
    let first = fixture.commit("2013-01-01", 1).await;
    let second = fixture.commit("2013-01-01", 2).await;
    assert_ne!(
        first.materialization.materialization_id,
        second.materialization.materialization_id
    );
    assert_eq!(fixture.current_generations().await["2013-01-01"], 2);
    // Both writes are still stored: a reader of the first may still be scanning it.
    assert_eq!(fixture.stored_paths().await.len(), 2);

    let within_grace = GcOptions {
        grace_ms: 3_600_000,
        dry_run: false,
    };
    let report = collect_garbage(&fixture.storage, &fixture.registry, now(), within_grace)
        .await
        .unwrap();
    assert_eq!(report[0].superseded.files, 0);
    assert_eq!(fixture.stored_paths().await.len(), 2);

    let dry = GcOptions {
        grace_ms: 0,
        dry_run: true,
    };
    let report = collect_garbage(&fixture.storage, &fixture.registry, now() + 1, dry)
        .await
        .unwrap();
    assert_eq!(report[0].superseded.files, 1, "a dry run reports");
    assert_eq!(
        fixture.stored_paths().await.len(),
        2,
        "a dry run deletes nothing"
    );

    fixture.collect().await;
    assert_eq!(fixture.stored_paths().await, fixture.current_paths().await);
    assert_eq!(fixture.current_generations().await["2013-01-01"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_cannot_be_recorded_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::open(dir.path());
    fixture.commit("2013-01-01", 1).await;
    let request = CommitRequest {
        asset: asset(),
        partition: Some("2013-01-01".into()),
        run_id: Some("never-queued".into()),
        io_manager: "default".into(),
        code_version: "v1".into(),
        data_version: "2013-01-01@2".into(),
        metadata: BTreeMap::new(),
        inputs: Vec::new(),
    };
    let error = commit_partition(
        &fixture.storage,
        fixture.io.as_ref(),
        request,
        batches("2013-01-01", 2),
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, CommitError::Record { .. }), "{error}");
    assert!(error.to_string().contains("never-queued"), "{error}");
    assert_eq!(fixture.current_generations().await["2013-01-01"], 1);
    assert_eq!(fixture.stored_paths().await, fixture.current_paths().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_collected_but_young_ones_are_left_to_finish() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::open(dir.path());
    fixture.commit("2013-01-01", 1).await;
    // A write that staged its files and never committed.
    let location =
        strata_io_managers::PartitionLocation::new(&asset(), Some("2013-01-02"), "crashed")
            .unwrap();
    fixture
        .io
        .write(&location, batches("2013-01-02", 1))
        .await
        .unwrap();
    assert_eq!(fixture.stored_paths().await.len(), 2);

    let young = GcOptions {
        grace_ms: 3_600_000,
        dry_run: false,
    };
    let report = collect_garbage(&fixture.storage, &fixture.registry, now(), young)
        .await
        .unwrap();
    assert_eq!(
        report[0].orphans.files, 0,
        "it may be a write still in progress"
    );

    fixture.collect().await;
    assert_eq!(fixture.stored_paths().await, fixture.current_paths().await);
    let events = fixture.storage.events_after(0, 100).await.unwrap();
    assert!(
        matches!(&events.last().unwrap().event, strata_storage::event::Event::FilesDeleted { paths, .. } if paths.len() == 1),
        "the collection is recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_partition_keys_stay_under_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::open(dir.path());
    let long = "k".repeat(1_000);
    let keys = [
        "..",
        "../../etc",
        "a/b",
        "%2e%2e",
        "nul\0byte",
        long.as_str(),
        "日本/ü",
        "=41",
    ];
    for key in keys {
        fixture.commit(key, 1).await;
    }
    let generations = fixture.current_generations().await;
    assert_eq!(generations.len(), keys.len());
    let data = dir.path().join(".strata/data");
    for entry in walk(dir.path()) {
        assert!(
            entry.starts_with(&data) || entry.starts_with(dir.path().join(".strata")),
            "{} escaped the data root",
            entry.display()
        );
    }
    let stored = fixture.stored_paths().await;
    assert_eq!(stored.len(), keys.len());
    for path in stored {
        let segments: Vec<&str> = path.split('/').collect();
        assert_eq!(&segments[..2], ["flights", "clean"], "{path}");
        assert_eq!(segments.len(), 4, "{path}");
        assert!(
            segments
                .iter()
                .all(|s| !s.is_empty() && *s != "." && *s != ".."),
            "{path}"
        );
        assert!(segments[2].len() <= 130, "bounded: {path}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}
