//! The probe Lambda: one invocation per trigger rule and trigger minute.
//!
//! The rule's input names its schedule groups (`{"groups":["10s-3","1m-0"]}`; the
//! single-group input `{"group":"30s-3"}` of older releases is still read). The handler
//! queries each group from the region's table replica (a `Query` on `by_group`, never a
//! scan), keeps the enabled checks this region probes, and runs every execution of all
//! the groups due in the trigger minute (all rounds of a sub-minute interval) at its
//! scheduled offset with bounded concurrency, in one scheduler. Results are packed into
//! few SQS messages in the home region; a send that still fails after retries fails the
//! invocation, so nothing is dropped silently.

use std::time::Instant;

use futures::{stream, StreamExt};
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
    /// The groups probed.
    pub groups: Vec<String>,
    /// Checks in the groups (valid ones).
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

/// Groups queried at once.
const QUERY_CONCURRENCY: usize = 8;

/// Reads the groups and the trigger minute from the payload: the rule's input
/// `{"groups": [..]}` (or `{"group": ..}`), optionally with `time` (RFC 3339, as in a
/// scheduled event), or a scheduled event carrying either in `detail`. Without a time,
/// `now` is used. Groups come back sorted, without repeats.
pub fn trigger(payload: &serde_json::Value, now_ms: i64) -> Result<(Vec<GroupKey>, i64), String> {
    let source = if payload.get("groups").is_some() || payload.get("group").is_some() {
        payload
    } else {
        payload.get("detail").unwrap_or(payload)
    };
    let names: Vec<&str> = match (source.get("groups"), source.get("group")) {
        (Some(serde_json::Value::Array(list)), _) => list
            .iter()
            .map(|g| {
                g.as_str()
                    .ok_or_else(|| format!("failed to read the event: group {g} is not a string"))
            })
            .collect::<Result<_, _>>()?,
        (_, Some(serde_json::Value::String(one))) => vec![one.as_str()],
        _ => {
            return Err(format!(
                "failed to read the event: no \"groups\" in {payload}"
            ))
        }
    };
    let mut groups = names
        .into_iter()
        .map(|n| GroupKey::parse(n).map_err(|e| format!("failed to read the event: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        return Err(format!("failed to read the event: no group in {payload}"));
    }
    let at = match payload.get("time").and_then(|t| t.as_str()) {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("failed to read the event time {text:?}: {e}"))?
            .timestamp_millis(),
        None => now_ms,
    };
    Ok((groups, at.div_euclid(60_000) * 60_000))
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
    let (groups, minute_start) = trigger(&payload, clock.now_ms())?;
    let loaded: Vec<_> = stream::iter(groups.iter().copied())
        .map(|group| async move {
            repo.group(group)
                .await
                .map(|loaded| (group, loaded))
                .map_err(|e| format!("failed to read group {}: {e}", group.name()))
        })
        .buffered(QUERY_CONCURRENCY)
        .collect()
        .await;
    let mut summary = Summary {
        groups: groups.iter().map(GroupKey::name).collect(),
        ..Default::default()
    };
    let mut checks = Vec::new();
    for result in loaded {
        let (group, loaded) = result?;
        for e in &loaded.errors {
            tracing::error!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "invalid check item skipped");
        }
        summary.checks += loaded.checks.len();
        summary.invalid_items += loaded.summary().invalid_items;
        checks.extend(
            loaded
                .checks
                .into_iter()
                .filter(|c| c.runs_in(&settings.region) && GroupKey::of(c) == group),
        );
    }
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
        groups = summary.groups.len(),
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
    fn reads_the_groups_and_floors_the_minute() {
        let names = |groups: Vec<GroupKey>| groups.iter().map(GroupKey::name).collect::<Vec<_>>();
        let (g, at) = trigger(
            &serde_json::json!({"groups": ["30s-3", "10s-31", "30s-3"]}),
            1_700_000_012_345,
        )
        .unwrap();
        assert_eq!(
            (names(g), at),
            (
                vec!["10s-31".to_string(), "30s-3".to_string()],
                1_699_999_980_000
            )
        );
        // The single-group input of older releases.
        let (g, _) = trigger(&serde_json::json!({"group": "30s-3"}), 0).unwrap();
        assert_eq!(names(g), ["30s-3"]);
        let event =
            serde_json::json!({"time": "2026-01-01T10:05:00Z", "detail": {"groups": ["5m-0"]}});
        let (g, at) = trigger(&event, 0).unwrap();
        assert_eq!(names(g), ["5m-0"]);
        assert_eq!(at % 60_000, 0);
        let legacy =
            serde_json::json!({"time": "2026-01-01T10:05:00Z", "detail": {"group": "5m-0"}});
        assert_eq!(names(trigger(&legacy, 0).unwrap().0), ["5m-0"]);
        assert!(trigger(&serde_json::json!({"group": "7s-1"}), 0).is_err());
        assert!(trigger(&serde_json::json!({"groups": ["1m-1", 3]}), 0).is_err());
        assert!(trigger(&serde_json::json!({"groups": []}), 0).is_err());
        assert!(trigger(&serde_json::json!({}), 0).is_err());
    }
}
