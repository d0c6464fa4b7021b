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
//! Shutdown is a future passed in (Ctrl-C in the CLI, anything in tests): scheduling
//! stops, probes in flight finish, the queue is drained into the store, then [`run`]
//! returns. The clock is passed in too.

pub mod config;
pub mod plan;
pub mod writer;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use config::ConfigSource;
use plan::Plan;
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
        }
    }
}

/// What a run did, returned after shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Check executions started.
    pub executions: u64,
    /// Results stored.
    pub stored: u64,
    /// Results the store refused (each was logged).
    pub failed: u64,
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
    let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
    let writer = tokio::spawn(writer::run(
        store,
        rx,
        options.batch_size,
        options.flush_interval,
    ));
    let mut source = ConfigSource::new(config_path, options.secrets.clone());
    let mut plan = Plan::new(&options.region);
    let mut summary = RunSummary::default();
    let semaphore = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut loaded = false;
    let mut reload = tokio::time::interval(options.reload_interval);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);

    'running: loop {
        let wait_ms = plan
            .next_due()
            .map_or(60_000, |due| (due - clock.now_ms()).clamp(0, 60_000));
        tokio::select! {
            biased;
            _ = &mut shutdown => break 'running,
            _ = reload.tick() => {
                if let Some(outcome) = source.poll() {
                    apply(&mut plan, outcome, clock.now_ms(), !loaded);
                    summary.reloads += u64::from(loaded);
                    loaded = true;
                }
            }
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %e, "a probe task failed");
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {
                for (check, scheduled_at_ms) in plan.take_due(clock.now_ms()) {
                    let permit = tokio::select! {
                        biased;
                        _ = &mut shutdown => break 'running,
                        permit = semaphore.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    };
                    summary.executions += 1;
                    let (tx, prober) = (tx.clone(), prober.clone());
                    tasks.spawn(async move {
                        let result = prober.probe(&check, scheduled_at_ms).await;
                        // The permit is held until the queue takes the result, so a slow
                        // store slows probing instead of growing memory.
                        let _ = tx.send(result).await;
                        drop(permit);
                    });
                }
            }
        }
    }

    tracing::info!(
        in_flight = tasks.len(),
        "shutting down: waiting for probes in flight"
    );
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a probe task failed");
        }
    }
    drop(tx);
    match writer.await {
        Ok(stats) => {
            summary.stored = stats.written;
            summary.failed = stats.failed;
        }
        Err(e) => tracing::error!(error = %e, "the result writer failed"),
    }
    tracing::info!(
        executions = summary.executions,
        stored = summary.stored,
        failed = summary.failed,
        "stopped"
    );
    summary
}

fn apply(plan: &mut Plan, outcome: webmon_core::check::LoadOutcome, now_ms: i64, first: bool) {
    config::log_errors(&outcome.errors);
    let errors = outcome.errors.len();
    let (checks, kept) = config::merge(&plan.checks(), outcome);
    if !kept.is_empty() {
        tracing::warn!(kept = ?kept, "invalid new versions: these checks keep running their previous version");
    }
    plan.replace(checks, now_ms);
    if first {
        tracing::info!(checks = plan.len(), errors, "config loaded");
    } else {
        tracing::info!(checks = plan.len(), errors, "config reloaded");
    }
    if plan.is_empty() {
        tracing::warn!("no valid check runs in this region; waiting for the config file to change");
    }
}
