//! `strata costs`: what assets cost, grouped and summed.

use std::path::Path;

use serde_json::json;
use strata_core::cost::{CostRow, format_money};
use strata_core::model::Repository;
use strata_engine::costs::{self, CostQuery, QueryError};

use crate::api::state::rfc3339;
use crate::cli::CostsArgs;
use crate::commands::{print_json, select};
use crate::{CliError, Outcome};

pub(crate) fn run(
    repository: &Repository,
    root: &Path,
    args: &CostsArgs,
) -> Result<Outcome, CliError> {
    let query = query(repository, args)?;
    let instance = crate::open_instance(root, repository.project())?;
    let report = crate::runtime()?
        .block_on(costs::report(instance.storage.as_ref(), repository, &query))
        .map_err(CliError::internal)?;
    let card = &repository.project().rate_card;
    if args.output.json {
        print_json(&json!({
            "currency": card.currency,
            "by": query.by.name(),
            // As the API answers: RFC 3339, `since` null from the beginning.
            "since": (!query.from_beginning()).then(|| rfc3339(query.since)),
            "until": rfc3339(query.until),
            "rows": report.rows.iter().map(row_json).collect::<Vec<_>>(),
            "total": row_json(&report.total),
        }))?;
        return Ok(Outcome::Ok);
    }
    if report.rows.is_empty() {
        println!("no costs recorded yet; every step records its cost when it runs");
        return Ok(Outcome::Ok);
    }
    let money = |amount: f64| format_money(amount, &card.currency);
    let width = report
        .rows
        .iter()
        .map(|r| r.key.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<width$}  {:>12}  {:>10}  {:>10}  {:>10}  {:>10}  {:>6}  {:>9}",
        query.by.name(),
        "total",
        "compute",
        "written",
        "units",
        "storage",
        "steps",
        "cpu s"
    );
    for row in report.rows.iter().chain([&report.total]) {
        println!(
            "{:<width$}  {:>12}  {:>10}  {:>10}  {:>10}  {:>10}  {:>6}  {:>9.2}",
            row.key,
            money(row.amounts.total()),
            money(row.amounts.compute),
            money(row.amounts.written + row.amounts.read),
            money(row.amounts.units),
            money(row.amounts.storage),
            row.steps,
            row.usage.cpu_seconds
        );
    }
    Ok(Outcome::Ok)
}

fn query(repository: &Repository, args: &CostsArgs) -> Result<CostQuery, CliError> {
    let assets = args
        .selection
        .as_deref()
        .map(|text| select(repository, text))
        .transpose()?;
    let now = crate::clock::now(None)?.timestamp_millis();
    CostQuery::parse(
        repository,
        assets,
        &args.by,
        args.since.as_deref(),
        args.until.as_deref(),
        now,
    )
    .map_err(|error| match error {
        QueryError::Invalid { field, message } => CliError::Usage(format!("--{field}: {message}")),
        QueryError::EmptyWindow => CliError::Usage(format!(
            "--until must be after --since ({} is not after {})",
            args.until.as_deref().unwrap_or("now"),
            args.since.as_deref().unwrap_or("the beginning")
        )),
    })
}

/// A row as `--json` prints it (and the API answers).
pub(crate) fn row_json(row: &CostRow) -> serde_json::Value {
    json!({
        "key": row.key,
        "total": row.amounts.total(),
        "amounts": row.amounts,
        "steps": row.steps,
        "usage": row.usage,
    })
}
