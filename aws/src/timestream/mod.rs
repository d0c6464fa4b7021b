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
                        let mut refused = 0;
                        for r in rejected.rejected_records() {
                            let index = base + r.record_index() as usize;
                            let reason = r.reason().unwrap_or("no reason given").to_string();
                            if is_identical_duplicate(&reason) {
                                continue;
                            }
                            refused += 1;
                            let result = &results[index.min(results.len() - 1)];
                            tracing::error!(check_id = %result.check_id, region = %result.region, scheduled_at_ms = result.scheduled_at_ms, reason = %reason, "timestream rejected a record");
                            report.rejected.push((index, reason));
                        }
                        report.written += chunk.len() - refused;
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

/// An identical record written before (a replayed message) is success, not a rejection.
fn is_identical_duplicate(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains("identical") || (reason.contains("duplicate") && !reason.contains("different"))
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

    #[test]
    fn duplicates_are_told_apart_from_conflicts() {
        assert!(is_identical_duplicate(
            "Record is an identical duplicate of an existing record"
        ));
        assert!(!is_identical_duplicate("A record with the same dimensions, timestamp and measure name but different measure value exists"));
        assert!(!is_identical_duplicate(
            "The record timestamp is outside the time range of the memory store"
        ));
    }
}
