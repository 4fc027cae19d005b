//! Source assets: external data Strata observes and never writes. An observation records the
//! source's data version, so assets that read it become stale when it changes.
//!
//! - `path`: a file, a folder (every file under it) or a glob, relative to the repository. The
//!   data version hashes each matching file's relative path, size and content.
//! - `observe`: a program speaking the command protocol (`STRATA_ASSET`, `STRATA_RUN_ID`,
//!   `STRATA_PARTITION_KEY`, `STRATA_EVENTS`). Its data version is the `data_version` event it
//!   appends, else the last non-empty line of its standard output.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::json;
use strata_core::model::{SourceCompute, SourceTarget};
use strata_storage::event::{Event, Observation};

use super::command::{ProcessSpec, run_process, step_dir};
use super::{Done, StepContext, StepError};
use crate::protocol::events::Reported;
use crate::versions::content_data_version;

/// The files `pattern` names under `root`, sorted: a file, every file under a folder, or the
/// matches of a glob.
pub(crate) fn matching_files(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = root.join(pattern);
    let mut files = Vec::new();
    if full.is_file() {
        files.push(full);
    } else if full.is_dir() {
        collect_dir(&full, &mut files)
            .map_err(|e| format!("cannot list {}: {e}", full.display()))?;
    } else {
        let text = full.to_string_lossy();
        let matches = glob::glob(&text)
            .map_err(|e| format!("source path `{pattern}` is not a valid glob: {e}"))?;
        for entry in matches {
            let path = entry.map_err(|e| format!("cannot read a match of `{pattern}`: {e}"))?;
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "source path `{pattern}` matches no file under {}",
            root.display()
        ));
    }
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Hashes the files' relative paths, sizes and contents.
fn hash_files(root: &Path, files: &[PathBuf]) -> Result<(String, u64), String> {
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(files.len() * 2);
    let mut total = 0u64;
    for path in files {
        let mut content = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut content))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        total += content.len() as u64;
        let relative = path.strip_prefix(root).unwrap_or(path);
        parts.push(relative.to_string_lossy().into_owned().into_bytes());
        parts.push(content);
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok((content_data_version(&refs), total))
}

pub(crate) async fn observe(
    ctx: &StepContext<'_>,
    source: &SourceCompute,
) -> Result<Done, StepError> {
    let mut done = Done::default();
    for partition in super::keys_of(ctx.partitions) {
        let mut metadata = BTreeMap::new();
        let data_version = match &source.target {
            SourceTarget::Path(pattern) => {
                let root = ctx.shared.instance.root.clone();
                let pattern = pattern.clone();
                let (version, files, bytes) = tokio::task::spawn_blocking(move || {
                    let files = matching_files(&root, &pattern)?;
                    let (version, bytes) = hash_files(&root, &files)?;
                    Ok::<_, String>((version, files.len(), bytes))
                })
                .await
                .map_err(|e| StepError::retryable(e.to_string()))?
                .map_err(StepError::retryable)?;
                metadata.insert("files".into(), json!(files));
                metadata.insert("bytes".into(), json!(bytes));
                version
            }
            SourceTarget::Observe(command) => {
                let dir = step_dir(ctx)?;
                let ran = run_process(
                    ctx,
                    &ProcessSpec {
                        command,
                        env: &BTreeMap::new(),
                        extra_env: Vec::new(),
                    },
                    dir.path(),
                )
                .await?;
                let mut reported = None;
                for event in ran.events {
                    match event {
                        Reported::DataVersion(v) => reported = Some(v),
                        Reported::Metadata(values) => metadata.extend(values),
                        Reported::Log { level, message } => ctx.log.push(level, message),
                        _ => {}
                    }
                }
                reported
                    .or_else(|| {
                        ran.stdout
                            .lines()
                            .rev()
                            .map(str::trim)
                            .find(|l| !l.is_empty())
                            .map(str::to_string)
                    })
                    .ok_or_else(|| {
                        StepError::retryable(
                            "the observe command reported no data version: append \
                             {\"type\": \"data_version\", \"value\": …} to STRATA_EVENTS or print it \
                             as the last line of standard output",
                        )
                    })?
            }
        };
        done.events.push(Event::Observation(Observation {
            asset: ctx.asset.key.clone(),
            partition,
            run_id: Some(ctx.run.run_id.clone()),
            data_version,
            metadata,
        }));
    }
    Ok(done)
}
