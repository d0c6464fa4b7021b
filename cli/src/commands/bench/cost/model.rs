//! The cost model: measured usage in, dollars per million check executions out, per
//! service, for this design and for the original one-invocation-per-check design.

use super::prices::Prices;

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
    /// SendMessageBatch calls.
    pub sqs_send_calls: u64,
    /// ReceiveMessage calls.
    pub sqs_receive_calls: u64,
    /// DeleteMessageBatch calls.
    pub sqs_delete_calls: u64,
    /// Payload bytes of each message sent.
    pub sqs_message_bytes: Vec<usize>,
    /// DynamoDB Query calls.
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
    let lambda_requests = (u.probe.invocations + u.writer.invocations) as f64;
    let lines = vec![
        Line {
            item: "Lambda requests",
            detail: format!("{:.5} invocations", per(lambda_requests)),
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
            detail: format!("{:.5} rule firings", per(u.probe.invocations as f64)),
            ours: cost(
                u.probe.invocations as f64,
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

    #[test]
    fn lambda_duration_is_rounded_to_the_granularity() {
        let mut l = LambdaUse::default();
        l.add(0.2, 10.0, 1.0);
        assert_eq!((l.invocations, l.billed_ms), (1, 11.0));
    }
}
