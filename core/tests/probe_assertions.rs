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
    let target = http_target();
    let r = probe(&check(&target.url("/delay/20"), |c| {
        c.requests = Some(2);
        c.assertions = assertions(|a| a.max_latency = Some("500ms".into()));
    }))
    .await;
    assert_available(&r);
    assert!(r.latency.avg_ms >= 20.0);
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
    let jobs: Vec<_> = (0..20)
        .map(|i| {
            let c = check(&target.url("/delay/50"), |c| c.id = format!("job-{i}"));
            (c, now + 100 + (i % 4) * 50)
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
    // 20 jobs of 50 ms, 5 at a time: at least 4 rounds after the 100 ms initial wait.
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}
