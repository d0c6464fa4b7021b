//! The alerting side of the read port: each check's alert level and its incidents, for
//! the dashboard and `webmon alerts status`. A store that keeps the evaluator's state
//! (the SQLite store of `webmon run`) implements [`AlertReader`].

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::alert::Incident;
use crate::ports::PortError;

/// An incident as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// `{check_id}:{opened_at_ms}`.
    pub id: String,
    /// The check.
    pub check_id: String,
    /// Actual level (`UP` once resolved).
    pub level: String,
    /// Worst level reached.
    pub worst: String,
    /// Level receivers were last told.
    pub notified_level: String,
    /// Scheduled time of the round that opened it.
    pub opened_at_ms: i64,
    /// When it resolved; `None` while open.
    pub resolved_at_ms: Option<i64>,
    /// Regions failing or slow at any of its level changes, sorted.
    #[serde(default)]
    pub regions: Vec<String>,
}

impl IncidentRecord {
    /// The record of `inc`, an incident of `check_id`.
    pub fn of(check_id: &str, inc: &Incident) -> Self {
        Self {
            id: inc.id.clone(),
            check_id: check_id.to_string(),
            level: inc.level.as_str().into(),
            worst: inc.worst.as_str().into(),
            notified_level: inc.notified_level.as_str().into(),
            opened_at_ms: inc.opened_at_ms,
            resolved_at_ms: inc.resolved_at_ms,
            regions: inc.regions.clone(),
        }
    }

    /// How long it lasted up to `now_ms` (still open: until now).
    pub fn duration_ms(&self, now_ms: i64) -> i64 {
        (self.resolved_at_ms.unwrap_or(now_ms) - self.opened_at_ms).max(0)
    }
}

/// One check's alert level now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLevel {
    /// The check.
    pub check_id: String,
    /// `UP`, `DEGRADED`, `REGIONAL`, `DOWN` or `UNKNOWN`.
    pub level: String,
    /// Since when, Unix milliseconds.
    pub since_ms: i64,
    /// The open incident, if any.
    pub incident_id: Option<String>,
    /// Level receivers were last told, if an incident was notified.
    pub notified_level: Option<String>,
}

/// What the evaluator knows: levels by check (sorted by id) and incidents (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    /// When the evaluator last ran; `None` before its first evaluation.
    pub evaluated_at_ms: Option<i64>,
    /// Every check the evaluator tracks.
    pub checks: Vec<CheckLevel>,
    /// Incidents open now, or opened or resolved since the asked time.
    pub incidents: Vec<IncidentRecord>,
}

/// Read-only access to the alert evaluator's state. Object safe, like
/// [`super::ResultReader`].
pub trait AlertReader: Send + Sync {
    /// Levels now, and incidents open now or opened or resolved at or after `since_ms`.
    fn alerts(&self, since_ms: i64) -> BoxFuture<'_, Result<AlertView, PortError>>;
}
