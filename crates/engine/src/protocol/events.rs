//! The events file: JSON lines a command appends to `STRATA_EVENTS` while it runs.
//!
//! ```json
//! {"type": "log", "level": "info", "message": "read 842 rows"}
//! {"type": "metadata", "values": {"rows_skipped": 3}}
//! {"type": "cost", "amount": 0.4, "unit": "credits"}
//! {"type": "check", "name": "balanced", "passed": false, "severity": "error", "metadata": {}}
//! {"type": "data_version", "value": "sha256:…"}
//! {"type": "column_lineage", "columns": {"total": [{"asset": "raw/orders", "column": "amount"}]}}
//! ```
//!
//! Parsing never fails. The command has already exited 0 when its events are read, so a line
//! it got wrong must not turn a good materialization into a failed one: the line is skipped and
//! becomes a warning for the step log that names the line and what is wrong with it.
//!
//! Leniencies, each chosen so that what scripts commonly write is understood:
//! - blank lines are ignored, `\r\n` endings and a leading UTF-8 byte-order mark are accepted,
//!   and a last line without a newline is parsed (a killed writer may not finish it);
//! - fields a known event does not use are ignored, so commands can carry their own;
//! - an optional field set to `null` counts as absent;
//! - `level` and `severity` are case-insensitive, and `warning` means `warn` (Python's logging
//!   names).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use strata_core::key::AssetKey;
use strata_core::model::Severity;
use strata_storage::event::LogLevel;

use super::{clip, echo_json, json_error_message};

/// The event types a line may have, in the order messages list them.
const TYPES: [&str; 6] = [
    "log",
    "metadata",
    "cost",
    "check",
    "data_version",
    "column_lineage",
];

/// What a command reported, in file order, and the lines that were skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedEvents {
    /// The well-formed events, in the order the command wrote them.
    pub events: Vec<Reported>,
    /// One message per skipped line, like `events line 3: "amount" must be a non-negative
    /// number, got "x"`.
    pub warnings: Vec<String>,
}

/// One event a command reported. What each means for the materialization (how a cost is
/// priced, whether a failed check blocks) is the executor's business, not the parser's.
#[derive(Clone, Debug, PartialEq)]
pub enum Reported {
    /// A line for the step log: `{"type": "log", "level": "info", "message": "…"}`; `level`
    /// defaults to `info`.
    Log {
        /// How important it is.
        level: LogLevel,
        /// The text.
        message: String,
    },
    /// Free metadata for the materialization: `{"type": "metadata", "values": {…}}`.
    Metadata(BTreeMap<String, Value>),
    /// A cost in units the rate card prices: `{"type": "cost", "amount": 0.4, "unit":
    /// "credits"}`.
    Cost {
        /// How many units; finite and non-negative.
        amount: f64,
        /// Which unit (a key of the rate card's `units`).
        unit: String,
    },
    /// A check the command ran itself: `{"type": "check", "name": "balanced", "passed": false,
    /// "severity": "error", "metadata": {}}`; `severity` defaults to `error`, `metadata` to
    /// empty.
    Check {
        /// The check's name.
        name: String,
        /// Whether it passed.
        passed: bool,
        /// How bad a failure is.
        severity: Severity,
        /// Details (failing rows, counts).
        metadata: BTreeMap<String, Value>,
    },
    /// The data version of what the command wrote: `{"type": "data_version", "value": "…"}`.
    DataVersion(String),
    /// Where output columns come from: `{"type": "column_lineage", "columns": {"total":
    /// [{"asset": "raw/orders", "column": "amount"}]}}`. A column may list no sources (a
    /// constant).
    ColumnLineage(BTreeMap<String, Vec<ColumnSource>>),
}

/// An upstream column an output column is computed from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnSource {
    /// The upstream asset.
    pub asset: AssetKey,
    /// Its column.
    pub column: String,
}

/// Parses the contents of an events file; see the module documentation.
pub fn parse_events(text: &str) -> ParsedEvents {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = ParsedEvents::default();
    // `lines` splits on `\n`, drops a trailing `\r`, and yields a last unterminated line.
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(event) => parsed.events.push(event),
            Err(why) => parsed
                .warnings
                .push(format!("events line {}: {why}", index + 1)),
        }
    }
    parsed
}

