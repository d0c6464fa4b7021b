//! The result store in Timestream for LiveAnalytics: the write port ([`ResultStore`],
//! this file) and the read port ([`read`]), with the store's SQL dialect beside them
//! ([`samples`] for the report's rows, `sql` for the dashboard's queries) and the
//! query client ([`query`]).
//!
//!
//! One multi-measure record per result (measure name `probe`, time = scheduled time in
//! milliseconds, dimensions `check_id`, `url`, `region` and one `tag_<name>` per check
//! tag), written 100 per `WriteRecords` call. Rejected records are sorted per record:
//! an identical duplicate counts as written, anything else is reported with its reason.

pub mod query;
pub mod read;
pub mod samples;
mod sql;

pub use read::{QueryRunner, Rows, TimestreamReader};
pub use sql::TimestreamQueries;

use aws_sdk_timestreamwrite::types::{Dimension, MeasureValue, MeasureValueType, Record, TimeUnit};
use aws_sdk_timestreamwrite::Client;
use tracing::Instrument;
use webmon_core::ports::{PortError, ResultStore};
use webmon_core::result::ProbeResult;

use crate::config::AwsTarget;
use crate::store::{BatchStore, WriteReport};
use crate::AwsError;

/// Records per `WriteRecords` call (the service's maximum).
pub const RECORDS_PER_CALL: usize = 100;
/// Measure name of every record.
pub const MEASURE_NAME: &str = "probe";
/// Environment variables naming the database and the table.
pub const DATABASE_ENV: &str = "WEBMON_TIMESTREAM_DATABASE";
/// See [`DATABASE_ENV`].
pub const TABLE_ENV: &str = "WEBMON_TIMESTREAM_TABLE";
/// Longest VARCHAR measure kept (Timestream allows 2 KiB).
const MAX_TEXT: usize = 1024;

/// The Timestream table.
#[derive(Debug, Clone)]
pub struct TimestreamStore {
    client: Client,
    database: String,
    table: String,
}

impl TimestreamStore {
    /// Wraps a client that is ready to use (see [`TimestreamStore::client`]).
    pub fn new(client: Client, database: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            client,
            database: database.into(),
            table: table.into(),
        }
    }

    /// Builds a client: endpoint discovery for real AWS (its refresh task is spawned),
    /// none with an endpoint override (an emulator answers at the override itself).
    pub async fn client(target: &AwsTarget) -> Result<Client, AwsError> {
        let config = target.load().await;
        let client = Client::new(&config);
        if target.is_overridden() {
            return Ok(client);
        }
        let (client, reload) = client
            .with_endpoint_discovery_enabled()
            .await
            .map_err(|e| AwsError::Setting {
                name: "timestream endpoint discovery".into(),
                reason: e.to_string(),
            })?;
        tokio::spawn(reload.reload_task());
        Ok(client)
    }

    /// Creates the database and table unless they exist (tests, benchmark, local setups).
    pub async fn ensure_table(&self) -> Result<(), AwsError> {
        if self
            .client
            .describe_table()
            .database_name(&self.database)
            .table_name(&self.table)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        if self
            .client
            .describe_database()
            .database_name(&self.database)
            .send()
            .await
            .is_err()
        {
            self.client
                .create_database()
                .database_name(&self.database)
                .send()
                .await
                .map_err(|e| AwsError::call("timestream", "CreateDatabase", e))?;
        }
        self.client
            .create_table()
            .database_name(&self.database)
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| AwsError::call("timestream", "CreateTable", e))?;
        Ok(())
    }

    /// Writes results in calls of 100 and reports each result's fate.
    pub async fn write_batch(&self, results: &[ProbeResult]) -> WriteReport {
        let mut report = WriteReport::default();
        for (chunk_no, chunk) in results.chunks(RECORDS_PER_CALL).enumerate() {
            let base = chunk_no * RECORDS_PER_CALL;
            report.calls += 1;
            let sent = self
                .client
                .write_records()
                .database_name(&self.database)
                .table_name(&self.table)
                .set_records(Some(chunk.iter().map(to_record).collect()))
                .send()
                .instrument(tracing::info_span!(
                    "aws.timestream.WriteRecords",
                    records = chunk.len()
                ))
                .await;
            match sent {
                Ok(_) => report.written += chunk.len(),
                Err(e) => match e.as_service_error().and_then(|s| match s {
                    aws_sdk_timestreamwrite::operation::write_records::WriteRecordsError::RejectedRecordsException(r) => Some(r),
                    _ => None,
                }) {
                    Some(rejected) => {
                        sort_rejected(rejected.rejected_records(), chunk, base, &mut report);
                    }
                    None => {
                        let err = AwsError::call("timestream", "WriteRecords", e);
                        tracing::warn!(error = %err, records = chunk.len(), "WriteRecords failed");
                        report.failed.extend(base..base + chunk.len());
                        report.error = Some(err.to_string());
                    }
                },
            }
        }
        report
    }
}

