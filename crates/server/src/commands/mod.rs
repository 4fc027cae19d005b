//! One module per subcommand; each takes typed arguments and a loaded repository.

mod alerts;
mod assets;
pub(crate) mod automation;
mod backfill;
mod check;
mod costs;
mod gc;
mod lineage;
mod materialize;
mod partitions;
mod query;
mod report;
mod runs;
mod status;

use std::io::Write;

pub(crate) use check::print_diagnostics;

use strata_core::model::Repository;

use crate::cli::{Cli, Command};
use crate::repository::{self, Loaded};
use crate::{CliError, Outcome};

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> Result<Outcome, CliError> {
    if let Command::Serve { bind } = &cli.command {
        return crate::serve::run(&cli.repo, bind.as_deref());
    }
    let loaded = repository::load(&cli.repo)?;
    if let Command::Check(output) = &cli.command {
        return check::run(&loaded, output.json);
    }
    let repository = match loaded {
        Loaded::Ok(repository) => repository,
        Loaded::Invalid(diagnostics) => {
            check::print_diagnostics(&diagnostics);
            eprintln!(
                "the repository has {} error{}; nothing was loaded (`strata check` lists them)",
                diagnostics.len(),
                if diagnostics.len() == 1 { "" } else { "s" }
            );
            return Ok(Outcome::Failed);
        }
    };
    match cli.command {
        Command::Check(_) | Command::Serve { .. } => unreachable!("handled above"),
        Command::Assets { selection, output } => {
            assets::run(&repository, selection.as_deref(), output.json)
        }
        Command::Lineage(args) => lineage::run(&repository, &cli.repo, &args),
        Command::Partitions(args) => partitions::run(&repository, &cli.repo, &args),
        Command::Gc(args) => gc::run(&repository, &cli.repo, &args),
        Command::Materialize(args) => materialize::run(*repository, &cli.repo, &args),
        Command::Backfill(args) => backfill::create(*repository, &cli.repo, &args),
        Command::Backfills(args) => backfill::manage(*repository, &cli.repo, &args),
        Command::Runs(args) => runs::run(&repository, &cli.repo, &args),
        Command::Query(args) => query::run(&repository, &cli.repo, &args),
        Command::Status(args) => status::run(&repository, &cli.repo, &args),
        Command::Automation(args) => automation::run(*repository, &cli.repo, args.action),
        Command::Freshness(args) => automation::freshness(&repository, &cli.repo, &args),
        Command::Report(args) => report::run(&repository, &cli.repo, &args),
        Command::Costs(args) => costs::run(&repository, &cli.repo, &args),
        Command::Alerts(args) => alerts::run(&repository, &cli.repo, &args),
        Command::Daemon => automation::daemon(*repository, &cli.repo),
    }
}

/// Writes a JSON document and a newline to stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// The asset named on the command line, or an error naming the closest key.
pub(crate) fn find_asset<'r>(
    repository: &'r Repository,
    text: &str,
) -> Result<&'r strata_core::model::Asset, CliError> {
    repository
        .find(text)
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// Resolves a selection, with errors that point into it.
pub(crate) fn select(
    repository: &Repository,
    text: &str,
) -> Result<std::collections::BTreeSet<strata_core::key::AssetKey>, CliError> {
    repository.select(text).map_err(|e| {
        let hint = e.hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default();
        CliError::Usage(format!(
            "selection `{text}`, at character {}: {}{hint}",
            e.offset + 1,
            e.message
        ))
    })
}