/// One line, or why it is skipped (without the line number, which the caller adds).
fn parse_line(line: &str) -> Result<Reported, String> {
    let value: Value = serde_json::from_str(line).map_err(|error| {
        format!(
            "not valid JSON: {}; the line reads `{}`",
            json_error_message(&error),
            clip(line.trim())
        )
    })?;
    let Value::Object(object) = value else {
        return Err(format!(
            "expected a JSON object like {{\"type\": \"log\", …}}, got {}",
            echo_json(&value)
        ));
    };
    let event_type = match object.get("type") {
        None | Some(Value::Null) => {
            return Err(format!("missing \"type\"; expected one of {}", type_list()));
        }
        Some(Value::String(event_type)) => event_type.as_str(),
        Some(other) => {
            return Err(format!(
                "\"type\" must be a string, got {}",
                echo_json(other)
            ));
        }
    };
    let fields = Fields {
        what: format!("a \"{event_type}\" event"),
        object: &object,
    };
    match event_type {
        "log" => log(&fields),
        "metadata" => Ok(Reported::Metadata(fields.object("values")?)),
        "cost" => cost(&fields),
        "check" => check(&fields),
        "data_version" => Ok(Reported::DataVersion(
            fields.non_empty_string("value")?.to_string(),
        )),
        "column_lineage" => column_lineage(&fields),
        other => Err(format!(
            "unknown \"type\" {}; expected one of {}",
            echo_json(&Value::String(other.to_string())),
            type_list()
        )),
    }
}

fn type_list() -> String {
    TYPES.map(|t| format!("\"{t}\"")).join(", ")
}

fn log(fields: &Fields<'_>) -> Result<Reported, String> {
    let level = match fields.optional_string("level")? {
        None => LogLevel::Info,
        Some(level) => match level.to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => {
                return Err(format!(
                    "\"level\" must be one of \"debug\", \"info\", \"warn\", \"error\", got {}",
                    echo_json(&Value::String(level.to_string()))
                ));
            }
        },
    };
    let message = fields.string("message")?.to_string();
    Ok(Reported::Log { level, message })
}

fn cost(fields: &Fields<'_>) -> Result<Reported, String> {
    let value = fields.required("amount")?;
    let amount = match value.as_f64() {
        Some(amount) if amount.is_finite() && amount >= 0.0 => amount,
        _ => {
            return Err(format!(
                "\"amount\" must be a non-negative number, got {}",
                echo_json(value)
            ));
        }
    };
    let unit = fields.non_empty_string("unit")?.to_string();
    Ok(Reported::Cost { amount, unit })
}

fn check(fields: &Fields<'_>) -> Result<Reported, String> {
    let name = fields.non_empty_string("name")?.to_string();
    let passed = match fields.required("passed")? {
        Value::Bool(passed) => *passed,
        other => {
            return Err(format!(
                "\"passed\" must be true or false, got {}",
                echo_json(other)
            ));
        }
    };
    let severity = match fields.optional_string("severity")? {
        None => Severity::Error,
        Some(severity) => match severity.to_ascii_lowercase().as_str() {
            "warn" | "warning" => Severity::Warn,
            "error" => Severity::Error,
            _ => {
                return Err(format!(
                    "\"severity\" must be \"warn\" or \"error\", got {}",
                    echo_json(&Value::String(severity.to_string()))
                ));
            }
        },
    };
    let metadata = match fields.get("metadata") {
        None => BTreeMap::new(),
        Some(_) => fields.object("metadata")?,
    };
    Ok(Reported::Check {
        name,
        passed,
        severity,
        metadata,
    })
}

fn column_lineage(fields: &Fields<'_>) -> Result<Reported, String> {
    let mut lineage = BTreeMap::new();
    for (column, sources) in fields.object("columns")? {
        let at = format!(
            "\"columns\" → {}",
            echo_json(&Value::String(column.clone()))
        );
        if column.is_empty() {
            return Err(format!("{at}: an output column name must not be empty"));
        }
        let Value::Array(sources) = sources else {
            return Err(format!(
                "{at} must be a list of {{\"asset\": \"group/name\", \"column\": \"…\"}}, got {}",
                echo_json(&sources)
            ));
        };
        let sources = sources
            .iter()
            .enumerate()
            .map(|(index, source)| {
                column_source(source).map_err(|why| format!("{at}, source {}: {why}", index + 1))
            })
            .collect::<Result<_, _>>()?;
        lineage.insert(column, sources);
    }
    Ok(Reported::ColumnLineage(lineage))
}