/// Sorts the records Timestream rejected in one call of `chunk` (results
/// `base..base + chunk.len()` of the batch) into the report.
///
/// A record rejected with an `ExistingVersion` at least its own met a record of the same
/// execution already stored (a replayed message, or an older probe of it superseded by a
/// later one): that is written, not refused, whatever the reason's wording. Any other
/// rejection is refused with its reason. An index outside the call (the answer does not
/// match what was sent) cannot be trusted: the whole call is reported failed, to retry.
pub fn sort_rejected(
    rejected: &[aws_sdk_timestreamwrite::types::RejectedRecord],
    chunk: &[ProbeResult],
    base: usize,
    report: &mut WriteReport,
) {
    let mut refused: std::collections::BTreeMap<usize, String> = Default::default();
    for r in rejected {
        let index = match usize::try_from(r.record_index()) {
            Ok(i) if i < chunk.len() => i,
            _ => {
                tracing::error!(
                    record_index = r.record_index(),
                    records = chunk.len(),
                    "timestream rejected a record index outside the call; the call will be retried"
                );
                report.failed.extend(base..base + chunk.len());
                report.error = Some(format!(
                    "WriteRecords rejected record index {} of a call of {} records",
                    r.record_index(),
                    chunk.len()
                ));
                return;
            }
        };
        let result = &chunk[index];
        if is_version_conflict_settled(r.existing_version(), result) {
            continue;
        }
        let reason = r.reason().unwrap_or("no reason given").to_string();
        tracing::error!(check_id = %result.check_id, region = %result.region, scheduled_at_ms = result.scheduled_at_ms, existing_version = ?r.existing_version(), reason = %reason, "timestream rejected a record");
        refused.entry(index).or_insert(reason);
    }
    report.written += chunk.len() - refused.len();
    report
        .rejected
        .extend(refused.into_iter().map(|(i, reason)| (base + i, reason)));
}

/// A record rejected because the table holds one of the same execution with a version
/// at least its own (our version is the probe's start time): the stored record is as
/// new or newer, so ours counts as written.
fn is_version_conflict_settled(existing_version: Option<i64>, result: &ProbeResult) -> bool {
    existing_version.is_some_and(|v| v >= result.started_at_ms)
}

impl BatchStore for TimestreamStore {
    async fn write_detailed(&self, results: &[ProbeResult]) -> WriteReport {
        self.write_batch(results).await
    }
}

impl ResultStore for TimestreamStore {
    async fn write(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        self.write_batch(results).await.into_port_result(results)
    }
}

