//! Strata's instance storage (placeholder until the storage modules land).
