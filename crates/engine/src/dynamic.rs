//! Adding keys to and removing keys from a dynamic partitions set, for the CLI and the API.
//!
//! The set must be declared by some asset of the repository and added keys must be valid; a
//! bad name or key changes nothing. Removing a key keeps its stored partitions (state is kept
//! by key), so adding it back finds them again.

use std::collections::BTreeSet;

use strata_core::model::Repository;
use strata_core::partitions::definition::{DynamicPartitions, check_dynamic_key};
use strata_storage::event::{Event, Millis};
use strata_storage::{Storage, StorageError};

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    /// No asset declares the set; the message names the declared ones.
    #[error("{0}")]
    UnknownSet(String),
    /// A key cannot be added; the message says why.
    #[error("{0}")]
    InvalidKey(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A set after a change.
#[derive(Debug)]
pub struct Changed {
    /// Keys that were added or removed (the others already were, or were not, in the set).
    pub changed: usize,
    /// The set's keys now, in the order they were added.
    pub keys: Vec<String>,
}

/// Whether the change can be made: the set is declared and added keys are valid. Reads
/// nothing, so a caller can refuse before it opens storage.
pub fn check(
    repository: &Repository,
    name: &str,
    keys: &[String],
    adding: bool,
) -> Result<(), DynamicError> {
    let declared: BTreeSet<&str> = repository
        .assets()
        .filter_map(|a| a.partitions_definition())
        .flat_map(|d| d.dynamic_sets())
        .collect();
    if !declared.contains(name) {
        let known = if declared.is_empty() {
            "no asset declares one (`partitions = { dynamic = \"NAME\" }`)".to_string()
        } else {
            let names: Vec<String> = declared.iter().map(|d| format!("`{d}`")).collect();
            format!("the repository declares {}", names.join(", "))
        };
        return Err(DynamicError::UnknownSet(format!(
            "no dynamic partitions set `{name}`: {known}"
        )));
    }
    if adding {
        for key in keys {
            check_dynamic_key(key).map_err(|e| {
                DynamicError::InvalidKey(format!("cannot add `{key}` to `{name}`: {e}"))
            })?;
        }
    }
    Ok(())
}

/// Adds (`adding`) or removes `keys` of the set `name`, recorded at `now` (after [`check`]).
pub async fn change(
    storage: &dyn Storage,
    repository: &Repository,
    name: &str,
    keys: Vec<String>,
    adding: bool,
    now: Millis,
) -> Result<Changed, DynamicError> {
    check(repository, name, &keys, adding)?;
    let before: BTreeSet<String> = storage
        .dynamic_partitions()
        .await?
        .keys(name)
        .unwrap_or_default()
        .iter()
        .cloned()
        .collect();
    let changed = keys
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| before.contains(*k) != adding)
        .count();
    let name = name.to_string();
    let event = if adding {
        Event::DynamicPartitionsAdded {
            name: name.clone(),
            keys,
        }
    } else {
        Event::DynamicPartitionsRemoved {
            name: name.clone(),
            keys,
        }
    };
    storage.append(now, vec![event]).await?;
    let keys = storage
        .dynamic_partitions()
        .await?
        .keys(&name)
        .unwrap_or_default()
        .to_vec();
    Ok(Changed { changed, keys })
}
