//! Building an IO manager from an `[io_managers.<name>]` table, by URL scheme.
//!
//! | location | backend | root |
//! |---|---|---|
//! | a plain path (`.strata/data`) | local disk | that path under the repository root (created) |
//! | `file:///abs/path` | local disk | `/abs/path` (created) |
//! | `memory://` | a fresh in-memory store, shared by that manager only | — |
//! | `s3://bucket/prefix` | S3 or an S3-compatible server | `prefix` in `bucket` |
//!
//! S3 settings come from the table (`endpoint`, `region`, `allow_http`) on top of the usual
//! AWS environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`, …); the table wins where both are set.
//! Nothing is contacted until the first read or write.
//!
//! `strata.toml` is parsed by `strata-core`, which already turns the `url` text into a
//! [`Location`]; [`parse_url`] does the same for Rust callers holding a string, with the same
//! schemes and error strings pinned by tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use strata_core::model::{IoManagerConfig, IoManagerKind, Location};

use crate::IoError;
use crate::IoManager;
use crate::object::ObjectStoreIoManager;

/// The URL schemes an IO manager can be built for, as listed in messages.
pub const SUPPORTED_SCHEMES: &[&str] = &["file://", "memory://", "s3://"];

/// The IO manager `config` describes, for the repository at `repo_root`. S3 credentials and
/// defaults come from the environment (see the module documentation).
pub fn from_config(
    config: &IoManagerConfig,
    repo_root: &Path,
) -> Result<Arc<dyn IoManager>, IoError> {
    from_config_with_s3(config, repo_root, AmazonS3Builder::from_env())
}

/// Like [`from_config`], with S3 settings starting from `s3` instead of the environment (for
/// tests and embedders that hold credentials themselves). Ignored for other locations.
pub fn from_config_with_s3(
    config: &IoManagerConfig,
    repo_root: &Path,
    s3: AmazonS3Builder,
) -> Result<Arc<dyn IoManager>, IoError> {
    let kind = config.kind;
    let manager = match &config.url {
        Location::Relative(path) => ObjectStoreIoManager::local(&repo_root.join(path), kind)?,
        Location::File(path) => {
            if !path.is_absolute() {
                return Err(IoError::InvalidLocation {
                    url: format!("file://{}", path.display()),
                    reason: "a file URL holds an absolute path (file:///abs/path)".into(),
                });
            }
            ObjectStoreIoManager::local(path, kind)?
        }
        Location::Memory => ObjectStoreIoManager::in_memory(kind),
        Location::S3 { bucket, prefix } => s3_manager(config, bucket, prefix, s3)?,
    };
    Ok(Arc::new(manager))
}

fn s3_manager(
    config: &IoManagerConfig,
    bucket: &str,
    prefix: &str,
    mut builder: AmazonS3Builder,
) -> Result<ObjectStoreIoManager, IoError> {
    let url = if prefix.is_empty() {
        format!("s3://{bucket}")
    } else {
        format!("s3://{bucket}/{prefix}")
    };
    builder = builder.with_bucket_name(bucket);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &config.region {
        builder = builder.with_region(region);
    }
    if config.allow_http {
        builder = builder.with_allow_http(true);
    }
    let store = builder.build().map_err(|source| IoError::InvalidLocation {
        url: url.clone(),
        reason: source.to_string(),
    })?;
    let root =
        object_store::path::Path::parse(prefix).map_err(|source| IoError::InvalidLocation {
            url: url.clone(),
            reason: format!("the prefix is not a valid object path: {source}"),
        })?;
    Ok(ObjectStoreIoManager::new(
        Arc::new(store),
        root,
        url,
        config.kind,
    ))
}

