//! The one public error of instance storage. Backend errors (SQLite's, later PostgreSQL's) are
//! mapped into it so callers never see a backend type.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The caller passed something the log cannot hold (an empty partition key, a duplicate run
    /// id, an event about a run that does not exist). Nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The database could not be opened (missing folder, not a database, permissions).
    #[error("cannot open instance storage at {location}: {reason}")]
    Open {
        /// Where.
        location: String,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer Strata.
    #[error(
        "instance storage at {location} has schema version {found}, newer than this strata \
         (which knows up to {known}); upgrade strata"
    )]
    TooNew {
        /// Where.
        location: String,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// An unexpected backend failure (I/O, corruption, a bug).
    #[error("instance storage failed: {0}")]
    Backend(String),
}

impl StorageError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}
