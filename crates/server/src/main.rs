//! The `strata` command.
//!
//! Exit codes are stable: 0 ok, 1 ran but something failed (for example `strata check` found
//! errors), 2 usage or internal error. Output to a closed pipe (`strata partitions … | head`)
//! ends the program quietly.

mod cli;
mod clock;
mod commands;
mod repository;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// What a command reports back to `main`.
pub(crate) enum Outcome {
    /// Everything asked for was done.
    Ok,
    /// The command ran, and what it checked failed.
    Failed,
}

/// Errors that end a command: the user's (usage) or ours (internal); both exit 2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
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

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = commands::run(args);
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
