//! Reading every format through [`read_output`], as the executor does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use arrow::ipc::writer::{FileWriter, StreamWriter};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use strata_core::model::{ColumnType, DataFormat};
use tempfile::TempDir;

use super::*;

/// A temporary output file.
struct Written {
    _dir: TempDir,
    path: PathBuf,
}

fn write(contents: impl AsRef<[u8]>) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("output");
    std::fs::write(&path, contents).unwrap();
    Written { _dir: dir, path }
}

async fn read(
    written: &Written,
    format: DataFormat,
    pinned: &[(&str, ColumnType)],
    established: Option<&Schema>,
) -> Result<Output, OutputError> {
    let pinned: BTreeMap<String, ColumnType> = pinned
        .iter()
        .map(|(name, column_type)| (name.to_string(), *column_type))
        .collect();
    let spec = OutputSpec {
        format,
        pinned: &pinned,
        established,
    };
    read_output(&written.path, &spec).await
}

fn schema_of(fields: &[(&str, DataType)]) -> Schema {
    Schema::new(
        fields
            .iter()
            .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
            .collect::<Vec<_>>(),
    )
}

fn types(output: &Output) -> Vec<(String, DataType)> {
    output
        .schema
        .fields()
        .iter()
        .map(|field| (field.name().clone(), field.data_type().clone()))
        .collect()
}

fn named(pairs: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    pairs
        .iter()
        .map(|(name, data_type)| (name.to_string(), data_type.clone()))
        .collect()
}

/// A column of the only batch.
fn column(output: &Output, name: &str) -> ArrayRef {
    assert_eq!(output.batches.len(), 1);
    output.batches[0]
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .clone()
}

fn ints(array: &ArrayRef) -> Vec<Option<i64>> {
    array.as_primitive::<Int64Type>().iter().collect()
}

fn floats(array: &ArrayRef) -> Vec<Option<f64>> {
    array.as_primitive::<Float64Type>().iter().collect()
}

fn texts(array: &ArrayRef) -> Vec<Option<String>> {
    array
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(String::from))
        .collect()
}

// ---- CSV ----

#[tokio::test]
async fn csv_columns_are_inferred_int_float_then_utf8_and_empty_fields_are_null() {
    let file = write("ints,floats,mixed,texts,empty\n1,1.5,1,a,\n-2,2.5,2.5,,\n,3,,c,\n");
    let output = read(&file, DataFormat::Csv, &[], None).await.unwrap();
    assert_eq!(
        types(&output),
        named(&[
            ("ints", DataType::Int64),
            ("floats", DataType::Float64),
            ("mixed", DataType::Float64),
            ("texts", DataType::Utf8),
            ("empty", DataType::Utf8),
        ])
    );
    assert!(output.schema.fields().iter().all(|f| f.is_nullable()));
    assert_eq!(output.rows, 3);
    assert_eq!(ints(&column(&output, "ints")), [Some(1), Some(-2), None]);
    assert_eq!(
        floats(&column(&output, "floats")),
        [Some(1.5), Some(2.5), Some(3.0)]
    );
    assert_eq!(
        floats(&column(&output, "mixed")),
        [Some(1.0), Some(2.5), None]
    );
    assert_eq!(
        texts(&column(&output, "texts")),
        [Some("a".into()), None, Some("c".into())]
    );
    assert_eq!(column(&output, "empty").null_count(), 3);
}

#[tokio::test]
async fn csv_inference_is_strict_about_what_is_a_number() {
    let file = write("spaced,zip,quoted,words\n 5,02134,\"7\",nan\n6,10001,\"8\",Nan\n");
    let output = read(&file, DataFormat::Csv, &[], None).await.unwrap();
    assert_eq!(
        types(&output),
        named(&[
            ("spaced", DataType::Utf8),
            ("zip", DataType::Int64),
            ("quoted", DataType::Int64),
            ("words", DataType::Float64),
        ])
    );
    assert_eq!(ints(&column(&output, "zip")), [Some(2134), Some(10001)]);
}

