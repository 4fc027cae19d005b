//! Writing one partition: a stream of batches into the file `<prefix>.<ext>`.
//!
//! Both formats encode in memory a row group (Parquet) or a few batches (Arrow IPC) at a time
//! and hand the encoded bytes to an `object_store` [`BufWriter`], which uploads in parts once
//! more than its buffer is pending (S3 multipart) and writes a staging file that is renamed on
//! completion (local disk). Memory stays bounded by one row group whatever the partition's size.
//!
//! A failed write aborts the upload, so S3 keeps no dangling multipart upload; whatever a crash
//! leaves behind is an orphan under a prefix no event references.

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tokio::io::AsyncWriteExt;

use super::ObjectStoreIoManager;
use crate::{FileFormat, IoError, PartitionLocation, StoredFile, WrittenPartition};

/// Encoded Arrow IPC bytes gathered before they are handed to the upload.
const IPC_FLUSH_BYTES: usize = 8 * 1024 * 1024;

/// The Parquet writer settings of every IO manager: the `parquet` crate's defaults (1 Mi-row
/// row groups, dictionary encoding, page statistics) with Snappy compression.
///
/// Snappy rather than zstd: it compresses several times faster for a somewhat larger file,
/// so on two cores writing stays close to the speed of the uncompressed default writer, and
/// every Parquet reader (DataFusion, pyarrow, DuckDB, Spark) decodes it. Public so benchmarks
/// compare against the same settings.
pub fn parquet_writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build()
}

pub(super) async fn write(
    manager: &ObjectStoreIoManager,
    location: &PartitionLocation,
    batches: SendableRecordBatchStream,
) -> Result<WrittenPartition, IoError> {
    let format = manager.format();
    let relative = format!("{}.{}", location.prefix(), format.extension());
    let path = manager.object_path(&relative)?;
    let schema = batches.schema();
    let target = Target {
        manager,
        relative: &relative,
        path,
        format,
    };
    let (rows, bytes) = match format {
        FileFormat::Parquet => target.parquet(batches).await?,
        _ => target.ipc(batches).await?,
    };
    Ok(WrittenPartition {
        files: vec![StoredFile {
            path: relative,
            bytes,
        }],
        rows,
        bytes,
        schema,
    })
}

/// The file being written, for both formats and their error messages.
struct Target<'a> {
    manager: &'a ObjectStoreIoManager,
    relative: &'a str,
    path: Path,
    format: FileFormat,
}

impl Target<'_> {
    fn upload(&self) -> BufWriter {
        BufWriter::new(self.manager.store.clone(), self.path.clone())
    }

    fn format_error(&self, source: impl std::error::Error + Send + Sync + 'static) -> IoError {
        IoError::Format {
            action: "writing",
            format: self.format,
            path: self.relative.to_string(),
            source: Box::new(source),
        }
    }

    fn store_error(&self, source: std::io::Error) -> IoError {
        // BufWriter reports object store failures as I/O errors wrapping the original.
        match source.downcast::<object_store::Error>() {
            Ok(source) => self.manager.store_error("writing", self.relative, source),
            Err(source) => self.format_error(source),
        }
    }

    async fn parquet(&self, mut batches: SendableRecordBatchStream) -> Result<(u64, u64), IoError> {
        // `BufWriter` is an `AsyncWrite`, which the Parquet writer accepts as it is.
        let mut writer = AsyncArrowWriter::try_new(
            self.upload(),
            batches.schema(),
            Some(parquet_writer_properties()),
        )
        .map_err(|error| self.format_error(error))?;
        let mut rows = 0;
        let result = async {
            while let Some(batch) = batches.next().await {
                let batch = batch.map_err(|source| IoError::Input {
                    source: Box::new(source),
                })?;
                rows += batch.num_rows() as u64;
                writer
                    .write(&batch)
                    .await
                    .map_err(|error| self.format_error(error))?;
            }
            writer
                .finish()
                .await
                .map_err(|error| self.format_error(error))
        }
        .await;
        match result {
            Ok(_) => Ok((rows, writer.bytes_written() as u64)),
            Err(error) => {
                // Best effort: the error to report is the one that stopped the write.
                let _ = writer.into_inner().abort().await;
                Err(error)
            }
        }
    }

    async fn ipc(&self, mut batches: SendableRecordBatchStream) -> Result<(u64, u64), IoError> {
        let schema: SchemaRef = batches.schema();
        let mut upload = self.upload();
        let mut rows = 0;
        let mut bytes = 0;
        let result = async {
            let mut writer = FileWriter::try_new(Vec::new(), &schema)
                .map_err(|error| self.format_error(error))?;
            while let Some(batch) = batches.next().await {
                let batch = batch.map_err(|source| IoError::Input {
                    source: Box::new(source),
                })?;
                rows += batch.num_rows() as u64;
                writer
                    .write(&batch)
                    .map_err(|error| self.format_error(error))?;
                // The writer counts its own offsets, so its buffer can be drained at any time.
                if writer.get_ref().len() >= IPC_FLUSH_BYTES {
                    let encoded = std::mem::take(writer.get_mut());
                    bytes += encoded.len() as u64;
                    upload.put(Bytes::from(encoded)).await.map_err(|source| {
                        self.manager.store_error("writing", self.relative, source)
                    })?;
                }
            }
            writer.finish().map_err(|error| self.format_error(error))?;
            let encoded = writer
                .into_inner()
                .map_err(|error| self.format_error(error))?;
            bytes += encoded.len() as u64;
            upload
                .put(Bytes::from(encoded))
                .await
                .map_err(|source| self.manager.store_error("writing", self.relative, source))?;
            upload
                .shutdown()
                .await
                .map_err(|source| self.store_error(source))
        }
        .await;
        match result {
            Ok(()) => Ok((rows, bytes)),
            Err(error) => {
                let _ = upload.abort().await;
                Err(error)
            }
        }
    }
}
