//! Probe engine over plain HTTP against a real local target: timings, status classes,
//! redirects, hangs, trickles, body caps, chunked and gzip bodies, connection failures.

mod common;

use std::time::{Duration, Instant};

use common::*;
use webmon_core::check::StatusEntry;
use webmon_core::result::RESULT_VERSION;

#[tokio::test]
async fn fixed_delay_timings_cold_and_warm() {
    let target = http_target();
    for delay in [20u64, 100] {
        let check = check(&target.url(&format!("/delay/{delay}")), |c| {
            c.requests = Some(3)
        });
        let r = probe(&check).await;
        assert_available(&r);
        let d = delay as f64;
        assert!(
            r.cold.ttfb_ms >= d && r.cold.ttfb_ms < d + 50.0,
            "cold ttfb {} for delay {d}",
            r.cold.ttfb_ms
        );
        let warm = r.warm_ttfb_ms.expect("warm ttfb for requests > 1");
        assert!(
            warm >= d && warm < d + 50.0,
            "warm ttfb {warm} for delay {d}"
        );
        assert_eq!(r.requests, 3);
        assert!(
            r.cold.connect_ms > 0.0 && r.cold.dns_ms == 0.0 && r.cold.tls_ms == 0.0,
            "{:?}",
            r.cold
        );
        assert!(
            r.latency.min_ms >= d
                && r.latency.max_ms >= r.latency.p50_ms
                && r.latency.p50_ms >= r.latency.min_ms
        );
        assert_eq!(r.remote_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(r.http_version.as_deref(), Some("HTTP/1.1"));
        assert_eq!(r.status_code, Some(200));
        assert_eq!(r.tls_cert_days_left, None);
    }
}

#[tokio::test]
async fn result_carries_identity_and_schedule() {
    let target = http_target();
    let mut check = check(&target.url("/ok"), |c| {
        c.id = "identity".into();
        c.tags.insert("team".into(), "sre".into());
    });
    check.tags.insert("env".into(), "test".into());
    let scheduled = chrono::Utc::now().timestamp_millis() - 250;
    let r = prober_allowing_private(Vec::new())
        .probe(&check, scheduled)
        .await;
    assert_available(&r);
    assert_eq!(
        (r.version, r.region.as_str(), r.check_id.as_str()),
        (RESULT_VERSION, "test", "identity")
    );
    assert_eq!(r.url, target.url("/ok"));
    assert_eq!(r.scheduled_at_ms, scheduled);
    assert!(
        r.probe.start_delay_ms >= 250.0 && r.probe.start_delay_ms < 1000.0,
        "{:?}",
        r.probe
    );
    assert_eq!(r.tags.get("team").map(String::as_str), Some("sre"));
    assert_eq!(r.bytes, 3);
}

#[tokio::test]
async fn status_classes() {
    let target = http_target();
    for (code, ok) in [
        (200, true),
        (204, true),
        (304, true),
        (404, false),
        (418, false),
        (500, false),
        (503, false),
    ] {
        let r = probe(&check(&target.url(&format!("/status/{code}")), |_| {})).await;
        assert_eq!(r.status_code, Some(code), "{r:#?}");
        if ok {
            assert_available(&r);
        } else {
            assert_class(&r, "http_status");
        }
    }
    // An explicit status list accepts what the default refuses.
    let expect_404 = check(&target.url("/status/404"), |c| {
        c.assertions = assertions(|a| a.status = vec![StatusEntry::Code(404)]);
    });
    assert_available(&probe(&expect_404).await);
    let expect_404_got_200 = check(&target.url("/ok"), |c| {
        c.assertions = assertions(|a| a.status = vec![StatusEntry::Code(404)]);
    });
    assert_class(&probe(&expect_404_got_200).await, "http_status");
}

#[tokio::test]
async fn redirects_loops_and_limits() {
    let target = http_target();
    let r = probe(&check(&target.url("/redirect/3"), |c| c.requests = Some(2))).await;
    assert_available(&r);
    assert_eq!((r.redirects, r.status_code, r.bytes), (3, Some(200), 3));

    let r = probe(&check(&target.url("/redirect/3"), |c| {
        c.max_redirects = Some(2)
    }))
    .await;
    assert_class(&r, "redirect_limit");

    let r = probe(&check(&target.url("/redirect-loop"), |_| {})).await;
    assert_class(&r, "redirect_limit");
    assert!(r.error_message.unwrap().contains("loop"));

    // Not following: the 302 itself is the answer, accepted by the default 200-399.
    let r = probe(&check(&target.url("/redirect/1"), |c| {
        c.follow_redirects = Some(false)
    }))
    .await;
    assert_available(&r);
    assert_eq!((r.status_code, r.redirects), (Some(302), 0));
}

#[tokio::test]
async fn hanging_server_times_out_within_bounds() {
    let target = http_target();
    let started = Instant::now();
    let r = probe(&check(&target.url("/hang"), |c| {
        c.timeout = Some("500ms".into())
    }))
    .await;
    assert_class(&r, "timeout");
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .contains("waiting for response headers"),
        "{r:#?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn trickled_body_times_out() {
    let target = http_target();
    let started = Instant::now();
    // 100 bytes at 50 ms each would take 5 s.
    let r = probe(&check(&target.url("/trickle/100/50"), |c| {
        c.timeout = Some("500ms".into())
    }))
    .await;
    assert_class(&r, "timeout");
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .contains("reading the body"),
        "{r:#?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    // A short trickle within the timeout is fine, and counted as transfer time.
    let r = probe(&check(&target.url("/trickle/5/20"), |_| {})).await;
    assert_available(&r);
    assert!(r.cold.transfer_ms >= 60.0, "{:?}", r.cold);
}

#[tokio::test]
async fn body_caps() {
    let target = http_target();
    let r = probe(&check(&target.url("/bytes/2000000"), |_| {})).await;
    assert_class(&r, "body_too_large");
    let r = probe(&check(&target.url("/bytes/1000"), |c| {
        c.max_body_bytes = Some(999)
    }))
    .await;
    assert_class(&r, "body_too_large");
    let r = probe(&check(&target.url("/bytes/1000"), |c| {
        c.max_body_bytes = Some(1000)
    }))
    .await;
    assert_available(&r);
    assert_eq!(r.bytes, 1000);
    // Chunked bodies have no length up front: the cap applies while reading.
    let r = probe(&check(&target.url("/chunked"), |c| {
        c.max_body_bytes = Some(20)
    }))
    .await;
    assert_class(&r, "body_too_large");
}

#[tokio::test]
async fn chunked_body() {
    let target = http_target();
    let r = probe(&check(&target.url("/chunked"), |c| {
        c.assertions =
            assertions(|a| a.body_contains = vec!["chunk 1 of 5".into(), "chunk 5 of 5".into()]);
    }))
    .await;
    assert_available(&r);
    assert_eq!(r.bytes, 5 * "chunk 1 of 5\n".len() as u64);
}

#[tokio::test]
async fn gzip_body_is_decoded() {
    let target = http_target();
    let text = "webmon target: this body travelled gzip-encoded and was decoded by the probe.\n";
    let r = probe(&check(&target.url("/gzip"), |c| {
        c.assertions = assertions(|a| {
            a.body_contains = vec!["decoded by the probe".into()];
            a.body_regex = vec!["^webmon target:".into()];
        });
    }))
    .await;
    assert_available(&r);
    assert_eq!(r.bytes, (text.len() * 20) as u64);
    // The decoded size counts against the cap, so a small gzip cannot inflate past it.
    let r = probe(&check(&target.url("/gzip"), |c| {
        c.max_body_bytes = Some(200)
    }))
    .await;
    assert_class(&r, "body_too_large");
}

#[tokio::test]
async fn connection_refused() {
    let port = {
        let listener = std::net::TcpListener::bind(local()).unwrap();
        listener.local_addr().unwrap().port()
    };
    let r = probe(&check(&format!("http://127.0.0.1:{port}/ok"), |_| {})).await;
    assert_class(&r, "connect");
    assert!(r.error_message.unwrap().contains(&port.to_string()));
}

#[tokio::test]
async fn unresolvable_host() {
    let r = probe(&check("http://nonexistent.invalid/", |_| {})).await;
    assert_class(&r, "dns");
    assert!(r.error_message.unwrap().contains("nonexistent.invalid"));
}