#[tokio::test]
async fn csv_all_null_column_takes_the_established_type_else_utf8() {
    let file = write("delay,note\n,\n,\n");
    let established = schema_of(&[("delay", DataType::Float64)]);
    let output = read(&file, DataFormat::Csv, &[], Some(&established))
        .await
        .unwrap();
    assert_eq!(
        types(&output),
        named(&[("delay", DataType::Float64), ("note", DataType::Utf8)])
    );
    assert_eq!(floats(&column(&output, "delay")), [None, None]);

    let established = schema_of(&[("delay", DataType::Date32)]);
    let output = read(&file, DataFormat::Csv, &[], Some(&established))
        .await
        .unwrap();
    assert_eq!(column(&output, "delay").data_type(), &DataType::Date32);
    assert_eq!(column(&output, "delay").null_count(), 2);
}

#[tokio::test]
async fn csv_header_only_gives_zero_rows_with_the_header_columns() {
    let file = write("a,b,c\n");
    let established = schema_of(&[("b", DataType::Int64)]);
    let output = read(
        &file,
        DataFormat::Csv,
        &[("c", ColumnType::Float64)],
        Some(&established),
    )
    .await
    .unwrap();
    assert_eq!(output.rows, 0);
    assert!(output.batches.is_empty());
    assert_eq!(
        types(&output),
        named(&[
            ("a", DataType::Utf8),
            ("b", DataType::Int64),
            ("c", DataType::Float64)
        ])
    );
    // Without a trailing newline too.
    let file = write("a,b");
    let output = read(&file, DataFormat::Csv, &[], None).await.unwrap();
    assert_eq!(output.rows, 0);
    assert_eq!(
        types(&output),
        named(&[("a", DataType::Utf8), ("b", DataType::Utf8)])
    );
}

#[tokio::test]
async fn csv_pinned_columns_take_the_pinned_type() {
    let file = write("zip,amount,n\n02134,1,7\n10001,2.5,\n");
    let output = read(
        &file,
        DataFormat::Csv,
        &[("zip", ColumnType::Utf8), ("amount", ColumnType::Float64)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        types(&output),
        named(&[
            ("zip", DataType::Utf8),
            ("amount", DataType::Float64),
            ("n", DataType::Int64)
        ])
    );
    assert_eq!(
        texts(&column(&output, "zip")),
        [Some("02134".into()), Some("10001".into())]
    );
    assert_eq!(floats(&column(&output, "amount")), [Some(1.0), Some(2.5)]);
}

#[tokio::test]
async fn csv_a_value_that_does_not_parse_as_its_pinned_type_names_column_row_and_value() {
    let file = write("carrier,flights\nUA,12\nAA,\nDL,12.5\n");
    let error = read(
        &file,
        DataFormat::Csv,
        &[("flights", ColumnType::Int64)],
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "output column `flights` is pinned to int64 by the asset's schema, but row 3 (after the \
         header) holds \"12.5\", which is not int64; make the command write int64 values there, \
         or change the pinned type"
    );
    assert!(matches!(
        error,
        OutputError::BadValue {
            at: Position::Row(3),
            ..
        }
    ));
}

#[tokio::test]
async fn csv_row_numbers_count_across_batches() {
    let mut text = String::from("n\n");
    for row in 1..=BATCH_ROWS + 10 {
        if row == BATCH_ROWS + 5 {
            text.push_str("oops\n");
        } else {
            text.push_str(&format!("{row}\n"));
        }
    }
    let file = write(&text);
    let error = read(&file, DataFormat::Csv, &[("n", ColumnType::Int64)], None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, OutputError::BadValue { at: Position::Row(row), .. } if row == BATCH_ROWS as u64 + 5),
        "{error}"
    );

    // Without the bad value, every batch converts and the rows add up.
    let file = write(text.replace("oops", "0"));
    let output = read(&file, DataFormat::Csv, &[], None).await.unwrap();
    assert_eq!(output.rows, BATCH_ROWS as u64 + 10);
    assert_eq!(output.batches.len(), 2);
    assert_eq!(output.schema.field(0).data_type(), &DataType::Int64);
}

#[tokio::test]
async fn csv_a_pinned_column_absent_from_the_file_is_an_error() {
    let file = write("carrier,origin\nUA,EWR\n");
    let error = read(
        &file,
        DataFormat::Csv,
        &[("flights", ColumnType::Int64)],
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the asset's schema pins column `flights` to int64, but the command's output has no \
         column `flights` (it has: `carrier`, `origin`); write that column, or remove it from \
         `schema`"
    );
}

