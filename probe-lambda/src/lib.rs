//! The probe Lambda: one invocation per schedule group and trigger minute.
//!
//! The rule's input names the group (`{"group":"30s-3"}`); the handler queries that
//! group from the region's table replica, keeps the enabled checks this region probes,
//! and runs every execution due in the trigger minute (all rounds of a sub-minute
//! interval) at its scheduled offset with bounded concurrency. Results are packed into
//! few SQS messages in the home region; a send that still fails after retries fails the
//! invocation, so nothing is dropped silently.

use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;
use webmon_core::ports::{CheckRepository, Clock, ResultQueue};
use webmon_core::probe::{run_scheduled, Prober};
use webmon_core::result::ProbeResult;
use webmon_core::schedule::{executions_in_trigger, GroupKey};

/// Results buffered before a send in the middle of an invocation.
pub const FLUSH_RESULTS: usize = 2000;

/// Settings of the handler.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This region (`AWS_REGION`), written into results and used to pick checks.
    pub region: String,
    /// Probes in flight at once.
    pub concurrency: usize,
}

/// What an invocation did, logged as its summary line and returned.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// The group probed.
    pub group: String,
    /// Checks in the group (valid ones).
    pub checks: usize,
    /// Invalid items skipped.
    pub invalid_items: usize,
    /// Checks this region probes.
    pub probed_checks: usize,
    /// Executions run.
    pub executions: usize,
    /// Results sent to the queue.
    pub results_sent: usize,
    /// Queue sends.
    pub sends: usize,
    /// Wall time, milliseconds.
    pub duration_ms: u64,
}

/// Reads the group and the trigger minute from the payload: the rule's input
/// `{"group": ..}`, optionally with `time` (RFC 3339, as in a scheduled event), or a
/// scheduled event carrying the group in `detail`. Without a time, `now` is used.
pub fn trigger(payload: &serde_json::Value, now_ms: i64) -> Result<(GroupKey, i64), String> {
    let group = payload
        .get("group")
        .or_else(|| payload.get("detail").and_then(|d| d.get("group")))
        .and_then(|g| g.as_str())
        .ok_or_else(|| format!("failed to read the event: no \"group\" in {payload}"))?;
    let group = GroupKey::parse(group).map_err(|e| format!("failed to read the event: {e}"))?;
    let at = match payload.get("time").and_then(|t| t.as_str()) {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("failed to read the event time {text:?}: {e}"))?
            .timestamp_millis(),
        None => now_ms,
    };
    Ok((group, at.div_euclid(60_000) * 60_000))
}

/// Handles one trigger.
pub async fn handle<R: CheckRepository, Q: ResultQueue, C: Clock>(
    repo: &R,
    queue: &Q,
    prober: &Prober,
    clock: &C,
    settings: &Settings,
    payload: serde_json::Value,
) -> Result<Summary, String> {
    let started = Instant::now();
    let (group, minute_start) = trigger(&payload, clock.now_ms())?;
    let loaded = repo
        .group(group)
        .await
        .map_err(|e| format!("failed to read group {}: {e}", group.name()))?;
    for e in &loaded.errors {
        tracing::error!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "invalid check item skipped");
    }
    let mut summary = Summary {
        group: group.name(),
        checks: loaded.checks.len(),
        invalid_items: loaded.errors.len(),
        ..Default::default()
    };
    let checks: Vec<_> = loaded
        .checks
        .into_iter()
        .filter(|c| c.runs_in(&settings.region) && GroupKey::of(c) == group)
        .collect();
    summary.probed_checks = checks.len();
    let jobs: Vec<_> = checks
        .iter()
        .flat_map(|c| {
            executions_in_trigger(&c.id, c.interval, minute_start)
                .into_iter()
                .map(move |at| (c.clone(), at))
        })
        .collect();
    summary.executions = jobs.len();
    let (tx, mut rx) = mpsc::channel::<ProbeResult>(1024);
    let probing = run_scheduled(prober, jobs, settings.concurrency, clock, tx);
    let sending = async {
        let mut buffer = Vec::new();
        let (mut sent, mut sends) = (0, 0);
        while let Some(result) = rx.recv().await {
            tracing::debug!(check_id = %result.check_id, region = %result.region, available = result.available, "probed");
            buffer.push(result);
            if buffer.len() >= FLUSH_RESULTS {
                queue
                    .send(&buffer)
                    .await
                    .map_err(|e| format!("failed to send results: {e}"))?;
                (sent, sends) = (sent + buffer.len(), sends + 1);
                buffer.clear();
            }
        }
        if !buffer.is_empty() {
            queue
                .send(&buffer)
                .await
                .map_err(|e| format!("failed to send results: {e}"))?;
            (sent, sends) = (sent + buffer.len(), sends + 1);
        }
        Ok::<_, String>((sent, sends))
    };
    let ((), sent) = tokio::join!(probing, sending);
    prober.set_cold_start(false);
    let (results_sent, sends) = sent?;
    summary.results_sent = results_sent;
    summary.sends = sends;
    summary.duration_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        region = %settings.region,
        group = %summary.group,
        checks = summary.checks,
        invalid_items = summary.invalid_items,
        probed_checks = summary.probed_checks,
        executions = summary.executions,
        results_sent = summary.results_sent,
        sends = summary.sends,
        duration_ms = summary.duration_ms,
        "probe invocation done"
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_group_and_floors_the_minute() {
        let (g, at) = trigger(&serde_json::json!({"group": "30s-3"}), 1_700_000_012_345).unwrap();
        assert_eq!((g.name(), at), ("30s-3".to_string(), 1_699_999_980_000));
        let event =
            serde_json::json!({"time": "2026-01-01T10:05:00Z", "detail": {"group": "5m-0"}});
        let (g, at) = trigger(&event, 0).unwrap();
        assert_eq!(g.name(), "5m-0");
        assert_eq!(at % 60_000, 0);
        assert!(trigger(&serde_json::json!({"group": "7s-1"}), 0).is_err());
        assert!(trigger(&serde_json::json!({}), 0).is_err());
    }
}
