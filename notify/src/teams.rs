//! Microsoft Teams through a Workflows (Power Automate) webhook: a message with one
//! adaptive card, version 1.4 (later versions are not rendered by Teams), a bold title
//! and a fact set. Office 365 connector payloads do not work on Workflows URLs.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::HttpClient;
use crate::render::{emoji, facts};
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// The Teams channel.
pub struct TeamsChannel {
    id: String,
    url: String,
    http: HttpClient,
    secrets: Arc<dyn SecretResolver>,
}

impl TeamsChannel {
    /// A channel posting to the workflow `url` (usually a secret reference).
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
    let facts: Vec<Value> = facts(n)
        .into_iter()
        .map(|(k, v)| json!({"title": k, "value": v}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": format!("{} {}", emoji(n), n.title()), "weight": "Bolder", "size": "Medium", "wrap": true},
                    {"type": "FactSet", "facts": facts},
                    {"type": "TextBlock", "text": format!("webmon · {}", n.id), "isSubtle": true, "size": "Small", "wrap": true},
                ],
            },
        }],
    })
}

#[async_trait]
impl Channel for TeamsChannel {
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