#[tokio::test]
async fn csv_drift_from_the_established_schema_is_an_error_that_says_how_to_fix_it() {
    let file = write("carrier,dep_delay\nUA,1.5\n");
    let established = schema_of(&[("dep_delay", DataType::Int64)]);
    let error = read(&file, DataFormat::Csv, &[], Some(&established))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "output column `dep_delay` is float64 in this partition but int64 in the asset's \
         earlier partitions; make the command write int64, or pin the type with \
         schema = { dep_delay = \"float64\" } (and re-materialize the earlier partitions)"
    );
}

#[tokio::test]
async fn csv_drift_of_a_pinned_column_says_to_re_materialize() {
    let file = write("dep delay\n1\n");
    let established = schema_of(&[("dep delay", DataType::Int64)]);
    let error = read(
        &file,
        DataFormat::Csv,
        &[("dep delay", ColumnType::Float64)],
        Some(&established),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "output column `dep delay` is float64 in this partition but int64 in the asset's \
         earlier partitions; the asset's schema pins it to float64: re-materialize the earlier \
         partitions so they hold float64 too, or pin it with schema = { \"dep delay\" = \
         \"int64\" } instead"
    );
}

#[tokio::test]
async fn csv_values_that_fit_the_established_type_take_it_and_new_or_missing_columns_are_fine() {
    // Whole numbers in a float64 column, digits in a utf8 column: no conflict.
    let file = write("delay,flight_no,new\n1,1545,x\n2,7,y\n");
    let established = schema_of(&[
        ("delay", DataType::Float64),
        ("flight_no", DataType::Utf8),
        ("gone", DataType::Int64),
    ]);
    let output = read(&file, DataFormat::Csv, &[], Some(&established))
        .await
        .unwrap();
    assert_eq!(
        types(&output),
        named(&[
            ("delay", DataType::Float64),
            ("flight_no", DataType::Utf8),
            ("new", DataType::Utf8)
        ])
    );
    assert_eq!(floats(&column(&output, "delay")), [Some(1.0), Some(2.0)]);
    assert_eq!(
        texts(&column(&output, "flight_no")),
        [Some("1545".into()), Some("7".into())]
    );
}

