//! The alert table (home region): per-check evaluator state, the notification outbox,
//! probe-region liveness and the alerting document, in one DynamoDB table.
//!
//! | pk | sk | what |
//! | --- | --- | --- |
//! | `CHECK#{id}` | `STATE` | `state` (JSON of `CheckState`), `ver`, `settled`; `active` while not settled (index `active`) |
//! | `NOTIFY#{intent id}` | `CH#{channel}` | one delivery: `notification` (JSON), `status`, `attempts`, `next_at`; `due` while pending (index `due`); TTL `expires_at` |
//! | `LIVENESS` | `{region}` | `last_ms`: newest result time seen from the region; `silent_since` while its silence is an open incident |
//! | `CONFIG` | `ALERTING` | `document`: the `channels`, `alert_defaults` and `maintenance` blocks (JSON) |
//!
//! State and outbox items change together in one `TransactWriteItems`: the state item
//! on the condition that its `ver` is the one read, each outbox item on the condition
//! that it does not exist yet. Either the state change and every notification it asks
//! for are stored, or none is.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, SseSpecification,
    StreamSpecification, StreamViewType, TimeToLiveSpecification, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use webmon_core::alert::{AlertDocument, CheckState, NotificationIntent};

use crate::AwsError;

/// Environment variable naming the alert table.
pub const ALERT_TABLE_ENV: &str = "WEBMON_ALERT_TABLE";
/// Default alert table name.
pub const DEFAULT_ALERT_TABLE: &str = "webmon-alerts";
/// Index of the checks that are not settled (the sweeper's work list).
pub const ACTIVE_INDEX: &str = "active";
/// Index of pending deliveries by next attempt time.
pub const DUE_INDEX: &str = "due";
/// Outbox items are kept this long after they were created.
pub const OUTBOX_KEEP_MS: i64 = 30 * 24 * 3600 * 1000;
/// Most actions in one transaction (a DynamoDB limit).
pub const MAX_TRANSACTION_ACTIONS: usize = 100;

/// A check's stored state and its version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredState {
    /// The evaluator state.
    pub state: CheckState,
    /// Version, incremented by every commit.
    pub ver: u64,
}

/// What a [`AlertTable::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Stored.
    Done,
    /// Someone else changed the state since it was read: read again and recompute.
    Conflict,
}

/// The alert table.
#[derive(Debug, Clone)]
pub struct AlertTable {
    client: Client,
    name: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The string attribute `name` of an item.
pub(crate) fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// The number attribute `name` of an item.
pub(crate) fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Key of a check's state item.
pub fn state_key(check_id: &str) -> (String, String) {
    (format!("CHECK#{check_id}"), "STATE".into())
}

/// Key of one delivery of a notification.
pub fn outbox_key(intent_id: &str, channel: &str) -> (String, String) {
    (format!("NOTIFY#{intent_id}"), format!("CH#{channel}"))
}

impl AlertTable {
    /// Wraps a client and a table name.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client (for the outbox and sweeper modules).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// A key attribute map.
    pub(crate) fn key(pk: String, sk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
    }

