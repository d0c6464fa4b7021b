//! The result queue in SQS, a [`ResultQueue`]: results are packed into as few messages
//! as fit ([`crate::envelope`]) and sent with `SendMessageBatch`; failed entries are
//! retried with backoff, and still failing ones make the send an error.

use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use tracing::Instrument;
use webmon_core::ports::{PortError, ResultQueue};
use webmon_core::result::ProbeResult;

use crate::envelope;
use crate::AwsError;

/// Environment variable holding the queue URL.
pub const QUEUE_URL_ENV: &str = "WEBMON_QUEUE_URL";
/// Environment variable holding the queue's region (the home region).
pub const QUEUE_REGION_ENV: &str = "WEBMON_QUEUE_REGION";

/// Retry policy for failed batch entries.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Delay before the second attempt; doubled each time.
    pub first_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// The results queue.
#[derive(Debug, Clone)]
pub struct SqsResultQueue {
    client: Client,
    queue_url: String,
    backoff: Backoff,
    max_message_bytes: usize,
}

/// A received message (for the tests and the benchmark, which play Lambda's poller).
#[derive(Debug, Clone)]
pub struct Received {
    /// Message id.
    pub message_id: String,
    /// Receipt handle, to delete it.
    pub receipt_handle: String,
    /// Body.
    pub body: String,
}

impl SqsResultQueue {
    /// Wraps a client and a queue URL.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            backoff: Backoff::default(),
            max_message_bytes: envelope::MAX_MESSAGE_BYTES,
        }
    }

    /// Sets the retry policy.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Caps message bodies below SQS's 256 KiB (e.g. 64 KiB, one billed request each).
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes.clamp(4096, envelope::MAX_MESSAGE_BYTES);
        self
    }

    /// Region named in a real SQS queue URL (`https://sqs.<region>.amazonaws.com/...`).
    pub fn region_of_url(url: &str) -> Option<String> {
        let host = url.split("://").nth(1)?.split('/').next()?;
        let mut parts = host.split('.');
        (parts.next()? == "sqs")
            .then(|| parts.next().map(str::to_string))
            .flatten()
    }

    /// Sends results; returns the number of messages sent.
    pub async fn send_results(&self, results: &[ProbeResult]) -> Result<usize, AwsError> {
        if results.is_empty() {
            return Ok(0);
        }
        let bodies = envelope::encode(results, self.max_message_bytes)?;
        for range in envelope::batches(&bodies) {
            self.send_batch(&bodies[range.clone()], range.start).await?;
        }
        Ok(bodies.len())
    }

    async fn send_batch(&self, bodies: &[String], first_id: usize) -> Result<(), AwsError> {
        let mut pending: Vec<(String, &String)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("m{}", first_id + i), b))
            .collect();
        let total = pending.len();
        let mut delay = self.backoff.first_delay;
        let mut last_reason = String::new();
        for attempt in 1..=self.backoff.attempts {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body.as_str())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AwsError::Codec {
                    what: "build a SendMessageBatch entry".into(),
                    reason: e.to_string(),
                })?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .instrument(tracing::info_span!(
                    "aws.sqs.SendMessageBatch",
                    entries = pending.len(),
                    attempt
                ))
                .await;
            match sent {
                Ok(out) => {
                    let mut retry = Vec::new();
                    for failed in out.failed {
                        last_reason =
                            format!("{}: {}", failed.code, failed.message.unwrap_or_default());
                        if failed.sender_fault && !crate::error::is_retriable_code(&failed.code) {
                            return Err(AwsError::Partial {
                                what: "send result messages".into(),
                                failed: 1,
                                total,
                                attempts: attempt,
                                reason: last_reason,
                            });
                        }
                        retry.push(failed.id);
                    }
                    pending.retain(|(id, _)| retry.contains(id));
                    if pending.is_empty() {
                        return Ok(());
                    }
                    tracing::warn!(failed = pending.len(), attempt, reason = %last_reason, "retrying failed SendMessageBatch entries");
                }
                Err(e) => {
                    let err = AwsError::call("sqs", "SendMessageBatch", e);
                    if !err.is_retriable() {
                        return Err(err);
                    }
                    last_reason = err.to_string();
                    tracing::warn!(attempt, error = %last_reason, "retrying SendMessageBatch");
                }
            }
            if attempt < self.backoff.attempts {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.backoff.max_delay);
            }
        }
        Err(AwsError::Partial {
            what: "send result messages".into(),
            failed: pending.len(),
            total,
            attempts: self.backoff.attempts,
            reason: last_reason,
        })
    }

    /// Receives up to 10 messages (waiting at most `wait_seconds`).
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Received>, AwsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .map_err(|e| AwsError::call("sqs", "ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| Received {
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect())
    }

    /// Deletes received messages (what Lambda's poller does after a successful batch).
    pub async fn delete(&self, messages: &[&Received]) -> Result<(), AwsError> {
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(format!("d{i}"))
                        .receipt_handle(&m.receipt_handle)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AwsError::Codec {
                    what: "build a DeleteMessageBatch entry".into(),
                    reason: e.to_string(),
                })?;
            self.client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AwsError::call("sqs", "DeleteMessageBatch", e))?;
        }
        Ok(())
    }
}

impl ResultQueue for SqsResultQueue {
    async fn send(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        self.send_results(results).await?;
        Ok(())
    }
}

/// Creates a queue (with a dead-letter queue after `max_receives`) and returns the
/// URLs `(queue, dlq)`. Used by the tests, the benchmark and local setups.
pub async fn create_queue_with_dlq(
    client: &Client,
    name: &str,
    max_receives: u32,
) -> Result<(String, String), AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .map_err(|e| AwsError::call("sqs", "CreateQueue", e))?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| AwsError::call("sqs", "GetQueueAttributes", e))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let policy = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string() }).to_string();
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .map_err(|e| AwsError::call("sqs", "CreateQueue", e))?
        .queue_url
        .unwrap_or_default();
    Ok((queue, dlq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_real_queue_urls_only() {
        assert_eq!(
            SqsResultQueue::region_of_url("https://sqs.eu-west-1.amazonaws.com/1/q").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            SqsResultQueue::region_of_url("http://127.0.0.1:5000/1/q"),
            None
        );
    }
}
