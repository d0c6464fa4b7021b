//! Alerting configuration as written in the checks file: the per-check `alert:` block,
//! the top-level `alert_defaults:` (same fields, plus a few global ones), `channels:` and
//! `maintenance:`. Every type rejects unknown fields; defaults are applied by
//! [`super::load`], which also validates and names every bad value.
//!
//! Channel secrets (`${env:NAME}`, `${secret:NAME}`) stay unresolved strings here: the
//! notifier resolves them at send time through a caller-provided resolver.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::check::RawRetries;

/// The `alert:` block of a check, and the body of `alert_defaults:`. Every field is
/// optional; a field set on a check replaces the same field of `alert_defaults` whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertPolicy {
    /// Channel ids that receive every notification of the check (the default route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Per-level routes overriding `channels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<RawRoutes>,
    /// Failing executions (within `failure_window`) that mark a region failing; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Executions looked at for `failure_threshold` (M of N); default = the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_window: Option<u32>,
    /// Consecutive non-failing executions that recover a failing region; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
    /// Regions that must fail for DOWN: `majority` (default), a count, or a percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<RawQuorum>,
    /// Retries inside one execution (carried to the probe engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RawRetries>,
    /// Latency thresholds that make a region degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<RawDegraded>,
    /// How long a round waits for every region before it is evaluated; default
    /// the interval, at most `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<String>,
    /// A region with no result for this long counts as having no data; default
    /// three intervals plus `settle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<String>,
    /// Reminders while an incident stays open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<RawReminders>,
    /// Flap damping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<RawFlapping>,
    /// TLS certificate warning thresholds in days; default `[30, 14, 7]`, `[]` = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_days: Option<Vec<u32>>,
    /// Send a notification when an incident resolves; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<bool>,
    /// Checks this one depends on: while one of them is REGIONAL or DOWN, this check's
    /// notifications are held. Per check only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Global only: grouping of checks that fail together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<RawGroup>,
    /// Global only: detection of a suspect probe region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect: Option<RawSuspect>,
    /// Global only: channels for events about the monitoring itself (suspect regions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_channels: Option<Vec<String>>,
}

/// Per-level channel routes. A level without a route uses `channels`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoutes {
    /// DOWN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<Vec<String>>,
    /// REGIONAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional: Option<Vec<String>>,
    /// DEGRADED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<Vec<String>>,
    /// UNKNOWN (no fresh data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Vec<String>>,
    /// TLS certificate warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Vec<String>>,
}

/// A quorum as written: `majority`, a count (`2`), or a percentage (`"75%"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawQuorum {
    /// A region count.
    Count(u32),
    /// `majority` or `N%`.
    Text(String),
}

/// Latency thresholds on the execution's average latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDegraded {
    /// Threshold for every region, e.g. `800ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// Per-region thresholds replacing `threshold` there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regions: BTreeMap<String, String>,
    /// Consecutive slow executions that make a region degraded; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
    /// Consecutive fast executions that clear it; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<u32>,
    /// Degraded regions needed for a DEGRADED check; default the check's `quorum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<RawQuorum>,
}

/// Reminders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReminders {
    /// Wall-clock interval, at least `5m`; default `30m`; `0s` turns reminders off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Most reminders per incident; default 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// Flap damping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlapping {
    /// More level changes than this within `window` hold notifications; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<u32>,
    /// Default `30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// No level change for this long ends the hold; default `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_for: Option<String>,
}

/// Grouping of checks that fail together (global).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// New incidents held together for one digest; default 5 (0 = never group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// How long a new incident waits for others; default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
}

/// Detection of a probe region that fails alone (global).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSuspect {
    /// Fewest multi-region checks a region must probe to be judged; default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_checks: Option<u32>,
    /// Percentage of them failing only there that makes it suspect; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
}

/// A maintenance window (top-level `maintenance:` list).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    /// Unique id.
    pub id: String,
    /// Check ids the window covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Tags: a check carrying every one of them is covered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// `silence` (default: keep probing, hold notifications) or `pause` (skip probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// One-off start, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// One-off end, RFC 3339 (or give `duration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Length of the window (one-off or weekly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Recurring window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<RawWeekly>,
}

/// A weekly recurring window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeekly {
    /// Days it starts on: `mon`..`sun`; empty = every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    /// Local start time `HH:MM`.
    pub at: String,
    /// Fixed offset of the local time from UTC, `+02:00`; default `+00:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
}

/// A notification channel (top-level `channels:` list), tagged by `type`.
/// Values marked secret may be `${env:NAME}` or `${secret:NAME}` references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelConfig {
    /// Slack incoming webhook.
    Slack {
        /// Channel id.
        id: String,
        /// Webhook URL (secret).
        url: String,
    },
    /// Generic webhook signed per Standard Webhooks.
    Webhook {
        /// Channel id.
        id: String,
        /// Receiver URL.
        url: String,
        /// `whsec_` + base64 key (secret).
        secret: String,
    },
    /// PagerDuty Events API v2.
    Pagerduty {
        /// Channel id.
        id: String,
        /// Integration (routing) key (secret).
        routing_key: String,
        /// Endpoint override (tests, EU service region).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Discord webhook.
    Discord {
        /// Channel id.
        id: String,
        /// Webhook URL (secret).
        url: String,
    },
    /// Microsoft Teams Workflows webhook.
    Teams {
        /// Channel id.
        id: String,
        /// Workflow URL (secret).
        url: String,
    },
    /// Telegram Bot API `sendMessage`.
    Telegram {
        /// Channel id.
        id: String,
        /// Bot token (secret).
        bot_token: String,
        /// Chat id.
        chat_id: String,
        /// Forum topic id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_thread_id: Option<i64>,
        /// Bot API base URL override.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Email over SMTP.
    Email {
        /// Channel id.
        id: String,
        /// SMTP server host.
        host: String,
        /// Port; default 587 (`starttls`), 465 (`tls`), 25 (`none`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// `starttls` (default), `tls` or `none`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        security: Option<String>,
        /// SMTP user (secret allowed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// SMTP password (secret).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// Sender address.
        from: String,
        /// Recipients.
        to: Vec<String>,
    },
    /// Amazon SNS topic (delivered by the AWS adapters).
    Sns {
        /// Channel id.
        id: String,
        /// Topic ARN.
        topic_arn: String,
    },
    /// Amazon SES email (delivered by the AWS adapters).
    Ses {
        /// Channel id.
        id: String,
        /// Sender address.
        from: String,
        /// Recipients.
        to: Vec<String>,
    },
}

impl ChannelConfig {
    /// The channel's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Slack { id, .. }
            | Self::Webhook { id, .. }
            | Self::Pagerduty { id, .. }
            | Self::Discord { id, .. }
            | Self::Teams { id, .. }
            | Self::Telegram { id, .. }
            | Self::Email { id, .. }
            | Self::Sns { id, .. }
            | Self::Ses { id, .. } => id,
        }
    }

    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Slack { .. } => "slack",
            Self::Webhook { .. } => "webhook",
            Self::Pagerduty { .. } => "pagerduty",
            Self::Discord { .. } => "discord",
            Self::Teams { .. } => "teams",
            Self::Telegram { .. } => "telegram",
            Self::Email { .. } => "email",
            Self::Sns { .. } => "sns",
            Self::Ses { .. } => "ses",
        }
    }
}
