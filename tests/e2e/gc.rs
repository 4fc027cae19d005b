//! `strata gc` on a copy of the example repository.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::{json, root, stderr, stdout, strata};

/// A copy of the example repository's declarations (not its data or instance).
fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("strata.toml"), dir.path().join("strata.toml")).unwrap();
    copy_tree(&root().join("assets"), &dir.path().join("assets"));
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn gc_collects_an_orphan_only_once_it_is_older_than_the_grace_period() {
    let repo = example_copy();
    // A fresh repository: the instance is created, nothing to collect.
    let report = json(&strata(repo.path(), &["gc", "--json"]));
    assert_eq!(report["io_managers"][0]["io_manager"], "default");
    assert_eq!(report["io_managers"][0]["orphans"]["files"], 0);
    assert!(repo.path().join(".strata/strata.db").is_file());

    // What a write that crashed before committing leaves behind, two days ago.
    let orphan = repo
        .path()
        .join(".strata/data/flights/clean_flights/p=2013-01-01/crashed.parquet");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"half a parquet file").unwrap();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();

    let output = strata(repo.path(), &["gc", "--grace", "3d"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("deleted 0 superseded files (0 B) and 0 orphans"),
        "{}",
        stdout(&output)
    );

    let output = strata(repo.path(), &["gc", "--dry-run"]);
    assert!(
        stdout(&output).contains("would delete 0 superseded files (0 B) and 1 orphan (19 B)"),
        "{}",
        stdout(&output)
    );
    assert!(orphan.exists(), "a dry run deletes nothing");

    let report = json(&strata(repo.path(), &["gc", "--json"]));
    assert_eq!(report["io_managers"][0]["orphans"]["files"], 1);
    assert!(!orphan.exists());
}

#[test]
fn gc_rejects_a_bad_grace_period() {
    let repo = example_copy();
    let output = strata(repo.path(), &["gc", "--grace", "soon"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--grace"), "{}", stderr(&output));
    assert!(
        !repo.path().join(".strata").exists(),
        "a usage error changes nothing"
    );
}
