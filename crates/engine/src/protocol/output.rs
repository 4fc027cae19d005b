//! Reading what a command wrote to `STRATA_OUTPUT`: one file in the asset's declared `output`
//! format, turned into Arrow batches the executor commits through the IO manager.
//!
//! ```text
//!   Parquet, Arrow IPC ──▶ read as written ───────────────────────────┐
//!   CSV, NDJSON ──▶ text cells ──▶ type each column (pinned, inferred) ┴─▶ drift check ─▶ Output
//! ```
//!
//! Parquet and Arrow IPC carry their own schema, so they are read as written (a declaration
//! cannot pin their types: `strata check` rejects `schema` with those formats). CSV and NDJSON
//! are typed here, per column:
//!
//! 1. a type pinned by the asset's `schema` wins; a value that does not parse as it is an error
//!    naming the column, the row or line, and the value;
//! 2. a column with no value at all (all null, or a header-only file) takes the type the asset's
//!    earlier partitions gave it, else `utf8`;
//! 3. otherwise the narrowest type that holds every value: `int64`, then `float64`, then `utf8`
//!    (NDJSON also has `boolean`). When the asset's earlier partitions gave the column a type
//!    and every value here fits that type, the column takes it — a partition of whole numbers
//!    in a `float64` column, or of digits in a `utf8` code column, holds no conflict;
//!    inferring `int64` there and failing would make a command's success depend on its data.
//!
//! Schema drift — a column whose type here differs from the asset's earlier partitions — is an
//! error for every format: readers of the asset see all partitions as one table. New columns,
//! and earlier columns missing here, are not drift. Nullability is ignored.
//!
//! Everything is read into memory (one partition). Each step already works batch by batch —
//! CSV and NDJSON are typed in a first pass over cells and converted in a second — so switching
//! to streaming means reading the file twice rather than restructuring.

mod columns;
mod csv;
mod ndjson;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatchReader;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::reader::{FileReader, StreamReader};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_core::model::{ColumnType, DataFormat};

/// Rows per batch read or built.
const BATCH_ROWS: usize = 8192;

/// What the asset declares about its output, and what its earlier partitions established.
#[derive(Clone, Copy, Debug)]
pub struct OutputSpec<'a> {
    /// The declared `output` format.
    pub format: DataFormat,
    /// Column types pinned by the declared `schema` (CSV and NDJSON only).
    pub pinned: &'a BTreeMap<String, ColumnType>,
    /// The asset's schema from earlier partitions, if any were materialized.
    pub established: Option<&'a Schema>,
}

/// What the command wrote, typed and checked.
#[derive(Clone, Debug)]
pub struct Output {
    /// The columns, in file order. CSV and NDJSON columns are all nullable; Parquet and Arrow
    /// IPC keep their own schema.
    pub schema: SchemaRef,
    /// The rows; empty when the file holds none.
    pub batches: Vec<RecordBatch>,
    /// How many rows the batches hold.
    pub rows: u64,
}

/// Where a value sits in a text output file, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// A CSV data row, counted after the header (a quoted field may span file lines).
    Row(u64),
    /// An NDJSON file line.
    Line(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Row(row) => write!(f, "row {row} (after the header)"),
            Self::Line(line) => write!(f, "line {line}"),
        }
    }
}

