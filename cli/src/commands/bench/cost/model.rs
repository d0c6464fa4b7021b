//! The cost model: measured usage in, dollars per million check executions out, per
//! service, for this design and for the original one-invocation-per-check design; and
//! DynamoDB's metering rules (item sizes, request units per call).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::prices::{DynamoPrices, Prices};

/// Lambda usage of one function.
#[derive(Debug, Default, Clone)]
pub struct LambdaUse {
    /// Invocations.
    pub invocations: u64,
    /// Sum of billed durations, ms.
    pub billed_ms: f64,
    /// Part of `billed_ms` spent waiting for scheduled offsets, ms.
    pub wait_ms: f64,
    /// Memory setting, MB.
    pub memory_mb: f64,
}

impl LambdaUse {
    /// Adds one invocation (`work_ms` measured, `wait_ms` modelled).
    pub fn add(&mut self, work_ms: f64, wait_ms: f64, granularity_ms: f64) {
        let g = granularity_ms.max(1e-9);
        self.invocations += 1;
        self.billed_ms += ((work_ms + wait_ms) / g).ceil() * g;
        self.wait_ms += wait_ms;
    }

    fn gb_seconds(&self) -> f64 {
        self.billed_ms / 1000.0 * self.memory_mb / 1024.0
    }
}

/// Everything the pipeline run measured.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// Check executions (results stored).
    pub executions: u64,
    /// Probe Lambda (all probe regions).
    pub probe: LambdaUse,
    /// Writer Lambda.
    pub writer: LambdaUse,
    /// Notifier Lambda (new outbox items on the alert table's stream).
    pub notifier: LambdaUse,
    /// Sweeper Lambda (every minute).
    pub sweeper: LambdaUse,
    /// DynamoDB calls of alerting in the home region (alert table and the home checks
    /// table), metered call by call.
    pub alert: DynamoUse,
    /// Notifications delivered (requests the webhook receiver got).
    pub notifications: u64,
    /// SendMessageBatch calls.
    pub sqs_send_calls: u64,
    /// ReceiveMessage calls.
    pub sqs_receive_calls: u64,
    /// DeleteMessageBatch calls.
    pub sqs_delete_calls: u64,
    /// Payload bytes of each message sent.
    pub sqs_message_bytes: Vec<usize>,
    /// DynamoDB Query calls of the probe regions (their config reads).
    pub dynamodb_queries: u64,
    /// Read units of those queries.
    pub dynamodb_read_units: f64,
    /// WriteRecords calls.
    pub timestream_calls: u64,
    /// Records stored.
    pub timestream_records: u64,
    /// Their metered size, bytes.
    pub timestream_record_bytes: u64,
    /// Memory store retention, hours.
    pub memory_retention_hours: f64,
    /// Magnetic store retention, days.
    pub magnetic_retention_days: f64,
}

/// One line of the breakdown, dollars per million executions.
#[derive(Debug, Clone)]
pub struct Line {
    /// Service and item.
    pub item: &'static str,
    /// Usage per execution behind the figure (this design).
    pub detail: String,
    /// This design.
    pub ours: f64,
    /// The original design.
    pub original: f64,
}

/// The breakdown, per million check executions.
#[derive(Debug, Clone)]
pub struct Breakdown {
    /// Per-execution lines (they sum to the totals).
    pub lines: Vec<Line>,
    /// Storage for the configured retention (not in the totals).
    pub storage: Vec<Line>,
}

impl Breakdown {
    /// Total of this design.
    pub fn ours(&self) -> f64 {
        self.lines.iter().map(|l| l.ours).sum()
    }

    /// Total of the original design.
    pub fn original(&self) -> f64 {
        self.lines.iter().map(|l| l.original).sum()
    }
}

