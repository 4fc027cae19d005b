//! Reads: every query answers from an index, never by replaying the log.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use strata_core::key::AssetKey;
use strata_core::partitions::PartitionSubset;
use strata_core::partitions::definition::{InMemoryDynamicPartitions, Keyspace};

use super::apply::{UNPARTITIONED, partition_column};
use super::backend;
use crate::error::StorageError;
use crate::event::{BackfillStatus, Event, EventId, EventRecord, Millis, PartitionInputs};
use crate::records::{
    BackfillRecord, CheckResult, CollectableFile, CurrentMaterialization, Lease, ObservationRecord,
    RunFilter, RunRecord, RunStatus, StepRecord, StepStatus,
};
use crate::status::{PartitionStatus, PartitionStatusBuilder};

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("unreadable {what} in instance storage: {detail}"))
}

pub(crate) fn partition_value(stored: String) -> Option<String> {
    (stored != UNPARTITIONED).then_some(stored)
}

pub(crate) fn asset_value(stored: &str) -> Result<AssetKey, StorageError> {
    AssetKey::parse(stored).map_err(|e| corrupt("asset key", e))
}

fn event_record(row: &Row<'_>) -> rusqlite::Result<(EventId, Millis, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

fn decode_events(rows: Vec<(EventId, Millis, String)>) -> Result<Vec<EventRecord>, StorageError> {
    rows.into_iter()
        .map(|(id, timestamp, payload)| {
            let event = serde_json::from_str(&payload).map_err(|e| corrupt("event", e))?;
            Ok(EventRecord {
                id,
                timestamp,
                event,
            })
        })
        .collect()
}

fn select_events(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<EventRecord>, StorageError> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let rows = statement
        .query_map(params, event_record)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    decode_events(rows)
}

pub(crate) fn events_after(
    conn: &Connection,
    cursor: EventId,
    limit: u32,
) -> Result<Vec<EventRecord>, StorageError> {
    select_events(
        conn,
        "SELECT id, timestamp, payload FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        params![cursor, limit],
    )
}

pub(crate) fn last_event_id(conn: &Connection) -> Result<EventId, StorageError> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |row| {
        row.get(0)
    })
    .map_err(backend)
}

pub(crate) fn run_events(
    conn: &Connection,
    run_id: &str,
    cursor: EventId,
    limit: u32,
) -> Result<Vec<EventRecord>, StorageError> {
    select_events(
        conn,
        "SELECT id, timestamp, payload FROM events WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        params![run_id, cursor, limit],
    )
}

pub(crate) fn materialization_history(
    conn: &Connection,
    asset: &str,
    partition: Option<&str>,
    limit: u32,
) -> Result<Vec<EventRecord>, StorageError> {
    match partition {
        Some(partition) => select_events(
            conn,
            "SELECT id, timestamp, payload FROM events
             WHERE asset = ?1 AND kind = 'materialization' AND partition = ?2
             ORDER BY id DESC LIMIT ?3",
            params![asset, partition, limit],
        ),
        None => select_events(
            conn,
            "SELECT id, timestamp, payload FROM events
             WHERE asset = ?1 AND kind = 'materialization' ORDER BY id DESC LIMIT ?2",
            params![asset, limit],
        ),
    }
}

const CURRENT_COLUMNS: &str = "partition, materialized_event, materialized_at, materialization_id,
    materialized_run, io_manager, files, rows, bytes, code_version, data_version";

fn current_materialization(row: &Row<'_>) -> rusqlite::Result<CurrentRow> {
    Ok(CurrentRow {
        partition: row.get(0)?,
        event_id: row.get(1)?,
        timestamp: row.get(2)?,
        materialization_id: row.get(3)?,
        run_id: row.get(4)?,
        io_manager: row.get(5)?,
        files: row.get(6)?,
        rows: row.get(7)?,
        bytes: row.get(8)?,
        code_version: row.get(9)?,
        data_version: row.get(10)?,
    })
}

struct CurrentRow {
    partition: String,
    event_id: EventId,
    timestamp: Millis,
    materialization_id: String,
    run_id: Option<String>,
    io_manager: String,
    files: String,
    rows: i64,
    bytes: i64,
    code_version: String,
    data_version: String,
}

impl CurrentRow {
    fn decode(self) -> Result<CurrentMaterialization, StorageError> {
        Ok(CurrentMaterialization {
            partition: partition_value(self.partition),
            event_id: self.event_id,
            timestamp: self.timestamp,
            materialization_id: self.materialization_id,
            run_id: self.run_id,
            io_manager: self.io_manager,
            files: serde_json::from_str(&self.files).map_err(|e| corrupt("file list", e))?,
            rows: self.rows as u64,
            bytes: self.bytes as u64,
            code_version: self.code_version,
            data_version: self.data_version,
        })
    }
}

