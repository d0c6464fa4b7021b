//! The probe Lambda against moto's server and a local target: a real scheduled-event
//! fixture, the group queried from the table, results read back from SQS.

use webmon_testkit::pipeline as common;

use std::time::{Duration, Instant};
use webmon_core::check::Interval;

use webmon_aws::service::probe::{Limits, Settings, CANCELLED_MESSAGE};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::result::ErrorClass;
use webmon_core::schedule::{offset_ms, GroupKey};
use webmon_testkit::emulator::{Emulator, Fault};
use webmon_testkit::TargetServer;

const REGION: &str = "eu-west-1";
/// The minute of `eventbridge_scheduled.json` (2026-01-01T10:05:00Z).
const EVENT_MINUTE: i64 = 1_767_261_900_000;

/// A clock stopped at the end of a minute, so every execution of that minute is due.
struct EndOfMinute(i64);

impl webmon_core::ports::Clock for EndOfMinute {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/probe-lambda/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn scheduled_event_probes_its_group_and_sends_packed_results() {
    let emulator = Emulator::start().await.expect("emulator");
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let region = common::region(&emulator, REGION).await;
    let (queue, _) = common::home_queue(&emulator, "eu-central-1").await;
    let group = GroupKey::parse("1m-3").unwrap();
    // 30 checks of group 1m-3 (one only for another region, one disabled), and 20
    // checks of other groups (not 1m-4, the fixture's other group) that must not be
    // probed.
    let ids: Vec<String> = (0..2000).map(|n| format!("c{n}")).collect();
    let in_group = |id: &String| GroupKey::for_id(id, Interval::parse("1m").unwrap()) == group;
    for (i, id) in ids.iter().filter(|id| in_group(id)).take(30).enumerate() {
        let regions: &[&str] = if i == 1 { &["us-east-1"] } else { &[] };
        let mut check = common::check(id, &target.url("/ok"), "1m", regions);
        if i == 2 {
            check.source.enabled = Some(false);
            check = check.source.validate().unwrap();
        }
        region.table.put(&check).await.unwrap();
    }
    let other = GroupKey::parse("1m-4").unwrap();
    for id in ids
        .iter()
        .filter(|id| !in_group(id) && GroupKey::for_id(id, Interval::parse("1m").unwrap()) != other)
        .take(20)
    {
        region
            .table
            .put(&common::check(id, &target.url("/ok"), "1m", &[]))
            .await
            .unwrap();
    }
    // A malformed item in the same group is skipped, not fatal.
    let mut bad =
        webmon_aws::dynamodb::check_to_item(&common::check("bad", "http://127.0.0.1/", "1m", &[]))
            .unwrap();
    bad.insert(
        "schedule_group".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(group.name()),
    );
    bad.insert(
        "requests".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("many".into()),
    );
    region
        .ddb
        .put_item()
        .table_name("webmon-checks")
        .set_item(Some(bad))
        .send()
        .await
        .unwrap();
    // The first SendMessageBatch entry fails once; the retry delivers it.
    emulator.inject(Fault::FailFirstSqsEntry { calls: 1 });
    emulator.reset_counts();

