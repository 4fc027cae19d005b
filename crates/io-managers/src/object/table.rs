//! A DataFusion table over exactly the files of the given partitions.
//!
//! ```text
//!   StoredPartition { key, files } ──▶ PartitionedFile { path, size, partition_values: [key] }
//!                                            │ file groups, one per target partition
//!                                            ▼
//!   scan(): FileScanConfig (ParquetSource | ArrowSource) ──▶ DataSourceExec
//! ```
//!
//! The table never lists the store: it reads the files it was given, with their recorded sizes
//! (no `HEAD` requests). Each file's partition key is a table partition column, so DataFusion
//! appends it to every row without reading or storing it. Filters on `partition_key` alone
//! prune files before the scan starts; other filters are pushed into the Parquet reader by
//! DataFusion's optimizer (row-group and page pruning).
//!
//! The store is registered on the session's runtime at scan time under the manager's own
//! `strata-io://store-<n>` URL, so a caller needs nothing but its `SessionContext`.
//!
//! **Schemas.** The table's schema is the first file's (read from its footer); every other
//! file must have the same column names and types in the same order, or opening the table fails
//! with [`IoError::SchemaMismatch`] naming the partition and the first difference. A column
//! nullable in any file is nullable in the table. No automatic widening or column filling: a
//! partition that changed shape is a declaration change the caller should see.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::arrow::ipc::convert::fb_to_schema;
use datafusion::arrow::ipc::reader::read_footer_length;
use datafusion::arrow::ipc::root_as_footer;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, ScalarValue, project_schema};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{
    ArrowSource, FileGroup, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::MetadataFetch;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;

use super::ObjectStoreIoManager;
use crate::{FileFormat, IoError, PARTITION_KEY_COLUMN, StoredPartition};

/// Footers read at once when opening a table.
const FOOTER_CONCURRENCY: usize = 16;

/// Bytes read from a Parquet file's end in one request: most footers fit, so one round trip.
const FOOTER_PREFETCH: usize = 64 * 1024;

/// The partitions of one asset as a DataFusion table (see the module documentation).
pub struct PartitionsTable {
    manager: ObjectStoreIoManager,
    /// The schema stored in the files.
    file_schema: SchemaRef,
    /// The `partition_key` column, when any partition has a key.
    key_column: Option<FieldRef>,
    /// `file_schema` followed by `key_column`.
    schema: SchemaRef,
    files: Vec<TableFile>,
}

struct TableFile {
    path: Path,
    bytes: u64,
    key: Option<String>,
}

impl fmt::Debug for PartitionsTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionsTable")
            .field("url", &self.manager.url)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl PartitionsTable {
    /// Opens a table over `partitions`, reading every file's schema from its footer.
    ///
    /// Fails when there is no file at all (an empty table would have no schema), when a file
    /// path is not a plain relative path, when a footer cannot be read, when schemas differ,
    /// and when the stored data already has a `partition_key` column.
    pub async fn open(
        manager: &ObjectStoreIoManager,
        partitions: &[StoredPartition],
    ) -> Result<Self, IoError> {
        let mut files = Vec::new();
        let mut relatives = Vec::new();
        for partition in partitions {
            for file in &partition.files {
                files.push(TableFile {
                    path: manager.object_path(&file.path)?,
                    bytes: file.bytes,
                    key: partition.key.clone(),
                });
                relatives.push(file.path.as_str());
            }
        }
        if files.is_empty() {
            return Err(IoError::Unsupported {
                what: format!(
                    "no files to read from {}: a table needs at least one materialized \
                     partition, whose files give its schema",
                    manager.url
                ),
            });
        }
        // Owned arguments: futures borrowing from a closure's arguments are not `Send` enough
        // for `async_trait`.
        let footers: Vec<(Path, String, u64)> = files
            .iter()
            .zip(&relatives)
            .map(|(file, relative)| (file.path.clone(), relative.to_string(), file.bytes))
            .collect();
        let schemas: Vec<Schema> = futures::stream::iter(footers)
            .map(|(path, relative, bytes)| async move {
                read_schema(manager, &path, &relative, bytes).await
            })
            .buffered(FOOTER_CONCURRENCY)
            .try_collect()
            .await?;
        let mut file_schema = schemas[0].clone();
        for ((schema, file), relative) in schemas.iter().zip(&files).zip(&relatives).skip(1) {
            file_schema =
                unify(&file_schema, schema).map_err(|difference| IoError::SchemaMismatch {
                    partition: match &file.key {
                        Some(key) => format!("`{key}`"),
                        None => "(unpartitioned)".to_string(),
                    },
                    path: relative.to_string(),
                    difference,
                })?;
        }
        let key_column = files.iter().any(|file| file.key.is_some()).then(|| {
            let nullable = files.iter().any(|file| file.key.is_none());
            Arc::new(Field::new(PARTITION_KEY_COLUMN, DataType::Utf8, nullable))
        });
        if key_column.is_some() && file_schema.column_with_name(PARTITION_KEY_COLUMN).is_some() {
            return Err(IoError::Unsupported {
                what: format!(
                    "the stored data has its own `{PARTITION_KEY_COLUMN}` column (in `{}`), \
                     which the table adds from the partition keys; drop it before writing",
                    relatives[0]
                ),
            });
        }
        let mut fields: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        fields.extend(key_column.clone());
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            file_schema.metadata().clone(),
        ));
        Ok(Self {
            manager: manager.clone(),
            file_schema: Arc::new(file_schema),
            key_column,
            schema,
            files,
        })
    }

    /// The files surviving `filters` that reference only `partition_key`. A filter that cannot
    /// be evaluated prunes nothing: DataFusion applies every filter again after the scan.
    fn prune(&self, state: &dyn Session, filters: &[Expr]) -> Vec<&TableFile> {
        let mut keep = vec![true; self.files.len()];
        if let Some(column) = &self.key_column {
            let key_schema = Arc::new(Schema::new(vec![column.clone()]));
            let keys: ArrayRef = Arc::new(StringArray::from_iter(
                self.files.iter().map(|file| file.key.as_deref()),
            ));
            for filter in filters.iter().filter(|filter| only_key_column(filter)) {
                if let Some(mask) = evaluate(state, filter, &key_schema, &keys) {
                    for (keep, matches) in keep.iter_mut().zip(mask.iter()) {
                        *keep &= matches == Some(true);
                    }
                }
            }
        }
        self.files
            .iter()
            .zip(keep)
            .filter_map(|(file, keep)| keep.then_some(file))
            .collect()
    }
}

