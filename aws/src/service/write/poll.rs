//! Plays Lambda's SQS event source mapping: receive up to 10 messages, invoke the
//! handler, delete the ones it did not report failed. Used by the end-to-end tests
//! and `webmon bench cost`, where no Lambda service runs.

use crate::sqs::{Received, SqsResultQueue};
use crate::store::BatchStore;
use crate::AwsError;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

use super::{AfterStore, StoreOnly, Summary};

/// Totals over the invocations of one [`drain`].
#[derive(Debug, Default, Clone)]
pub struct DrainTotals {
    /// Handler invocations.
    pub invocations: usize,
    /// Sum of the invocations' summaries.
    pub summary: Summary,
}

/// Receives and handles until the queue answers empty `empty_polls` times in a row, or
/// `max_invocations` is reached.
pub async fn drain<S: BatchStore>(
    queue: &SqsResultQueue,
    store: &S,
    empty_polls: u32,
    max_invocations: usize,
) -> Result<DrainTotals, AwsError> {
    drain_then(queue, store, &StoreOnly, empty_polls, max_invocations).await
}

/// [`drain`] with alerting (or anything else) after each stored batch.
pub async fn drain_then<S: BatchStore, A: AfterStore + ?Sized>(
    queue: &SqsResultQueue,
    store: &S,
    after: &A,
    empty_polls: u32,
    max_invocations: usize,
) -> Result<DrainTotals, AwsError> {
    let mut totals = DrainTotals::default();
    let mut empty = 0;
    while totals.invocations < max_invocations {
        let received = queue.receive(0).await?;
        if received.is_empty() {
            empty += 1;
            if empty >= empty_polls {
                break;
            }
            continue;
        }
        empty = 0;
        let event = sqs_event(&received);
        let (response, summary) = super::handle_then(store, after, event).await;
        totals.invocations += 1;
        add(&mut totals.summary, &summary);
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let done: Vec<_> = received
            .iter()
            .filter(|r| !failed.contains(&r.message_id.as_str()))
            .collect();
        queue.delete(&done).await?;
    }
    Ok(totals)
}

/// The event Lambda's poller would deliver for these received messages.
pub fn sqs_event(received: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = received
        .iter()
        .map(|r| {
            let mut m = SqsMessage::default();
            m.message_id = Some(r.message_id.clone());
            m.receipt_handle = Some(r.receipt_handle.clone());
            m.body = Some(r.body.clone());
            m.event_source = Some("aws:sqs".into());
            m
        })
        .collect();
    event
}

fn add(total: &mut Summary, s: &Summary) {
    total.messages += s.messages;
    total.results += s.results;
    total.written += s.written;
    total.rejected += s.rejected;
    total.failed += s.failed;
    total.undecodable += s.undecodable;
    total.failed_messages += s.failed_messages;
    total.store_calls += s.store_calls;
    total.alert_failed_messages += s.alert_failed_messages;
}