const MILLION: f64 = 1_000_000.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Computes the breakdown.
pub fn breakdown(p: &Prices, u: &Usage) -> Breakdown {
    let execs = u.executions.max(1) as f64;
    let per = |n: f64| n / execs;
    // Dollars per million executions from a total amount and a unit price.
    let cost = |total: f64, unit_price: f64| total * unit_price / execs * MILLION;
    let o = &p.original;
    let o_gb_s = o.billed_ms_per_invocation / 1000.0 * o.memory_mb / 1024.0;
    let o_gb_s_price = if o.architecture == "arm64" {
        p.lambda.arm64_per_gb_second
    } else {
        p.lambda.x86_per_gb_second
    };
    let chunk = p.sqs.billing_chunk_bytes.max(1);
    let chunks: u64 = u
        .sqs_message_bytes
        .iter()
        .map(|b| b.div_ceil(chunk).max(1) as u64)
        .sum();
    let sqs_billed =
        u.sqs_send_calls.max(chunks) + u.sqs_receive_calls.max(chunks) + u.sqs_delete_calls;
    let sent_bytes: usize = u.sqs_message_bytes.iter().sum();
    let unit = p.timestream.write_unit_bytes.max(1) as f64;
    let bytes_per_call = u.timestream_record_bytes as f64 / u.timestream_calls.max(1) as f64;
    let write_units = u.timestream_calls as f64 * (bytes_per_call / unit).ceil();
    let o_units = o.records_per_execution * (o.record_bytes / unit).ceil();
    // The probe rules and the sweeper's rate(1 minute) rule.
    let firings = (u.probe.invocations + u.sweeper.invocations) as f64;
    let lambda_requests = (u.probe.invocations
        + u.writer.invocations
        + u.notifier.invocations
        + u.sweeper.invocations) as f64;
    let lambda_line = |item: &'static str, l: &LambdaUse| Line {
        item,
        detail: format!(
            "{:.6} GB-s ({:.4} ms at {} MB)",
            per(l.gb_seconds()),
            per(l.billed_ms),
            l.memory_mb
        ),
        ours: cost(l.gb_seconds(), p.lambda.arm64_per_gb_second),
        original: 0.0,
    };
    let alert_calls = |ops: &[&str]| u.alert.calls_of(ops) as f64;
    let lines = vec![
        Line {
            item: "Lambda requests",
            detail: format!(
                "{:.5} invocations ({:.5} probe and writer, {:.5} notifier and sweeper)",
                per(lambda_requests),
                per((u.probe.invocations + u.writer.invocations) as f64),
                per((u.notifier.invocations + u.sweeper.invocations) as f64)
            ),
            ours: cost(lambda_requests, p.lambda.per_million_requests / MILLION),
            original: p.lambda.per_million_requests,
        },
        Line {
            item: "Lambda duration, probe",
            detail: format!(
                "{:.3} GB-s ({:.1} ms at {} MB)",
                per(u.probe.gb_seconds()),
                per(u.probe.billed_ms),
                u.probe.memory_mb
            ),
            ours: cost(u.probe.gb_seconds(), p.lambda.arm64_per_gb_second),
            original: o_gb_s * o_gb_s_price * MILLION,
        },
        Line {
            item: "Lambda duration, writer",
            detail: format!(
                "{:.5} GB-s ({:.3} ms at {} MB)",
                per(u.writer.gb_seconds()),
                per(u.writer.billed_ms),
                u.writer.memory_mb
            ),
            ours: cost(u.writer.gb_seconds(), p.lambda.arm64_per_gb_second),
            original: 0.0,
        },
        lambda_line("Lambda duration, notifier", &u.notifier),
        lambda_line("Lambda duration, sweeper", &u.sweeper),
        Line {
            item: "SQS requests",
            detail: format!("{:.5} billed requests", per(sqs_billed as f64)),
            ours: cost(sqs_billed as f64, p.sqs.per_million_requests / MILLION),
            original: 0.0,
        },
        Line {
            item: "Data transfer to home",
            detail: format!("{:.1} bytes", per(sent_bytes as f64)),
            ours: cost(sent_bytes as f64 / 1e9, p.data_transfer.inter_region_per_gb),
            original: 0.0,
        },
        Line {
            item: "DynamoDB reads",
            detail: format!("{:.5} read units", per(u.dynamodb_read_units)),
            ours: cost(
                u.dynamodb_read_units,
                p.dynamodb.per_million_read_units / MILLION,
            ),
            original: 0.0,
        },
        Line {
            item: "DynamoDB alert reads",
            detail: format!(
                "{:.5} read units ({:.5} calls)",
                per(u.alert.read_units),
                per(alert_calls(&["GetItem", "Query", "Scan"]))
            ),
            ours: cost(
                u.alert.read_units,
                p.dynamodb.per_million_read_units / MILLION,
            ),
            original: 0.0,
        },
        Line {
            item: "DynamoDB alert writes",
            detail: format!(
                "{:.5} write units ({:.5} calls)",
                per(u.alert.write_units),
                per(alert_calls(&[
                    "TransactWriteItems",
                    "UpdateItem",
                    "PutItem",
                    "DeleteItem"
                ]))
            ),
            ours: cost(
                u.alert.write_units,
                p.dynamodb.per_million_write_units / MILLION,
            ),
            original: 0.0,
        },
        Line {
            item: "Timestream writes",
            detail: format!(
                "{:.4} 1 KiB units ({:.5} calls)",
                per(write_units),
                per(u.timestream_calls as f64)
            ),
            ours: cost(write_units, p.timestream.per_million_writes / MILLION),
            original: o_units * p.timestream.per_million_writes,
        },
        Line {
            item: "EventBridge schedules",
            detail: format!("{:.5} rule firings", per(firings)),
            ours: cost(
                firings,
                p.eventbridge.per_million_scheduled_invocations / MILLION,
            ),
            original: p.eventbridge.per_million_scheduled_invocations,
        },
    ];
    // Storage: bytes kept per execution times the retention.
    let ours_bytes = per(u.timestream_record_bytes as f64);
    let o_bytes = o.records_per_execution * o.record_bytes;
    let memory = |bytes: f64| {
        bytes / GIB * u.memory_retention_hours * p.timestream.memory_store_per_gb_hour * MILLION
    };
    let magnetic = |bytes: f64| {
        bytes / GIB
            * (u.magnetic_retention_days / 30.0)
            * p.timestream.magnetic_store_per_gb_month
            * MILLION
    };
    let storage = vec![
        Line {
            item: "Timestream memory store",
            detail: format!("{ours_bytes:.0} bytes for {} h", u.memory_retention_hours),
            ours: memory(ours_bytes),
            original: memory(o_bytes),
        },
        Line {
            item: "Timestream magnetic store",
            detail: format!(
                "{ours_bytes:.0} bytes for {} days",
                u.magnetic_retention_days
            ),
            ours: magnetic(ours_bytes),
            original: magnetic(o_bytes),
        },
    ];
    Breakdown { lines, storage }
}

