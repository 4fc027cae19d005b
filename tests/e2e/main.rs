//! End-to-end tests that drive the real `strata` binary.
