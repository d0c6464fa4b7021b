//! Retries inside one execution: a failure the policy names is tried again after the
//! policy's delay, the result holds the last attempt and says how many ran, and the
//! file's `alert_defaults.retries` reaches checks without their own. Real servers on
//! 127.0.0.1 only.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use webmon_core::check::parse_checks_document;

/// A server answering 503 to its first `failures` requests and 200 after.
async fn failing_first(failures: usize) -> (Server, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    let server = Server::start(move |_| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let status = if n < failures { 503 } else { 200 };
        respond(status, &[], full("ok"))
    })
    .await;
    (server, seen)
}

fn retries(policy: serde_json::Value) -> Option<serde_json::Value> {
    Some(json!({ "retries": policy }))
}

#[tokio::test]
async fn any_failure_is_retried_until_it_passes_and_the_attempts_are_recorded() {
    let (server, seen) = failing_first(2).await;
    let check = check(&server.url("/"), |c| {
        c.alert = retries(json!({"count": 3, "on": "any", "backoff": "fixed", "delay": "60ms"}));
    });
    let started = Instant::now();
    let r = probe(&prober(|_| {}), &check).await;
    assert_available(&r);
    assert_eq!((r.attempts, r.status_code), (3, Some(200)));
    assert_eq!(seen.load(Ordering::SeqCst), 3, "one request per attempt");
    // Two waits of 60 ms between the three attempts.
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_status_failure_is_not_retried_when_only_network_errors_are() {
    let (server, seen) = failing_first(1).await;
    let check = check(&server.url("/"), |c| {
        c.alert = retries(json!({"count": 2, "delay": "10ms"}));
    });
    let r = probe(&prober(|_| {}), &check).await;
    assert_eq!(class(&r), Some("http_status"), "{:?}", r.error_message);
    assert_eq!(r.attempts, 1);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_attempt_failing_gives_the_last_attempts_failure() {
    let (server, seen) = failing_first(usize::MAX).await;
    let check = check(&server.url("/"), |c| {
        c.alert = retries(json!({"count": 1, "on": "any", "delay": "10ms"}));
    });
    let r = probe(&prober(|_| {}), &check).await;
    assert!(!r.available);
    assert_eq!((r.attempts, r.status_code), (2, Some(503)));
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_with_growing_delays() {
    // A port that was just free: connecting to it is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let check = check(&format!("http://127.0.0.1:{port}/"), |c| {
        c.alert = retries(json!({"count": 2, "backoff": "exponential", "delay": "40ms"}));
    });
    let started = Instant::now();
    let r = probe(&prober(|_| {}), &check).await;
    assert_eq!(class(&r), Some("connect"), "{:?}", r.error_message);
    assert_eq!(r.attempts, 3);
    // 40 ms, then 80 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_a_policy_there_is_one_attempt() {
    let (server, seen) = failing_first(1).await;
    let r = probe(&prober(|_| {}), &check(&server.url("/"), |_| {})).await;
    assert_eq!((r.attempts, r.available), (1, false));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[test]
fn the_files_alert_defaults_give_retries_to_checks_without_their_own() {
    let outcome = parse_checks_document(concat!(
        "alert_defaults:\n",
        "  retries: {count: 2, on: any}\n",
        "checks:\n",
        "  - {id: plain, url: 'https://example.test/'}\n",
        "  - id: own\n",
        "    url: https://example.test/\n",
        "    alert: {retries: {count: 1}}\n",
    ));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let by_id = |id: &str| outcome.checks.iter().find(|c| c.id == id).unwrap().retries;
    assert_eq!(by_id("plain").count, 2);
    assert_eq!(by_id("own").count, 1);
    // The worst case counts every attempt and the waits between them.
    let plain = outcome.checks.iter().find(|c| c.id == "plain").unwrap();
    assert_eq!(
        plain.worst_case_run(),
        plain.timeout * plain.requests * 3 + Duration::from_millis(1000 + 2000)
    );
}
