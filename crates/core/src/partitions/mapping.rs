//! (in progress)
use super::{PartitionsDefinition, spec::MappingSpec};

/// A checked partition mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionMapping {}

impl PartitionMapping {
    /// Builds a mapping from its spec.
    pub fn from_spec(_spec: &MappingSpec) -> Self {
        Self {}
    }
    /// The mapping Dagster infers when none is declared.
    pub fn default_for(
        _upstream: Option<&PartitionsDefinition>,
        _downstream: Option<&PartitionsDefinition>,
    ) -> Self {
        Self {}
    }
    /// Rejects what Dagster's `validate_partition_mapping` rejects, with the reason.
    pub fn validate(
        &self,
        _upstream: Option<&PartitionsDefinition>,
        _downstream: Option<&PartitionsDefinition>,
    ) -> Result<(), String> {
        Ok(())
    }
}
