//! The alert table's conditional commit on moto's server: a stale version is a conflict
//! and changes nothing; a notification already in the outbox cancels the whole
//! transaction (state included); claims are exclusive and expire.

use webmon_aws::alerting::outbox::{Outcome, Status};
use webmon_aws::alerting::table::{AlertTable, Commit};
use webmon_core::alert::{CheckState, EventKind, Level, NotificationIntent};
use webmon_testkit::emulator::Emulator;

const HOME: &str = "eu-central-1";
const T: i64 = 1_767_261_960_000;

fn intent(seq: u32) -> NotificationIntent {
    let mut n = NotificationIntent::test("hook", T);
    n.id = format!("shop:{T}:{seq}");
    n.kind = EventKind::Triggered;
    n.level = Level::Down;
    n.incident_id = Some(format!("shop:{T}"));
    n.seq = seq;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_conditional_and_atomic_and_claims_exclusive() {
    let emulator = Emulator::start().await.expect("emulator");
    let config = emulator.target(HOME).load().await;
    let table = AlertTable::new(aws_sdk_dynamodb::Client::new(&config), "webmon-alerts");
    table.ensure_table().await.unwrap();

    let first = CheckState::new(T);
    assert_eq!(
        table
            .commit("shop", None, &first, &[intent(1)], T)
            .await
            .unwrap(),
        Commit::Done
    );
    // A second writer that read nothing (or an old version) loses.
    let mut other = CheckState::new(T);
    other.level = Level::Regional;
    assert_eq!(
        table.commit("shop", None, &other, &[], T).await.unwrap(),
        Commit::Conflict
    );
    assert_eq!(
        table.commit("shop", Some(7), &other, &[], T).await.unwrap(),
        Commit::Conflict
    );
    let stored = table.state("shop").await.unwrap().unwrap();
    assert_eq!((stored.ver, stored.state.level), (1, Level::Up));

    // Re-enqueueing an existing notification cancels the transaction: the state is
    // not changed either.
    assert_eq!(
        table
            .commit("shop", Some(1), &other, &[intent(1)], T)
            .await
            .unwrap(),
        Commit::Conflict
    );
    assert_eq!(table.state("shop").await.unwrap().unwrap().ver, 1);
    // The right version with a new notification commits both.
    assert_eq!(
        table
            .commit("shop", Some(1), &other, &[intent(2)], T)
            .await
            .unwrap(),
        Commit::Done
    );
    let stored = table.state("shop").await.unwrap().unwrap();
    assert_eq!((stored.ver, stored.state.level), (2, Level::Regional));
    assert_eq!(table.active_checks().await.unwrap(), ["shop"]);

    // Claims: one holder at a time; a lapsed lease can be taken over; the old holder
    // can then no longer record.
    let id = format!("shop:{T}:1");
    let a = table
        .claim(&id, "hook", T, 60_000)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!((a.status, a.attempts), (Status::Sending, 1));
    assert!(table
        .claim(&id, "hook", T + 1_000, 60_000)
        .await
        .unwrap()
        .is_none());
    let b = table
        .claim(&id, "hook", T + 61_000, 60_000)
        .await
        .unwrap()
        .expect("lease lapsed");
    assert_eq!(b.attempts, 2);
    let sent = Outcome::Sent(Some("ref".into()));
    assert!(!table
        .record(&id, "hook", 1, &sent, T + 62_000)
        .await
        .unwrap());
    assert!(table
        .record(&id, "hook", 2, &sent, T + 62_000)
        .await
        .unwrap());
    assert_eq!(
        table.delivery(&id, "hook").await.unwrap().unwrap().status,
        Status::Sent
    );
    // Done: nothing due, nothing claimable.
    assert!(table
        .due(T + 999_999, 10)
        .await
        .unwrap()
        .iter()
        .all(|(i, _)| i != &id));
    assert!(table
        .claim(&id, "hook", T + 999_999, 60_000)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_probe_region_is_one_incident_of_its_own() {
    use webmon_aws::alerting::liveness;
    use webmon_core::result::ProbeResult;
    let emulator = Emulator::start().await.expect("emulator");
    let config = emulator.target(HOME).load().await;
    let table = AlertTable::new(aws_sdk_dynamodb::Client::new(&config), "webmon-alerts");
    table.ensure_table().await.unwrap();
    let five_min = liveness::SILENT_AFTER_MS;
    let regions = vec![
        ("eu-west-1".to_string(), five_min),
        ("us-east-1".to_string(), five_min),
    ];
    let ops = vec!["ops".to_string()];
    let result = |region: &str, at: i64| {
        let mut r: ProbeResult = serde_json::from_value(serde_json::json!({
            "version": 1, "region": region, "check_id": "shop", "url": "https://shop.example/",
            "scheduled_at_ms": at, "started_at_ms": at, "available": true, "requests": 1,
            "latency": {"avg_ms": 1.0, "min_ms": 1.0, "max_ms": 1.0, "p50_ms": 1.0},
            "cold": {"dns_ms": 0.0, "connect_ms": 0.0, "tls_ms": 0.0, "ttfb_ms": 1.0, "transfer_ms": 0.0},
            "bytes": 1, "redirects": 0, "attempts": 1
        }))
        .expect("a result");
        r.region = region.to_string();
        r
    };
    // Both regions report; a minute later only eu-west-1 does, for six minutes.
    let writer = liveness::Liveness::new(table.clone());
    writer
        .seen(&[result("eu-west-1", T), result("us-east-1", T)], T)
        .await;
    assert!(liveness::sweep(&table, &regions, &ops, T + 60_000)
        .await
        .unwrap()
        .is_empty());
    for minute in 1..=6 {
        let at = T + minute * 60_000;
        writer.seen(&[result("eu-west-1", at)], at).await;
    }
    let sent = liveness::sweep(&table, &regions, &ops, T + 6 * 60_000 + 1_000)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].kind, EventKind::RegionSilent);
    assert_eq!(sent[0].region.as_deref(), Some("us-east-1"));
    assert_eq!(sent[0].channels, ops);
    // Once only, however many sweeps.
    assert!(liveness::sweep(&table, &regions, &ops, T + 7 * 60_000)
        .await
        .unwrap()
        .is_empty());
    assert!(table
        .delivery(&sent[0].id, "ops")
        .await
        .unwrap()
        .is_some_and(|d| d.status == Status::Pending));
    // The region comes back: one "resumed".
    writer
        .seen(&[result("us-east-1", T + 8 * 60_000)], T + 8 * 60_000)
        .await;
    let back = liveness::sweep(&table, &regions, &ops, T + 8 * 60_000 + 1_000)
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].kind, EventKind::RegionResumed);
    assert_eq!(back[0].id, format!("{}:resumed", sent[0].id));
}
