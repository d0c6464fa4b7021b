//! The validated alerting policy: what [`super::load`] produces from the raw blocks in
//! [`super::config`], with every default applied and every duration in milliseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::ChannelConfig;
use super::quiet::MaintenanceWindow;
pub use crate::check::{Backoff, RetryOn, RetryPolicy};

/// Regions that must agree: `majority` (more than half), a count, or a percentage of the
/// configured regions (rounded up). Always at least 1 and at most the region count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quorum {
    /// `floor(n / 2) + 1`.
    Majority,
    /// A fixed count (clamped to `n`).
    Count(u32),
    /// A percentage of `n`, rounded up.
    Percent(u32),
}

impl Quorum {
    /// Regions required out of `n` configured.
    pub fn required(self, n: usize) -> usize {
        let k = match self {
            Self::Majority => n / 2 + 1,
            Self::Count(c) => c as usize,
            Self::Percent(p) => (n * p as usize).div_ceil(100),
        };
        k.clamp(1, n.max(1))
    }

    /// The quorum as written in config.
    pub fn describe(self) -> String {
        match self {
            Self::Majority => "majority".into(),
            Self::Count(c) => c.to_string(),
            Self::Percent(p) => format!("{p}%"),
        }
    }
}

/// Latency thresholds on an execution's average latency (`latency.avg_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegradedPolicy {
    /// Threshold for regions without their own, milliseconds; none = only listed regions.
    pub threshold_ms: Option<f64>,
    /// Per-region thresholds, milliseconds.
    pub regions: BTreeMap<String, f64>,
    /// Consecutive slow executions that make a region degraded.
    pub after: u32,
    /// Consecutive fast executions that clear it.
    pub recovery: u32,
    /// Degraded regions needed for a DEGRADED check.
    pub quorum: Quorum,
}

impl DegradedPolicy {
    /// The threshold that applies in `region`, if any.
    pub fn threshold_for(&self, region: &str) -> Option<f64> {
        self.regions.get(region).copied().or(self.threshold_ms)
    }
}

/// Channels per notification route, already falling back to the check's `channels`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routes {
    /// DOWN.
    pub down: Vec<String>,
    /// REGIONAL.
    pub regional: Vec<String>,
    /// DEGRADED.
    pub degraded: Vec<String>,
    /// UNKNOWN.
    pub unknown: Vec<String>,
    /// TLS warnings.
    pub tls: Vec<String>,
}

/// The policy of one check, defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    /// Channels per route.
    pub routes: Routes,
    /// Failing executions within `failure_window` that mark a region failing.
    pub failure_threshold: u32,
    /// Executions considered for `failure_threshold`.
    pub failure_window: u32,
    /// Consecutive non-failing executions that recover a region.
    pub success_threshold: u32,
    /// Failing regions for DOWN.
    pub quorum: Quorum,
    /// Retries inside an execution.
    pub retries: RetryPolicy,
    /// Degraded thresholds; none = never degraded.
    pub degraded: Option<DegradedPolicy>,
    /// How long a round waits for missing regions, milliseconds.
    pub settle_ms: i64,
    /// Silence after which a region has no data, milliseconds.
    pub stale_after_ms: i64,
    /// Reminder interval, milliseconds; none = off.
    pub reminder_every_ms: Option<i64>,
    /// Most reminders per incident.
    pub reminder_max: u32,
    /// Level changes within `flap_window_ms` above which notifications are held.
    pub flap_changes: u32,
    /// Flap counting window, milliseconds.
    pub flap_window_ms: i64,
    /// Quiet time that ends flapping, milliseconds.
    pub flap_stable_ms: i64,
    /// TLS thresholds in days, largest first; empty = off.
    pub tls_days: Vec<u32>,
    /// Notify resolutions.
    pub resolved: bool,
    /// Checks this one depends on.
    pub depends_on: Vec<String>,
}

/// Settings that apply across checks (only in `alert_defaults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalPolicy {
    /// New incidents that are sent as one digest; 0 = never group.
    pub group_threshold: u32,
    /// How long a new incident waits for others, milliseconds.
    pub group_wait_ms: i64,
    /// Fewest multi-region checks a region must probe to be judged suspect.
    pub suspect_min_checks: u32,
    /// Percentage of those failing only in that region that makes it suspect.
    pub suspect_percent: u32,
    /// Channels for events about the monitoring itself.
    pub operator_channels: Vec<String>,
}

impl Default for GlobalPolicy {
    fn default() -> Self {
        Self {
            group_threshold: 5,
            group_wait_ms: 30_000,
            suspect_min_checks: 3,
            suspect_percent: 50,
            operator_channels: Vec::new(),
        }
    }
}

/// What the evaluator knows about one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckAlerting {
    /// Check id.
    pub check_id: String,
    /// Probed URL, for messages.
    pub url: String,
    /// The check's tags (silences and maintenance match on them).
    pub tags: BTreeMap<String, String>,
    /// Regions expected to report, sorted (an empty list in the check = every region).
    pub regions: Vec<String>,
    /// Check interval, milliseconds.
    pub interval_ms: i64,
    /// The policy.
    pub policy: AlertPolicy,
}

/// Everything the evaluator needs from configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertConfig {
    /// Channels by id.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// Alerting per check id (enabled checks only).
    pub checks: BTreeMap<String, CheckAlerting>,
    /// Maintenance windows.
    pub maintenance: Vec<MaintenanceWindow>,
    /// Cross-check settings.
    pub global: GlobalPolicy,
}
