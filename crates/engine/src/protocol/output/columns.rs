//! Typing the columns of a text output (CSV, NDJSON): the rules in the parent module's
//! documentation, written once over a [`Cell`] that each format implements.
//!
//! Two passes: [`ColumnStats::observe`] sees every value and remembers only which types all of
//! them fit; [`type_columns`] then fixes each column's type, and [`build_column`] converts the
//! cells. Because inference and conversion ask the same [`Cell`], an inferred type always
//! converts; only a pinned type can meet a value it does not hold.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, new_null_array,
};
use arrow::datatypes::{DataType, SchemaRef};

use super::{OutputError, OutputSpec, check_drift, pinned_data_type, text_schema};

/// One non-null value of a text file.
pub(super) trait Cell {
    /// Which types the value has as written, for inference. A CSV field is text that may
    /// parse as a number; an NDJSON value has a JSON type.
    fn fits(&self) -> Fits;
    /// The value as int64, as pinning converts it: more lenient than [`Cell::fits`] where the
    /// format allows (an NDJSON string `"12"` converts to a pinned int64).
    fn to_i64(&self) -> Option<i64>;
    /// The value as float64, as pinning converts it.
    fn to_f64(&self) -> Option<f64>;
    /// The value as a boolean.
    fn to_bool(&self) -> Option<bool>;
    /// The value as text (every value has one).
    fn to_text(&self) -> Cow<'_, str>;
    /// The value as an error message shows it: quoted, shortened.
    fn echo(&self) -> String;
}

/// Which types a value, or every value of a column, fits without conversion. Text fits every
/// value, so it has no flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fits {
    /// An integer in int64's range.
    pub(super) int64: bool,
    /// A number.
    pub(super) float64: bool,
    /// A boolean.
    pub(super) boolean: bool,
}

impl Fits {
    const ALL: Self = Self {
        int64: true,
        float64: true,
        boolean: true,
    };

    fn any(self) -> bool {
        self.int64 || self.float64 || self.boolean
    }

    fn admits(self, data_type: &DataType) -> bool {
        match data_type {
            DataType::Int64 => self.int64,
            DataType::Float64 => self.float64,
            DataType::Boolean => self.boolean,
            DataType::Utf8 => true,
            _ => false,
        }
    }
}

/// What the first pass remembers of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ColumnStats {
    /// How many non-null values it has.
    values: u64,
    /// Which types all of them fit.
    fits: Fits,
}

impl Default for ColumnStats {
    fn default() -> Self {
        Self {
            values: 0,
            fits: Fits::ALL,
        }
    }
}

impl ColumnStats {
    /// Accounts for one non-null value.
    pub(super) fn observe(&mut self, cell: &impl Cell) {
        self.values += 1;
        // Once a column is text, no value can narrow it: skip parsing the rest.
        if self.fits.any() {
            let fits = cell.fits();
            self.fits.int64 &= fits.int64;
            self.fits.float64 &= fits.float64;
            self.fits.boolean &= fits.boolean;
        }
    }

    /// The narrowest type holding every value; `None` when there is no value.
    fn inferred(&self) -> Option<DataType> {
        if self.values == 0 {
            None
        } else if self.fits.int64 {
            Some(DataType::Int64)
        } else if self.fits.float64 {
            Some(DataType::Float64)
        } else if self.fits.boolean {
            Some(DataType::Boolean)
        } else {
            Some(DataType::Utf8)
        }
    }
}

/// A column of a text file after the first pass.
#[derive(Clone, Debug)]
pub(super) struct SeenColumn {
    /// Its name in the file.
    pub(super) name: String,
    /// What its values allow.
    pub(super) stats: ColumnStats,
}

/// Types every column (pinned, then established, then inferred) and refuses a missing pinned
/// column or drift. The schema keeps the file's column order.
pub(super) fn type_columns(
    columns: &[SeenColumn],
    spec: &OutputSpec<'_>,
) -> Result<SchemaRef, OutputError> {
    for (name, pinned) in spec.pinned {
        if !columns.iter().any(|column| &column.name == name) {
            return Err(OutputError::PinnedMissing {
                column: name.clone(),
                pinned: *pinned,
                found: columns.iter().map(|column| column.name.clone()).collect(),
            });
        }
    }
    let schema = text_schema(columns.iter().map(|column| {
        let established = spec
            .established
            .and_then(|schema| schema.field_with_name(&column.name).ok())
            .map(|field| field.data_type());
        let data_type = match (spec.pinned.get(&column.name), column.stats.inferred()) {
            (Some(pinned), _) => pinned_data_type(*pinned),
            (None, None) => established.cloned().unwrap_or(DataType::Utf8),
            (None, Some(inferred)) => match established {
                Some(earlier) if column.stats.fits.admits(earlier) => earlier.clone(),
                _ => inferred,
            },
        };
        (column.name.clone(), data_type)
    }));
    check_drift(&schema, spec)?;
    Ok(schema)
}

/// A value that does not convert to its column's type: its index among the cells given to
/// [`build_column`], and how to show it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BadCell {
    pub(super) index: usize,
    pub(super) value: String,
}

