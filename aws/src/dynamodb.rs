//! The check table in DynamoDB, a [`CheckRepository`].
//!
//! An item is the `RawCheck` fields (serde_dynamo) plus `pk` (the check id) and
//! `schedule_group` (`GroupKey::name()`, e.g. `30s-3`). The `by_group` global secondary
//! index on `schedule_group` lets a probe read its group with a query, never a scan.
//! Each item is validated on its own: a bad one is reported and skipped.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, Select, StreamSpecification,
    StreamViewType,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;
use tracing::Instrument;
use webmon_core::check::{Check, RawCheck, ValidationError};
use webmon_core::ports::{CheckRepository, LoadedChecks, PortError};
use webmon_core::schedule::{executions_in_trigger, GroupKey};

use crate::AwsError;

/// Default table name.
pub const DEFAULT_TABLE: &str = "webmon-checks";
/// Environment variable naming the table.
pub const TABLE_ENV: &str = "WEBMON_TABLE";
/// Partition key attribute.
pub const PK: &str = "pk";
/// Group attribute, the key of [`GROUP_INDEX`].
pub const GROUP_ATTR: &str = "schedule_group";
/// The index queried by group.
pub const GROUP_INDEX: &str = "by_group";

/// A DynamoDB item as the SDK gives it.
pub type Item = HashMap<String, AttributeValue>;

/// The check table.
#[derive(Debug, Clone)]
pub struct DynamoCheckRepository {
    client: Client,
    table: String,
}

impl DynamoCheckRepository {
    /// Wraps a client and a table name.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (with its stream and `by_group` index) unless it exists.
    pub async fn ensure_table(&self) -> Result<(), AwsError> {
        if self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete")
        };
        let key = |name: &str| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::Hash)
                .build()
                .expect("complete")
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(GROUP_INDEX)
            .key_schema(key(GROUP_ATTR))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("complete");
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .expect("complete");
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr(PK))
            .attribute_definitions(attr(GROUP_ATTR))
            .key_schema(key(PK))
            .global_secondary_indexes(index)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(stream)
            .send()
            .await
            .map_err(|e| AwsError::call("dynamodb", "CreateTable", e))?;
        Ok(())
    }

    /// Writes a validated check (its source as written, plus the keys).
    pub async fn put(&self, check: &Check) -> Result<(), AwsError> {
        let item = check_to_item(check)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .instrument(tracing::info_span!("aws.dynamodb.PutItem", check_id = %check.id))
            .await
            .map_err(|e| AwsError::call("dynamodb", "PutItem", e))?;
        Ok(())
    }

    /// Deletes a check; returns whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool, AwsError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(id.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .instrument(tracing::info_span!("aws.dynamodb.DeleteItem", check_id = %id))
            .await
            .map_err(|e| AwsError::call("dynamodb", "DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// Sets `schedule_group` on an item written without it (or with a stale one), so
    /// the probe's group query finds it. Does nothing if the item changed meanwhile.
    pub async fn set_group(&self, id: &str, group: GroupKey) -> Result<(), AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(id.to_string()))
            .update_expression("SET #g = :g")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#g) OR #g <> :g)",
            )
            .expression_attribute_names("#g", GROUP_ATTR)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":g", AttributeValue::S(group.name()))
            .send()
            .instrument(tracing::info_span!("aws.dynamodb.UpdateItem", check_id = %id))
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(AwsError::call("dynamodb", "UpdateItem", e)),
        }
    }

    /// Counts the group's items that `region` probes (enabled, and the region listed or
    /// none): a `Query` with `Select=COUNT` on [`GROUP_INDEX`], no item read back.
    pub async fn count_group(&self, group: GroupKey, region: &str) -> Result<u64, AwsError> {
        let mut count = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GROUP_INDEX)
                .select(Select::Count)
                .key_condition_expression("#g = :g")
                .filter_expression(
                    "(attribute_not_exists(#r) OR size(#r) = :zero OR contains(#r, :region)) \
                     AND (attribute_not_exists(#e) OR #e = :yes)",
                )
                .expression_attribute_names("#g", GROUP_ATTR)
                .expression_attribute_names("#r", "regions")
                .expression_attribute_names("#e", "enabled")
                .expression_attribute_values(":g", AttributeValue::S(group.name()))
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":region", AttributeValue::S(region.into()))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .set_exclusive_start_key(start.take())
                .send()
                .instrument(tracing::info_span!("aws.dynamodb.Query", group = %group.name(), select = "COUNT"))
                .await
                .map_err(|e| AwsError::call("dynamodb", "Query", e))?;
            count += out.count.max(0) as u64;
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(count)
    }

    /// Every check (a `Scan`), with the `schedule_group` each valid item has stored
    /// (`None` when missing), so stale groups can be rewritten.
    pub async fn all_with_stored_groups(
        &self,
    ) -> Result<(LoadedChecks, HashMap<String, Option<String>>), AwsError> {
        let mut stored = HashMap::new();
        let loaded = self.collect(None, Some(&mut stored)).await?;
        Ok((loaded, stored))
    }

    async fn collect(
        &self,
        group: Option<GroupKey>,
        mut stored: Option<&mut HashMap<String, Option<String>>>,
    ) -> Result<LoadedChecks, AwsError> {
        let mut loaded = LoadedChecks::default();
        let mut start: Option<Item> = None;
        loop {
            let (items, next) = match group {
                Some(key) => {
                    let out = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .index_name(GROUP_INDEX)
                        .key_condition_expression("#g = :g")
                        .expression_attribute_names("#g", GROUP_ATTR)
                        .expression_attribute_values(":g", AttributeValue::S(key.name()))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .instrument(tracing::info_span!("aws.dynamodb.Query", group = %key.name()))
                        .await
                        .map_err(|e| AwsError::call("dynamodb", "Query", e))?;
                    (out.items.unwrap_or_default(), out.last_evaluated_key)
                }
                None => {
                    let out = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .set_exclusive_start_key(start.take())
                        .send()
                        .instrument(tracing::info_span!("aws.dynamodb.Scan"))
                        .await
                        .map_err(|e| AwsError::call("dynamodb", "Scan", e))?;
                    (out.items.unwrap_or_default(), out.last_evaluated_key)
                }
            };
            for item in items {
                let group_attr = match item.get(GROUP_ATTR) {
                    Some(AttributeValue::S(g)) => Some(g.clone()),
                    _ => None,
                };
                match item_to_check(serde_dynamo::Item::from(item)) {
                    Ok(check) => {
                        if let Some(stored) = stored.as_deref_mut() {
                            stored.insert(check.id.clone(), group_attr);
                        }
                        loaded.checks.push(check)
                    }
                    Err(errors) => {
                        for e in &errors {
                            tracing::warn!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "skipping an invalid check item");
                        }
                        loaded.errors.extend(errors);
                    }
                }
            }
            match next {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(loaded)
    }
}

