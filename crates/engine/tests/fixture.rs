//! A repository instance on local disk (SQLite + Parquet under a temporary folder), partitions
//! of recognizable content, and the invariants every crash must leave intact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use strata_core::key::AssetKey;
use strata_core::model::{IoManagerConfig, IoManagerKind, Location};
use strata_engine::commit::{CommitRequest, Committed, commit_partition, stored_partition};
use strata_engine::gc::{GcOptions, collect_garbage};
use strata_io_managers::registry::IoManagerRegistry;
use strata_io_managers::{IoManager, StoredPartition};
use strata_storage::event::{Event, Millis};
use strata_storage::{SqliteStorage, Storage};

/// The asset every test writes.
pub(crate) fn asset() -> AssetKey {
    AssetKey::parse("flights/clean").unwrap()
}

/// Rows per partition write.
pub(crate) const ROWS: usize = 2_000;

/// One repository's instance on local disk.
pub(crate) struct Fixture {
    pub(crate) storage: SqliteStorage,
    pub(crate) io: Arc<dyn IoManager>,
    pub(crate) registry: IoManagerRegistry,
}

impl Fixture {
    /// Opens (creating or recovering) the instance under `root`.
    pub(crate) fn open(root: &Path) -> Self {
        let storage = SqliteStorage::open(&root.join(".strata/strata.db")).unwrap();
        let config = IoManagerConfig {
            kind: IoManagerKind::Parquet,
            url: Location::Relative(".strata/data".into()),
            endpoint: None,
            region: None,
            allow_http: false,
        };
        let io = strata_io_managers::config::from_config(&config, root).unwrap();
        let mut registry = IoManagerRegistry::new();
        registry.register("default", io.clone());
        Self {
            storage,
            io,
            registry,
        }
    }

    /// Writes and commits generation `generation` of `partition`: every row carries the
    /// partition key and the generation, so a read can tell which write its rows came from.
    pub(crate) async fn commit(&self, partition: &str, generation: i64) -> Committed {
        let request = CommitRequest {
            asset: asset(),
            partition: Some(partition.to_string()),
            run_id: None,
            io_manager: "default".into(),
            code_version: "v1".into(),
            data_version: format!("{partition}@{generation}"),
            metadata: BTreeMap::from([("generation".into(), serde_json::json!(generation))]),
            inputs: Vec::new(),
        };
        commit_partition(
            &self.storage,
            self.io.as_ref(),
            request,
            batches(partition, generation),
            now(),
        )
        .await
        .unwrap()
    }

    /// Collects garbage with no grace period.
    pub(crate) async fn collect(&self) {
        collect_garbage(
            &self.storage,
            &self.registry,
            now() + 1_000,
            GcOptions {
                grace_ms: 0,
                dry_run: false,
            },
        )
        .await
        .unwrap();
    }

    /// The generation each partition's current materialization holds, read through the index
    /// and the IO manager as a reader would, after checking its rows all come from that write.
    pub(crate) async fn current_generations(&self) -> BTreeMap<String, i64> {
        let current = self
            .storage
            .current_materializations(&asset(), None)
            .await
            .unwrap();
        let mut generations = BTreeMap::new();
        for m in current {
            let key = m.partition.clone().unwrap();
            let expected: i64 = m.data_version.rsplit_once('@').unwrap().1.parse().unwrap();
            let partition = stored_partition(Some(key.clone()), &m.files);
            let (rows, min, max, keys) = read_summary(self.io.as_ref(), partition).await;
            assert_eq!(
                (rows, min, max, keys),
                (ROWS as i64, expected, expected, 1),
                "partition {key}: its files hold exactly the rows of its committed write"
            );
            generations.insert(key, expected);
        }
        generations
    }

    /// Every object under the IO manager's root.
    pub(crate) async fn stored_paths(&self) -> BTreeSet<String> {
        self.io
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .collect()
    }

    /// The files of the current materializations.
    pub(crate) async fn current_paths(&self) -> BTreeSet<String> {
        self.storage
            .current_materializations(&asset(), None)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|m| m.files.into_iter().map(|f| f.path))
            .collect()
    }

    /// Every Materialization event in the log, in order: (materialization id, partition).
    pub(crate) async fn logged_materializations(&self) -> Vec<(String, String)> {
        self.storage
            .events_after(0, u32::MAX)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.event {
                Event::Materialization(m) => Some((m.materialization_id, m.partition.unwrap())),
                _ => None,
            })
            .collect()
    }

    /// The invariants a crash must never break, given the commits the killed process reported
    /// as done (`(partition, materialization id)`):
    ///
    /// - every reported commit is in the log, exactly once; no materialization is logged twice;
    /// - each partition's current materialization is its last one in the log, and its files
    ///   hold exactly that write's rows;
    /// - after collection with no grace period, the store holds exactly the current files.
    pub(crate) async fn check_invariants(&self, reported: &[(String, String)]) {
        let logged = self.logged_materializations().await;
        let ids: BTreeSet<&String> = logged.iter().map(|(id, _)| id).collect();
        assert_eq!(
            ids.len(),
            logged.len(),
            "a materialization was logged twice"
        );
        for (partition, id) in reported {
            assert!(
                logged.contains(&(id.clone(), partition.clone())),
                "reported commit {partition}/{id} is not in the log"
            );
        }
        let mut last: BTreeMap<&String, &String> = BTreeMap::new();
        for (id, partition) in &logged {
            last.insert(partition, id);
        }
        let current = self
            .storage
            .current_materializations(&asset(), None)
            .await
            .unwrap();
        assert_eq!(current.len(), last.len());
        for m in &current {
            assert_eq!(
                Some(&&m.materialization_id),
                last.get(m.partition.as_ref().unwrap()),
                "the index names the log's last materialization of {:?}",
                m.partition
            );
        }
        self.current_generations().await;
        self.collect().await;
        assert_eq!(
            self.stored_paths().await,
            self.current_paths().await,
            "after collection the store holds exactly the current files"
        );
        self.current_generations().await;
    }
}

/// A clock for tests: real time, since orphans are aged by the store's own timestamps.
pub(crate) fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as Millis
}

/// `ROWS` rows of (`key`, `generation`, `value`) in two batches.
pub(crate) fn batches(partition: &str, generation: i64) -> SendableRecordBatchStream {
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("generation", DataType::Int64, false),
        Field::new("value", DataType::Int64, true),
    ]));
    let batch = |range: std::ops::Range<usize>| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![partition; range.len()])),
                Arc::new(Int64Array::from(vec![generation; range.len()])),
                Arc::new(Int64Array::from_iter(
                    range.map(|i| (i % 7 != 0).then_some(i as i64)),
                )),
            ],
        )
    };
    let batches = vec![batch(0..ROWS / 2), batch(ROWS / 2..ROWS)];
    Box::pin(RecordBatchStreamAdapter::new(
        schema.clone(),
        futures::stream::iter(batches.into_iter().map(|b| b.map_err(Into::into))),
    ))
}

/// (rows, min generation, max generation, distinct keys) of one stored partition, through the
/// IO manager's DataFusion table.
async fn read_summary(io: &dyn IoManager, partition: StoredPartition) -> (i64, i64, i64, i64) {
    let ctx = SessionContext::new();
    ctx.register_table("t", io.table(&[partition]).await.unwrap())
        .unwrap();
    let batches = ctx
        .sql("SELECT count(*), min(generation), max(generation), count(DISTINCT partition_key) FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let column = |i: usize| {
        batches[0]
            .column(i)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0)
    };
    (column(0), column(1), column(2), column(3))
}
