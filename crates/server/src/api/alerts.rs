//! Alerts: rules (strata.toml's, read-only, and the API's, stored), a test send, the channels,
//! and the feed of firings and resolutions with their deliveries — the documents of
//! `strata alerts --json` too.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strata_core::model::{AlertRule, ChannelKind, Repository};
use strata_engine::alerts::{self, ActiveRule, DeliveryResult, RuleSource};
use strata_storage::Storage;
use strata_storage::event::Event;
use strata_storage::records::{AlertRecord, DeliveryRecord};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Body, ErrorBody, Params, limit};
use super::state::{AppState, rfc3339};

/// A rule in force.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertRuleBody {
    /// Unique name.
    pub(crate) name: String,
    /// `strata.toml` (read-only here) or `api`.
    pub(crate) source: String,
    /// Whether the API may change or delete it.
    pub(crate) editable: bool,
    /// The condition, as in strata.toml: `{"check_failed": {"severity": "error"}}`,
    /// `{"freshness": "fail"}`, `"run_failed"` or `{"cost": {"per": "month", "over": 100.0,
    /// "by": "tag:team"}}`.
    #[schema(value_type = Object)]
    pub(crate) when: Value,
    /// The asset selection it watches.
    pub(crate) select: String,
    /// Where it sends.
    pub(crate) channels: Vec<String>,
    /// Subjects (assets, groups, tag values) it is firing for now.
    pub(crate) firing: Vec<String>,
}

/// The rules.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertRuleList {
    /// strata.toml's first, then the API's.
    pub(crate) rules: Vec<AlertRuleBody>,
}

/// A rule to create or replace.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAlertRule {
    /// Unique name.
    name: String,
    /// The condition (see `AlertRuleBody.when`).
    #[schema(value_type = Object)]
    when: Value,
    /// An asset selection (default `*`).
    select: Option<String>,
    /// Declared channel names, at least one.
    channels: Vec<String>,
}

/// One delivery of an alert to a channel.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryBody {
    /// The channel.
    pub(crate) channel: String,
    /// `pending`, `delivered` or `failed` (retries exhausted).
    pub(crate) status: String,
    /// Attempts made.
    pub(crate) attempts: u32,
    /// The channel's last HTTP status.
    pub(crate) http_status: Option<u16>,
    /// The last error.
    pub(crate) error: Option<String>,
}

impl From<&DeliveryRecord> for DeliveryBody {
    fn from(d: &DeliveryRecord) -> Self {
        Self {
            channel: d.channel.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            http_status: d.http_status,
            error: d.error.clone(),
        }
    }
}

/// A firing or a resolution.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertEntry {
    /// Its event id.
    pub(crate) id: i64,
    /// When.
    pub(crate) at: String,
    /// `firing` or `resolved`.
    pub(crate) state: String,
    /// The rule.
    pub(crate) rule: String,
    /// An asset key, `group:<name>`, or `key=value` for costs summed over a tag.
    pub(crate) subject: String,
    /// One sentence.
    pub(crate) message: String,
    /// The partitions concerned.
    pub(crate) partitions: Vec<String>,
    /// The figures behind it.
    #[schema(value_type = Object)]
    pub(crate) values: BTreeMap<String, Value>,
    /// Where to look in the UI.
    pub(crate) link: String,
    /// Each channel's delivery.
    pub(crate) deliveries: Vec<DeliveryBody>,
}

impl From<&AlertRecord> for AlertEntry {
    fn from(r: &AlertRecord) -> Self {
        Self {
            id: r.event_id,
            at: rfc3339(r.timestamp),
            state: if r.fired { "firing" } else { "resolved" }.to_string(),
            rule: r.firing.rule.clone(),
            subject: r.firing.subject.clone(),
            message: r.firing.message.clone(),
            partitions: r.firing.partitions.clone(),
            values: r.firing.values.clone(),
            link: alerts::link_path(&r.firing.subject),
            deliveries: r.deliveries.iter().map(DeliveryBody::from).collect(),
        }
    }
}

/// Firings and resolutions.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertFeed {
    /// Newest first.
    pub(crate) alerts: Vec<AlertEntry>,
    /// Always null: ask a bigger `limit` for more.
    pub(crate) next: Option<String>,
}

/// Which entries.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FeedQuery {
    /// Only this rule's.
    rule: Option<String>,
    /// At most this many, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// A channel.
#[derive(Serialize, ToSchema)]
pub(super) struct ChannelBody {
    /// Its name.
    name: String,
    /// `webhook` or `slack`.
    kind: String,
}

/// The declared channels.
#[derive(Serialize, ToSchema)]
pub(super) struct ChannelList {
    /// By name.
    channels: Vec<ChannelBody>,
}

/// What one test send answered.
#[derive(Serialize, ToSchema)]
pub(crate) struct TestDelivery {
    /// The channel.
    channel: String,
    /// Whether it answered 2xx.
    delivered: bool,
    /// Its HTTP status.
    http_status: Option<u16>,
    /// Why it failed.
    error: Option<String>,
}