    /// Creates the table as the Pulumi program declares it (keys, stream, both indexes,
    /// encryption, TTL) unless it exists. For tests and `webmon alerts create-table`.
    pub async fn ensure_table(&self) -> Result<(), AwsError> {
        if self
            .client
            .describe_table()
            .table_name(&self.name)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        let attr = |name: &str, t: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .expect("complete")
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .expect("complete")
        };
        let index = |name: &str, hash: &str, range: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(hash, KeyType::Hash))
                .key_schema(key(range, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .expect("complete")
        };
        self.client
            .create_table()
            .table_name(&self.name)
            .attribute_definitions(attr("pk", ScalarAttributeType::S))
            .attribute_definitions(attr("sk", ScalarAttributeType::S))
            .attribute_definitions(attr("active", ScalarAttributeType::S))
            .attribute_definitions(attr("due", ScalarAttributeType::S))
            .attribute_definitions(attr("next_at", ScalarAttributeType::N))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .global_secondary_indexes(index(ACTIVE_INDEX, "active", "pk"))
            .global_secondary_indexes(index(DUE_INDEX, "due", "next_at"))
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "CreateTable", e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "UpdateTimeToLive", e))?;
        Ok(())
    }

    /// A check's state (strongly consistent read), `None` before its first commit.
    pub async fn state(&self, check_id: &str) -> Result<Option<StoredState>, AwsError> {
        let (pk, sk) = state_key(check_id);
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let json = text(&item, "state").unwrap_or_default();
        let state = serde_json::from_str(&json).map_err(|e| AwsError::Codec {
            what: format!("decode the alert state of check {check_id}"),
            reason: e.to_string(),
        })?;
        Ok(Some(StoredState {
            state,
            ver: number(&item, "ver").unwrap_or(0).max(0) as u64,
        }))
    }

    /// Stores `next` (as version `prev + 1`) and one pending delivery per channel of
    /// every intent, all or nothing. `prev` is the version read (`None`: no item yet).
    pub async fn commit(
        &self,
        check_id: &str,
        prev: Option<u64>,
        next: &CheckState,
        intents: &[NotificationIntent],
        now_ms: i64,
    ) -> Result<Commit, AwsError> {
        let codec = |e: serde_json::Error| AwsError::Codec {
            what: format!("encode the alert state of check {check_id}"),
            reason: e.to_string(),
        };
        let state_json = serde_json::to_string(next).map_err(codec)?;
        let ver = prev.map_or(1, |v| v + 1);
        let settled = webmon_core::alert::is_settled(next);
        let (pk, sk) = state_key(check_id);
        let mut item = Self::key(pk, sk);
        item.insert("state".into(), s(state_json.clone()));
        item.insert("ver".into(), n(ver));
        item.insert("settled".into(), AttributeValue::Bool(settled));
        item.insert("updated_at".into(), n(now_ms));
        if !settled {
            item.insert("active".into(), s("active"));
        }
        let mut put = Put::builder().table_name(&self.name).set_item(Some(item));
        put = match prev {
            Some(v) => put
                .condition_expression("ver = :prev")
                .expression_attribute_values(":prev", n(v)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        let mut actions = vec![TransactWriteItem::builder()
            .put(put.build().expect("complete"))
            .build()];
        let mut token = xxhash_rust::xxh3::Xxh3::new();
        token.update(check_id.as_bytes());
        token.update(&ver.to_le_bytes());
        token.update(state_json.as_bytes());
        for intent in intents {
            let json = serde_json::to_string(intent).map_err(codec)?;
            token.update(json.as_bytes());
            for channel in &intent.channels {
                actions.push(
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.name)
                                .set_item(Some(outbox_item(intent, &json, channel, now_ms)))
                                .condition_expression("attribute_not_exists(pk)")
                                .build()
                                .expect("complete"),
                        )
                        .build(),
                );
            }
        }
        if actions.len() > MAX_TRANSACTION_ACTIONS {
            return Err(AwsError::Codec {
                what: format!("commit the alert state of check {check_id}"),
                reason: format!(
                    "{} deliveries in one evaluation; at most {} fit one transaction (fewer channels per route)",
                    actions.len() - 1,
                    MAX_TRANSACTION_ACTIONS - 1
                ),
            });
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .client_request_token(format!("{:032x}", token.digest128()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Commit::Done),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons().iter().any(|r| {
                        matches!(
                            r.code(),
                            Some("ConditionalCheckFailed") | Some("TransactionConflict")
                        )
                    }) =>
                {
                    Ok(Commit::Conflict)
                }
                _ => Err(AwsError::call("dynamodb", "TransactWriteItems", e)),
            },
        }
    }

    /// The ids of the checks that are not settled (index `active`).
    pub async fn active_checks(&self) -> Result<Vec<String>, AwsError> {
        let mut ids = Vec::new();
        let mut start = None;
        // Bounded: each page moves the cursor forward; 10,000 pages is far beyond any table.
        for _ in 0..10_000 {
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .index_name(ACTIVE_INDEX)
                .key_condition_expression("active = :a")
                .expression_attribute_values(":a", s("active"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AwsError::call("dynamodb", "Query", e))?;
            ids.extend(
                out.items()
                    .iter()
                    .filter_map(|i| text(i, "pk"))
                    .filter_map(|pk| pk.strip_prefix("CHECK#").map(str::to_string)),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(ids)
    }

    /// The alerting document, if one was stored.
    pub async fn document(&self) -> Result<Option<AlertDocument>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(Self::key("CONFIG".into(), "ALERTING".into())))
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "GetItem", e))?;
        let Some(json) = out.item.as_ref().and_then(|i| text(i, "document")) else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| AwsError::Codec {
                what: "decode the alerting document".into(),
                reason: e.to_string(),
            })
    }

    /// Stores the alerting document (`webmon checks put`).
    pub async fn put_document(&self, document: &AlertDocument) -> Result<(), AwsError> {
        let json = serde_json::to_string(document).map_err(|e| AwsError::Codec {
            what: "encode the alerting document".into(),
            reason: e.to_string(),
        })?;
        let mut item = Self::key("CONFIG".into(), "ALERTING".into());
        item.insert("document".into(), s(json));
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "PutItem", e))?;
        Ok(())
    }
}

