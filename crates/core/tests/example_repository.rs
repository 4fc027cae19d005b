//! The example repository at the workspace root loads without a diagnostic.

use std::path::{Path, PathBuf};

use strata_core::declare::{SourceFile, load_repository};

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("sql" | "toml")
        ) {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(SourceFile::new(path.strip_prefix(root).unwrap(), text));
        }
    }
}

#[test]
fn example_repository_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let project = std::fs::read_to_string(root.join("strata.toml")).unwrap();
    let mut assets = Vec::new();
    walk(&root, &root.join("assets"), &mut assets);
    let repository = load_repository(SourceFile::new("strata.toml", project), assets)
        .unwrap_or_else(|diagnostics| {
            let shown: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            panic!("{}", shown.join("\n"))
        });
    assert!(repository.len() >= 10);
    assert_eq!(repository.topological_order().len(), repository.len());
}
