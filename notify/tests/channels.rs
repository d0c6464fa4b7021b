//! Every web channel against a real HTTP receiver on 127.0.0.1: exact payloads, headers,
//! the webhook signature (verified with an independent HMAC implementation), status
//! handling and `Retry-After`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::{resolved, sample, Receiver, OPENED};
use hmac::{KeyInit, Mac};
use serde_json::json;
use webmon_core::alert::{ChannelConfig, EventKind};
use webmon_notify::{
    build_channel, send_with_retries, ChannelContext, MapResolver, NotifyError, RetryPolicy,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn ctx(secrets: &[(&str, &str)]) -> ChannelContext {
    let map = secrets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>();
    ChannelContext {
        http: webmon_notify::http::HttpClient::new(Duration::from_secs(5)),
        secrets: Arc::new(MapResolver(map)),
    }
}

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
async fn slack_payload_is_exact() {
    let rx = Receiver::start(vec![]).await;
    let config = ChannelConfig::Slack {
        id: "chat".into(),
        url: "${secret:slack}".into(),
    };
    let channel = build_channel(
        &config,
        &ctx(&[("secret:slack", &rx.url("/services/T1/B2/c3"))]),
    )
    .unwrap();
    channel.send(&sample()).await.unwrap();
    let r = &rx.requests()[0];
    assert_eq!(r.path, "/services/T1/B2/c3");
    let field = |k: &str, v: &str| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")});
    assert_eq!(
        r.json(),
        json!({
            "text": "🔴 DOWN api: 2/3 regions failing",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "🔴 DOWN api: 2/3 regions failing"}},
                {"type": "section", "fields": [
                    field("Check", "api (https://api.example/health)"),
                    field("Level", "DOWN (was UP)"),
                    field("Regions failing", "eu-west-1, us-east-1"),
                    field("Quorum", "2 of 3 failing, 2 needed for DOWN"),
                    field("First error", "eu-west-1: timeout: no answer"),
                    field("Incident", &format!("api:{OPENED}")),
                    field("Since", "2025-08-17T12:01:00Z"),
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("webmon · api:{OPENED}:1")}]},
            ],
        })
    );
}

