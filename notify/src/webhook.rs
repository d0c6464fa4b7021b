//! Generic webhook, signed per Standard Webhooks.
//!
//! `POST <url>` with a JSON body and three headers:
//! - `webhook-id`: the notification id (stable across retries, a receiver's dedup key);
//! - `webhook-timestamp`: Unix seconds of the attempt;
//! - `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
//!   where the key is the base64 part of the `whsec_...` secret.
//!
//! Receivers should reject timestamps more than five minutes off.

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use webmon_core::alert::{EventKind, NotificationIntent};

use crate::http::HttpClient;
use crate::render::rfc3339;
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// Version of the body format.
pub const BODY_VERSION: u32 = 1;

/// The webhook channel.
pub struct WebhookChannel {
    id: String,
    url: String,
    secret: String,
    http: HttpClient,
    secrets: Arc<dyn SecretResolver>,
}

impl WebhookChannel {
    /// A channel posting to `url`, signing with `secret` (both may hold references).
    pub fn new(
        id: String,
        url: String,
        secret: String,
        http: HttpClient,
        secrets: Arc<dyn SecretResolver>,
    ) -> Self {
        Self {
            id,
            url,
            secret,
            http,
            secrets,
        }
    }
}

/// The `type` of the body: `incident.triggered`, `tls.expiring`, `region.suspect`...
pub fn event_type(kind: EventKind) -> String {
    let family = match kind {
        EventKind::TlsExpiring | EventKind::TlsRenewed => "tls",
        EventKind::NoData | EventKind::DataResumed => "check",
        EventKind::RegionSuspect
        | EventKind::RegionCleared
        | EventKind::RegionSilent
        | EventKind::RegionResumed => "region",
        EventKind::Test => return "test".into(),
        _ => "incident",
    };
    let name = kind
        .as_str()
        .trim_start_matches("tls_")
        .trim_start_matches("region_");
    format!("{family}.{name}")
}

/// The JSON body.
pub fn body(n: &NotificationIntent) -> Value {
    json!({
        "version": BODY_VERSION,
        "type": event_type(n.kind),
        "id": n.id,
        "timestamp": rfc3339(n.at_ms),
        "title": n.title(),
        "check_id": n.check.as_ref().map(|c| c.id.clone()),
        "check": n.check,
        "state": n.level,
        "previous_state": n.previous_level,
        "incident": n.incident_id.as_ref().map(|id| json!({
            "id": id,
            "seq": n.seq,
            "opened_at": n.opened_at_ms.map(rfc3339),
        })),
        "regions": n.regions.iter().map(|r| json!({
            "region": r.region,
            "state": r.state,
            "since": rfc3339(r.since_ms),
            "last_error": r.last_error,
            "latency_ms": r.latency_ms,
            "suspect": r.suspect,
        })).collect::<Vec<_>>(),
        "quorum": n.quorum,
        "region": n.region,
        "tls_days_left": n.tls_days_left,
        "note": n.note,
        "members": n.members.iter().map(body).collect::<Vec<_>>(),
    })
}

/// The key inside a `whsec_<base64>` secret.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or_else(|| "the signing secret must start with whsec_".to_string())?;
    B64.decode(encoded)
        .map_err(|e| format!("the signing secret is not valid base64 ({e})"))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1,{}", B64.encode(ctx.sign().as_ref()))
}

#[async_trait]
impl Channel for WebhookChannel {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let url = resolve(&self.id, &self.url, self.secrets.as_ref())?;
        let secret = resolve(&self.id, &self.secret, self.secrets.as_ref())?;
        let key = decode_secret(&secret).map_err(|reason| NotifyError::Config {
            channel: self.id.clone(),
            reason,
        })?;
        let payload = serde_json::to_vec(&body(n)).expect("JSON values serialise");
        let timestamp = chrono::Utc::now().timestamp();
        let headers = [
            ("webhook-id", n.id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", sign(&key, &n.id, timestamp, &payload)),
        ];
        let answer = self
            .http
            .post_json(&self.id, &url, &headers, payload)
            .await?;
        Ok(Delivery {
            status: answer.status.as_u16(),
            reference: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn event_types() {
        assert_eq!(event_type(EventKind::Triggered), "incident.triggered");
        assert_eq!(event_type(EventKind::TlsExpiring), "tls.expiring");
        assert_eq!(event_type(EventKind::RegionSuspect), "region.suspect");
        assert_eq!(event_type(EventKind::NoData), "check.no_data");
    }
}
