//! The SSRF guard at connect time, on real connections. The target listens on 127.0.0.1,
//! which these tests exempt to play a public site; 127.0.0.2 (never listened on) and the
//! name `localhost` stand for internal addresses. Nothing here leaves the machine.

mod common;

use common::*;
use webmon_core::probe::{ProbeOptions, Prober};

fn guarded_prober(exempt: &[&str]) -> Prober {
    Prober::new(ProbeOptions {
        region: "test".into(),
        guard_exempt: exempt.iter().map(|n| n.parse().unwrap()).collect(),
        ..Default::default()
    })
}

#[tokio::test]
async fn loopback_is_blocked_unless_allowed() {
    let target = http_target();
    let url = target.url("/ok");
    let r = probe_with(&guarded_prober(&[]), &check(&url, |_| {})).await;
    assert_class(&r, "blocked");
    let message = r.error_message.unwrap();
    assert!(
        message.contains("127.0.0.1") && message.contains("loopback"),
        "{message}"
    );
    assert_eq!(r.remote_ip, None);

    // The check asking is not enough: the operator must allow private targets too, or
    // exempt the network.
    assert_class(
        &probe_with(
            &guarded_prober(&[]),
            &check(&url, |c| c.allow_private = Some(true)),
        )
        .await,
        "blocked",
    );
    assert_available(&probe(&check(&url, |_| {})).await);
    assert_class(
        &probe(&check(&url, |c| c.allow_private = Some(false))).await,
        "blocked",
    );
    assert_available(&probe_with(&guarded_prober(&["127.0.0.1/32"]), &check(&url, |_| {})).await);
}

#[tokio::test]
async fn name_resolving_to_loopback_is_blocked() {
    let target = http_target();
    let url = format!("http://localhost:{}/ok", target.addr().port());
    let r = probe_with(&guarded_prober(&[]), &check(&url, |_| {})).await;
    assert_class(&r, "blocked");
    assert!(r.error_message.unwrap().contains("localhost"));
}

#[tokio::test]
async fn redirect_from_public_to_internal_is_blocked() {
    let target = http_target();
    let prober = guarded_prober(&["127.0.0.1/32"]);
    let port = target.addr().port();
    for internal in [
        format!("http://127.0.0.2:{port}/ok"),
        format!("http://[::ffff:127.0.0.2]:{port}/ok"),
    ] {
        let url = target.url(&format!("/redirect-to?url={internal}"));
        let r = probe_with(&prober, &check(&url, |_| {})).await;
        assert_class(&r, "blocked");
        assert!(
            r.error_message.as_deref().unwrap().contains("127.0.0.2"),
            "{r:#?}"
        );
        assert_eq!(r.status_code, Some(302));
    }
    // A redirect staying on the exempt address is followed.
    let url = target.url(&format!("/redirect-to?url=http://127.0.0.1:{port}/json"));
    let r = probe_with(&prober, &check(&url, |_| {})).await;
    assert_available(&r);
    assert_eq!(r.redirects, 1);
}
