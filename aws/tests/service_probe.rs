//! The probe Lambda against moto's server and a local target: a real scheduled-event
//! fixture, the group queried from the table, results read back from SQS.

mod common;

use webmon_core::check::Interval;
use webmon_core::ports::SystemClock;
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::schedule::{offset_ms, GroupKey};
use webmon_testkit::emulator::{Emulator, Fault};
use webmon_testkit::TargetServer;

const REGION: &str = "eu-west-1";

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
    let summary = webmon_aws::service::probe::handle(
        &region.table,
        &queue,
        &prober,
        &SystemClock,
        &settings,
        fixture("eventbridge_scheduled.json"),
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
        1_767_261_900_000,
        "the event's minute"
    );

    // A rule's own input (no time; here the one-group input of older releases, still
    // read): the trigger minute is the clock's; the results of a second invocation are
    // no longer marked cold.
    let clock = EndOfMinute(1_767_261_960_000 + 59_999);
    let summary = webmon_aws::service::probe::handle(
        &region.table,
        &queue,
        &prober,
        &clock,
        &settings,
        fixture("rule_input.json"),
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

#[tokio::test]
async fn a_queue_that_keeps_failing_fails_the_invocation() {
    let emulator = Emulator::start().await.expect("emulator");
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let region = common::region(&emulator, REGION).await;
    let (queue, _) = common::home_queue(&emulator, "eu-central-1").await;
    let queue = queue.with_backoff(webmon_aws::sqs::Backoff {
        attempts: 3,
        first_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(20),
    });
    let check = (0..200)
        .map(|n| common::check(&format!("k{n}"), &target.url("/ok"), "1m", &[]))
        .find(|c| GroupKey::of(c).shard == 3)
        .unwrap();
    region.table.put(&check).await.unwrap();
    emulator.inject(Fault::FailFirstSqsEntry { calls: 10 });
    let prober = Prober::new(ProbeOptions {
        region: REGION.into(),
        // The targets are on 127.0.0.1: the operator allows private addresses.
        allow_private: true,
        ..Default::default()
    });
    let settings = webmon_aws::service::probe::Settings {
        region: REGION.into(),
        concurrency: 4,
    };
    let err = webmon_aws::service::probe::handle(
        &region.table,
        &queue,
        &prober,
        &SystemClock,
        &settings,
        fixture("eventbridge_scheduled.json"),
    )
    .await
    .unwrap_err();
    assert!(err.contains("failed to send results"), "{err}");
}
