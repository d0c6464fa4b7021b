//! Chat and paging channels against a real HTTP receiver on 127.0.0.1: exact payloads
//! and paths for Slack, PagerDuty, Discord, Teams and Telegram.

mod common;

use std::time::Duration;

use common::{ctx, resolved, sample, Receiver, OPENED};
use serde_json::json;
use webmon_core::alert::{ChannelConfig, EventKind};
use webmon_notify::build_channel;

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
