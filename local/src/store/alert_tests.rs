//! The alerting tables: a commit is one transaction that loads back to the same state,
//! incidents follow the state, outbox rows are never enqueued twice, attempts are
//! recorded, silences expire.

use webmon_core::alert::{evaluate, load_alerting, AlertState, Silence};
use webmon_core::check::parse_checks_document;
use webmon_core::ports::ResultStore;
use webmon_core::result::ProbeResult;
use webmon_notify::{NotifyError, Outbox, OutboxStatus};
use webmon_testkit::conformance::{result, BASE_MS, STEP_MS};

use super::{AlertCommit, SqliteStore};

const YAML: &str = "channels:
  - {id: hook, type: webhook, url: 'http://127.0.0.1:9/hook', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg=='}
alert_defaults:
  channels: [hook]
  failure_threshold: 1
  success_threshold: 1
  settle: 0s
  group: {threshold: 0}
checks:
  - {id: web, url: 'http://127.0.0.1:9/', interval: 10s}
";

fn config() -> webmon_core::alert::AlertConfig {
    let checks = parse_checks_document(YAML).checks;
    let outcome = load_alerting(YAML, &checks, &["local".to_string()]);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome.config
}

fn at(n: i64, available: bool) -> ProbeResult {
    let mut r = result("web", "local", BASE_MS, n);
    r.available = available;
    r
}

/// Stores `results`, evaluates from the stored state at the time of the last one, and
/// commits; returns the kinds of the intents.
async fn step(store: &SqliteStore, results: &[ProbeResult]) -> Vec<&'static str> {
    store.write(results).await.unwrap();
    let stored = store.load_alerting().await.unwrap();
    let (state, cursor) = stored.map_or((AlertState::default(), 0), |s| (s.state, s.cursor));
    let (batch, last) = store.results_after(cursor, 100).await.unwrap();
    assert_eq!(batch.len(), results.len());
    let now = results.last().unwrap().scheduled_at_ms + 1;
    let (next, intents) = evaluate(&state, &batch, now, &config(), &[]);
    let commit = AlertCommit::new(&state, &next, &intents, last, now).unwrap();
    store.commit_alerting(commit).await.unwrap();
    let restored = store.load_alerting().await.unwrap().unwrap();
    assert_eq!(restored.state, next, "the state loads back as committed");
    assert_eq!(restored.cursor, last);
    intents.iter().map(|n| n.kind.as_str()).collect()
}

#[tokio::test]
async fn commits_state_incidents_and_outbox_together() {
    let store = SqliteStore::open_in_memory().unwrap();
    assert!(store.load_alerting().await.unwrap().is_none());
    assert!(step(&store, &[at(0, true)]).await.is_empty());
    assert_eq!(step(&store, &[at(1, false)]).await, ["triggered"]);
    let open = store.incidents_since(0).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, format!("web:{}", BASE_MS + STEP_MS));
    assert_eq!(
        (open[0].level.as_str(), open[0].resolved_at_ms),
        ("DOWN", None)
    );
    assert!(step(&store, &[at(2, false)]).await.is_empty());
    assert_eq!(step(&store, &[at(3, true)]).await, ["resolved"]);
    let closed = store.incidents_since(0).await.unwrap();
    assert_eq!(closed[0].resolved_at_ms, Some(BASE_MS + 3 * STEP_MS));
    assert_eq!(closed[0].duration_ms(i64::MAX), 2 * STEP_MS);

    let pending = store.outbox_pending(10).await.unwrap();
    let kinds: Vec<_> = pending
        .iter()
        .map(|e| e.notification.kind.as_str())
        .collect();
    assert_eq!(kinds, ["triggered", "resolved"]);
    assert!(pending.iter().all(|e| e.channel_id == "hook"));
}

#[tokio::test]
async fn the_same_intents_are_enqueued_once() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.write(&[at(0, true), at(1, false)]).await.unwrap();
    let (batch, last) = store.results_after(0, 100).await.unwrap();
    let now = BASE_MS + STEP_MS + 1;
    let (next, intents) = evaluate(&AlertState::default(), &batch, now, &config(), &[]);
    assert_eq!(intents.len(), 1);
    // A crash after the commit and a replay of the same evaluation: one row, not two.
    for _ in 0..2 {
        let commit = AlertCommit::new(&AlertState::default(), &next, &intents, last, now).unwrap();
        store.commit_alerting(commit).await.unwrap();
    }
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
}

#[tokio::test]
async fn attempts_are_recorded_with_retry_after() {
    let store = SqliteStore::open_in_memory().unwrap();
    step(&store, &[at(0, true)]).await;
    step(&store, &[at(1, false)]).await;
    let mut outbox = Outbox {
        entries: store.outbox_pending(10).await.unwrap(),
        ..Outbox::default()
    };
    let busy = Err(NotifyError::Rejected {
        channel: "hook".into(),
        status: 429,
        body: String::new(),
        retry_after: Some(std::time::Duration::from_secs(42)),
    });
    outbox.record(0, &busy, 1_000);
    store.outbox_update(&outbox.entries[0]).await.unwrap();
    let again = store.outbox_pending(10).await.unwrap();
    assert_eq!(again[0].attempts, 1);
    assert_eq!(
        again[0].next_attempt_at_ms, 43_000,
        "Retry-After is honoured"
    );
    assert!(again[0].last_error.as_deref().unwrap().contains("429"));

    outbox.record(0, &Ok(Default::default()), 44_000);
    store.outbox_update(&outbox.entries[0]).await.unwrap();
    assert!(store.outbox_pending(10).await.unwrap().is_empty());
    let recent = store.outbox_recent(10).await.unwrap();
    assert_eq!(recent[0].status, OutboxStatus::Sent);
    assert_eq!(store.outbox_counts().await.unwrap().sent, 1);
    assert_eq!(store.outbox_prune(i64::MAX).await.unwrap(), 1);
}

#[tokio::test]
async fn silences_are_listed_until_they_expire() {
    let store = SqliteStore::open_in_memory().unwrap();
    let by_tag = Silence {
        id: "s1".into(),
        check_id: None,
        tag: Some(("team".into(), "payments".into())),
        starts_at_ms: 1_000,
        ends_at_ms: 10_000,
        comment: "deploy".into(),
    };
    let by_check = Silence {
        id: "s2".into(),
        check_id: Some("web".into()),
        tag: None,
        starts_at_ms: 2_000,
        ends_at_ms: 20_000,
        comment: String::new(),
    };
    store.add_silence(&by_tag).await.unwrap();
    store.add_silence(&by_check).await.unwrap();
    assert_eq!(
        store.silences(5_000).await.unwrap(),
        [by_tag.clone(), by_check.clone()]
    );
    assert!(store.expire_silence("s2", 6_000).await.unwrap());
    assert!(
        !store.expire_silence("s2", 7_000).await.unwrap(),
        "already over"
    );
    assert_eq!(store.silences(6_000).await.unwrap(), [by_tag]);
    assert_eq!(store.silences(i64::MIN).await.unwrap().len(), 2);
}
