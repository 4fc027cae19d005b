//! The garbage collector: deletes files no reader will be given again.
//!
//! Two kinds of garbage, both only once older than a grace period (so a reader still scanning a
//! just-superseded partition, or a write still staging its files, is left alone):
//!
//! - **superseded** files: a newer materialization of the same partition replaced them. The
//!   index knows them; after deleting, a `FilesDeleted` event records it.
//! - **orphans**: files under an IO manager's root that no Materialization event names — the
//!   staged files of a write that crashed before its commit. Found by listing (the only place
//!   Strata lists a store) and checking each path against the index.
//!
//! Deleting is idempotent and the event comes after the deletion, so a crash anywhere in
//! between is repaired by the next collection.

use strata_io_managers::IoError;
use strata_io_managers::registry::IoManagerRegistry;
use strata_storage::event::{Event, Millis};
use strata_storage::{Storage, StorageError, failpoint};

/// How to collect.
#[derive(Clone, Copy, Debug)]
pub struct GcOptions {
    /// Leave alone files superseded, or written, less than this long ago.
    pub grace_ms: i64,
    /// Report what would be deleted, delete nothing.
    pub dry_run: bool,
}

/// The grace period when none is given: a day, long enough for any reader of superseded data
/// and any write still staging its files.
pub const DEFAULT_GRACE_MS: i64 = 24 * 3600 * 1000;

/// Files and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

/// What one IO manager's collection found (and, unless a dry run, deleted).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IoManagerGc {
    /// The IO manager's name.
    pub io_manager: String,
    /// Where it stores.
    pub url: String,
    /// Superseded files.
    pub superseded: Tally,
    /// Orphans of writes that never committed.
    pub orphans: Tally,
}

/// Why a collection stopped.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The index could not be read or written.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A store could not be listed or a file deleted.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// How many superseded files to delete per batch (and per `FilesDeleted` event).
const BATCH: u32 = 1_000;

fn wall_clock_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Collects garbage in every IO manager of `io_managers`. Superseded files are aged against
/// `now` (the time their supersession was recorded in); orphans against the wall clock.
pub async fn collect_garbage(
    storage: &dyn Storage,
    io_managers: &IoManagerRegistry,
    now: Millis,
    options: GcOptions,
) -> Result<Vec<IoManagerGc>, GcError> {
    let mut reports = Vec::new();
    for name in io_managers.names() {
        let io = io_managers.get(name)?;
        let mut report = IoManagerGc {
            io_manager: name.to_string(),
            url: io.url(),
            superseded: Tally::default(),
            orphans: Tally::default(),
        };
        let before = now - options.grace_ms;

        // Superseded files, in batches, each recorded after its deletion.
        loop {
            let limit = if options.dry_run { u32::MAX } else { BATCH };
            let batch = storage.superseded_files(name, before, limit).await?;
            for file in &batch {
                report.superseded.add(file.bytes);
            }
            if options.dry_run || batch.is_empty() {
                break;
            }
            let paths: Vec<String> = batch.into_iter().map(|f| f.path).collect();
            failpoint::hit("gc.before_delete");
            io.delete(&paths).await?;
            failpoint::hit("gc.after_delete");
            storage
                .append(
                    now,
                    vec![Event::FilesDeleted {
                        io_manager: name.to_string(),
                        paths,
                    }],
                )
                .await?;
        }

        // Orphans: listed, old enough, and named by no event. Their age is measured on the
        // wall clock, like the store's own timestamps (not on `now`, which `STRATA_NOW` may set).
        let orphan_cutoff = wall_clock_ms() - options.grace_ms;
        let old: Vec<_> = io
            .list()
            .await?
            .into_iter()
            .filter(|object| object.last_modified * 1000 < orphan_cutoff)
            .collect();
        let mut orphans = Vec::new();
        for chunk in old.chunks(BATCH as usize) {
            let paths: Vec<String> = chunk.iter().map(|o| o.path.clone()).collect();
            let recorded = storage.recorded_paths(name, &paths).await?;
            for (object, recorded) in chunk.iter().zip(recorded) {
                if !recorded {
                    report.orphans.add(object.bytes);
                    orphans.push(object.path.clone());
                }
            }
        }
        if !options.dry_run && !orphans.is_empty() {
            io.delete(&orphans).await?;
            storage
                .append(
                    now,
                    vec![Event::FilesDeleted {
                        io_manager: name.to_string(),
                        paths: orphans,
                    }],
                )
                .await?;
        }
        reports.push(report);
    }
    Ok(reports)
}
