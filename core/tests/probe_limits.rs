//! What a response can do to a result and to the engine: huge headers never flood a
//! message, bodies stay under the deployment's cap and the engine's memory budget, and
//! empty gzip responses are fine. Real servers on 127.0.0.1 only.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use support::*;
use webmon_core::check::{RawAssertions, StatusEntry};
use webmon_core::result::{ErrorClass, ProbeResult, MAX_ECHO_BYTES, RESULT_VERSION};

/// The longest run of `c` in `text`.
fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

#[tokio::test]
async fn a_300_kb_location_never_becomes_a_300_kb_message() {
    let huge = format!("/loop?{}", "a".repeat(300_000));
    let long = format!("/loop?{}", "a".repeat(1500));
    let server = Server::start(move |seen| {
        let to = if seen.path == "/start" { &huge } else { &long };
        respond(302, &[("location", to)], empty())
    })
    .await;
    let prober = prober(|_| {});
    let r = probe(&prober, &check(&server.url("/start"), |_| {})).await;
    assert_eq!(class(&r), Some("other"), "{:?}", r.error_message);
    let message = r.error_message.unwrap();
    assert!(message.contains("300006 bytes"), "{message}");
    assert!(message.len() < 600, "{} bytes", message.len());
    assert!(longest_run(&message, 'a') <= MAX_ECHO_BYTES, "{message}");
    // A loop of long (but followable) locations: the message shows excerpts of both ends.
    let r = probe(&prober, &check(&server.url("/long"), |_| {})).await;
    assert_eq!(class(&r), Some("redirect_limit"), "{:?}", r.error_message);
    let message = r.error_message.unwrap();
    assert!(message.len() < 600, "{} bytes", message.len());
    assert!(longest_run(&message, 'a') <= MAX_ECHO_BYTES, "{message}");
}

#[tokio::test]
async fn a_300_kb_header_never_becomes_a_300_kb_message() {
    let huge = "b".repeat(300_000);
    let server = Server::start(move |_| respond(200, &[("x-big", &huge)], full("ok"))).await;
    let check = check(&server.url("/"), |c| {
        c.assertions = Some(RawAssertions {
            headers: [("x-big".to_string(), "small".to_string())].into(),
            ..Default::default()
        })
    });
    let r = probe(&prober(|_| {}), &check).await;
    assert_eq!(class(&r), Some("assertion"));
    let message = r.error_message.unwrap();
    assert!(longest_run(&message, 'b') <= MAX_ECHO_BYTES, "{message}");
    assert!(message.len() < 400, "{} bytes", message.len());
}

#[test]
fn a_result_shrinks_to_a_byte_budget() {
    let mut result = ProbeResult {
        version: RESULT_VERSION,
        region: "eu-west-1".into(),
        check_id: "shrink".into(),
        url: format!("https://example.com/{}", "p".repeat(3000)),
        scheduled_at_ms: 1,
        started_at_ms: 2,
        available: false,
        status_code: Some(500),
        error_class: Some(ErrorClass::HttpStatus),
        error_message: Some("m\"\n".repeat(100_000)),
        requests: 1,
        latency: Default::default(),
        cold: Default::default(),
        warm_ttfb_ms: None,
        bytes: 0,
        remote_ip: Some("203.0.113.9".into()),
        http_version: Some("HTTP/1.1".into()),
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: (0..50)
            .map(|i| (format!("k{i}"), "v".repeat(1000)))
            .collect(),
        probe: Default::default(),
    };
    let mut capped = result.clone();
    capped.cap_text_fields();
    assert!(capped.error_message.as_ref().unwrap().len() <= 512);
    assert!(capped.url.len() <= 2048);
    assert!(capped.tags.values().all(|v| v.len() <= 256));

    assert!(result.shrink_to(2048));
    assert!(result.json_len() <= 2048, "{}", result.json_len());
    // What matters survives.
    assert_eq!(result.check_id, "shrink");
    assert_eq!(result.error_class, Some(ErrorClass::HttpStatus));
    assert_eq!(result.status_code, Some(500));
    // A budget too small for the fixed fields cannot be met, and says so.
    assert!(!result.clone().shrink_to(50));
}

