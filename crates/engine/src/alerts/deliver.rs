//! Delivering firings and resolutions: a JSON document (`webhook`) or a Slack-compatible
//! message (`slack`) POSTed to each channel, every attempt recorded, failures retried after
//! `retry_delay`, doubling, up to `max_attempts`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use strata_core::key::AssetKey;
use strata_core::model::{AlertChannel, ChannelKind, Repository};
use strata_storage::event::{AlertDelivery, AlertFiring, Event};
use strata_storage::records::AlertRecord;
use strata_storage::{Storage, StorageError};

/// How long one POST may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// What one POST to a channel answered.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeliveryResult {
    /// The channel.
    pub channel: String,
    /// Whether it answered 2xx.
    pub delivered: bool,
    /// Its HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Delivers every pending delivery, each to the end of its retries (concurrently, so a
/// channel that is down does not hold up the others). Returns how many were delivered.
pub async fn deliver_pending(
    storage: Arc<dyn Storage>,
    repository: Arc<Repository>,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
) -> Result<usize, StorageError> {
    let pending = storage.pending_deliveries().await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for due in pending {
        let (storage, repository, clock, client) = (
            Arc::clone(&storage),
            Arc::clone(&repository),
            Arc::clone(&clock),
            client.clone(),
        );
        tasks.spawn(async move {
            deliver_one(
                storage.as_ref(),
                &repository,
                &clock,
                &client,
                &due.alert,
                &due.channel,
                due.attempts,
            )
            .await
        });
    }
    let mut delivered = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(true)) => delivered += 1,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "recording an alert delivery failed"),
            Err(e) => tracing::warn!(error = %e, "an alert delivery task failed"),
        }
    }
    Ok(delivered)
}

async fn deliver_one(
    storage: &dyn Storage,
    repository: &Repository,
    clock: &Arc<dyn Fn() -> i64 + Send + Sync>,
    client: &reqwest::Client,
    alert: &AlertRecord,
    channel_name: &str,
    attempts_made: u32,
) -> Result<bool, StorageError> {
    let config = &repository.project().alerts;
    let policy = config.delivery;
    let mut attempt = attempts_made + 1;
    loop {
        let result = match config.channels.get(channel_name) {
            Some(channel) => {
                let body = body(repository, channel, alert, false);
                post(client, channel_name, channel, &body).await
            }
            None => DeliveryResult {
                channel: channel_name.to_string(),
                delivered: false,
                http_status: None,
                error: Some(format!(
                    "channel `{channel_name}` is no longer declared in strata.toml"
                )),
            },
        };
        let retry = (!result.delivered && config.channels.contains_key(channel_name))
            .then(|| policy.retry_after(attempt))
            .flatten();
        let now = clock();
        storage
            .append(
                now,
                vec![Event::AlertDelivery(AlertDelivery {
                    alert_event: alert.event_id,
                    channel: channel_name.to_string(),
                    attempt,
                    delivered: result.delivered,
                    status: result.http_status,
                    error: result.error.clone(),
                    retry_at: retry.map(|d| now + d.as_millis() as i64),
                })],
            )
            .await?;
        if result.delivered {
            return Ok(true);
        }
        let Some(wait) = retry else {
            tracing::warn!(channel = channel_name, attempt, error = ?result.error, "alert delivery given up");
            return Ok(false);
        };
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// Sends a sample of `rule` to each of its channels once (nothing is recorded).
pub async fn send_test(
    repository: &Repository,
    rule: &strata_core::model::AlertRule,
    now: i64,
) -> Vec<DeliveryResult> {
    let sample = AlertRecord {
        event_id: 0,
        timestamp: now,
        fired: true,
        firing: AlertFiring {
            rule: rule.name.clone(),
            subject: "test".into(),
            message: format!(
                "test of alert rule `{}`: this is a sample, nothing is wrong",
                rule.name
            ),
            partitions: Vec::new(),
            values: [("test".to_string(), json!(true))].into(),
            channels: rule.channels.clone(),
        },
        deliveries: Vec::new(),
    };
    let client = client();
    let mut results = Vec::new();
    for name in &rule.channels {
        let Some(channel) = repository.project().alerts.channels.get(name) else {
            continue;
        };
        let body = body(repository, channel, &sample, true);
        results.push(post(&client, name, channel, &body).await);
    }
    results
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .build()
        .unwrap_or_default()
}

async fn post(
    client: &reqwest::Client,
    name: &str,
    channel: &AlertChannel,
    body: &Value,
) -> DeliveryResult {
    let answer = client
        .post(&channel.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await;
    let (delivered, http_status, error) = match answer {
        Ok(response) if response.status().is_success() => {
            (true, Some(response.status().as_u16()), None)
        }
        Ok(response) => {
            let status = response.status();
            (
                false,
                Some(status.as_u16()),
                Some(format!("{} answered {status}", channel.url)),
            )
        }
        Err(e) => (
            false,
            None,
            Some(format!("POST {} failed: {e}", channel.url)),
        ),
    };
    DeliveryResult {
        channel: name.to_string(),
        delivered,
        http_status,
        error,
    }
}

/// The UI path of what an alert is about: the asset's page, else the alerts page.
pub fn link_path(subject: &str) -> String {
    match AssetKey::parse(subject) {
        Ok(asset) => format!("/assets/{}/{}", asset.group(), asset.name()),
        Err(_) => "/alerts".to_string(),
    }
}

/// What a channel receives.
fn body(repository: &Repository, channel: &AlertChannel, alert: &AlertRecord, test: bool) -> Value {
    let firing = &alert.firing;
    let state = if alert.fired { "firing" } else { "resolved" };
    let link = format!(
        "http://{}{}",
        repository.project().server.bind,
        link_path(&firing.subject)
    );
    let at = chrono::DateTime::from_timestamp_millis(alert.timestamp)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    match channel.kind {
        ChannelKind::Webhook => json!({
            "rule": firing.rule,
            "state": state,
            "subject": firing.subject,
            "asset": AssetKey::parse(&firing.subject).ok().map(|k| k.to_string()),
            "partitions": firing.partitions,
            "message": firing.message,
            "values": firing.values,
            "at": at,
            "link": link,
            "alert_id": alert.event_id,
            "test": test,
        }),
        ChannelKind::Slack => {
            let icon = if alert.fired {
                ":rotating_light:"
            } else {
                ":white_check_mark:"
            };
            let text = format!(
                "{icon} *{}* {} — {} <{link}|open in Strata>",
                firing.rule, state, firing.message
            );
            json!({
                "text": text,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            })
        }
    }
}