/// Why a command's output cannot be committed. Every case but [`OutputError::Io`] is the
/// command's to fix, and the message says how.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The file is missing or has zero bytes.
    #[error(
        "the command exited 0 but wrote nothing to STRATA_OUTPUT ({}); it must write {} file \
         there",
        path.display(),
        with_article(*format)
    )]
    Empty {
        /// The output path.
        path: PathBuf,
        /// The declared format.
        format: DataFormat,
    },
    /// The file could not be read from disk (ours or the machine's problem, not the format).
    #[error("could not read STRATA_OUTPUT ({}): {source}", path.display())]
    Io {
        /// The output path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not valid in the declared format.
    #[error(
        "STRATA_OUTPUT ({}) is not a readable {} file: {reason}; the asset declares output = \
         \"{}\", so the command must write valid {} there",
        path.display(),
        format_name(*format),
        declared_name(*format),
        format_name(*format)
    )]
    Unreadable {
        /// The output path.
        path: PathBuf,
        /// The declared format.
        format: DataFormat,
        /// What is wrong, as precisely as the reader says.
        reason: String,
    },
    /// A column pinned by the declared `schema` is not in the file.
    #[error(
        "the asset's schema pins column `{column}` to {}, but the command's output has no \
         column `{column}` (it has: {}); write that column, or remove it from `schema`",
        column_type_name(*pinned),
        list_columns(found)
    )]
    PinnedMissing {
        /// The pinned column.
        column: String,
        /// Its pinned type.
        pinned: ColumnType,
        /// The columns the file has, in file order.
        found: Vec<String>,
    },
    /// A value does not parse as its column's pinned type.
    #[error(
        "output column `{column}` is pinned to {expected} by the asset's schema, but {at} holds \
         {value}, which is not {expected}; make the command write {expected} values there, or \
         change the pinned type"
    )]
    BadValue {
        /// The column.
        column: String,
        /// The type it must hold.
        expected: String,
        /// Where the value is.
        at: Position,
        /// The value as written (shortened).
        value: String,
    },
    /// A column's type differs from the one the asset's earlier partitions established.
    #[error(
        "output column `{column}` is {} in this partition but {} in the asset's earlier \
         partitions; {}",
        type_name(found),
        type_name(established),
        drift_hint(column, found, established, *format, *pinned)
    )]
    Drift {
        /// The column.
        column: String,
        /// Its type in this output.
        found: DataType,
        /// Its type in the earlier partitions.
        established: DataType,
        /// The declared format (what the fix can be depends on it).
        format: DataFormat,
        /// Whether the declared `schema` pins the column (to `found`).
        pinned: bool,
    },
}

/// Reads the file a command wrote to `STRATA_OUTPUT`: see the module documentation.
///
/// The reading runs on tokio's blocking pool: the readers are synchronous, and an output can
/// be large.
pub async fn read_output(path: &Path, spec: &OutputSpec<'_>) -> Result<Output, OutputError> {
    let owned_path = path.to_path_buf();
    let format = spec.format;
    let pinned = spec.pinned.clone();
    let established = spec.established.cloned();
    let task = tokio::task::spawn_blocking(move || {
        let spec = OutputSpec {
            format,
            pinned: &pinned,
            established: established.as_ref(),
        };
        read_output_blocking(&owned_path, &spec)
    });
    match task.await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(OutputError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("the read was cancelled because the runtime is shutting down"),
        }),
    }
}

/// [`read_output`] on the calling thread.
fn read_output_blocking(path: &Path, spec: &OutputSpec<'_>) -> Result<Output, OutputError> {
    let file = open_non_empty(path, spec.format)?;
    let source = Source {
        path,
        format: spec.format,
    };
    let output = match spec.format {
        DataFormat::Parquet => read_parquet(file, &source)?,
        DataFormat::ArrowIpc => read_ipc(file, &source)?,
        DataFormat::Csv => return csv::read(file, &source, spec),
        DataFormat::Ndjson => return ndjson::read(file, &source, spec),
    };
    check_drift(&output.schema, spec)?;
    Ok(output)
}

/// The file being read, for error messages.
struct Source<'a> {
    path: &'a Path,
    format: DataFormat,
}

impl Source<'_> {
    fn unreadable(&self, reason: impl fmt::Display) -> OutputError {
        OutputError::Unreadable {
            path: self.path.to_path_buf(),
            format: self.format,
            reason: reason.to_string(),
        }
    }

    /// An error of a format reader: an I/O failure stays one, anything else is a bad file —
    /// including reading past the end, which is what a truncated or foreign file looks like.
    fn arrow_error(&self, error: ArrowError) -> OutputError {
        match error {
            ArrowError::IoError(_, source)
                if matches!(
                    source.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
                ) =>
            {
                self.unreadable(format!(
                    "the file ends where more data was expected ({source}): it is truncated, or \
                     not {} at all",
                    format_name(self.format)
                ))
            }
            ArrowError::IoError(_, source) => self.io_error(source),
            other => self.unreadable(strip_kind_prefix(&other.to_string())),
        }
    }

    fn io_error(&self, source: io::Error) -> OutputError {
        OutputError::Io {
            path: self.path.to_path_buf(),
            source,
        }
    }
}

