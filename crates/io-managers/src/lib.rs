//! Strata's IO managers: where asset partitions are written and read.
//!
//! The `IoManager` trait and its Parquet and Arrow IPC implementations over `object_store` land
//! with the storage issue; this crate exists now so the workspace's dependency direction
//! (core ← io-managers ← engine ← server) is fixed from the start.