/// Metered size of one Timestream record as stored by moto (the `WriteRecords` shape):
/// 8-byte time, dimension names and values, the measure name, and each measure value's
/// name and value (1 byte boolean, 8 bytes bigint/double, UTF-8 length of varchar).
pub fn record_bytes(record: &serde_json::Value) -> u64 {
    let s = |v: &serde_json::Value| v.as_str().map_or(0, str::len) as u64;
    let mut n = 8 + s(&record["MeasureName"]);
    for d in record["Dimensions"].as_array().into_iter().flatten() {
        n += s(&d["Name"]) + s(&d["Value"]);
    }
    for m in record["MeasureValues"].as_array().into_iter().flatten() {
        n += s(&m["Name"]);
        n += match m["Type"].as_str().unwrap_or_default() {
            "BOOLEAN" => 1,
            "BIGINT" | "DOUBLE" | "TIMESTAMP" => 8,
            _ => s(&m["Value"]),
        };
    }
    if record["MeasureValues"].as_array().is_none() {
        n += s(&record["MeasureValue"]);
    }
    n
}

/// DynamoDB item size (the metering rule): attribute names plus values.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter()
        .map(|(k, v)| k.len() as u64 + value_size(v))
        .sum()
}

fn value_size(v: &AttributeValue) -> u64 {
    match v {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number_size(n),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::L(l) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<u64>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() as u64 + value_size(x))
                .sum::<u64>()
        }
        AttributeValue::Ss(l) => l.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(l) => l.iter().map(|n| number_size(n)).sum(),
        _ => 8,
    }
}