/// Opens the output file, refusing a missing or empty one.
fn open_non_empty(path: &Path, format: DataFormat) -> Result<File, OutputError> {
    let empty = || OutputError::Empty {
        path: path.to_path_buf(),
        format,
    };
    let io_error = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(empty()),
        Err(error) => return Err(io_error(error)),
    };
    if file.metadata().map_err(io_error)?.len() == 0 {
        return Err(empty());
    }
    Ok(file)
}

fn read_parquet(file: File, source: &Source<'_>) -> Result<Output, OutputError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.with_batch_size(BATCH_ROWS).build())
        .map_err(|error| source.unreadable(strip_kind_prefix(&error.to_string())))?;
    let schema = reader.schema();
    collect(schema, reader, source)
}

/// Reads the Arrow IPC file format (what `pyarrow.ipc.new_file` and Feather v2 write), and
/// also the stream format (`new_stream`), told apart by the file format's magic bytes: which
/// of the two a script used is an easy mistake with no reason to fail.
fn read_ipc(mut file: File, source: &Source<'_>) -> Result<Output, OutputError> {
    let mut magic = [0u8; 6];
    let is_file_format = match file.read_exact(&mut magic) {
        Ok(()) => &magic == b"ARROW1",
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => false,
        Err(error) => return Err(source.io_error(error)),
    };
    file.seek(SeekFrom::Start(0))
        .map_err(|error| source.io_error(error))?;
    if is_file_format {
        let reader = FileReader::try_new(file, None).map_err(|error| source.arrow_error(error))?;
        let schema = reader.schema();
        collect(schema, reader, source)
    } else {
        let reader = StreamReader::try_new(BufReader::new(file), None)
            .map_err(|error| source.arrow_error(error))?;
        let schema = reader.schema();
        collect(schema, reader, source)
    }
}

/// Drains a reader of a self-describing format.
fn collect(
    schema: SchemaRef,
    reader: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    source: &Source<'_>,
) -> Result<Output, OutputError> {
    let mut batches = Vec::new();
    let mut rows = 0;
    for batch in reader {
        let batch = batch.map_err(|error| source.arrow_error(error))?;
        rows += batch.num_rows() as u64;
        if batch.num_rows() > 0 {
            batches.push(batch);
        }
    }
    Ok(Output {
        schema,
        batches,
        rows,
    })
}

/// Refuses a column whose type differs from the asset's earlier partitions.
fn check_drift(schema: &Schema, spec: &OutputSpec<'_>) -> Result<(), OutputError> {
    let Some(established) = spec.established else {
        return Ok(());
    };
    for field in schema.fields() {
        let Ok(earlier) = established.field_with_name(field.name()) else {
            continue;
        };
        if !same_type(field.data_type(), earlier.data_type()) {
            return Err(OutputError::Drift {
                column: field.name().clone(),
                found: field.data_type().clone(),
                established: earlier.data_type().clone(),
                format: spec.format,
                pinned: spec.pinned.contains_key(field.name()),
            });
        }
    }
    Ok(())
}

/// Type equality that ignores nullability, also of nested fields, and the names writers give
/// list items (`item`, `element`) — neither changes what a reader of the asset sees.
fn same_type(a: &DataType, b: &DataType) -> bool {
    use DataType::{FixedSizeList, LargeList, List, Map, Struct};
    match (a, b) {
        (List(a), List(b)) | (LargeList(a), LargeList(b)) => {
            same_type(a.data_type(), b.data_type())
        }
        (FixedSizeList(a, a_size), FixedSizeList(b, b_size)) => {
            a_size == b_size && same_type(a.data_type(), b.data_type())
        }
        (Struct(a), Struct(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|(a, b)| a.name() == b.name() && same_type(a.data_type(), b.data_type()))
        }
        (Map(a, a_sorted), Map(b, b_sorted)) => {
            a_sorted == b_sorted && same_type(a.data_type(), b.data_type())
        }
        _ => a == b,
    }
}

