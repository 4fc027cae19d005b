//! The conformance suite: one async function per promise of the `IoManager` contract, run by
//! `conformance.rs` against every backend and stored format.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::TableProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use strata_core::key::AssetKey;
use strata_io_managers::{
    FileFormat, IoError, IoManagerExt, PartitionLocation, StoredPartition, WrittenPartition,
};

use crate::backends::Backend;

// ---------------------------------------------------------------------------------------------
// Helpers

fn asset() -> AssetKey {
    AssetKey::parse("flights/clean").unwrap()
}

fn location(key: Option<&str>, materialization: &str) -> PartitionLocation {
    PartitionLocation::new(&asset(), key, materialization).unwrap()
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("small", DataType::Int32, true),
        Field::new("price", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("name", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("day", DataType::Date32, true),
    ]))
}

/// `rows` rows starting at id `first`; every third value of the nullable columns is null.
fn sample(first: i64, rows: usize) -> RecordBatch {
    let ids: Vec<i64> = (first..first + rows as i64).collect();
    let null = |id: &i64| id % 3 == 0;
    let names = ["JFK", "a,b", "quote\"d", "日本", "line\nbreak"];
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(Int32Array::from_iter(
                ids.iter().map(|id| (!null(id)).then_some(*id as i32 - 7)),
            )),
            Arc::new(Float64Array::from_iter(
                ids.iter()
                    .map(|id| (!null(id)).then_some(*id as f64 * 0.25 - 3.5)),
            )),
            Arc::new(BooleanArray::from_iter(
                ids.iter().map(|id| (!null(id)).then_some(id % 2 == 0)),
            )),
            Arc::new(StringArray::from_iter(ids.iter().map(|id| {
                (!null(id)).then_some(names[*id as usize % names.len()])
            }))),
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    ids.iter().map(|id| {
                        (!null(id)).then_some(1_357_016_400_000_000 + id * 3_600_000_001)
                    }),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Date32Array::from_iter(
                ids.iter()
                    .map(|id| (!null(id)).then_some(15_706 + *id as i32)),
            )),
        ],
    )
    .unwrap()
}

fn stream(schema: SchemaRef, batches: Vec<RecordBatch>) -> SendableRecordBatchStream {
    let batches = batches.into_iter().map(Ok);
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter(batches),
    ))
}

async fn write(
    backend: &Backend,
    key: Option<&str>,
    materialization: &str,
    batches: Vec<RecordBatch>,
) -> WrittenPartition {
    backend
        .manager
        .write(&location(key, materialization), stream(schema(), batches))
        .await
        .unwrap()
}

fn stored(key: Option<&str>, written: &WrittenPartition) -> StoredPartition {
    StoredPartition {
        key: key.map(str::to_string),
        files: written.files.clone(),
    }
}

