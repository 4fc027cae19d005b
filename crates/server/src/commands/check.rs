//! `strata check`: load and validate; a one-screen summary or every error.

use std::collections::BTreeMap;

use serde::Serialize;
use strata_core::declare::Diagnostic;
use strata_core::model::Repository;
use strata_core::partitions::spec::PartitionsSpec;

use super::print_json;
use crate::repository::Loaded;
use crate::{CliError, Outcome};

#[derive(Serialize, Default)]
struct Report<'a> {
    ok: bool,
    project: &'a str,
    assets: usize,
    dependencies: usize,
    groups: BTreeMap<&'a str, usize>,
    compute: BTreeMap<&'a str, usize>,
    partitions: BTreeMap<&'a str, usize>,
    checks: usize,
    assets_with_checks: usize,
    blocking_checks: usize,
    automated: usize,
    with_freshness: usize,
    errors: Vec<ErrorJson<'a>>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    file: String,
    line: u32,
    column: u32,
    message: &'a str,
    hint: Option<&'a str>,
}

pub(crate) fn run(loaded: &Loaded, json: bool) -> Result<Outcome, CliError> {
    match loaded {
        Loaded::Ok(repository) => {
            let report = summarize(repository);
            if json {
                print_json(&report)?;
            } else {
                print_summary(&report);
            }
            Ok(Outcome::Ok)
        }
        Loaded::Invalid(diagnostics) => {
            if json {
                print_json(&Report {
                    errors: diagnostics
                        .iter()
                        .map(|d| ErrorJson {
                            file: d.path.display().to_string(),
                            line: d.line,
                            column: d.col,
                            message: &d.message,
                            hint: d.hint.as_deref(),
                        })
                        .collect(),
                    ..Report::default()
                })?;
            } else {
                print_diagnostics(diagnostics);
                eprintln!(
                    "{} error{}; nothing was loaded",
                    diagnostics.len(),
                    if diagnostics.len() == 1 { "" } else { "s" }
                );
            }
            Ok(Outcome::Failed)
        }
    }
}

fn summarize(repository: &Repository) -> Report<'_> {
    let mut report = Report {
        ok: true,
        project: &repository.project().name,
        ..Report::default()
    };
    for asset in repository.assets() {
        report.assets += 1;
        report.dependencies += asset.deps.len();
        *report.groups.entry(asset.key.group()).or_default() += 1;
        *report.compute.entry(asset.compute.kind()).or_default() += 1;
        let partitions = asset
            .partitions
            .as_ref()
            .map_or("unpartitioned", |p| kind_name(&p.spec));
        *report.partitions.entry(partitions).or_default() += 1;
        report.checks += asset.checks.len();
        report.assets_with_checks += usize::from(!asset.checks.is_empty());
        report.blocking_checks += asset.checks.iter().filter(|c| c.blocking).count();
        report.automated += usize::from(asset.automation.is_some());
        report.with_freshness += usize::from(asset.freshness.is_some());
    }
    report
}

fn kind_name(spec: &PartitionsSpec) -> &'static str {
    match spec {
        PartitionsSpec::Hourly(_) => "hourly",
        PartitionsSpec::Daily(_) => "daily",
        PartitionsSpec::Weekly(_) => "weekly",
        PartitionsSpec::Monthly(_) => "monthly",
        PartitionsSpec::Cron(_) => "cron",
        PartitionsSpec::Static(_) => "static",
        PartitionsSpec::Dynamic(_) => "dynamic",
        PartitionsSpec::Multi(_) => "multi",
    }
}

fn print_summary(report: &Report<'_>) {
    let list = |counts: &BTreeMap<&str, usize>| {
        counts
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "ok  {}: {} assets, {} dependencies",
        report.project, report.assets, report.dependencies
    );
    println!("    groups      {}", list(&report.groups));
    println!("    compute     {}", list(&report.compute));
    println!("    partitions  {}", list(&report.partitions));
    println!(
        "    checks      {} on {} assets ({} blocking)",
        report.checks, report.assets_with_checks, report.blocking_checks
    );
    println!(
        "    automation  {} assets    freshness {} assets",
        report.automated, report.with_freshness
    );
}

/// Prints each diagnostic as `path:line:col: message` (+ hint) to stderr.
pub(crate) fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        eprintln!("{diagnostic}");
    }
}