#[tokio::test]
async fn csv_bad_headers_and_ragged_rows_are_unreadable() {
    let file = write("a,b,a\n1,2,3\n");
    let error = read(&file, DataFormat::Csv, &[], None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "STRATA_OUTPUT ({}) is not a readable CSV file: the header row names column `a` \
             twice (columns 1 and 3); the asset declares output = \"csv\", so the command must \
             write valid CSV there",
            file.path.display()
        )
    );

    let file = write("a,,b\n1,2,3\n");
    let error = read(&file, DataFormat::Csv, &[], None).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not a readable CSV file: column 2 of the header row has no name;"),
        "{error}"
    );

    let file = write("\n\n");
    let error = read(&file, DataFormat::Csv, &[], None).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not a readable CSV file: it has no header row;"),
        "{error}"
    );

    let file = write("a,b\n1,2\n3\n");
    let error = read(&file, DataFormat::Csv, &[], None).await.unwrap_err();
    assert!(matches!(error, OutputError::Unreadable { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("CSV file: incorrect number of fields for line 3, expected 2 got 1;"),
        "{error}"
    );
}

// ---- NDJSON ----

#[tokio::test]
async fn ndjson_columns_are_inferred_by_json_type_in_order_of_first_appearance() {
    let file = write(concat!(
        r#"{"z": 1, "f": 1.5, "m": 1, "s": "a", "b": true, "x": "a", "o": {"k": [1]}}"#,
        "\n",
        r#"{"z": null, "f": 2, "m": 2.5, "s": "b", "b": false, "x": 2, "o": [1, "two"]}"#,
        "\n",
        r#"{"late": 1}"#,
    ));
    let output = read(&file, DataFormat::Ndjson, &[], None).await.unwrap();
    assert_eq!(
        types(&output),
        named(&[
            ("z", DataType::Int64),
            ("f", DataType::Float64),
            ("m", DataType::Float64),
            ("s", DataType::Utf8),
            ("b", DataType::Boolean),
            ("x", DataType::Utf8),
            ("o", DataType::Utf8),
            ("late", DataType::Int64),
        ])
    );
    assert_eq!(output.rows, 3);
    assert_eq!(ints(&column(&output, "z")), [Some(1), None, None]);
    assert_eq!(floats(&column(&output, "m")), [Some(1.0), Some(2.5), None]);
    let booleans: Vec<_> = column(&output, "b").as_boolean().iter().collect();
    assert_eq!(booleans, [Some(true), Some(false), None]);
    assert_eq!(
        texts(&column(&output, "x")),
        [Some("a".into()), Some("2".into()), None]
    );
    assert_eq!(
        texts(&column(&output, "o")),
        [
            Some(r#"{"k":[1]}"#.into()),
            Some(r#"[1,"two"]"#.into()),
            None
        ]
    );
    assert_eq!(ints(&column(&output, "late")), [None, None, Some(1)]);
}

#[tokio::test]
async fn ndjson_pinned_columns_convert_and_a_bad_value_names_its_line() {
    let file = write(concat!(
        r#"{"n": 1, "quoted": "12", "zip": 2134, "x": 1}"#,
        "\n\n",
        r#"{"n": 2.5, "quoted": 13, "zip": "02134", "x": 2}"#,
        "\r\n",
    ));
    let output = read(
        &file,
        DataFormat::Ndjson,
        &[
            ("n", ColumnType::Float64),
            ("quoted", ColumnType::Int64),
            ("zip", ColumnType::Utf8),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(floats(&column(&output, "n")), [Some(1.0), Some(2.5)]);
    assert_eq!(ints(&column(&output, "quoted")), [Some(12), Some(13)]);
    assert_eq!(
        texts(&column(&output, "zip")),
        [Some("2134".into()), Some("02134".into())]
    );

    let error = read(&file, DataFormat::Ndjson, &[("n", ColumnType::Int64)], None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "output column `n` is pinned to int64 by the asset's schema, but line 3 holds 2.5, \
         which is not int64; make the command write int64 values there, or change the pinned \
         type"
    );
}

#[tokio::test]
async fn ndjson_a_line_that_is_not_an_object_or_repeats_a_key_is_unreadable() {
    let file = write("{\"a\": 1}\n[1, 2]\n");
    let error = read(&file, DataFormat::Ndjson, &[], None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "STRATA_OUTPUT ({}) is not a readable NDJSON file: line 2 is not a JSON object; \
             it reads `[1, 2]`; the asset declares output = \"ndjson\", so the command must write valid NDJSON there",
            file.path.display()
        )
    );

    let file = write("{\"a\": 1}\n{\"a\": 1,}\n");
    let error = read(&file, DataFormat::Ndjson, &[], None)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains(": line 2 is not valid JSON: trailing comma (column 9); it reads"),
        "{error}"
    );

    let file = write("{\"a\": 1, \"a\": 2}\n");
    let error = read(&file, DataFormat::Ndjson, &[], None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(": line 1 names `a` twice;"),
        "{error}"
    );
}

#[tokio::test]
async fn ndjson_all_null_column_takes_the_established_type_and_drift_is_refused() {
    let file = write("{\"a\": null, \"b\": true}\n{\"b\": false}\n");
    let established = schema_of(&[("a", DataType::Int64)]);
    let output = read(&file, DataFormat::Ndjson, &[], Some(&established))
        .await
        .unwrap();
    assert_eq!(
        types(&output),
        named(&[("a", DataType::Int64), ("b", DataType::Boolean)])
    );

    let established = schema_of(&[("b", DataType::Int64)]);
    let error = read(&file, DataFormat::Ndjson, &[], Some(&established))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "output column `b` is boolean in this partition but int64 in the asset's earlier \
         partitions; make the command write int64, or re-materialize the earlier partitions \
         so they all hold boolean"
    );
}

// ---- Parquet and Arrow IPC ----

fn sample_batch(nullable: bool) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, nullable),
        Field::new("price", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("ok", DataType::Boolean, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(3.0)])),
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        ],
    )
    .unwrap()
}

fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    bytes
}

#[tokio::test]
async fn parquet_is_read_as_written() {
    let batch = sample_batch(false);
    let file = write(parquet_bytes(&batch));
    let output = read(&file, DataFormat::Parquet, &[], None).await.unwrap();
    assert_eq!(output.rows, 3);
    assert_eq!(output.batches, vec![batch.clone()]);
    assert_eq!(output.schema.fields(), batch.schema().fields());
}

#[tokio::test]
async fn arrow_ipc_file_and_stream_formats_are_read_as_written() {
    let batch = sample_batch(true);
    let mut file_format = Vec::new();
    let mut writer = FileWriter::try_new(&mut file_format, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    let mut stream_format = Vec::new();
    let mut writer = StreamWriter::try_new(&mut stream_format, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);

    for bytes in [file_format, stream_format] {
        let file = write(bytes);
        let output = read(&file, DataFormat::ArrowIpc, &[], None).await.unwrap();
        assert_eq!(output.rows, 3);
        assert_eq!(output.batches, vec![batch.clone()]);
        assert_eq!(output.schema, batch.schema());
    }
}

#[tokio::test]
async fn parquet_drift_is_refused_but_nullability_differences_are_not_drift() {
    let file = write(parquet_bytes(&sample_batch(false)));
    let established = schema_of(&[("id", DataType::Int64), ("other", DataType::Utf8)]);
    let output = read(&file, DataFormat::Parquet, &[], Some(&established))
        .await
        .unwrap();
    assert_eq!(output.rows, 3);

    let established = schema_of(&[("price", DataType::Int64)]);
    let error = read(&file, DataFormat::Parquet, &[], Some(&established))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "output column `price` is float64 in this partition but int64 in the asset's earlier \
         partitions; make the command write int64, or re-materialize the earlier partitions so \
         they all hold float64"
    );
}

#[test]
fn same_type_ignores_nested_nullability_and_list_item_names() {
    let list = |name: &str, nullable: bool| {
        DataType::List(Arc::new(Field::new(name, DataType::Int64, nullable)))
    };
    assert!(same_type(&list("item", true), &list("element", false)));
    assert!(!same_type(
        &list("item", true),
        &DataType::List(Arc::new(Field::new("item", DataType::Int32, true)))
    ));
    let record =
        |name: &str| DataType::Struct(vec![Field::new(name, DataType::Utf8, false)].into());
    assert!(same_type(&record("a"), &record("a")));
    assert!(!same_type(&record("a"), &record("b")));
}

#[tokio::test]
async fn a_corrupt_file_is_unreadable_naming_format_and_path() {
    let file = write("this is not parquet at all");
    let error = read(&file, DataFormat::Parquet, &[], None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "STRATA_OUTPUT ({}) is not a readable Parquet file: Invalid Parquet file. Corrupt \
             footer; the asset declares output = \"parquet\", so the command must write valid \
             Parquet there",
            file.path.display()
        )
    );

    let error = read(&file, DataFormat::ArrowIpc, &[], None)
        .await
        .unwrap_err();
    let prefix = format!(
        "STRATA_OUTPUT ({}) is not a readable Arrow IPC file: ",
        file.path.display()
    );
    assert!(error.to_string().starts_with(&prefix), "{error}");
}

// ---- Missing or empty ----

#[tokio::test]
async fn a_missing_or_empty_output_file_is_an_error() {
    let file = write("");
    for (format, expected) in [
        (DataFormat::Parquet, "a Parquet"),
        (DataFormat::ArrowIpc, "an Arrow IPC"),
        (DataFormat::Csv, "a CSV"),
        (DataFormat::Ndjson, "an NDJSON"),
    ] {
        let error = read(&file, format, &[], None).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the command exited 0 but wrote nothing to STRATA_OUTPUT ({}); it must write \
                 {expected} file there",
                file.path.display()
            )
        );
    }
    let missing = Written {
        path: file.path.with_file_name("never_written"),
        _dir: file._dir,
    };
    let error = read(&missing, DataFormat::Csv, &[], None)
        .await
        .unwrap_err();
    assert!(matches!(error, OutputError::Empty { .. }), "{error}");
}
