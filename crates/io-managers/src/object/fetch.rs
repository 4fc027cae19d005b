//! Partitions as local files, for commands written in any language.
//!
//! A local store asked for its own format hands back the stored files themselves (no copy;
//! they are immutable). Otherwise each stored file becomes one local file
//! `<dir>/<partition segment>/part-<n>.<ext>` — the segment is the storage layout's
//! (`p=<encoded key>`, or `_` when unpartitioned), so two keys never share a folder. Same format:
//! the object's bytes are streamed to disk. Another format: its batches are streamed through
//! a DataFusion scan of that one file and re-encoded:
//!
//! - CSV: a header row (even with no rows), an empty field for null;
//! - NDJSON: one object per line, every column present (`null` when null).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path as LocalPath, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::json;
use datafusion::arrow::json::writer::LineDelimited;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;

use super::{ObjectStoreIoManager, PartitionsTable, parquet_writer_properties};
use crate::location::encode_partition_key;
use crate::{FileFormat, IoError, LocalPartition, StoredFile, StoredPartition};

pub(super) async fn fetch(
    manager: &ObjectStoreIoManager,
    partitions: &[StoredPartition],
    format: FileFormat,
    dir: &LocalPath,
) -> Result<Vec<LocalPartition>, IoError> {
    let mut fetched = Vec::with_capacity(partitions.len());
    for partition in partitions {
        let files = match (&manager.local, format == manager.format()) {
            (Some(local), true) => partition
                .files
                .iter()
                .map(|file| {
                    let path = manager.object_path(&file.path)?;
                    local
                        .path_to_filesystem(&path)
                        .map_err(|source| manager.store_error("resolving", &file.path, source))
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                let folder = dir.join(match &partition.key {
                    Some(key) => format!("p={}", encode_partition_key(key)?),
                    None => "_".to_string(),
                });
                std::fs::create_dir_all(&folder).map_err(|source| IoError::Io {
                    action: "creating the fetch directory",
                    path: folder.clone(),
                    source,
                })?;
                let mut files = Vec::with_capacity(partition.files.len());
                for (n, file) in partition.files.iter().enumerate() {
                    let target = folder.join(format!("part-{n:05}.{}", format.extension()));
                    if format == manager.format() {
                        copy(manager, file, &target).await?;
                    } else {
                        convert(manager, file, format, &target).await?;
                    }
                    files.push(target);
                }
                files
            }
        };
        fetched.push(LocalPartition {
            key: partition.key.clone(),
            files,
        });
    }
    Ok(fetched)
}

fn create(target: &LocalPath) -> Result<BufWriter<File>, IoError> {
    File::create(target)
        .map(BufWriter::new)
        .map_err(|source| IoError::Io {
            action: "creating",
            path: target.to_path_buf(),
            source,
        })
}

fn write_error(target: &LocalPath) -> impl Fn(std::io::Error) -> IoError + '_ {
    move |source| IoError::Io {
        action: "writing",
        path: target.to_path_buf(),
        source,
    }
}

/// Streams the object's bytes into `target`.
async fn copy(
    manager: &ObjectStoreIoManager,
    file: &StoredFile,
    target: &LocalPath,
) -> Result<(), IoError> {
    let path = manager.object_path(&file.path)?;
    let object = manager
        .store
        .get(&path)
        .await
        .map_err(|source| manager.store_error("reading", &file.path, source))?;
    let mut chunks = object.into_stream();
    let mut out = create(target)?;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|source| manager.store_error("reading", &file.path, source))?;
        out.write_all(&chunk).map_err(write_error(target))?;
    }
    out.flush().map_err(write_error(target))
}

