//! Alert evaluation after results are stored (the writer Lambda in the home region).
//!
//! For each check of a batch: read its state item (strongly consistent), run
//! [`evaluate_check`], and commit the new state with the notifications it asks for in
//! one conditional transaction ([`AlertTable::commit`]); when another writer changed the
//! item in between, read again and recompute (at most [`MAX_ATTEMPTS`] times).
//!
//! Duplicates and out-of-order deliveries change nothing: the evaluator dedupes by
//! (check, region, scheduled time) and ignores rounds it already closed, and an
//! evaluation that changes nothing writes nothing.
//!
//! Cost: a check that is settled (UP, every region OK) and receives only routine
//! results (passing, fast) is neither read nor written once this container has seen it
//! settled; its state is read again after [`SETTLED_RECHECK_MS`]. Steady state therefore
//! costs about one read per check per container per five minutes and no writes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use webmon_core::alert::{evaluate_check, is_routine, is_settled, AlertConfig, AlertDocument};
use webmon_core::ports::{CheckRepository, Clock, SystemClock};
use webmon_core::result::ProbeResult;

use super::liveness::Liveness;
use super::table::{AlertTable, Commit};
use crate::AwsError;

/// Attempts per check when other writers keep changing its state.
pub const MAX_ATTEMPTS: u32 = 5;
/// A check this container saw settled is read again after this long.
pub const SETTLED_RECHECK_MS: i64 = 5 * 60 * 1000;
/// The alerting configuration is reloaded after this long.
pub const CONFIG_TTL_MS: i64 = 60 * 1000;
/// Checks evaluated at once.
const CONCURRENCY: usize = 16;

/// What one [`AlertEvaluator::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Checks whose results were skipped without a read (settled, routine results).
    pub skipped: usize,
    /// Checks whose state was read.
    pub read: usize,
    /// Commits made.
    pub committed: usize,
    /// Notifications enqueued (one per intent, whatever its channels).
    pub intents: usize,
    /// Commits retried after a conflict.
    pub conflicts: usize,
    /// Checks whose evaluation failed (their messages are retried).
    pub failed: Vec<String>,
}

struct CachedConfig {
    config: AlertConfig,
    loaded_at_ms: i64,
}

/// The evaluator with its table, configuration source and per-container caches.
pub struct AlertEvaluator<R> {
    table: AlertTable,
    checks: R,
    regions: Vec<String>,
    config: tokio::sync::Mutex<Option<CachedConfig>>,
    /// Check id -> when this container last saw it settled.
    settled: Mutex<HashMap<String, i64>>,
    liveness: Liveness,
    clock: Arc<dyn Clock>,
}