/// A number: about one byte per two digits, plus one.
fn number_size(n: &str) -> u64 {
    n.len().div_ceil(2) as u64 + 1
}

/// [`item_size`] of an item in DynamoDB's wire JSON (`{"name": {"S": "..."}}`), as a
/// request or response body carries it.
pub fn wire_item_size(item: &Value) -> u64 {
    item.as_object().map_or(0, |o| {
        o.iter()
            .map(|(k, v)| k.len() as u64 + wire_value_size(v))
            .sum()
    })
}

fn wire_value_size(v: &Value) -> u64 {
    let Some((kind, x)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let text = |x: &Value| x.as_str().map_or(0, str::len) as u64;
    let list = x.as_array().map(Vec::as_slice).unwrap_or_default();
    match kind.as_str() {
        "S" => text(x),
        "N" => x.as_str().map_or(0, number_size),
        // Base64 on the wire: the raw bytes are three quarters of it.
        "B" => text(x) * 3 / 4,
        "BOOL" | "NULL" => 1,
        "SS" => list.iter().map(text).sum(),
        "NS" => list.iter().map(|n| n.as_str().map_or(0, number_size)).sum(),
        "BS" => list.iter().map(|b| text(b) * 3 / 4).sum(),
        "L" => 3 + list.iter().map(|e| 1 + wire_value_size(e)).sum::<u64>(),
        "M" => {
            3 + x.as_object().map_or(0, |m| {
                m.iter()
                    .map(|(k, e)| 1 + k.len() as u64 + wire_value_size(e))
                    .sum::<u64>()
            })
        }
        _ => 8,
    }
}

/// DynamoDB calls metered one by one: calls per operation and request units.
#[derive(Debug, Default, Clone)]
pub struct DynamoUse {
    /// Calls per operation.
    pub calls: BTreeMap<String, u64>,
    /// Read request units.
    pub read_units: f64,
    /// Write request units.
    pub write_units: f64,
    /// Per check id: reads of its alert state item (`CHECK#{id}`, `STATE`).
    pub state_reads: BTreeMap<String, u64>,
    /// Per check id: writes of its alert state item (commits, conflicting ones too).
    pub state_writes: BTreeMap<String, u64>,
    /// Calls of operations the model does not price (none is expected).
    pub unpriced: BTreeMap<String, u64>,
    /// Calls answered with a server error (retried; not billed).
    pub server_errors: u64,
}

impl DynamoUse {
    /// Calls of `ops`.
    pub fn calls_of(&self, ops: &[&str]) -> u64 {
        ops.iter()
            .map(|op| self.calls.get(*op).copied().unwrap_or(0))
            .sum()
    }

    /// Scales every figure by `k` (the 10,000-check projection).
    pub fn scaled(&self, k: f64) -> Self {
        let scale = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(op, n)| (op.clone(), (*n as f64 * k) as u64))
                .collect()
        };
        Self {
            calls: scale(&self.calls),
            read_units: self.read_units * k,
            write_units: self.write_units * k,
            state_reads: self.state_reads.clone(),
            state_writes: self.state_writes.clone(),
            unpriced: self.unpriced.clone(),
            server_errors: self.server_errors,
        }
    }
}

