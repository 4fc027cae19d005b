//! Delivering firings and resolutions: a JSON document (`webhook`) or a Slack-compatible
//! message (`slack`) POSTed to each channel, every attempt recorded, failures retried after
//! `retry_delay`, doubling, up to `max_attempts`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use strata_core::key::AssetKey;
use strata_core::model::{AlertChannel, ChannelKind, Repository};
use strata_storage::event::{AlertDelivery, AlertFiring, Event};
use strata_storage::records::AlertRecord;
use strata_storage::{Storage, StorageError};

/// How long one POST may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Sends pending deliveries. Each (channel, rule, subject) is one task that sends that
/// subject's firings and resolutions in the order they happened (a resolution never overtakes
/// its firing), each to the end of its retries; tasks for different channels and subjects run
/// side by side, so a channel that is down holds up nothing else. A group already being sent is
/// not started again, so the daemon calls [`Deliverer::start`] at every tick.
#[derive(Clone)]
pub struct Deliverer {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    client: reqwest::Client,
    in_flight: Arc<Mutex<HashSet<Group>>>,
}

/// (channel, rule, subject).
type Group = (String, String, String);

/// Removes a group from the in-flight set when its task ends, however it ends.
struct InFlight {
    set: Arc<Mutex<HashSet<Group>>>,
    group: Group,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.group);
        }
    }
}

impl Deliverer {
    /// A deliverer recording its attempts in `storage`, stamped by `clock`.
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> Self {
        Self {
            storage,
            clock,
            client: client(),
            in_flight: Arc::default(),
        }
    }

    /// Starts a task in `tasks` for every group with pending deliveries that is not being sent
    /// already; each task answers how many deliveries it made.
    pub async fn start(
        &self,
        repository: &Arc<Repository>,
        tasks: &mut tokio::task::JoinSet<usize>,
    ) -> Result<(), StorageError> {
        // Groups being sent when the pending rows are read are skipped even if their task ends
        // meanwhile: the rows read may be older than what that task recorded.
        let busy: HashSet<Group> = self
            .in_flight
            .lock()
            .map(|set| set.clone())
            .unwrap_or_default();
        let mut groups: BTreeMap<Group, Vec<strata_storage::records::DueDelivery>> =
            BTreeMap::new();
        for due in self.storage.pending_deliveries().await? {
            let group = (
                due.channel.clone(),
                due.alert.firing.rule.clone(),
                due.alert.firing.subject.clone(),
            );
            groups.entry(group).or_default().push(due);
        }
        for (group, mut dues) in groups {
            if busy.contains(&group) {
                continue;
            }
            {
                let Ok(mut set) = self.in_flight.lock() else {
                    continue;
                };
                if !set.insert(group.clone()) {
                    continue;
                }
            }
            dues.sort_by_key(|d| d.alert.event_id);
            let in_flight = InFlight {
                set: Arc::clone(&self.in_flight),
                group,
            };
            let (deliverer, repository) = (self.clone(), Arc::clone(repository));
            tasks.spawn(async move {
                let _in_flight = in_flight;
                let mut delivered = 0;
                for due in dues {
                    match deliverer
                        .deliver_one(&repository, &due.alert, &due.channel, due.attempts)
                        .await
                    {
                        Ok(true) => delivered += 1,
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "recording an alert delivery failed; retried at the next tick");
                            break;
                        }
                    }
                }
                delivered
            });
        }
        Ok(())
    }
    async fn deliver_one(
        &self,
        repository: &Repository,
        alert: &AlertRecord,
        channel_name: &str,
        attempts_made: u32,
    ) -> Result<bool, StorageError> {
        let (storage, clock, client) = (self.storage.as_ref(), &self.clock, &self.client);
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