    let prober = Prober::new(ProbeOptions {
        region: REGION.into(),
        // The targets are on 127.0.0.1: the operator allows private addresses.
        allow_private: true,
        cold_start: true,
        ..Default::default()
    });
    let settings = webmon_aws::service::probe::Settings {
        region: REGION.into(),
        concurrency: 64,
    };
    // The clock stands at the end of the event's minute (a trigger older than a minute
    // would be dropped as stale); one flush at the end keeps the message count fixed.
    let summary = webmon_aws::service::probe::handle_with(
        &region.table,
        &queue,
        &prober,
        &EndOfMinute(EVENT_MINUTE + 59_999),
        &settings,
        fixture("eventbridge_scheduled.json"),
        &Limits {
            flush_every: Duration::from_secs(30),
            ..Limits::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.groups, ["1m-3", "1m-4"]);
    assert_eq!(
        (summary.checks, summary.invalid_items, summary.probed_checks),
        (30, 1, 28)
    );
    assert_eq!((summary.executions, summary.results_sent), (28, 28));
    assert_eq!(
        emulator.count("dynamodb", "Query"),
        2,
        "each group is queried, never scanned"
    );
    assert_eq!(emulator.count("dynamodb", "Scan"), 0);
    assert_eq!(
        emulator.count("sqs", "SendMessageBatch"),
        2,
        "one batch and one retry"
    );

    let messages = queue.receive(0).await.unwrap();
    assert_eq!(messages.len(), 1, "28 results travel in one message");
    let results = webmon_aws::envelope::decode(&messages[0].body)
        .unwrap()
        .results;
    assert_eq!(results.len(), 28);
    queue.delete(&[&messages[0]]).await.unwrap();
    for r in &results {
        assert_eq!(r.region, REGION);
        assert!(r.available, "{r:?}");
        assert_eq!(r.status_code, Some(200));
        assert!(r.probe.cold_start);
        assert_eq!(
            r.scheduled_at_ms.rem_euclid(60_000),
            offset_ms(&r.check_id, Interval::parse("1m").unwrap()) as i64
        );
        assert_eq!(r.tags.get("suite").map(String::as_str), Some("e2e"));
    }
    assert_eq!(
        results[0].scheduled_at_ms.div_euclid(60_000) * 60_000,
        EVENT_MINUTE,
        "the event's minute"
    );

    // A rule's own input (no time; here the one-group input of older releases, still
    // read): the trigger minute is the clock's; the results of a second invocation are
    // no longer marked cold.
    let clock = EndOfMinute(1_767_261_960_000 + 59_999);
    let summary = webmon_aws::service::probe::handle_with(
        &region.table,
        &queue,
        &prober,
        &clock,
        &settings,
        fixture("rule_input.json"),
        &Limits {
            flush_every: Duration::from_secs(30),
            ..Limits::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.results_sent, 28);
    assert_eq!(summary.groups, ["1m-3"]);
    let results = webmon_aws::envelope::decode(&queue.receive(0).await.unwrap()[0].body)
        .unwrap()
        .results;
    assert!(results
        .iter()
        .all(|r| !r.probe.cold_start && r.scheduled_at_ms / 60_000 == 1_767_261_960_000 / 60_000));
}

/// A check of group 1m-3 (the fixture's first group) named `<prefix><n>`.
fn check_in_group(
    prefix: &str,
    from: usize,
    url: &str,
    timeout: &str,
) -> (usize, webmon_core::check::Check) {
    let group = GroupKey::parse("1m-3").unwrap();
    (from..)
        .map(|n| {
            let mut raw = common::check(&format!("{prefix}{n}"), url, "1m", &[]).source;
            raw.timeout = Some(timeout.into());
            (n, raw.validate().unwrap())
        })
        .find(|(_, c)| GroupKey::of(c) == group)
        .unwrap()
}

fn local_prober() -> Prober {
    Prober::new(ProbeOptions {
        region: REGION.into(),
        // The targets are on 127.0.0.1: the operator allows private addresses.
        allow_private: true,
        ..Default::default()
    })
}

#[tokio::test]
async fn results_stream_while_probing_and_the_deadline_cancels_the_slow_ones() {
    let emulator = Emulator::start().await.expect("emulator");
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let region = common::region(&emulator, REGION).await;
    let (queue, _) = common::home_queue(&emulator, "eu-central-1").await;
    // 12 fast checks and 3 whose backend answers after 30 s (timeout 20 s).
    let mut from = 0;
    for _ in 0..12 {
        let (n, check) = check_in_group("fast", from, &target.url("/ok"), "2s");
        region.table.put(&check).await.unwrap();
        from = n + 1;
    }
    // One fast check carries attributes other tools wrote: it is probed all the same.
    let (_, audited) = check_in_group("audited", 0, &target.url("/ok"), "2s");
    let mut item = webmon_aws::dynamodb::check_to_item(&audited).unwrap();
    item.insert(
        "ttl".into(),
        aws_sdk_dynamodb::types::AttributeValue::N("1893456000".into()),
    );
    item.insert(
        "updated_by".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("terraform".into()),
    );
    region
        .ddb
        .put_item()
        .table_name("webmon-checks")
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let mut from = 0;
    let mut slow_ids = Vec::new();
    for _ in 0..3 {
        let (n, check) = check_in_group("slow", from, &target.url("/delay/30000"), "20s");
        slow_ids.push(check.id.clone());
        region.table.put(&check).await.unwrap();
        from = n + 1;
    }
    emulator.reset_counts();
    let settings = Settings {
        region: REGION.into(),
        concurrency: 64,
    };
    let started = Instant::now();
    let limits = Limits {
        deadline: Some(started + Duration::from_millis(3_500)),
        margin: Duration::from_millis(1_000),
        flush_every: Duration::from_millis(200),
        ..Limits::default()
    };
    let summary = webmon_aws::service::probe::handle_with(
        &region.table,
        &queue,
        &local_prober(),
        &EndOfMinute(EVENT_MINUTE + 59_999),
        &settings,
        fixture("eventbridge_scheduled.json"),
        &limits,
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(3_500),
        "ended before the deadline: {took:?}"
    );
    assert_eq!((summary.probed_checks, summary.executions), (16, 16));
    assert_eq!((summary.results_sent, summary.cancelled), (16, 3));
    assert!(
        summary.sends >= 2,
        "the fast results went before the deadline: {summary:?}"
    );
    let mut results = Vec::new();
    for _ in 0..10 {
        let got = queue.receive(0).await.unwrap();
        if got.is_empty() {
            break;
        }
        for m in &got {
            results.extend(webmon_aws::envelope::decode(&m.body).unwrap().results);
        }
        queue.delete(&got.iter().collect::<Vec<_>>()).await.unwrap();
    }
    assert_eq!(results.len(), 16);
    assert!(results
        .iter()
        .any(|r| r.check_id == audited.id && r.available));
    let mut cancelled: Vec<_> = results
        .iter()
        .filter(|r| r.error_class == Some(ErrorClass::Timeout))
        .inspect(|r| {
            assert!(!r.available);
            assert!(
                r.error_message
                    .as_deref()
                    .unwrap()
                    .contains(CANCELLED_MESSAGE),
                "{r:?}"
            );
        })
        .map(|r| r.check_id.clone())
        .collect();
    cancelled.sort();
    slow_ids.sort();
    assert_eq!(cancelled, slow_ids);
    assert_eq!(results.iter().filter(|r| r.available).count(), 13);
}

#[tokio::test]
async fn a_queue_that_keeps_failing_stops_the_invocation_promptly() {
    let emulator = Emulator::start().await.expect("emulator");
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let region = common::region(&emulator, REGION).await;
    let (queue, _) = common::home_queue(&emulator, "eu-central-1").await;
    let queue = queue.with_backoff(webmon_aws::sqs::Backoff {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    });
    let (_, fast) = check_in_group("k", 0, &target.url("/ok"), "2s");
    let (_, slow) = check_in_group("s", 0, &target.url("/delay/30000"), "20s");
    region.table.put(&fast).await.unwrap();
    region.table.put(&slow).await.unwrap();
    emulator.inject(Fault::FailFirstSqsEntry { calls: 100 });
    let settings = Settings {
        region: REGION.into(),
        concurrency: 4,
    };
    let started = Instant::now();
    let err = webmon_aws::service::probe::handle_with(
        &region.table,
        &queue,
        &local_prober(),
        &EndOfMinute(EVENT_MINUTE + 59_999),
        &settings,
        fixture("eventbridge_scheduled.json"),
        &Limits {
            flush_every: Duration::from_millis(100),
            ..Limits::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.contains("failed to send results"), "{err}");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the failed send stops the invocation without waiting for the slow probe: {took:?}"
    );
}

#[tokio::test]
async fn a_stale_trigger_is_dropped_and_a_fresh_one_probes_its_own_minute() {
    let emulator = Emulator::start().await.expect("emulator");
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let region = common::region(&emulator, REGION).await;
    let (queue, _) = common::home_queue(&emulator, "eu-central-1").await;
    let (_, check) = check_in_group("k", 0, &target.url("/ok"), "2s");
    region.table.put(&check).await.unwrap();
    let settings = Settings {
        region: REGION.into(),
        concurrency: 4,
    };
    emulator.reset_counts();
    // A retry delivered five minutes after its minute: dropped, nothing read or sent.
    let summary = webmon_aws::service::probe::handle(
        &region.table,
        &queue,
        &local_prober(),
        &EndOfMinute(EVENT_MINUTE + 5 * 60_000),
        &settings,
        serde_json::json!({"groups": ["1m-3"], "time": "2026-01-01T10:05:00Z"}),
    )
    .await
    .unwrap();
    assert!(summary.stale_trigger);
    assert_eq!((summary.executions, summary.results_sent), (0, 0));
    assert_eq!(emulator.count("dynamodb", "Query"), 0);
    assert_eq!(emulator.count("sqs", "SendMessageBatch"), 0);
    // Delivered at the end of its minute: still its own minute, not the clock's.
    let summary = webmon_aws::service::probe::handle(
        &region.table,
        &queue,
        &local_prober(),
        &EndOfMinute(EVENT_MINUTE + 59_999),
        &settings,
        serde_json::json!({"groups": ["1m-3"], "time": "2026-01-01T10:05:00Z"}),
    )
    .await
    .unwrap();
    assert!(!summary.stale_trigger);
    assert_eq!(summary.results_sent, 1);
    let results = webmon_aws::envelope::decode(&queue.receive(0).await.unwrap()[0].body)
        .unwrap()
        .results;
    assert_eq!(
        results[0].scheduled_at_ms.div_euclid(60_000) * 60_000,
        EVENT_MINUTE
    );
}