/// Meters DynamoDB calls from their request and response bodies (wire JSON) by the
/// on-demand rules of the price table:
///
/// - `GetItem`: the item's size in 4 KiB read units, at least one (a missing item costs
///   one too); half of that eventually consistent.
/// - `Query`, `Scan`: the summed size of the items read, rounded up to 4 KiB units, at
///   least one; eventually consistent unless `ConsistentRead` on the table itself (an
///   index is never strongly consistent). A filter's dropped items are read too: the
///   size is scaled by `ScannedCount / Count`.
/// - `PutItem`, `UpdateItem`, `DeleteItem`: 1 KiB write units of the larger of the
///   item's size before and after, at least one.
/// - `TransactWriteItems`: the same per item, times the transactional factor.
///
/// An item's size before a write is the last size this meter saw for its key (read
/// back, written, or returned); an update's size after is its returned image, or that
/// size plus the values it sets (an upper bound).
#[derive(Debug, Default, Clone)]
pub struct DynamoMeter {
    /// Last known size per `table/pk/sk`.
    sizes: HashMap<String, u64>,
    /// What was metered since the last [`DynamoMeter::take`].
    pub usage: DynamoUse,
}

impl DynamoMeter {
    /// Meters one call. `failed_on_server`: the call was answered with a 5xx (not billed).
    pub fn call(
        &mut self,
        p: &DynamoPrices,
        op: &str,
        request: &Value,
        response: &Value,
        failed_on_server: bool,
    ) {
        *self.usage.calls.entry(op.to_string()).or_default() += 1;
        if failed_on_server {
            self.usage.server_errors += 1;
            return;
        }
        let table = request["TableName"].as_str().unwrap_or_default();
        let read = |bytes: u64, consistent: bool| {
            let units = bytes.div_ceil(p.read_unit_bytes.max(1) as u64).max(1) as f64;
            if consistent {
                units
            } else {
                units * p.eventually_consistent_factor
            }
        };
        match op {
            "GetItem" => {
                let item = response.get("Item");
                let size = item.map_or(0, wire_item_size);
                if item.is_some() {
                    self.sizes.insert(key_id(table, &request["Key"]), size);
                }
                if let Some(id) = state_check_id(&request["Key"]) {
                    *self.usage.state_reads.entry(id).or_default() += 1;
                }
                self.usage.read_units += read(size, request["ConsistentRead"] == true);
            }
            "Query" | "Scan" => {
                let items = response["Items"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let on_index = request.get("IndexName").is_some();
                let mut bytes = 0;
                for item in items {
                    let size = wire_item_size(item);
                    bytes += size;
                    if !on_index {
                        self.sizes.insert(key_id(table, &item_key(item)), size);
                    }
                }
                let count = response["Count"].as_u64().unwrap_or(items.len() as u64);
                let scanned = response["ScannedCount"].as_u64().unwrap_or(count);
                if count > 0 && scanned > count {
                    bytes = bytes * scanned / count;
                }
                let consistent = request["ConsistentRead"] == true && !on_index;
                self.usage.read_units += read(bytes, consistent);
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let size = self.write_size(op, table, request, response.get("Attributes"));
                self.usage.write_units += self.write_units(p, size);
            }
            "TransactWriteItems" => {
                for action in request["TransactItems"].as_array().into_iter().flatten() {
                    let Some((kind, body)) = action.as_object().and_then(|o| o.iter().next())
                    else {
                        continue;
                    };
                    let op = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        _ => "ConditionCheck",
                    };
                    let table = body["TableName"].as_str().unwrap_or_default();
                    let size = self.write_size(op, table, body, None);
                    self.usage.write_units +=
                        self.write_units(p, size) * p.transactional_write_factor;
                }
            }
            other => *self.usage.unpriced.entry(other.to_string()).or_default() += 1,
        }
    }

    fn write_units(&self, p: &DynamoPrices, bytes: u64) -> f64 {
        bytes.div_ceil(p.write_unit_bytes.max(1) as u64).max(1) as f64
    }

