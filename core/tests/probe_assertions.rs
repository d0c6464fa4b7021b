//! Assertions evaluated by the probe engine against a real local target, plus secret
//! header resolution and scheduled batches.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use webmon_core::check::RawJsonPointer;
use webmon_core::ports::SystemClock;
use webmon_core::probe::run_scheduled;

type EditAssertions = dyn Fn(&mut webmon_core::check::RawAssertions);

#[tokio::test]
async fn body_json_and_header_assertions() {
    let target = http_target();
    let url = target.url("/json");
    let ok = check(&url, |c| {
        c.assertions = assertions(|a| {
            a.body_contains = vec!["webmon-target".into()];
            a.body_regex = vec![r#""checks":\[1,2,3\]"#.into()];
            a.json = vec![
                RawJsonPointer {
                    pointer: "/status".into(),
                    equals: "ok".into(),
                },
                RawJsonPointer {
                    pointer: "/checks/2".into(),
                    equals: 3.into(),
                },
            ];
            a.headers = BTreeMap::from([
                ("Content-Type".into(), "application/json".into()),
                ("x-webmon-target".into(), "1".into()),
            ]);
        });
    });
    assert_available(&probe(&ok).await);

    let failing: Vec<(&str, Box<EditAssertions>)> = vec![
        (
            "contains",
            Box::new(|a| a.body_contains = vec!["nope".into()]),
        ),
        ("regex", Box::new(|a| a.body_regex = vec!["^<html>".into()])),
        (
            "json",
            Box::new(|a| {
                a.json = vec![RawJsonPointer {
                    pointer: "/status".into(),
                    equals: "down".into(),
                }]
            }),
        ),
        (
            "json missing",
            Box::new(|a| {
                a.json = vec![RawJsonPointer {
                    pointer: "/nope".into(),
                    equals: 1.into(),
                }]
            }),
        ),
        (
            "header",
            Box::new(|a| a.headers = BTreeMap::from([("content-type".into(), "text/html".into())])),
        ),
        ("latency", Box::new(|a| a.max_latency = Some("1ms".into()))),
        ("tls on http", Box::new(|a| a.tls_min_days = Some(1))),
    ];
    for (name, edit) in failing {
        let url = if name == "latency" {
            target.url("/delay/30")
        } else {
            url.clone()
        };
        let r = probe(&check(&url, |c| c.assertions = assertions(|a| edit(a)))).await;
        assert_eq!(
            r.error_class.map(|c| c.as_str()),
            Some("assertion"),
            "{name}: {r:#?}"
        );
        assert!(!r.available && r.status_code == Some(200), "{name}");
    }
}

#[tokio::test]
async fn max_latency_uses_the_average() {
    // Three requests of about 0, 0 and 300 ms: average about 100 ms, maximum 300 ms.
    // A 200 ms limit holds on the average (and would not on the maximum).
    let target = http_target();
    let r = probe(&check(&target.url("/delays/0,0,300"), |c| {
        c.requests = Some(3);
        c.timeout = Some("5s".into());
        c.assertions = assertions(|a| a.max_latency = Some("200ms".into()));
    }))
    .await;
    assert_available(&r);
    assert!(
        r.latency.max_ms >= 300.0 && r.latency.avg_ms < 200.0,
        "{r:#?}"
    );

    // 600, 0 and 0 ms: average about 200 ms, while the minimum, the median and the last
    // request are fast. A 150 ms limit fails on the average (and would not on those).
    let target = http_target();
    let r = probe(&check(&target.url("/delays/600,0,0"), |c| {
        c.requests = Some(3);
        c.timeout = Some("5s".into());
        c.assertions = assertions(|a| a.max_latency = Some("150ms".into()));
    }))
    .await;
    assert_class(&r, "assertion");
    assert!(
        r.latency.min_ms < 150.0 && r.latency.p50_ms < 150.0,
        "{r:#?}"
    );
    let message = r.error_message.clone().unwrap_or_default();
    assert!(
        message.starts_with("average latency") && message.ends_with("exceeds 150 ms"),
        "{message}"
    );
}

#[tokio::test]
async fn every_response_must_pass_the_body_json_and_header_assertions() {
    // `/alternate` answers `{"phase":"first"}` (x-phase: first), then `{"phase":"second"}`:
    // with two requests, an assertion that only the second response meets must fail
    // on the first, and one that only the first meets must fail on the second.
    let cases: Vec<(&str, &str, Box<EditAssertions>)> = vec![
        (
            "contains",
            "second",
            Box::new(|a| a.body_contains = vec!["second".into()]),
        ),
        (
            "regex",
            "second",
            Box::new(|a| a.body_regex = vec!["sec+ond".into()]),
        ),
        (
            "json",
            "second",
            Box::new(|a| {
                a.json = vec![RawJsonPointer {
                    pointer: "/phase".into(),
                    equals: "second".into(),
                }]
            }),
        ),
        (
            "header",
            "second",
            Box::new(|a| a.headers = BTreeMap::from([("x-phase".into(), "second".into())])),
        ),
        (
            "contains on the second response",
            "first",
            Box::new(|a| a.body_contains = vec!["first".into()]),
        ),
        (
            "header on the second response",
            "first",
            Box::new(|a| a.headers = BTreeMap::from([("x-phase".into(), "first".into())])),
        ),
    ];
    for (name, wanted, edit) in cases {
        let target = http_target();
        let r = probe(&check(&target.url("/alternate"), |c| {
            c.requests = Some(2);
            c.assertions = assertions(|a| edit(a));
        }))
        .await;
        assert_eq!(
            r.error_class.map(|c| c.as_str()),
            Some("assertion"),
            "{name}: {r:#?}"
        );
        assert!(!r.available && r.status_code == Some(200), "{name}");
        let message = r.error_message.clone().unwrap_or_default();
        // The response that failed: the first (read as before) or the second (named).
        assert_eq!(
            message.starts_with("request 2 of 2: "),
            wanted == "first",
            "{name}: {message}"
        );
    }
    // An assertion every response meets passes, and both requests ran.
    let target = http_target();
    let r = probe(&check(&target.url("/alternate"), |c| {
        c.requests = Some(2);
        c.assertions = assertions(|a| {
            a.body_contains = vec![r#""phase""#.into()];
            a.headers = BTreeMap::from([("content-type".into(), "application/json".into())]);
        });
    }))
    .await;
    assert_available(&r);
    assert_eq!(r.requests, 2);
}

#[tokio::test]
async fn secret_headers_are_resolved_and_sent() {
    std::env::set_var("WEBMON_SECRET_PROBE_TEST_TOKEN", "t0ken-value");
    let target = http_target();
    let r = probe(&check(&target.url("/headers"), |c| {
        c.headers.insert(
            "authorization".into(),
            "Bearer ${env:WEBMON_SECRET_PROBE_TEST_TOKEN}".into(),
        );
        c.assertions = assertions(|a| {
            a.json = vec![
                RawJsonPointer {
                    pointer: "/authorization".into(),
                    equals: "Bearer t0ken-value".into(),
                },
                RawJsonPointer {
                    pointer: "/accept-encoding".into(),
                    equals: "gzip".into(),
                },
            ]
        });
    }))
    .await;
    assert_available(&r);

    let r = probe(&check(&target.url("/headers"), |c| {
        c.headers.insert(
            "authorization".into(),
            "${env:WEBMON_SECRET_PROBE_TEST_UNSET}".into(),
        );
    }))
    .await;
    assert_class(&r, "other");
    let message = r.error_message.unwrap();
    assert!(
        message.contains("WEBMON_SECRET_PROBE_TEST_UNSET") && message.contains("authorization"),
        "{message}"
    );
}

#[tokio::test]
async fn scheduled_batch_runs_every_job_with_bounded_concurrency() {
    let target = http_target();
    let prober = prober_allowing_private(Vec::new());
    let now = chrono::Utc::now().timestamp_millis();
    // 20 jobs all due at once, 200 ms each, at most 5 in flight.
    let jobs: Vec<_> = (0..20)
        .map(|i| {
            let c = check(&target.url("/delay/200"), |c| c.id = format!("job-{i}"));
            (c, now + 100)
        })
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let started = std::time::Instant::now();
    run_scheduled(&prober, jobs, 5, &SystemClock, tx).await;
    let elapsed = started.elapsed();
    let mut results = Vec::new();
    while let Some(r) = rx.recv().await {
        results.push(r);
    }
    assert_eq!(results.len(), 20);
    for r in &results {
        assert_available(r);
        assert!(r.started_at_ms >= r.scheduled_at_ms, "{r:#?}");
    }
    // The target saw exactly the bound in flight: never more, and the bound was used.
    assert_eq!(target.peak_in_flight(), 5);
    assert_eq!(target.connections_accepted(), 20);
    // 20 jobs of 200 ms, 5 at a time: 4 rounds after the 100 ms initial wait.
    assert!(elapsed >= Duration::from_millis(800), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}
