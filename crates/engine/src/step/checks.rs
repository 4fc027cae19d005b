//! Quality checks, run over `this` — the partition just committed — after every materialization.
//!
//! Built-in checks are expressed with DataFusion's expression API on exact column names, so no
//! declared value is ever spliced into SQL text; `sql` checks run the declared query over
//! `this`, and every row it returns is a failure. A failed check is an event with the number of
//! failing rows and a sample of them; a failed *blocking* check of severity `error` stops the
//! partitions downstream in the same run (the executor skips them and says why).

use std::collections::BTreeMap;

use datafusion::common::{Column, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::count::count_all;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use strata_core::model::{Check, CheckKind, Literal, Severity};
use strata_storage::event::{CheckEvaluation, Event};

use super::{Done, StepContext, StepError};
use crate::commit::{Committed, stored_partition};
use crate::sql_session::{read_only, session};

/// Rows of a failing check kept as a sample in its event.
const SAMPLE_ROWS: usize = 5;

/// What a materializing compute produced: the committed partitions and any events it reported
/// (a command's own check results).
#[derive(Debug, Default)]
pub(crate) struct Materialized {
    pub(crate) committed: Vec<Committed>,
    pub(crate) events: Vec<Event>,
}

/// Runs the asset's checks over each committed partition and gathers the step's result.
pub(crate) async fn after_commit(
    ctx: &StepContext<'_>,
    materialized: Materialized,
) -> Result<Done, StepError> {
    let mut done = Done {
        rows: materialized
            .committed
            .iter()
            .map(|c| c.materialization.rows)
            .sum(),
        events: materialized.events,
        ..Done::default()
    };
    for committed in &materialized.committed {
        let m = &committed.materialization;
        let label = |name: &str| match (&m.partition, materialized.committed.len()) {
            (Some(key), n) if n > 1 => format!("{name} ({key})"),
            _ => name.to_string(),
        };
        if ctx.asset.checks.is_empty() {
            continue;
        }
        let this = this_session(ctx, committed).await?;
        for check in &ctx.asset.checks {
            let (passed, metadata) = evaluate(&this, check, m.rows).await;
            if !passed {
                ctx.log.push(
                    strata_storage::event::LogLevel::Warn,
                    format!(
                        "check {} failed ({}){}",
                        check.name,
                        severity_name(check.severity),
                        metadata
                            .get("error")
                            .and_then(Value::as_str)
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                );
                if check.blocking && check.severity == Severity::Error {
                    done.blocking_failures.push(label(&check.name));
                } else {
                    done.failed_checks.push(label(&check.name));
                }
            }
            done.events.push(Event::CheckEvaluation(CheckEvaluation {
                asset: m.asset.clone(),
                partition: m.partition.clone(),
                run_id: m.run_id.clone(),
                check: check.name.clone(),
                passed,
                severity: check.severity,
                blocking: check.blocking,
                metadata,
            }));
        }
    }
    for event in &done.events {
        if let Event::CheckEvaluation(c) = event
            && !c.passed
            && !ctx.asset.checks.iter().any(|d| d.name == c.check)
        {
            done.failed_checks.push(c.check.clone());
        }
    }
    Ok(done)
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Warn => "warn",
        Severity::Error => "error",
    }
}

/// A session whose only table is `this`: the committed partition.
async fn this_session(
    ctx: &StepContext<'_>,
    committed: &Committed,
) -> Result<SessionContext, StepError> {
    let m = &committed.materialization;
    let io = ctx
        .shared
        .instance
        .io_managers
        .get(&m.io_manager)
        .map_err(|e| StepError::permanent(e.to_string()))?;
    let table = io
        .table(&[stored_partition(m.partition.clone(), &m.files)])
        .await
        .map_err(|e| StepError::retryable(format!("reading the new partition failed: {e}")))?;
    let session = session();
    session
        .register_table("this", table)
        .map_err(|e| StepError::retryable(e.to_string()))?;
    Ok(session)
}

/// Whether `check` passed on `this`, and what to record about it. A check that cannot run
/// (a column that does not exist, a query that does not plan) fails with the reason.
async fn evaluate(
    this: &SessionContext,
    check: &Check,
    rows: u64,
) -> (bool, BTreeMap<String, Value>) {
    if let CheckKind::RowCount { min, max } = &check.kind {
        let passed = min.is_none_or(|m| rows >= m) && max.is_none_or(|m| rows <= m);
        let mut metadata = BTreeMap::from([("rows".to_string(), json!(rows))]);
        if let Some(min) = min {
            metadata.insert("min".into(), json!(min));
        }
        if let Some(max) = max {
            metadata.insert("max".into(), json!(max));
        }
        return (passed, metadata);
    }
    match failing_rows(this, &check.kind).await {
        Ok(frame) => match count_and_sample(frame).await {
            Ok((count, sample)) => {
                let mut metadata = BTreeMap::from([("failing_rows".to_string(), json!(count))]);
                if count > 0 {
                    metadata.insert("sample".into(), Value::Array(sample));
                }
                (count == 0, metadata)
            }
            Err(e) => (false, error_metadata(e)),
        },
        Err(e) => (false, error_metadata(e)),
    }
}

fn error_metadata(error: impl std::fmt::Display) -> BTreeMap<String, Value> {
    BTreeMap::from([("error".to_string(), json!(error.to_string()))])
}

/// The rows (or, for `unique`, the duplicated groups) that violate the check.
async fn failing_rows(
    this: &SessionContext,
    kind: &CheckKind,
) -> Result<DataFrame, datafusion::error::DataFusionError> {
    let table = || this.table("this");
    let column = |name: &str| Expr::Column(Column::new_unqualified(name));
    match kind {
        CheckKind::NotNull(columns) => {
            let any_null = columns
                .iter()
                .map(|c| column(c).is_null())
                .reduce(Expr::or)
                .unwrap_or_else(|| lit(false));
            table().await?.filter(any_null)
        }
        CheckKind::Unique(columns) => {
            let keys: Vec<Expr> = columns.iter().map(|c| column(c)).collect();
            table()
                .await?
                .aggregate(keys, vec![count_all().alias("rows")])?
                .filter(column("rows").gt(lit(1i64)))
        }
        CheckKind::AcceptedValues {
            column: name,
            values,
        } => {
            let values: Vec<Expr> = values.iter().map(literal).collect();
            table().await?.filter(
                column(name)
                    .is_not_null()
                    .and(column(name).in_list(values, true)),
            )
        }
        CheckKind::Sql { query } => this.sql_with_options(query, read_only()).await,
        CheckKind::RowCount { .. } => unreachable!("row counts need no query"),
    }
}

fn literal(value: &Literal) -> Expr {
    match value {
        Literal::String(s) => lit(ScalarValue::Utf8(Some(s.clone()))),
        Literal::Integer(i) => lit(*i),
        Literal::Float(f) => lit(*f),
        Literal::Boolean(b) => lit(*b),
    }
}

async fn count_and_sample(
    frame: DataFrame,
) -> Result<(u64, Vec<Value>), datafusion::error::DataFusionError> {
    let count = frame.clone().count().await? as u64;
    if count == 0 {
        return Ok((0, Vec::new()));
    }
    let batches = frame.limit(0, Some(SAMPLE_ROWS))?.collect().await?;
    Ok((count, rows_as_json(&batches)))
}

/// Record batches as JSON objects, one per row.
pub(crate) fn rows_as_json(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Vec<Value> {
    let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&datafusion::arrow::record_batch::RecordBatch> = batches.iter().collect();
    if writer.write_batches(&refs).is_err() || writer.finish().is_err() {
        return Vec::new();
    }
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<Value>>(&bytes).unwrap_or_default()
}
