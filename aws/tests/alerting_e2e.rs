//! Alerting on the whole AWS pipeline, on one moto server: two probe regions and home.
//!
//! A target on 127.0.0.1 fails as seen from one region, then from both, then recovers.
//! Each round, both regions' probe Lambdas (played in-process with their rule inputs)
//! send results to the home queue; every message is sent twice, and once more a round
//! later (late duplicate), and the regions' order alternates. Two writer "containers"
//! (two evaluators with their own caches) drain the queue concurrently, store the
//! results in Timestream and evaluate alerts into the alert table. The notifier reads
//! the table's real stream and delivers to a webhook receiver on 127.0.0.1, whose
//! requests must be exactly: REGIONAL triggered, escalated to DOWN, resolved, each
//! with a valid Standard Webhooks signature.
//!
//! A second test makes the notifier "crash" after the receiver accepted (the call
//! recording the delivery fails at the HTTP level); after the claim's lease, the
//! sweeper sends it again: exactly one duplicate, with the same webhook id.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use webmon_aws::alerting::channels::AwsChannelClients;
use webmon_aws::alerting::deliver::{DeliverySettings, Notifier};
use webmon_aws::alerting::table::AlertTable;
use webmon_aws::alerting::AlertEvaluator;
use webmon_aws::dynamodb::DynamoCheckRepository;
use webmon_aws::sqs::SqsResultQueue;
use webmon_aws::timestream::TimestreamStore;
use webmon_core::alert::{AlertDocument, ChannelConfig, EventKind, Level, NotificationIntent};
use webmon_core::ports::{Clock, PortError, ResultQueue};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::result::ProbeResult;
use webmon_testkit::emulator::{Emulator, Fault};
use webmon_testkit::http_recorder::{Recorded, Recorder};
use webmon_testkit::pipeline as common;
use webmon_testkit::signature::standard_webhook_signature;
use webmon_testkit::streams::StreamReader;
use webmon_testkit::switch_target::SwitchTarget;

const PROBE_REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const HOME: &str = "eu-central-1";
/// A trigger minute in the past; round `k` is the minute `k` minutes later.
const MINUTE: i64 = 1_767_261_960_000;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRETS_PREFIX: &str = "webmon/test/channel/";

/// A clock the test moves.
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The probe Lambda's queue as the test delivers it: every batch twice now, and once
/// more at the next round (a late duplicate).
struct DuplicatingQueue<'a> {
    inner: &'a SqsResultQueue,
    late: Mutex<Vec<Vec<ProbeResult>>>,
}

impl ResultQueue for DuplicatingQueue<'_> {
    async fn send(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        self.inner.send(results).await?;
        self.inner.send(results).await?;
        self.late.lock().unwrap().push(results.to_vec());
        Ok(())
    }
}

/// Alert table, its document (one webhook channel, secret in Secrets Manager) and the
/// notifier.
async fn alerting_home(emulator: &Emulator, receiver: &Recorder) -> (AlertTable, Notifier) {
    let config = emulator.target(HOME).load().await;
    let table = AlertTable::new(aws_sdk_dynamodb::Client::new(&config), "webmon-alerts");
    table.ensure_table().await.unwrap();
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(format!("{SECRETS_PREFIX}hook"))
        .secret_string(json!({ "value": SECRET }).to_string())
        .send()
        .await
        .unwrap();
    let document = AlertDocument {
        channels: vec![ChannelConfig::Webhook {
            id: "hook".into(),
            url: receiver.url(),
            secret: "${secret:hook}".into(),
        }],
        ..Default::default()
    };
    table.put_document(&document).await.unwrap();
    let notifier = Notifier::new(
        table.clone(),
        AwsChannelClients::new(&config, SECRETS_PREFIX),
        DeliverySettings {
            lease: Duration::from_secs(60),
            ..DeliverySettings::default()
        },
    );
    (table, notifier)
}

