//! Strata's IO managers: where asset partitions are written and read.
//!
//! An IO manager stores the data of asset partitions. It knows nothing of the event log: the
//! engine's commit protocol writes a partition through [`IoManager::write`] under a path no
//! other materialization ever uses, then records the returned file list in a Materialization
//! event — that event is the one commit. Readers are handed those file lists back (from the
//! storage's index) and never list the store to find data.
//!
//! ```text
//!   batches ──write──▶ <root>/<group>/<name>/<partition>/<materialization id>.parquet
//!                         │  (files + sizes)
//!                         ▼
//!   Materialization event (the commit, in instance storage)
//!                         │  (file lists from the index)
//!                         ▼
//!   table() ──▶ a DataFusion table with a `partition_key` column
//!   fetch() ──▶ local files in Parquet, Arrow IPC, CSV or NDJSON
//! ```
//!
//! # Crate organization
//!
//! - [`location`]: the object path of one materialization; partition keys escaped (`=XX`) into a
//!   safe alphabet so no key can escape the root.
//! - [`IoManager`]: the contract every implementation keeps; [`IoManagerExt`] adds conveniences.
//! - [`object`]: Parquet and Arrow IPC over `object_store` (local disk, `memory://`, `s3://`).
//! - [`config`]: building an IO manager from an `[io_managers.<name>]` table, by URL scheme.
//! - [`registry`]: IO managers by name, including ones users register through the Rust API.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::execution::SendableRecordBatchStream;

pub mod config;
pub mod error;
pub mod location;
pub mod object;
pub mod registry;

pub use error::IoError;
pub use location::PartitionLocation;

/// The user guide's Rust examples compile and run as doc tests, so the guide cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/io-managers.md")]
struct UserGuide;

/// The name of the column that carries each row's partition key in [`IoManager::table`].
pub const PARTITION_KEY_COLUMN: &str = "partition_key";

/// One stored file, as recorded in a Materialization event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredFile {
    /// The object path relative to the IO manager's root (`flights/clean/p=…/<materialization id>.parquet`).
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What [`IoManager::write`] stored for one partition.
#[derive(Clone, Debug)]
pub struct WrittenPartition {
    /// The files written, in order.
    pub files: Vec<StoredFile>,
    /// Rows written.
    pub rows: u64,
    /// Bytes written (the sum of the files' sizes).
    pub bytes: u64,
    /// The schema of the data.
    pub schema: SchemaRef,
}

/// One committed partition to read: its key (`None` for an unpartitioned asset) and the files
/// its current materialization recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPartition {
    /// The partition key, or `None` for an unpartitioned asset.
    pub key: Option<String>,
    /// The files of its current materialization.
    pub files: Vec<StoredFile>,
}

/// The file formats partitions can be fetched in (and commands can write).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// The Arrow IPC file format.
    ArrowIpc,
    /// CSV with a header row; an empty field is null.
    Csv,
    /// Newline-delimited JSON, one object per row.
    Ndjson,
}

impl FileFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::ArrowIpc => "arrow",
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }
}

/// One partition fetched to local files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPartition {
    /// The partition key, or `None` for an unpartitioned asset.
    pub key: Option<String>,
    /// Local files holding its rows, in the requested format.
    pub files: Vec<PathBuf>,
}

/// An object under the IO manager's root, as a listing reports it (garbage collection only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    /// The path relative to the root.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was last written, in seconds since the Unix epoch.
    pub last_modified: i64,
}

/// Stores and reads the data of asset partitions.
///
/// # Contract
///
/// Every implementation passes the conformance suite in `tests/conformance`, which checks each
/// promise below:
///
/// - **Immutable paths.** [`write`](Self::write) writes only under
///   [`PartitionLocation::prefix`]; callers give every materialization a fresh location, so a
///   write never touches a file a reader may be using. Writing the same location twice is a bug
///   of the caller and may fail.
/// - **Not visible until committed.** A write is not "published" by the IO manager: until the
///   caller records the returned files, no reader is given them. A write that fails or is
///   interrupted leaves at worst unreferenced files under its prefix (orphans, collected by the
///   garbage collector through [`list`](Self::list) and [`delete`](Self::delete)).
/// - **Readers are given files, never discover them.** [`table`](Self::table) and
///   [`fetch`](Self::fetch) read exactly the files passed in; they never list the store.
/// - **Round trip.** Rows written are read back unchanged (values, types, nullability), with a
///   `partition_key` column added by `table` for partitioned data.
/// - **Idempotent delete.** Deleting a path that does not exist succeeds.
/// - **Keys cannot escape the root.** Whatever a partition key holds (`..`, `/`, `%2e%2e`, NUL,
///   1,000 characters, non-ASCII), its objects stay under the root.
#[async_trait]
pub trait IoManager: Send + Sync + fmt::Debug {
    /// Where this IO manager stores, for messages (`file:///…/.strata/data`, `s3://bucket/p`).
    fn url(&self) -> String;

    /// The format partitions are stored in.
    fn stored_format(&self) -> FileFormat;

    /// Writes one partition from a stream of record batches under `location`.
    ///
    /// An empty stream writes a partition with zero rows (its schema is still recorded).
    async fn write(
        &self,
        location: &PartitionLocation,
        batches: SendableRecordBatchStream,
    ) -> Result<WrittenPartition, IoError>;

    /// The given partitions of one asset as a DataFusion table. When any partition has a key,
    /// the table has a [`PARTITION_KEY_COLUMN`] column (utf8) holding each row's key.
    async fn table(
        &self,
        partitions: &[StoredPartition],
    ) -> Result<Arc<dyn TableProvider>, IoError>;

    /// The given partitions as local files in `format`, written under `dir` when a copy or a
    /// conversion is needed (a local store in the same format may hand back its own paths).
    async fn fetch(
        &self,
        partitions: &[StoredPartition],
        format: FileFormat,
        dir: &Path,
    ) -> Result<Vec<LocalPartition>, IoError>;

    /// Deletes the objects at `paths` (relative to the root). Missing paths are not an error.
    async fn delete(&self, paths: &[String]) -> Result<(), IoError>;

    /// Every object under the root. Only the garbage collector lists; readers never do.
    async fn list(&self) -> Result<Vec<ListedObject>, IoError>;
}

/// Conveniences over any [`IoManager`].
#[async_trait]
pub trait IoManagerExt: IoManager {
    /// Bytes stored under the root (everything, committed or not).
    async fn storage_size(&self) -> Result<u64, IoError> {
        Ok(self.list().await?.iter().map(|object| object.bytes).sum())
    }
}

impl<T: IoManager + ?Sized> IoManagerExt for T {}
