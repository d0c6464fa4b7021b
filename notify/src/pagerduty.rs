//! PagerDuty Events API v2: `POST /v2/enqueue` (endpoint overridable).
//!
//! Every incident event uses `dedup_key` = the incident id, so escalations and reminders
//! update the open alert and the resolution closes it; a grouped notification sends one
//! event per member incident, keeping that pairing. TLS warnings, UNKNOWN periods and
//! suspect regions get their own stable keys, resolved by their "renewed", "resumed" and
//! "cleared" counterparts. A test notification is triggered and resolved at once.
//! Success is 202 with the `dedup_key` echoed.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use webmon_core::alert::{EventKind, Level};

use crate::http::HttpClient;
use crate::render::{facts, rfc3339};
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// The public endpoint.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The PagerDuty channel.
pub struct PagerDutyChannel {
    id: String,
    routing_key: String,
    url: Option<String>,
    http: HttpClient,
    secrets: Arc<dyn SecretResolver>,
}

impl PagerDutyChannel {
    /// A channel for the integration `routing_key` (usually a secret reference).
    pub fn new(
        id: String,
        routing_key: String,
        url: Option<String>,
        http: HttpClient,
        secrets: Arc<dyn SecretResolver>,
    ) -> Self {
        Self {
            id,
            routing_key,
            url,
            http,
            secrets,
        }
    }
}

/// `(event_action, dedup_key)` for a notification; `None` for a grouped one.
pub fn action(n: &Notification) -> Option<(&'static str, String)> {
    let strip = |suffix: &str| n.id.strip_suffix(suffix).unwrap_or(&n.id).to_string();
    let check = n.check.as_ref().map_or("", |c| c.id.as_str());
    Some(match n.kind {
        EventKind::Grouped => return None,
        EventKind::Resolved => ("resolve", n.incident_id.clone().unwrap_or_default()),
        EventKind::Triggered
        | EventKind::Escalated
        | EventKind::Deescalated
        | EventKind::Reminder
        | EventKind::Flapping => (
            "trigger",
            n.incident_id.clone().unwrap_or_else(|| n.id.clone()),
        ),
        EventKind::TlsExpiring => ("trigger", format!("{check}:tls:{}", tls_cycle(&n.id))),
        EventKind::TlsRenewed => ("resolve", format!("{check}:tls:{}", tls_cycle(&n.id))),
        EventKind::NoData
        | EventKind::RegionSuspect
        | EventKind::RegionSilent
        | EventKind::Test => ("trigger", n.id.clone()),
        EventKind::DataResumed => ("resolve", strip(":end")),
        EventKind::RegionCleared => ("resolve", strip(":cleared")),
        EventKind::RegionResumed => ("resolve", strip(":resumed")),
    })
}

/// The renewal cycle in a TLS notification id `{check}:tls:{cycle}:{threshold}`.
fn tls_cycle(id: &str) -> &str {
    id.rsplit(':').nth(1).unwrap_or("0")
}

fn severity(n: &Notification) -> &'static str {
    match (n.kind, n.level) {
        (EventKind::Test, _) => "info",
        (EventKind::TlsExpiring | EventKind::NoData | EventKind::RegionSuspect, _) => "warning",
        (_, Level::Down) => "critical",
        (_, Level::Regional) => "error",
        _ => "warning",
    }
}

/// The event for one notification (not grouped).
pub fn event(routing_key: &str, n: &Notification) -> Option<Value> {
    let (action, dedup_key) = action(n)?;
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key.chars().take(255).collect::<String>(),
    });
    if action == "trigger" {
        let details: serde_json::Map<String, Value> = facts(n)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let regions: serde_json::Map<String, Value> = n
            .regions
            .iter()
            .map(|r| (r.region.clone(), json!(r.state)))
            .collect();
        let mut details = details;
        details.insert("regions".into(), Value::Object(regions));
        event["payload"] = json!({
            "summary": n.title().chars().take(1024).collect::<String>(),
            "source": n.check.as_ref().map_or_else(|| "webmon".to_string(), |c| c.url.clone()),
            "severity": severity(n),
            "timestamp": rfc3339(n.at_ms),
            "component": n.check.as_ref().map(|c| c.id.clone()),
            "class": n.kind.as_str(),
            "custom_details": details,
        });
        event["client"] = json!("webmon");
    }
    Some(event)
}

#[async_trait]
impl Channel for PagerDutyChannel {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let key = resolve(&self.id, &self.routing_key, self.secrets.as_ref())?;
        let url = match &self.url {
            Some(u) => resolve(&self.id, u, self.secrets.as_ref())?,
            None => DEFAULT_URL.to_string(),
        };
        let members: Vec<&Notification> = if n.kind == EventKind::Grouped {
            n.members.iter().collect()
        } else {
            vec![n]
        };
        let mut events: Vec<Value> = members.into_iter().filter_map(|m| event(&key, m)).collect();
        if n.kind == EventKind::Test {
            // A test must not leave an open alert behind.
            events.push(json!({"routing_key": key, "event_action": "resolve", "dedup_key": n.id}));
        }
        let mut last = Delivery::default();
        for event in events {
            let body = serde_json::to_vec(&event).expect("JSON values serialise");
            let answer = self.http.post_json(&self.id, &url, &[], body).await?;
            let echoed = serde_json::from_slice::<Value>(&answer.body)
                .ok()
                .and_then(|v| {
                    v.get("dedup_key")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            last = Delivery {
                status: answer.status.as_u16(),
                reference: echoed,
            };
        }
        Ok(last)
    }
}
