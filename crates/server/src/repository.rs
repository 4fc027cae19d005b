//! Reads a repository folder from disk and hands its texts to the pure loader in core.

use std::path::{Path, PathBuf};

use strata_core::declare::{Diagnostic, SourceFile, load_repository};
use strata_core::model::Repository;

use crate::CliError;

/// A repository that loaded, or every error it has.
pub(crate) enum Loaded {
    /// It loaded.
    Ok(Box<Repository>),
    /// It did not; nothing of it is used.
    Invalid(Vec<Diagnostic>),
}

/// Reads `strata.toml` and every `.sql`/`.toml` file under `assets/`, in path order.
pub(crate) fn load(root: &Path) -> Result<Loaded, CliError> {
    let project_path = root.join("strata.toml");
    let project = std::fs::read_to_string(&project_path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read {}: {e}; run strata in a repository (a folder with strata.toml) or pass --repo DIR",
            project_path.display()
        ))
    })?;
    let mut paths = Vec::new();
    let assets_dir = root.join("assets");
    if assets_dir.is_dir() {
        collect(&assets_dir, &mut paths)?;
    }
    paths.sort();
    let mut assets = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        assets.push(SourceFile {
            path: relative,
            text,
        });
    }
    let project = SourceFile {
        path: PathBuf::from("strata.toml"),
        text: project,
    };
    Ok(match load_repository(project, assets) {
        Ok(repository) => Loaded::Ok(Box::new(repository)),
        Err(diagnostics) => Loaded::Invalid(diagnostics),
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry.map_err(CliError::Io)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("sql" | "toml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}
