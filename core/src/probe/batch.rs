//! Running many scheduled executions with a bounded number in flight.
//!
//! Used by the probe Lambda (jobs from [`crate::schedule::executions_in_trigger`]) and by
//! the benchmarks (`webmon bench probe`); the one-machine runner of `webmon run` has its
//! own loop (`webmon_local::runner`). Each job starts at its scheduled time, at most
//! `concurrency` probes run at once, and every result is sent as soon as it is ready.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::Prober;
use crate::check::Check;
use crate::ports::Clock;
use crate::result::ProbeResult;

/// Probes each `(check, scheduled_at_ms)` job at its scheduled time (as told by `clock`;
/// jobs already due start at once), with at most `concurrency` probes in flight, sending
/// each result to `out` as it completes. Returns when every job has finished, or early
/// (without starting more jobs) if `out` is closed.
pub async fn run_scheduled(
    prober: &Prober,
    mut jobs: Vec<(Check, i64)>,
    concurrency: usize,
    clock: &impl Clock,
    out: mpsc::Sender<ProbeResult>,
) {
    jobs.sort_by_key(|(_, at)| *at);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut running = JoinSet::new();
    for (check, scheduled_at_ms) in jobs {
        let wait_ms = scheduled_at_ms - clock.now_ms();
        if wait_ms > 0 {
            tokio::time::sleep(Duration::from_millis(wait_ms as u64)).await;
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = out.closed() => break,
        };
        let prober = prober.clone();
        let out = out.clone();
        running.spawn(async move {
            let result = prober.probe(&check, scheduled_at_ms).await;
            drop(permit);
            // A closed receiver means the caller stopped listening; nothing to do.
            let _ = out.send(result).await;
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}
