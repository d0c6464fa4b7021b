//! The probe Lambda: one invocation per trigger rule and trigger minute.
//!
//! The rule's input names its schedule groups and carries the event time
//! (`{"groups":["10s-3","1m-0"],"time":"2026-01-01T10:05:00Z"}`, filled in by the rule's
//! input transformer; the constant `{"groups":[..]}` and single-group `{"group":"30s-3"}`
//! inputs of older releases are still read). A trigger older than
//! [`Limits::max_trigger_age`] (a late retry, a replayed event) is dropped with a log
//! line: probing a past minute would give stale timings. The handler queries each group
//! from the region's table replica (a `Query` on `by_group`, never a scan), keeps the
//! enabled checks this region probes, and runs every execution of all the groups due in
//! the trigger minute (all rounds of a sub-minute interval) at its scheduled offset with
//! bounded concurrency, in one scheduler.
//!
//! Results stream to the home region's SQS queue while probing, every
//! [`Limits::flush_every`] or [`Limits::flush_results`] results, so a slow backend never
//! holds the others back. At the invocation deadline minus [`Limits::margin`], what is
//! still running (or not started) is cancelled and recorded as a `timeout` result saying
//! so, and everything is flushed before Lambda would kill the process. A send that still
//! fails after retries stops the invocation at once and fails it, so nothing is dropped
//! silently.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc;
use webmon_core::check::Check;
use webmon_core::ports::{CheckRepository, Clock, ResultQueue};
use webmon_core::probe::{run_scheduled, Prober};
use webmon_core::result::{ErrorClass, ProbeResult, RESULT_VERSION};
use webmon_core::schedule::{executions_in_trigger, GroupKey};

/// Results buffered before a send in the middle of an invocation.
pub const FLUSH_RESULTS: usize = 100;
/// Longest a result waits in the buffer before it is sent.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
pub use crate::budget::DEADLINE_MARGIN;
/// Oldest trigger probed; older ones are dropped (the probe's `maximumEventAgeInSeconds`).
pub const MAX_TRIGGER_AGE: Duration = Duration::from_secs(60);
/// Message of the results cancelled at the deadline.
pub const CANCELLED_MESSAGE: &str = "cancelled at the invocation deadline";

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
    /// Executions cancelled at the invocation deadline (sent as `timeout` results).
    pub cancelled: usize,
    /// The trigger was older than [`Limits::max_trigger_age`] and nothing was probed.
    pub stale_trigger: bool,
    /// Wall time, milliseconds.
    pub duration_ms: u64,
}

/// The time limits of one invocation.
#[derive(Debug, Clone)]
pub struct Limits {
    /// When Lambda ends the invocation (from the invocation context); `None`: no limit.
    pub deadline: Option<Instant>,
    /// Time kept before the deadline to cancel and flush.
    pub margin: Duration,
    /// Oldest trigger (by its event time) still probed.
    pub max_trigger_age: Duration,
    /// Longest a result waits before it is sent.
    pub flush_every: Duration,
    /// Results that make a send at once.
    pub flush_results: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: None,
            margin: DEADLINE_MARGIN,
            max_trigger_age: MAX_TRIGGER_AGE,
            flush_every: FLUSH_EVERY,
            flush_results: FLUSH_RESULTS,
        }
    }
}

impl Limits {
    /// The limits of an invocation ending at `deadline_ms` (Unix milliseconds, as the
    /// Lambda context gives it), the other limits at their defaults.
    pub fn until_unix_ms(deadline_ms: u64, now_ms: i64) -> Self {
        let left = (deadline_ms as i64).saturating_sub(now_ms).max(0) as u64;
        Self {
            deadline: Some(Instant::now() + Duration::from_millis(left)),
            ..Self::default()
        }
    }
}

/// Groups queried at once.
const QUERY_CONCURRENCY: usize = 8;

/// Reads the groups and the trigger minute from the payload: the rule's input
/// `{"groups": [..]}` (or `{"group": ..}`), optionally with `time` (RFC 3339, as in a
/// scheduled event), or a scheduled event carrying either in `detail`. Without a time,
/// `now` is used. Groups come back sorted, without repeats.
pub fn trigger(payload: &serde_json::Value, now_ms: i64) -> Result<(Vec<GroupKey>, i64), String> {
    trigger_at(payload, now_ms).map(|(groups, at, _)| (groups, at))
}

/// Like [`trigger`], also saying whether the payload carried its event time.
pub fn trigger_at(
    payload: &serde_json::Value,
    now_ms: i64,
) -> Result<(Vec<GroupKey>, i64, bool), String> {
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
    let time = payload
        .get("time")
        .or_else(|| source.get("time"))
        .and_then(|t| t.as_str());
    let at = match time {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("failed to read the event time {text:?}: {e}"))?
            .timestamp_millis(),
        None => now_ms,
    };
    Ok((groups, at.div_euclid(60_000) * 60_000, time.is_some()))
}

/// Handles one trigger without a deadline (see [`handle_with`]).
pub async fn handle<R: CheckRepository, Q: ResultQueue, C: Clock>(
    repo: &R,
    queue: &Q,
    prober: &Prober,
    clock: &C,
    settings: &Settings,
    payload: serde_json::Value,
) -> Result<Summary, String> {
    handle_with(
        repo,
        queue,
        prober,
        clock,
        settings,
        payload,
        &Limits::default(),
    )
    .await
}

