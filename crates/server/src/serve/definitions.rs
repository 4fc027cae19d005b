//! The repository's definitions as the server holds them: swapped whole, atomically, when the
//! files change or on request; a repository that fails to load keeps the previous definitions
//! in service and its errors on display.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use strata_core::declare::Diagnostic;
use strata_core::model::{Compute, Repository};

use crate::CliError;
use crate::repository::{self, Loaded};

/// One version of the definitions.
#[derive(Debug)]
pub struct Snapshot {
    /// The last repository that loaded (`None` until one did).
    pub repository: Option<Arc<Repository>>,
    /// The errors of the latest load (empty when it loaded).
    pub errors: Vec<Diagnostic>,
    /// Counts loads that changed something, from 1.
    pub generation: u64,
    /// The files' fingerprint at the latest load.
    fingerprint: u64,
    /// The code files the repository's assets hash into their code versions.
    code_files: Vec<PathBuf>,
}

/// The current definitions of a repository folder.
#[derive(Debug)]
pub struct Definitions {
    root: PathBuf,
    current: RwLock<Arc<Snapshot>>,
}

impl Definitions {
    /// Loads the repository at `root`; an invalid repository still starts (with its errors).
    pub fn load(root: &Path) -> Result<Self, CliError> {
        let (repository, errors) = match repository::load(root)? {
            Loaded::Ok(repository) => (Some(Arc::new(*repository)), Vec::new()),
            Loaded::Invalid(errors) => (None, errors),
        };
        let code_files = code_files(root, repository.as_deref());
        Ok(Self {
            root: root.to_path_buf(),
            current: RwLock::new(Arc::new(Snapshot {
                repository,
                errors,
                generation: 1,
                fingerprint: fingerprint(root, &code_files),
                code_files,
            })),
        })
    }

    /// The repository folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The definitions now.
    pub fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the files again and swaps the definitions in: a repository that loads replaces
    /// the old one; one that does not keeps the old one and records its errors.
    pub fn reload(&self) -> Arc<Snapshot> {
        // An unreadable strata.toml is one more error to show, not a reason to stop serving.
        let loaded = repository::load(&self.root).unwrap_or_else(|error| {
            Loaded::Invalid(vec![Diagnostic {
                path: PathBuf::from("strata.toml"),
                line: 1,
                col: 1,
                message: error.to_string(),
                hint: None,
            }])
        });
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let (repository, errors) = match loaded {
            Loaded::Ok(repository) => (Some(Arc::new(*repository)), Vec::new()),
            Loaded::Invalid(errors) => (current.repository.clone(), errors),
        };
        let code_files = code_files(&self.root, repository.as_deref());
        *current = Arc::new(Snapshot {
            repository,
            errors,
            generation: current.generation + 1,
            fingerprint: fingerprint(&self.root, &code_files),
            code_files,
        });
        Arc::clone(&current)
    }

    /// Reloads when a declaration file changed since the last load; returns the new snapshot.
    pub fn reload_if_changed(&self) -> Option<Arc<Snapshot>> {
        let current = self.current();
        if fingerprint(&self.root, &current.code_files) == current.fingerprint {
            return None;
        }
        Some(self.reload())
    }
}

/// The code files (`code_files`) of the repository's assets, as paths under `root`.
fn code_files(root: &Path, repository: Option<&Repository>) -> Vec<PathBuf> {
    let Some(repository) = repository else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = repository
        .assets()
        .flat_map(|asset| match &asset.compute {
            Compute::Command(command) => command.code_files.as_slice(),
            Compute::Rust(rust) => rust.code_files.as_slice(),
            _ => &[],
        })
        .map(|file| root.join(file))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// A hash of the path, size and modification time of `strata.toml`, every declaration file
/// under `assets/` and the assets' code files: cheap to take every second, and different after any
/// edit, addition or removal (a code file changes code versions, so staleness, without
/// changing a declaration).
fn fingerprint(root: &Path, code_files: &[PathBuf]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut files = vec![root.join("strata.toml")];
    // The same files loading reads; an unreadable folder shows up in the load's errors.
    let _ = repository::collect(&root.join("assets"), &mut files);
    files.extend_from_slice(code_files);
    files.sort();
    for file in files {
        file.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(&file) {
            meta.len().hash(&mut hasher);
            meta.modified().ok().hash(&mut hasher);
        }
    }
    hasher.finish()
}
