//! The AWS stores against the shared result-store conformance suite.
//!
//! Timestream runs the write half on moto's server: moto has no query engine (its
//! query answers are canned), so the read half cannot run there. Moto also appends
//! every record, where Timestream keeps one copy of an identical record (same
//! dimensions, time and version), so the suite checks that every result is stored and
//! nothing else, and the version that the service's deduplication relies on is checked
//! in `service_write.rs`.

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
