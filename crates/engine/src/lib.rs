//! Strata's engine (placeholder until the commit protocol lands).
