//! The one-machine scheduler behind `webmon run`.
//!
//! ```text
//! checks file --poll 2s--> plan (next run per check) --due--> probe tasks (<= concurrency)
//!      --bounded mpsc--> batching writer (100 results or 1 s) --> ResultStore
//! ```
//!
//! - [`plan`]: each check runs on its stable grid (`schedule::next_run_at_or_after`),
//!   the same offsets every region uses.
//! - [`config`]: the file is polled (mtime, then content hash); a file that cannot be
//!   parsed keeps the running checks, a check whose new version is invalid keeps its
//!   previous version, and every error is logged with its check id, field, value and
//!   reason. A reload never touches probes in flight.
//! - [`writer`]: drains the queue into the store in batches.
//!
//! - [`status`]: the configured checks and their last outcomes: one log line per change
//!   of state, a periodic summary (`42 up, 1 down, 0 pending`).
//!
//! A new check (at start or on reload) runs at once, then settles on its grid.
//!
//! Shutdown is a future passed in (Ctrl-C in the CLI, anything in tests): scheduling
//! stops, probes in flight finish, the queue is drained into the store, then [`run`]
//! returns. A second future, `abort` ([`run_until`]), cuts the wait short: probes still
//! in flight are cancelled and recorded as failed (`timeout`, "cancelled at shutdown"),
//! and what is queued is stored. The clock is passed in too.

pub mod config;
pub mod plan;
pub mod status;
pub mod writer;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use config::ConfigSource;
use plan::Plan;
use status::RunStatus;
use webmon_core::check::Check;
use webmon_core::check::SecretPolicy;
use webmon_core::ports::{Clock, ResultStore};
use webmon_core::probe::Prober;

/// Tuning of the runner. [`RunnerOptions::default`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Region label; only checks that run in it are probed.
    pub region: String,
    /// Most probes in flight at once.
    pub concurrency: usize,
    /// Capacity of the result queue between probes and the writer.
    pub queue_capacity: usize,
    /// Results per store write.
    pub batch_size: usize,
    /// Longest time a result waits in the writer before being stored.
    pub flush_interval: Duration,
    /// How often the checks file is polled for changes.
    pub reload_interval: Duration,
    /// Which `${env:NAME}` references checks may use (the operator's `--secret-env`).
    pub secrets: SecretPolicy,
    /// How often the summary line (`42 up, 1 down, 0 pending`) is logged.
    pub summary_interval: Duration,
    /// The runner's view of its checks, shared with whoever shows them.
    pub status: RunStatus,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            region: "local".into(),
            concurrency: 256,
            queue_capacity: 1024,
            batch_size: 100,
            flush_interval: Duration::from_secs(1),
            reload_interval: Duration::from_secs(2),
            secrets: SecretPolicy::default(),
            summary_interval: Duration::from_secs(60),
            status: RunStatus::default(),
        }
    }
}

/// What a run did, returned after shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Check executions started.
    pub executions: u64,
    /// Executions that passed.
    pub up: u64,
    /// Executions that failed (the target was down or an assertion failed).
    pub down: u64,
    /// Executions cut short by a forced stop (stored as failed, "cancelled at shutdown").
    pub cancelled: u64,
    /// Results stored.
    pub stored: u64,
    /// Results the store refused (each was logged): store errors, not failed checks.
    pub store_errors: u64,
    /// Changes of the checks file seen after the first load (applied or refused).
    pub reloads: u64,
}

/// Runs the checks of `config_path` on schedule until `shutdown` resolves, then drains
/// everything in flight into `store`.
pub async fn run<S, C, F>(
    config_path: PathBuf,
    prober: Prober,
    store: Arc<S>,
    clock: Arc<C>,
    options: RunnerOptions,
    shutdown: F,
) -> RunSummary
where
    S: ResultStore + 'static,
    C: Clock + 'static,
    F: Future<Output = ()>,
{
    let never = std::future::pending::<()>();
    run_until(config_path, prober, store, clock, options, shutdown, never).await
}

