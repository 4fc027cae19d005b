//! CSV output: a header row, comma-separated fields in RFC 4180 quoting, an empty field is
//! null.
//!
//! Arrow's CSV reader splits the file into batches of text columns; the typing is ours
//! ([`super::columns`]), because Arrow's own inference guesses dates and booleans where the
//! contract promises only int64, float64 and utf8. A field is an int64 or float64 exactly when
//! Rust's `str::parse` accepts it: a sign is allowed, surrounding spaces are not (`" 5"` is
//! text), leading zeros are dropped (`"02134"` is 2134 — pin the column to utf8 to keep them),
//! and `nan`/`inf` are floats, as Python's `str(float)` writes them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::columns::{Cell, ColumnStats, Fits, SeenColumn, build_column, type_columns};
use super::{BATCH_ROWS, Output, OutputError, OutputSpec, Position, Source, type_name};
use crate::protocol::clip;

impl Cell for &str {
    fn fits(&self) -> Fits {
        Fits {
            int64: self.parse::<i64>().is_ok(),
            float64: self.parse::<f64>().is_ok(),
            boolean: false,
        }
    }

    fn to_i64(&self) -> Option<i64> {
        self.parse().ok()
    }

    fn to_f64(&self) -> Option<f64> {
        self.parse().ok()
    }

    fn to_bool(&self) -> Option<bool> {
        None
    }

    fn to_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }

    fn echo(&self) -> String {
        clip(&serde_json::Value::String(self.to_string()).to_string())
    }
}

/// Reads a CSV output: see the module documentation.
pub(super) fn read(
    mut file: File,
    source: &Source<'_>,
    spec: &OutputSpec<'_>,
) -> Result<Output, OutputError> {
    let names = header(&file, source)?;
    file.seek(SeekFrom::Start(0))
        .map_err(|error| source.io_error(error))?;

    // First pass: the file as text columns, and what their values allow.
    let as_text = Arc::new(Schema::new(
        names
            .iter()
            .map(|name| Field::new(name, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let reader = ReaderBuilder::new(as_text)
        .with_header(true)
        .with_batch_size(BATCH_ROWS)
        .build(file)
        .map_err(|error| source.arrow_error(error))?;
    let mut stats = vec![ColumnStats::default(); names.len()];
    let mut text_batches = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|error| source.arrow_error(error))?;
        for (column, stats) in batch.columns().iter().zip(&mut stats) {
            for value in column.as_string::<i32>().iter().flatten() {
                stats.observe(&value);
            }
        }
        text_batches.push(batch);
    }
    let seen: Vec<SeenColumn> = names
        .into_iter()
        .zip(stats)
        .map(|(name, stats)| SeenColumn { name, stats })
        .collect();
    let schema = type_columns(&seen, spec)?;

    // Second pass: convert each batch to the column types.
    let mut batches = Vec::with_capacity(text_batches.len());
    let mut rows = 0u64;
    for text in text_batches {
        let columns = schema
            .fields()
            .iter()
            .zip(text.columns())
            .map(|(field, column)| convert(field, column, rows))
            .collect::<Result<Vec<_>, _>>()?;
        rows += text.num_rows() as u64;
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|error| source.arrow_error(error))?;
        batches.push(batch);
    }
    Ok(Output {
        schema,
        batches,
        rows,
    })
}

/// The header's column names, refusing ones no query could address.
fn header(file: &File, source: &Source<'_>) -> Result<Vec<String>, OutputError> {
    let (header, _) = Format::default()
        .with_header(true)
        .infer_schema(file, Some(0))
        .map_err(|error| source.arrow_error(error))?;
    let names: Vec<String> = header.fields().iter().map(|f| f.name().clone()).collect();
    if names.is_empty() {
        return Err(source.unreadable("it has no header row"));
    }
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (index, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(source.unreadable(format!(
                "column {} of the header row has no name",
                index + 1
            )));
        }
        if let Some(first) = first_seen.insert(name, index) {
            return Err(source.unreadable(format!(
                "the header row names column `{name}` twice (columns {} and {})",
                first + 1,
                index + 1
            )));
        }
    }
    Ok(names)
}

/// Converts one text column of a batch whose first row is data row `offset + 1`.
fn convert(field: &Field, text: &ArrayRef, offset: u64) -> Result<ArrayRef, OutputError> {
    if field.data_type() == &DataType::Utf8 {
        return Ok(text.clone());
    }
    let strings = text.as_string::<i32>();
    build_column(field.data_type(), strings.len(), strings.iter()).map_err(|bad| {
        OutputError::BadValue {
            column: field.name().clone(),
            expected: type_name(field.data_type()),
            at: Position::Row(offset + bad.index as u64 + 1),
            value: bad.value,
        }
    })
}
