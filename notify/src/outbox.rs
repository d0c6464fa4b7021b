//! A delivery outbox a runner can persist (serde): one entry per (notification,
//! channel), with attempts and the time of the next attempt. Enqueueing is idempotent by
//! (notification id, channel), so re-enqueueing the intents of a replayed evaluation
//! never sends twice. Retries follow [`RetryPolicy`] and `Retry-After`; an entry fails
//! for good on a non-retriable error, after `max_attempts`, or after `max_age`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Channel, Delivery, Notification, NotifyError, RetryPolicy};

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Delivered.
    Sent,
    /// Given up.
    Failed,
}

/// One delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The notification id.
    pub intent_id: String,
    /// The channel id.
    pub channel_id: String,
    /// What to send.
    pub notification: Notification,
    /// Attempts made.
    pub attempts: u32,
    /// When it was enqueued, Unix milliseconds.
    pub created_at_ms: i64,
    /// Earliest next attempt, Unix milliseconds.
    pub next_attempt_at_ms: i64,
    /// Status.
    pub status: OutboxStatus,
    /// Last failure.
    pub last_error: Option<String>,
    /// Provider reference of the delivery.
    pub reference: Option<String>,
}

/// The outbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    /// Entries, in enqueue order.
    pub entries: Vec<OutboxEntry>,
    /// Attempts per entry (and backoff).
    #[serde(skip, default)]
    pub policy: OutboxPolicy,
}

/// Limits of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxPolicy {
    /// Backoff and attempt count.
    pub retry: RetryPolicy,
    /// An entry older than this fails instead of being retried.
    pub max_age: Duration,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts: 12,
                base: Duration::from_secs(5),
                max_delay: Duration::from_secs(600),
            },
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl Outbox {
    /// Adds one pending entry per channel of each notification, unless present.
    pub fn enqueue(&mut self, notifications: &[Notification], now_ms: i64) {
        for n in notifications {
            for channel in &n.channels {
                let present = self
                    .entries
                    .iter()
                    .any(|e| e.intent_id == n.id && &e.channel_id == channel);
                if !present {
                    self.entries.push(OutboxEntry {
                        intent_id: n.id.clone(),
                        channel_id: channel.clone(),
                        notification: n.clone(),
                        attempts: 0,
                        created_at_ms: now_ms,
                        next_attempt_at_ms: now_ms,
                        status: OutboxStatus::Pending,
                        last_error: None,
                        reference: None,
                    });
                }
            }
        }
    }

    /// Indexes of entries due at `now_ms`.
    pub fn due(&self, now_ms: i64) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|i| {
                let e = &self.entries[*i];
                e.status == OutboxStatus::Pending && e.next_attempt_at_ms <= now_ms
            })
            .collect()
    }

    /// Records the outcome of an attempt on entry `index`.
    pub fn record(&mut self, index: usize, outcome: &Result<Delivery, NotifyError>, now_ms: i64) {
        let policy = self.policy;
        let e = &mut self.entries[index];
        e.attempts += 1;
        match outcome {
            Ok(d) => {
                e.status = OutboxStatus::Sent;
                e.reference = d.reference.clone();
                e.last_error = None;
            }
            Err(err) => {
                e.last_error = Some(err.to_string());
                let too_old = now_ms - e.created_at_ms >= policy.max_age.as_millis() as i64;
                if !err.is_retriable() || e.attempts >= policy.retry.max_attempts || too_old {
                    e.status = OutboxStatus::Failed;
                } else {
                    e.next_attempt_at_ms =
                        now_ms + policy.retry.delay(e.attempts, err).as_millis() as i64;
                }
            }
        }
    }

    /// Attempts every due entry once, in order. Returns how many were delivered.
    pub async fn deliver_due(
        &mut self,
        channels: &BTreeMap<String, Box<dyn Channel>>,
        now_ms: i64,
    ) -> usize {
        let mut delivered = 0;
        for index in self.due(now_ms) {
            let e = &self.entries[index];
            let outcome = match channels.get(&e.channel_id) {
                Some(channel) => channel.send(&e.notification).await,
                None => Err(NotifyError::Config {
                    channel: e.channel_id.clone(),
                    reason: "no such channel is configured".into(),
                }),
            };
            delivered += usize::from(outcome.is_ok());
            self.record(index, &outcome, now_ms);
        }
        delivered
    }

    /// Forgets sent and failed entries created before `before_ms`.
    pub fn prune(&mut self, before_ms: i64) {
        self.entries
            .retain(|e| e.status == OutboxStatus::Pending || e.created_at_ms >= before_ms);
    }
}
