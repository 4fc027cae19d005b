//! IO manager benchmarks. Run: `cargo bench -p strata-io-managers --bench io`.
//!
//! (a) Parquet through the IO manager (local disk) against the `parquet` crate's `ArrowWriter`
//!     alone, writing the same in-memory batches (nycflights13 `flights`, repeated) to a local
//!     file with the same writer properties. Median of 3 runs after one warm-up.
//! (b) Writing and reading back one partition (one copy of `flights`), local disk against S3
//!     on a loopback `moto_server` (skipped, saying so, when moto is not installed).
//!
//! `STRATA_FLIGHTS_CSV` overrides the data file (default: the repository's
//! `data/nycflights13/flights.csv.gz`); `STRATA_BENCH_COPIES` the number of copies in (a).

#[path = "../tests/moto.rs"]
#[allow(dead_code)]
mod moto;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::ReaderBuilder;
use datafusion::arrow::csv::reader::Format;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use flate2::read::GzDecoder;
use object_store::aws::AmazonS3Builder;
use parquet::arrow::ArrowWriter;
use regex::Regex;
use strata_core::key::AssetKey;
use strata_core::model::{IoManagerConfig, IoManagerKind, Location};
use strata_io_managers::config::from_config_with_s3;
use strata_io_managers::object::{ObjectStoreIoManager, parquet_writer_properties};
use strata_io_managers::{IoManager, PartitionLocation, StoredPartition};

const MB: f64 = 1_000_000.0;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (schema, flights) = load_flights();
    let rows: usize = flights.iter().map(RecordBatch::num_rows).sum();
    println!("flights: {rows} rows, {} columns", schema.fields().len());

    let copies: usize = std::env::var("STRATA_BENCH_COPIES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    let batches: Vec<RecordBatch> = (0..copies).flat_map(|_| flights.iter().cloned()).collect();
    let total_rows = rows * copies;
    let scratch = tempfile::tempdir().unwrap();

    // (a) The parquet crate alone, then the IO manager, on the same batches.
    let baseline_path = scratch.path().join("baseline.parquet");
    let (baseline_s, baseline_bytes) = median(|| {
        let start = Instant::now();
        let out = BufWriter::new(File::create(&baseline_path).unwrap());
        let mut writer =
            ArrowWriter::try_new(out, schema.clone(), Some(parquet_writer_properties())).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
        let bytes = std::fs::metadata(&baseline_path).unwrap().len();
        (start.elapsed().as_secs_f64(), bytes)
    });
    let manager =
        ObjectStoreIoManager::local(&scratch.path().join("store"), IoManagerKind::Parquet).unwrap();
    let mut run = 0;
    let (manager_s, manager_bytes) = median(|| {
        run += 1;
        let location = location(None, &format!("m{run}"));
        let input = stream(schema.clone(), batches.clone());
        let start = Instant::now();
        let written = runtime.block_on(manager.write(&location, input)).unwrap();
        (start.elapsed().as_secs_f64(), written.bytes)
    });
    println!(
        "(a) Parquet write, {total_rows} rows ({copies} x flights), local disk, snappy, median of 3:"
    );
    report(
        "parquet ArrowWriter alone",
        total_rows,
        baseline_s,
        baseline_bytes,
    );
    report("IO manager write", total_rows, manager_s, manager_bytes);
    println!(
        "    ratio (IO manager / ArrowWriter throughput): {:.2}",
        baseline_s / manager_s
    );

    // (b) One partition, written and read back: local disk against S3 on loopback.
    println!("(b) one partition ({rows} rows), write then full read through table(), median of 3:");
    for kind in [IoManagerKind::Parquet, IoManagerKind::ArrowIpc] {
        let local =
            ObjectStoreIoManager::local(&scratch.path().join(format!("b-{kind:?}")), kind).unwrap();
        round_trip(&runtime, "local disk", &local, &schema, &flights, rows);
        match s3_manager(kind) {
            Ok(s3) => round_trip(&runtime, "S3 (moto)", s3.as_ref(), &schema, &flights, rows),
            Err(message) => println!("    S3 skipped: {message}"),
        }
    }
}

