//! The backends the conformance suite runs against, each built through `config` as a project
//! would build it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use strata_core::model::{IoManagerConfig, IoManagerKind, Location};
use strata_io_managers::IoManager;
use strata_io_managers::config::{from_config, from_config_with_s3};
use tempfile::TempDir;

use crate::moto::{BUCKET, fresh_prefix, moto};

/// A fresh, empty IO manager and what the tests may check around it.
pub(crate) struct Backend {
    pub(crate) manager: Arc<dyn IoManager>,
    /// Local disk only: the folder that holds the root folder (`<outer>/root`) and nothing
    /// else, so a test can check that nothing was written beside the root.
    pub(crate) outer: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl Backend {
    /// The local root folder, when the backend is the local disk.
    pub(crate) fn local_root(&self) -> Option<PathBuf> {
        self.outer.as_ref().map(|outer| outer.join("root"))
    }
}

fn config(kind: IoManagerKind, url: Location) -> IoManagerConfig {
    IoManagerConfig {
        kind,
        url,
        endpoint: None,
        region: None,
        allow_http: false,
    }
}

pub(crate) async fn memory(kind: IoManagerKind) -> Backend {
    let manager = from_config(&config(kind, Location::Memory), Path::new("/nonexistent")).unwrap();
    Backend {
        manager,
        outer: None,
        _dir: None,
    }
}

pub(crate) async fn local(kind: IoManagerKind) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    // A relative path, resolved against the "repository" the way `strata.toml` is.
    let repo = dir.path().join("repo");
    let manager =
        from_config(&config(kind, Location::Relative("data/root".into())), &repo).unwrap();
    Backend {
        manager,
        outer: Some(repo.join("data")),
        _dir: Some(dir),
    }
}

pub(crate) async fn s3(kind: IoManagerKind) -> Backend {
    let moto = moto();
    let url = Location::S3 {
        bucket: BUCKET.to_string(),
        prefix: format!("runs/{}", fresh_prefix("t")),
    };
    let config = IoManagerConfig {
        kind,
        url,
        endpoint: Some(moto.endpoint.clone()),
        region: Some("us-east-1".into()),
        allow_http: true,
    };
    // Dummy credentials through the builder, not the process environment.
    let s3 = AmazonS3Builder::new()
        .with_access_key_id("strata-test")
        .with_secret_access_key("strata-test");
    let manager = from_config_with_s3(&config, Path::new("/nonexistent"), s3).unwrap();
    Backend {
        manager,
        outer: None,
        _dir: None,
    }
}
