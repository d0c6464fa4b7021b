//! Probe engine over HTTPS against a real local target with certificates generated here:
//! phases, ALPN HTTP/2, certificate expiry, expired and wrong-host certificates.

mod common;

use common::*;

#[tokio::test]
async fn https_phases_http2_and_certificate_days() {
    let pki = pki(&["localhost", "127.0.0.1"], -1, 40);
    let target = https_target(&pki);
    let prober = prober_allowing_private(vec![pki.ca_der.clone()]);
    let first = check(&target.url("/delay/20"), |c| {
        c.requests = Some(3);
        c.assertions = assertions(|a| a.tls_min_days = Some(30));
    });
    let r = probe_with(&prober, &first).await;
    assert_available(&r);
    assert_eq!(r.http_version.as_deref(), Some("HTTP/2"));
    assert!(
        r.cold.connect_ms > 0.0 && r.cold.tls_ms > 0.0,
        "{:?}",
        r.cold
    );
    assert!(
        r.cold.ttfb_ms >= 20.0 && r.cold.ttfb_ms < 70.0,
        "{:?}",
        r.cold
    );
    let warm = r.warm_ttfb_ms.unwrap();
    assert!((20.0..70.0).contains(&warm), "warm {warm}");
    assert!(
        matches!(r.tls_cert_days_left, Some(39..=40)),
        "{:?}",
        r.tls_cert_days_left
    );
    assert_eq!(r.remote_ip.as_deref(), Some("127.0.0.1"));

    // By name: resolved, timed, and verified against the name.
    let by_name = check_for(&format!("https://localhost:{}/json", target.addr().port()));
    let r = probe_with(&prober, &by_name).await;
    assert_available(&r);
    assert!(r.cold.dns_ms > 0.0, "{:?}", r.cold);

    // Too few days left is an assertion failure, not a TLS failure.
    let demanding = check(&target.url("/ok"), |c| {
        c.assertions = assertions(|a| a.tls_min_days = Some(60))
    });
    assert_class(&probe_with(&prober, &demanding).await, "assertion");
}

fn check_for(url: &str) -> webmon_core::check::Check {
    check(url, |_| {})
}

#[tokio::test]
async fn expired_certificate_is_a_tls_failure() {
    let pki = pki(&["127.0.0.1"], -30, -1);
    let target = https_target(&pki);
    let r = probe_with(
        &prober_allowing_private(vec![pki.ca_der.clone()]),
        &check_for(&target.url("/ok")),
    )
    .await;
    assert_class(&r, "tls");
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .to_lowercase()
            .contains("expired"),
        "{r:#?}"
    );
}

#[tokio::test]
async fn wrong_host_certificate_is_a_tls_failure() {
    let pki = pki(&["other.example"], -1, 30);
    let target = https_target(&pki);
    let r = probe_with(
        &prober_allowing_private(vec![pki.ca_der.clone()]),
        &check_for(&target.url("/ok")),
    )
    .await;
    assert_class(&r, "tls");
    assert_eq!(r.remote_ip.as_deref(), None);
}

#[tokio::test]
async fn untrusted_issuer_is_a_tls_failure() {
    let pki = pki(&["127.0.0.1"], -1, 30);
    let target = https_target(&pki);
    // No extra root: the test CA is unknown.
    let r = probe_with(
        &prober_allowing_private(Vec::new()),
        &check_for(&target.url("/ok")),
    )
    .await;
    assert_class(&r, "tls");
}