pub(crate) fn current_materializations(
    conn: &Connection,
    asset: &str,
    partitions: Option<&[Option<String>]>,
) -> Result<Vec<CurrentMaterialization>, StorageError> {
    let rows = match partitions {
        None => {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {CURRENT_COLUMNS} FROM partition_state
                     WHERE asset = ?1 AND materialized_event IS NOT NULL ORDER BY partition"
                ))
                .map_err(backend)?;
            statement
                .query_map([asset], current_materialization)
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?
        }
        Some(partitions) => {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {CURRENT_COLUMNS} FROM partition_state
                     WHERE asset = ?1 AND partition = ?2 AND materialized_event IS NOT NULL"
                ))
                .map_err(backend)?;
            let mut rows = Vec::with_capacity(partitions.len());
            for partition in partitions {
                let row = statement
                    .query_row(
                        params![asset, partition_column(partition.as_deref())],
                        current_materialization,
                    )
                    .optional()
                    .map_err(backend)?;
                rows.extend(row);
            }
            rows.sort_by(|a, b| a.partition.cmp(&b.partition));
            rows
        }
    };
    rows.into_iter().map(CurrentRow::decode).collect()
}

pub(crate) fn partition_status(
    conn: &Connection,
    asset: &str,
    keyspace: &Keyspace<'_>,
) -> Result<PartitionStatus, StorageError> {
    let mut builder = PartitionStatusBuilder::new(keyspace);
    let mut statement = conn
        .prepare_cached(
            "SELECT partition, materialized_event IS NOT NULL, failed_event IS NOT NULL,
                    in_progress_run IS NOT NULL
             FROM partition_state WHERE asset = ?1",
        )
        .map_err(backend)?;
    let mut rows = statement.query([asset]).map_err(backend)?;
    while let Some(row) = rows.next().map_err(backend)? {
        let key = row
            .get_ref(0)
            .map_err(backend)?
            .as_str()
            .map_err(|e| corrupt("key", e))?;
        if key == UNPARTITIONED {
            continue;
        }
        builder.add(
            key,
            row.get(1).map_err(backend)?,
            row.get(2).map_err(backend)?,
            row.get(3).map_err(backend)?,
        );
    }
    Ok(builder.finish())
}

pub(crate) fn current_inputs(
    conn: &Connection,
    asset: &str,
) -> Result<Vec<PartitionInputs>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT p.partition, e.payload FROM partition_state p
             JOIN events e ON e.id = p.materialized_event
             WHERE p.asset = ?1 AND p.materialized_event IS NOT NULL ORDER BY p.partition",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([asset], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|(partition, payload)| {
            match serde_json::from_str::<Event>(&payload).map_err(|e| corrupt("event", e))? {
                Event::Materialization(m) => Ok((partition_value(partition), m.inputs)),
                other => Err(corrupt("materialization", other.kind())),
            }
        })
        .collect()
}

pub(crate) fn unpartitioned_status(
    conn: &Connection,
    asset: &str,
) -> Result<PartitionStatus, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT materialized_event IS NOT NULL, failed_event IS NOT NULL,
                    in_progress_run IS NOT NULL
             FROM partition_state WHERE asset = ?1 AND partition = ?2",
        )
        .map_err(backend)?;
    let flags: Option<(bool, bool, bool)> = statement
        .query_row(params![asset, UNPARTITIONED], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()
        .map_err(backend)?;
    let (materialized, failed, in_progress) = flags.unwrap_or_default();
    let one = |yes: bool| {
        if yes {
            PartitionSubset::from_range(0..1)
        } else {
            PartitionSubset::empty()
        }
    };
    Ok(PartitionStatus {
        total: 1,
        materialized: one(materialized),
        failed: one(failed),
        in_progress: one(in_progress),
        unknown_keys: 0,
    })
}

const RUN_COLUMNS: &str = "run_id, status, backfill_id, description, steps, tags, created_at,
    started_at, ended_at, error, cancel_requested";

fn run_row(row: &Row<'_>) -> rusqlite::Result<(RunRecord, String, String)> {
    let status: String = row.get(1)?;
    let tags: String = row.get(5)?;
    Ok((
        RunRecord {
            run_id: row.get(0)?,
            status: RunStatus::Queued,
            backfill_id: row.get(2)?,
            description: row.get(3)?,
            steps: row.get::<_, i64>(4)? as u64,
            tags: Default::default(),
            created_at: row.get(6)?,
            started_at: row.get(7)?,
            ended_at: row.get(8)?,
            error: row.get(9)?,
            cancel_requested: row.get(10)?,
        },
        status,
        tags,
    ))
}