fn column_source(source: &Value) -> Result<ColumnSource, String> {
    let Value::Object(object) = source else {
        return Err(format!(
            "expected {{\"asset\": \"group/name\", \"column\": \"…\"}}, got {}",
            echo_json(source)
        ));
    };
    let fields = Fields {
        what: "a source".to_string(),
        object,
    };
    let asset = fields.string("asset")?;
    let asset = AssetKey::parse(asset).map_err(|error| format!("\"asset\": {error}"))?;
    let column = fields.non_empty_string("column")?.to_string();
    Ok(ColumnSource { asset, column })
}

/// Typed access to one object's fields, with the messages the warnings use.
struct Fields<'a> {
    /// What the object is, for "… needs": `a "log" event`, `a source`.
    what: String,
    object: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// A field, with `null` read as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|value| !value.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, String> {
        self.get(name)
            .ok_or_else(|| format!("{} needs \"{name}\"", self.what))
    }

    fn string(&self, name: &str) -> Result<&'a str, String> {
        match self.required(name)? {
            Value::String(text) => Ok(text),
            other => Err(format!(
                "\"{name}\" must be a string, got {}",
                echo_json(other)
            )),
        }
    }

    fn non_empty_string(&self, name: &str) -> Result<&'a str, String> {
        match self.string(name)? {
            "" => Err(format!("\"{name}\" must not be empty")),
            text => Ok(text),
        }
    }

    fn optional_string(&self, name: &str) -> Result<Option<&'a str>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    fn object(&self, name: &str) -> Result<BTreeMap<String, Value>, String> {
        match self.required(name)? {
            Value::Object(object) => Ok(object
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()),
            other => Err(format!(
                "\"{name}\" must be a JSON object, got {}",
                echo_json(other)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Parses text that must give no warnings.
    fn events(text: &str) -> Vec<Reported> {
        let parsed = parse_events(text);
        assert_eq!(parsed.warnings, Vec::<String>::new());
        parsed.events
    }

    /// Parses text that must give exactly one warning and no events; returns the warning.
    fn warning(text: &str) -> String {
        let parsed = parse_events(text);
        assert_eq!(parsed.events, vec![]);
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        parsed.warnings[0].clone()
    }

    fn map(value: Value) -> BTreeMap<String, Value> {
        match value {
            Value::Object(object) => object.into_iter().collect(),
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn every_event_type_parses() {
        let text = r#"{"type": "log", "level": "warn", "message": "read 842 rows"}
{"type": "metadata", "values": {"rows_skipped": 3, "source": "api"}}
{"type": "cost", "amount": 0.4, "unit": "credits"}
{"type": "check", "name": "balanced", "passed": false, "severity": "warn", "metadata": {"diff": 2}}
{"type": "data_version", "value": "sha256:abc"}
{"type": "column_lineage", "columns": {"total": [{"asset": "raw/orders", "column": "amount"}, {"asset": "raw/fx", "column": "rate"}], "id": []}}
"#;
        let source = |asset: &str, column: &str| ColumnSource {
            asset: AssetKey::parse(asset).unwrap(),
            column: column.into(),
        };
        assert_eq!(
            events(text),
            vec![
                Reported::Log {
                    level: LogLevel::Warn,
                    message: "read 842 rows".into()
                },
                Reported::Metadata(map(json!({"rows_skipped": 3, "source": "api"}))),
                Reported::Cost {
                    amount: 0.4,
                    unit: "credits".into()
                },
                Reported::Check {
                    name: "balanced".into(),
                    passed: false,
                    severity: Severity::Warn,
                    metadata: map(json!({"diff": 2})),
                },
                Reported::DataVersion("sha256:abc".into()),
                Reported::ColumnLineage(BTreeMap::from([
                    (
                        "total".to_string(),
                        vec![source("raw/orders", "amount"), source("raw/fx", "rate")]
                    ),
                    ("id".to_string(), vec![]),
                ])),
            ]
        );
    }

    #[test]
    fn optional_fields_take_their_defaults_and_null_counts_as_absent() {
        let text = concat!(
            r#"{"type": "log", "message": "no level"}"#,
            "\n",
            r#"{"type": "log", "level": null, "message": "null level"}"#,
            "\n",
            r#"{"type": "check", "name": "rows", "passed": true}"#,
            "\n",
        );
        assert_eq!(
            events(text),
            vec![
                Reported::Log {
                    level: LogLevel::Info,
                    message: "no level".into()
                },
                Reported::Log {
                    level: LogLevel::Info,
                    message: "null level".into()
                },
                Reported::Check {
                    name: "rows".into(),
                    passed: true,
                    severity: Severity::Error,
                    metadata: BTreeMap::new(),
                },
            ]
        );
    }

    #[test]
    fn levels_and_severities_accept_pythons_names_in_any_case() {
        let levels: Vec<_> = ["debug", "INFO", "Warning", "warn", "ERROR"]
            .iter()
            .map(|level| {
                let line = json!({"type": "log", "level": level, "message": "m"}).to_string();
                match &events(&line)[..] {
                    [Reported::Log { level, .. }] => *level,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(
            levels,
            [
                LogLevel::Debug,
                LogLevel::Info,
                LogLevel::Warn,
                LogLevel::Warn,
                LogLevel::Error
            ]
        );
        let line = r#"{"type": "check", "name": "c", "passed": true, "severity": "WARNING"}"#;
        assert!(matches!(
            &events(line)[..],
            [Reported::Check {
                severity: Severity::Warn,
                ..
            }]
        ));
    }

    #[test]
    fn blank_lines_crlf_a_bom_and_a_last_line_without_newline_are_accepted() {
        let text = "\u{feff}{\"type\": \"data_version\", \"value\": \"a\"}\r\n\r\n   \n\
                    {\"type\": \"data_version\", \"value\": \"b\"}";
        assert_eq!(
            events(text),
            vec![
                Reported::DataVersion("a".into()),
                Reported::DataVersion("b".into())
            ]
        );
        assert_eq!(parse_events(""), ParsedEvents::default());
    }

    #[test]
    fn unknown_extra_fields_are_ignored() {
        let line = r#"{"type": "cost", "amount": 2, "unit": "gpu_hours", "ts": "now", "x": [1]}"#;
        assert_eq!(
            events(line),
            vec![Reported::Cost {
                amount: 2.0,
                unit: "gpu_hours".into()
            }]
        );
    }

    #[test]
    fn a_bad_line_is_skipped_with_its_line_number_and_the_rest_is_kept() {
        let text = "{\"type\": \"log\", \"message\": \"one\"}\n\
                    \n\
                    {\"type\": \"cost\", \"amount\": \"x\", \"unit\": \"credits\"}\n\
                    {\"type\": \"log\", \"message\": \"two\"}\n";
        let parsed = parse_events(text);
        assert_eq!(
            parsed.warnings,
            vec![r#"events line 3: "amount" must be a non-negative number, got "x""#]
        );
        assert_eq!(
            parsed.events,
            vec![
                Reported::Log {
                    level: LogLevel::Info,
                    message: "one".into()
                },
                Reported::Log {
                    level: LogLevel::Info,
                    message: "two".into()
                },
            ]
        );
    }

    #[test]
    fn malformed_lines_get_precise_warnings() {
        let cases = [
            (
                "read 842 rows",
                "events line 1: not valid JSON: expected value (column 1); the line reads `read 842 rows`",
            ),
            (
                r#"{"type": "log", "message": "x"} trailing"#,
                "events line 1: not valid JSON: trailing characters (column 33); the line reads \
                 `{\"type\": \"log\", \"message\": \"x\"} trailing`",
            ),
            (
                r#"["log", "hello"]"#,
                r#"events line 1: expected a JSON object like {"type": "log", …}, got ["log","hello"]"#,
            ),
            (
                r#"{"message": "x"}"#,
                r#"events line 1: missing "type"; expected one of "log", "metadata", "cost", "check", "data_version", "column_lineage""#,
            ),
            (
                r#"{"type": 3}"#,
                r#"events line 1: "type" must be a string, got 3"#,
            ),
            (
                r#"{"type": "progress", "pct": 50}"#,
                r#"events line 1: unknown "type" "progress"; expected one of "log", "metadata", "cost", "check", "data_version", "column_lineage""#,
            ),
            (
                r#"{"type": "log", "level": "info"}"#,
                r#"events line 1: a "log" event needs "message""#,
            ),
            (
                r#"{"type": "log", "message": 42}"#,
                r#"events line 1: "message" must be a string, got 42"#,
            ),
            (
                r#"{"type": "log", "level": "verbose", "message": "m"}"#,
                r#"events line 1: "level" must be one of "debug", "info", "warn", "error", got "verbose""#,
            ),
            (
                r#"{"type": "log", "level": 3, "message": "m"}"#,
                r#"events line 1: "level" must be a string, got 3"#,
            ),
            (
                r#"{"type": "metadata", "values": [1, 2]}"#,
                r#"events line 1: "values" must be a JSON object, got [1,2]"#,
            ),
            (
                r#"{"type": "metadata"}"#,
                r#"events line 1: a "metadata" event needs "values""#,
            ),
            (
                r#"{"type": "cost", "amount": -1, "unit": "credits"}"#,
                r#"events line 1: "amount" must be a non-negative number, got -1"#,
            ),
            (
                r#"{"type": "cost", "unit": "credits"}"#,
                r#"events line 1: a "cost" event needs "amount""#,
            ),
            (
                r#"{"type": "cost", "amount": 1, "unit": ""}"#,
                r#"events line 1: "unit" must not be empty"#,
            ),
            (
                r#"{"type": "check", "name": "c", "passed": "no"}"#,
                r#"events line 1: "passed" must be true or false, got "no""#,
            ),
            (
                r#"{"type": "check", "passed": true}"#,
                r#"events line 1: a "check" event needs "name""#,
            ),
            (
                r#"{"type": "check", "name": "c", "passed": true, "severity": "fatal"}"#,
                r#"events line 1: "severity" must be "warn" or "error", got "fatal""#,
            ),
            (
                r#"{"type": "check", "name": "c", "passed": true, "metadata": "none"}"#,
                r#"events line 1: "metadata" must be a JSON object, got "none""#,
            ),
            (
                r#"{"type": "data_version", "value": ""}"#,
                r#"events line 1: "value" must not be empty"#,
            ),
            (
                r#"{"type": "data_version", "value": 7}"#,
                r#"events line 1: "value" must be a string, got 7"#,
            ),
            (
                r#"{"type": "column_lineage", "columns": []}"#,
                r#"events line 1: "columns" must be a JSON object, got []"#,
            ),
            (
                r#"{"type": "column_lineage", "columns": {"total": "raw/orders.amount"}}"#,
                r#"events line 1: "columns" → "total" must be a list of {"asset": "group/name", "column": "…"}, got "raw/orders.amount""#,
            ),
            (
                r#"{"type": "column_lineage", "columns": {"total": ["raw/orders"]}}"#,
                r#"events line 1: "columns" → "total", source 1: expected {"asset": "group/name", "column": "…"}, got "raw/orders""#,
            ),
            (
                r#"{"type": "column_lineage", "columns": {"total": [{"asset": "raw/orders", "column": "a"}, {"asset": "orders", "column": "a"}]}}"#,
                "events line 1: \"columns\" → \"total\", source 2: \"asset\": invalid asset key \
                 `orders`: expected exactly two segments, `group/name`",
            ),
            (
                r#"{"type": "column_lineage", "columns": {"total": [{"asset": "raw/orders"}]}}"#,
                r#"events line 1: "columns" → "total", source 1: a source needs "column""#,
            ),
            (
                r#"{"type": "column_lineage", "columns": {"": []}}"#,
                r#"events line 1: "columns" → "": an output column name must not be empty"#,
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(warning(line), expected, "for {line}");
        }
    }

    #[test]
    fn warnings_count_blank_lines_and_clip_long_values() {
        let long = "x".repeat(200);
        let text = format!(
            "\n\n{}\n",
            json!({"type": "data_version", "value": 1, "pad": 0})
        ) + &format!("{{\"type\": \"cost\", \"amount\": \"{long}\", \"unit\": \"u\"}}");
        let parsed = parse_events(&text);
        assert_eq!(parsed.warnings.len(), 2);
        assert_eq!(
            parsed.warnings[0],
            r#"events line 3: "value" must be a string, got 1"#
        );
        let expected = format!(
            "events line 4: \"amount\" must be a non-negative number, got \"{}…",
            "x".repeat(78)
        );
        assert_eq!(parsed.warnings[1], expected);
    }
}