/// [`run`], where `abort` resolving after `shutdown` stops waiting for probes in
/// flight: they are cancelled and recorded as failed ("cancelled at shutdown").
pub async fn run_until<S, C, F, A>(
    config_path: PathBuf,
    prober: Prober,
    store: Arc<S>,
    clock: Arc<C>,
    options: RunnerOptions,
    shutdown: F,
    abort: A,
) -> RunSummary
where
    S: ResultStore + 'static,
    C: Clock + 'static,
    F: Future<Output = ()>,
    A: Future<Output = ()>,
{
    let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
    let writer = tokio::spawn(writer::run(
        store,
        rx,
        options.batch_size,
        options.flush_interval,
    ));
    let status = options.status.clone();
    let mut source = ConfigSource::new(config_path, options.secrets.clone());
    let mut plan = Plan::new(&options.region);
    let mut summary = RunSummary::default();
    let semaphore = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, (Arc<Check>, i64)> = HashMap::new();
    let outcomes = Arc::new(Outcomes::default());
    let mut loaded = false;
    let mut reload = tokio::time::interval(options.reload_interval);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = options.summary_interval.max(Duration::from_millis(100));
    let mut report = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    tokio::pin!(abort);

    'running: loop {
        let wait_ms = plan
            .next_due()
            .map_or(60_000, |due| (due - clock.now_ms()).clamp(0, 60_000));
        tokio::select! {
            biased;
            _ = &mut shutdown => break 'running,
            _ = reload.tick() => {
                if let Some(outcome) = source.poll() {
                    apply(&mut plan, &status, outcome, clock.now_ms(), !loaded);
                    summary.reloads += u64::from(loaded);
                    loaded = true;
                }
            }
            _ = report.tick() => tracing::info!(counts = %status.counts(), "{}", status.counts()),
            // Due executions before finished ones: under load a finished probe is ready at
            // almost every turn of the loop, and polling those first kept due executions
            // waiting (hundreds of milliseconds at 10,000 checks).
            _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {
                for (check, scheduled_at_ms) in plan.take_due(clock.now_ms()) {
                    let permit = tokio::select! {
                        biased;
                        _ = &mut shutdown => break 'running,
                        permit = semaphore.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    };
                    summary.executions += 1;
                    let (tx, prober, status, outcomes) = (tx.clone(), prober.clone(), status.clone(), outcomes.clone());
                    let probed = check.clone();
                    let handle = tasks.spawn(async move {
                        let result = prober.probe(&probed, scheduled_at_ms).await;
                        outcomes.count(result.available);
                        if let Some(change) = status.record(&result) {
                            tracing::info!(check_id = %change.check_id, region = %change.region, up = change.up, reason = %change.reason, "{change}");
                        }
                        // The permit is held until the queue takes the result, so a slow
                        // store slows probing instead of growing memory.
                        let _ = tx.send(result).await;
                        drop(permit);
                    });
                    in_flight.insert(handle.id(), (check, scheduled_at_ms));
                }
            }
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                joined_task(joined, &mut in_flight);
            }
        }
    }

    if !tasks.is_empty() {
        tracing::info!(
            in_flight = tasks.len(),
            "shutting down: waiting for {} probes in flight (stop again to cancel them)",
            tasks.len()
        );
    }
    let mut aborted = false;
    loop {
        tokio::select! {
            biased;
            _ = &mut abort, if !aborted => {
                aborted = true;
                if !tasks.is_empty() {
                    tracing::warn!(in_flight = tasks.len(), "stopping now: cancelling {} probes in flight", tasks.len());
                }
                tasks.abort_all();
            }
            joined = tasks.join_next_with_id() => match joined {
                None => break,
                Some(Err(e)) if e.is_cancelled() => {
                    if let Some((check, scheduled_at_ms)) = in_flight.remove(&e.id()) {
                        let result = status::cancelled_result(&check, &options.region, scheduled_at_ms, clock.now_ms());
                        tracing::warn!(check_id = %check.id, scheduled_at_ms, "{}: {}", check.id, status::CANCELLED_MESSAGE);
                        summary.cancelled += 1;
                        let _ = tx.send(result).await;
                    }
                }
                Some(joined) => joined_task(joined, &mut in_flight),
            },
        }
    }
    drop(tx);
    match writer.await {
        Ok(stats) => {
            summary.stored = stats.written;
            summary.store_errors = stats.failed;
        }
        Err(e) => tracing::error!(error = %e, "the result writer failed"),
    }
    summary.up = outcomes.up.load(Ordering::Relaxed);
    summary.down = outcomes.down.load(Ordering::Relaxed);
    tracing::info!(
        executions = summary.executions,
        up = summary.up,
        down = summary.down,
        cancelled = summary.cancelled,
        stored = summary.stored,
        store_errors = summary.store_errors,
        "stopped: {} executions ({} passed, {} failed, {} cancelled); {} results stored, {} could not be stored",
        summary.executions,
        summary.up,
        summary.down,
        summary.cancelled,
        summary.stored,
        summary.store_errors,
    );
    summary
}

/// Executions counted by outcome, from the probe tasks.
#[derive(Default)]
struct Outcomes {
    up: AtomicU64,
    down: AtomicU64,
}

impl Outcomes {
    fn count(&self, available: bool) {
        let counter = if available { &self.up } else { &self.down };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn joined_task(
    joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    in_flight: &mut HashMap<tokio::task::Id, (Arc<Check>, i64)>,
) {
    match joined {
        Ok((id, ())) => {
            in_flight.remove(&id);
        }
        Err(e) => {
            in_flight.remove(&e.id());
            tracing::error!(error = %e, "a probe task failed");
        }
    }
}

fn apply(
    plan: &mut Plan,
    status: &RunStatus,
    outcome: webmon_core::check::LoadOutcome,
    now_ms: i64,
    first: bool,
) {
    config::log_errors(&outcome.errors);
    let errors = outcome.errors.len();
    let (checks, kept) = config::merge(&plan.checks(), outcome);
    if !kept.is_empty() {
        tracing::warn!(kept = ?kept, "invalid new versions: these checks keep running their previous version");
    }
    plan.replace(checks, now_ms);
    let running = plan.checks();
    status.set_checks(running.values().map(|c| c.as_ref()));
    if first {
        tracing::info!(checks = plan.len(), errors, "config loaded");
    } else {
        tracing::info!(checks = plan.len(), errors, "config reloaded");
    }
    if plan.is_empty() {
        tracing::warn!("no valid check runs in this region; waiting for the config file to change");
    }
}