async fn query(table: Arc<dyn TableProvider>, sql: &str) -> Vec<RecordBatch> {
    let ctx = SessionContext::new();
    ctx.register_table("t", table).unwrap();
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

fn one_batch(batches: &[RecordBatch]) -> RecordBatch {
    concat_batches(&batches[0].schema(), batches).unwrap()
}

fn pretty(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches).unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// Promises

/// Round trip: values, types and nullability come back unchanged through `table`.
pub(crate) async fn round_trip(backend: Backend) {
    let batches = vec![sample(0, 40), sample(40, 25)];
    let written = write(&backend, None, "m1", batches.clone()).await;
    assert_eq!(written.rows, 65);
    assert_eq!(written.schema, schema());
    assert_eq!(written.files.len(), 1);
    let file = &written.files[0];
    let extension = backend.manager.stored_format().extension();
    assert_eq!(file.path, format!("flights/clean/_/m1.{extension}"));
    assert_eq!(written.bytes, file.bytes);

    let table = backend
        .manager
        .table(&[stored(None, &written)])
        .await
        .unwrap();
    assert_eq!(
        table.schema(),
        schema(),
        "no partition_key column when unpartitioned"
    );
    let read = one_batch(&query(table, "SELECT * FROM t ORDER BY id").await);
    assert_eq!(read, one_batch(&batches));
}

/// An empty stream writes a readable partition with zero rows and the stream's schema.
pub(crate) async fn empty_partition(backend: Backend) {
    let written = write(&backend, Some("2013-01-01"), "m1", vec![]).await;
    assert_eq!(written.rows, 0);
    assert!(
        written.bytes > 0,
        "even an empty file has a header and footer"
    );
    let table = backend
        .manager
        .table(&[stored(Some("2013-01-01"), &written)])
        .await
        .unwrap();
    assert_eq!(table.schema().fields().len(), schema().fields().len() + 1);
    let counted = query(table, "SELECT count(*) AS n FROM t").await;
    assert!(pretty(&counted).contains("| 0 |"), "{}", pretty(&counted));
}

/// Several partitions as one table with a `partition_key` column; SQL filters on it and
/// projections work, and a filter on the key skips the other partitions' files.
pub(crate) async fn multi_partition_table(backend: Backend) {
    let keys = ["2013-01-01", "2013-01-02", "2013-01-03"];
    let mut partitions = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let written = write(
            &backend,
            Some(key),
            "m1",
            vec![sample(i as i64 * 100, 10 + i)],
        )
        .await;
        partitions.push(stored(Some(key), &written));
    }
    let table = backend.manager.table(&partitions).await.unwrap();
    let field = table
        .schema()
        .field_with_name("partition_key")
        .unwrap()
        .clone();
    assert_eq!(field.data_type(), &DataType::Utf8);
    assert!(!field.is_nullable());

    let counts = query(
        table.clone(),
        "SELECT partition_key, count(*) AS n FROM t GROUP BY partition_key ORDER BY partition_key",
    )
    .await;
    assert_eq!(
        pretty(&counts),
        "+---------------+----+\n\
         | partition_key | n  |\n\
         +---------------+----+\n\
         | 2013-01-01    | 10 |\n\
         | 2013-01-02    | 11 |\n\
         | 2013-01-03    | 12 |\n\
         +---------------+----+"
    );
    let filtered = query(
        table.clone(),
        "SELECT id, partition_key FROM t WHERE partition_key = '2013-01-02' AND id < 103 \
         ORDER BY id",
    )
    .await;
    assert_eq!(
        pretty(&filtered),
        "+-----+---------------+\n\
         | id  | partition_key |\n\
         +-----+---------------+\n\
         | 100 | 2013-01-02    |\n\
         | 101 | 2013-01-02    |\n\
         | 102 | 2013-01-02    |\n\
         +-----+---------------+"
    );

    // Pruning by key: with the first partition's file gone, reading the others still works,
    // because its file is never opened.
    backend
        .manager
        .delete(&[partitions[0].files[0].path.clone()])
        .await
        .unwrap();
    let rest = query(
        table,
        "SELECT count(*) AS n FROM t WHERE partition_key IN ('2013-01-02', '2013-01-03')",
    )
    .await;
    assert!(pretty(&rest).contains("| 23 |"), "{}", pretty(&rest));
}

/// Readers read exactly the files given: a later materialization of the same partition
/// under the same asset is not picked up by a table over the earlier one, and vice versa.
pub(crate) async fn table_reads_only_given_files(backend: Backend) {
    let first = write(&backend, Some("a"), "m1", vec![sample(0, 5)]).await;
    let second = write(&backend, Some("a"), "m2", vec![sample(1_000, 7)]).await;
    let table = backend
        .manager
        .table(&[stored(Some("a"), &first)])
        .await
        .unwrap();
    let ids = query(table, "SELECT min(id) AS lo, count(*) AS n FROM t").await;
    assert!(pretty(&ids).contains("| 0  | 5 |"), "{}", pretty(&ids));
    let table = backend
        .manager
        .table(&[stored(Some("a"), &second)])
        .await
        .unwrap();
    let ids = query(table, "SELECT min(id) AS lo, count(*) AS n FROM t").await;
    assert!(pretty(&ids).contains("| 1000 | 7 |"), "{}", pretty(&ids));
}

/// Partitions whose schemas differ give a precise error; zero files give a precise error.
pub(crate) async fn table_errors_are_precise(backend: Backend) {
    let first = write(&backend, Some("a"), "m1", vec![sample(0, 3)]).await;
    let other_schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
    let other = RecordBatch::try_new(
        other_schema.clone(),
        vec![Arc::new(StringArray::from(vec!["x"]))],
    )
    .unwrap();
    let second = backend
        .manager
        .write(
            &location(Some("b"), "m1"),
            stream(other_schema, vec![other]),
        )
        .await
        .unwrap();
    let error = backend
        .manager
        .table(&[stored(Some("a"), &first), stored(Some("b"), &second)])
        .await
        .unwrap_err();
    let extension = backend.manager.stored_format().extension();
    assert_eq!(
        error.to_string(),
        format!(
            "partition `b` (`flights/clean/p=b/m1.{extension}`) does not match the \
             schema of the first partition: 1 columns (id Utf8) where the first partition has 7 \
             (id Int64, small Int32, price Float64, flag Boolean, name Utf8, \
             at Timestamp(µs, \"UTC\"), day Date32)"
        )
    );

    let error = backend.manager.table(&[]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "no files to read from {}: a table needs at least one materialized partition, \
             whose files give its schema",
            backend.manager.url()
        )
    );
    let error = backend
        .manager
        .table(&[StoredPartition {
            key: Some("a".into()),
            files: vec![strata_io_managers::StoredFile {
                path: "flights/../../etc/passwd".into(),
                bytes: 10,
            }],
        }])
        .await
        .unwrap_err();
    assert!(matches!(error, IoError::InvalidPath { .. }), "{error}");
}