/// Verifies the signature and returns the body.
fn verify(r: &Recorded) -> Value {
    let (id, ts, sig) = (
        r.header("webhook-id").expect("webhook-id"),
        r.header("webhook-timestamp").expect("webhook-timestamp"),
        r.header("webhook-signature").expect("webhook-signature"),
    );
    assert_eq!(
        sig,
        standard_webhook_signature(SECRET, id, ts, &r.body),
        "signature of {id}"
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["id"], id);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_notification_per_incident_step_across_regions_under_duplicates_and_reordering() {
    let emulator = Emulator::start().await.expect("emulator");
    let target = SwitchTarget::start();
    let receiver = Recorder::start(Vec::new());
    let (queue, dlq) = common::home_queue(&emulator, HOME).await;
    let store = TimestreamStore::new(
        TimestreamStore::client(&emulator.target(HOME))
            .await
            .unwrap(),
        "webmon",
        "results",
    );
    store.ensure_table().await.unwrap();

    let mut check = common::check("shop", &target.url(), "1m", &[]);
    check.source.alert = Some(json!({
        "channels": ["hook"],
        "failure_threshold": 2,
        "failure_window": 2,
        "success_threshold": 2,
        "settle": "2m",
    }));
    let checks = vec![check];
    let mut regions = Vec::new();
    for name in PROBE_REGIONS {
        regions.push(common::configured_region(&emulator, name, &checks).await);
    }
    // The home region's replica of the global checks table.
    let home_ddb = aws_sdk_dynamodb::Client::new(&emulator.target(HOME).load().await);
    let home_checks = DynamoCheckRepository::new(home_ddb.clone(), "webmon-checks");
    home_checks.ensure_table().await.unwrap();
    for c in &checks {
        home_checks.put(c).await.unwrap();
    }
    let (table, notifier) = alerting_home(&emulator, &receiver).await;
    let clock = Arc::new(TestClock(AtomicI64::new(MINUTE)));
    let probe_regions: Vec<String> = PROBE_REGIONS.iter().map(|r| r.to_string()).collect();
    let writer = |table: &AlertTable| {
        AlertEvaluator::new(
            table.clone(),
            DynamoCheckRepository::new(home_ddb.clone(), "webmon-checks"),
            probe_regions.clone(),
        )
        .with_clock(clock.clone())
    };
    let (writer_a, writer_b) = (writer(&table), writer(&table));
    let mut stream = StreamReader::open(&emulator.target(HOME), "webmon-alerts").await;
    let duplicating = DuplicatingQueue {
        inner: &queue,
        late: Mutex::new(Vec::new()),
    };

    // (eu-west-1 up, us-east-1 up) per round.
    let rounds = [
        (true, true),
        (true, true),
        (false, true),
        (false, true),
        (false, false),
        (false, false),
        (true, true),
        (true, true),
        (true, true),
    ];
    let mut delivered = Vec::new();
    for (k, up) in rounds.iter().enumerate() {
        let minute = MINUTE + k as i64 * 60_000;
        // Late duplicates of the previous round arrive first.
        let late: Vec<_> = std::mem::take(&mut *duplicating.late.lock().unwrap());
        for batch in late {
            queue.send(&batch).await.unwrap();
        }
        let mut order: Vec<usize> = vec![0, 1];
        if k % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let region = &regions[i];
            target.set_status(if [up.0, up.1][i] { 200 } else { 503 });
            let prober = Prober::new(ProbeOptions {
                region: region.name.clone(),
                allow_private: true,
                ..Default::default()
            });
            let settings = webmon_aws::service::probe::Settings {
                region: region.name.clone(),
                concurrency: 8,
            };
            let time = chrono::DateTime::from_timestamp_millis(minute)
                .unwrap()
                .to_rfc3339();
            let probe_clock = TestClock(AtomicI64::new(minute + 59_999));
            for (_, input) in common::rule_inputs(&region.events, &time).await {
                webmon_aws::service::probe::handle(
                    &region.table,
                    &duplicating,
                    &prober,
                    &probe_clock,
                    &settings,
                    input,
                )
                .await
                .unwrap();
            }
        }
        // The writers run at the end of the round's minute, two at once.
        clock.0.store(minute + 59_999, Ordering::SeqCst);
        let (a, b) = tokio::join!(
            webmon_aws::service::write::poll::drain_then(&queue, &store, &writer_a, 2, 50),
            webmon_aws::service::write::poll::drain_then(&queue, &store, &writer_b, 2, 50),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.summary.failed_messages + b.summary.failed_messages,
            0,
            "round {k}: {:?} {:?}",
            a.summary,
            b.summary
        );
        // The notifier handles what the table's stream holds.
        let event = stream.next_event().await;
        let (response, done) = notifier.handle_stream(event, &*clock).await;
        assert!(response.batch_item_failures.is_empty(), "round {k}");
        delivered.push(done.sent);
    }
    // A last sweep finds nothing to add (nothing due, no region silent).
    let sweep_notifier = Notifier::new(
        table.clone(),
        AwsChannelClients::new(&emulator.target(HOME).load().await, SECRETS_PREFIX),
        DeliverySettings::default(),
    );
    let swept = webmon_aws::alerting::sweep::sweep(&writer_a, &sweep_notifier)
        .await
        .unwrap();
    assert_eq!(swept.delivered.sent, 0, "{swept:?}");
    assert!(
        dlq.receive(0).await.unwrap().is_empty(),
        "nothing dead-lettered"
    );

    let requests = receiver.wait_for(3, Duration::from_secs(5));
    let got: Vec<(String, String)> = requests
        .iter()
        .map(|r| {
            let body = verify(r);
            (
                body["type"].as_str().unwrap().to_string(),
                body["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("incident.triggered".to_string(), "REGIONAL".to_string()),
            ("incident.escalated".to_string(), "DOWN".to_string()),
            ("incident.resolved".to_string(), "UP".to_string()),
        ],
        "delivered per round: {delivered:?}"
    );
    // One incident: the same incident id on all three, sequence 1, 2, 3.
    let incidents: Vec<(String, u64)> = requests
        .iter()
        .map(|r| {
            let b = verify(r);
            (
                b["incident"]["id"].as_str().unwrap().to_string(),
                b["incident"]["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(incidents.iter().all(|(id, _)| id == &incidents[0].0));
    assert_eq!(
        incidents.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // Every result was stored: 9 rounds x 2 regions, duplicates overwritten.
    let records = emulator.timestream_records().await.unwrap();
    let mut per_region: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in &records {
        let region = r["Dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["Name"] == "region")
            .unwrap()["Value"]
            .as_str()
            .unwrap()
            .to_string();
        *per_region.entry(region).or_default() += 1;
    }
    assert!(
        per_region.values().all(|n| *n >= rounds.len()),
        "{per_region:?}"
    );
    // The check is settled again: no longer on the sweeper's list.
    assert!(table.active_checks().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_provider_accepted_gives_exactly_one_duplicate() {
    let emulator = Emulator::start().await.expect("emulator");
    let receiver = Recorder::start(Vec::new());
    let (table, notifier) = alerting_home(&emulator, &receiver).await;
    let clock = TestClock(AtomicI64::new(MINUTE));
    let mut stream = StreamReader::open(&emulator.target(HOME), "webmon-alerts").await;

    // One state change with its notification, committed as the writer does.
    let mut intent = NotificationIntent::test("hook", MINUTE);
    intent.id = "shop:1767261960000:1".into();
    intent.kind = EventKind::Triggered;
    intent.level = Level::Down;
    intent.incident_id = Some("shop:1767261960000".into());
    intent.seq = 1;
    intent.note = None;
    let state = webmon_core::alert::CheckState::new(MINUTE);
    table
        .commit("shop", None, &state, &[intent], MINUTE)
        .await
        .unwrap();

    // The receiver accepts; then every attempt to record "sent" fails (the SDK's own
    // retries included), as if the notifier died right after the provider's answer.
    emulator.inject(Fault::ServerErrorIfBodyContains {
        operation: "UpdateItem".into(),
        contains: ":sent".into(),
        calls: 10,
    });
    let event = stream.next_event().await;
    let (response, done) = notifier.handle_stream(event.clone(), &clock).await;
    assert_eq!(receiver.wait_for(1, Duration::from_secs(5)).len(), 1);
    assert_eq!(done.sent, 0, "{done:?}");
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "the stream record is retried"
    );
    emulator.clear_faults();

    // The stream retry (the same records) finds the claim still leased: nothing is sent.
    let (_, retry) = notifier.handle_stream(event, &clock).await;
    assert_eq!(retry.sent, 0, "{retry:?}");
    assert_eq!(receiver.requests().len(), 1);

    // After the lease the sweeper's due list has it: sent once more, then recorded.
    clock.0.store(MINUTE + 61_000, Ordering::SeqCst);
    let again = notifier.deliver_due(10, &clock).await.unwrap();
    assert_eq!(again.sent, 1, "{again:?}");
    let again = notifier.deliver_due(10, &clock).await.unwrap();
    assert_eq!(again.sent, 0, "recorded: nothing due any more");
    let requests = receiver.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests.len(), 2, "exactly one duplicate");
    let ids: Vec<String> = requests
        .iter()
        .map(|r| verify(r)["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids[0], ids[1], "the duplicate carries the same webhook id");
    assert_eq!(ids[0], "shop:1767261960000:1");
}
