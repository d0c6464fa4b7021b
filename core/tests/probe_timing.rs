//! Probe timing against real local targets: ttfb from kernel receive timestamps, cold and
//! warm, over HTTP/1.1 and over TLS with HTTP/2 (where session tickets and SETTINGS frames
//! arrive after the request and must not be taken for the response), under concurrency,
//! and transfer time of a trickled body.

mod common;

use std::time::Duration;

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

/// A TCP relay on 127.0.0.1 in front of `upstream` that holds the server's first bytes
/// (its TLS handshake flight) for `hold` before passing them on; everything else passes
/// at once. The relay stops when the returned task is aborted.
async fn slow_handshake_relay(
    upstream: std::net::SocketAddr,
    hold: std::time::Duration,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut pipes = tokio::task::JoinSet::new();
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            pipes.spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            pipes.spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut first = true;
                loop {
                    let n = match server_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if first {
                        tokio::time::sleep(hold).await;
                        first = false;
                    }
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn https_ttfb_excludes_a_slow_handshake() {
    // The handshake takes at least 300 ms (the relay holds the server's first flight);
    // the answer itself is immediate. ttfb starts at the first request byte, after the
    // handshake, so it stays small while tls_ms carries the 300 ms.
    let pki = pki(&["127.0.0.1"], -1, 90);
    let target = https_target(&pki);
    let (relay, task) = slow_handshake_relay(target.addr(), Duration::from_millis(300)).await;
    let prober = prober_allowing_private(vec![pki.ca_der.clone()]);
    let url = format!("https://{relay}/ok");
    let r = probe_with(&prober, &check(&url, |c| c.requests = Some(2))).await;
    task.abort();
    assert_available(&r);
    assert_eq!(r.probe.kernel_timestamps, KERNEL);
    assert!(r.cold.tls_ms >= 299.0, "{:?}", r.cold);
    assert!(
        r.cold.ttfb_ms > 0.0 && r.cold.ttfb_ms < 100.0,
        "ttfb must not include the handshake: {:?}",
        r.cold
    );
}

#[tokio::test]
async fn warm_requests_reuse_the_cold_connection() {
    // HTTP/1.1: three requests, one connection accepted by the target.
    let target = http_target();
    let r = probe(&check(&target.url("/ok"), |c| c.requests = Some(3))).await;
    assert_available(&r);
    assert_eq!(r.requests, 3);
    assert_eq!(target.connections_accepted(), 1);
    // HTTPS with HTTP/2: the same.
    let pki = pki(&["127.0.0.1"], -1, 90);
    let target = https_target(&pki);
    let prober = prober_allowing_private(vec![pki.ca_der.clone()]);
    let r = probe_with(
        &prober,
        &check(&target.url("/ok"), |c| c.requests = Some(3)),
    )
    .await;
    assert_available(&r);
    assert_eq!(r.http_version.as_deref(), Some("HTTP/2"));
    assert_eq!(r.requests, 3);
    assert_eq!(target.connections_accepted(), 1);
    // Each execution opens its own fresh connection: two executions, two connections.
    let target = http_target();
    for _ in 0..2 {
        assert_available(&probe(&check(&target.url("/ok"), |c| c.requests = Some(3))).await);
    }
    assert_eq!(target.connections_accepted(), 2);
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
