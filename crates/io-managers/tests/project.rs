//! The registry built from a real `strata.toml`, as the server builds it.

use std::path::Path;

use strata_core::declare::{SourceFile, load_repository};
use strata_io_managers::FileFormat;
use strata_io_managers::registry::IoManagerRegistry;

fn registry(toml: &str, repo_root: &Path) -> IoManagerRegistry {
    let repository = load_repository(SourceFile::new("strata.toml", toml), vec![])
        .unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    IoManagerRegistry::from_project(repository.project(), repo_root).unwrap()
}

#[test]
fn a_project_without_io_managers_gets_parquet_under_dot_strata() {
    let repo = tempfile::tempdir().unwrap();
    let registry = registry("[project]\nname = \"flights\"\n", repo.path());
    assert_eq!(registry.names().collect::<Vec<_>>(), ["default"]);
    let default = registry.get("default").unwrap();
    assert_eq!(default.stored_format(), FileFormat::Parquet);
    assert!(repo.path().join(".strata/data").is_dir());
}

#[test]
fn declared_io_managers_are_registered_by_name() {
    let repo = tempfile::tempdir().unwrap();
    let toml = "[project]\nname = \"flights\"\n\
                [io_managers.default]\nkind = \"arrow_ipc\"\nurl = \"lake\"\n\
                [io_managers.scratch]\nkind = \"parquet\"\nurl = \"memory://\"\n";
    let registry = registry(toml, repo.path());
    assert_eq!(registry.names().collect::<Vec<_>>(), ["default", "scratch"]);
    assert_eq!(
        registry.get("default").unwrap().stored_format(),
        FileFormat::ArrowIpc
    );
    assert!(repo.path().join("lake").is_dir());
    assert_eq!(registry.get("scratch").unwrap().url(), "memory://");
    assert_eq!(
        registry.get("scrach").unwrap_err().to_string(),
        "unknown IO manager `scrach`; did you mean `scratch`?"
    );
}