/// A test of a rule.
#[derive(Serialize, ToSchema)]
pub(crate) struct TestResult {
    /// The rule.
    rule: String,
    /// Each channel's answer.
    deliveries: Vec<TestDelivery>,
}

impl TestResult {
    pub(crate) fn new(rule: &str, results: Vec<DeliveryResult>) -> Self {
        Self {
            rule: rule.to_string(),
            deliveries: results
                .into_iter()
                .map(|r| TestDelivery {
                    channel: r.channel,
                    delivered: r.delivered,
                    http_status: r.http_status,
                    error: r.error,
                })
                .collect(),
        }
    }
}

/// A deleted rule.
#[derive(Serialize, ToSchema)]
pub(super) struct Deleted {
    /// Its name.
    deleted: String,
}

/// Every rule in force with what it is firing for.
pub(crate) async fn rule_list(
    storage: &dyn Storage,
    repository: &Repository,
) -> Result<AlertRuleList, strata_storage::StorageError> {
    let active = alerts::rules(storage, repository).await?;
    let firing = storage.firing_alerts().await?;
    let rules = active
        .iter()
        .map(|ActiveRule { rule, source }| AlertRuleBody {
            name: rule.name.clone(),
            source: source.as_str().to_string(),
            editable: *source == RuleSource::Api,
            when: alerts::when_json(&rule.when),
            select: rule.select.as_str().to_string(),
            channels: rule.channels.clone(),
            firing: firing
                .iter()
                .filter(|f| f.firing.rule == rule.name)
                .map(|f| f.firing.subject.clone())
                .collect(),
        })
        .collect();
    Ok(AlertRuleList { rules })
}

/// Firings and resolutions, newest first.
pub(crate) async fn feed(
    storage: &dyn Storage,
    rule: Option<&str>,
    limit: u32,
) -> Result<AlertFeed, strata_storage::StorageError> {
    let records = storage.alert_history(rule, limit).await?;
    Ok(AlertFeed {
        alerts: records.iter().map(AlertEntry::from).collect(),
        next: None,
    })
}

/// Alert rules: strata.toml's (read-only) and the API's, with the subjects firing now.
#[utoipa::path(get, operation_id = "list_alert_rules", path = "/alerts/rules", tag = "alerts",
    responses((status = 200, body = AlertRuleList)))]
pub(super) async fn list_rules(State(state): State<AppState>) -> ApiResult<AlertRuleList> {
    let repository = state.repository();
    rule_list(state.instance.storage.as_ref(), &repository)
        .await
        .map(Json)
        .map_err(ApiError::internal)
}

/// Reads a rule body against the declared channels, or says precisely what is wrong.
fn read_rule(repository: &Repository, body: &NewAlertRule) -> Result<(AlertRule, Value), ApiError> {
    let json = serde_json::to_value(body).map_err(ApiError::internal)?;
    let channels: BTreeSet<String> = repository
        .project()
        .alerts
        .channels
        .keys()
        .cloned()
        .collect();
    let rule = alerts::rule_from_json(&json, &channels)
        .map_err(|errors| ApiError::bad_request("invalid_rule", errors.join("; ")))?;
    if let Err(e) = rule.select.resolve(repository.graph(), repository) {
        return Err(ApiError::bad_request(
            "invalid_selection",
            format!("`select`: {}", e.message),
        ));
    }
    Ok((rule, json))
}

async fn save(state: &AppState, name: &str, json: Value) -> Result<(), ApiError> {
    state
        .instance
        .storage
        .append(
            (state.clock)(),
            vec![Event::AlertRuleSaved {
                name: name.to_string(),
                rule: json,
            }],
        )
        .await
        .map(|_| ())
        .map_err(ApiError::internal)
}

async fn find(
    state: &AppState,
    repository: &Repository,
    name: &str,
) -> Result<ActiveRule, ApiError> {
    alerts::rules(state.instance.storage.as_ref(), repository)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .find(|a| a.rule.name == name)
        .ok_or_else(|| ApiError::not_found("unknown_rule", format!("no alert rule `{name}`")))
}

async fn body_of(
    state: &AppState,
    repository: &Repository,
    name: &str,
) -> Result<AlertRuleBody, ApiError> {
    rule_list(state.instance.storage.as_ref(), repository)
        .await
        .map_err(ApiError::internal)?
        .rules
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ApiError::internal(format!("rule `{name}` was saved but is not in force")))
}

