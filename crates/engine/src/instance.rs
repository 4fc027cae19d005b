//! A repository's instance: where its events are recorded and its partitions stored.
//!
//! `Instance` is a bag of narrow handles, not a facade: callers use the storage and the IO
//! managers directly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_core::model::{Location, ProjectConfig};
use strata_io_managers::IoError;
use strata_io_managers::registry::IoManagerRegistry;
use strata_storage::{SqliteStorage, Storage, StorageError};

/// The storage and IO managers of one repository.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The repository root (the folder holding `strata.toml`).
    pub root: PathBuf,
    /// The event log and its indexes.
    pub storage: Arc<dyn Storage>,
    /// IO managers by name.
    pub io_managers: IoManagerRegistry,
}

/// Why an instance could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// `[storage] url` does not name a SQLite file.
    #[error(
        "[storage] url must be a SQLite file: a path relative to the repository or \
         file:///abs/path (PostgreSQL is not supported yet); got {0}"
    )]
    UnsupportedStorage(String),
    /// The storage failed to open.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// An IO manager could not be built.
    #[error(transparent)]
    IoManager(#[from] IoError),
}

impl Instance {
    /// Opens the instance `project` declares for the repository at `root`: its SQLite file
    /// (created, and migrated, when needed) and its IO managers.
    pub fn open(root: &Path, project: &ProjectConfig) -> Result<Self, InstanceError> {
        let database = match &project.storage.url {
            Location::Relative(path) => root.join(path),
            Location::File(path) => path.clone(),
            Location::S3 { bucket, prefix } => {
                return Err(InstanceError::UnsupportedStorage(format!(
                    "s3://{bucket}/{prefix}"
                )));
            }
            Location::Memory => {
                return Err(InstanceError::UnsupportedStorage("memory://".into()));
            }
        };
        Ok(Self {
            root: root.to_path_buf(),
            storage: Arc::new(SqliteStorage::open(&database)?),
            io_managers: IoManagerRegistry::from_project(project, root)?,
        })
    }
}
