//! Command assets: an external program speaking the command protocol (Contracts).
//!
//! ```text
//!   fetch inputs ──▶ <step dir>/inputs/…   (STRATA_INPUTS: JSON, each dependency's files)
//!   run command  ──▶ <step dir>/output.<fmt> (STRATA_OUTPUT), <step dir>/events.ndjson
//!                    stdout and stderr lines become the step's log, as they arrive
//!   exit 0       ──▶ read the output (types pinned, inferred, checked for drift) and commit
//! ```
//!
//! The step directory lives under `.strata/tmp` and is removed when the step ends. The child is
//! killed when the step is interrupted (timeout, cancellation).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};
use strata_core::model::{CommandCompute, DataFormat};
use strata_io_managers::FileFormat;
use strata_storage::event::{CheckEvaluation, Event, LogLevel};
use tokio::io::{AsyncBufReadExt, BufReader};

mod child;

use super::checks::Materialized;
use super::inputs::{Input, InputData};
use super::output;
use super::{StepContext, StepError};
use crate::protocol::events::{Reported, parse_events};
use crate::protocol::output::{OutputSpec, read_output};
use crate::versions::content_data_version;

/// A program to run for a step.
pub(crate) struct ProcessSpec<'a> {
    /// Program and arguments.
    pub(crate) command: &'a [String],
    /// The asset's declared environment.
    pub(crate) env: &'a BTreeMap<String, String>,
    /// Protocol variables beyond the standard ones (`STRATA_OUTPUT`, `STRATA_INPUTS`).
    pub(crate) extra_env: Vec<(&'static str, String)>,
}

/// What a program that exited 0 left behind.
pub(crate) struct Ran {
    pub(crate) stdout: String,
    pub(crate) events: Vec<Reported>,
}

/// Lines of stderr kept to explain a failure.
const STDERR_TAIL: usize = 5;

/// A fresh step directory under `<root>/.strata/tmp`.
pub(crate) fn step_dir(ctx: &StepContext<'_>) -> Result<tempfile::TempDir, StepError> {
    let tmp = ctx.shared.instance.root.join(".strata").join("tmp");
    std::fs::create_dir_all(&tmp)
        .and_then(|()| tempfile::Builder::new().prefix("step-").tempdir_in(&tmp))
        .map_err(|e| {
            StepError::retryable(format!(
                "cannot create a step directory in {}: {e}",
                tmp.display()
            ))
        })
}

