//! Probe-region liveness: the writer records the newest result time of each region (at
//! most once a minute per container); the sweeper opens a "probe region silent"
//! incident when a region has sent nothing for its silence threshold ([`silent_after`]:
//! three of its shortest check interval, at least [`SILENT_AFTER_MS`]), and resolves it
//! when results flow again. A silent region is one incident of its own kind, sent to
//! the operator channels, instead of a DOWN or UNKNOWN of every check it probes.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use webmon_core::alert::{EventKind, Level, NotificationIntent};
use webmon_core::result::ProbeResult;

use super::table::{number, outbox_item, text, AlertTable};
use crate::AwsError;

/// Partition of the liveness items (sort key: region).
pub const LIVENESS_PK: &str = "LIVENESS";
/// A region is silent after at least this long without a result.
pub const SILENT_AFTER_MS: i64 = 5 * 60 * 1000;

/// The regions the configuration probes from, each with its silence threshold: three
/// times the shortest interval of its checks, and at least [`SILENT_AFTER_MS`] (a region
/// probing only hourly checks is silent for an hour between them, by design).
pub fn silent_after(config: &webmon_core::alert::AlertConfig) -> Vec<(String, i64)> {
    let mut shortest: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for check in config.checks.values() {
        for region in &check.regions {
            let e = shortest.entry(region).or_insert(check.interval_ms);
            *e = (*e).min(check.interval_ms);
        }
    }
    shortest
        .into_iter()
        .map(|(r, ms)| (r.to_string(), (3 * ms).max(SILENT_AFTER_MS)))
        .collect()
}
/// A container records a region's liveness at most this often.
const RECORD_EVERY_MS: i64 = 60 * 1000;

/// The writer's side: remembers what it recorded, to write at most once a minute.
pub struct Liveness {
    table: AlertTable,
    recorded: Mutex<HashMap<String, i64>>,
}

impl Liveness {
    /// For `table`.
    pub fn new(table: AlertTable) -> Self {
        Self {
            table,
            recorded: Mutex::new(HashMap::new()),
        }
    }

    /// Records the newest scheduled time per region of `results`, where due. Failures
    /// are logged: at worst the sweeper sees a region a little older than it is.
    pub async fn seen(&self, results: &[ProbeResult], now_ms: i64) {
        let mut newest: HashMap<&str, i64> = HashMap::new();
        for r in results {
            let t = newest.entry(&r.region).or_insert(r.scheduled_at_ms);
            *t = (*t).max(r.scheduled_at_ms);
        }
        for (region, at) in newest {
            let due = {
                let recorded = self.recorded.lock().expect("not poisoned");
                recorded
                    .get(region)
                    .is_none_or(|t| now_ms - t >= RECORD_EVERY_MS)
            };
            if !due {
                continue;
            }
            match record(&self.table, region, at).await {
                Ok(()) => {
                    self.recorded
                        .lock()
                        .expect("not poisoned")
                        .insert(region.to_string(), now_ms);
                }
                Err(e) => tracing::warn!(region, error = %e, "region liveness not recorded"),
            }
        }
    }
}

/// Sets the region's `last_ms` to `at_ms` unless it is already newer.
async fn record(table: &AlertTable, region: &str, at_ms: i64) -> Result<(), AwsError> {
    let client: &Client = table.client();
    let out = client
        .update_item()
        .table_name(table.name())
        .set_key(Some(AlertTable::key(LIVENESS_PK.into(), region.into())))
        .update_expression("SET last_ms = :t")
        .condition_expression("attribute_not_exists(last_ms) OR last_ms < :t")
        .expression_attribute_values(":t", AttributeValue::N(at_ms.to_string()))
        .send()
        .await;
    match out {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::call("dynamodb", "UpdateItem", e)),
    }
}

/// One region's liveness item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionLiveness {
    /// Region.
    pub region: String,
    /// Newest result time recorded.
    pub last_ms: Option<i64>,
    /// Start of the open silence incident.
    pub silent_since: Option<i64>,
}

/// Every region's liveness item.
pub async fn regions(table: &AlertTable) -> Result<Vec<RegionLiveness>, AwsError> {
    let client: &Client = table.client();
    let out = client
        .query()
        .table_name(table.name())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(LIVENESS_PK.into()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| AwsError::call("dynamodb", "Query", e))?;
    Ok(out
        .items()
        .iter()
        .filter_map(|i| {
            Some(RegionLiveness {
                region: text(i, "sk")?,
                last_ms: number(i, "last_ms"),
                silent_since: number(i, "silent_since"),
            })
        })
        .collect())
}

