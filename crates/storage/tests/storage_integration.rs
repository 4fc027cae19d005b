//! Storage tests: one suite, run against every backend (SQLite today; PostgreSQL adds one
//! `storage_suite!` line), plus what is specific to a backend.

#[macro_use]
mod suite;
mod sqlite;