/// Reads an IO manager location from text: a plain path (relative to the repository root),
/// `file:///abs/path`, `memory://` or `s3://bucket/prefix`. Any other scheme is an error that
/// lists the supported ones.
pub fn parse_url(text: &str) -> Result<Location, IoError> {
    let invalid = |reason: String| IoError::InvalidLocation {
        url: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(invalid("it is empty".into()));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Ok(Location::Relative(PathBuf::from(text)));
    };
    match scheme {
        "file" if rest.starts_with('/') => Ok(Location::File(PathBuf::from(rest))),
        "file" => Err(invalid(
            "a file URL holds an absolute path (file:///abs/path)".into(),
        )),
        "memory" if rest.is_empty() => Ok(Location::Memory),
        "memory" => Err(invalid("a memory URL has nothing after `memory://`".into())),
        "s3" => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid(
                    "the s3:// URL names no bucket (s3://bucket/prefix)".into(),
                ));
            }
            Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            })
        }
        other => Err(invalid(format!(
            "unsupported URL scheme `{other}://`; supported: a plain path, {}",
            SUPPORTED_SCHEMES.join(", ")
        ))),
    }
}

/// The configuration of the IO manager a project gets when it declares none: Parquet under
/// `.strata/data` in the repository.
pub fn default_config() -> IoManagerConfig {
    IoManagerConfig {
        kind: IoManagerKind::Parquet,
        url: Location::Relative(PathBuf::from(".strata/data")),
        endpoint: None,
        region: None,
        allow_http: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        parse_url(text).unwrap_err().to_string()
    }

    #[test]
    fn urls_are_looked_up_by_scheme() {
        assert_eq!(
            parse_url(".strata/data").unwrap(),
            Location::Relative(".strata/data".into())
        );
        assert_eq!(
            parse_url("file:///var/data").unwrap(),
            Location::File("/var/data".into())
        );
        assert_eq!(parse_url("memory://").unwrap(), Location::Memory);
        assert_eq!(
            parse_url("s3://bucket/a/b/").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            parse_url("s3://bucket").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                prefix: String::new()
            }
        );
    }

    #[test]
    fn error_strings_are_pinned() {
        assert_eq!(
            message("gs://bucket/x"),
            "invalid IO manager location `gs://bucket/x`: unsupported URL scheme `gs://`; \
             supported: a plain path, file://, memory://, s3://"
        );
        assert_eq!(
            message("file://relative/x"),
            "invalid IO manager location `file://relative/x`: a file URL holds an absolute \
             path (file:///abs/path)"
        );
        assert_eq!(
            message("s3:///prefix"),
            "invalid IO manager location `s3:///prefix`: the s3:// URL names no bucket \
             (s3://bucket/prefix)"
        );
        assert_eq!(
            message("memory://x"),
            "invalid IO manager location `memory://x`: a memory URL has nothing after `memory://`"
        );
        assert_eq!(message(""), "invalid IO manager location ``: it is empty");
    }

    #[test]
    fn relative_paths_are_created_under_the_repository() {
        let repo = tempfile::tempdir().unwrap();
        let manager = from_config(&default_config(), repo.path()).unwrap();
        assert!(repo.path().join(".strata/data").is_dir());
        let expected = std::fs::canonicalize(repo.path().join(".strata/data")).unwrap();
        assert_eq!(manager.url(), format!("file://{}", expected.display()));
    }

    #[test]
    fn s3_settings_come_from_the_table() {
        let config = IoManagerConfig {
            kind: IoManagerKind::ArrowIpc,
            url: Location::S3 {
                bucket: "lake".into(),
                prefix: "strata/data".into(),
            },
            endpoint: Some("http://127.0.0.1:1".into()),
            region: Some("eu-west-1".into()),
            allow_http: true,
        };
        let manager = from_config_with_s3(&config, Path::new("/"), AmazonS3Builder::new())
            .expect("building an S3 store contacts nothing");
        assert_eq!(manager.url(), "s3://lake/strata/data");
        assert_eq!(manager.stored_format(), crate::FileFormat::ArrowIpc);
    }
}
