//! Discord webhook: `{"content": <title>, "embeds": [{title, description, color, fields}]}`.
//! Discord answers 204 No Content, and 429 with `Retry-After` when rate limited.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::HttpClient;
use crate::render::{colour, emoji, facts};
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// The Discord channel.
pub struct DiscordChannel {
    id: String,
    url: String,
    http: HttpClient,
    secrets: Arc<dyn SecretResolver>,
}

impl DiscordChannel {
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
    let fields: Vec<Value> = facts(n)
        .into_iter()
        .take(25) // Discord's limit per embed
        .map(|(k, v)| json!({"name": k, "value": v.chars().take(1024).collect::<String>(), "inline": v.len() < 40}))
        .collect();
    json!({
        "content": format!("{} {}", emoji(n), n.title()),
        "embeds": [{
            "title": n.title().chars().take(256).collect::<String>(),
            "description": n.note.clone().unwrap_or_default(),
            "color": colour(n),
            "fields": fields,
            "footer": {"text": format!("webmon · {}", n.id)},
        }],
    })
}

#[async_trait]
impl Channel for DiscordChannel {
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
