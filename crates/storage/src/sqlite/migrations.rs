//! Versioned schema migrations. Each entry runs once, in order, inside a transaction that also
//! records it; a database newer than this build is refused rather than guessed at.

use rusqlite::{Connection, params};

use crate::error::StorageError;

/// The migrations, in order; the version of a migration is its position + 1. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: the event log and the indexes derived from it.
    r#"
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp   INTEGER NOT NULL,
        kind        TEXT    NOT NULL,
        run_id      TEXT,
        asset       TEXT,
        partition   TEXT,
        backfill_id TEXT,
        payload     TEXT    NOT NULL
    );
    CREATE INDEX events_by_run ON events (run_id, id) WHERE run_id IS NOT NULL;
    CREATE INDEX events_by_asset ON events (asset, kind, partition, id) WHERE asset IS NOT NULL;

    -- Partition state by key ('' = unpartitioned; real keys are never empty).
    CREATE TABLE partition_state (
        asset                TEXT NOT NULL,
        partition            TEXT NOT NULL,
        materialized_event   INTEGER,
        materialized_at      INTEGER,
        materialization_id   TEXT,
        materialized_run     TEXT,
        io_manager           TEXT,
        files                TEXT,
        rows                 INTEGER,
        bytes                INTEGER,
        code_version         TEXT,
        data_version         TEXT,
        failed_event         INTEGER,
        failed_run           TEXT,
        in_progress_run      TEXT,
        PRIMARY KEY (asset, partition)
    ) WITHOUT ROWID;

    CREATE TABLE observations (
        asset        TEXT NOT NULL,
        partition    TEXT NOT NULL,
        event_id     INTEGER NOT NULL,
        data_version TEXT NOT NULL,
        PRIMARY KEY (asset, partition)
    ) WITHOUT ROWID;

    CREATE TABLE check_results (
        asset     TEXT NOT NULL,
        partition TEXT NOT NULL,
        name      TEXT NOT NULL,
        event_id  INTEGER NOT NULL,
        passed    INTEGER NOT NULL,
        severity  TEXT NOT NULL,
        blocking  INTEGER NOT NULL,
        PRIMARY KEY (asset, partition, name)
    ) WITHOUT ROWID;

    CREATE TABLE runs (
        run_id           TEXT PRIMARY KEY,
        seq              INTEGER NOT NULL,
        status           TEXT NOT NULL,
        backfill_id      TEXT,
        description      TEXT NOT NULL,
        steps            INTEGER NOT NULL,
        tags             TEXT NOT NULL,
        created_at       INTEGER NOT NULL,
        started_at       INTEGER,
        ended_at         INTEGER,
        error            TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_seq ON runs (seq);
    CREATE INDEX runs_by_backfill ON runs (backfill_id, seq) WHERE backfill_id IS NOT NULL;

    CREATE TABLE steps (
        run_id     TEXT NOT NULL,
        asset      TEXT NOT NULL,
        partition  TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        status     TEXT NOT NULL,
        attempt    INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at   INTEGER,
        error      TEXT,
        PRIMARY KEY (run_id, asset, partition)
    ) WITHOUT ROWID;

    CREATE TABLE backfills (
        backfill_id TEXT PRIMARY KEY,
        seq         INTEGER NOT NULL,
        status      TEXT NOT NULL,
        selection   TEXT NOT NULL,
        partitions  TEXT NOT NULL,
        requested   INTEGER NOT NULL,
        completed   INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL,
        ended_at    INTEGER
    );

    -- Dynamic partition keys; the rowid keeps the order they were added in.
    CREATE TABLE dynamic_partitions (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        key  TEXT NOT NULL,
        UNIQUE (name, key)
    );

    -- Every file a materialization recorded: live, superseded (collectable after a grace
    -- period) or deleted.
    CREATE TABLE files (
        io_manager    TEXT NOT NULL,
        path          TEXT NOT NULL,
        asset         TEXT NOT NULL,
        partition     TEXT NOT NULL,
        event_id      INTEGER NOT NULL,
        bytes         INTEGER NOT NULL,
        state         TEXT NOT NULL,
        superseded_at INTEGER,
        PRIMARY KEY (io_manager, path)
    ) WITHOUT ROWID;
    CREATE INDEX files_by_event ON files (event_id);
    CREATE INDEX files_superseded ON files (io_manager, superseded_at) WHERE state = 'superseded';

    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    "#,
    // 2: what a backfill requests, resolved at creation (JSON), so it can be resumed.
    r#"
    ALTER TABLE backfills ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';
    "#,
    // 3: automation ticks, each evaluated asset's explanation, the daemon's state and cursor,
    // and each asset's current freshness state.
    r#"
    CREATE TABLE automation_ticks (
        tick        INTEGER PRIMARY KEY AUTOINCREMENT,
        now         INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        cursor      INTEGER NOT NULL,
        evaluated   INTEGER NOT NULL,
        skipped     INTEGER NOT NULL,
        requested   TEXT    NOT NULL,
        runs        TEXT    NOT NULL,
        launched    INTEGER NOT NULL
    );
    CREATE TABLE automation_evaluations (
        asset       TEXT    NOT NULL,
        tick        INTEGER NOT NULL,
        explanation TEXT    NOT NULL,
        PRIMARY KEY (asset, tick)
    ) WITHOUT ROWID;
    CREATE TABLE automation_state (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        tick   INTEGER NOT NULL,
        cursor INTEGER NOT NULL,
        state  TEXT    NOT NULL
    );
    CREATE TABLE freshness (
        asset  TEXT PRIMARY KEY,
        state  TEXT    NOT NULL,
        since  INTEGER NOT NULL,
        reason TEXT    NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: what steps cost, alert rules stored through the API, which alerts are firing, and
    // their deliveries (an outbox: pending rows are what the deliverer sends next).
    r#"
    CREATE TABLE step_costs (
        event_id  INTEGER PRIMARY KEY,
        timestamp INTEGER NOT NULL,
        asset     TEXT    NOT NULL,
        partition TEXT    NOT NULL,
        succeeded INTEGER NOT NULL,
        usage     TEXT    NOT NULL,
        amounts   TEXT    NOT NULL,
        total     REAL    NOT NULL
    );
    CREATE INDEX step_costs_by_time ON step_costs (timestamp);
    CREATE INDEX step_costs_by_asset ON step_costs (asset, succeeded);
    CREATE TABLE alert_rules (
        name       TEXT PRIMARY KEY,
        rule       TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE alert_state (
        rule        TEXT    NOT NULL,
        subject     TEXT    NOT NULL,
        fired_event INTEGER NOT NULL,
        since       INTEGER NOT NULL,
        PRIMARY KEY (rule, subject)
    ) WITHOUT ROWID;
    CREATE TABLE alert_deliveries (
        alert_event INTEGER NOT NULL,
        channel     TEXT    NOT NULL,
        status      TEXT    NOT NULL,
        attempts    INTEGER NOT NULL,
        http_status INTEGER,
        error       TEXT,
        retry_at    INTEGER,
        PRIMARY KEY (alert_event, channel)
    ) WITHOUT ROWID;
    CREATE INDEX alert_deliveries_pending ON alert_deliveries (retry_at) WHERE status = 'pending';
    "#,
];

/// Brings the schema up to date.
pub(crate) fn migrate(conn: &mut Connection, location: &str) -> Result<(), StorageError> {
    let backend = |e: rusqlite::Error| StorageError::Backend(e.to_string());
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(backend)?;
    let current: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StorageError::TooNew {
            location: location.to_string(),
            found: current,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        // Another process may have migrated while we waited for the write lock.
        let done: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
                [index as i64 + 1],
                |row| row.get(0),
            )
            .map_err(backend)?;
        if !done {
            tx.execute_batch(sql).map_err(backend)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s', 'now'))",
                params![index as i64 + 1],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}
