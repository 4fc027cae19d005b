//! NDJSON output: one JSON object per line; a key's value is that column's value, a missing
//! key or `null` is null. Blank lines are ignored; columns are ordered by first appearance.
//!
//! Inference goes by JSON type: integers (within int64) are int64, other numbers float64 (so
//! ints mixed with floats are float64), strings utf8, booleans boolean. Any other mix — strings
//! with numbers, booleans with numbers — and every array or object is utf8, holding strings as
//! they are and everything else as its JSON text: the data survives and can be parsed
//! downstream, where failing would lose a run over a column the user may not even query.
//!
//! Pinning converts: a pinned int64 or float64 column also accepts strings that parse as the
//! type (`"12"`), since quoting numbers is a common way to protect them; a pinned utf8 column
//! holds non-strings as their JSON text.
//!
//! The lines are parsed by serde_json here rather than by Arrow's JSON reader, which needs the
//! types up front and cannot say which line held a value.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};

use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::error::Category;

use super::columns::{Cell, ColumnStats, Fits, SeenColumn, build_column, type_columns};
use super::{BATCH_ROWS, Output, OutputError, OutputSpec, Position, Source, type_name};
use crate::protocol::{clip, echo_json, json_error_message};

impl Cell for &Value {
    fn fits(&self) -> Fits {
        match self {
            Value::Number(number) => Fits {
                int64: number.is_i64(),
                float64: true,
                boolean: false,
            },
            Value::Bool(_) => Fits {
                int64: false,
                float64: false,
                boolean: true,
            },
            _ => Fits {
                int64: false,
                float64: false,
                boolean: false,
            },
        }
    }

    fn to_i64(&self) -> Option<i64> {
        match self {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        }
    }

    fn to_f64(&self) -> Option<f64> {
        match self {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        }
    }

    fn to_bool(&self) -> Option<bool> {
        self.as_bool()
    }

    fn to_text(&self) -> Cow<'_, str> {
        match self {
            Value::String(text) => Cow::Borrowed(text),
            other => Cow::Owned(other.to_string()),
        }
    }

    fn echo(&self) -> String {
        echo_json(self)
    }
}

/// One line's values by column index (nulls left out), and the line number for errors.
struct Row {
    line: u64,
    cells: Vec<(usize, Value)>,
}

/// Reads an NDJSON output: see the module documentation.
pub(super) fn read(
    file: File,
    source: &Source<'_>,
    spec: &OutputSpec<'_>,
) -> Result<Output, OutputError> {
    // First pass: parse every line, collecting columns and what their values allow.
    let mut columns: Vec<SeenColumn> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    // For each column, the last row that set it (1-based; 0 is never): finds repeated keys.
    let mut last_row: Vec<usize> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    for (index, bytes) in BufReader::new(file).split(b'\n').enumerate() {
        let line = index as u64 + 1;
        let bytes = bytes.map_err(|error| source.io_error(error))?;
        let text = std::str::from_utf8(&bytes).map_err(|error| {
            source.unreadable(format!(
                "line {line} is not UTF-8 text (byte {} of the line)",
                error.valid_up_to() + 1
            ))
        })?;
        let text = if index == 0 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            continue;
        }
        let Object(fields) = serde_json::from_str(text).map_err(|error| {
            // A data error can only be valid JSON that is not an object: keys are strings and
            // values may be anything.
            let what = match error.classify() {
                Category::Data => "is not a JSON object".to_string(),
                _ => format!("is not valid JSON: {}", json_error_message(&error)),
            };
            source.unreadable(format!(
                "line {line} {what}; it reads `{}`",
                clip(text.trim())
            ))
        })?;
        let row_number = rows.len() + 1;
        let mut cells = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            let column = match index_of.get(&name) {
                Some(&column) => column,
                None => {
                    index_of.insert(name.clone(), columns.len());
                    columns.push(SeenColumn {
                        name: name.clone(),
                        stats: ColumnStats::default(),
                    });
                    last_row.push(0);
                    columns.len() - 1
                }
            };
            if last_row[column] == row_number {
                return Err(source.unreadable(format!("line {line} names `{name}` twice")));
            }
            last_row[column] = row_number;
            if !value.is_null() {
                columns[column].stats.observe(&&value);
                cells.push((column, value));
            }
        }
        rows.push(Row { line, cells });
    }
    let schema = type_columns(&columns, spec)?;

    // Second pass: build each batch of rows column by column.
    let mut batches = Vec::with_capacity(rows.len().div_ceil(BATCH_ROWS));
    for chunk in rows.chunks(BATCH_ROWS) {
        let mut grid: Vec<Vec<Option<&Value>>> = vec![vec![None; chunk.len()]; columns.len()];
        for (position, row) in chunk.iter().enumerate() {
            for (column, value) in &row.cells {
                grid[*column][position] = Some(value);
            }
        }
        let arrays = schema
            .fields()
            .iter()
            .zip(grid)
            .map(|(field, cells)| {
                build_column(field.data_type(), chunk.len(), cells.into_iter()).map_err(|bad| {
                    OutputError::BadValue {
                        column: field.name().clone(),
                        expected: type_name(field.data_type()),
                        at: Position::Line(chunk[bad.index].line),
                        value: bad.value,
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The row count is explicit: lines of `{}` make rows without columns.
        let options = RecordBatchOptions::new().with_row_count(Some(chunk.len()));
        let batch = RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
            .map_err(|error| source.arrow_error(error))?;
        batches.push(batch);
    }
    Ok(Output {
        schema,
        batches,
        rows: rows.len() as u64,
    })
}

/// A JSON object's fields in the order the line writes them (serde_json's map sorts them
/// unless a feature is on, and the schema must follow the file).
struct Object(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Object;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(field) = map.next_entry::<String, Value>()? {
                    fields.push(field);
                }
                Ok(Object(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}
