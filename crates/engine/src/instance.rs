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

use crate::extensions::Extensions;
use crate::openlineage::OpenLineage;

/// The storage and IO managers of one repository.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The repository root (the folder holding `strata.toml`).
    pub root: PathBuf,
    /// The event log and its indexes.
    pub storage: Arc<dyn Storage>,
    /// IO managers by name.
    pub io_managers: IoManagerRegistry,
    /// Functions (and IO managers) the binary registered through the Rust API.
    pub extensions: Arc<Extensions>,
    /// Where steps send OpenLineage events, when `[openlineage]` is declared.
    pub openlineage: Option<Arc<OpenLineage>>,
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
    /// strata.toml declares a custom IO manager this binary did not register.
    #[error(
        "[io_managers.{0}] is kind = \"custom\", but this binary registers no IO manager `{0}`: \
         run the repository with the binary that registers it (Rust API: \
         Extensions::io_manager), or declare another kind"
    )]
    UnregisteredIoManager(String),
}

impl Instance {
    /// Opens the instance `project` declares for the repository at `root`: its SQLite file
    /// (created, and migrated, when needed) and its IO managers.
    pub fn open(root: &Path, project: &ProjectConfig) -> Result<Self, InstanceError> {
        Self::open_with(root, project, Arc::new(Extensions::new()))
    }

    /// Like [`open`](Self::open), with the functions and IO managers a binary registered.
    pub fn open_with(
        root: &Path,
        project: &ProjectConfig,
        extensions: Arc<Extensions>,
    ) -> Result<Self, InstanceError> {
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
        let mut io_managers = IoManagerRegistry::from_project(project, root)?;
        for (name, manager) in extensions.io_managers() {
            io_managers.register(name, Arc::clone(manager));
        }
        if let Some(missing) = project
            .custom_io_managers
            .iter()
            .find(|name| extensions.io_managers().all(|(n, _)| n != name.as_str()))
        {
            return Err(InstanceError::UnregisteredIoManager(missing.clone()));
        }
        Ok(Self {
            root: root.to_path_buf(),
            storage: Arc::new(SqliteStorage::open(&database)?),
            io_managers,
            extensions,
            openlineage: project
                .openlineage
                .as_ref()
                .map(|config| Arc::new(OpenLineage::from_config(root, config))),
        })
    }
}