    /// The metered size of one write (`PutItem`, `UpdateItem`, `DeleteItem` or a
    /// condition check), remembering the item's size after it.
    fn write_size(&mut self, op: &str, table: &str, body: &Value, returned: Option<&Value>) -> u64 {
        let key = if op == "PutItem" {
            item_key(&body["Item"])
        } else {
            body["Key"].clone()
        };
        if op == "PutItem" || op == "UpdateItem" {
            if let Some(id) = state_check_id(&key) {
                *self.usage.state_writes.entry(id).or_default() += 1;
            }
        }
        let id = key_id(table, &key);
        let before = self.sizes.get(&id).copied();
        let after = match op {
            "PutItem" => Some(wire_item_size(&body["Item"])),
            "UpdateItem" => Some(match returned {
                Some(image) if image.is_object() => wire_item_size(image),
                _ => {
                    let values: u64 = body["ExpressionAttributeValues"]
                        .as_object()
                        .map_or(0, |m| m.values().map(wire_value_size).sum());
                    before.unwrap_or_else(|| wire_item_size(&key)) + values
                }
            }),
            "DeleteItem" => None,
            _ => before,
        };
        match after {
            Some(a) => {
                self.sizes.insert(id, a);
            }
            None => {
                self.sizes.remove(&id);
            }
        }
        before.unwrap_or(0).max(after.unwrap_or(0))
    }

    /// Hands over what was metered and starts again (item sizes are kept).
    pub fn take(&mut self) -> DynamoUse {
        std::mem::take(&mut self.usage)
    }
}

/// The key attributes of an item: webmon's tables key on `pk` and, for the alert
/// table, `sk`.
fn item_key(item: &Value) -> Value {
    let mut key = serde_json::Map::new();
    for name in ["pk", "sk"] {
        if let Some(v) = item.get(name) {
            key.insert(name.to_string(), v.clone());
        }
    }
    Value::Object(key)
}

fn key_id(table: &str, key: &Value) -> String {
    let mut parts: Vec<(String, String)> = key
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    parts.sort();
    let parts: Vec<String> = parts.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{table}/{}", parts.join("/"))
}

