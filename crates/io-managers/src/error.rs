//! The one error type of this crate.
//!
//! Backend errors (`object_store`, Arrow, Parquet, `std::io`) are mapped into a variant that
//! says what was being done and to which object, so a message always names the thing; there is
//! no catch-all conversion.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

use crate::FileFormat;

/// Why an IO manager operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// A partition key that cannot be stored (only the empty key today).
    #[error("invalid partition key `{key}`: {reason}")]
    InvalidPartitionKey {
        /// The rejected key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A materialization id outside `[A-Za-z0-9_-]{1,64}`.
    #[error("invalid materialization id `{id}`: {reason}")]
    InvalidMaterializationId {
        /// The rejected id.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An object path given by a caller (to delete or read) that is not a plain relative path.
    #[error("invalid object path `{path}`: {reason}")]
    InvalidPath {
        /// The rejected path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A storage location that no IO manager can be built for.
    #[error("invalid IO manager location `{url}`: {reason}")]
    InvalidLocation {
        /// The location as written.
        url: String,
        /// What is wrong with it, and what would be accepted.
        reason: String,
    },
    /// No IO manager of that name is registered.
    #[error("unknown IO manager `{name}`; {hint}")]
    UnknownIoManager {
        /// The requested name.
        name: String,
        /// A closest match or the list of available names.
        hint: String,
    },
    /// An object that should exist does not.
    #[error("object `{path}` not found in {url}")]
    NotFound {
        /// Where the IO manager stores.
        url: String,
        /// The object path relative to the root.
        path: String,
    },
    /// The object store failed while doing something to an object.
    #[error("{action} `{path}` in {url} failed: {source}")]
    Store {
        /// What was being done (`writing`, `reading`, `deleting`, `listing`).
        action: &'static str,
        /// Where the IO manager stores.
        url: String,
        /// The object path relative to the root (empty for the root itself).
        path: String,
        /// The backend's error (boxed: it is large, and errors travel in every `Result`).
        #[source]
        source: Box<object_store::Error>,
    },
    /// Encoding or decoding a file failed (Parquet, Arrow IPC, CSV, NDJSON).
    #[error("{action} {} file `{path}` failed: {source}", format_name(*format))]
    Format {
        /// What was being done (`writing`, `reading`).
        action: &'static str,
        /// The format of the file.
        format: FileFormat,
        /// The file: an object path relative to the root, or a local path.
        path: String,
        /// The encoder's or decoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The partitions given to one table do not share a schema.
    #[error(
        "partition {partition} (`{path}`) does not match the schema of the first partition: {difference}"
    )]
    SchemaMismatch {
        /// The partition key, quoted, or `(unpartitioned)`.
        partition: String,
        /// Its file.
        path: String,
        /// The first difference found.
        difference: String,
    },
    /// The record batches handed to [`write`](crate::IoManager::write) failed to arrive (the
    /// query or program producing them failed).
    #[error("producing the batches to write failed: {source}")]
    Input {
        /// The producer's error (boxed: it is large).
        #[source]
        source: Box<DataFusionError>,
    },
    /// A local file or directory operation failed.
    #[error("{action} `{}` failed: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The local path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Something this IO manager cannot do (a table over nothing, for instance).
    #[error("{what}")]
    Unsupported {
        /// What was asked, and why it cannot be done.
        what: String,
    },
}

fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Parquet => "Parquet",
        FileFormat::ArrowIpc => "Arrow IPC",
        FileFormat::Csv => "CSV",
        FileFormat::Ndjson => "NDJSON",
    }
}
