//! Reads a repository folder from disk and hands its texts to the pure loader in core.

use std::path::{Path, PathBuf};

use strata_core::declare::{Diagnostic, SourceFile, load_repository};
use strata_core::model::{Compute, Repository};

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
        Ok(repository) => {
            let unregistered = unregistered_functions(&repository);
            if unregistered.is_empty() {
                Loaded::Ok(Box::new(repository))
            } else {
                Loaded::Invalid(unregistered)
            }
        }
        Err(diagnostics) => Loaded::Invalid(diagnostics),
    })
}

/// Rust assets whose function this binary does not register: the repository cannot run here.
fn unregistered_functions(repository: &Repository) -> Vec<Diagnostic> {
    let extensions = crate::extensions();
    let registered: Vec<&str> = extensions.function_names().collect();
    repository
        .assets()
        .filter_map(|asset| {
            let Compute::Rust(rust) = &asset.compute else {
                return None;
            };
            if registered.contains(&rust.function.as_str()) {
                return None;
            }
            let hint = if registered.is_empty() {
                "Rust assets run in a binary that registers their function through the Rust \
                 API (strata_server::run with Extensions::function); this one registers none"
                    .to_string()
            } else {
                format!("this binary registers {}", registered.join(", "))
            };
            Some(Diagnostic {
                path: asset.path.clone(),
                line: rust.line,
                col: rust.col,
                message: format!("no Rust function `{}` is registered", rust.function),
                hint: Some(hint),
            })
        })
        .collect()
}

/// Every `.sql` and `.toml` file under `dir`, recursively (the files a repository declares).
pub(crate) fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
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
