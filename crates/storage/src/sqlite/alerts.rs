//! Alert rules stored through the API, the alerts firing now, the feed of firings and
//! resolutions, and the deliveries that are due.

use rusqlite::{Connection, OptionalExtension, params};

use super::backend;
use super::queries::corrupt;
use crate::error::StorageError;
use crate::event::{AlertFiring, Event, EventId, Millis};
use crate::records::{AlertRecord, DeliveryRecord, DueDelivery, FiringAlert};

/// Rules stored through the API: (name, rule), by name.
pub(crate) fn alert_rules(
    conn: &Connection,
) -> Result<Vec<(String, serde_json::Value)>, StorageError> {
    let mut statement = conn
        .prepare_cached("SELECT name, rule FROM alert_rules ORDER BY name")
        .map_err(backend)?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(backend)?;
    let mut rules = Vec::new();
    for row in rows {
        let (name, rule) = row.map_err(backend)?;
        let rule =
            serde_json::from_str(&rule).map_err(|e| corrupt(&format!("alert rule `{name}`"), e))?;
        rules.push((name, rule));
    }
    Ok(rules)
}

/// The AlertFired or AlertResolved event `id`: (timestamp, fired, what).
fn alert_event(
    conn: &Connection,
    id: EventId,
) -> Result<Option<(Millis, bool, AlertFiring)>, StorageError> {
    let row = conn
        .prepare_cached("SELECT timestamp, payload FROM events WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((at, payload)) = row else {
        return Ok(None);
    };
    let event: Event =
        serde_json::from_str(&payload).map_err(|e| corrupt(&format!("event {id}"), e))?;
    Ok(match event {
        Event::AlertFired(f) => Some((at, true, f)),
        Event::AlertResolved(f) => Some((at, false, f)),
        _ => None,
    })
}

/// Every alert firing now, by rule and subject.
pub(crate) fn firing_alerts(conn: &Connection) -> Result<Vec<FiringAlert>, StorageError> {
    let mut statement = conn
        .prepare_cached("SELECT fired_event, since FROM alert_state ORDER BY rule, subject")
        .map_err(backend)?;
    let rows: Vec<(i64, i64)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    let mut firing = Vec::new();
    for (event_id, since) in rows {
        if let Some((_, _, what)) = alert_event(conn, event_id)? {
            firing.push(FiringAlert {
                event_id,
                since,
                firing: what,
            });
        }
    }
    Ok(firing)
}

fn deliveries(conn: &Connection, event: EventId) -> Result<Vec<DeliveryRecord>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT channel, status, attempts, http_status, error, retry_at
             FROM alert_deliveries WHERE alert_event = ?1 ORDER BY channel",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([event], |row| {
            Ok(DeliveryRecord {
                channel: row.get(0)?,
                status: row.get(1)?,
                attempts: row.get(2)?,
                http_status: row.get(3)?,
                error: row.get(4)?,
                retry_at: row.get(5)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

fn record(conn: &Connection, id: EventId) -> Result<Option<AlertRecord>, StorageError> {
    let Some((timestamp, fired, firing)) = alert_event(conn, id)? else {
        return Ok(None);
    };
    Ok(Some(AlertRecord {
        event_id: id,
        timestamp,
        fired,
        firing,
        deliveries: deliveries(conn, id)?,
    }))
}

/// The latest firings and resolutions, newest first, optionally of one rule only.
pub(crate) fn alert_history(
    conn: &Connection,
    rule: Option<&str>,
    limit: u32,
) -> Result<Vec<AlertRecord>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id FROM events WHERE kind IN ('alert_fired', 'alert_resolved')
             AND (?1 IS NULL OR json_extract(payload, '$.rule') = ?1)
             ORDER BY id DESC LIMIT ?2",
        )
        .map_err(backend)?;
    let ids: Vec<i64> = statement
        .query_map(params![rule, limit], |row| row.get(0))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        records.extend(record(conn, id)?);
    }
    Ok(records)
}

/// Deliveries not yet delivered nor given up, oldest first. The deliverer keeps its own backoff
/// while it runs; `retry_at` tells people when the next attempt is due.
pub(crate) fn pending_deliveries(conn: &Connection) -> Result<Vec<DueDelivery>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT alert_event, channel, attempts FROM alert_deliveries
             WHERE status = 'pending' ORDER BY alert_event, channel",
        )
        .map_err(backend)?;
    let rows: Vec<(i64, String, u32)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    let mut due = Vec::with_capacity(rows.len());
    for (event, channel, attempts) in rows {
        if let Some(alert) = record(conn, event)? {
            due.push(DueDelivery {
                alert,
                channel,
                attempts,
            });
        }
    }
    Ok(due)
}

/// Every check whose latest result on a partition failed: (asset, partition, check, severity).
pub(crate) fn failing_checks(
    conn: &Connection,
) -> Result<Vec<(String, String, String, String)>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT asset, partition, name, severity FROM check_results WHERE passed = 0
             ORDER BY asset, partition, name",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// Every partition whose latest step failed: (asset, partition, run).
pub(crate) fn failed_partitions(
    conn: &Connection,
) -> Result<Vec<(String, String, Option<String>)>, StorageError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT asset, partition, failed_run FROM partition_state
             WHERE failed_event IS NOT NULL ORDER BY asset, partition",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}
