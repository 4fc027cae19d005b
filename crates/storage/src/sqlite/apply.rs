//! Appending events: the log row and every index it updates, in the caller's transaction.

use rusqlite::{OptionalExtension, Transaction, params};

use super::backend;
use crate::error::StorageError;
use crate::event::{BackfillStatus, Event, EventId, Materialization, Millis};

/// The index value of "no partition" (real partition keys are never empty).
pub(crate) const UNPARTITIONED: &str = "";

pub(crate) fn partition_column(partition: Option<&str>) -> &str {
    partition.unwrap_or(UNPARTITIONED)
}

/// Runs one statement, prepared once per connection: appends run the same few statements for
/// every event, so re-preparing them would be most of a batch's cost.
fn exec(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StorageError> {
    tx.prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map_err(backend)
}

/// Rejects what the log cannot hold before anything is written.
pub(crate) fn validate(event: &Event) -> Result<(), StorageError> {
    if let Some((asset, Some(""))) = event.asset_partition() {
        return Err(StorageError::invalid(format!(
            "an event about `{asset}` has an empty partition key; omit the partition for an \
             unpartitioned asset"
        )));
    }
    if event.run_id() == Some("") {
        return Err(StorageError::invalid(format!(
            "a `{}` event has an empty run id",
            event.kind()
        )));
    }
    match event {
        Event::Materialization(m) if m.materialization_id.is_empty() => Err(StorageError::invalid(
            format!("the materialization of `{}` has no id", m.asset),
        )),
        Event::DynamicPartitionsAdded { name, keys }
        | Event::DynamicPartitionsRemoved { name, keys }
            if name.is_empty() || keys.iter().any(String::is_empty) =>
        {
            Err(StorageError::invalid(
                "dynamic partitions need a set name and non-empty keys",
            ))
        }
        _ => Ok(()),
    }
}

/// Appends one event and applies it to the indexes.
pub(crate) fn append(
    tx: &Transaction<'_>,
    timestamp: Millis,
    event: &Event,
) -> Result<EventId, StorageError> {
    let payload = serde_json::to_string(event)
        .map_err(|e| StorageError::Backend(format!("cannot encode event: {e}")))?;
    let (asset, partition) = match event.asset_partition() {
        Some((asset, partition)) => (Some(asset.to_string()), partition),
        None => (None, None),
    };
    exec(
        tx,
        "INSERT INTO events (timestamp, kind, run_id, asset, partition, backfill_id, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            timestamp,
            event.kind(),
            event.run_id(),
            asset,
            partition,
            event.backfill_id(),
            payload
        ],
    )?;
    let id = tx.last_insert_rowid();
    crate::failpoint::hit("storage.after_event_insert");
    apply(tx, id, timestamp, event)?;
    Ok(id)
}

/// One pending delivery per channel of an alert event, due at once.
fn queue_deliveries(
    tx: &Transaction<'_>,
    event: EventId,
    at: Millis,
    channels: &[String],
) -> Result<(), StorageError> {
    for channel in channels {
        exec(
            tx,
            "INSERT OR IGNORE INTO alert_deliveries (alert_event, channel, status, attempts, retry_at)
             VALUES (?1, ?2, 'pending', 0, ?3)",
            params![event, channel, at],
        )?;
    }
    Ok(())
}

fn require_run(tx: &Transaction<'_>, run_id: &str, event: &Event) -> Result<(), StorageError> {
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = ?1)")
        .and_then(|mut statement| statement.query_row([run_id], |row| row.get(0)))
        .map_err(backend)?;
    if exists {
        Ok(())
    } else {
        Err(StorageError::invalid(format!(
            "a `{}` event names run `{run_id}`, which was never queued",
            event.kind()
        )))
    }
}