impl<R: CheckRepository> AlertEvaluator<R> {
    /// `regions` is every probe region (a check without `regions` is probed from all).
    pub fn new(table: AlertTable, checks: R, regions: Vec<String>) -> Self {
        Self {
            liveness: Liveness::new(table.clone()),
            table,
            checks,
            regions,
            config: tokio::sync::Mutex::new(None),
            settled: Mutex::new(HashMap::new()),
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` instead of the system clock (tests replaying a schedule).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The clock evaluations use.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// Every probe region.
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    /// The table.
    pub fn table(&self) -> &AlertTable {
        &self.table
    }

    /// The current alerting configuration (cached for [`CONFIG_TTL_MS`]). A document that
    /// fails validation in part keeps its valid parts; the problems are logged.
    pub async fn config(&self, now_ms: i64) -> Result<AlertConfig, AwsError> {
        let mut cached = self.config.lock().await;
        if let Some(c) = cached.as_ref() {
            if now_ms - c.loaded_at_ms < CONFIG_TTL_MS {
                return Ok(c.config.clone());
            }
        }
        let config = load_config(&self.table, &self.checks, &self.regions).await?;
        *cached = Some(CachedConfig {
            config: config.clone(),
            loaded_at_ms: now_ms,
        });
        Ok(config)
    }

    /// Evaluates stored `results`. Never fails as a whole: checks whose evaluation
    /// failed are named in [`Applied::failed`] so their messages are retried.
    pub async fn apply(&self, results: &[ProbeResult]) -> Applied {
        let clock = self.clock();
        let mut applied = Applied::default();
        let now = clock.now_ms();
        let config = match self.config(now).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the alerting configuration cannot be read; the batch will be retried");
                applied.failed = results.iter().map(|r| r.check_id.clone()).collect();
                applied.failed.sort();
                applied.failed.dedup();
                return applied;
            }
        };
        self.liveness.seen(results, now).await;
        let mut by_check: BTreeMap<String, Vec<ProbeResult>> = BTreeMap::new();
        for r in results {
            by_check
                .entry(r.check_id.clone())
                .or_default()
                .push(r.clone());
        }
        let config = &config;
        let evaluations = by_check.into_iter().map(|(id, results)| async move {
            let outcome = self.check(&id, &results, config, clock).await;
            (id, outcome)
        });
        let outcomes: Vec<(String, Result<Step, AwsError>)> = stream::iter(evaluations)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (id, outcome) in outcomes {
            match outcome {
                Ok(step) => {
                    applied.skipped += usize::from(step.skipped);
                    applied.read += usize::from(!step.skipped);
                    applied.committed += usize::from(step.committed);
                    applied.intents += step.intents;
                    applied.conflicts += step.conflicts as usize;
                }
                Err(e) => {
                    tracing::error!(check_id = %id, error = %e, "alert evaluation failed; its results will be retried");
                    applied.failed.push(id);
                }
            }
        }
        applied.failed.sort();
        applied
    }

    /// Evaluates `results` of one check (also used by the sweeper with no results).
    pub async fn check(
        &self,
        id: &str,
        results: &[ProbeResult],
        config: &AlertConfig,
        clock: &dyn Clock,
    ) -> Result<Step, AwsError> {
        let mut step = Step::default();
        let Some(check) = config.checks.get(id) else {
            step.skipped = true;
            return Ok(step);
        };
        let routine = results.iter().all(|r| is_routine(r, check));
        if routine && !results.is_empty() && self.recently_settled(id, clock.now_ms()) {
            step.skipped = true;
            return Ok(step);
        }
        for attempt in 0..MAX_ATTEMPTS {
            let stored = self.table.state(id).await?;
            let now = clock.now_ms();
            if let Some(s) = &stored {
                if is_settled(&s.state) && routine && !results.is_empty() {
                    self.mark_settled(id, now);
                    return Ok(step);
                }
            }
            let Some(next) = evaluate_check(
                id,
                stored.as_ref().map(|s| &s.state),
                results,
                now,
                config,
                &[],
            ) else {
                return Ok(step);
            };
            if stored.as_ref().is_some_and(|s| s.state == next.state) && next.intents.is_empty() {
                return Ok(step);
            }
            let prev = stored.as_ref().map(|s| s.ver);
            match self
                .table
                .commit(id, prev, &next.state, &next.intents, now)
                .await?
            {
                Commit::Done => {
                    for n in &next.intents {
                        tracing::info!(id = %n.id, kind = n.kind.as_str(), channels = ?n.channels, title = %n.title(), "notification enqueued");
                    }
                    step.committed = true;
                    step.intents = next.intents.len();
                    if is_settled(&next.state) {
                        self.mark_settled(id, now);
                    } else {
                        self.settled.lock().expect("not poisoned").remove(id);
                    }
                    return Ok(step);
                }
                Commit::Conflict => {
                    step.conflicts += 1;
                    let jitter = (xxhash_rust::xxh3::xxh3_64(id.as_bytes()) ^ now as u64) % 50;
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter))
                        .await;
                }
            }
        }
        Err(AwsError::Partial {
            what: format!("commit the alert state of check {id}"),
            failed: 1,
            total: 1,
            attempts: MAX_ATTEMPTS,
            reason: "other writers kept changing it".into(),
        })
    }

    fn recently_settled(&self, id: &str, now_ms: i64) -> bool {
        self.settled
            .lock()
            .expect("not poisoned")
            .get(id)
            .is_some_and(|at| now_ms - at < SETTLED_RECHECK_MS)
    }

    fn mark_settled(&self, id: &str, now_ms: i64) {
        self.settled
            .lock()
            .expect("not poisoned")
            .insert(id.to_string(), now_ms);
    }
}

/// What evaluating one check did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Step {
    /// Nothing was read or written.
    pub skipped: bool,
    /// A commit was made.
    pub committed: bool,
    /// Notifications committed.
    pub intents: usize,
    /// Commits retried after a conflict.
    pub conflicts: u32,
}

/// Builds the alerting configuration from the checks and the stored document.
pub async fn load_config<R: CheckRepository>(
    table: &AlertTable,
    checks: &R,
    regions: &[String],
) -> Result<AlertConfig, AwsError> {
    let document = table.document().await?.unwrap_or_default();
    let loaded = checks.all().await.map_err(|e| AwsError::Call {
        service: "dynamodb",
        operation: "Scan",
        message: e.to_string(),
        retriable: e.is_retriable(),
    })?;
    let outcome = AlertDocument::build(&document, &loaded.checks, regions);
    for e in &outcome.errors {
        tracing::warn!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "alerting configuration problem");
    }
    Ok(outcome.config)
}