/// Writes then reads one partition three times after a warm-up; prints medians.
fn round_trip(
    runtime: &tokio::runtime::Runtime,
    backend: &str,
    manager: &dyn IoManager,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    rows: usize,
) {
    let mut run = 0;
    let mut last = None;
    let (write_s, bytes) = median(|| {
        run += 1;
        let location = location(Some("2013-01-01"), &format!("r{run}"));
        let start = Instant::now();
        let written = runtime
            .block_on(manager.write(&location, stream(schema.clone(), batches.to_vec())))
            .unwrap();
        let elapsed = start.elapsed().as_secs_f64();
        let bytes = written.bytes;
        last = Some(written);
        (elapsed, bytes)
    });
    let partition = StoredPartition {
        key: Some("2013-01-01".into()),
        files: last.unwrap().files,
    };
    let (read_s, read_rows) = median(|| {
        let start = Instant::now();
        let read: usize = runtime.block_on(async {
            let table = manager
                .table(std::slice::from_ref(&partition))
                .await
                .unwrap();
            let ctx = SessionContext::new();
            ctx.read_table(table)
                .unwrap()
                .collect()
                .await
                .unwrap()
                .iter()
                .map(RecordBatch::num_rows)
                .sum()
        });
        (start.elapsed().as_secs_f64(), read as u64)
    });
    assert_eq!(read_rows as usize, rows);
    println!(
        "    {:<10} {:<11} write {:>7.1} ms ({:>5.1} MB)   read {:>7.1} ms",
        format!("{:?}", manager.stored_format()),
        backend,
        write_s * 1000.0,
        bytes as f64 / MB,
        read_s * 1000.0,
    );
}

fn s3_manager(kind: IoManagerKind) -> Result<Arc<dyn IoManager>, String> {
    let moto = std::panic::catch_unwind(moto::moto).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "moto_server did not start".into())
    })?;
    let config = IoManagerConfig {
        kind,
        url: Location::S3 {
            bucket: moto::BUCKET.into(),
            prefix: moto::fresh_prefix("bench"),
        },
        endpoint: Some(moto.endpoint.clone()),
        region: Some("us-east-1".into()),
        allow_http: true,
    };
    let s3 = AmazonS3Builder::new()
        .with_access_key_id("strata-bench")
        .with_secret_access_key("strata-bench");
    from_config_with_s3(&config, Path::new("/"), s3).map_err(|error| error.to_string())
}

fn report(what: &str, rows: usize, seconds: f64, bytes: u64) {
    println!(
        "    {what:<26} {:>7.0} ms  {:>6.2} M rows/s  {:>6.1} MB/s written ({:.1} MB)",
        seconds * 1000.0,
        rows as f64 / seconds / 1e6,
        bytes as f64 / MB / seconds,
        bytes as f64 / MB,
    );
}

/// The median of three timed runs after one warm-up; `run` returns (seconds, a value).
fn median<T>(mut run: impl FnMut() -> (f64, T)) -> (f64, T) {
    run();
    let mut runs: Vec<(f64, T)> = (0..3).map(|_| run()).collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    runs.swap_remove(1)
}

fn location(key: Option<&str>, materialization: &str) -> PartitionLocation {
    let asset = AssetKey::parse("flights/flights").unwrap();
    PartitionLocation::new(&asset, key, materialization).unwrap()
}

fn stream(schema: SchemaRef, batches: Vec<RecordBatch>) -> SendableRecordBatchStream {
    let batches = futures::stream::iter(batches.into_iter().map(Ok));
    Box::pin(RecordBatchStreamAdapter::new(schema, batches))
}

/// nycflights13 `flights` as Arrow batches of 8,192 rows; `NA` is null.
fn load_flights() -> (SchemaRef, Vec<RecordBatch>) {
    let path = std::env::var_os("STRATA_FLIGHTS_CSV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/nycflights13/flights.csv.gz")
        });
    let open = || GzDecoder::new(File::open(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")));
    let format = Format::default()
        .with_header(true)
        .with_null_regex(Regex::new("^NA$").unwrap());
    let (schema, _) = format.infer_schema(open(), None).unwrap();
    let schema = Arc::new(schema);
    let batches = ReaderBuilder::new(schema.clone())
        .with_format(format)
        .with_batch_size(8_192)
        .build(open())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches)
}
