//! Parquet and Arrow IPC partitions over any `object_store` backend.
//!
//! One implementation serves local disk, `memory://` and `s3://`: the backends differ only in
//! the [`ObjectStore`] handed in. Each concern has its own module:
//!
//! - [`write`]: streaming a partition's batches into one file (multipart upload on S3);
//! - [`table`]: a DataFusion table over exactly the given files;
//! - [`fetch`]: local copies or conversions for commands.
//!
//! Deleting and listing (for the garbage collector) are small enough to live here.

mod fetch;
mod table;
mod write;

use std::fmt;
use std::path::Path as LocalPath;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::object_store::ObjectStoreUrl;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use strata_core::model::IoManagerKind;

pub use table::PartitionsTable;
pub use write::parquet_writer_properties;

use crate::{
    FileFormat, IoError, IoManager, ListedObject, LocalPartition, PartitionLocation,
    StoredPartition, WrittenPartition,
};

/// An [`IoManager`] storing Parquet or Arrow IPC files in an [`ObjectStore`] under a root prefix.
///
/// Cloning is cheap and clones share the store (a `memory://` manager's clones see the same
/// objects).
#[derive(Clone)]
pub struct ObjectStoreIoManager {
    store: Arc<dyn ObjectStore>,
    root: Path,
    url: String,
    kind: IoManagerKind,
    /// Set when the store is the local disk, so `fetch` can hand back stored files in place.
    local: Option<LocalFileSystem>,
    /// The URL this store is registered under in DataFusion sessions that scan its tables;
    /// unique per manager, so two managers (two `memory://` stores) never shadow each other.
    store_url: ObjectStoreUrl,
}