impl CheckRepository for DynamoCheckRepository {
    async fn all(&self) -> Result<LoadedChecks, PortError> {
        Ok(self.collect(None, None).await?)
    }

    async fn group(&self, key: GroupKey) -> Result<LoadedChecks, PortError> {
        Ok(self.collect(Some(key), None).await?)
    }
}

/// The item for a check: its source as written plus `pk` and `schedule_group`.
pub fn check_to_item(check: &Check) -> Result<Item, AwsError> {
    let mut item: Item = serde_dynamo::to_item(&check.source).map_err(|e| AwsError::Codec {
        what: format!("encode check {} as an item", check.id),
        reason: e.to_string(),
    })?;
    item.insert(PK.into(), AttributeValue::S(check.id.clone()));
    item.insert(
        GROUP_ATTR.into(),
        AttributeValue::S(GroupKey::of(check).name()),
    );
    Ok(item)
}

/// The `schedule_group` attribute of an item, if present.
pub fn item_group(item: &serde_dynamo::Item) -> Option<GroupKey> {
    match item.get(GROUP_ATTR) {
        Some(serde_dynamo::AttributeValue::S(text)) => GroupKey::parse(text).ok(),
        _ => None,
    }
}

/// The id of an item (`pk`, else `id`), for messages.
pub fn item_id(item: &serde_dynamo::Item) -> Option<String> {
    [PK, "id"].iter().find_map(|k| match item.get(*k) {
        Some(serde_dynamo::AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    })
}

pub use crate::budget::{probe_time_budget, DEADLINE_MARGIN, PROBE_TIMEOUT};

/// Refuses a check whose last execution of a trigger minute (its offset, plus the
/// earlier rounds of a sub-minute interval) plus its worst case (`requests` x `timeout`
/// for every attempt, and the delays between retries) would run past `budget`: the probe
/// would have to cancel it every time.
pub fn check_fits_budget(check: &Check, budget: Duration) -> Result<(), ValidationError> {
    let last_start_ms = executions_in_trigger(&check.id, check.interval, 0)
        .into_iter()
        .max()
        .unwrap_or(0)
        .max(0) as u128;
    let worst_ms = check.worst_case_run().as_millis();
    let end_ms = last_start_ms + worst_ms;
    if end_ms <= budget.as_millis() {
        return Ok(());
    }
    let shown = check
        .source
        .timeout
        .clone()
        .unwrap_or_else(|| format!("{}ms", check.timeout.as_millis()));
    Err(ValidationError::new(
        &check.id,
        "timeout",
        shown,
        format!(
            "{} requests of up to {} ms each{}, started {:.1} s into the trigger minute, \
             could end {:.1} s after its start, past the probe's time budget of {} s (its {} \
             s timeout less {} s to send results); lower requests, timeout or retries",
            check.requests,
            check.timeout.as_millis(),
            match check.retries.count {
                0 => String::new(),
                n => format!(" over {} attempts", n + 1),
            },
            last_start_ms as f64 / 1000.0,
            end_ms as f64 / 1000.0,
            budget.as_secs(),
            PROBE_TIMEOUT.as_secs(),
            DEADLINE_MARGIN.as_secs(),
        ),
    ))
}

/// The top-level field names of [`RawCheck`], read from its `Deserialize` impl.
fn check_fields() -> &'static [&'static str] {
    static FIELDS: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut fields: &'static [&'static str] = &[];
        let _ = RawCheck::deserialize(FieldNames(&mut fields));
        fields
    })
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only field names are read"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("only field names are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// Removes the attributes of an item that are no check field (a TTL, audit fields
/// other tools write) and returns their names, sorted. `pk` and `schedule_group` are
/// left in place.
pub fn take_extra_attributes(item: &mut serde_dynamo::Item) -> Vec<String> {
    let fields = check_fields();
    let mut extra: Vec<String> = item
        .keys()
        .filter(|k| k.as_str() != PK && k.as_str() != GROUP_ATTR && !fields.contains(&k.as_str()))
        .cloned()
        .collect();
    extra.sort();
    for key in &extra {
        item.remove(key);
    }
    extra
}

