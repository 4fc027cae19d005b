//! IO managers by name: the ones a project declares, plus any a Rust user registers.
//!
//! Assets name their IO manager (`io_manager = "warehouse"`; `"default"` when they name none).
//! The registry is built once from `strata.toml` and handed to the engine; an embedder adds its
//! own implementation with [`IoManagerRegistry::register`] before handing it over.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use strata_core::model::ProjectConfig;

use crate::config::{default_config, from_config};
use crate::{IoError, IoManager};

/// The IO manager assets use when they name none.
pub const DEFAULT_IO_MANAGER: &str = "default";

/// IO managers by name.
#[derive(Clone, Debug, Default)]
pub struct IoManagerRegistry {
    managers: BTreeMap<String, Arc<dyn IoManager>>,
}

impl IoManagerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The IO managers `project` declares, for the repository at `repo_root`; `default` is
    /// Parquet under `.strata/data` when the project declares none.
    pub fn from_project(project: &ProjectConfig, repo_root: &Path) -> Result<Self, IoError> {
        let mut registry = Self::new();
        for (name, config) in &project.io_managers {
            registry.register(name, from_config(config, repo_root)?);
        }
        if !registry.managers.contains_key(DEFAULT_IO_MANAGER) {
            registry.register(
                DEFAULT_IO_MANAGER,
                from_config(&default_config(), repo_root)?,
            );
        }
        Ok(registry)
    }

    /// Adds `manager` under `name`, replacing any manager of that name (so an embedder can
    /// swap the declared `default`). Returns the replaced manager.
    pub fn register(
        &mut self,
        name: impl Into<String>,
        manager: Arc<dyn IoManager>,
    ) -> Option<Arc<dyn IoManager>> {
        self.managers.insert(name.into(), manager)
    }

    /// The manager registered as `name`; an unknown name gives the closest registered one, or
    /// the list of names.
    pub fn get(&self, name: &str) -> Result<Arc<dyn IoManager>, IoError> {
        if let Some(manager) = self.managers.get(name) {
            return Ok(manager.clone());
        }
        let hint = match closest(name, self.names()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if self.managers.is_empty() => "no IO manager is registered".to_string(),
            None => format!(
                "registered: {}",
                self.names()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Err(IoError::UnknownIoManager {
            name: name.to_string(),
            hint,
        })
    }

    /// The registered names, in alphabetical order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.managers.keys().map(String::as_str)
    }
}

/// The candidate within a third of `word`'s length in edits (at least one), closest first and
/// alphabetical among equals.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use strata_core::model::IoManagerKind;

    use super::*;
    use crate::object::ObjectStoreIoManager;

    fn registry() -> IoManagerRegistry {
        let mut registry = IoManagerRegistry::new();
        for name in ["default", "warehouse"] {
            registry.register(
                name,
                Arc::new(ObjectStoreIoManager::in_memory(IoManagerKind::Parquet)),
            );
        }
        registry
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let error = registry().get("warehose").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown IO manager `warehose`; did you mean `warehouse`?"
        );
    }

    #[test]
    fn unknown_names_list_the_registered_ones() {
        let error = registry().get("lake").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown IO manager `lake`; registered: `default`, `warehouse`"
        );
        let empty = IoManagerRegistry::new().get("default").unwrap_err();
        assert_eq!(
            empty.to_string(),
            "unknown IO manager `default`; no IO manager is registered"
        );
    }

    #[test]
    fn registering_replaces_and_adds() {
        let mut registry = registry();
        let custom = Arc::new(ObjectStoreIoManager::in_memory(IoManagerKind::ArrowIpc));
        assert!(registry.register("default", custom).is_some());
        assert_eq!(
            registry.get("default").unwrap().stored_format(),
            crate::FileFormat::ArrowIpc
        );
        assert_eq!(
            registry.names().collect::<Vec<_>>(),
            ["default", "warehouse"]
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
