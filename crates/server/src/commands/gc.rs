//! `strata gc`: delete superseded partition files and orphans of crashed writes.

use strata_core::duration::parse_duration;
use strata_core::model::Repository;
use strata_engine::gc::{DEFAULT_GRACE_MS, GcOptions, collect_garbage};

use crate::cli::GcArgs;
use crate::commands::print_json;
use crate::{CliError, Outcome, clock};

/// Collects garbage in every IO manager of the repository's instance.
pub(crate) fn run(
    repository: &Repository,
    root: &std::path::Path,
    args: &GcArgs,
) -> Result<Outcome, CliError> {
    let grace_ms = match &args.grace {
        Some(text) => {
            let duration =
                parse_duration(text).map_err(|e| CliError::Usage(format!("--grace: {e}")))?;
            duration.as_millis() as i64
        }
        None => DEFAULT_GRACE_MS,
    };
    let now = clock::now(None)?.timestamp_millis();
    let instance = crate::open_instance(root, repository.project())?;
    let options = GcOptions {
        grace_ms,
        dry_run: args.dry_run,
    };
    let reports = crate::runtime()?
        .block_on(collect_garbage(
            instance.storage.as_ref(),
            &instance.io_managers,
            now,
            options,
        ))
        .map_err(CliError::internal)?;
    if args.output.json {
        print_json(&serde_json::json!({ "dry_run": args.dry_run, "io_managers": reports }))?;
        return Ok(Outcome::Ok);
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for report in &reports {
        println!(
            "{} ({}): {verb} {} superseded file{} ({}) and {} orphan{} ({})",
            report.io_manager,
            report.url,
            report.superseded.files,
            plural(report.superseded.files),
            bytes(report.superseded.bytes),
            report.orphans.files,
            plural(report.orphans.files),
            bytes(report.orphans.bytes),
        );
    }
    Ok(Outcome::Ok)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
