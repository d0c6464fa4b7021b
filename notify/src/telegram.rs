//! Telegram Bot API `sendMessage` (base URL overridable): HTML text, optional forum
//! topic. A 429 answer carries `parameters.retry_after`, honoured like `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::HttpClient;
use crate::render::{emoji, facts};
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// The public Bot API.
pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";

/// Telegram settings (values may hold secret references).
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// Bot token.
    pub bot_token: String,
    /// Chat id.
    pub chat_id: String,
    /// Forum topic.
    pub message_thread_id: Option<i64>,
    /// Base URL override.
    pub base_url: Option<String>,
}

/// The Telegram channel.
pub struct TelegramChannel {
    id: String,
    settings: TelegramSettings,
    http: HttpClient,
    secrets: Arc<dyn SecretResolver>,
}

impl TelegramChannel {
    /// A channel for a bot and chat.
    pub fn new(
        id: String,
        settings: TelegramSettings,
        http: HttpClient,
        secrets: Arc<dyn SecretResolver>,
    ) -> Self {
        Self {
            id,
            settings,
            http,
            secrets,
        }
    }
}

/// Escapes text for Telegram's HTML parse mode.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message text (HTML).
pub fn text(n: &Notification) -> String {
    let mut out = format!("{} <b>{}</b>\n", emoji(n), escape(&n.title()));
    for (k, v) in facts(n) {
        out.push_str(&format!("\n<b>{}</b>: {}", escape(&k), escape(&v)));
    }
    out.push_str(&format!("\n\n<i>webmon · {}</i>", escape(&n.id)));
    out.chars().take(4096).collect()
}

/// The request body.
pub fn payload(chat_id: &str, thread: Option<i64>, n: &Notification) -> Value {
    let mut body = json!({
        "chat_id": chat_id,
        "text": text(n),
        "parse_mode": "HTML",
        "disable_web_page_preview": true,
    });
    if let Some(t) = thread {
        body["message_thread_id"] = json!(t);
    }
    body
}

#[async_trait]
impl Channel for TelegramChannel {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let s = &self.settings;
        let token = resolve(&self.id, &s.bot_token, self.secrets.as_ref())?;
        let chat = resolve(&self.id, &s.chat_id, self.secrets.as_ref())?;
        let base = s
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        let url = format!("{base}/bot{token}/sendMessage");
        let body = serde_json::to_vec(&payload(&chat, s.message_thread_id, n))
            .expect("JSON values serialise");
        match self.http.post_json(&self.id, &url, &[], body).await {
            Ok(answer) => {
                let id = serde_json::from_slice::<Value>(&answer.body)
                    .ok()
                    .and_then(|v| v.pointer("/result/message_id").map(|m| m.to_string()));
                Ok(Delivery {
                    status: answer.status.as_u16(),
                    reference: id,
                })
            }
            Err(NotifyError::Rejected {
                channel,
                status,
                body,
                retry_after,
            }) => {
                // Bot API errors put the wait in the body; the token never appears in errors.
                let from_body = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v.pointer("/parameters/retry_after").and_then(Value::as_u64))
                    .map(Duration::from_secs);
                Err(NotifyError::Rejected {
                    channel,
                    status,
                    body,
                    retry_after: retry_after.or(from_body),
                })
            }
            Err(NotifyError::Transport { channel, reason }) => Err(NotifyError::Transport {
                channel,
                reason: reason.replace(&token, "<token>"),
            }),
            Err(e) => Err(e),
        }
    }
}
