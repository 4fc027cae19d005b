//! OpenLineage out: a RunEvent when each step starts and ends, with its inputs and output, the
//! `schema` and `columnLineage` dataset facets and the partition's window as `nominalTime`,
//! to the HTTP endpoint or NDJSON file `[openlineage]` names.
//!
//! - [`event`]: the events as JSON.
//! - [`deliver`]: the bounded queue and background thread that deliver them.
//!
//! The step calls [`StepLineage::start`] before its first attempt and
//! [`StepLineage::finish`] with its outcome. Neither can fail or wait on delivery: events are
//! queued (dropped with a warning when the queue is full). What `COMPLETE` adds — upstream
//! schemas, the output's schema and column lineage, read back from storage — is read in a task
//! of its own, so the step (and the steps waiting for it) never waits for it; the run awaits
//! those tasks before it ends. The reading is bounded by [`ENRICH_TIMEOUT`] and its facets are
//! left out, with a warning, when they cannot be read in time.

pub mod deliver;
pub mod event;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use strata_core::key::AssetKey;
use strata_core::model::{Asset, OpenLineageConfig, OpenLineageTarget, Repository};
use strata_core::partitions::time_window::TimeWindow;
use strata_storage::Storage;

pub use deliver::{Emitter, Target};
use event::{Dataset, EventType, StepEvent, run_event};

use crate::lineage::assets::{
    AssetColumns, ColumnLineageError, asset_columns, latest_materialization, stored_schema,
};

/// The longest `COMPLETE` waits for its facets to be read.
pub const ENRICH_TIMEOUT: Duration = Duration::from_secs(2);

/// An emitter and the namespace of its jobs and datasets.
#[derive(Debug)]
pub struct OpenLineage {
    /// The job and dataset namespace.
    pub namespace: String,
    /// Where events go.
    pub emitter: Emitter,
}

impl OpenLineage {
    /// The emitter `[openlineage]` declares; a relative file is under the repository `root`.
    pub fn from_config(root: &Path, config: &OpenLineageConfig) -> Self {
        let target = match &config.target {
            OpenLineageTarget::Url(url) => Target::Url(url.clone()),
            OpenLineageTarget::File(path) => Target::File(root.join(path)),
        };
        Self {
            namespace: config.namespace.clone(),
            emitter: Emitter::new(target),
        }
    }
}

/// How a step ended, as OpenLineage hears it.
pub enum StepEnd<'a> {
    /// Committed.
    Completed,
    /// Failed for good, with the error.
    Failed(&'a str),
    /// Canceled or never ran.
    Aborted,
}

/// The column lineage of the assets of one run, worked out once per asset: it follows from the
/// declared SQL and the upstream schemas, the same for every partition of the run. Only what
/// was found is kept (an upstream first materialized by the run is found by a later step).
#[derive(Debug, Default)]
pub struct ColumnsOfRun(std::sync::Mutex<HashMap<AssetKey, AssetColumns>>);