/// The check id of an alert state item's key (`CHECK#{id}`, `STATE`).
fn state_check_id(key: &Value) -> Option<String> {
    if key["sk"]["S"].as_str() != Some("STATE") {
        return None;
    }
    key["pk"]["S"]
        .as_str()
        .and_then(|pk| pk.strip_prefix("CHECK#"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn prices() -> Prices {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../prices/aws-prices.yaml");
        Prices::load(&path).unwrap()
    }

    #[test]
    fn the_committed_table_parses_and_the_original_costs_about_four_dollars() {
        let p = prices();
        let b = breakdown(
            &p,
            &Usage {
                executions: 1,
                ..Default::default()
            },
        );
        let original = b.original();
        assert!((3.5..5.0).contains(&original), "{original}");
    }

    #[test]
    fn metered_record_size_follows_the_timestream_rule() {
        let record = serde_json::json!({
            "Dimensions": [{"Name": "region", "Value": "us-east-1"}],
            "MeasureName": "probe",
            "MeasureValues": [
                {"Name": "ok", "Value": "true", "Type": "BOOLEAN"},
                {"Name": "ms", "Value": "12.5", "Type": "DOUBLE"},
                {"Name": "ip", "Value": "127.0.0.1", "Type": "VARCHAR"}
            ]
        });
        assert_eq!(
            record_bytes(&record),
            8 + 5 + 15 + (2 + 1) + (2 + 8) + (2 + 9)
        );
    }

    fn dynamo() -> DynamoPrices {
        prices().dynamodb
    }

    #[test]
    fn wire_and_sdk_item_sizes_agree() {
        let item: HashMap<String, AttributeValue> = HashMap::from([
            ("pk".to_string(), AttributeValue::S("CHECK#shop".into())),
            ("ver".to_string(), AttributeValue::N("12".into())),
            ("settled".to_string(), AttributeValue::Bool(true)),
            (
                "tags".to_string(),
                AttributeValue::M(HashMap::from([(
                    "suite".to_string(),
                    AttributeValue::S("bench".into()),
                )])),
            ),
        ]);
        let wire = serde_json::json!({
            "pk": {"S": "CHECK#shop"},
            "ver": {"N": "12"},
            "settled": {"BOOL": true},
            "tags": {"M": {"suite": {"S": "bench"}}}
        });
        let expected = (2 + 10) + (3 + 2) + (7 + 1) + (4 + 3 + 1 + 5 + 5);
        assert_eq!(item_size(&item), expected);
        assert_eq!(wire_item_size(&wire), expected);
    }

    #[test]
    fn reads_are_metered_per_4_kib_and_half_eventually_consistent() {
        let p = dynamo();
        let mut m = DynamoMeter::default();
        let key = serde_json::json!({"pk": {"S": "CHECK#a"}, "sk": {"S": "STATE"}});
        let big = serde_json::json!({"Item": {"pk": {"S": "CHECK#a"}, "sk": {"S": "STATE"}, "state": {"S": "x".repeat(5000)}}});
        m.call(
            &p,
            "GetItem",
            &serde_json::json!({"TableName": "t", "Key": key, "ConsistentRead": true}),
            &big,
            false,
        );
        assert_eq!(m.usage.read_units, 2.0);
        // A missing item still costs one unit (half eventually consistent).
        m.call(&p, "GetItem", &serde_json::json!({"TableName": "t", "Key": {"pk": {"S": "CONFIG"}, "sk": {"S": "ALERTING"}}}), &serde_json::json!({}), false);
        assert_eq!(m.usage.read_units, 2.5);
        // An index query is eventually consistent whatever the request says.
        let items: Vec<Value> = (0..3).map(|i| serde_json::json!({"pk": {"S": format!("CHECK#{i}")}, "active": {"S": "active"}})).collect();
        m.call(
            &p,
            "Query",
            &serde_json::json!({"TableName": "t", "IndexName": "active", "ConsistentRead": true}),
            &serde_json::json!({"Items": items, "Count": 3, "ScannedCount": 3}),
            false,
        );
        assert_eq!(m.usage.read_units, 3.0);
        assert_eq!(m.usage.state_reads.get("a"), Some(&1));
        assert_eq!(m.usage.calls_of(&["GetItem", "Query"]), 3);
    }

    #[test]
    fn transactional_writes_cost_twice_per_kib_of_each_item() {
        let p = dynamo();
        let mut m = DynamoMeter::default();
        let state = serde_json::json!({"pk": {"S": "CHECK#a"}, "sk": {"S": "STATE"}, "state": {"S": "x".repeat(1500)}});
        let outbox = serde_json::json!({"pk": {"S": "NOTIFY#a:1"}, "sk": {"S": "CH#hook"}, "notification": {"S": "y".repeat(300)}});
        let request = serde_json::json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": state}},
            {"Put": {"TableName": "t", "Item": outbox}}
        ]});
        m.call(
            &p,
            "TransactWriteItems",
            &request,
            &serde_json::json!({}),
            false,
        );
        // 2 KiB state item + 1 KiB outbox item, each twice.
        assert_eq!(m.usage.write_units, (2.0 + 1.0) * 2.0);
        assert_eq!(m.usage.state_writes.get("a"), Some(&1));
        // An update of the outbox item is metered on its known size plus what it sets.
        let update = serde_json::json!({"TableName": "t", "Key": {"pk": {"S": "NOTIFY#a:1"}, "sk": {"S": "CH#hook"}}, "ExpressionAttributeValues": {":st": {"S": "z".repeat(800)}}});
        m.call(&p, "UpdateItem", &update, &serde_json::json!({}), false);
        assert_eq!(m.usage.write_units, 6.0 + 2.0);
        // A call the server failed is counted, not billed.
        m.call(
            &p,
            "PutItem",
            &serde_json::json!({"TableName": "t", "Item": {"pk": {"S": "x"}}}),
            &serde_json::json!({}),
            true,
        );
        assert_eq!(m.usage.write_units, 8.0);
        assert_eq!(
            m.take()
                .calls_of(&["PutItem", "UpdateItem", "TransactWriteItems"]),
            3
        );
        assert_eq!(m.usage.write_units, 0.0);
    }

    #[test]
    fn lambda_duration_is_rounded_to_the_granularity() {
        let mut l = LambdaUse::default();
        l.add(0.2, 10.0, 1.0);
        assert_eq!((l.invocations, l.billed_ms), (1, 11.0));
    }
}
