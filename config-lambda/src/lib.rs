//! The config Lambda: keeps one region's EventBridge trigger rules in step with the
//! check table, fed by the table replica's stream.
//!
//! - [`handle_stream`]: a stream batch touches some schedule groups (the old and new
//!   image of each record); each touched group keeps its rule while it holds at least
//!   one valid, enabled check this region probes, and loses it otherwise. Rules are read
//!   and changed only where they differ, so a replayed batch changes nothing. Items
//!   written without `schedule_group` get it set, so the probe's group query finds them.
//! - [`resync`]: the whole table against every `webmon-` rule, deleting orphans.
//! - [`handle`]: the Lambda entry, dispatching `{"resync": true}` or a stream event.
//!
//! An invalid item is logged (id, field, value, reason) and skipped. A failing AWS call
//! fails only the stream records that touched the group concerned (partial batch
//! response), so the stream retries them.

pub mod ports;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Serialize;
use webmon_aws::dynamodb::{item_group, item_id, item_to_check};
use webmon_core::check::Check;
use webmon_core::reconcile::{plan, rule_name, Change, Scope};
use webmon_core::schedule::GroupKey;

pub use ports::{CheckTable, TriggerRules};

/// What an invocation did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Stream records seen (0 for a resync).
    pub records: usize,
    /// Items refused by validation.
    pub invalid_items: usize,
    /// Groups examined.
    pub groups: usize,
    /// Rules created or updated.
    pub rules_put: usize,
    /// Rules deleted.
    pub rules_deleted: usize,
    /// Items given their `schedule_group`.
    pub groups_backfilled: usize,
    /// Records reported failed (to be retried).
    pub failed_records: usize,
}

/// The Lambda entry: `{"resync": true}` runs [`resync`], anything else is read as a
/// DynamoDB stream event.
pub async fn handle<T: CheckTable, R: TriggerRules>(
    table: &T,
    rules: &R,
    region: &str,
    payload: serde_json::Value,
) -> Result<serde_json::Value, String> {
    if payload.get("resync").and_then(|v| v.as_bool()) == Some(true) {
        let summary = resync(table, rules, region)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(serde_json::to_value(summary).expect("serialisable"));
    }
    let event: Event = serde_json::from_value(payload)
        .map_err(|e| format!("failed to read the event as a DynamoDB stream batch: {e}"))?;
    let (response, _) = handle_stream(table, rules, region, event).await;
    Ok(serde_json::to_value(response).expect("serialisable"))
}

/// The state of a check after a record: `None` when removed or invalid.
fn image_check(record: &EventRecord, summary: &mut Summary) -> Option<Check> {
    if record.event_name == "REMOVE" || record.change.new_image.is_empty() {
        return None;
    }
    match item_to_check(record.change.new_image.clone()) {
        Ok(check) => Some(check),
        Err(errors) => {
            summary.invalid_items += 1;
            for e in errors {
                tracing::error!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "invalid check item skipped");
            }
            None
        }
    }
}

/// Handles a stream batch.
pub async fn handle_stream<T: CheckTable, R: TriggerRules>(
    table: &T,
    rules: &R,
    region: &str,
    event: Event,
) -> (DynamoDbEventResponse, Summary) {
    let started = Instant::now();
    let mut summary = Summary {
        records: event.records.len(),
        ..Default::default()
    };
    // Latest state per id in this batch, the groups each record touches.
    let mut latest: HashMap<String, Option<Check>> = HashMap::new();
    let mut touched: BTreeMap<GroupKey, Vec<String>> = BTreeMap::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for record in &event.records {
        let seq = record.change.sequence_number.clone().unwrap_or_default();
        let mut groups = BTreeSet::new();
        groups.extend(item_group(&record.change.old_image));
        groups.extend(item_group(&record.change.new_image));
        if let Ok(old) = item_to_check(record.change.old_image.clone()) {
            groups.insert(GroupKey::of(&old));
        }
        let check = image_check(record, &mut summary);
        if let Some(check) = &check {
            let group = GroupKey::of(check);
            groups.insert(group);
            if item_group(&record.change.new_image) != Some(group) {
                match table.set_group(&check.id, group).await {
                    Ok(()) => summary.groups_backfilled += 1,
                    Err(e) => {
                        tracing::warn!(check_id = %check.id, error = %e, "failed to set the schedule group");
                        failed.insert(seq.clone());
                    }
                }
            }
        }
        let id = item_id(&record.change.new_image)
            .or_else(|| item_id(&record.change.old_image))
            .or_else(|| item_id(&record.change.keys));
        if let Some(id) = id {
            latest.insert(id, check);
        }
        for g in groups {
            touched.entry(g).or_default().push(seq.clone());
        }
    }
    summary.groups = touched.len();
    for (group, seqs) in &touched {
        if let Err(e) = reconcile_group(table, rules, region, *group, &latest, &mut summary).await {
            tracing::warn!(group = %group.name(), error = %e, "failed to reconcile a group; its records will be retried");
            failed.extend(seqs.iter().cloned());
        }
    }
    summary.failed_records = failed.len();
    tracing::info!(
        region,
        records = summary.records,
        invalid_items = summary.invalid_items,
        groups = summary.groups,
        rules_put = summary.rules_put,
        rules_deleted = summary.rules_deleted,
        groups_backfilled = summary.groups_backfilled,
        failed_records = summary.failed_records,
        duration_ms = started.elapsed().as_millis() as u64,
        "config invocation done"
    );
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|seq| {
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = Some(seq);
            f
        })
        .collect();
    (response, summary)
}

