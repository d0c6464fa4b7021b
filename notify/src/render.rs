//! Text shared by the chat and email channels: a title (from the intent) and a short
//! list of facts, so every channel says the same thing in its own format.

use webmon_core::alert::{EventKind, Level, NotificationIntent, RegionState};

/// Unix milliseconds as RFC 3339 UTC, seconds precision.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Whether the event is good news (green) rather than a problem.
pub fn is_good_news(n: &NotificationIntent) -> bool {
    matches!(
        n.kind,
        EventKind::Resolved
            | EventKind::DataResumed
            | EventKind::TlsRenewed
            | EventKind::RegionCleared
            | EventKind::RegionResumed
            | EventKind::Test
    ) || (n.kind == EventKind::Deescalated && n.level == Level::Degraded)
}

/// A marker for chat titles.
pub fn emoji(n: &NotificationIntent) -> &'static str {
    if is_good_news(n) {
        return "🟢";
    }
    match (n.kind, n.level) {
        (EventKind::TlsExpiring, _) | (_, Level::Degraded) | (_, Level::Unknown) => "🟡",
        (_, Level::Regional) => "🟠",
        (EventKind::RegionSuspect | EventKind::Flapping, _) => "🟡",
        _ => "🔴",
    }
}

/// RGB colour for embeds: green, amber, orange, red.
pub fn colour(n: &NotificationIntent) -> u32 {
    match emoji(n) {
        "🟢" => 0x57F287,
        "🟡" => 0xFEE75C,
        "🟠" => 0xF0883E,
        _ => 0xED4245,
    }
}

fn region_list(n: &NotificationIntent, state: RegionState) -> String {
    let names: Vec<&str> = n
        .regions
        .iter()
        .filter(|r| r.state == state)
        .map(|r| r.region.as_str())
        .collect();
    names.join(", ")
}

/// Facts as (label, value), empty ones left out.
pub fn facts(n: &NotificationIntent) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| {
        if !v.is_empty() {
            out.push((k.to_string(), v));
        }
    };
    if let Some(c) = &n.check {
        add("Check", format!("{} ({})", c.id, c.url));
    }
    if n.kind != EventKind::Test && n.check.is_some() {
        add(
            "Level",
            format!("{} (was {})", n.level.as_str(), n.previous_level.as_str()),
        );
    }
    add("Regions failing", region_list(n, RegionState::Failing));
    add("Regions slow", region_list(n, RegionState::Degraded));
    add("Regions without data", region_list(n, RegionState::NoData));
    if let Some(q) = &n.quorum {
        if n.check.is_some() && q.configured > 1 {
            add(
                "Quorum",
                format!(
                    "{} of {} failing, {} needed for DOWN",
                    q.failing, q.configured, q.required
                ),
            );
        }
    }
    let first_error = n.regions.iter().find_map(|r| {
        (r.state == RegionState::Failing)
            .then(|| r.last_error.clone())
            .flatten()
            .map(|e| format!("{}: {e}", r.region))
    });
    add("First error", first_error.unwrap_or_default());
    if let Some(days) = n.tls_days_left {
        add("Certificate", format!("{days} days left"));
    }
    if let Some(id) = &n.incident_id {
        add("Incident", id.clone());
    }
    if let Some(at) = n.opened_at_ms {
        add("Since", rfc3339(at));
    }
    add("Note", n.note.clone().unwrap_or_default());
    for m in &n.members {
        add("•", m.title());
    }
    out
}

/// A plain-text body: the title, then one `label: value` line per fact.
pub fn plain_text(n: &NotificationIntent) -> String {
    let mut text = n.title();
    text.push_str("\n\n");
    for (k, v) in facts(n) {
        if k == "•" {
            text.push_str(&format!("- {v}\n"));
        } else {
            text.push_str(&format!("{k}: {v}\n"));
        }
    }
    text.push_str(&format!("\n-- \nwebmon {} at {}\n", n.id, rfc3339(n.at_ms)));
    text
}
