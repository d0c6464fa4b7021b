//! The AWS stores against the shared result-store conformance suite.
//!
//! Timestream runs the write half on moto's server: moto has no query engine (its
//! query answers are canned), so the read half cannot run there. Moto also appends
//! every record, where Timestream keeps one copy of an identical record (same
//! dimensions, time and version), so the suite checks that every result is stored and
//! nothing else; the record version that the service's deduplication relies on is read
//! back from moto by `records_carry_the_probe_start_as_their_version`.

use webmon_aws::timestream::TimestreamStore;
use webmon_testkit::conformance;
use webmon_testkit::emulator::Emulator;

fn dimension(record: &serde_json::Value, name: &str) -> String {
    record["Dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["Name"] == name)
        .and_then(|d| d["Value"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn timestream_passes_the_write_half_of_the_store_suite() {
    let emulator = Emulator::start().await.unwrap();
    let client = TimestreamStore::client(&emulator.target("us-east-1"))
        .await
        .unwrap();
    let store = TimestreamStore::new(client, "webmon", "results");
    store.ensure_table().await.unwrap();
    conformance::write_only("timestream", &store, false, || async {
        emulator
            .timestream_records()
            .await
            .unwrap()
            .into_iter()
            .map(|(_, r)| {
                let at = r["Time"].as_str().unwrap_or_default().parse().unwrap_or(-1);
                (dimension(&r, "check_id"), dimension(&r, "region"), at)
            })
            .collect()
    })
    .await;
}

fn result(
    check: &str,
    scheduled_at_ms: i64,
    started_at_ms: i64,
) -> webmon_core::result::ProbeResult {
    serde_json::from_value(serde_json::json!({
        "version": 1, "region": "eu-west-1", "check_id": check,
        "url": "https://example.com/", "scheduled_at_ms": scheduled_at_ms,
        "started_at_ms": started_at_ms, "available": true, "status_code": 200,
        "requests": 1, "latency": {"avg_ms": 1.0, "min_ms": 1.0, "max_ms": 1.0, "p50_ms": 1.0},
        "cold": {"dns_ms": 0.0, "connect_ms": 0.0, "tls_ms": 0.0, "ttfb_ms": 0.0, "transfer_ms": 0.0},
        "bytes": 0, "redirects": 0
    }))
    .unwrap()
}

/// Timestream keeps one record per (dimensions, time) and settles a second write by its
/// `Version`: an equal version is an identical duplicate (a replayed message), a higher
/// one replaces the record (a re-probe of the execution). The store sets the version to
/// the probe's start time (docs/aws.md, The writer); here it is read back from what moto
/// received, for a first write, its replay and a re-probe of the same execution.
#[tokio::test]
async fn records_carry_the_probe_start_as_their_version() {
    use webmon_core::ports::ResultStore;
    let emulator = Emulator::start().await.unwrap();
    let client = TimestreamStore::client(&emulator.target("us-east-1"))
        .await
        .unwrap();
    let store = TimestreamStore::new(client, "webmon", "results");
    store.ensure_table().await.unwrap();
    let scheduled = 1_750_000_020_000;
    let first = result("home", scheduled, scheduled + 35);
    let reprobe = result("home", scheduled, scheduled + 61_000);
    store.write(std::slice::from_ref(&first)).await.unwrap();
    store.write(std::slice::from_ref(&first)).await.unwrap();
    store.write(std::slice::from_ref(&reprobe)).await.unwrap();
    let records = emulator.timestream_records().await.unwrap();
    let seen: Vec<(String, String, i64, String)> = records
        .iter()
        .map(|(_, r)| {
            (
                dimension(r, "check_id"),
                r["Time"].as_str().unwrap_or_default().to_string(),
                r["Version"].as_i64().unwrap_or(-1),
                r["TimeUnit"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let record = |version: i64| {
        (
            "home".to_string(),
            scheduled.to_string(),
            version,
            "MILLISECONDS".to_string(),
        )
    };
    assert_eq!(
        seen,
        [
            record(first.started_at_ms),
            record(first.started_at_ms),
            record(reprobe.started_at_ms),
        ],
        "time = scheduled time, version = the probe's start: {records:?}"
    );
}