fn apply(tx: &Transaction<'_>, id: EventId, at: Millis, event: &Event) -> Result<(), StorageError> {
    if let Some(run_id) = event.run_id()
        && !matches!(event, Event::RunQueued { .. })
    {
        require_run(tx, run_id, event)?;
    }
    match event {
        Event::RunQueued {
            run_id,
            backfill_id,
            description,
            steps,
            tags,
        } => {
            let tags = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
            let inserted = exec(
                tx,
                "INSERT INTO runs (run_id, seq, status, backfill_id, description, steps, tags, created_at)
                 VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                params![run_id, id, backfill_id, description, *steps as i64, tags, at],
            )?;
            if inserted == 0 {
                return Err(StorageError::invalid(format!(
                    "run `{run_id}` was already queued"
                )));
            }
        }
        Event::RunStarted { run_id } => {
            exec(
                tx,
                "UPDATE runs SET status = 'started', started_at = ?2 WHERE run_id = ?1",
                params![run_id, at],
            )?;
        }
        Event::RunSucceeded { run_id } => end_run(tx, run_id, "succeeded", None, at)?,
        Event::RunFailed { run_id, error } => end_run(tx, run_id, "failed", Some(error), at)?,
        Event::RunCanceled { run_id } => end_run(tx, run_id, "canceled", None, at)?,
        Event::RunCancelRequested { run_id } => {
            exec(
                tx,
                "UPDATE runs SET cancel_requested = 1 WHERE run_id = ?1",
                [run_id],
            )?;
        }
        Event::StepStarted {
            run_id,
            asset,
            partition,
            attempt,
        } => {
            let (asset, partition) = (asset.to_string(), partition_column(partition.as_deref()));
            exec(
                tx,
                "INSERT INTO steps (run_id, asset, partition, seq, status, attempt, started_at)
                 VALUES (?1, ?2, ?3, ?4, 'started', ?5, ?6)
                 ON CONFLICT (run_id, asset, partition)
                 DO UPDATE SET status = 'started', attempt = excluded.attempt, error = NULL",
                params![run_id, asset, partition, id, attempt, at],
            )?;
            exec(
                tx,
                "INSERT INTO partition_state (asset, partition, in_progress_run) VALUES (?1, ?2, ?3)
                 ON CONFLICT (asset, partition) DO UPDATE SET in_progress_run = excluded.in_progress_run",
                params![asset, partition, run_id],
            )?;
        }
        Event::StepRetrying {
            run_id,
            asset,
            partition,
            attempt,
            error,
            ..
        } => {
            update_step(
                tx,
                run_id,
                &asset.to_string(),
                partition.as_deref(),
                "retrying",
                Some(*attempt),
                Some(error),
                None,
            )?;
        }
        Event::StepSkipped {
            run_id,
            asset,
            partition,
            reason,
        } => {
            exec(
                tx,
                "INSERT INTO steps (run_id, asset, partition, seq, status, attempt, started_at, ended_at, error)
                 VALUES (?1, ?2, ?3, ?4, 'skipped', 0, ?5, ?5, ?6)",
                params![
                    run_id,
                    asset.to_string(),
                    partition_column(partition.as_deref()),
                    id,
                    at,
                    reason
                ],
            )?;
        }
        Event::StepSucceeded {
            run_id,
            asset,
            partition,
        } => {
            let asset = asset.to_string();
            update_step(
                tx,
                run_id,
                &asset,
                partition.as_deref(),
                "succeeded",
                None,
                None,
                Some(at),
            )?;
            clear_in_progress(tx, run_id, &asset, partition.as_deref())?;
        }
        Event::StepFailed {
            run_id,
            asset,
            partition,
            attempt,
            error,
        } => {
            let asset = asset.to_string();
            update_step(
                tx,
                run_id,
                &asset,
                partition.as_deref(),
                "failed",
                Some(*attempt),
                Some(error),
                Some(at),
            )?;
            exec(
                tx,
                "INSERT INTO partition_state (asset, partition, failed_event, failed_run) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (asset, partition) DO UPDATE SET
                     failed_event = excluded.failed_event, failed_run = excluded.failed_run,
                     in_progress_run = CASE WHEN in_progress_run = ?4 THEN NULL ELSE in_progress_run END",
                params![asset, partition_column(partition.as_deref()), id, run_id],
            )?;
        }
        Event::Materialization(m) => apply_materialization(tx, id, at, m)?,
        Event::Observation(o) => {
            exec(
                tx,
                "INSERT INTO observations (asset, partition, event_id, data_version) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (asset, partition) DO UPDATE SET
                     event_id = excluded.event_id, data_version = excluded.data_version",
                params![
                    o.asset.to_string(),
                    partition_column(o.partition.as_deref()),
                    id,
                    o.data_version
                ],
            )?;
        }
        Event::CheckEvaluation(c) => {
            let severity = serde_json::to_value(c.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            exec(
                tx,
                "INSERT INTO check_results (asset, partition, name, event_id, passed, severity, blocking)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (asset, partition, name) DO UPDATE SET
                     event_id = excluded.event_id, passed = excluded.passed,
                     severity = excluded.severity, blocking = excluded.blocking",
                params![
                    c.asset.to_string(),
                    partition_column(c.partition.as_deref()),
                    c.check,
                    id,
                    c.passed,
                    severity,
                    c.blocking
                ],
            )?;
        }
        Event::Log { .. } => {}
        Event::StepCost(cost) => {
            let encode = |v: serde_json::Result<String>| {
                v.map_err(|e| StorageError::Backend(format!("cannot encode a cost: {e}")))
            };
            exec(
                tx,
                "INSERT INTO step_costs (event_id, timestamp, asset, partition, succeeded, usage, amounts, total)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    at,
                    cost.asset.to_string(),
                    partition_column(cost.partition.as_deref()),
                    cost.succeeded,
                    encode(serde_json::to_string(&cost.usage))?,
                    encode(serde_json::to_string(&cost.amounts))?,
                    cost.amounts.total()
                ],
            )?;
        }
        Event::AlertFired(firing) => {
            exec(
                tx,
                "INSERT INTO alert_state (rule, subject, fired_event, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (rule, subject) DO UPDATE SET fired_event = excluded.fired_event, since = excluded.since",
                params![firing.rule, firing.subject, id, at],
            )?;
            queue_deliveries(tx, id, at, &firing.channels)?;
        }
        Event::AlertResolved(firing) => {
            exec(
                tx,
                "DELETE FROM alert_state WHERE rule = ?1 AND subject = ?2",
                params![firing.rule, firing.subject],
            )?;
            queue_deliveries(tx, id, at, &firing.channels)?;
        }
        Event::AlertDelivery(d) => {
            let status = match (d.delivered, d.retry_at) {
                (true, _) => "delivered",
                (false, Some(_)) => "pending",
                (false, None) => "failed",
            };
            exec(
                tx,
                // Only a newer attempt of a delivery still pending counts: a late record of an
                // earlier attempt never undoes "delivered".
                "UPDATE alert_deliveries SET status = ?3, attempts = ?4, http_status = ?5, error = ?6, retry_at = ?7
                 WHERE alert_event = ?1 AND channel = ?2 AND status = 'pending' AND attempts < ?4",
                params![d.alert_event, d.channel, status, d.attempt, d.status, d.error, d.retry_at],
            )?;
        }
        Event::AlertRuleSaved { name, rule } => {
            exec(
                tx,
                "INSERT INTO alert_rules (name, rule, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at",
                params![name, rule.to_string(), at],
            )?;
        }
        Event::AlertRuleDeleted { name } => {
            exec(tx, "DELETE FROM alert_rules WHERE name = ?1", params![name])?;
        }
        Event::BackfillCreated {
            backfill_id,
            selection,
            partitions,
            requested,
            targets,
        } => {
            let targets = serde_json::to_string(targets)
                .map_err(|e| StorageError::invalid(format!("backfill targets: {e}")))?;
            let inserted = exec(
                tx,
                "INSERT INTO backfills (backfill_id, seq, status, selection, partitions, requested, created_at, targets)
                 VALUES (?1, ?2, 'requested', ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                params![backfill_id, id, selection, partitions, *requested as i64, at, targets],
            )?;
            if inserted == 0 {
                return Err(StorageError::invalid(format!(
                    "backfill `{backfill_id}` already exists"
                )));
            }
        }
        Event::BackfillProgressed {
            backfill_id,
            completed,
            failed,
        } => {
            require_backfill(
                exec(
                    tx,
                    "UPDATE backfills SET completed = ?2, failed = ?3 WHERE backfill_id = ?1",
                    params![backfill_id, *completed as i64, *failed as i64],
                )?,
                backfill_id,
            )?;
        }
        Event::BackfillResumed { backfill_id } => {
            require_backfill(
                exec(
                    tx,
                    "UPDATE backfills SET status = 'requested', ended_at = NULL WHERE backfill_id = ?1",
                    [backfill_id],
                )?,
                backfill_id,
            )?;
        }
        Event::BackfillFinished {
            backfill_id,
            status,
        } => {
            if *status == BackfillStatus::Requested {
                return Err(StorageError::invalid(
                    "a backfill cannot finish with status `requested`",
                ));
            }
            require_backfill(
                exec(
                    tx,
                    "UPDATE backfills SET status = ?2, ended_at = ?3 WHERE backfill_id = ?1",
                    params![backfill_id, status.as_str(), at],
                )?,
                backfill_id,
            )?;
        }
        Event::DynamicPartitionsAdded { name, keys } => {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO dynamic_partitions (name, key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )
                .map_err(backend)?;
            for key in keys {
                insert.execute(params![name, key]).map_err(backend)?;
            }
        }
        Event::DynamicPartitionsRemoved { name, keys } => {
            let mut delete = tx
                .prepare_cached("DELETE FROM dynamic_partitions WHERE name = ?1 AND key = ?2")
                .map_err(backend)?;
            for key in keys {
                delete.execute(params![name, key]).map_err(backend)?;
            }
        }
        Event::FreshnessChanged {
            asset,
            state,
            reason,
            ..
        } => {
            exec(
                tx,
                "INSERT INTO freshness (asset, state, since, reason) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (asset) DO UPDATE SET state = excluded.state, since = excluded.since,
                 reason = excluded.reason",
                params![asset.to_string(), state, at, reason],
            )?;
        }
        Event::FilesDeleted { io_manager, paths } => {
            let mut delete = tx
                .prepare_cached(
                    "UPDATE files SET state = 'deleted' WHERE io_manager = ?1 AND path = ?2",
                )
                .map_err(backend)?;
            for path in paths {
                delete.execute(params![io_manager, path]).map_err(backend)?;
            }
        }
    }
    Ok(())
}

fn require_backfill(updated: usize, backfill_id: &str) -> Result<(), StorageError> {
    if updated == 0 {
        Err(StorageError::invalid(format!(
            "backfill `{backfill_id}` was never created"
        )))
    } else {
        Ok(())
    }
}

fn end_run(
    tx: &Transaction<'_>,
    run_id: &str,
    status: &str,
    error: Option<&String>,
    at: Millis,
) -> Result<(), StorageError> {
    exec(
        tx,
        "UPDATE runs SET status = ?2, ended_at = ?3, error = ?4 WHERE run_id = ?1",
        params![run_id, status, at, error],
    )?;
    // Steps still executing when their run ended were abandoned, not silently left running.
    exec(
        tx,
        "UPDATE steps SET status = 'abandoned', ended_at = ?2
         WHERE run_id = ?1 AND status IN ('started', 'retrying')",
        params![run_id, at],
    )?;
    exec(
        tx,
        "UPDATE partition_state SET in_progress_run = NULL WHERE in_progress_run = ?1",
        [run_id],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn update_step(
    tx: &Transaction<'_>,
    run_id: &str,
    asset: &str,
    partition: Option<&str>,
    status: &str,
    attempt: Option<u32>,
    error: Option<&String>,
    ended_at: Option<Millis>,
) -> Result<(), StorageError> {
    let updated = exec(
        tx,
        "UPDATE steps SET status = ?4, attempt = COALESCE(?5, attempt), error = ?6, ended_at = ?7
             WHERE run_id = ?1 AND asset = ?2 AND partition = ?3",
        params![
            run_id,
            asset,
            partition_column(partition),
            status,
            attempt,
            error,
            ended_at
        ],
    )?;
    if updated == 0 {
        return Err(StorageError::invalid(format!(
            "step `{asset}`{} of run `{run_id}` never started",
            partition.map(|p| format!(" [{p}]")).unwrap_or_default()
        )));
    }
    Ok(())
}

fn clear_in_progress(
    tx: &Transaction<'_>,
    run_id: &str,
    asset: &str,
    partition: Option<&str>,
) -> Result<(), StorageError> {
    exec(
        tx,
        "UPDATE partition_state SET in_progress_run = NULL
         WHERE asset = ?1 AND partition = ?2 AND in_progress_run = ?3",
        params![asset, partition_column(partition), run_id],
    )?;
    Ok(())
}

fn apply_materialization(
    tx: &Transaction<'_>,
    id: EventId,
    at: Millis,
    m: &Materialization,
) -> Result<(), StorageError> {
    let asset = m.asset.to_string();
    let partition = partition_column(m.partition.as_deref());
    let previous: Option<i64> = tx
        .prepare_cached(
            "SELECT materialized_event FROM partition_state WHERE asset = ?1 AND partition = ?2",
        )
        .and_then(|mut statement| {
            statement
                .query_row(params![asset, partition], |row| row.get(0))
                .optional()
        })
        .map_err(backend)?
        .flatten();
    if let Some(previous) = previous {
        exec(
            tx,
            "UPDATE files SET state = 'superseded', superseded_at = ?2
             WHERE event_id = ?1 AND state = 'live'",
            params![previous, at],
        )?;
    }
    let files = serde_json::to_string(&m.files).unwrap_or_else(|_| "[]".into());
    exec(
        tx,
        "INSERT INTO partition_state (asset, partition, materialized_event, materialized_at,
         materialization_id, materialized_run, io_manager, files, rows, bytes, code_version, data_version)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
        ON CONFLICT (asset, partition) DO UPDATE SET
         materialized_event = excluded.materialized_event,
         materialized_at = excluded.materialized_at,
         materialization_id = excluded.materialization_id,
         materialized_run = excluded.materialized_run,
         io_manager = excluded.io_manager,
         files = excluded.files,
         rows = excluded.rows,
         bytes = excluded.bytes,
         code_version = excluded.code_version,
         data_version = excluded.data_version,
         failed_event = NULL,
         failed_run = NULL",
        params![
            asset,
            partition,
            id,
            at,
            m.materialization_id,
            m.run_id,
            m.io_manager,
            files,
            m.rows as i64,
            m.bytes as i64,
            m.code_version,
            m.data_version
        ],
    )?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO files (io_manager, path, asset, partition, event_id, bytes, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'live') ON CONFLICT DO NOTHING",
        )
        .map_err(backend)?;
    for file in &m.files {
        let inserted = insert
            .execute(params![
                m.io_manager,
                file.path,
                asset,
                partition,
                id,
                file.bytes as i64
            ])
            .map_err(backend)?;
        if inserted == 0 {
            return Err(StorageError::invalid(format!(
                "file `{}` of IO manager `{}` was already recorded by another materialization; \
                 every materialization writes under its own path",
                file.path, m.io_manager
            )));
        }
    }
    Ok(())
}