/// How messages name a type: the declaration's names where there is one.
fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::Boolean => "boolean".into(),
        other => other.to_string(),
    }
}

fn column_type_name(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::Int64 => "int64",
        ColumnType::Float64 => "float64",
        ColumnType::Utf8 => "utf8",
    }
}

/// The Arrow type of a pinned column.
fn pinned_data_type(column_type: ColumnType) -> DataType {
    match column_type {
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Utf8 => DataType::Utf8,
    }
}

/// The pinnable type equal to an Arrow type, if any.
fn pinnable(data_type: &DataType) -> Option<ColumnType> {
    match data_type {
        DataType::Int64 => Some(ColumnType::Int64),
        DataType::Float64 => Some(ColumnType::Float64),
        DataType::Utf8 => Some(ColumnType::Utf8),
        _ => None,
    }
}

/// What to do about drift: which fixes exist depends on whether the format's types can be
/// pinned and whether they already are.
fn drift_hint(
    column: &str,
    found: &DataType,
    established: &DataType,
    format: DataFormat,
    pinned: bool,
) -> String {
    let (found_name, established_name) = (type_name(found), type_name(established));
    let text_format = matches!(format, DataFormat::Csv | DataFormat::Ndjson);
    let pin = |column_type: ColumnType| {
        format!(
            "schema = {{ {} = \"{}\" }}",
            toml_key(column),
            column_type_name(column_type)
        )
    };
    match (text_format, pinned, pinnable(found), pinnable(established)) {
        (true, true, _, Some(earlier)) => format!(
            "the asset's schema pins it to {found_name}: re-materialize the earlier partitions \
             so they hold {found_name} too, or pin it with {} instead",
            pin(earlier)
        ),
        (true, true, _, None) => format!(
            "the asset's schema pins it to {found_name}: re-materialize the earlier partitions \
             so they hold {found_name} too"
        ),
        (true, false, Some(here), _) => format!(
            "make the command write {established_name}, or pin the type with {} (and \
             re-materialize the earlier partitions)",
            pin(here)
        ),
        _ => format!(
            "make the command write {established_name}, or re-materialize the earlier \
             partitions so they all hold {found_name}"
        ),
    }
}

/// A column name as a TOML key: bare when it can be, quoted otherwise.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        serde_json::Value::String(name.to_string()).to_string()
    }
}

/// The format as people write it.
fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Parquet => "Parquet",
        DataFormat::ArrowIpc => "Arrow IPC",
        DataFormat::Csv => "CSV",
        DataFormat::Ndjson => "NDJSON",
    }
}

fn with_article(format: DataFormat) -> String {
    let article = match format {
        DataFormat::ArrowIpc | DataFormat::Ndjson => "an",
        DataFormat::Parquet | DataFormat::Csv => "a",
    };
    format!("{article} {}", format_name(format))
}

/// The format as the declaration writes it (`output = "…"`).
fn declared_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Parquet => "parquet",
        DataFormat::ArrowIpc => "arrow_ipc",
        DataFormat::Csv => "csv",
        DataFormat::Ndjson => "ndjson",
    }
}

fn list_columns(columns: &[String]) -> String {
    if columns.is_empty() {
        return "no columns".into();
    }
    columns
        .iter()
        .map(|column| format!("`{column}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A reader's message without its kind prefix ("Csv error: …"), which the surrounding
/// sentence already says.
fn strip_kind_prefix(text: &str) -> String {
    for prefix in [
        "Csv error: ",
        "Json error: ",
        "Parser error: ",
        "Ipc error: ",
        "Parquet error: ",
        "Invalid argument error: ",
        "Schema error: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    text.to_string()
}

/// Builds the schema of a text output once its columns are typed.
fn text_schema(columns: impl IntoIterator<Item = (String, DataType)>) -> SchemaRef {
    let fields: Vec<_> = columns
        .into_iter()
        .map(|(name, data_type)| arrow::datatypes::Field::new(name, data_type, true))
        .collect();
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests;
