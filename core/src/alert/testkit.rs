//! Test helpers: a compact policy, a configuration of checks, and result builders.

use std::collections::BTreeMap;

use super::policy::{AlertConfig, AlertPolicy, CheckAlerting, GlobalPolicy, Quorum, Routes};
use super::{evaluate, AlertState, NotificationIntent, Silence};
use crate::result::{ErrorClass, LatencyStats, ProbeResult, RESULT_VERSION};

/// One minute, the interval of test checks.
pub const MIN: i64 = 60_000;

/// Thresholds 2/2, majority quorum, no reminders, flap damping at more than 5 changes in
/// 30 minutes, TLS days `[30, 14, 7]`, every route to channel `chat`.
pub fn policy() -> AlertPolicy {
    let chat = vec!["chat".to_string()];
    AlertPolicy {
        routes: Routes {
            down: chat.clone(),
            regional: chat.clone(),
            degraded: chat.clone(),
            unknown: chat.clone(),
            tls: chat,
        },
        failure_threshold: 2,
        failure_window: 2,
        success_threshold: 2,
        quorum: Quorum::Majority,
        retries: Default::default(),
        degraded: Some(super::policy::DegradedPolicy {
            threshold_ms: Some(500.0),
            regions: BTreeMap::new(),
            after: 2,
            recovery: 2,
            quorum: Quorum::Majority,
        }),
        settle_ms: 30_000,
        stale_after_ms: 3 * MIN + 30_000,
        reminder_every_ms: None,
        reminder_max: 0,
        flap_changes: 5,
        flap_window_ms: 30 * MIN,
        flap_stable_ms: 10 * MIN,
        tls_days: vec![30, 14, 7],
        resolved: true,
        depends_on: Vec::new(),
    }
}

/// A check probed every minute from `regions`.
pub fn check(id: &str, regions: &[&str]) -> CheckAlerting {
    CheckAlerting {
        check_id: id.into(),
        url: format!("https://{id}.example/"),
        tags: BTreeMap::new(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
        interval_ms: MIN,
        policy: policy(),
    }
}

/// A configuration of checks with grouping off (threshold 0) unless a test sets it.
pub fn config(checks: Vec<CheckAlerting>) -> AlertConfig {
    AlertConfig {
        channels: BTreeMap::new(),
        checks: checks
            .into_iter()
            .map(|c| (c.check_id.clone(), c))
            .collect(),
        maintenance: Vec::new(),
        global: GlobalPolicy {
            group_threshold: 0,
            group_wait_ms: 0,
            ..GlobalPolicy::default()
        },
    }
}

/// A result of `check` in `region` at round `round` (minute `round` after time 0).
pub fn result(check: &str, region: &str, round: i64, available: bool, avg_ms: f64) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: region.into(),
        check_id: check.into(),
        url: format!("https://{check}.example/"),
        scheduled_at_ms: round * MIN,
        started_at_ms: round * MIN + 5,
        available,
        status_code: Some(if available { 200 } else { 503 }),
        error_class: (!available).then_some(ErrorClass::HttpStatus),
        error_message: (!available).then(|| "status 503".to_string()),
        requests: 5,
        latency: LatencyStats {
            avg_ms,
            min_ms: avg_ms,
            max_ms: avg_ms,
            p50_ms: avg_ms,
        },
        cold: Default::default(),
        warm_ttfb_ms: None,
        bytes: 10,
        remote_ip: None,
        http_version: None,
        tls_cert_days_left: Some(90),
        redirects: 0,
        attempts: 1,
        tags: BTreeMap::new(),
        probe: Default::default(),
    }
}

/// Drives the evaluator one round at a time, like a runner evaluating after each batch.
pub struct Harness {
    /// Configuration.
    pub config: AlertConfig,
    /// Current state.
    pub state: AlertState,
    /// Silences in force.
    pub silences: Vec<Silence>,
    /// Every intent so far.
    pub sent: Vec<NotificationIntent>,
}

impl Harness {
    /// Starts at time 0.
    pub fn new(config: AlertConfig) -> Self {
        let mut h = Self {
            config,
            state: AlertState::default(),
            silences: Vec::new(),
            sent: Vec::new(),
        };
        h.at(0, Vec::new());
        h
    }

    /// Evaluates `results` at `now_ms`; returns the intents of this call.
    pub fn at(&mut self, now_ms: i64, results: Vec<ProbeResult>) -> Vec<NotificationIntent> {
        let (state, intents) =
            evaluate(&self.state, &results, now_ms, &self.config, &self.silences);
        self.state = state;
        self.sent.extend(intents.clone());
        intents
    }

    /// Feeds round `round` where `up[i]` says whether `regions[i]` passed, evaluated 10 s
    /// after the round's scheduled time. Returns `kind level` strings of the intents.
    pub fn round(&mut self, check: &str, round: i64, regions: &[&str], up: &[bool]) -> Vec<String> {
        let results = regions
            .iter()
            .zip(up)
            .map(|(r, ok)| result(check, r, round, *ok, 100.0))
            .collect();
        describe(&self.at(round * MIN + 10_000, results))
    }
}

/// `kind LEVEL check` for each intent.
pub fn describe(intents: &[NotificationIntent]) -> Vec<String> {
    intents
        .iter()
        .map(|i| {
            let check = i
                .check
                .as_ref()
                .map_or(i.region.clone().unwrap_or_default(), |c| c.id.clone());
            format!("{} {} {check}", i.kind.as_str(), i.level.as_str())
        })
        .collect()
}