/// Parses and validates an item (from the SDK or a stream image). Errors name the
/// check id, the field, the value and the reason.
///
/// Attributes that are no check field (a TTL, audit fields written by other tools) do
/// not make the item invalid: they are ignored with a warning naming the check and the
/// attributes. The checks file stays strict. A check the probe could not finish within
/// its time budget is refused ([`check_fits_budget`]).
pub fn item_to_check(item: serde_dynamo::Item) -> Result<Check, Vec<ValidationError>> {
    let (check, extra) = item_to_check_noting(item);
    if !extra.is_empty() {
        let id = match &check {
            Ok(c) => c.id.clone(),
            Err(e) => e.first().map(|e| e.check_id.clone()).unwrap_or_default(),
        };
        tracing::warn!(check_id = %id, attributes = %extra.join(", "), "the check item carries attributes that are no check field; they are ignored");
    }
    check
}

/// [`item_to_check`] without the log line: the check, and the names of the attributes
/// that were ignored.
pub fn item_to_check_noting(
    mut item: serde_dynamo::Item,
) -> (Result<Check, Vec<ValidationError>>, Vec<String>) {
    let extra = take_extra_attributes(&mut item);
    (parse_item(item), extra)
}

fn parse_item(mut item: serde_dynamo::Item) -> Result<Check, Vec<ValidationError>> {
    let label = item_id(&item).unwrap_or_else(|| "<item without id>".into());
    item.remove(GROUP_ATTR);
    let pk = match item.remove(PK) {
        Some(serde_dynamo::AttributeValue::S(pk)) => Some(pk),
        _ => None,
    };
    let value: serde_json::Value = serde_dynamo::from_item(item).map_err(|e| {
        vec![ValidationError::new(
            &label,
            "<item>",
            "<item>",
            format!("is not a check item ({e})"),
        )]
    })?;
    let raw: RawCheck = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let field = e.path().to_string();
        let shown = lookup(&value, &field).unwrap_or_else(|| "<missing>".into());
        vec![ValidationError::new(
            &label,
            &field,
            shown,
            e.into_inner().to_string(),
        )]
    })?;
    if let Some(pk) = pk {
        if pk != raw.id {
            return Err(vec![ValidationError::new(
                &label,
                "id",
                &raw.id,
                format!("must equal the item key pk ({pk})"),
            )]);
        }
    }
    let check = raw.validate()?;
    check_fits_budget(&check, probe_time_budget()).map_err(|e| vec![e])?;
    Ok(check)
}

fn lookup(value: &serde_json::Value, path: &str) -> Option<String> {
    let mut node = value;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        node = node.get(name)?;
        if let Some(i) = index {
            node = node.get(i)?;
        }
    }
    Some(match node {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
#[path = "dynamodb_tests.rs"]
mod tests;