impl fmt::Debug for ObjectStoreIoManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreIoManager")
            .field("url", &self.url)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl ObjectStoreIoManager {
    /// An IO manager over `store`, writing under `root` (an empty path for the store's root).
    /// `url` names the location in messages (`s3://bucket/prefix`).
    pub fn new(
        store: Arc<dyn ObjectStore>,
        root: Path,
        url: impl Into<String>,
        kind: IoManagerKind,
    ) -> Self {
        Self {
            store,
            root,
            url: url.into(),
            kind,
            local: None,
            store_url: unique_store_url(),
        }
    }

    /// An IO manager over the local directory `dir`, created if missing.
    ///
    /// Deleting the last file of a directory removes the directory, so collected partitions
    /// leave no empty folders behind.
    pub fn local(dir: &LocalPath, kind: IoManagerKind) -> Result<Self, IoError> {
        std::fs::create_dir_all(dir).map_err(|source| IoError::Io {
            action: "creating the IO manager directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let local = LocalFileSystem::new_with_prefix(dir)
            .map_err(|source| IoError::Store {
                action: "opening",
                url: format!("file://{}", dir.display()),
                path: String::new(),
                source: Box::new(source),
            })?
            .with_automatic_cleanup(true);
        let absolute = std::fs::canonicalize(dir).map_err(|source| IoError::Io {
            action: "resolving the IO manager directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let mut manager = Self::new(
            Arc::new(local.clone()),
            Path::default(),
            format!("file://{}", absolute.display()),
            kind,
        );
        manager.local = Some(local);
        Ok(manager)
    }

    /// An IO manager over a fresh in-memory store (`memory://`), for tests and examples.
    pub fn in_memory(kind: IoManagerKind) -> Self {
        Self::new(
            Arc::new(InMemory::new()),
            Path::default(),
            "memory://",
            kind,
        )
    }

    /// The object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The prefix every object lives under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The URL under which [`table`](IoManager::table) scans register this store in a
    /// DataFusion session (`strata-io://store-<n>`).
    pub fn object_store_url(&self) -> &ObjectStoreUrl {
        &self.store_url
    }

    fn format(&self) -> FileFormat {
        match self.kind {
            IoManagerKind::Parquet => FileFormat::Parquet,
            IoManagerKind::ArrowIpc => FileFormat::ArrowIpc,
        }
    }

    /// The full object path of `relative`, after checking it is a plain relative path: no
    /// leading `/`, no empty, `.` or `..` segment. Paths from callers (the event log, the
    /// garbage collector) are checked so none reaches outside the root.
    fn object_path(&self, relative: &str) -> Result<Path, IoError> {
        let invalid = |reason: &str| IoError::InvalidPath {
            path: relative.to_string(),
            reason: reason.to_string(),
        };
        if relative.is_empty() {
            return Err(invalid("it is empty"));
        }
        if relative
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(invalid(
                "it must be relative to the root, with no empty, `.` or `..` segment",
            ));
        }
        let path = Path::parse(relative).map_err(|error| invalid(&error.to_string()))?;
        Ok(Path::from_iter(self.root.parts().chain(path.parts())))
    }

    /// `path` relative to the root, as stored in a [`StoredFile`](crate::StoredFile).
    fn relative(&self, path: &Path) -> String {
        match path.prefix_match(&self.root) {
            Some(parts) => Path::from_iter(parts).to_string(),
            None => path.to_string(),
        }
    }

    fn store_error(
        &self,
        action: &'static str,
        path: &str,
        source: object_store::Error,
    ) -> IoError {
        match source {
            object_store::Error::NotFound { .. } => IoError::NotFound {
                url: self.url.clone(),
                path: path.to_string(),
            },
            source => IoError::Store {
                action,
                url: self.url.clone(),
                path: path.to_string(),
                source: Box::new(source),
            },
        }
    }
}

/// A fresh `strata-io://store-<n>` URL: DataFusion finds object stores by scheme and host.
/// Deletes in flight at once: enough to hide S3 latency, few enough to be polite.
const DELETE_CONCURRENCY: usize = 8;

fn unique_store_url() -> ObjectStoreUrl {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    ObjectStoreUrl::parse(format!("strata-io://store-{n}")).expect("a valid object store URL")
}

#[async_trait]
impl IoManager for ObjectStoreIoManager {
    fn url(&self) -> String {
        self.url.clone()
    }

    fn stored_format(&self) -> FileFormat {
        self.format()
    }

    async fn write(
        &self,
        location: &PartitionLocation,
        batches: SendableRecordBatchStream,
    ) -> Result<WrittenPartition, IoError> {
        write::write(self, location, batches).await
    }

    async fn table(
        &self,
        partitions: &[StoredPartition],
    ) -> Result<Arc<dyn TableProvider>, IoError> {
        Ok(Arc::new(PartitionsTable::open(self, partitions).await?))
    }

    async fn fetch(
        &self,
        partitions: &[StoredPartition],
        format: FileFormat,
        dir: &LocalPath,
    ) -> Result<Vec<LocalPartition>, IoError> {
        fetch::fetch(self, partitions, format, dir).await
    }

    async fn delete(&self, paths: &[String]) -> Result<(), IoError> {
        let locations = paths
            .iter()
            .map(|path| Ok((path.clone(), self.object_path(path)?)))
            .collect::<Result<Vec<_>, IoError>>()?;
        futures::stream::iter(locations)
            .map(|(relative, location)| async move {
                match self.store.delete(&location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(source) => Err(self.store_error("deleting", &relative, source)),
                }
            })
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    async fn list(&self) -> Result<Vec<ListedObject>, IoError> {
        let prefix = (!self.root.as_ref().is_empty()).then_some(&self.root);
        let objects: Vec<_> = self
            .store
            .list(prefix)
            .try_collect()
            .await
            .map_err(|source| self.store_error("listing", "", source))?;
        let mut listed: Vec<ListedObject> = objects
            .into_iter()
            .map(|meta| ListedObject {
                path: self.relative(&meta.location),
                bytes: meta.size,
                last_modified: meta.last_modified.timestamp(),
            })
            .collect();
        listed.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listed)
    }
}
