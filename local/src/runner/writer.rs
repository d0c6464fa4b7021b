//! The batching writer: drains the in-process result queue into a [`ResultStore`],
//! flushing every `batch_size` results or every `flush_interval`, whichever comes
//! first, and once more when the queue closes, so nothing queued is lost on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use webmon_core::ports::{PortError, ResultStore};
use webmon_core::result::ProbeResult;

/// Attempts per batch for retriable failures.
const ATTEMPTS: u32 = 5;

/// What the writer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Results handed to the store successfully.
    pub written: u64,
    /// Results the store refused after retries (each logged as an error).
    pub failed: u64,
    /// Store calls made.
    pub batches: u64,
}

/// Runs until every sender of `rx` is dropped and the queue is empty.
pub async fn run<S: ResultStore>(
    store: Arc<S>,
    mut rx: mpsc::Receiver<ProbeResult>,
    batch_size: usize,
    flush_interval: Duration,
) -> WriterStats {
    let batch_size = batch_size.max(1);
    let mut stats = WriterStats::default();
    let mut buf = Vec::with_capacity(batch_size);
    let mut tick = tokio::time::interval(flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = rx.recv() => match received {
                Some(result) => {
                    buf.push(result);
                    if buf.len() >= batch_size {
                        flush(store.as_ref(), &mut buf, &mut stats).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                if !buf.is_empty() {
                    flush(store.as_ref(), &mut buf, &mut stats).await;
                }
            }
        }
    }
    flush(store.as_ref(), &mut buf, &mut stats).await;
    stats
}

async fn flush<S: ResultStore>(store: &S, buf: &mut Vec<ProbeResult>, stats: &mut WriterStats) {
    if buf.is_empty() {
        return;
    }
    let batch = std::mem::take(buf);
    match write_with_retry(store, &batch, stats).await {
        Ok(()) => stats.written += batch.len() as u64,
        // One bad row must not take its batch down with it: write one by one, so only
        // the rows the store really refuses are lost, each logged by name.
        Err(e) if batch.len() > 1 => {
            tracing::warn!(error = %e, results = batch.len(), "batch write failed; writing results one by one");
            for result in batch {
                match write_with_retry(store, std::slice::from_ref(&result), stats).await {
                    Ok(()) => stats.written += 1,
                    Err(e) => {
                        stats.failed += 1;
                        tracing::error!(check_id = %result.check_id, scheduled_at_ms = result.scheduled_at_ms, error = %e, "failed to store a result");
                    }
                }
            }
        }
        Err(e) => {
            stats.failed += 1;
            tracing::error!(check_id = %batch[0].check_id, scheduled_at_ms = batch[0].scheduled_at_ms, error = %e, "failed to store a result");
        }
    }
}

async fn write_with_retry<S: ResultStore>(
    store: &S,
    batch: &[ProbeResult],
    stats: &mut WriterStats,
) -> Result<(), PortError> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        stats.batches += 1;
        match store.write(batch).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retriable() && attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "store write failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