/// Creates a rule (stored in the instance; evaluated from the next tick).
#[utoipa::path(post, operation_id = "create_alert_rule", path = "/alerts/rules", tag = "alerts", request_body = NewAlertRule,
    responses((status = 201, body = AlertRuleBody), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(super) async fn create_rule(
    State(state): State<AppState>,
    Body(body): Body<NewAlertRule>,
) -> Result<(StatusCode, Json<AlertRuleBody>), ApiError> {
    let repository = state.repository();
    let (rule, json) = read_rule(&repository, &body)?;
    if find(&state, &repository, &rule.name).await.is_ok() {
        return Err(ApiError::conflict(
            "rule_exists",
            format!(
                "an alert rule `{}` exists; PUT /alerts/rules/{} replaces it",
                rule.name, rule.name
            ),
        ));
    }
    save(&state, &rule.name, json).await?;
    Ok((
        StatusCode::CREATED,
        Json(body_of(&state, &repository, &rule.name).await?),
    ))
}

/// Replaces a rule created through the API (strata.toml's are read-only).
#[utoipa::path(put, operation_id = "replace_alert_rule", path = "/alerts/rules/{name}", tag = "alerts",
    params(("name" = String, Path)), request_body = NewAlertRule,
    responses((status = 200, body = AlertRuleBody), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn replace_rule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<NewAlertRule>,
) -> ApiResult<AlertRuleBody> {
    let repository = state.repository();
    let existing = find(&state, &repository, &name).await?;
    read_only(&existing)?;
    if body.name != name {
        return Err(ApiError::bad_request(
            "invalid_rule",
            format!(
                "the body names `{}`, the path `{name}`: a rule keeps its name",
                body.name
            ),
        ));
    }
    let (_, json) = read_rule(&repository, &body)?;
    save(&state, &name, json).await?;
    Ok(Json(body_of(&state, &repository, &name).await?))
}

fn read_only(rule: &ActiveRule) -> Result<(), ApiError> {
    if rule.source == RuleSource::Config {
        return Err(ApiError::conflict(
            "read_only_rule",
            format!(
                "alert rule `{}` is declared in strata.toml: change it there",
                rule.rule.name
            ),
        ));
    }
    Ok(())
}

/// Deletes a rule created through the API; what it was firing for resolves at the next tick.
#[utoipa::path(delete, operation_id = "delete_alert_rule", path = "/alerts/rules/{name}", tag = "alerts",
    params(("name" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub(super) async fn delete_rule(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Deleted> {
    let repository = state.repository();
    let existing = find(&state, &repository, &name).await?;
    read_only(&existing)?;
    state
        .instance
        .storage
        .append(
            (state.clock)(),
            vec![Event::AlertRuleDeleted { name: name.clone() }],
        )
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(Deleted { deleted: name }))
}

/// Sends a sample alert of the rule to each of its channels now (changes no state).
#[utoipa::path(post, operation_id = "test_alert_rule", path = "/alerts/rules/{name}/test", tag = "alerts",
    params(("name" = String, Path)),
    responses((status = 200, body = TestResult), (status = 404, body = ErrorBody)))]
pub(super) async fn test_rule(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<TestResult> {
    let repository = state.repository();
    let active = find(&state, &repository, &name).await?;
    let results = alerts::send_test(&repository, &active.rule, (state.clock)()).await;
    Ok(Json(TestResult::new(&name, results)))
}

/// The declared channels.
#[utoipa::path(get, operation_id = "list_alert_channels", path = "/alerts/channels", tag = "alerts",
    responses((status = 200, body = ChannelList)))]
pub(super) async fn channels(State(state): State<AppState>) -> Json<ChannelList> {
    let repository = state.repository();
    Json(ChannelList {
        channels: repository
            .project()
            .alerts
            .channels
            .iter()
            .map(|(name, c)| ChannelBody {
                name: name.clone(),
                kind: match c.kind {
                    ChannelKind::Webhook => "webhook",
                    ChannelKind::Slack => "slack",
                }
                .to_string(),
            })
            .collect(),
    })
}

/// Firings and resolutions, newest first, with each channel's delivery.
#[utoipa::path(get, operation_id = "alert_history", path = "/alerts/history", tag = "alerts", params(FeedQuery),
    responses((status = 200, body = AlertFeed), (status = 400, body = ErrorBody)))]
pub(super) async fn history(
    State(state): State<AppState>,
    Params(query): Params<FeedQuery>,
) -> ApiResult<AlertFeed> {
    let limit = limit(query.limit, 100, 1000)?;
    feed(
        state.instance.storage.as_ref(),
        query.rule.as_deref(),
        limit,
    )
    .await
    .map(Json)
    .map_err(ApiError::internal)
}

/// The alerts firing now.
#[derive(Serialize, ToSchema)]
pub(super) struct FiringList {
    /// By rule and subject.
    alerts: Vec<AlertEntry>,
}

/// The alerts firing now, with their firing entry.
#[utoipa::path(get, operation_id = "firing_alerts", path = "/alerts/firing", tag = "alerts",
    responses((status = 200, body = FiringList)))]
pub(super) async fn firing(State(state): State<AppState>) -> ApiResult<FiringList> {
    let storage = &state.instance.storage;
    let firing = storage.firing_alerts().await.map_err(ApiError::internal)?;
    let alerts = firing
        .into_iter()
        .map(|f| {
            AlertEntry::from(&AlertRecord {
                event_id: f.event_id,
                timestamp: f.since,
                fired: true,
                firing: f.firing,
                deliveries: Vec::new(),
            })
        })
        .collect();
    Ok(Json(FiringList { alerts }))
}
