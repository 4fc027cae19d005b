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

/// Processes open the database all the time and at once (the test harness, or a user, running
/// `strata status` while `strata backfill` starts on a fresh repository). Opening must wait for
/// the other process like any statement does, never fail with "database is locked" — two
/// processes creating the same database at once used to. The test runs itself as four child
/// processes that race to create and write 30 databases, one after another.
#[test]
fn processes_that_create_and_open_one_database_at_once_all_succeed() {
    const NAME: &str = "sqlite::processes_that_create_and_open_one_database_at_once_all_succeed";
    const DATABASES: usize = 30;
    if let Ok(dir) = std::env::var("STRATA_TEST_RACE_DIR") {
        // Start together: wait for the instant the parent chose.
        let start: u128 = std::env::var("STRATA_TEST_RACE_START")
            .unwrap()
            .parse()
            .unwrap();
        while unix_millis() < start {
            std::hint::spin_loop();
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for n in 0..DATABASES {
            let path = std::path::Path::new(&dir).join(format!("{n}/strata.db"));
            let storage = SqliteStorage::open(&path).unwrap();
            let added = Event::DynamicPartitionsAdded {
                name: "regions".into(),
                keys: vec![format!("k{}", std::process::id())],
            };
            runtime.block_on(storage.append(1, vec![added])).unwrap();
        }
        println!("raced {DATABASES} databases");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = unix_millis() + 500;
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--nocapture", "--test-threads", "1"])
                .env("STRATA_TEST_RACE_DIR", dir.path())
                .env("STRATA_TEST_RACE_START", start.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("raced 30 databases"),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}
