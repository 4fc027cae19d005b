//! `strata lineage ASSET --columns`: each column and the upstream columns it comes from.

use std::io::Write;
use std::path::Path;

use strata_core::model::Repository;
use strata_engine::lineage::assets::{AssetColumns, ColumnLineageError, asset_columns};

use crate::commands::{find_asset, print_json};
use crate::{CliError, Outcome};

pub(super) fn run(
    repository: &Repository,
    root: &Path,
    selection: &str,
    json: bool,
) -> Result<Outcome, CliError> {
    let asset = find_asset(repository, selection)?;
    let instance = crate::open_instance(root, repository.project())?;
    let lineage = crate::runtime()?
        .block_on(asset_columns(
            repository,
            instance.storage.as_ref(),
            &asset.key,
        ))
        .map_err(|e| match e {
            ColumnLineageError::Storage(e) => CliError::internal(e),
            other => CliError::Usage(other.to_string()),
        })?;
    if json {
        print_json(&lineage)?;
    } else {
        print_text(&lineage)?;
    }
    Ok(Outcome::Ok)
}

fn print_text(lineage: &AssetColumns) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let origin = match lineage.origin {
        strata_engine::lineage::assets::Origin::Sql => "planned from its SQL",
        strata_engine::lineage::assets::Origin::Reported => "as its command reported",
        strata_engine::lineage::assets::Origin::None => "no column lineage known",
    };
    writeln!(
        out,
        "{}: {} column{} ({origin})",
        lineage.asset,
        lineage.columns.len(),
        if lineage.columns.len() == 1 { "" } else { "s" }
    )?;
    let width = lineage
        .columns
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for column in &lineage.columns {
        let transform = column.transform.map_or("?", |t| t.as_str());
        let sources: Vec<String> = column
            .sources
            .iter()
            .map(|s| match s.transform {
                Some(t) if Some(t) != column.transform => {
                    format!("{}.{} ({})", s.asset, s.column, t.as_str())
                }
                _ => format!("{}.{}", s.asset, s.column),
            })
            .collect();
        let sources = if sources.is_empty() {
            "(no upstream column)".to_string()
        } else {
            sources.join(", ")
        };
        writeln!(
            out,
            "  {:width$}  {:10}  <- {sources}",
            column.name, transform
        )?;
    }
    if !lineage.rows.is_empty() {
        writeln!(out, "rows decided by:")?;
        for row in &lineage.rows {
            let effects: Vec<&str> = row.effects.iter().map(|e| e.as_str()).collect();
            writeln!(
                out,
                "  {}.{}  {}",
                row.asset,
                row.column,
                effects.join(", ")
            )?;
        }
    }
    Ok(())
}
