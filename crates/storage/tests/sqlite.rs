//! The storage suite against SQLite, and what only SQLite has (its file, its migrations).

use strata_storage::event::Event;
use strata_storage::{SqliteStorage, Storage, StorageError};

fn open() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(&dir.path().join(".strata/strata.db")).unwrap();
    (dir, storage)
}

storage_suite!(open);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_survive_reopening() {
    let (dir, storage) = open();
    storage
        .append(
            1,
            vec![Event::DynamicPartitionsAdded {
                name: "regions".into(),
                keys: vec!["eu".into()],
            }],
        )
        .await
        .unwrap();
    drop(storage);
    let reopened = SqliteStorage::open(&dir.path().join(".strata/strata.db")).unwrap();
    assert_eq!(reopened.events_after(0, 10).await.unwrap().len(), 1);
    let sets = reopened.dynamic_partitions().await.unwrap();
    use strata_core::partitions::definition::DynamicPartitions;
    assert_eq!(sets.keys("regions").unwrap(), ["eu".to_string()]);
}

#[test]
fn a_database_from_a_newer_strata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.db");
    drop(SqliteStorage::open(&path).unwrap());
    let conn = rusqlite_raw(&path);
    conn.execute("INSERT INTO schema_migrations VALUES (999, 0)", [])
        .unwrap();
    drop(conn);
    let error = SqliteStorage::open(&path).unwrap_err();
    assert!(
        matches!(error, StorageError::TooNew { found: 999, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade strata"), "{error}");
}

#[test]
fn a_file_that_is_not_a_database_is_a_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.db");
    std::fs::write(
        &path,
        "this is not SQLite, it is a text file that is long enough to have a header....",
    )
    .unwrap();
    let error = SqliteStorage::open(&path).unwrap_err().to_string();
    assert!(error.contains("strata.db"), "{error}");
}

#[test]
fn reopening_applies_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.db");
    drop(SqliteStorage::open(&path).unwrap());
    drop(SqliteStorage::open(&path).unwrap());
    let conn = rusqlite_raw(&path);
    let versions: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(versions, SqliteStorage::schema_version());
}

fn rusqlite_raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}
