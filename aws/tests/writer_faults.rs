//! The writer and the queue under faults on the emulator: moto killed and restarted
//! mid-run, SQS errors, Timestream throttling and a decompression bomb. Every result a
//! send accepted is stored or dead-lettered: results in = stored + DLQ, none lost.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use base64::Engine;
use webmon_aws::sqs::{create_queue_with_dlq, Backoff, SqsResultQueue};
use webmon_aws::timestream::TimestreamStore;
use webmon_core::result::ProbeResult;
use webmon_testkit::emulator::{Emulator, Fault};

const REGION: &str = "eu-west-1";

fn result(check_id: &str, at: i64) -> ProbeResult {
    serde_json::from_value(serde_json::json!({
        "version": 1, "region": REGION, "check_id": check_id, "url": "https://example.com/",
        "scheduled_at_ms": at, "started_at_ms": at + 5, "available": true, "status_code": 200,
        "requests": 1,
        "latency": {"avg_ms": 10.0, "min_ms": 10.0, "max_ms": 10.0, "p50_ms": 10.0},
        "cold": {"dns_ms": 1.0, "connect_ms": 1.0, "tls_ms": 1.0, "ttfb_ms": 5.0, "transfer_ms": 1.0},
        "bytes": 100, "redirects": 0
    }))
    .unwrap()
}

struct Home {
    queue: SqsResultQueue,
    dlq: SqsResultQueue,
    store: TimestreamStore,
}

/// Queue (3 receives, then the dead-letter queue) and table; the same names, so the same
/// URLs, after a restart.
async fn home(emulator: &Emulator) -> Home {
    let config = emulator.target(REGION).load().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (url, dlq) = create_queue_with_dlq(&sqs, "webmon-results", 3)
        .await
        .unwrap();
    let store = TimestreamStore::new(
        TimestreamStore::client(&emulator.target(REGION))
            .await
            .unwrap(),
        "webmon",
        "results",
    );
    store.ensure_table().await.unwrap();
    Home {
        queue: SqsResultQueue::new(sqs.clone(), url).with_backoff(Backoff {
            attempts: 6,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
        }),
        dlq: SqsResultQueue::new(sqs, dlq),
        store,
    }
}