/// Runs a program from the repository root with the protocol's environment; its output lines
/// go to the step log. Fails with the exit status and the last lines of stderr.
pub(crate) async fn run_process(
    ctx: &StepContext<'_>,
    spec: &ProcessSpec<'_>,
    dir: &Path,
) -> Result<Ran, StepError> {
    let Some((program, args)) = spec.command.split_first() else {
        return Err(StepError::permanent("the command is empty"));
    };
    let events_path = dir.join("events.ndjson");
    std::fs::File::create(&events_path).map_err(|e| {
        StepError::retryable(format!("cannot create {}: {e}", events_path.display()))
    })?;
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .current_dir(&ctx.shared.instance.root)
        .envs(spec.env)
        .env("STRATA_ASSET", ctx.asset.key.to_string())
        .env("STRATA_RUN_ID", &ctx.run.run_id)
        .env("STRATA_EVENTS", &events_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let [partition] = ctx.partitions {
        command.env("STRATA_PARTITION_KEY", &partition.key);
        if let Some(window) = partition.window {
            command
                .env("STRATA_PARTITION_START", rfc3339(window.start))
                .env("STRATA_PARTITION_END", rfc3339(window.end));
        }
    }
    for (name, value) in &spec.extra_env {
        command.env(name, value);
    }
    let shown = spec.command.join(" ");
    let mut child = command.spawn().map_err(|e| {
        StepError::permanent(format!(
            "cannot start `{shown}`: {e} (it runs from the repository root)"
        ))
    })?;
    // Strata reaps the child itself (wait4), to read its resource usage; it is killed if the
    // step stops waiting for it.
    let mut watched = child::Watched::start(child.id(), ctx.meter);
    let piped =
        |e: std::io::Error| StepError::retryable(format!("reading `{shown}`'s output failed: {e}"));
    let stdout = tokio::process::ChildStdout::from_std(child.stdout.take().expect("piped"))
        .map_err(piped)?;
    let stderr = tokio::process::ChildStderr::from_std(child.stderr.take().expect("piped"))
        .map_err(piped)?;
    let log = ctx.log;
    let read_stdout = async {
        let mut text = String::new();
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.push(LogLevel::Info, line.clone());
            text.push_str(&line);
            text.push('\n');
        }
        text
    };
    let read_stderr = async {
        let mut tail: Vec<String> = Vec::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.push(LogLevel::Info, line.clone());
            if tail.len() == STDERR_TAIL {
                tail.remove(0);
            }
            tail.push(line);
        }
        tail
    };
    let (stdout, tail, status) = tokio::join!(read_stdout, read_stderr, watched.wait());
    let status =
        status.map_err(|e| StepError::retryable(format!("waiting for `{shown}` failed: {e}")))?;
    let text = std::fs::read_to_string(&events_path).unwrap_or_default();
    let parsed = parse_events(&text);
    for warning in parsed.warnings {
        ctx.log.push(LogLevel::Warn, warning);
    }
    if !status.success() {
        // Logs the command reported are kept even when it fails.
        for event in &parsed.events {
            if let Reported::Log { level, message } = event {
                ctx.log.push(*level, message.clone());
            }
        }
        let how = match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        };
        let tail = if tail.is_empty() {
            String::new()
        } else {
            format!(": {}", tail.join(" | "))
        };
        return Err(StepError::retryable(format!("`{shown}` {how}{tail}")));
    }
    Ok(Ran {
        stdout,
        events: parsed.events,
    })
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn file_format(format: DataFormat) -> FileFormat {
    match format {
        DataFormat::Parquet => FileFormat::Parquet,
        DataFormat::ArrowIpc => FileFormat::ArrowIpc,
        DataFormat::Csv => FileFormat::Csv,
        DataFormat::Ndjson => FileFormat::Ndjson,
    }
}

fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Parquet => "parquet",
        DataFormat::ArrowIpc => "arrow_ipc",
        DataFormat::Csv => "csv",
        DataFormat::Ndjson => "ndjson",
    }
}