fn decode_run(
    (mut run, status, tags): (RunRecord, String, String),
) -> Result<RunRecord, StorageError> {
    run.status = RunStatus::parse(&status).ok_or_else(|| corrupt("run status", &status))?;
    run.tags = serde_json::from_str(&tags).map_err(|e| corrupt("run tags", e))?;
    Ok(run)
}

pub(crate) fn run(conn: &Connection, run_id: &str) -> Result<Option<RunRecord>, StorageError> {
    conn.query_row(
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"),
        [run_id],
        run_row,
    )
    .optional()
    .map_err(backend)?
    .map(decode_run)
    .transpose()
}

pub(crate) fn runs(conn: &Connection, filter: &RunFilter) -> Result<Vec<RunRecord>, StorageError> {
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
    let mut values: Vec<String> = Vec::new();
    if !filter.statuses.is_empty() {
        let marks = vec!["?"; filter.statuses.len()].join(", ");
        sql.push_str(&format!(" AND status IN ({marks})"));
        values.extend(filter.statuses.iter().map(|s| s.as_str().to_string()));
    }
    if let Some(backfill_id) = &filter.backfill_id {
        sql.push_str(" AND backfill_id = ?");
        values.push(backfill_id.clone());
    }
    if let Some(before) = &filter.before {
        sql.push_str(" AND seq < (SELECT seq FROM runs WHERE run_id = ?)");
        values.push(before.clone());
    }
    sql.push_str(&format!(
        " ORDER BY seq DESC LIMIT {}",
        filter.limit.unwrap_or(100)
    ));
    let mut statement = conn.prepare(&sql).map_err(backend)?;
    let rows = statement
        .query_map(params_from_iter(values), run_row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter().map(decode_run).collect()
}

pub(crate) fn steps(conn: &Connection, run_id: &str) -> Result<Vec<StepRecord>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT asset, partition, status, attempt, started_at, ended_at, error
             FROM steps WHERE run_id = ?1 ORDER BY seq",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([run_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, u32>(3)?,
                row.get::<_, Millis>(4)?,
                row.get::<_, Option<Millis>>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(
            |(asset, partition, status, attempt, started_at, ended_at, error)| {
                Ok(StepRecord {
                    run_id: run_id.to_string(),
                    asset: asset_value(&asset)?,
                    partition: partition_value(partition),
                    status: StepStatus::parse(&status)
                        .ok_or_else(|| corrupt("step status", &status))?,
                    attempt,
                    started_at,
                    ended_at,
                    error,
                })
            },
        )
        .collect()
}

pub(crate) fn cancel_requested(conn: &Connection, run_id: &str) -> Result<bool, StorageError> {
    Ok(conn
        .query_row(
            "SELECT cancel_requested FROM runs WHERE run_id = ?1",
            [run_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?
        .unwrap_or(false))
}

const BACKFILL_COLUMNS: &str = "backfill_id, status, selection, partitions, requested, completed, failed, created_at, ended_at, targets";

fn backfill_row(row: &Row<'_>) -> rusqlite::Result<(BackfillRecord, String, String)> {
    Ok((
        BackfillRecord {
            backfill_id: row.get(0)?,
            status: BackfillStatus::Requested,
            selection: row.get(2)?,
            partitions: row.get(3)?,
            requested: row.get::<_, i64>(4)? as u64,
            completed: row.get::<_, i64>(5)? as u64,
            failed: row.get::<_, i64>(6)? as u64,
            created_at: row.get(7)?,
            ended_at: row.get(8)?,
            targets: Vec::new(),
        },
        row.get(1)?,
        row.get(9)?,
    ))
}

fn decode_backfill(
    (mut backfill, status, targets): (BackfillRecord, String, String),
) -> Result<BackfillRecord, StorageError> {
    backfill.status =
        BackfillStatus::parse(&status).ok_or_else(|| corrupt("backfill status", &status))?;
    backfill.targets =
        serde_json::from_str(&targets).map_err(|_| corrupt("backfill targets", &targets))?;
    Ok(backfill)
}

pub(crate) fn backfill(
    conn: &Connection,
    backfill_id: &str,
) -> Result<Option<BackfillRecord>, StorageError> {
    conn.query_row(
        &format!("SELECT {BACKFILL_COLUMNS} FROM backfills WHERE backfill_id = ?1"),
        [backfill_id],
        backfill_row,
    )
    .optional()
    .map_err(backend)?
    .map(decode_backfill)
    .transpose()
}

pub(crate) fn backfills(
    conn: &Connection,
    limit: u32,
) -> Result<Vec<BackfillRecord>, StorageError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {BACKFILL_COLUMNS} FROM backfills ORDER BY seq DESC LIMIT ?1"
        ))
        .map_err(backend)?;
    let rows = statement
        .query_map([limit], backfill_row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter().map(decode_backfill).collect()
}

