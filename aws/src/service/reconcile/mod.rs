//! The config Lambda: keeps one region's EventBridge trigger rules in step with the
//! check table, fed by the table replica's stream.
//!
//! Rules are bin-packed groups ([`webmon_core::reconcile::pack`]): a group's load is its
//! checks this region probes times the executions each has per trigger minute, and
//! groups of one trigger period share rules up to `WEBMON_BIN_CAPACITY` executions.
//!
//! - [`handle_stream`]: a stream batch touches some schedule groups (the old and new
//!   image of each record). For each trigger period touched, the groups its rules name
//!   and the touched ones are counted (`Query` with `Select=COUNT` on `by_group`), packed
//!   again, and the rules changed only where they differ, so a replayed batch changes
//!   nothing; a group whose last check went drops out, and a bin no longer needed is
//!   deleted. Items written without `schedule_group` (or with one from an older release)
//!   get it set, so the probe's group query finds them.
//! - [`resync`]: the whole table against every `webmon-` rule, deleting orphans (and the
//!   one-rule-per-group rules of older releases), rewriting stale `schedule_group`s.
//! - [`handle`]: the Lambda entry, dispatching `{"resync": true}` or a stream event.
//!
//! An invalid item is logged (id, field, value, reason) and skipped. A failing AWS call
//! fails only the stream records that touched the trigger period concerned (partial
//! batch response), so the stream retries them.

pub mod ports;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use crate::dynamodb::{item_group, item_id, item_to_check};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::future::BoxFuture;
use futures::{stream, StreamExt};
use serde::Serialize;
use webmon_core::check::Check;
use webmon_core::reconcile::{group_load, pack, plan, slug_of_rule, Change, ExistingRule, Scope};
use webmon_core::schedule::GroupKey;

pub use ports::{CheckTable, TriggerRules};

/// Group counts queried at once.
const COUNT_CONCURRENCY: usize = 16;

/// What an invocation did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Stream records seen (0 for a resync).
    pub records: usize,
    /// Items refused by validation.
    pub invalid_items: usize,
    /// Groups examined.
    pub groups: usize,
    /// Rules wanted, after packing, for the trigger periods reconciled.
    pub rules: usize,
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
    let mut by_slug: BTreeMap<String, (BTreeSet<GroupKey>, Vec<String>)> = BTreeMap::new();
    for (group, seqs) in &touched {
        let entry = by_slug.entry(group.trigger_slug()).or_default();
        entry.0.insert(*group);
        entry.1.extend(seqs.iter().cloned());
    }
    if !by_slug.is_empty() {
        match rules.list().await {
            Ok(existing) => {
                for (slug, (groups, seqs)) in &by_slug {
                    // Type-erased: the nested futures are otherwise too deep a type.
                    let reconcile: BoxFuture<'_, Result<(), String>> =
                        Box::pin(reconcile_schedule(
                            table,
                            rules,
                            region,
                            slug,
                            groups,
                            &latest,
                            &existing,
                            &mut summary,
                        ));
                    let done = reconcile.await;
                    if let Err(e) = done {
                        tracing::warn!(schedule = %slug, error = %e, "failed to reconcile a schedule; its records will be retried");
                        failed.extend(seqs.iter().cloned());
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to list the rules; the batch will be retried");
                failed.extend(touched.values().flatten().cloned());
            }
        }
    }
    summary.failed_records = failed.len();
    tracing::info!(
        region,
        records = summary.records,
        invalid_items = summary.invalid_items,
        groups = summary.groups,
        rules = summary.rules,
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

/// Re-packs the rules of one trigger period (`every-1m`): the groups its rules name now
/// and the groups the batch touched are counted (a `COUNT` query each), and packed.
#[allow(clippy::too_many_arguments)]
async fn reconcile_schedule<T: CheckTable, R: TriggerRules>(
    table: &T,
    rules: &R,
    region: &str,
    slug: &str,
    touched: &BTreeSet<GroupKey>,
    latest: &HashMap<String, Option<Check>>,
    existing: &[ExistingRule],
    summary: &mut Summary,
) -> Result<(), String> {
    let prefix = rules.prefix();
    let mut groups = touched.clone();
    for rule in existing {
        if slug_of_rule(prefix, &rule.name).as_deref() == Some(slug) {
            groups.extend(
                rule.groups()
                    .into_iter()
                    .filter(|g| g.trigger_slug() == slug),
            );
        }
    }
    summary.groups += groups.len();
    let counts: Vec<(GroupKey, Result<u64, String>)> = stream::iter(groups)
        .map(|g| async move {
            (
                g,
                table
                    .count_group(g, region)
                    .await
                    .map_err(|e| e.to_string()),
            )
        })
        .buffer_unordered(COUNT_CONCURRENCY)
        .collect()
        .await;
    let mut loads = BTreeMap::new();
    for (group, count) in counts {
        // The index may lag behind the table: a check this batch put in the group is
        // counted even if the index does not show it yet.
        let in_batch = latest
            .values()
            .flatten()
            .filter(|c| GroupKey::of(c) == group && c.runs_in(region))
            .count() as u64;
        let count = count?.max(in_batch);
        if count > 0 {
            loads.insert(group, group_load(group, count));
        }
    }
    let wanted = pack(prefix, &loads, rules.bin_capacity());
    summary.rules += wanted.len();
    let scope = Scope::Schedules([slug.to_string()].into());
    let changes = plan(prefix, rules.target_arn(), &wanted, &scope, existing);
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
    let (loaded, stored) = table
        .all_with_stored_groups()
        .await
        .map_err(|e| e.to_string())?;
    let mut summary = Summary {
        invalid_items: loaded.summary().invalid_items,
        ..Default::default()
    };
    for e in &loaded.errors {
        tracing::error!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "invalid check item skipped");
    }
    // Items without their group, or with one computed by an older release (another
    // number of shards), are rewritten so the probe's group query finds them.
    for check in &loaded.checks {
        let group = GroupKey::of(check);
        if stored.get(&check.id).cloned().flatten() != Some(group.name()) {
            table
                .set_group(&check.id, group)
                .await
                .map_err(|e| format!("failed to set the group of check {}: {e}", check.id))?;
            summary.groups_backfilled += 1;
        }
    }
    let mut counts: BTreeMap<GroupKey, u64> = BTreeMap::new();
    for check in loaded.checks.iter().filter(|c| c.runs_in(region)) {
        *counts.entry(GroupKey::of(check)).or_default() += 1;
    }
    summary.groups = counts.len();
    let loads = counts
        .into_iter()
        .map(|(g, n)| (g, group_load(g, n)))
        .collect();
    let wanted = pack(rules.prefix(), &loads, rules.bin_capacity());
    summary.rules = wanted.len();
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
        rules = summary.rules,
        rules_put = summary.rules_put,
        rules_deleted = summary.rules_deleted,
        groups_backfilled = summary.groups_backfilled,
        duration_ms = started.elapsed().as_millis() as u64,
        "resync done"
    );
    Ok(summary)
}