#[async_trait::async_trait]
impl TableProvider for PartitionsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Inexact: pruning drops whole files, DataFusion still filters the rows.
        Ok(filters
            .iter()
            .map(|filter| {
                if self.key_column.is_some() && only_key_column(filter) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let files = self.prune(state, filters);
        if files.is_empty() {
            let projected = project_schema(&self.schema, projection)?;
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        state
            .runtime_env()
            .register_object_store(self.manager.store_url.as_ref(), self.manager.store.clone());
        let table_schema = TableSchema::builder(self.file_schema.clone())
            .with_table_partition_cols(self.key_column.iter().cloned().collect::<Vec<_>>())
            .build();
        let source: Arc<dyn FileSource> = match self.manager.format() {
            FileFormat::Parquet => {
                // As DataFusion's own Parquet tables do: the session's Parquet options, and
                // footers cached in the session (safe: a stored file never changes).
                let footers = state.runtime_env().cache_manager.get_file_metadata_cache();
                let reader =
                    CachedParquetFileReaderFactory::new(self.manager.store.clone(), footers);
                Arc::new(
                    ParquetSource::new(table_schema)
                        .with_table_parquet_options(state.table_options().parquet.clone())
                        .with_parquet_file_reader_factory(Arc::new(reader)),
                )
            }
            _ => Arc::new(ArrowSource::new_file_source(table_schema)),
        };
        let groups = file_groups(&files, state.config().target_partitions(), |file| {
            let mut partitioned = PartitionedFile::new(file.path.to_string(), file.bytes);
            if self.key_column.is_some() {
                partitioned =
                    partitioned.with_partition_values(vec![ScalarValue::Utf8(file.key.clone())]);
            }
            partitioned
        });
        let config = FileScanConfigBuilder::new(self.manager.store_url.clone(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Spreads files over at most `target` groups, keeping neighbours together.
fn file_groups(
    files: &[&TableFile],
    target: usize,
    to_partitioned: impl Fn(&TableFile) -> PartitionedFile,
) -> Vec<FileGroup> {
    let per_group = files.len().div_ceil(target.max(1));
    files
        .chunks(per_group)
        .map(|chunk| FileGroup::new(chunk.iter().map(|file| to_partitioned(file)).collect()))
        .collect()
}

fn only_key_column(filter: &Expr) -> bool {
    let columns = filter.column_refs();
    !columns.is_empty()
        && columns
            .iter()
            .all(|column| column.name == PARTITION_KEY_COLUMN)
}

/// `filter` evaluated over one row per file holding its key; `None` when it cannot be.
fn evaluate(
    state: &dyn Session,
    filter: &Expr,
    key_schema: &SchemaRef,
    keys: &ArrayRef,
) -> Option<BooleanArray> {
    let df_schema = DFSchema::try_from(key_schema.as_ref().clone()).ok()?;
    let physical = state
        .create_physical_expr(filter.clone(), &df_schema)
        .ok()?;
    let batch = RecordBatch::try_new(key_schema.clone(), vec![keys.clone()]).ok()?;
    let result = physical
        .evaluate(&batch)
        .ok()?
        .into_array(keys.len())
        .ok()?;
    result.as_any().downcast_ref::<BooleanArray>().cloned()
}

/// The schema of one stored file, from its footer.
async fn read_schema(
    manager: &ObjectStoreIoManager,
    path: &Path,
    relative: &str,
    bytes: u64,
) -> Result<Schema, IoError> {
    let format = manager.format();
    let format_error = |source: Box<dyn std::error::Error + Send + Sync>| IoError::Format {
        action: "reading",
        format,
        path: relative.to_string(),
        source,
    };
    match format {
        FileFormat::Parquet => {
            let fetch = RangeFetch {
                store: manager.store.as_ref(),
                path,
            };
            let metadata = ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(fetch, bytes)
                .await
                .and_then(|metadata| {
                    ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
                })
                .map_err(|error| match error {
                    ParquetError::External(source) => {
                        match source.downcast::<object_store::Error>() {
                            Ok(source) => manager.store_error("reading", relative, *source),
                            Err(source) => format_error(source),
                        }
                    }
                    error => format_error(Box::new(error)),
                })?;
            Ok(metadata.schema().as_ref().clone())
        }
        _ => {
            let store: &dyn ObjectStore = manager.store.as_ref();
            let get = |range: std::ops::Range<u64>| async move {
                store
                    .get_range(path, range)
                    .await
                    .map_err(|source| manager.store_error("reading", relative, source))
            };
            if bytes < 10 {
                return Err(format_error(
                    "the file is too short for an Arrow IPC file".into(),
                ));
            }
            let tail = get(bytes - 10..bytes).await?;
            let tail: [u8; 10] = tail[..].try_into().expect("ten bytes were asked for");
            let footer_len =
                read_footer_length(tail).map_err(|error| format_error(Box::new(error)))? as u64;
            if footer_len + 10 > bytes {
                return Err(format_error("the footer is longer than the file".into()));
            }
            let footer = get(bytes - 10 - footer_len..bytes - 10).await?;
            let footer =
                root_as_footer(&footer).map_err(|error| format_error(error.to_string().into()))?;
            let schema = footer
                .schema()
                .ok_or_else(|| format_error("the footer holds no schema".into()))?;
            Ok(fb_to_schema(schema))
        }
    }
}

/// Byte ranges of one object, for the Parquet footer reader.
struct RangeFetch<'a> {
    store: &'a dyn ObjectStore,
    path: &'a Path,
}

impl MetadataFetch for RangeFetch<'_> {
    fn fetch(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<bytes::Bytes>> {
        Box::pin(async move {
            self.store
                .get_range(self.path, range)
                .await
                .map_err(|error| ParquetError::External(Box::new(error)))
        })
    }
}

/// `table` extended by `other`: the same names and types in the same order; nullable where
/// either is. The error is the first difference, for the message.
fn unify(table: &Schema, other: &Schema) -> Result<Schema, String> {
    let describe = |schema: &Schema| {
        schema
            .fields()
            .iter()
            .map(|field| format!("{} {}", field.name(), field.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if table.fields().len() != other.fields().len() {
        return Err(format!(
            "{} columns ({}) where the first partition has {} ({})",
            other.fields().len(),
            describe(other),
            table.fields().len(),
            describe(table)
        ));
    }
    let mut fields = Vec::with_capacity(table.fields().len());
    for (mine, theirs) in table.fields().iter().zip(other.fields()) {
        if mine.name() != theirs.name() {
            return Err(format!(
                "column `{}` where the first partition has `{}`",
                theirs.name(),
                mine.name()
            ));
        }
        if mine.data_type() != theirs.data_type() {
            return Err(format!(
                "column `{}` is {} where the first partition has {}",
                mine.name(),
                theirs.data_type(),
                mine.data_type()
            ));
        }
        let nullable = mine.is_nullable() || theirs.is_nullable();
        fields.push(mine.as_ref().clone().with_nullable(nullable));
    }
    Ok(Schema::new_with_metadata(fields, table.metadata().clone()))
}