/// Opens or resolves silence incidents for the `expected` regions (each with its
/// silence threshold, see [`silent_after`]) at `now_ms`; returns the notifications
/// committed. A region never recorded counts from the first sweep that expected it, so
/// a region added by configuration that never reports is reported too.
pub async fn sweep(
    table: &AlertTable,
    expected: &[(String, i64)],
    operator_channels: &[String],
    now_ms: i64,
) -> Result<Vec<NotificationIntent>, AwsError> {
    let known = regions(table).await?;
    let mut sent = Vec::new();
    for (region, threshold) in expected {
        let item = known.iter().find(|l| &l.region == region);
        let Some(last) = item.and_then(|l| l.last_ms) else {
            // Never reported: start its clock now, so silence is measured from here.
            record(table, region, now_ms).await?;
            continue;
        };
        let silent_since = item.and_then(|l| l.silent_since);
        let silent = now_ms - last > *threshold;
        let intent = match (silent, silent_since) {
            (true, None) => intent(
                region,
                EventKind::RegionSilent,
                format!("region:{region}:silent:{last}"),
                now_ms,
                operator_channels,
            ),
            (false, Some(since)) => intent(
                region,
                EventKind::RegionResumed,
                format!("region:{region}:silent:{since}:resumed"),
                now_ms,
                operator_channels,
            ),
            _ => continue,
        };
        let update = if silent {
            Update::builder()
                .update_expression("SET silent_since = :s")
                .condition_expression("attribute_not_exists(silent_since) AND last_ms = :last")
                .expression_attribute_values(":s", AttributeValue::N(last.to_string()))
        } else {
            Update::builder()
                .update_expression("REMOVE silent_since")
                .condition_expression("attribute_exists(silent_since)")
        };
        let update = update
            .table_name(table.name())
            .set_key(Some(AlertTable::key(LIVENESS_PK.into(), region.clone())));
        let update = if silent {
            update.expression_attribute_values(":last", AttributeValue::N(last.to_string()))
        } else {
            update
        };
        let mut actions = vec![TransactWriteItem::builder()
            .update(update.build().expect("complete"))
            .build()];
        let json = serde_json::to_string(&intent).map_err(|e| AwsError::Codec {
            what: format!("encode the silence notification of region {region}"),
            reason: e.to_string(),
        })?;
        for channel in &intent.channels {
            actions.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(table.name())
                            .set_item(Some(outbox_item(&intent, &json, channel, now_ms)))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .expect("complete"),
                    )
                    .build(),
            );
        }
        let client: &Client = table.client();
        match client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => {
                tracing::warn!(
                    region,
                    kind = intent.kind.as_str(),
                    "probe region liveness changed"
                );
                sent.push(intent);
            }
            // Another sweep did it first (its transaction won the condition).
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) => {}
            Err(e) => return Err(AwsError::call("dynamodb", "TransactWriteItems", e)),
        }
    }
    Ok(sent)
}

fn intent(
    region: &str,
    kind: EventKind,
    id: String,
    now_ms: i64,
    channels: &[String],
) -> NotificationIntent {
    let mut n = NotificationIntent::test("", now_ms);
    n.id = id;
    n.kind = kind;
    n.level = Level::Up;
    n.previous_level = Level::Up;
    n.region = Some(region.to_string());
    n.note = None;
    n.channels = channels.to_vec();
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmon_core::check::RawCheck;

    #[test]
    fn silence_is_judged_against_each_regions_shortest_interval() {
        let check = |id: &str, interval: &str, regions: &[&str]| {
            RawCheck {
                id: id.into(),
                url: "https://example.com/".into(),
                interval: Some(interval.into()),
                regions: regions.iter().map(|r| r.to_string()).collect(),
                ..Default::default()
            }
            .validate()
            .unwrap()
        };
        let checks = [
            check("fast", "30s", &["eu-west-1"]),
            check("hourly", "1h", &["ap-south-1"]),
            check("everywhere", "5m", &[]),
        ];
        let all = ["eu-west-1".to_string(), "us-east-1".to_string()];
        let config = webmon_core::alert::AlertDocument::default()
            .build(&checks, &all)
            .config;
        assert_eq!(
            silent_after(&config),
            [
                ("ap-south-1".to_string(), 3 * 3_600_000),
                ("eu-west-1".to_string(), SILENT_AFTER_MS),
                ("us-east-1".to_string(), 15 * 60_000),
            ]
        );
    }
}