/// The pending delivery of `intent` to `channel`.
pub(crate) fn outbox_item(
    intent: &NotificationIntent,
    json: &str,
    channel: &str,
    now_ms: i64,
) -> HashMap<String, AttributeValue> {
    let (pk, sk) = outbox_key(&intent.id, channel);
    let mut item = AlertTable::key(pk, sk);
    item.insert("notification".into(), s(json));
    item.insert("channel".into(), s(channel));
    item.insert("status".into(), s("pending"));
    item.insert("attempts".into(), n(0));
    item.insert("created_at".into(), n(now_ms));
    item.insert("next_at".into(), n(now_ms));
    item.insert("due".into(), s("due"));
    item.insert("expires_at".into(), n((now_ms + OUTBOX_KEEP_MS) / 1000));
    item
}

impl AlertTable {
    /// Every item whose `pk` starts with `prefix` (a paged Scan; for the CLI's status,
    /// never a Lambda's path).
    async fn scan_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, AwsError> {
        let mut items = Vec::new();
        let mut start = None;
        // Bounded: each page moves the cursor forward.
        for _ in 0..10_000 {
            let out = self
                .client
                .scan()
                .table_name(&self.name)
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", s(prefix))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AwsError::call("dynamodb", "Scan", e))?;
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(items)
    }

    /// Every check's state, by check id (for `webmon alerts status`).
    pub async fn states(&self) -> Result<Vec<(String, StoredState)>, AwsError> {
        let mut out = Vec::new();
        for item in self.scan_prefix("CHECK#").await? {
            let Some(id) =
                text(&item, "pk").and_then(|p| p.strip_prefix("CHECK#").map(str::to_string))
            else {
                continue;
            };
            let state =
                serde_json::from_str(&text(&item, "state").unwrap_or_default()).map_err(|e| {
                    AwsError::Codec {
                        what: format!("decode the alert state of check {id}"),
                        reason: e.to_string(),
                    }
                })?;
            let ver = number(&item, "ver").unwrap_or(0).max(0) as u64;
            out.push((id, StoredState { state, ver }));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Deliveries by status (`pending`, `sending`, `sent`, `failed`) with the newest
    /// failures' errors (for `webmon alerts status`).
    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, AwsError> {
        let mut counts = DeliveryCounts::default();
        for item in self.scan_prefix("NOTIFY#").await? {
            let status = text(&item, "status").unwrap_or_default();
            *counts.by_status.entry(status.clone()).or_default() += 1;
            if status == "failed" || status == "pending" {
                if let Some(error) = text(&item, "last_error") {
                    counts.errors.push(format!(
                        "{} {}: {error}",
                        text(&item, "pk")
                            .unwrap_or_default()
                            .trim_start_matches("NOTIFY#"),
                        text(&item, "channel").unwrap_or_default()
                    ));
                }
            }
        }
        Ok(counts)
    }

    /// Enqueues one notification (its deliveries only, no state change): what
    /// `webmon alerts test` uses to send through the deployed notifier.
    pub async fn enqueue(&self, intent: &NotificationIntent, now_ms: i64) -> Result<(), AwsError> {
        let json = serde_json::to_string(intent).map_err(|e| AwsError::Codec {
            what: format!("encode notification {}", intent.id),
            reason: e.to_string(),
        })?;
        for channel in &intent.channels {
            self.client
                .put_item()
                .table_name(&self.name)
                .set_item(Some(outbox_item(intent, &json, channel, now_ms)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .map_err(|e| AwsError::call("dynamodb", "PutItem", e))?;
        }
        Ok(())
    }
}

/// Deliveries counted by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCounts {
    /// Count per status.
    pub by_status: std::collections::BTreeMap<String, usize>,
    /// `intent channel: error` of deliveries pending a retry or failed.
    pub errors: Vec<String>,
}
