//! (in progress)
/// A set of partitions of one definition.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionSubset {}