#[tokio::test]
async fn pagerduty_uses_the_incident_as_dedup_key() {
    let ok = r#"{"status":"success","message":"Event processed","dedup_key":"api:1755432060000"}"#;
    let rx = Receiver::start(vec![
        (202, vec![], ok),
        (202, vec![], ok),
        (202, vec![], ok),
        (202, vec![], ok),
    ])
    .await;
    let config = ChannelConfig::Pagerduty {
        id: "pager".into(),
        routing_key: "${env:WEBMON_TEST_PD_KEY}".into(),
        url: Some(rx.url("/v2/enqueue")),
    };
    std::env::set_var("WEBMON_TEST_PD_KEY", "R0UT1NGKEY");
    let channel = build_channel(&config, &ctx(&[])).unwrap();
    let d = channel.send(&sample()).await.unwrap();
    assert_eq!(
        (d.status, d.reference.as_deref()),
        (202, Some("api:1755432060000"))
    );
    channel.send(&resolved()).await.unwrap();
    let got = rx.requests();
    assert_eq!(got[0].path, "/v2/enqueue");
    assert_eq!(
        got[0].json(),
        json!({
            "routing_key": "R0UT1NGKEY",
            "event_action": "trigger",
            "dedup_key": "api:1755432060000",
            "client": "webmon",
            "payload": {
                "summary": "DOWN api: 2/3 regions failing",
                "source": "https://api.example/health",
                "severity": "critical",
                "timestamp": "2025-08-17T12:01:10Z",
                "component": "api",
                "class": "triggered",
                "custom_details": {
                    "Check": "api (https://api.example/health)",
                    "Level": "DOWN (was UP)",
                    "Regions failing": "eu-west-1, us-east-1",
                    "Quorum": "2 of 3 failing, 2 needed for DOWN",
                    "First error": "eu-west-1: timeout: no answer",
                    "Incident": "api:1755432060000",
                    "Since": "2025-08-17T12:01:00Z",
                    "regions": {"ap-southeast-1": "OK", "eu-west-1": "FAILING", "us-east-1": "FAILING"},
                },
            },
        })
    );
    assert_eq!(
        got[1].json(),
        json!({"routing_key": "R0UT1NGKEY", "event_action": "resolve", "dedup_key": "api:1755432060000"})
    );
    // A grouped notification is one event per member incident.
    let mut group = sample();
    group.kind = EventKind::Grouped;
    let mut other = sample();
    other.incident_id = Some("web:1".into());
    group.members = vec![sample(), other];
    channel.send(&group).await.unwrap();
    let keys: Vec<String> = rx.requests()[2..]
        .iter()
        .map(|r| r.json()["dedup_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["api:1755432060000", "web:1"]);
    // A test notification triggers and resolves, leaving nothing open.
    let test = webmon_core::alert::NotificationIntent::test("pager", OPENED);
    channel.send(&test).await.unwrap();
    let last: Vec<(String, String)> = rx.requests()[4..]
        .iter()
        .map(|r| {
            let v = r.json();
            (
                v["event_action"].as_str().unwrap().to_string(),
                v["dedup_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let key = format!("test:pager:{OPENED}");
    assert_eq!(
        last,
        [
            ("trigger".to_string(), key.clone()),
            ("resolve".to_string(), key)
        ]
    );
}

#[tokio::test]
async fn discord_and_teams_payloads() {
    let rx = Receiver::start(vec![(204, vec![], "")]).await;
    let discord = ChannelConfig::Discord {
        id: "d".into(),
        url: rx.url("/api/webhooks/1/abc"),
    };
    build_channel(&discord, &ctx(&[]))
        .unwrap()
        .send(&resolved())
        .await
        .unwrap();
    let teams = ChannelConfig::Teams {
        id: "t".into(),
        url: rx.url("/workflows/run"),
    };
    build_channel(&teams, &ctx(&[]))
        .unwrap()
        .send(&sample())
        .await
        .unwrap();
    let got = rx.requests();
    assert_eq!(got[0].path, "/api/webhooks/1/abc");
    let field = |name: &str, value: &str| json!({"name": name, "value": value, "inline": true});
    assert_eq!(
        got[0].json(),
        json!({
            "content": "🟢 RESOLVED api",
            "embeds": [{
                "title": "RESOLVED api",
                "description": "",
                "color": 0x57F287,
                "fields": [
                    field("Check", "api (https://api.example/health)"),
                    field("Level", "UP (was DOWN)"),
                    field("Quorum", "0 of 3 failing, 2 needed for DOWN"),
                    field("Incident", &format!("api:{OPENED}")),
                    field("Since", "2025-08-17T12:01:00Z"),
                ],
                "footer": {"text": format!("webmon · api:{OPENED}:2")},
            }],
        })
    );
    assert_eq!(got[1].path, "/workflows/run");
    let fact = |title: &str, value: &str| json!({"title": title, "value": value});
    assert_eq!(
        got[1].json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": "🔴 DOWN api: 2/3 regions failing", "weight": "Bolder", "size": "Medium", "wrap": true},
                        {"type": "FactSet", "facts": [
                            fact("Check", "api (https://api.example/health)"),
                            fact("Level", "DOWN (was UP)"),
                            fact("Regions failing", "eu-west-1, us-east-1"),
                            fact("Quorum", "2 of 3 failing, 2 needed for DOWN"),
                            fact("First error", "eu-west-1: timeout: no answer"),
                            fact("Incident", &format!("api:{OPENED}")),
                            fact("Since", "2025-08-17T12:01:00Z"),
                        ]},
                        {"type": "TextBlock", "text": format!("webmon · api:{OPENED}:1"), "isSubtle": true, "size": "Small", "wrap": true},
                    ],
                },
            }],
        })
    );
}

#[tokio::test]
async fn telegram_send_message_and_its_rate_limit() {
    let limited = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#;
    let rx = Receiver::start(vec![
        (200, vec![], r#"{"ok":true,"result":{"message_id":42}}"#),
        (429, vec![], limited),
    ])
    .await;
    let config = ChannelConfig::Telegram {
        id: "tg".into(),
        bot_token: "${secret:bot}".into(),
        chat_id: "-100123".into(),
        message_thread_id: Some(7),
        url: Some(rx.url("")),
    };
    let channel = build_channel(&config, &ctx(&[("secret:bot", "123:ABC")])).unwrap();
    let d = channel.send(&sample()).await.unwrap();
    assert_eq!(d.reference.as_deref(), Some("42"));
    let e = channel.send(&sample()).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    let r = &rx.requests()[0];
    assert_eq!(r.path, "/bot123:ABC/sendMessage");
    let body = r.json();
    assert_eq!(body["chat_id"], "-100123");
    assert_eq!(body["message_thread_id"], 7);
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("🔴 <b>DOWN api: 2/3 regions failing</b>\n"),
        "{text}"
    );
    assert!(
        text.contains("<b>First error</b>: eu-west-1: timeout: no answer"),
        "{text}"
    );
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