impl ColumnsOfRun {
    async fn get(
        &self,
        repository: &Repository,
        storage: &dyn Storage,
        key: &AssetKey,
    ) -> Result<AssetColumns, ColumnLineageError> {
        let known = self.lock().get(key).cloned();
        if let Some(columns) = known {
            return Ok(columns);
        }
        let columns = asset_columns(repository, storage, key).await?;
        self.lock().insert(key.clone(), columns.clone());
        Ok(columns)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AssetKey, AssetColumns>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One step's OpenLineage run.
pub struct StepLineage {
    lineage: Arc<OpenLineage>,
    repository: Arc<Repository>,
    columns: Arc<ColumnsOfRun>,
    key: AssetKey,
    run_id: String,
    window: Option<TimeWindow>,
}

impl StepLineage {
    /// Sends `START` for the step of run `run_id` over `partitions` (keys with their windows;
    /// empty when unpartitioned) and returns the handle that ends it.
    /// `None` when the asset is not in `repository`.
    pub fn start(
        lineage: Arc<OpenLineage>,
        repository: Arc<Repository>,
        columns: Arc<ColumnsOfRun>,
        key: &AssetKey,
        run_id: &str,
        partitions: &[(String, Option<TimeWindow>)],
        now: i64,
    ) -> Option<Self> {
        let asset = repository.asset(key)?;
        let window = match (partitions.first(), partitions.last()) {
            (Some((_, Some(first))), Some((_, Some(last)))) => Some(TimeWindow {
                start: first.start,
                end: last.end,
            }),
            _ => None,
        };
        let run_id = step_run_id(run_id, asset, partitions.first().map(|(k, _)| k.as_str()));
        let step = Self {
            lineage,
            columns,
            key: key.clone(),
            run_id,
            window,
            repository: Arc::clone(&repository),
        };
        step.send(EventType::Start, now, step.plain_inputs(), None, None, None);
        Some(step)
    }

    /// Sends `FAIL` or `ABORT` now; for `COMPLETE`, returns the task that reads its facets
    /// and then sends it (the caller awaits it before the run ends).
    pub fn finish(
        self,
        end: StepEnd<'_>,
        storage: Arc<dyn Storage>,
        now: i64,
    ) -> Option<tokio::task::JoinHandle<()>> {
        match end {
            StepEnd::Completed => Some(tokio::spawn(async move {
                let enriched =
                    tokio::time::timeout(ENRICH_TIMEOUT, self.facets(storage.as_ref())).await;
                let (inputs, output, columns) = match enriched {
                    Ok(found) => found,
                    Err(_) => {
                        tracing::warn!(asset = %self.key, "OpenLineage facets took too long to read; sent without them");
                        (self.plain_inputs(), None, None)
                    }
                };
                self.send(
                    EventType::Complete,
                    now,
                    inputs,
                    output,
                    columns.as_ref(),
                    None,
                );
            })),
            StepEnd::Failed(error) => {
                let inputs = self.plain_inputs();
                self.send(EventType::Fail, now, inputs, None, None, Some(error));
                None
            }
            StepEnd::Aborted => {
                self.send(EventType::Abort, now, self.plain_inputs(), None, None, None);
                None
            }
        }
    }

    fn asset(&self) -> &Asset {
        self.repository
            .asset(&self.key)
            .expect("checked when the step started")
    }

    fn plain_inputs(&self) -> Vec<Dataset> {
        self.asset()
            .deps
            .iter()
            .map(|d| Dataset {
                name: d.key.to_string(),
                schema: None,
            })
            .collect()
    }

    /// Inputs with their schemas, the output's schema and its column lineage — each left out
    /// when it cannot be read.
    async fn facets(
        &self,
        storage: &dyn Storage,
    ) -> (
        Vec<Dataset>,
        Option<Vec<(String, String)>>,
        Option<crate::lineage::assets::AssetColumns>,
    ) {
        let asset = self.asset();
        let mut inputs = Vec::with_capacity(asset.deps.len());
        for dep in &asset.deps {
            inputs.push(Dataset {
                name: dep.key.to_string(),
                schema: schema_of(storage, &dep.key).await,
            });
        }
        let output = schema_of(storage, &self.key).await;
        let columns = match self.columns.get(&self.repository, storage, &self.key).await {
            Ok(columns) => Some(columns),
            Err(e) => {
                tracing::warn!(asset = %self.key, error = %e, "no column lineage for OpenLineage");
                None
            }
        };
        // Only columns the schema facet lists may have lineage.
        let columns = columns.map(|mut c| {
            if let Some(schema) = &output {
                c.columns
                    .retain(|column| schema.iter().any(|(name, _)| name == &column.name));
            }
            c
        });
        (inputs, output, columns)
    }

    fn send(
        &self,
        event_type: EventType,
        now: i64,
        inputs: Vec<Dataset>,
        output_schema: Option<Vec<(String, String)>>,
        columns: Option<&crate::lineage::assets::AssetColumns>,
        error: Option<&str>,
    ) {
        let event = run_event(&StepEvent {
            event_type,
            time: now,
            namespace: &self.lineage.namespace,
            asset: self.asset(),
            run_id: &self.run_id,
            window: self.window,
            inputs,
            output: Dataset {
                name: self.key.to_string(),
                schema: output_schema,
            },
            columns,
            error,
        });
        self.lineage.emitter.send(event.to_string());
    }
}

async fn schema_of(
    storage: &dyn Storage,
    key: &strata_core::key::AssetKey,
) -> Option<Vec<(String, String)>> {
    let latest = latest_materialization(storage, key).await.ok()??;
    let schema = stored_schema(&latest)?;
    Some(
        schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect(),
    )
}

/// The step's OpenLineage run id: a UUID derived from Strata's run, the asset and the (first)
/// partition, so every event of one step carries the same id and no two steps share one.
pub fn step_run_id(run_id: &str, asset: &Asset, partition: Option<&str>) -> String {
    let digest = Sha256::new()
        .chain_update(run_id.as_bytes())
        .chain_update([0])
        .chain_update(asset.key.to_string().as_bytes())
        .chain_update([0])
        .chain_update(partition.unwrap_or("").as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}
