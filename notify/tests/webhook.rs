//! The signed webhook against a real HTTP receiver on 127.0.0.1 (the signature checked
//! with an independent HMAC implementation), and status handling shared by every web
//! channel: retriable statuses, `Retry-After`, missing secrets, unreachable receivers.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{ctx, sample, Receiver, OPENED};
use hmac::{KeyInit, Mac};
use serde_json::json;
use webmon_core::alert::ChannelConfig;
use webmon_notify::{build_channel, send_with_retries, NotifyError, RetryPolicy};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    signature == format!("v1,{expected}")
}

#[tokio::test]
async fn webhook_is_signed_per_standard_webhooks() {
    let rx = Receiver::start(vec![]).await;
    let config = ChannelConfig::Webhook {
        id: "hooks".into(),
        url: rx.url("/in?src=webmon"),
        secret: "${secret:hook-key}".into(),
    };
    let channel = build_channel(&config, &ctx(&[("secret:hook-key", SECRET)])).unwrap();
    let delivery = channel.send(&sample()).await.unwrap();
    assert_eq!(delivery.status, 200);
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/in?src=webmon")
    );
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("webhook-id"), format!("api:{OPENED}:1"));
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    assert!(verify(
        SECRET,
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        &r.body,
        r.header("webhook-signature")
    ));
    assert!(!verify(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAA",
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        &r.body,
        r.header("webhook-signature")
    ));
    let body = r.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["type"], "incident.triggered");
    assert_eq!(body["id"], format!("api:{OPENED}:1"));
    assert_eq!(body["check_id"], "api");
    assert_eq!(body["state"], "DOWN");
    assert_eq!(body["previous_state"], "UP");
    assert_eq!(
        body["incident"],
        json!({"id": format!("api:{OPENED}"), "seq": 1, "opened_at": "2025-08-17T12:01:00Z"})
    );
    assert_eq!(
        body["regions"][1],
        json!({
            "region": "eu-west-1", "state": "FAILING", "since": "2025-08-17T12:01:00Z",
            "last_error": "timeout: no answer", "latency_ms": 120.0, "suspect": false
        })
    );
    assert_eq!(
        body["quorum"],
        json!({"required": 2, "configured": 3, "failing": 2, "degraded": 0, "no_data": 0})
    );
    assert_eq!(body["check"]["tags"], json!({"team": "payments"}));
    assert_eq!(body["title"], "DOWN api: 2/3 regions failing");
}

#[tokio::test]
async fn status_codes_decide_retries_and_retry_after_is_honoured() {
    let rx = Receiver::start(vec![
        (503, vec![("retry-after", "7")], "busy"),
        (400, vec![], "bad event"),
        (429, vec![("retry-after", "0")], "slow down"),
        (202, vec![], "{}"),
    ])
    .await;
    let config = ChannelConfig::Slack {
        id: "chat".into(),
        url: rx.url("/services/T/B/X"),
    };
    let channel = build_channel(&config, &ctx(&[])).unwrap();
    let e = channel.send(&sample()).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = channel.send(&sample()).await.unwrap_err();
    assert!(!e.is_retriable(), "{e}");
    assert!(
        e.to_string().contains("400") && e.to_string().contains("bad event"),
        "{e}"
    );
    // 429 with Retry-After: 0, then success: delivered on the second attempt.
    let policy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
    };
    let (outcome, attempts) = send_with_retries(channel.as_ref(), &sample(), policy).await;
    assert_eq!((outcome.unwrap().status, attempts), (202, 2));
}

#[tokio::test]
async fn missing_secrets_fail_before_any_request() {
    let rx = Receiver::start(vec![]).await;
    let config = ChannelConfig::Webhook {
        id: "hooks".into(),
        url: rx.url("/"),
        secret: "${secret:absent}".into(),
    };
    let e = build_channel(&config, &ctx(&[]))
        .unwrap()
        .send(&sample())
        .await
        .unwrap_err();
    assert!(matches!(e, NotifyError::Secret { .. }), "{e}");
    assert!(!e.is_retriable());
    assert!(rx.requests().is_empty());
    let sns = ChannelConfig::Sns {
        id: "ops".into(),
        topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts".into(),
    };
    assert!(matches!(
        build_channel(&sns, &ctx(&[])),
        Err(NotifyError::Config { .. })
    ));
}

#[tokio::test]
async fn unreachable_receivers_are_retriable_transport_errors() {
    // Bind then drop a listener so the port is (very likely) closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = ChannelConfig::Discord {
        id: "d".into(),
        url: format!("http://{addr}/x"),
    };
    let e = build_channel(&config, &ctx(&[]))
        .unwrap()
        .send(&sample())
        .await
        .unwrap_err();
    assert!(
        matches!(e, NotifyError::Transport { .. }) && e.is_retriable(),
        "{e}"
    );
}
