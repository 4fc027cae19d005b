//! The IO manager conformance suite, one binary: every promise of the `IoManager` contract
//! (`suite`) against every backend (`backends`: `memory://`, local disk, S3 on a real
//! `moto_server`) and both stored formats.
//!
//! The S3 tests need `moto_server`: `bash tests/run.sh` installs it when missing. Without it
//! they fail, saying so; they never pass silently.

mod backends;
mod moto;
mod project;
mod suite;

/// One `#[tokio::test]` per promise, for one backend and one stored format.
macro_rules! promises {
    ($backend:path, $kind:expr) => {
        promises!(@each $backend, $kind;
            round_trip,
            empty_partition,
            multi_partition_table,
            table_reads_only_given_files,
            table_errors_are_precise,
            fetch_in_every_format,
            fetch_empty_partition_as_csv,
            delete_is_idempotent,
            list_and_storage_size,
            malicious_keys_stay_under_the_root,
            concurrent_writes_do_not_interfere,
            failed_input_fails_the_write,
        );
    };
    (@each $backend:path, $kind:expr; $($promise:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $promise() {
                crate::suite::$promise($backend($kind).await).await;
            }
        )+
    };
}

/// The suite for one backend, in both stored formats.
macro_rules! conformance {
    ($name:ident, $backend:path) => {
        mod $name {
            mod parquet {
                promises!($backend, strata_core::model::IoManagerKind::Parquet);
            }
            mod arrow_ipc {
                promises!($backend, strata_core::model::IoManagerKind::ArrowIpc);
            }
        }
    };
}

conformance!(memory, crate::backends::memory);
conformance!(local, crate::backends::local);
conformance!(s3, crate::backends::s3);
