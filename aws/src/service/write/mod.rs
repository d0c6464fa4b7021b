//! The writer Lambda: SQS result messages -> the result store (Timestream).
//!
//! All results of an invocation's messages are written together, 100 per call, and
//! each message is acknowledged on its own: a message is reported failed (so SQS retries
//! it, then moves it to the dead-letter queue) when it cannot be decoded, holds a result
//! that does not parse, or has a result the store refused or could not take. Rewriting
//! the results of a retried message is harmless: identical records count as written.
//!
//! With alerting on ([`handle_then`]), the results of every message that was stored
//! whole are then handed to an [`AfterStore`] (the alert evaluator); a message whose
//! checks could not be evaluated is reported failed too, and its retry re-evaluates
//! them (duplicates change nothing).

pub mod poll;

use std::time::Instant;

use crate::alerting::AlertEvaluator;
use crate::envelope;
use crate::store::BatchStore;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use webmon_core::ports::CheckRepository;
use webmon_core::result::ProbeResult;

/// What runs on the results of the messages that were stored whole.
pub trait AfterStore: Send + Sync {
    /// Handles stored results; returns the check ids that failed (their messages are
    /// retried).
    fn stored<'a>(&'a self, results: &'a [ProbeResult]) -> BoxFuture<'a, Vec<String>>;
}

/// Nothing after storing.
pub struct StoreOnly;

impl AfterStore for StoreOnly {
    fn stored<'a>(&'a self, _: &'a [ProbeResult]) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}

impl<R: CheckRepository> AfterStore for AlertEvaluator<R> {
    fn stored<'a>(&'a self, results: &'a [ProbeResult]) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let applied = self.apply(results).await;
            tracing::info!(
                skipped = applied.skipped,
                read = applied.read,
                committed = applied.committed,
                intents = applied.intents,
                conflicts = applied.conflicts,
                failed = applied.failed.len(),
                "alerts evaluated"
            );
            applied.failed
        })
    }
}

/// What one invocation did, logged as its summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Messages received.
    pub messages: usize,
    /// Results decoded.
    pub results: usize,
    /// Results stored.
    pub written: usize,
    /// Results refused for good by the store.
    pub rejected: usize,
    /// Results whose write failed and will be retried.
    pub failed: usize,
    /// Messages that could not be decoded, or held results that did not parse.
    pub undecodable: usize,
    /// Messages reported failed.
    pub failed_messages: usize,
    /// Store calls made.
    pub store_calls: usize,
    /// Messages reported failed because their checks could not be evaluated.
    pub alert_failed_messages: usize,
}

/// Handles one SQS event; returns the messages to retry.
pub async fn handle<S: BatchStore>(store: &S, event: SqsEvent) -> (SqsBatchResponse, Summary) {
    handle_then(store, &StoreOnly, event).await
}

/// Handles one SQS event, then hands what was stored to `after`.
pub async fn handle_then<S: BatchStore, A: AfterStore + ?Sized>(
    store: &S,
    after: &A,
    event: SqsEvent,
) -> (SqsBatchResponse, Summary) {
    let started = Instant::now();
    let mut summary = Summary {
        messages: event.records.len(),
        ..Default::default()
    };
    let mut failed_ids: Vec<String> = Vec::new();
    let mut results: Vec<ProbeResult> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for (m, message) in event.records.iter().enumerate() {
        let id = message
            .message_id
            .clone()
            .unwrap_or_else(|| format!("<message {m}>"));
        ids.push(id.clone());
        match envelope::decode(message.body.as_deref().unwrap_or_default()) {
            Ok(decoded) => {
                for (index, reason) in &decoded.invalid {
                    tracing::error!(message_id = %id, index, reason = %reason, "a result in the message does not parse");
                }
                if !decoded.invalid.is_empty() {
                    summary.undecodable += 1;
                    failed_ids.push(id.clone());
                }
                owner.extend(std::iter::repeat_n(m, decoded.results.len()));
                // Results from older probes may carry uncapped text; cap before storing.
                results.extend(decoded.results.into_iter().map(|mut r| {
                    r.cap_text_fields();
                    r
                }));
            }
            Err(reason) => {
                tracing::error!(message_id = %id, reason = %reason, "the message is not a result envelope; it will go to the dead-letter queue");
                summary.undecodable += 1;
                failed_ids.push(id);
            }
        }
    }
    summary.results = results.len();
    if !results.is_empty() {
        let report = store.write_detailed(&results).await;
        summary.written = report.written;
        summary.rejected = report.rejected.len();
        summary.failed = report.failed.len();
        summary.store_calls = report.calls;
        for index in report
            .failed
            .iter()
            .copied()
            .chain(report.rejected.iter().map(|(i, _)| *i))
        {
            match owner.get(index).and_then(|m| ids.get(*m)) {
                Some(id) => {
                    if !failed_ids.contains(id) {
                        failed_ids.push(id.clone());
                    }
                }
                None => {
                    // The store named a result that was not given: which message it
                    // meant is unknown, so every message is retried (rewrites are
                    // harmless).
                    tracing::error!(index, results = results.len(), "the store reported a result index outside the batch; every message will be retried");
                    for id in &ids {
                        if !failed_ids.contains(id) {
                            failed_ids.push(id.clone());
                        }
                    }
                }
            }
        }
        if let Some(error) = &report.error {
            tracing::warn!(error = %error, failed = report.failed.len(), "some writes failed; their messages will be retried");
        }
    }
    let stored: Vec<ProbeResult> = results
        .iter()
        .zip(&owner)
        .filter(|(_, m)| !failed_ids.contains(&ids[**m]))
        .map(|(r, _)| r.clone())
        .collect();
    if !stored.is_empty() {
        let failed_checks = after.stored(&stored).await;
        for (r, m) in results.iter().zip(&owner) {
            if failed_checks.contains(&r.check_id) && !failed_ids.contains(&ids[*m]) {
                failed_ids.push(ids[*m].clone());
                summary.alert_failed_messages += 1;
            }
        }
    }
    summary.failed_messages = failed_ids.len();
    tracing::info!(
        messages = summary.messages,
        results = summary.results,
        written = summary.written,
        rejected = summary.rejected,
        failed = summary.failed,
        undecodable = summary.undecodable,
        failed_messages = summary.failed_messages,
        store_calls = summary.store_calls,
        duration_ms = started.elapsed().as_millis() as u64,
        "writer invocation done"
    );
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed_ids
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    (response, summary)
}