/// Every format `fetch` offers is readable back with the same rows.
pub(crate) async fn fetch_in_every_format(backend: Backend) {
    let batches = vec![sample(0, 30), sample(30, 20)];
    let expected = one_batch(&batches);
    let written = write(&backend, Some("2013-01-01"), "m1", batches).await;
    let partitions = [stored(Some("2013-01-01"), &written)];
    for format in [
        FileFormat::Parquet,
        FileFormat::ArrowIpc,
        FileFormat::Csv,
        FileFormat::Ndjson,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let fetched = backend
            .manager
            .fetch(&partitions, format, dir.path())
            .await
            .unwrap();
        assert_eq!(fetched.len(), 1);
        assert_eq!(fetched[0].key.as_deref(), Some("2013-01-01"));
        assert_eq!(fetched[0].files.len(), 1);
        let file = &fetched[0].files[0];
        let same_format_on_disk =
            format == backend.manager.stored_format() && backend.local_root().is_some();
        if same_format_on_disk {
            // No copy: the stored file itself.
            let root = std::fs::canonicalize(backend.local_root().unwrap()).unwrap();
            assert!(file.starts_with(&root), "{}", file.display());
        } else {
            assert_eq!(
                file,
                &dir.path()
                    .join("p=2013-01-01")
                    .join(format!("part-00000.{}", format.extension()))
            );
        }
        if format == FileFormat::Csv {
            let text = std::fs::read_to_string(file).unwrap();
            let lines: Vec<&str> = text.lines().take(3).collect();
            assert_eq!(
                lines,
                [
                    "id,small,price,flag,name,at,day",
                    "0,,,,,,",
                    "1,-6,-3.25,false,\"a,b\",2013-01-01T06:00:00.000001Z,2013-01-02",
                ]
            );
        }
        let read = read_local(file, format);
        assert_eq!(read.num_rows(), expected.num_rows(), "{format:?}");
        assert_eq!(read.columns(), expected.columns(), "{format:?}");
    }
}

/// An empty partition fetched as CSV still has its header row.
pub(crate) async fn fetch_empty_partition_as_csv(backend: Backend) {
    let written = write(&backend, None, "m1", vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let fetched = backend
        .manager
        .fetch(&[stored(None, &written)], FileFormat::Csv, dir.path())
        .await
        .unwrap();
    let file = &fetched[0].files[0];
    assert_eq!(file, &dir.path().join("_").join("part-00000.csv"));
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        "id,small,price,flag,name,at,day\n"
    );
}

fn read_local(path: &Path, format: FileFormat) -> RecordBatch {
    let file = File::open(path).unwrap();
    let batches: Vec<RecordBatch> = match format {
        FileFormat::Parquet => {
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap()
                .collect::<Result<_, ArrowError>>()
                .unwrap()
        }
        FileFormat::ArrowIpc => datafusion::arrow::ipc::reader::FileReader::try_new(file, None)
            .unwrap()
            .collect::<Result<_, ArrowError>>()
            .unwrap(),
        FileFormat::Csv => datafusion::arrow::csv::ReaderBuilder::new(schema())
            .with_header(true)
            .build(file)
            .unwrap()
            .collect::<Result<_, ArrowError>>()
            .unwrap(),
        FileFormat::Ndjson => {
            // Every line is one JSON object holding every column.
            let text = std::fs::read_to_string(path).unwrap();
            for line in text.lines() {
                let object: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(object.as_object().unwrap().len(), schema().fields().len());
            }
            datafusion::arrow::json::ReaderBuilder::new(schema())
                .build(std::io::BufReader::new(file))
                .unwrap()
                .collect::<Result<_, ArrowError>>()
                .unwrap()
        }
    };
    concat_batches(&schema(), &batches).unwrap()
}

/// Deleting is idempotent, and what is deleted no longer lists.
pub(crate) async fn delete_is_idempotent(backend: Backend) {
    let first = write(&backend, Some("a"), "m1", vec![sample(0, 5)]).await;
    let second = write(&backend, Some("b"), "m1", vec![sample(0, 5)]).await;
    let paths: Vec<String> = first.files.iter().map(|file| file.path.clone()).collect();
    backend.manager.delete(&paths).await.unwrap();
    backend.manager.delete(&paths).await.unwrap();
    backend
        .manager
        .delete(&["flights/clean/p=zzz/m9/part-00000.parquet".into()])
        .await
        .unwrap();
    let listed: Vec<String> = backend
        .manager
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|object| object.path)
        .collect();
    assert_eq!(listed, [second.files[0].path.clone()]);
    let error = backend
        .manager
        .delete(&["flights/../../outside".into()])
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid object path `flights/../../outside`: it must be relative to the root, with no \
         empty, `.` or `..` segment"
    );
    if let Some(root) = backend.local_root() {
        // Collected partitions leave no empty folders behind.
        assert!(!root.join("flights/clean/p=a").exists());
    }
}

