//! Discord webhook: `{"content": <title>, "embeds": [{title, description, color, fields}]}`.
//! Discord answers 204 No Content, and 429 with `Retry-After` when rate limited.

use serde_json::{json, Value};

use crate::render::{colour, emoji, facts};
use crate::Notification;

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
