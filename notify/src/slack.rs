//! Slack incoming webhook: `{"text": <fallback>, "blocks": [header, fields, context]}`.
//! Slack answers 200 `ok`; incoming webhooks cannot edit or thread, so every event is its
//! own message.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::HttpClient;
use crate::render::{emoji, facts};
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// The Slack channel.
pub struct SlackChannel {
    id: String,
    url: String,
    http: HttpClient,
    secrets: Arc<dyn SecretResolver>,
}

impl SlackChannel {
    /// A channel posting to the webhook `url` (usually a secret reference).
    pub fn new(
        id: String,
        url: String,
        http: HttpClient,
        secrets: Arc<dyn SecretResolver>,
    ) -> Self {
        Self {
            id,
            url,
            http,
            secrets,
        }
    }
}

/// The message payload.
pub fn payload(n: &Notification) -> Value {
    let title = format!("{} {}", emoji(n), n.title());
    let fields: Vec<Value> = facts(n)
        .into_iter()
        .take(10) // Slack's limit per section
        .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")}))
        .collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": title.chars().take(150).collect::<String>()}}),
    ];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("webmon · {}", n.id)}]}));
    json!({"text": title, "blocks": blocks})
}

#[async_trait]
impl Channel for SlackChannel {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let url = resolve(&self.id, &self.url, self.secrets.as_ref())?;
        let body = serde_json::to_vec(&payload(n)).expect("JSON values serialise");
        let answer = self.http.post_json(&self.id, &url, &[], body).await?;
        Ok(Delivery {
            status: answer.status.as_u16(),
            reference: None,
        })
    }
}
