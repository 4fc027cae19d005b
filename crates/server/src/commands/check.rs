//! `strata check`: load and validate; a one-screen summary or every error.

use std::collections::BTreeMap;

use serde::Serialize;
use strata_core::declare::Diagnostic;

use super::print_json;
use crate::repository::Loaded;
use crate::{CliError, Outcome};

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    assets: usize,
    groups: BTreeMap<&'a str, usize>,
    partitioned: usize,
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
            let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
            let mut partitioned = 0;
            let mut count = 0;
            for asset in repository.assets() {
                *groups.entry(asset.key.group()).or_default() += 1;
                partitioned += usize::from(asset.partitions.is_some());
                count += 1;
            }
            if json {
                print_json(&Report {
                    ok: true,
                    assets: count,
                    groups,
                    partitioned,
                    errors: Vec::new(),
                })?;
            } else {
                println!(
                    "ok: {count} assets in {} groups ({partitioned} partitioned)",
                    groups.len()
                );
                for (group, n) in &groups {
                    println!("  {group:<12} {n} asset{}", if *n == 1 { "" } else { "s" });
                }
            }
            Ok(Outcome::Ok)
        }
        Loaded::Invalid(diagnostics) => {
            if json {
                print_json(&Report {
                    ok: false,
                    assets: 0,
                    groups: BTreeMap::new(),
                    partitioned: 0,
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
                })?;
            } else {
                print_diagnostics(diagnostics)?;
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

/// Prints each diagnostic as `path:line:col: message` (+ hint) to stderr.
pub(crate) fn print_diagnostics(diagnostics: &[Diagnostic]) -> Result<(), CliError> {
    for diagnostic in diagnostics {
        eprintln!("{diagnostic}");
    }
    Ok(())
}
