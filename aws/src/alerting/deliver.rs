//! Delivery of outbox items: the notifier Lambda (the alert table's stream, new
//! `NOTIFY#` items) and the sweeper (items due for a retry, or whose claim expired).
//!
//! One attempt: read the item; wait (leave it pending) while the previous notification
//! of the same incident on the same channel is not done, so a channel never sees
//! "resolved" before "triggered"; claim it ([`AlertTable::claim`]); send, bounded by a
//! timeout; record sent, a retry time (backoff, or the provider's `Retry-After`), or
//! failure (a permanent error, 12 attempts, or 24 hours). A stream record is reported
//! failed only when DynamoDB could not be reached; a slow or failing provider never
//! holds the stream: its retries go through the `due` index.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use webmon_core::ports::Clock;
use webmon_notify::outbox::OutboxPolicy;
use webmon_notify::{Channel, NotifyError};

use super::channels::AwsChannelClients;
use super::outbox::{Outcome, Status};
use super::table::AlertTable;
use crate::AwsError;

/// Channels are rebuilt (document and secrets re-read) after this long.
const CHANNELS_TTL_MS: i64 = 60_000;

/// Settings of delivery.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Claim lease.
    pub lease: Duration,
    /// Longest single attempt.
    pub send_timeout: Duration,
    /// Attempts, backoff and age limit.
    pub policy: OutboxPolicy,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_millis(super::outbox::DEFAULT_LEASE_MS as u64),
            send_timeout: Duration::from_secs(15),
            policy: OutboxPolicy::default(),
        }
    }
}

/// What one attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered.
    Sent,
    /// Failed; will be retried.
    Retry,
    /// Given up.
    Failed,
    /// Waits for an earlier notification of its incident on the channel.
    Waiting,
    /// Not due, done, claimed by another invocation, or gone.
    Skipped,
}

/// Counts of attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Delivered.
    pub sent: usize,
    /// To retry.
    pub retry: usize,
    /// Given up.
    pub failed: usize,
    /// Waiting for an earlier one.
    pub waiting: usize,
    /// Skipped.
    pub skipped: usize,
}

impl Delivered {
    fn add(&mut self, a: Attempt) {
        match a {
            Attempt::Sent => self.sent += 1,
            Attempt::Retry => self.retry += 1,
            Attempt::Failed => self.failed += 1,
            Attempt::Waiting => self.waiting += 1,
            Attempt::Skipped => self.skipped += 1,
        }
    }
}

struct Built {
    channels: BTreeMap<String, Arc<dyn Channel>>,
    at_ms: i64,
}

/// Delivers outbox items.
pub struct Notifier {
    table: AlertTable,
    clients: AwsChannelClients,
    settings: DeliverySettings,
    built: tokio::sync::Mutex<Option<Built>>,
}

impl Notifier {
    /// A notifier for `table`, building channels with `clients`.
    pub fn new(table: AlertTable, clients: AwsChannelClients, settings: DeliverySettings) -> Self {
        Self {
            table,
            clients,
            settings,
            built: tokio::sync::Mutex::new(None),
        }
    }

    async fn channel(&self, id: &str, now_ms: i64) -> Result<Option<Arc<dyn Channel>>, AwsError> {
        let mut built = self.built.lock().await;
        if built
            .as_ref()
            .is_none_or(|b| now_ms - b.at_ms >= CHANNELS_TTL_MS)
        {
            let document = self.table.document().await?.unwrap_or_default();
            let outcome = document.build(&[], &[]);
            for e in &outcome.errors {
                tracing::warn!(field = %e.field, value = %e.value, reason = %e.reason, "alerting document problem");
            }
            let configs: Vec<_> = outcome.config.channels.into_values().collect();
            *built = Some(Built {
                channels: self.clients.build(&configs).await,
                at_ms: now_ms,
            });
        }
        Ok(built.as_ref().and_then(|b| b.channels.get(id).cloned()))
    }

