//! End-to-end tests that drive the real `strata` binary on real repositories.

mod alerts;
mod api;
mod automation;
mod backfill;
mod cli;
mod costs;
mod gc;
mod json_schema;
mod lineage;
mod materialize;
mod telemetry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (which is also the example repository).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `strata` with `args`, from `dir`, with a fixed clock unless the test sets one.
pub(crate) fn strata(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(dir)
        .env_remove("STRATA_NOW")
        .output()
        .expect("strata runs")
}

/// Standard output as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Standard error as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Standard output parsed as JSON.
pub(crate) fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            stdout(output),
            stderr(output)
        )
    })
}
