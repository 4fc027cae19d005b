//! Integration tests of strata-core.
