//! OpenLineage RunEvents for one step, as JSON.
//!
//! A step is one OpenLineage run of the job named after the asset (`group/name`) in the
//! configured namespace. Datasets are assets, named `group/name` in the same namespace.
//!
//! | Strata | OpenLineage |
//! |---|---|
//! | step starts | `START`, inputs = dependencies, output = the asset |
//! | step succeeds | `COMPLETE`, with `schema` facets and the output's `columnLineage` |
//! | step fails | `FAIL`, with the `errorMessage` run facet |
//! | step canceled | `ABORT` |
//! | the partition's time window (a range's, for a single-run backfill) | `nominalTime` run facet |
//! | the SQL query | `sql` job facet |

use serde_json::{Value, json};
use strata_core::model::{Asset, Compute};
use strata_core::partitions::time_window::TimeWindow;
use strata_storage::event::Millis;

use crate::lineage::assets::AssetColumns;
use crate::lineage::{Transform, rfc3339};

/// Who produced the events: this project, at this version.
pub const PRODUCER: &str = concat!(
    "https://github.com/strata-data/strata/tree/v",
    env!("CARGO_PKG_VERSION")
);

/// The core spec the events follow.
pub const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

const SCHEMA_FACET: &str =
    "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";
const COLUMN_LINEAGE_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet";
const NOMINAL_TIME_FACET: &str =
    "https://openlineage.io/spec/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet";
const ERROR_MESSAGE_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const SQL_FACET: &str =
    "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet";

/// A RunEvent's transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The step started.
    Start,
    /// It committed its partitions.
    Complete,
    /// It failed for good.
    Fail,
    /// It was canceled.
    Abort,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::Complete => "COMPLETE",
            Self::Fail => "FAIL",
            Self::Abort => "ABORT",
        }
    }
}

/// One dataset of an event: an asset, with its schema when known.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// `group/name`.
    pub name: String,
    /// Column names and Arrow types.
    pub schema: Option<Vec<(String, String)>>,
}

/// What one event says about its step.
pub struct StepEvent<'a> {
    /// The transition.
    pub event_type: EventType,
    /// When (milliseconds since the epoch).
    pub time: Millis,
    /// The job and dataset namespace.
    pub namespace: &'a str,
    /// The asset (the job).
    pub asset: &'a Asset,
    /// The OpenLineage run id of the step (a UUID).
    pub run_id: &'a str,
    /// The partitions' combined time window, for time partitions.
    pub window: Option<TimeWindow>,
    /// Its inputs.
    pub inputs: Vec<Dataset>,
    /// Its output, with its column lineage on completion.
    pub output: Dataset,
    /// The output's column lineage, on completion.
    pub columns: Option<&'a AssetColumns>,
    /// Why it failed.
    pub error: Option<&'a str>,
}

/// The RunEvent as JSON.
pub fn run_event(step: &StepEvent<'_>) -> Value {
    let mut run_facets = serde_json::Map::new();
    if let Some(window) = step.window {
        run_facets.insert(
            "nominalTime".into(),
            json!({
                "_producer": PRODUCER,
                "_schemaURL": NOMINAL_TIME_FACET,
                "nominalStartTime": rfc3339(window.start * 1000),
                "nominalEndTime": rfc3339(window.end * 1000),
            }),
        );
    }
    if let Some(error) = step.error {
        run_facets.insert(
            "errorMessage".into(),
            json!({
                "_producer": PRODUCER,
                "_schemaURL": ERROR_MESSAGE_FACET,
                "message": error,
                "programmingLanguage": language(step.asset),
            }),
        );
    }
    let mut job_facets = serde_json::Map::new();
    if let Compute::Sql(sql) = &step.asset.compute {
        job_facets.insert(
            "sql".into(),
            json!({"_producer": PRODUCER, "_schemaURL": SQL_FACET, "query": sql.query}),
        );
    }
    let inputs: Vec<Value> = step
        .inputs
        .iter()
        .map(|d| dataset(step.namespace, d, None))
        .collect();
    let output = dataset(step.namespace, &step.output, step.columns);
    json!({
        "eventType": step.event_type.as_str(),
        "eventTime": rfc3339(step.time),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": step.run_id, "facets": run_facets},
        "job": {"namespace": step.namespace, "name": step.asset.key.to_string(), "facets": job_facets},
        "inputs": inputs,
        "outputs": [output],
    })
}

fn dataset(namespace: &str, dataset: &Dataset, columns: Option<&AssetColumns>) -> Value {
    let mut facets = serde_json::Map::new();
    if let Some(schema) = &dataset.schema {
        let fields: Vec<Value> = schema
            .iter()
            .map(|(name, ty)| json!({"name": name, "type": ty}))
            .collect();
        facets.insert(
            "schema".into(),
            json!({"_producer": PRODUCER, "_schemaURL": SCHEMA_FACET, "fields": fields}),
        );
    }
    if let Some(columns) = columns.filter(|c| c.columns.iter().any(|c| !c.sources.is_empty())) {
        let fields: serde_json::Map<String, Value> = columns
            .columns
            .iter()
            .filter(|c| !c.sources.is_empty())
            .map(|column| {
                let inputs: Vec<Value> = column
                    .sources
                    .iter()
                    .map(|source| {
                        let mut field = json!({
                            "namespace": namespace,
                            "name": source.asset.to_string(),
                            "field": source.column,
                        });
                        if let Some(transform) = source.transform {
                            field["transformations"] = json!([{
                                "type": "DIRECT",
                                "subtype": subtype(transform),
                                "description": transform.as_str(),
                                "masking": false,
                            }]);
                        }
                        field
                    })
                    .collect();
                (column.name.clone(), json!({"inputFields": inputs}))
            })
            .collect();
        facets.insert(
            "columnLineage".into(),
            json!({"_producer": PRODUCER, "_schemaURL": COLUMN_LINEAGE_FACET, "fields": fields}),
        );
    }
    json!({"namespace": namespace, "name": dataset.name, "facets": facets})
}

/// OpenLineage's name for a direct transformation.
fn subtype(transform: Transform) -> &'static str {
    match transform {
        Transform::Copy => "IDENTITY",
        Transform::Expression => "TRANSFORMATION",
        Transform::Window | Transform::Aggregate => "AGGREGATION",
    }
}

fn language(asset: &Asset) -> &'static str {
    match asset.compute {
        Compute::Sql(_) => "SQL",
        Compute::Rust(_) => "Rust",
        Compute::Command(_) | Compute::Source(_) => "command",
    }
}
