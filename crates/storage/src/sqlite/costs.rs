//! What steps cost and the bytes each materialization held, for cost reports and estimates.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use strata_core::cost::{AssetCostHistory, HeldBytes, StepCostItem};
use strata_core::key::AssetKey;

use super::backend;
use super::queries::{asset_value, corrupt, partition_value};
use crate::error::StorageError;
use crate::event::Millis;

fn decode<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// Every step cost recorded in `[since, until)`, oldest first.
pub(crate) fn step_costs(
    conn: &Connection,
    since: Millis,
    until: Millis,
) -> Result<Vec<StepCostItem>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT asset, partition, timestamp, succeeded, usage, amounts FROM step_costs
             WHERE timestamp >= ?1 AND timestamp < ?2 ORDER BY event_id",
        )
        .map_err(backend)?;
    items(&mut statement, params![since, until])
}

/// Step cost items from a statement selecting (asset, partition, timestamp, succeeded, usage,
/// amounts).
fn items(
    statement: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<StepCostItem>, StorageError> {
    let rows = statement
        .query_map(params, |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, bool>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
            ))
        })
        .map_err(backend)?;
    let mut items = Vec::new();
    for row in rows {
        let (asset, part, at, succeeded, usage, amounts) = row.map_err(backend)?;
        items.push(StepCostItem {
            asset: asset_value(&asset)?,
            partition: partition_value(part),
            at,
            usage: decode(&usage, "usage")?,
            amounts: decode(&amounts, "amounts")?,
            succeeded,
        });
    }
    Ok(items)
}

/// The bytes of every materialization that was current at some time in `[since, until)`, with
/// when it became current and when it was superseded.
pub(crate) fn held_bytes(
    conn: &Connection,
    since: Millis,
    until: Millis,
) -> Result<Vec<HeldBytes>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT f.asset, f.partition, e.timestamp, MIN(f.superseded_at), SUM(f.bytes)
             FROM files f JOIN events e ON e.id = f.event_id
             WHERE e.timestamp < ?2
             GROUP BY f.event_id
             HAVING MIN(f.superseded_at) IS NULL OR MIN(f.superseded_at) > ?1
             ORDER BY f.event_id",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map(params![since, until], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .map_err(backend)?;
    let mut held = Vec::new();
    for row in rows {
        let (asset, part, from, until, bytes) = row.map_err(backend)?;
        held.push(HeldBytes {
            asset: asset_value(&asset)?,
            partition: partition_value(part),
            from,
            until,
            bytes: bytes.max(0) as u64,
        });
    }
    Ok(held)
}

/// Per asset: how many successful step partitions have a cost, and their total.
pub(crate) fn cost_history(
    conn: &Connection,
) -> Result<BTreeMap<AssetKey, AssetCostHistory>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT asset, COUNT(*), SUM(total) FROM step_costs WHERE succeeded = 1 GROUP BY asset",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, f64>(2)?,
            ))
        })
        .map_err(backend)?;
    let mut history = BTreeMap::new();
    for row in rows {
        let (asset, partitions, total) = row.map_err(backend)?;
        history.insert(
            asset_value(&asset)?,
            AssetCostHistory {
                partitions: partitions as u64,
                total,
            },
        );
    }
    Ok(history)
}

/// Each asset's latest successful step cost (one partition's).
pub(crate) fn latest_step_costs(conn: &Connection) -> Result<Vec<StepCostItem>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT asset, partition, timestamp, succeeded, usage, amounts FROM step_costs
             WHERE event_id IN (SELECT MAX(event_id) FROM step_costs WHERE succeeded = 1 GROUP BY asset)
             ORDER BY asset",
        )
        .map_err(backend)?;
    items(&mut statement, [])
}