/// Fetches every input as local files and describes them for `STRATA_INPUTS`.
async fn fetch_inputs(
    ctx: &StepContext<'_>,
    format: DataFormat,
    inputs: &[Input],
    dir: &Path,
) -> Result<Value, StepError> {
    let mut described = serde_json::Map::new();
    for input in inputs {
        let entry = match &input.data {
            InputData::Stored {
                io_manager,
                partitions,
            } => {
                let io = ctx
                    .shared
                    .instance
                    .io_managers
                    .get(io_manager)
                    .map_err(|e| StepError::permanent(e.to_string()))?;
                let target = dir.join(format!("{}__{}", input.asset.group(), input.asset.name()));
                let local = io
                    .fetch(partitions, file_format(format), &target)
                    .await
                    .map_err(|e| {
                        StepError::retryable(format!("fetching {} failed: {e}", input.asset))
                    })?;
                json!({
                    "format": format_name(format),
                    "partitions": local.iter().filter_map(|p| p.key.clone()).collect::<Vec<_>>(),
                    "files": local.iter().flat_map(|p| p.files.iter().map(|f| f.display().to_string())).collect::<Vec<_>>(),
                })
            }
            InputData::Source { files } => json!({
                "format": "source",
                "partitions": [],
                "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            }),
        };
        described.insert(input.asset.to_string(), entry);
    }
    Ok(Value::Object(described))
}

/// The asset's schema as its latest materialization recorded it, if any.
async fn established_schema(ctx: &StepContext<'_>) -> Result<Option<Schema>, StepError> {
    let history = ctx
        .shared
        .instance
        .storage
        .materialization_history(&ctx.asset.key, None, 1)
        .await
        .map_err(|e| StepError::retryable(format!("reading the asset's history failed: {e}")))?;
    let Some(Event::Materialization(latest)) = history.into_iter().next().map(|r| r.event) else {
        return Ok(None);
    };
    let Some(Value::Array(columns)) = latest.metadata.get("schema") else {
        return Ok(None);
    };
    let fields: Option<Vec<Field>> = columns
        .iter()
        .map(|column| {
            let name = column.get("name")?.as_str()?;
            let ty: DataType = column.get("type")?.as_str()?.parse().ok()?;
            Some(Field::new(name, ty, true))
        })
        .collect();
    Ok(fields.map(Schema::new))
}

pub(crate) async fn materialize(
    ctx: &StepContext<'_>,
    command: &CommandCompute,
    inputs: &[Input],
) -> Result<Materialized, StepError> {
    if ctx.partitions.len() > 1 {
        return Err(StepError::permanent(
            "a command computes one partition per step; single-run backfills are for SQL assets",
        ));
    }
    let dir = step_dir(ctx)?;
    let inputs_json = fetch_inputs(ctx, command.inputs, inputs, &dir.path().join("inputs")).await?;
    let output_path = dir.path().join(format!(
        "output.{}",
        file_format(command.output).extension()
    ));
    let ran = run_process(
        ctx,
        &ProcessSpec {
            command: &command.command,
            env: &command.env,
            extra_env: vec![
                ("STRATA_OUTPUT", output_path.display().to_string()),
                ("STRATA_INPUTS", inputs_json.to_string()),
            ],
        },
        dir.path(),
    )
    .await?;

    let mut metadata = BTreeMap::new();
    let mut reported_version = None;
    let mut events = Vec::new();
    let mut costs = Vec::new();
    let partition = ctx.partitions.first();
    for event in ran.events {
        match event {
            Reported::Log { level, message } => ctx.log.push(level, message),
            Reported::Metadata(values) => metadata.extend(values),
            Reported::Cost { amount, unit } => {
                ctx.meter.units(&unit, amount);
                costs.push(json!({"amount": amount, "unit": unit}));
            }
            Reported::Check {
                name,
                passed,
                severity,
                metadata,
            } => events.push(Event::CheckEvaluation(CheckEvaluation {
                asset: ctx.asset.key.clone(),
                partition: partition.map(|p| p.key.clone()),
                run_id: Some(ctx.run.run_id.clone()),
                check: name,
                passed,
                severity,
                blocking: false,
                metadata,
            })),
            Reported::DataVersion(version) => reported_version = Some(version),
            Reported::ColumnLineage(columns) => {
                let columns: BTreeMap<String, Vec<Value>> = columns
                    .into_iter()
                    .map(|(column, sources)| {
                        let sources = sources
                            .into_iter()
                            .map(|s| json!({"asset": s.asset.to_string(), "column": s.column}))
                            .collect();
                        (column, sources)
                    })
                    .collect();
                metadata.insert("column_lineage".into(), json!(columns));
            }
        }
    }
    if !costs.is_empty() {
        metadata.insert("reported_costs".into(), Value::Array(costs));
    }

    let established = established_schema(ctx).await?;
    let written = read_output(
        &output_path,
        &OutputSpec {
            format: command.output,
            pinned: &command.schema,
            established: established.as_ref(),
        },
    )
    .await
    .map_err(|e| StepError::permanent(e.to_string()))?;
    let consumed = output::consumed(inputs);
    let version = output::data_version(ctx, &consumed, reported_version, || {
        std::fs::read(&output_path)
            .map(|bytes| content_data_version(&[&bytes]))
            .map_err(|e| StepError::retryable(format!("reading the output failed: {e}")))
    })?;
    let stream = output::memory_stream(Arc::clone(&written.schema), written.batches)?;
    let committed = output::commit(ctx, partition, consumed, version, metadata, stream).await?;
    Ok(Materialized {
        committed: vec![committed],
        events,
    })
}
