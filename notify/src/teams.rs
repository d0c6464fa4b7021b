//! Microsoft Teams through a Workflows (Power Automate) webhook: a message with one
//! adaptive card, version 1.4 (later versions are not rendered by Teams), a bold title
//! and a fact set. Office 365 connector payloads do not work on Workflows URLs.

use serde_json::{json, Value};

use crate::render::{emoji, facts};
use crate::Notification;

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