/// Converts one column's cells (`None` is null) to an array of `data_type`.
pub(super) fn build_column<C: Cell>(
    data_type: &DataType,
    len: usize,
    cells: impl Iterator<Item = Option<C>>,
) -> Result<ArrayRef, BadCell> {
    fn convert<C: Cell, T>(
        cells: impl Iterator<Item = Option<C>>,
        to: impl Fn(&C) -> Option<T>,
        mut append: impl FnMut(Option<T>),
    ) -> Result<(), BadCell> {
        for (index, cell) in cells.enumerate() {
            match cell {
                None => append(None),
                Some(cell) => match to(&cell) {
                    Some(value) => append(Some(value)),
                    None => {
                        return Err(BadCell {
                            index,
                            value: cell.echo(),
                        });
                    }
                },
            }
        }
        Ok(())
    }
    Ok(match data_type {
        DataType::Int64 => {
            let mut builder = Int64Builder::with_capacity(len);
            convert(cells, Cell::to_i64, |v| builder.append_option(v))?;
            Arc::new(builder.finish())
        }
        DataType::Float64 => {
            let mut builder = Float64Builder::with_capacity(len);
            convert(cells, Cell::to_f64, |v| builder.append_option(v))?;
            Arc::new(builder.finish())
        }
        DataType::Boolean => {
            let mut builder = BooleanBuilder::with_capacity(len);
            convert(cells, Cell::to_bool, |v| builder.append_option(v))?;
            Arc::new(builder.finish())
        }
        DataType::Utf8 => {
            let mut builder = StringBuilder::with_capacity(len, len * 8);
            for cell in cells {
                match cell {
                    Some(cell) => builder.append_value(cell.to_text()),
                    None => builder.append_null(),
                }
            }
            Arc::new(builder.finish())
        }
        // Only a column without values takes a type outside the four above (an earlier
        // partition's, e.g. a timestamp from Parquet): it is all null.
        other => {
            convert(cells, |_| None::<()>, |_| {})?;
            new_null_array(other, len)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Field, Int64Type, Schema};
    use strata_core::model::{ColumnType, DataFormat};

    use super::*;

    /// A cell for tests: text that fits what it parses as.
    struct Text(&'static str);

    impl Cell for Text {
        fn fits(&self) -> Fits {
            Fits {
                int64: self.0.parse::<i64>().is_ok(),
                float64: self.0.parse::<f64>().is_ok(),
                boolean: false,
            }
        }
        fn to_i64(&self) -> Option<i64> {
            self.0.parse().ok()
        }
        fn to_f64(&self) -> Option<f64> {
            self.0.parse().ok()
        }
        fn to_bool(&self) -> Option<bool> {
            None
        }
        fn to_text(&self) -> Cow<'_, str> {
            Cow::Borrowed(self.0)
        }
        fn echo(&self) -> String {
            format!("{:?}", self.0)
        }
    }

    fn seen(name: &str, values: &[&'static str]) -> SeenColumn {
        let mut stats = ColumnStats::default();
        for value in values {
            stats.observe(&Text(value));
        }
        SeenColumn {
            name: name.into(),
            stats,
        }
    }

    fn types(columns: &[SeenColumn], established: Option<&Schema>) -> Vec<DataType> {
        let pinned = BTreeMap::new();
        let spec = OutputSpec {
            format: DataFormat::Csv,
            pinned: &pinned,
            established,
        };
        let schema = type_columns(columns, &spec).unwrap();
        schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect()
    }

    #[test]
    fn inference_takes_the_narrowest_type_holding_every_value() {
        let columns = [
            seen("ints", &["1", "-2", "+3"]),
            seen("floats", &["1.5", "2", "1e3"]),
            seen("texts", &["1", "x"]),
            seen("none", &[]),
        ];
        assert_eq!(
            types(&columns, None),
            [
                DataType::Int64,
                DataType::Float64,
                DataType::Utf8,
                DataType::Utf8
            ]
        );
    }

    #[test]
    fn an_established_type_wins_when_every_value_fits_it() {
        let established = Schema::new(vec![
            Field::new("whole", DataType::Float64, true),
            Field::new("code", DataType::Utf8, true),
            Field::new("none", DataType::Date32, true),
        ]);
        let columns = [
            seen("whole", &["1", "2"]),
            seen("code", &["1545", "7"]),
            seen("none", &[]),
        ];
        assert_eq!(
            types(&columns, Some(&established)),
            [DataType::Float64, DataType::Utf8, DataType::Date32]
        );
    }

    #[test]
    fn build_column_converts_and_names_the_first_bad_cell() {
        let cells = [Some(Text("1")), None, Some(Text("3"))];
        let array = build_column(&DataType::Int64, 3, cells.into_iter()).unwrap();
        let ints = array.as_primitive::<Int64Type>();
        assert_eq!(ints.iter().collect::<Vec<_>>(), [Some(1), None, Some(3)]);

        let cells = [Some(Text("1")), Some(Text("x")), Some(Text("y"))];
        let bad = build_column(&DataType::Int64, 3, cells.into_iter()).unwrap_err();
        assert_eq!(
            bad,
            BadCell {
                index: 1,
                value: "\"x\"".into()
            }
        );

        let nulls = build_column::<Text>(&DataType::Date32, 2, [None, None].into_iter()).unwrap();
        assert_eq!(nulls.data_type(), &DataType::Date32);
        assert_eq!(nulls.null_count(), 2);
    }

    #[test]
    fn a_missing_pinned_column_is_refused_before_anything_else() {
        let pinned = BTreeMap::from([("flights".to_string(), ColumnType::Int64)]);
        let spec = OutputSpec {
            format: DataFormat::Csv,
            pinned: &pinned,
            established: None,
        };
        let error = type_columns(&[seen("a", &["1"]), seen("b", &[])], &spec).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the asset's schema pins column `flights` to int64, but the command's output has \
             no column `flights` (it has: `a`, `b`); write that column, or remove it from \
             `schema`"
        );
    }
}