/// Handles one trigger within `limits`.
pub async fn handle_with<R: CheckRepository, Q: ResultQueue, C: Clock>(
    repo: &R,
    queue: &Q,
    prober: &Prober,
    clock: &C,
    settings: &Settings,
    payload: serde_json::Value,
    limits: &Limits,
) -> Result<Summary, String> {
    let started = Instant::now();
    let now_ms = clock.now_ms();
    let (groups, minute_start, timed) = trigger_at(&payload, now_ms)?;
    let mut summary = Summary {
        groups: groups.iter().map(GroupKey::name).collect(),
        ..Default::default()
    };
    let age_ms = now_ms - minute_start;
    if timed && age_ms > limits.max_trigger_age.as_millis() as i64 {
        summary.stale_trigger = true;
        tracing::warn!(
            region = %settings.region,
            groups = ?summary.groups,
            trigger_minute_ms = minute_start,
            age_ms,
            max_age_ms = limits.max_trigger_age.as_millis() as u64,
            "stale trigger dropped: its minute is past, probing it now would give stale timings"
        );
        return Ok(summary);
    }
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
    // Every job not yet answered, to record the ones cancelled at the deadline.
    let mut open: HashMap<(String, i64), Vec<Check>> = HashMap::new();
    for (check, at) in &jobs {
        open.entry((check.id.clone(), *at))
            .or_default()
            .push(check.clone());
    }
    let cancel_at = limits
        .deadline
        .map(|d| tokio::time::Instant::from_std(d.checked_sub(limits.margin).unwrap_or(d)));
    let (tx, mut rx) = mpsc::channel::<ProbeResult>(1024);
    let mut probing = Box::pin(run_scheduled(prober, jobs, settings.concurrency, clock, tx));
    let mut sender = Sender {
        queue,
        buffer: Vec::new(),
        sent: 0,
        sends: 0,
    };
    let mut tick = tokio::time::interval(limits.flush_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probing_done = false;
    let mut cancelled = false;
    loop {
        tokio::select! {
            biased;
            _ = sleep_until(cancel_at), if !probing_done => {
                cancelled = true;
                break;
            }
            () = &mut probing, if !probing_done => probing_done = true,
            received = rx.recv() => match received {
                Some(result) => {
                    tracing::debug!(check_id = %result.check_id, region = %result.region, available = result.available, "probed");
                    take(&mut open, &result);
                    sender.buffer.push(result);
                    if sender.buffer.len() >= limits.flush_results {
                        sender.flush().await?;
                    }
                }
                None => break,
            },
            _ = tick.tick() => sender.flush().await?,
        }
    }
    if cancelled {
        // Dropping the scheduler aborts its probes; keep what they already answered.
        drop(probing);
        rx.close();
        while let Some(result) = rx.recv().await {
            take(&mut open, &result);
            sender.buffer.push(result);
        }
        let now = clock.now_ms();
        let mut left: Vec<_> = open.into_iter().collect();
        left.sort_by(|a, b| a.0 .1.cmp(&b.0 .1).then_with(|| a.0 .0.cmp(&b.0 .0)));
        for ((_, at), checks) in left {
            for check in checks {
                summary.cancelled += 1;
                sender
                    .buffer
                    .push(cancelled_result(&check, at, now, &settings.region));
            }
        }
        tracing::warn!(
            region = %settings.region,
            cancelled = summary.cancelled,
            "the invocation deadline is near: executions still running were cancelled and recorded as timeouts"
        );
    }
    sender.flush().await?;
    prober.set_cold_start(false);
    summary.results_sent = sender.sent;
    summary.sends = sender.sends;
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
        cancelled = summary.cancelled,
        duration_ms = summary.duration_ms,
        "probe invocation done"
    );
    Ok(summary)
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Marks a result's job answered.
fn take(open: &mut HashMap<(String, i64), Vec<Check>>, result: &ProbeResult) {
    let key = (result.check_id.clone(), result.scheduled_at_ms);
    if let Some(list) = open.get_mut(&key) {
        list.pop();
        if list.is_empty() {
            open.remove(&key);
        }
    }
}

/// The result of an execution cancelled at the invocation deadline.
pub fn cancelled_result(
    check: &Check,
    scheduled_at_ms: i64,
    now_ms: i64,
    region: &str,
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
        error_class: Some(ErrorClass::Timeout),
        error_message: Some(format!(
            "{CANCELLED_MESSAGE}: the execution had not finished when the probe had to send its results"
        )),
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

/// The results waiting to be sent, and the counts of what was sent.
struct Sender<'q, Q> {
    queue: &'q Q,
    buffer: Vec<ProbeResult>,
    sent: usize,
    sends: usize,
}

impl<Q: ResultQueue> Sender<'_, Q> {
    async fn flush(&mut self) -> Result<(), String> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.queue
            .send(&self.buffer)
            .await
            .map_err(|e| format!("failed to send results: {e}"))?;
        self.sent += self.buffer.len();
        self.sends += 1;
        self.buffer.clear();
        Ok(())
    }
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
