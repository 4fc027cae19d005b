//! Integration tests of strata-core: one binary, one module per concern.

mod dagster_vectors;
mod example_repository;
