//! The writer against moto's server: real SDK calls, a real SQS event fixture, records
//! read back from moto, faults injected by the emulator's proxy.

use aws_lambda_events::event::sqs::SqsEvent;
use webmon_aws::sqs::{create_queue_with_dlq, SqsResultQueue};
use webmon_aws::timestream::TimestreamStore;
use webmon_core::result::{ProbeResult, RESULT_VERSION};
use webmon_testkit::emulator::{Emulator, Fault};

const REGION: &str = "eu-west-1";

fn result(check_id: &str, at: i64) -> ProbeResult {
    let body = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/writer-lambda/sqs_event.json"
    ))
    .unwrap();
    let event: SqsEvent = serde_json::from_str(&body).unwrap();
    let envelope = webmon_aws::envelope::decode(event.records[0].body.as_deref().unwrap()).unwrap();
    let mut r = envelope.results[0].clone();
    r.check_id = check_id.into();
    r.scheduled_at_ms = at;
    r.version = RESULT_VERSION;
    r
}

async fn store(emulator: &Emulator) -> TimestreamStore {
    let client = TimestreamStore::client(&emulator.target(REGION))
        .await
        .unwrap();
    let store = TimestreamStore::new(client, "webmon", "results");
    store.ensure_table().await.unwrap();
    store
}

fn measure<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    record["MeasureValues"]
        .as_array()?
        .iter()
        .find(|m| m["Name"] == name)?["Value"]
        .as_str()
}

fn dimension<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    record["Dimensions"]
        .as_array()?
        .iter()
        .find(|d| d["Name"] == name)?["Value"]
        .as_str()
}

#[tokio::test]
async fn fixture_event_writes_records_and_fails_the_bad_message() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = store(&emulator).await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/writer-lambda/sqs_event.json"
    ))
    .unwrap();
    let event: SqsEvent = serde_json::from_str(&text).unwrap();
    let (response, summary) = webmon_aws::service::write::handle(&store, event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["2e1424d4-f796-459a-8184-9c92662be6da"]);
    assert_eq!(
        (summary.results, summary.written, summary.undecodable),
        (1, 1, 1)
    );
    let records = emulator.timestream_records().await.unwrap();
    assert_eq!(records.len(), 1);
    let (region, record) = &records[0];
    assert_eq!(region, REGION);
    assert_eq!(dimension(record, "check_id"), Some("fixture-home"));
    assert_eq!(dimension(record, "region"), Some("eu-west-1"));
    assert_eq!(dimension(record, "url"), Some("https://example.com/"));
    assert_eq!(dimension(record, "tag_team"), Some("web"));
    assert_eq!(record["MeasureName"], "probe");
    assert_eq!(record["MeasureValueType"], "MULTI");
    assert_eq!(record["Time"], "1700000000000");
    assert_eq!(record["TimeUnit"], "MILLISECONDS");
    for (name, value) in [
        ("available", "true"),
        ("status_code", "200"),
        ("latency_avg_ms", "12.5"),
        ("latency_p50_ms", "11"),
        ("dns_ms", "1"),
        ("connect_ms", "2"),
        ("tls_ms", "3"),
        ("ttfb_ms", "4"),
        ("transfer_ms", "0.5"),
        ("warm_ttfb_ms", "3"),
        ("bytes", "1234"),
        ("tls_cert_days_left", "80"),
        ("cold_start", "true"),
    ] {
        assert_eq!(measure(record, name), Some(value), "measure {name}");
    }
    assert_eq!(measure(record, "error_class"), None);
    assert_eq!(emulator.count("timestream", "WriteRecords"), 1);
}

#[tokio::test]
async fn rejections_and_outages_fail_only_their_messages_and_nothing_is_lost() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = store(&emulator).await;
    let sqs = aws_sdk_sqs_client(&emulator).await;
    let (queue_url, dlq_url) = create_queue_with_dlq(&sqs, "webmon-results", 2)
        .await
        .unwrap();
    let queue = SqsResultQueue::new(sqs.clone(), &queue_url);
    let dlq = SqsResultQueue::new(sqs.clone(), &dlq_url);

    // 250 good results in 5 messages, one message with a result Timestream refuses,
    // and one message that is not an envelope at all.
    for m in 0..5 {
        let batch: Vec<_> = (0..50)
            .map(|i| result(&format!("good-{m}-{i}"), 1_700_000_000_000 + i))
            .collect();
        queue.send_results(&batch).await.unwrap();
    }
    queue
        .send_results(&[result("good-x", 1), result("refused", 2)])
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("{\"garbage\":true}")
        .send()
        .await
        .unwrap();
    emulator.inject(Fault::RejectRecords {
        check_id: "refused".into(),
        reason: "The record timestamp is outside the time range of the memory store".into(),
    });
    // The store is down for the first invocation (the SDK's own retries included).
    emulator.inject(Fault::ServerError {
        operation: "WriteRecords".into(),
        calls: 3,
    });

    let totals = webmon_aws::service::write::poll::drain(&queue, &store, 3, 50)
        .await
        .unwrap();
    assert!(totals.summary.failed > 0, "the outage was seen: {totals:?}");

    let written: std::collections::HashSet<String> = emulator
        .timestream_records()
        .await
        .unwrap()
        .iter()
        .filter_map(|(_, r)| dimension(r, "check_id").map(str::to_string))
        .collect();
    let mut dead = Vec::new();
    loop {
        let got = dlq.receive(0).await.unwrap();
        if got.is_empty() {
            break;
        }
        dead.extend(got.iter().map(|m| m.body.clone()));
        dlq.delete(&got.iter().collect::<Vec<_>>()).await.unwrap();
    }
    // Counts in == written + dead-lettered: every good result is stored, and the two
    // failing messages (the refused record's and the garbage) are in the dead-letter queue.
    assert_eq!(
        written.len(),
        251,
        "every good result is stored: {}",
        written.len()
    );
    assert!(!written.contains("refused"));
    assert_eq!(dead.len(), 2, "{dead:?}");
    let dead_ids: Vec<String> = dead
        .iter()
        .filter_map(|b| webmon_aws::envelope::decode(b).ok())
        .flat_map(|d| d.results)
        .map(|r| r.check_id)
        .collect();
    assert_eq!(dead_ids, ["good-x", "refused"]);
    assert!(queue.receive(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn writes_go_out_100_records_per_call() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = store(&emulator).await;
    let sqs = aws_sdk_sqs_client(&emulator).await;
    let (queue_url, _) = create_queue_with_dlq(&sqs, "webmon-results", 3)
        .await
        .unwrap();
    let queue = SqsResultQueue::new(sqs, &queue_url);
    let batch: Vec<_> = (0..1000)
        .map(|i| result(&format!("c{i}"), 1_700_000_000_000))
        .collect();
    let messages = queue.send_results(&batch).await.unwrap();
    emulator.reset_counts();
    let totals = webmon_aws::service::write::poll::drain(&queue, &store, 2, 10)
        .await
        .unwrap();
    assert_eq!(totals.summary.written, 1000);
    assert_eq!(emulator.count("timestream", "WriteRecords"), 10);
    assert_eq!(messages, 1, "1000 results fit one compressed message");
    assert_eq!(emulator.timestream_records().await.unwrap().len(), 1000);
}

async fn aws_sdk_sqs_client(emulator: &Emulator) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&emulator.target(REGION).load().await)
}
