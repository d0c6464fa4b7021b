//! The channel shape shared by Slack, Discord and Teams: an incoming-webhook URL (usually
//! a secret reference) that takes one JSON message. Each of those files only says what
//! its message looks like; sending, secrets and the answer are handled here once.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::http::HttpClient;
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// Turns a notification into one service's message.
pub type Payload = fn(&Notification) -> Value;

/// A channel posting `payload(n)` as JSON to an incoming-webhook URL.
pub struct IncomingWebhook {
    id: String,
    url: String,
    payload: Payload,
    http: HttpClient,
    secrets: Arc<dyn SecretResolver>,
}

impl IncomingWebhook {
    /// A channel posting `payload`'s messages to `url` (resolved through `secrets` at
    /// send time).
    pub fn new(
        id: String,
        url: String,
        payload: Payload,
        http: HttpClient,
        secrets: Arc<dyn SecretResolver>,
    ) -> Self {
        Self {
            id,
            url,
            payload,
            http,
            secrets,
        }
    }
}

#[async_trait]
impl Channel for IncomingWebhook {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let url = resolve(&self.id, &self.url, self.secrets.as_ref())?;
        let body = serde_json::to_vec(&(self.payload)(n)).expect("JSON values serialise");
        let answer = self.http.post_json(&self.id, &url, &[], body).await?;
        Ok(Delivery {
            status: answer.status.as_u16(),
            reference: None,
        })
    }
}