/// Reads the stored file through DataFusion (one partition, so rows keep their order) and
/// writes it in `format` to `target`.
async fn convert(
    manager: &ObjectStoreIoManager,
    file: &StoredFile,
    format: FileFormat,
    target: &LocalPath,
) -> Result<(), IoError> {
    let read_error = |source: datafusion::error::DataFusionError| IoError::Format {
        action: "reading",
        format: manager.format(),
        path: file.path.clone(),
        source: Box::new(source),
    };
    let partition = StoredPartition {
        key: None,
        files: vec![file.clone()],
    };
    let table = PartitionsTable::open(manager, &[partition]).await?;
    let state = SessionStateBuilder::new()
        .with_config(SessionConfig::new().with_target_partitions(1))
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    let mut batches = ctx
        .read_table(Arc::new(table))
        .map_err(read_error)?
        .execute_stream()
        .await
        .map_err(read_error)?;
    let mut writer = LocalWriter::create(format, batches.schema(), target)?;
    while let Some(batch) = batches.next().await {
        writer.write(&batch.map_err(read_error)?)?;
    }
    writer.finish()
}

/// A synchronous encoder into a local file. Local writes of encoded batches are short, so
/// they run on the async task rather than a blocking thread.
struct LocalWriter {
    target: PathBuf,
    format: FileFormat,
    encoder: Encoder,
}

enum Encoder {
    Parquet(ArrowWriter<BufWriter<File>>),
    ArrowIpc(FileWriter<BufWriter<File>>),
    Csv(csv::Writer<BufWriter<File>>),
    Ndjson(json::Writer<BufWriter<File>, LineDelimited>),
}

/// A failure of an encoder writing `target`.
fn encode_error(
    format: FileFormat,
    target: &LocalPath,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> IoError {
    IoError::Format {
        action: "writing",
        format,
        path: target.display().to_string(),
        source: source.into(),
    }
}

impl LocalWriter {
    fn create(format: FileFormat, schema: SchemaRef, target: &LocalPath) -> Result<Self, IoError> {
        let out = create(target)?;
        let error =
            |source: Box<dyn std::error::Error + Send + Sync>| encode_error(format, target, source);
        let encoder = match format {
            FileFormat::Parquet => Encoder::Parquet(
                ArrowWriter::try_new(out, schema.clone(), Some(parquet_writer_properties()))
                    .map_err(|e| error(e.into()))?,
            ),
            FileFormat::ArrowIpc => {
                Encoder::ArrowIpc(FileWriter::try_new(out, &schema).map_err(|e| error(e.into()))?)
            }
            FileFormat::Csv => Encoder::Csv(csv::WriterBuilder::new().with_header(true).build(out)),
            FileFormat::Ndjson => Encoder::Ndjson(
                json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, LineDelimited>(out),
            ),
        };
        let mut writer = Self {
            target: target.to_path_buf(),
            format,
            encoder,
        };
        // The CSV header is written with the first batch: an empty one makes sure it exists.
        writer.write(&RecordBatch::new_empty(schema))?;
        Ok(writer)
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        let result = match &mut self.encoder {
            Encoder::Parquet(writer) => writer.write(batch).map_err(Into::into),
            Encoder::ArrowIpc(writer) => writer.write(batch).map_err(Into::into),
            Encoder::Csv(writer) => writer.write(batch).map_err(Into::into),
            Encoder::Ndjson(writer) => writer.write(batch).map_err(Into::into),
        };
        result.map_err(|source: Box<dyn std::error::Error + Send + Sync>| {
            encode_error(self.format, &self.target, source)
        })
    }

    fn finish(self) -> Result<(), IoError> {
        let out: Result<_, Box<dyn std::error::Error + Send + Sync>> = match self.encoder {
            Encoder::Parquet(writer) => writer.into_inner().map_err(Into::into),
            Encoder::ArrowIpc(mut writer) => writer
                .finish()
                .and_then(|()| writer.into_inner())
                .map_err(Into::into),
            Encoder::Csv(writer) => Ok(writer.into_inner()),
            Encoder::Ndjson(mut writer) => writer
                .finish()
                .map(|()| writer.into_inner())
                .map_err(Into::into),
        };
        let mut out = out.map_err(|source| encode_error(self.format, &self.target, source))?;
        out.flush().map_err(write_error(&self.target))
    }
}
