//! Slack incoming webhook: `{"text": <fallback>, "blocks": [header, fields, context]}`.
//! Slack answers 200 `ok`; incoming webhooks cannot edit or thread, so every event is its
//! own message.

use serde_json::{json, Value};

use crate::render::{emoji, facts};
use crate::Notification;

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