async fn reconcile_group<T: CheckTable, R: TriggerRules>(
    table: &T,
    rules: &R,
    region: &str,
    group: GroupKey,
    latest: &HashMap<String, Option<Check>>,
    summary: &mut Summary,
) -> Result<(), String> {
    let loaded = table.group(group).await.map_err(|e| e.to_string())?;
    // The batch's latest states override the index, which may lag behind the table.
    let mut members: BTreeSet<&str> = loaded
        .checks
        .iter()
        .filter(|c| c.runs_in(region) && !latest.contains_key(&c.id))
        .map(|c| c.id.as_str())
        .collect();
    members.extend(
        latest
            .values()
            .flatten()
            .filter(|c| GroupKey::of(c) == group && c.runs_in(region))
            .map(|c| c.id.as_str()),
    );
    let wanted: BTreeSet<GroupKey> = if members.is_empty() {
        BTreeSet::new()
    } else {
        [group].into()
    };
    let existing: Vec<_> = rules
        .describe(&rule_name(rules.prefix(), group))
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let changes = plan(
        rules.prefix(),
        rules.target_arn(),
        &wanted,
        &Scope::Groups([group].into()),
        &existing,
    );
    apply(rules, &changes, summary).await
}

async fn apply<R: TriggerRules>(
    rules: &R,
    changes: &[Change],
    summary: &mut Summary,
) -> Result<(), String> {
    for change in changes {
        rules.apply(change).await.map_err(|e| e.to_string())?;
        match change {
            Change::Put { .. } => summary.rules_put += 1,
            Change::Delete { .. } => summary.rules_deleted += 1,
        }
    }
    Ok(())
}

/// Reconciles every rule with our prefix against the whole table.
pub async fn resync<T: CheckTable, R: TriggerRules>(
    table: &T,
    rules: &R,
    region: &str,
) -> Result<Summary, String> {
    let started = Instant::now();
    let loaded = table.all().await.map_err(|e| e.to_string())?;
    let mut summary = Summary {
        invalid_items: loaded.errors.len(),
        ..Default::default()
    };
    for e in &loaded.errors {
        tracing::error!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "invalid check item skipped");
    }
    let wanted: BTreeSet<GroupKey> = loaded
        .checks
        .iter()
        .filter(|c| c.runs_in(region))
        .map(GroupKey::of)
        .collect();
    summary.groups = wanted.len();
    let existing = rules.list().await.map_err(|e| e.to_string())?;
    let changes = plan(
        rules.prefix(),
        rules.target_arn(),
        &wanted,
        &Scope::All,
        &existing,
    );
    apply(rules, &changes, &mut summary).await?;
    tracing::info!(
        region,
        checks = loaded.checks.len(),
        invalid_items = summary.invalid_items,
        groups = summary.groups,
        rules_put = summary.rules_put,
        rules_deleted = summary.rules_deleted,
        duration_ms = started.elapsed().as_millis() as u64,
        "resync done"
    );
    Ok(summary)
}
