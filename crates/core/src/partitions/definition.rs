//! (in progress)
use super::spec::PartitionsSpec;

/// A checked partitions definition.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionsDefinition {}

/// Why a partitions spec is invalid.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PartitionsError(pub String);

/// Keys of dynamic partitions sets, by set name.
pub trait DynamicPartitions {}

impl PartitionsDefinition {
    /// Checks a spec.
    pub fn from_spec(_spec: &PartitionsSpec) -> Result<Self, PartitionsError> {
        Ok(Self {})
    }
}