/// `list` reports everything under the root with relative paths, sizes and times;
/// `storage_size` sums them.
pub(crate) async fn list_and_storage_size(backend: Backend) {
    assert!(backend.manager.list().await.unwrap().is_empty());
    assert_eq!(backend.manager.storage_size().await.unwrap(), 0);
    let a = write(&backend, Some("a"), "m1", vec![sample(0, 50)]).await;
    let b = write(&backend, None, "m2", vec![sample(0, 10)]).await;
    let listed = backend.manager.list().await.unwrap();
    let mut expected: Vec<(String, u64)> = [&a, &b]
        .iter()
        .map(|written| (written.files[0].path.clone(), written.files[0].bytes))
        .collect();
    expected.sort();
    let got: Vec<(String, u64)> = listed
        .iter()
        .map(|object| (object.path.clone(), object.bytes))
        .collect();
    assert_eq!(got, expected);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for object in &listed {
        assert!((object.last_modified - now).abs() < 300, "{object:?}");
    }
    assert_eq!(
        backend.manager.storage_size().await.unwrap(),
        a.bytes + b.bytes
    );
}

/// Malicious partition keys stay under the root, and come back unchanged as `partition_key`.
pub(crate) async fn malicious_keys_stay_under_the_root(backend: Backend) {
    let long = "k".repeat(1_000);
    let keys = [
        "..",
        ".",
        "/",
        "a/../../b",
        "%2e%2e",
        "%2F",
        "\0",
        "\\",
        "日本",
        "🦀",
        "=41",
        "A",
        "a b",
        &long,
    ];
    let mut partitions = Vec::new();
    for key in keys {
        let written = write(&backend, Some(key), "m1", vec![sample(0, 1)]).await;
        partitions.push(stored(Some(key), &written));
    }
    let listed = backend.manager.list().await.unwrap();
    assert_eq!(listed.len(), keys.len());
    let mut segments = BTreeSet::new();
    for object in &listed {
        let parts: Vec<&str> = object.path.split('/').collect();
        assert_eq!(parts.len(), 4, "{}", object.path);
        assert_eq!(&parts[..2], ["flights", "clean"]);
        assert!(parts[2].starts_with("p="));
        assert!(
            parts[2]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_=-".contains(&b)),
            "{}",
            object.path
        );
        segments.insert(parts[2].to_string());
    }
    assert_eq!(
        segments.len(),
        keys.len(),
        "distinct keys, distinct folders"
    );

    if let Some(outer) = &backend.outer {
        // Nothing beside the root folder.
        let entries: Vec<PathBuf> = std::fs::read_dir(outer)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(entries, [outer.join("root")]);
    }

    let table = backend.manager.table(&partitions).await.unwrap();
    let read = query(table, "SELECT partition_key FROM t").await;
    let read = one_batch(&read);
    let column = read
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let got: BTreeSet<&str> = column.iter().map(Option::unwrap).collect();
    let want: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(got, want);
}

/// Writes to distinct locations, at the same time, do not interfere.
pub(crate) async fn concurrent_writes_do_not_interfere(backend: Backend) {
    let manager = &backend.manager;
    let one = location(Some("a"), "m1");
    let two = location(Some("a"), "m2");
    let three = location(Some("b"), "m1");
    let (first, second, third) = tokio::join!(
        manager.write(
            &one,
            stream(schema(), vec![sample(0, 100), sample(100, 100)])
        ),
        manager.write(&two, stream(schema(), vec![sample(1_000, 30)])),
        manager.write(&three, stream(schema(), vec![sample(2_000, 7)])),
    );
    for (written, rows, first_id) in [(first, 200, 0), (second, 30, 1_000), (third, 7, 2_000)] {
        let written = written.unwrap();
        assert_eq!(written.rows, rows);
        let table = manager.table(&[stored(None, &written)]).await.unwrap();
        let read = one_batch(&query(table, "SELECT * FROM t ORDER BY id").await);
        assert_eq!(read, sample(first_id, rows as usize));
    }
}

/// A write whose input fails reports the input's error and leaves nothing readable behind.
pub(crate) async fn failed_input_fails_the_write(backend: Backend) {
    let batches = futures::stream::iter(vec![
        Ok(sample(0, 10)),
        Err(DataFusionError::Execution("the query failed".into())),
    ]);
    let input = Box::pin(RecordBatchStreamAdapter::new(schema(), batches));
    let error = backend
        .manager
        .write(&location(Some("a"), "m1"), input)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "producing the batches to write failed: Execution error: the query failed"
    );
    assert!(backend.manager.list().await.unwrap().is_empty());
}
