//! Strata's command line and server, as a library: `strata` is [`run`] with nothing
//! registered, and a binary that embeds Strata registers its own Rust functions and IO
//! managers ([`Extensions`]) and hands over to the same entry point. [`api::app`] is the HTTP
//! interface `strata serve` runs ([`serve`]), usable without a socket.
//!
//! ```ignore
//! use strata_server::{Extensions, RustContext};
//!
//! fn main() -> std::process::ExitCode {
//!     strata_server::run(Extensions::new().function("one_row", |ctx: RustContext| async move {
//!         Ok(ctx.sql("SELECT 1 AS n").await?.collect().await?)
//!     }))
//! }
//! ```
//!
//! Exit codes are stable: 0 ok, 1 ran but something failed (for example `strata check` found
//! errors), 2 usage or internal error. Output to a closed pipe (`strata partitions … | head`)
//! ends the program quietly.

pub mod api;
mod cli;
mod clock;
mod commands;
mod repository;
pub mod serve;
mod telemetry;
mod ui;

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use clap::Parser;
pub use strata_engine::extensions::{
    Extensions, FunctionError, FunctionFuture, RustContext, RustFunction,
};

/// What a command reports back to `main`.
pub(crate) enum Outcome {
    /// Everything asked for was done.
    Ok,
    /// The command ran, and what it checked failed.
    Failed,
}

/// Errors that end a command (or keep `strata serve` from starting): the user's (usage) or
/// ours (internal); both exit 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The caller asked for something that cannot be done; the message says how to fix it.
    #[error("{0}")]
    Usage(String),
    /// Writing output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Strata's storage or an IO manager failed.
    #[error("{0}")]
    Internal(String),
}

impl CliError {
    /// Wraps a failure of storage, an IO manager or the engine.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

/// The async runtime for commands that touch storage or IO managers.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Io)
}

/// The functions and IO managers of this process's binary (nothing for `strata` itself).
static EXTENSIONS: OnceLock<Arc<Extensions>> = OnceLock::new();

pub(crate) fn extensions() -> Arc<Extensions> {
    Arc::clone(EXTENSIONS.get_or_init(|| Arc::new(Extensions::new())))
}

/// Opens the repository's instance with this binary's registered IO managers and functions.
pub(crate) fn open_instance(
    root: &std::path::Path,
    project: &strata_core::model::ProjectConfig,
) -> Result<strata_engine::instance::Instance, CliError> {
    strata_engine::instance::Instance::open_with(root, project, extensions())
        .map_err(CliError::internal)
}

/// Strata's CLI entry point: parses the command line and runs it with `extensions` registered
/// beside the repository's declared assets. Returns the process's exit code.
pub fn run(extensions: Extensions) -> ExitCode {
    let _ = EXTENSIONS.set(Arc::new(extensions));
    let args = cli::Cli::parse();
    let telemetry = telemetry::init();
    let result = commands::run(args);
    // Flush exported spans before the exit code is decided and the process ends, failed or not.
    drop(telemetry);
    let _ = std::io::stdout().flush();
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(CliError::Io(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
