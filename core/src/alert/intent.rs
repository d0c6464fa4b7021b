//! Notification intents: what the evaluator asks to be sent. A runner stores them in its
//! outbox (one delivery per channel) and the notifier renders them per channel. Each has
//! a stable `id` that doubles as the receiver-side dedup key (webhook `webhook-id`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::{Level, QuorumCount, RegionState};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new incident (first notification of it).
    Triggered,
    /// The incident got worse (e.g. REGIONAL to DOWN).
    Escalated,
    /// The incident got better but is not over (e.g. DOWN to REGIONAL).
    Deescalated,
    /// The incident is over.
    Resolved,
    /// The incident is still open.
    Reminder,
    /// The level changes too often; notifications are held until it settles.
    Flapping,
    /// Too few regions report to decide (UNKNOWN).
    NoData,
    /// Results flow again after UNKNOWN.
    DataResumed,
    /// The TLS certificate crossed a warning threshold.
    TlsExpiring,
    /// A warned-about certificate was renewed.
    TlsRenewed,
    /// A probe region fails most of its checks alone; its failures do not page.
    RegionSuspect,
    /// A suspect region agrees with the others again.
    RegionCleared,
    /// A probe region has sent no result for longer than its silence threshold: an
    /// incident of the monitoring itself, not a DOWN of every check.
    RegionSilent,
    /// A silent probe region sends results again.
    RegionResumed,
    /// Many checks failed together: one digest, the incidents are in `members`.
    Grouped,
    /// A test notification (`webmon alerts test`).
    Test,
}

impl EventKind {
    /// snake_case name, also the webhook `type` suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triggered => "triggered",
            Self::Escalated => "escalated",
            Self::Deescalated => "deescalated",
            Self::Resolved => "resolved",
            Self::Reminder => "reminder",
            Self::Flapping => "flapping",
            Self::NoData => "no_data",
            Self::DataResumed => "data_resumed",
            Self::TlsExpiring => "tls_expiring",
            Self::TlsRenewed => "tls_renewed",
            Self::RegionSuspect => "region_suspect",
            Self::RegionCleared => "region_cleared",
            Self::RegionSilent => "region_silent",
            Self::RegionResumed => "region_resumed",
            Self::Grouped => "grouped",
            Self::Test => "test",
        }
    }
}

/// The check an intent is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRef {
    /// Check id.
    pub id: String,
    /// Probed URL.
    pub url: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One region's view in an intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionStatus {
    /// Region name.
    pub region: String,
    /// State now.
    pub state: RegionState,
    /// Scheduled time the state was entered.
    pub since_ms: i64,
    /// Last failure, `class: message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Last average latency, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The region is suspect (its failures do not page).
    #[serde(default)]
    pub suspect: bool,
}

/// A notification to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationIntent {
    /// Stable id: `{incident_id}:{seq}` for incident events, other stable forms otherwise.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// When the evaluator decided it, Unix milliseconds.
    pub at_ms: i64,
    /// The check, when about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckRef>,
    /// The incident id, when about one (PagerDuty `dedup_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// Sequence number within the incident (1 = first notification).
    #[serde(default)]
    pub seq: u32,
    /// Level now.
    pub level: Level,
    /// Level last notified before this one.
    pub previous_level: Level,
    /// When the incident opened (scheduled time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at_ms: Option<i64>,
    /// Regions, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionStatus>,
    /// Region counts behind the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumCount>,
    /// Probe region, for region events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Days left on the certificate, for TLS events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_days_left: Option<i64>,
    /// Why now, e.g. `held by maintenance db-upgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Channel ids to deliver to.
    pub channels: Vec<String>,
    /// Grouped incidents (for [`EventKind::Grouped`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<NotificationIntent>,
}

impl NotificationIntent {
    /// One line for titles, subjects and chat fallbacks, e.g.
    /// `DOWN api-health: 3/4 regions failing`.
    pub fn title(&self) -> String {
        let check = self.check.as_ref().map_or("", |c| c.id.as_str());
        let regions = |q: &QuorumCount| match self.level {
            Level::Down | Level::Regional => {
                format!(": {}/{} regions failing", q.failing, q.configured)
            }
            Level::Degraded => format!(": {}/{} regions slow", q.degraded, q.configured),
            Level::Unknown => format!(": {}/{} regions without data", q.no_data, q.configured),
            Level::Up => String::new(),
        };
        let detail = self.quorum.as_ref().map(regions).unwrap_or_default();
        match self.kind {
            EventKind::Triggered | EventKind::Escalated | EventKind::Deescalated => {
                format!("{} {check}{detail}", self.level.as_str())
            }
            EventKind::Reminder => format!("Still {} {check}{detail}", self.level.as_str()),
            EventKind::Resolved => format!("RESOLVED {check}"),
            EventKind::Flapping => format!("FLAPPING {check}: notifications held until stable"),
            EventKind::NoData => format!("UNKNOWN {check}{detail}"),
            EventKind::DataResumed => format!("Data resumed {check}"),
            EventKind::TlsExpiring => format!(
                "TLS certificate of {check} expires in {} days",
                self.tls_days_left.unwrap_or_default()
            ),
            EventKind::TlsRenewed => format!("TLS certificate of {check} renewed"),
            EventKind::RegionSuspect => format!(
                "Probe region {} suspect: failing alone, its failures do not page",
                self.region.as_deref().unwrap_or("?")
            ),
            EventKind::RegionCleared => format!(
                "Probe region {} agrees with the others again",
                self.region.as_deref().unwrap_or("?")
            ),
            EventKind::RegionSilent => format!(
                "Probe region {} silent: no results received",
                self.region.as_deref().unwrap_or("?")
            ),
            EventKind::RegionResumed => format!(
                "Probe region {} sends results again",
                self.region.as_deref().unwrap_or("?")
            ),
            EventKind::Grouped => format!("{} checks failing together", self.members.len()),
            EventKind::Test => "webmon test notification".to_string(),
        }
    }

    /// A test notification for one channel.
    pub fn test(channel_id: &str, at_ms: i64) -> Self {
        Self {
            id: format!("test:{channel_id}:{at_ms}"),
            kind: EventKind::Test,
            at_ms,
            check: None,
            incident_id: None,
            seq: 0,
            level: Level::Up,
            previous_level: Level::Up,
            opened_at_ms: None,
            regions: Vec::new(),
            quorum: None,
            region: None,
            tls_days_left: None,
            note: Some("sent by webmon alerts test".into()),
            channels: vec![channel_id.to_string()],
            members: Vec::new(),
        }
    }
}
