//! What the runner knows about its checks while it runs: which checks are configured,
//! and for each the outcome of its last execution. The runner logs one line per change
//! of state and a periodic summary from it; `webmon run` shares it with its dashboard,
//! so checks that have not run yet show as pending.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use webmon_core::check::Check;
use webmon_core::result::{ProbeResult, RESULT_VERSION};

/// The message of a result recorded for a probe cut short by a forced stop.
pub const CANCELLED_MESSAGE: &str = "cancelled at shutdown";

/// The last outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Scheduled time of the execution, Unix milliseconds.
    pub at_ms: i64,
    /// Whether it passed.
    pub up: bool,
    /// Why it failed (`timeout: ...`), or the status code when it passed.
    pub reason: String,
}

/// A configured check and its last outcome (`None`: pending, it has not run yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    /// Check id.
    pub id: String,
    /// The URL it probes.
    pub url: String,
    /// Its interval, in milliseconds.
    pub interval_ms: i64,
    /// The last execution's outcome, if it ran.
    pub last: Option<Outcome>,
}

/// Checks counted by state: `42 up, 1 down, 0 pending`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Checks whose last execution passed.
    pub up: usize,
    /// Checks whose last execution failed.
    pub down: usize,
    /// Checks that have not run yet.
    pub pending: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} up, {} down, {} pending",
            self.up, self.down, self.pending
        )
    }
}

/// A change of state worth one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Check id.
    pub check_id: String,
    /// Region of the probe.
    pub region: String,
    /// The new state.
    pub up: bool,
    /// Why (the error, or the status code).
    pub reason: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.up { "UP" } else { "DOWN" };
        write!(
            f,
            "{} in {} is {state}: {}",
            self.check_id, self.region, self.reason
        )
    }
}

/// The runner's view of its checks, shared (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct RunStatus {
    checks: Arc<Mutex<BTreeMap<String, CheckState>>>,
}

fn reason_of(result: &ProbeResult) -> String {
    match (result.error_class, &result.error_message) {
        (Some(class), Some(message)) => format!("{}: {message}", class.as_str()),
        (Some(class), None) => class.as_str().to_string(),
        (None, _) => match result.status_code {
            Some(code) => format!("status {code}"),
            None => "passed".to_string(),
        },
    }
}

impl RunStatus {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CheckState>> {
        self.checks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the configured checks; a check that stays keeps its last outcome unless
    /// its URL changed.
    pub fn set_checks<'a>(&self, checks: impl IntoIterator<Item = &'a Check>) {
        let mut map = self.lock();
        let mut next = BTreeMap::new();
        for check in checks {
            let url = check.url.to_string();
            let last = map
                .remove(&check.id)
                .filter(|old| old.url == url)
                .and_then(|old| old.last);
            next.insert(
                check.id.clone(),
                CheckState {
                    id: check.id.clone(),
                    url,
                    interval_ms: check.interval.seconds() as i64 * 1000,
                    last,
                },
            );
        }
        *map = next;
    }

    /// Records a result; returns the change when the check's state changed (its first
    /// result is a change too: from pending to up or down).
    pub fn record(&self, result: &ProbeResult) -> Option<Change> {
        let mut map = self.lock();
        let state = map.get_mut(&result.check_id)?;
        if state
            .last
            .as_ref()
            .is_some_and(|l| l.at_ms > result.scheduled_at_ms)
        {
            return None;
        }
        let outcome = Outcome {
            at_ms: result.scheduled_at_ms,
            up: result.available,
            reason: reason_of(result),
        };
        let changed = state.last.as_ref().map(|l| l.up) != Some(outcome.up);
        state.last = Some(outcome.clone());
        changed.then(|| Change {
            check_id: result.check_id.clone(),
            region: result.region.clone(),
            up: outcome.up,
            reason: outcome.reason,
        })
    }

    /// The configured checks and their last outcomes, sorted by id.
    pub fn snapshot(&self) -> Vec<CheckState> {
        self.lock().values().cloned().collect()
    }

    /// Checks counted by state.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for state in self.lock().values() {
            match &state.last {
                None => counts.pending += 1,
                Some(o) if o.up => counts.up += 1,
                Some(_) => counts.down += 1,
            }
        }
        counts
    }
}

/// The result stored for a probe that a forced stop cut short: not available, error
/// class `timeout`, message [`CANCELLED_MESSAGE`]. Its timings are unknown, so zero,
/// and its request count is 0.
pub fn cancelled_result(
    check: &Check,
    region: &str,
    scheduled_at_ms: i64,
    now_ms: i64,
) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: region.to_string(),
        check_id: check.id.clone(),
        url: check.url.to_string(),
        scheduled_at_ms,
        started_at_ms: now_ms.max(scheduled_at_ms),
        available: false,
        status_code: None,
        error_class: Some(webmon_core::result::ErrorClass::Timeout),
        error_message: Some(CANCELLED_MESSAGE.to_string()),
        requests: 0,
        latency: Default::default(),
        cold: Default::default(),
        warm_ttfb_ms: None,
        bytes: 0,
        remote_ip: None,
        http_version: None,
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: check.tags.clone(),
        probe: Default::default(),
    }
}