#[tokio::test]
async fn the_deployment_cap_lowers_a_checks_body_cap() {
    let server = Server::start(|_| respond(200, &[], full(vec![b'x'; 4096]))).await;
    let check = check(&server.url("/"), |c| c.max_body_bytes = Some(1 << 20));
    assert_available(&probe(&prober(|_| {}), &check).await);
    let capped = prober(|o| o.max_body_bytes_cap = Some(1024));
    let r = probe(&capped, &check).await;
    assert_eq!(class(&r), Some("body_too_large"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_share_the_body_budget_and_give_it_back() {
    // 600 KiB bodies, sent slowly in pieces, under a 1 MiB budget: the probes take turns.
    let server = Server::start(|_| {
        respond(
            200,
            &[],
            streamed(b"", Bytes::from(vec![b'y'; 60 * 1024]), 10, b""),
        )
    })
    .await;
    let prober = prober(|o| o.body_budget_bytes = Some(1 << 20));
    let check = check(&server.url("/"), |c| c.max_body_bytes = Some(1 << 20));
    let probes = (0..4).map(|_| probe(&prober, &check));
    let results = futures::future::join_all(probes).await;
    for r in &results {
        assert_available(r);
        assert_eq!(r.bytes, 600 * 1024);
    }
    assert_eq!(prober.body_bytes_in_flight(), (0, 1 << 20));

    // A body larger than the whole budget can never fit: body_too_large, at once.
    let big = check_with_cap(&server.url("/"), 4 << 20);
    let small_budget = prober_with_budget(256 * 1024);
    let started = Instant::now();
    let r = probe(&small_budget, &big).await;
    assert_eq!(class(&r), Some("body_too_large"), "{r:#?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(small_budget.body_bytes_in_flight().0, 0);
}

fn check_with_cap(url: &str, cap: u64) -> webmon_core::check::Check {
    check(url, |c| c.max_body_bytes = Some(cap))
}

fn prober_with_budget(bytes: u64) -> webmon_core::probe::Prober {
    prober(|o| o.body_budget_bytes = Some(bytes))
}

const GZIP: (&str, &str) = ("content-encoding", "gzip");

#[tokio::test]
async fn empty_gzip_responses_are_not_failures() {
    let server = Server::start(|seen| match seen.path.as_str() {
        "/head" => respond(200, &[GZIP, ("content-length", "0")], empty()),
        "/no-content" => respond(204, &[GZIP], empty()),
        "/not-modified" => respond(304, &[GZIP], empty()),
        "/redirect" => respond(
            302,
            &[GZIP, ("location", "/landing"), ("content-length", "0")],
            empty(),
        ),
        _ => respond(200, &[GZIP, ("content-length", "0")], empty()),
    })
    .await;
    let prober = prober(|_| {});

    let head = check(&server.url("/head"), |c| {
        c.method = Some("HEAD".into());
        c.requests = Some(2);
    });
    assert_available(&probe(&prober, &head).await);

    let no_content = check(&server.url("/no-content"), |_| {});
    let r = probe(&prober, &no_content).await;
    assert_available(&r);
    assert_eq!(r.status_code, Some(204));

    let not_modified = check(&server.url("/not-modified"), |c| {
        c.assertions = Some(RawAssertions {
            status: vec![StatusEntry::Code(304)],
            ..Default::default()
        })
    });
    let r = probe(&prober, &not_modified).await;
    assert_available(&r);
    assert_eq!(r.status_code, Some(304));

    let redirect = check(&server.url("/redirect"), |_| {});
    let r = probe(&prober, &redirect).await;
    assert_available(&r);
    assert_eq!((r.redirects, r.bytes), (1, 0));

    let not_followed = check(&server.url("/redirect"), |c| {
        c.follow_redirects = Some(false)
    });
    let r = probe(&prober, &not_followed).await;
    assert_available(&r);
    assert_eq!(r.status_code, Some(302));
}
