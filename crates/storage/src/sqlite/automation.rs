//! Automation ticks, explanations, the daemon's state and freshness states.

use rusqlite::{Connection, OptionalExtension, params};
use strata_core::key::AssetKey;

use super::backend;
use crate::error::StorageError;
use crate::records::{
    AutomationStateRecord, EvaluationRecord, FreshnessRecord, NewTick, TickRecord,
};

/// Stores a tick with its explanations, state and cursor in one transaction: a tick that does
/// not finish leaves the previous state and cursor, so the next tick re-reads what it missed.
pub(crate) fn record_tick(conn: &mut Connection, tick: &NewTick) -> Result<i64, StorageError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute(
        "INSERT INTO automation_ticks
             (now, started_at, duration_ms, cursor, evaluated, skipped, requested, runs, launched)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            tick.now,
            tick.started_at,
            tick.duration_ms,
            tick.cursor,
            tick.evaluated as i64,
            tick.skipped as i64,
            tick.requested,
            tick.runs,
            tick.launched,
        ],
    )
    .map_err(backend)?;
    let id = tx.last_insert_rowid();
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO automation_evaluations (asset, tick, explanation) VALUES (?1, ?2, ?3)",
            )
            .map_err(backend)?;
        for (asset, explanation) in &tick.evaluations {
            insert
                .execute(params![asset.to_string(), id, explanation])
                .map_err(backend)?;
        }
    }
    tx.execute(
        "INSERT INTO automation_state (id, tick, cursor, state) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET tick = excluded.tick, cursor = excluded.cursor,
         state = excluded.state",
        params![id, tick.cursor, tick.state],
    )
    .map_err(backend)?;
    crate::failpoint::hit("storage.tick_before_commit");
    tx.commit().map_err(backend)?;
    Ok(id)
}

pub(crate) fn automation_state(
    conn: &Connection,
) -> Result<Option<AutomationStateRecord>, StorageError> {
    conn.query_row(
        "SELECT tick, cursor, state FROM automation_state WHERE id = 1",
        [],
        |row| {
            Ok(AutomationStateRecord {
                tick: row.get(0)?,
                cursor: row.get(1)?,
                state: row.get(2)?,
            })
        },
    )
    .optional()
    .map_err(backend)
}

pub(crate) fn ticks(conn: &Connection, limit: u32) -> Result<Vec<TickRecord>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT tick, now, started_at, duration_ms, cursor, evaluated, skipped, requested,
                    runs, launched
             FROM automation_ticks ORDER BY tick DESC LIMIT ?1",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([limit], |row| {
            Ok(TickRecord {
                tick: row.get(0)?,
                now: row.get(1)?,
                started_at: row.get(2)?,
                duration_ms: row.get(3)?,
                cursor: row.get(4)?,
                evaluated: row.get::<_, i64>(5)? as u64,
                skipped: row.get::<_, i64>(6)? as u64,
                requested: row.get(7)?,
                runs: row.get(8)?,
                launched: row.get(9)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(crate) fn evaluation(
    conn: &Connection,
    asset: &AssetKey,
    tick: Option<i64>,
) -> Result<Option<EvaluationRecord>, StorageError> {
    conn.query_row(
        "SELECT e.tick, t.now, e.explanation
         FROM automation_evaluations e JOIN automation_ticks t ON t.tick = e.tick
         WHERE e.asset = ?1 AND e.tick <= ?2 ORDER BY e.tick DESC LIMIT 1",
        params![asset.to_string(), tick.unwrap_or(i64::MAX)],
        |row| {
            Ok(EvaluationRecord {
                tick: row.get(0)?,
                now: row.get(1)?,
                explanation: row.get(2)?,
            })
        },
    )
    .optional()
    .map_err(backend)
}

pub(crate) fn freshness_states(conn: &Connection) -> Result<Vec<FreshnessRecord>, StorageError> {
    let mut statement = conn
        .prepare_cached("SELECT asset, state, since, reason FROM freshness ORDER BY asset")
        .map_err(backend)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .map_err(backend)?;
    let mut records = Vec::new();
    for row in rows {
        let (asset, state, since, reason) = row.map_err(backend)?;
        let asset = AssetKey::parse(&asset)
            .map_err(|e| StorageError::Backend(format!("stored asset key `{asset}`: {e}")))?;
        records.push(FreshnessRecord {
            asset,
            state,
            since,
            reason,
        });
    }
    Ok(records)
}
