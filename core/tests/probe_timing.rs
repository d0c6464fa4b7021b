//! Probe timing against real local targets: ttfb from kernel receive timestamps, cold and
//! warm, over HTTP/1.1 and over TLS with HTTP/2 (where session tickets and SETTINGS frames
//! arrive after the request and must not be taken for the response), under concurrency,
//! and transfer time of a trickled body.

mod common;

use common::*;
use webmon_core::ports::SystemClock;
use webmon_core::probe::run_scheduled;

/// On Linux every request must be timed by the kernel; elsewhere the fallback is used.
const KERNEL: bool = cfg!(target_os = "linux");

/// The demo target answers from Tokio tasks and shares the machine with the other tests,
/// so it can be late by milliseconds; accuracy itself is measured by `webmon bench probe`
/// against a purpose-built target. These bounds catch marks that are not the response.
const SLACK_MS: f64 = 25.0;

fn assert_ttfb_near(ttfb: f64, delay: u64, slack_ms: f64, what: &str) {
    let d = delay as f64;
    // Never early: the response cannot arrive before the injected delay has passed.
    assert!(
        ttfb >= d - 0.1 && ttfb < d + slack_ms,
        "{what}: ttfb {ttfb:.3} ms for an injected delay of {delay} ms"
    );
}

#[tokio::test]
async fn http1_ttfb_is_kernel_timed_cold_and_warm() {
    let target = http_target();
    for delay in [20u64, 50] {
        let check = check(&target.url(&format!("/delay/{delay}")), |c| {
            c.requests = Some(3)
        });
        let r = probe(&check).await;
        assert_available(&r);
        assert_eq!(r.probe.kernel_timestamps, KERNEL, "{:?}", r.probe);
        assert_ttfb_near(r.cold.ttfb_ms, delay, SLACK_MS, "cold");
        assert_ttfb_near(
            r.warm_ttfb_ms.expect("warm requests ran"),
            delay,
            SLACK_MS,
            "warm",
        );
        assert!(
            r.cold.transfer_ms >= 0.0 && r.cold.transfer_ms < SLACK_MS,
            "{:?}",
            r.cold
        );
    }
}

#[tokio::test]
async fn https_h2_ttfb_skips_tickets_and_settings() {
    let pki = pki(&["127.0.0.1"], -1, 90);
    let target = https_target(&pki);
    let prober = prober_allowing_private(vec![pki.ca_der.clone()]);
    for delay in [20u64, 50] {
        let check = check(&target.url(&format!("/delay/{delay}")), |c| {
            c.requests = Some(3)
        });
        let r = probe_with(&prober, &check).await;
        assert_available(&r);
        assert_eq!(r.http_version.as_deref(), Some("HTTP/2"));
        assert_eq!(r.probe.kernel_timestamps, KERNEL, "{:?}", r.probe);
        assert_ttfb_near(r.cold.ttfb_ms, delay, SLACK_MS, "cold h2");
        assert_ttfb_near(
            r.warm_ttfb_ms.expect("warm requests ran"),
            delay,
            SLACK_MS,
            "warm h2",
        );
    }
}

#[tokio::test]
async fn https_ttfb_of_an_immediate_answer_is_small() {
    let pki = pki(&["127.0.0.1"], -1, 90);
    let target = https_target(&pki);
    let prober = prober_allowing_private(vec![pki.ca_der.clone()]);
    let r = probe_with(
        &prober,
        &check(&target.url("/ok"), |c| c.requests = Some(2)),
    )
    .await;
    assert_available(&r);
    assert_eq!(r.probe.kernel_timestamps, KERNEL);
    assert!(
        r.cold.ttfb_ms > 0.0 && r.cold.ttfb_ms < 20.0,
        "{:?}",
        r.cold
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_in_flight_are_never_early_and_all_kernel_timed() {
    let target = http_target();
    let delay = 50u64;
    let url = target.url(&format!("/delay/{delay}"));
    let now = chrono::Utc::now().timestamp_millis();
    let jobs: Vec<_> = (0..200)
        .map(|i| {
            let mut c = check(&url, |_| {});
            c.id = format!("timing-{i}");
            (c, now)
        })
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel(jobs.len());
    let prober = prober_allowing_private(Vec::new());
    run_scheduled(&prober, jobs, 200, &SystemClock, tx).await;
    let mut ttfbs = Vec::new();
    while let Some(r) = rx.recv().await {
        assert_available(&r);
        assert_eq!(r.probe.kernel_timestamps, KERNEL, "{:?}", r.probe);
        // The target shares this process and its two workers with 200 probes, so it may
        // answer late; early would mean a mark that is not the response.
        assert_ttfb_near(r.cold.ttfb_ms, delay, 200.0, "in flight");
        ttfbs.push(r.cold.ttfb_ms);
    }
    assert_eq!(ttfbs.len(), 200);
}

#[tokio::test]
async fn trickled_body_counts_as_transfer() {
    let target = http_target();
    // Head first, then 5 bytes 10 ms apart: about 50 ms from first byte to last.
    let r = probe(&check(&target.url("/trickle/5/10"), |_| {})).await;
    assert_available(&r);
    assert_eq!(r.probe.kernel_timestamps, KERNEL);
    assert!(
        r.cold.transfer_ms >= 35.0 && r.cold.transfer_ms < 150.0,
        "{:?}",
        r.cold
    );
}