/// `(check_id, scheduled time)` of every stored record.
async fn stored(emulator: &Emulator) -> HashSet<(String, String)> {
    emulator
        .timestream_records()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, r)| {
            let id = r["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["Name"] == "check_id")
                .unwrap()["Value"]
                .as_str()
                .unwrap()
                .to_string();
            (id, r["Time"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Results in the dead-letter queue (a bomb counts its message, as 1).
async fn dead_letters(dlq: &SqsResultQueue) -> (usize, Vec<String>) {
    let (mut results, mut bodies) = (0, Vec::new());
    for _ in 0..100 {
        let got = dlq.receive(0).await.unwrap();
        if got.is_empty() {
            break;
        }
        for m in &got {
            results += webmon_aws::envelope::decode(&m.body).map_or(1, |d| d.results.len());
            bodies.push(m.body.clone());
        }
        dlq.delete(&got.iter().collect::<Vec<_>>()).await.unwrap();
    }
    (results, bodies)
}

/// Sends `batches` batches of `per` results; returns how many results were accepted.
async fn send(queue: &SqsResultQueue, tag: &str, batches: usize, per: usize) -> (usize, usize) {
    let (mut accepted, mut refused) = (0, 0);
    for b in 0..batches {
        let batch: Vec<_> = (0..per)
            .map(|i| result(&format!("{tag}-{b}-{i}"), 1_767_261_900_000 + i as i64))
            .collect();
        match queue.send_results(&batch).await {
            Ok(_) => accepted += per,
            // The caller is told (the probe invocation fails): not in, not lost.
            Err(_) => refused += per,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (accepted, refused)
}

#[tokio::test]
async fn moto_restart_sqs_errors_and_throttling_lose_nothing() {
    let mut emulator = Emulator::start().await.expect("emulator");
    let h = home(&emulator).await;

    // Phase 1: SQS errors on send, a refused record, Timestream throttled.
    emulator.inject(Fault::FailFirstSqsEntry { calls: 4 });
    emulator.inject(Fault::ServerError {
        operation: "SendMessageBatch".into(),
        calls: 2,
    });
    let (in1, out1) = send(&h.queue, "a", 5, 200).await;
    h.queue
        .send_results(&[result("refused", 1_767_261_900_000)])
        .await
        .unwrap();
    emulator.inject(Fault::RejectRecords {
        check_id: "refused".into(),
        reason: "The record timestamp is outside the time range of the memory store".into(),
    });
    emulator.inject(Fault::ThrottleWrites { calls: 6 });
    let totals1 = webmon_aws::service::write::poll::drain(&h.queue, &h.store, 3, 200)
        .await
        .unwrap();
    let stored1 = stored(&emulator).await;
    let (dead1, _) = dead_letters(&h.dlq).await;
    emulator.clear_faults();

    // Phase 2: moto is killed while results are being sent, and restarted (empty) on
    // the same port; the queue and table are created again, as the programs would.
    emulator.kill_moto();
    let sender = {
        let queue = h.queue.clone();
        tokio::spawn(async move { send(&queue, "b", 6, 100).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    emulator.start_moto().await.unwrap();
    let h2 = home(&emulator).await;
    let (in2, out2) = sender.await.unwrap();
    emulator.inject(Fault::FailFirstSqsEntry { calls: 2 });
    emulator.inject(Fault::ThrottleWrites { calls: 3 });
    let (in3, out3) = send(&h2.queue, "c", 3, 100).await;
    let totals2 = webmon_aws::service::write::poll::drain(&h2.queue, &h2.store, 3, 200)
        .await
        .unwrap();
    let stored2 = stored(&emulator).await;
    let (dead2, _) = dead_letters(&h2.dlq).await;

    let results_in = in1 + 1 + in2 + in3;
    let stored_total = stored1.len() + stored2.len();
    let dead_total = dead1 + dead2;
    println!(
        "faults: in {results_in} (refused to the caller {}), stored {stored_total}, dead-lettered {dead_total}, \
         writer invocations {}, throttled/failed results retried {}, SQS calls {}",
        out1 + out2 + out3,
        totals1.invocations + totals2.invocations,
        totals1.summary.failed + totals2.summary.failed,
        emulator.count("sqs", "SendMessageBatch"),
    );
    assert!(in2 > 0, "sends got through after the restart");
    assert_eq!(out1 + out3, 0, "retries carried the SQS errors");
    assert!(
        totals1.summary.failed + totals2.summary.failed > 0,
        "throttling was seen"
    );
    assert_eq!(dead_total, 1, "only the refused record is dead-lettered");
    assert_eq!(results_in, stored_total + dead_total, "none lost");
    assert!(h2.queue.receive(0).await.unwrap().is_empty());
}

/// A valid envelope padded with `mib` MiB of spaces, gzipped and base64-encoded.
fn bomb(mib: usize) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(br#"{"version":1,"results":["#).unwrap();
    let spaces = vec![b' '; 1024 * 1024];
    for _ in 0..mib {
        gz.write_all(&spaces).unwrap();
    }
    gz.write_all(b"]}").unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

#[tokio::test]
async fn a_decompression_bomb_goes_to_the_dlq_and_its_neighbours_are_stored() {
    let emulator = Emulator::start().await.expect("emulator");
    let h = home(&emulator).await;
    let body = bomb(180);
    assert!(
        body.len() < webmon_aws::envelope::MAX_MESSAGE_BYTES,
        "{} bytes",
        body.len()
    );
    let before: Vec<_> = (0..20)
        .map(|i| result(&format!("before-{i}"), 1_767_261_900_000))
        .collect();
    let after: Vec<_> = (0..20)
        .map(|i| result(&format!("after-{i}"), 1_767_261_900_000))
        .collect();
    h.queue.send_results(&before).await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&emulator.target(REGION).load().await);
    let url = sqs
        .get_queue_url()
        .queue_name("webmon-results")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body(&body)
        .send()
        .await
        .unwrap();
    h.queue.send_results(&after).await.unwrap();
    let started = std::time::Instant::now();
    let totals = webmon_aws::service::write::poll::drain(&h.queue, &h.store, 3, 20)
        .await
        .unwrap();
    println!(
        "bomb: {} bytes inflating to 180 MiB, refused {} times, drain took {:?}",
        body.len(),
        totals.summary.undecodable,
        started.elapsed()
    );
    assert_eq!(
        stored(&emulator).await.len(),
        40,
        "the neighbours are stored"
    );
    let (_, dead) = dead_letters(&h.dlq).await;
    assert_eq!(dead, [body], "the bomb is dead-lettered");
    assert!(h.queue.receive(0).await.unwrap().is_empty());
}