pub(crate) fn dynamic_partitions(
    conn: &Connection,
) -> Result<InMemoryDynamicPartitions, StorageError> {
    let mut statement = conn
        .prepare_cached("SELECT name, key FROM dynamic_partitions ORDER BY id")
        .map_err(backend)?;
    let mut rows = statement.query([]).map_err(backend)?;
    let mut sets = InMemoryDynamicPartitions::default();
    while let Some(row) = rows.next().map_err(backend)? {
        let name: String = row.get(0).map_err(backend)?;
        let key: String = row.get(1).map_err(backend)?;
        sets.add(&name, [key]);
    }
    Ok(sets)
}

pub(crate) fn superseded_files(
    conn: &Connection,
    io_manager: &str,
    before: Millis,
    limit: u32,
) -> Result<Vec<CollectableFile>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT path, bytes, superseded_at FROM files
             WHERE io_manager = ?1 AND state = 'superseded' AND superseded_at < ?2
             ORDER BY superseded_at LIMIT ?3",
        )
        .map_err(backend)?;
    statement
        .query_map(params![io_manager, before, limit], |row| {
            Ok(CollectableFile {
                io_manager: io_manager.to_string(),
                path: row.get(0)?,
                bytes: row.get::<_, i64>(1)? as u64,
                superseded_at: row.get(2)?,
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

pub(crate) fn recorded_paths(
    conn: &Connection,
    io_manager: &str,
    paths: &[String],
) -> Result<Vec<bool>, StorageError> {
    let mut statement = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM files WHERE io_manager = ?1 AND path = ?2)")
        .map_err(backend)?;
    paths
        .iter()
        .map(|path| {
            statement
                .query_row(params![io_manager, path], |row| row.get(0))
                .map_err(backend)
        })
        .collect()
}

pub(crate) fn acquire_lease(
    conn: &mut Connection,
    name: &str,
    holder: &str,
    now: Millis,
    ttl_ms: i64,
) -> Result<Lease, StorageError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute(
        "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
        params![name, holder, now + ttl_ms, now],
    )
    .map_err(backend)?;
    let lease = tx
        .query_row(
            "SELECT holder, expires_at FROM leases WHERE name = ?1",
            [name],
            |row| {
                Ok(Lease {
                    name: name.to_string(),
                    holder: row.get(0)?,
                    expires_at: row.get(1)?,
                })
            },
        )
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(lease)
}

pub(crate) fn release_lease(
    conn: &mut Connection,
    name: &str,
    holder: &str,
) -> Result<(), StorageError> {
    conn.execute(
        "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
        params![name, holder],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn observations(
    conn: &Connection,
    asset: &str,
) -> Result<Vec<ObservationRecord>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT o.partition, o.event_id, e.timestamp, o.data_version
             FROM observations o JOIN events e ON e.id = o.event_id
             WHERE o.asset = ?1 ORDER BY o.partition",
        )
        .map_err(backend)?;
    statement
        .query_map([asset], |row| {
            Ok(ObservationRecord {
                partition: partition_value(row.get(0)?),
                event_id: row.get(1)?,
                timestamp: row.get(2)?,
                data_version: row.get(3)?,
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

pub(crate) fn check_results(
    conn: &Connection,
    asset: &str,
) -> Result<Vec<CheckResult>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT c.partition, c.name, c.event_id, e.timestamp, c.passed, c.severity, c.blocking
             FROM check_results c JOIN events e ON e.id = c.event_id
             WHERE c.asset = ?1 ORDER BY c.partition, c.name",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([asset], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, EventId>(2)?,
                row.get::<_, Millis>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, bool>(6)?,
            ))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(
            |(partition, check, event_id, timestamp, passed, severity, blocking)| {
                Ok(CheckResult {
                    partition: partition_value(partition),
                    check,
                    event_id,
                    timestamp,
                    passed,
                    severity: serde_json::from_value(serde_json::Value::String(severity))
                        .map_err(|e| corrupt("check severity", e))?,
                    blocking,
                })
            },
        )
        .collect()
}
