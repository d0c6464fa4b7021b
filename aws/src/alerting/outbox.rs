//! The outbox items of the alert table: claim, record the outcome, list what is due.
//!
//! A delivery is claimed with a conditional update (`pending` and due, or `sending`
//! whose lease ran out -> `sending` with a new lease), so two notifier invocations never
//! send the same item at once. The claim moves `next_at` to the end of the lease: if the
//! claimer dies after the provider accepted, the sweeper finds the item due again when
//! the lease ends and sends it once more, with the same id (the receiver's dedup key).
//! That crash window is the only source of duplicates.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use webmon_core::alert::NotificationIntent;

use super::table::{number, outbox_key, text, AlertTable, DUE_INDEX};
use crate::AwsError;

/// How long a claim lasts before another invocation may take the item over.
pub const DEFAULT_LEASE_MS: i64 = 60_000;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for an attempt.
    Pending,
    /// Claimed by an invocation.
    Sending,
    /// Delivered.
    Sent,
    /// Given up.
    Failed,
}

impl Status {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// One delivery item.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The notification.
    pub notification: NotificationIntent,
    /// The channel id.
    pub channel: String,
    /// Status.
    pub status: Status,
    /// Attempts made (a claim counts as one).
    pub attempts: u32,
    /// When it was enqueued.
    pub created_at_ms: i64,
    /// Earliest next attempt.
    pub next_at_ms: i64,
}

fn parse(item: &HashMap<String, AttributeValue>) -> Result<Delivery, AwsError> {
    let codec = |reason: String| AwsError::Codec {
        what: format!(
            "decode outbox item {}",
            text(item, "pk").unwrap_or_default()
        ),
        reason,
    };
    let notification = serde_json::from_str(&text(item, "notification").unwrap_or_default())
        .map_err(|e| codec(e.to_string()))?;
    let status = text(item, "status")
        .as_deref()
        .and_then(Status::parse)
        .ok_or_else(|| codec("no valid status".into()))?;
    Ok(Delivery {
        notification,
        channel: text(item, "channel").unwrap_or_default(),
        status,
        attempts: number(item, "attempts").unwrap_or(0).max(0) as u32,
        created_at_ms: number(item, "created_at").unwrap_or(0),
        next_at_ms: number(item, "next_at").unwrap_or(0),
    })
}

/// The outcome of an attempt, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered; the provider's reference, if any.
    Sent(Option<String>),
    /// Try again at `next_at_ms`.
    Retry {
        /// Why it failed.
        error: String,
        /// Next attempt.
        next_at_ms: i64,
    },
    /// Given up.
    Failed(String),
}

impl AlertTable {
    /// A delivery item (strongly consistent), `None` when absent.
    pub async fn delivery(
        &self,
        intent_id: &str,
        channel: &str,
    ) -> Result<Option<Delivery>, AwsError> {
        let (pk, sk) = outbox_key(intent_id, channel);
        let client: &Client = self.client();
        let out = client
            .get_item()
            .table_name(self.name())
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "GetItem", e))?;
        out.item.as_ref().map(parse).transpose()
    }

    /// Claims a delivery for `lease_ms`; `None` when it is not due, already claimed,
    /// or done.
    pub async fn claim(
        &self,
        intent_id: &str,
        channel: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<Delivery>, AwsError> {
        let (pk, sk) = outbox_key(intent_id, channel);
        let client: &Client = self.client();
        let out = client
            .update_item()
            .table_name(self.name())
            .set_key(Some(Self::key(pk, sk)))
            .update_expression("SET #st = :sending, next_at = :lease, attempts = attempts + :one")
            .condition_expression(
                "(#st = :pending AND next_at <= :now) OR (#st = :sending AND next_at <= :now)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .expression_attribute_values(
                ":lease",
                AttributeValue::N((now_ms + lease_ms).to_string()),
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => out.attributes.as_ref().map(parse).transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(AwsError::call("dynamodb", "UpdateItem", e)),
        }
    }

    /// Records the outcome of the attempt made under the claim that set `attempts`.
    /// Returns false when the claim was lost meanwhile (another invocation took over).
    pub async fn record(
        &self,
        intent_id: &str,
        channel: &str,
        attempts: u32,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<bool, AwsError> {
        let (pk, sk) = outbox_key(intent_id, channel);
        let client: &Client = self.client();
        let request = client
            .update_item()
            .table_name(self.name())
            .set_key(Some(Self::key(pk, sk)))
            .condition_expression("#st = :sending AND attempts = :attempts")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(":attempts", AttributeValue::N(attempts.to_string()))
            .expression_attribute_values(":at", AttributeValue::N(now_ms.to_string()));
        let request = match outcome {
            Outcome::Sent(reference) => request
                .update_expression("SET #st = :sent, done_at = :at, provider_ref = :ref REMOVE due")
                .expression_attribute_values(":sent", AttributeValue::S("sent".into()))
                .expression_attribute_values(
                    ":ref",
                    AttributeValue::S(reference.clone().unwrap_or_default()),
                ),
            Outcome::Retry { error, next_at_ms } => request
                .update_expression(
                    "SET #st = :pending, next_at = :next, last_error = :err, tried_at = :at",
                )
                .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
                .expression_attribute_values(":next", AttributeValue::N(next_at_ms.to_string()))
                .expression_attribute_values(":err", AttributeValue::S(error.clone())),
            Outcome::Failed(error) => request
                .update_expression("SET #st = :failed, done_at = :at, last_error = :err REMOVE due")
                .expression_attribute_values(":failed", AttributeValue::S("failed".into()))
                .expression_attribute_values(":err", AttributeValue::S(error.clone())),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::call("dynamodb", "UpdateItem", e)),
        }
    }

    /// Deliveries due at `now_ms` (pending, or claimed with an expired lease), oldest
    /// first, at most `limit`: `(intent id, channel)`.
    pub async fn due(&self, now_ms: i64, limit: i32) -> Result<Vec<(String, String)>, AwsError> {
        let client: &Client = self.client();
        let out = client
            .query()
            .table_name(self.name())
            .index_name(DUE_INDEX)
            .key_condition_expression("due = :due AND next_at <= :now")
            .expression_attribute_values(":due", AttributeValue::S("due".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .limit(limit)
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "Query", e))?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| {
                let intent = text(i, "pk")?.strip_prefix("NOTIFY#")?.to_string();
                let channel = text(i, "sk")?.strip_prefix("CH#")?.to_string();
                Some((intent, channel))
            })
            .collect())
    }
}