    /// One attempt at the delivery of `intent_id` to `channel`.
    pub async fn deliver(
        &self,
        intent_id: &str,
        channel: &str,
        clock: &dyn Clock,
    ) -> Result<Attempt, AwsError> {
        let Some(item) = self.table.delivery(intent_id, channel).await? else {
            return Ok(Attempt::Skipped);
        };
        if matches!(item.status, Status::Sent | Status::Failed) {
            return Ok(Attempt::Skipped);
        }
        if let Some(incident) = item.notification.incident_id.as_deref() {
            if item.notification.seq > 1 {
                let previous = format!("{incident}:{}", item.notification.seq - 1);
                if let Some(p) = self.table.delivery(&previous, channel).await? {
                    if matches!(p.status, Status::Pending | Status::Sending) {
                        return Ok(Attempt::Waiting);
                    }
                }
            }
        }
        let now = clock.now_ms();
        let lease = self.settings.lease.as_millis() as i64;
        let Some(claimed) = self.table.claim(intent_id, channel, now, lease).await? else {
            return Ok(Attempt::Skipped);
        };
        let n = &claimed.notification;
        let outcome = match self.channel(channel, now).await? {
            Some(c) => match tokio::time::timeout(self.settings.send_timeout, c.send(n)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(NotifyError::Transport {
                    channel: channel.to_string(),
                    reason: format!("no answer within {:?}", self.settings.send_timeout),
                }),
            },
            None => Err(NotifyError::Config {
                channel: channel.to_string(),
                reason: "no such channel is configured (or it cannot be built)".into(),
            }),
        };
        let now = clock.now_ms();
        let (record, attempt) = match outcome {
            Ok(d) => {
                tracing::info!(id = %n.id, channel, kind = n.kind.as_str(), "notification delivered");
                (Outcome::Sent(d.reference), Attempt::Sent)
            }
            Err(e) => {
                let policy = &self.settings.policy;
                let too_old = now - claimed.created_at_ms >= policy.max_age.as_millis() as i64;
                let give_up =
                    !e.is_retriable() || claimed.attempts >= policy.retry.max_attempts || too_old;
                tracing::warn!(id = %n.id, channel, attempt = claimed.attempts, give_up, error = %e, "notification not delivered");
                if give_up {
                    (Outcome::Failed(e.to_string()), Attempt::Failed)
                } else {
                    let delay = policy.retry.delay(claimed.attempts, &e);
                    (
                        Outcome::Retry {
                            error: e.to_string(),
                            next_at_ms: now + delay.as_millis() as i64,
                        },
                        Attempt::Retry,
                    )
                }
            }
        };
        if !self
            .table
            .record(intent_id, channel, claimed.attempts, &record, now)
            .await?
        {
            tracing::warn!(id = %n.id, channel, "the claim expired before the outcome was recorded; another attempt took over");
        }
        Ok(attempt)
    }

    /// Handles a batch of the table's stream: every inserted `NOTIFY#` item is attempted
    /// once. Records are reported failed only when DynamoDB itself failed.
    pub async fn handle_stream(
        &self,
        event: Event,
        clock: &dyn Clock,
    ) -> (DynamoDbEventResponse, Delivered) {
        let mut done = Delivered::default();
        let mut response = DynamoDbEventResponse::default();
        for record in event.records {
            if record.event_name != "INSERT" {
                continue;
            }
            let key = |name: &str| match record.change.keys.get(name) {
                Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            };
            let (Some(pk), Some(sk)) = (key("pk"), key("sk")) else {
                continue;
            };
            let (Some(intent), Some(channel)) =
                (pk.strip_prefix("NOTIFY#"), sk.strip_prefix("CH#"))
            else {
                continue;
            };
            match self.deliver(intent, channel, clock).await {
                Ok(a) => done.add(a),
                Err(e) => {
                    tracing::error!(id = intent, channel, error = %e, "delivery could not be attempted; the stream record is retried");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = record.change.sequence_number.clone();
                    response.batch_item_failures.push(failure);
                    // Later records of the shard are retried with it, in order.
                    break;
                }
            }
        }
        (response, done)
    }

    /// Attempts the deliveries due now (retries, expired claims, waiting ones), at most
    /// `limit`.
    pub async fn deliver_due(&self, limit: i32, clock: &dyn Clock) -> Result<Delivered, AwsError> {
        let mut done = Delivered::default();
        for (intent, channel) in self.table.due(clock.now_ms(), limit).await? {
            done.add(self.deliver(&intent, &channel, clock).await?);
        }
        Ok(done)
    }
}