/// The Timestream record of a result.
pub fn to_record(r: &ProbeResult) -> Record {
    let dim = |name: &str, value: &str| {
        Dimension::builder()
            .name(name)
            .value(value)
            .build()
            .expect("name and value are set")
    };
    let mut dimensions = vec![
        dim("check_id", &r.check_id),
        dim("url", &r.url),
        dim("region", &r.region),
    ];
    for (key, value) in r.tags.iter().filter(|(_, v)| !v.is_empty()) {
        dimensions.push(dim(&format!("tag_{key}"), value));
    }
    let mut measures = Vec::with_capacity(24);
    let mut m = |name: &str, kind: MeasureValueType, value: String| {
        measures.push(
            MeasureValue::builder()
                .name(name)
                .r#type(kind)
                .value(value)
                .build()
                .expect("complete"),
        );
    };
    use MeasureValueType::{Bigint, Boolean, Double, Varchar};
    m("available", Boolean, r.available.to_string());
    if let Some(code) = r.status_code {
        m("status_code", Bigint, code.to_string());
    }
    m("requests", Bigint, r.requests.to_string());
    m("latency_avg_ms", Double, r.latency.avg_ms.to_string());
    m("latency_min_ms", Double, r.latency.min_ms.to_string());
    m("latency_max_ms", Double, r.latency.max_ms.to_string());
    m("latency_p50_ms", Double, r.latency.p50_ms.to_string());
    m("dns_ms", Double, r.cold.dns_ms.to_string());
    m("connect_ms", Double, r.cold.connect_ms.to_string());
    m("tls_ms", Double, r.cold.tls_ms.to_string());
    m("ttfb_ms", Double, r.cold.ttfb_ms.to_string());
    m("transfer_ms", Double, r.cold.transfer_ms.to_string());
    if let Some(warm) = r.warm_ttfb_ms {
        m("warm_ttfb_ms", Double, warm.to_string());
    }
    m("bytes", Bigint, r.bytes.to_string());
    m("redirects", Bigint, r.redirects.to_string());
    m("attempts", Bigint, r.attempts.to_string());
    if let Some(days) = r.tls_cert_days_left {
        m("tls_cert_days_left", Bigint, days.to_string());
    }
    if let Some(class) = r.error_class {
        m("error_class", Varchar, class.as_str().to_string());
    }
    if let Some(message) = r.error_message.as_deref().filter(|s| !s.is_empty()) {
        m("error_message", Varchar, truncate(message));
    }
    if let Some(ip) = r.remote_ip.as_deref().filter(|s| !s.is_empty()) {
        m("remote_ip", Varchar, ip.to_string());
    }
    if let Some(version) = r.http_version.as_deref().filter(|s| !s.is_empty()) {
        m("http_version", Varchar, version.to_string());
    }
    m("started_at_ms", Bigint, r.started_at_ms.to_string());
    m("start_delay_ms", Double, r.probe.start_delay_ms.to_string());
    m("cold_start", Boolean, r.probe.cold_start.to_string());
    Record::builder()
        .set_dimensions(Some(dimensions))
        .measure_name(MEASURE_NAME)
        .measure_value_type(MeasureValueType::Multi)
        .set_measure_values(Some(measures))
        .time(r.scheduled_at_ms.to_string())
        .time_unit(TimeUnit::Milliseconds)
        // A re-probe of the same execution (a retried invocation) replaces the earlier
        // record instead of conflicting with it; a replayed message is identical.
        .version(r.started_at_ms)
        .build()
}

fn truncate(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_timestreamwrite::types::RejectedRecord;

    fn results(n: usize) -> Vec<ProbeResult> {
        (0..n)
            .map(|i| {
                let mut r: ProbeResult = serde_json::from_value(serde_json::json!({
                    "version": 1, "region": "eu-west-1", "check_id": format!("c{i}"),
                    "url": "https://example.com/", "scheduled_at_ms": 1_700_000_000_000i64,
                    "started_at_ms": 1_700_000_000_100i64, "available": true,
                    "requests": 1, "latency": {"avg_ms": 1.0, "min_ms": 1.0, "max_ms": 1.0, "p50_ms": 1.0},
                    "cold": {"dns_ms": 0.0, "connect_ms": 0.0, "tls_ms": 0.0, "ttfb_ms": 0.0, "transfer_ms": 0.0},
                    "bytes": 0, "redirects": 0
                }))
                .unwrap();
                r.started_at_ms += i as i64;
                r
            })
            .collect()
    }

    fn rejected(index: i32, existing: Option<i64>, reason: &str) -> RejectedRecord {
        RejectedRecord::builder()
            .record_index(index)
            .set_existing_version(existing)
            .reason(reason)
            .build()
    }

    #[test]
    fn version_conflicts_are_decided_by_existing_version_not_words() {
        let chunk = results(4);
        let mut report = WriteReport::default();
        sort_rejected(
            &[
                // Same version stored (a replay), whatever the wording.
                rejected(0, Some(chunk[0].started_at_ms), "Record version conflict"),
                // A newer probe of the execution is stored.
                rejected(
                    1,
                    Some(chunk[1].started_at_ms + 5),
                    "different measure value",
                ),
                // An identical-sounding reason without a version is a refusal.
                rejected(
                    2,
                    None,
                    "identical duplicate of a record outside the window",
                ),
                // The same index twice counts once.
                rejected(3, None, "The record timestamp is outside the time range"),
                rejected(3, None, "The record timestamp is outside the time range"),
            ],
            &chunk,
            100,
            &mut report,
        );
        assert_eq!(report.written, 2);
        let refused: Vec<usize> = report.rejected.iter().map(|(i, _)| *i).collect();
        assert_eq!(refused, [102, 103]);
        assert!(report.failed.is_empty());
    }

    #[test]
    fn indexes_outside_the_call_fail_the_call_without_panicking() {
        let chunk = results(3);
        for bad in [-1, 3, i32::MAX, i32::MIN] {
            let mut report = WriteReport::default();
            sort_rejected(&[rejected(bad, None, "x")], &chunk, 200, &mut report);
            assert_eq!(report.failed, [200, 201, 202], "{bad}");
            assert_eq!((report.written, report.rejected.len()), (0, 0));
            assert!(report.error.is_some());
        }
    }
}
