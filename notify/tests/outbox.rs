//! The outbox against real receivers: per-channel retries honouring `Retry-After`,
//! idempotent enqueueing, giving up on permanent errors, and persistence.

mod common;

use std::collections::BTreeMap;

use common::{sample, Receiver};
use webmon_core::alert::ChannelConfig;
use webmon_notify::{build_channel, Channel, ChannelContext, Outbox, OutboxStatus};

#[tokio::test]
async fn delivers_per_channel_with_retries() {
    let ok = Receiver::start(vec![]).await;
    let flaky = Receiver::start(vec![(503, vec![("retry-after", "30")], "busy")]).await;
    let broken = Receiver::start(vec![(404, vec![], "no such hook")]).await;
    let configs = [
        ChannelConfig::Slack {
            id: "chat".into(),
            url: ok.url("/a"),
        },
        ChannelConfig::Discord {
            id: "disc".into(),
            url: flaky.url("/b"),
        },
        ChannelConfig::Teams {
            id: "teams".into(),
            url: broken.url("/c"),
        },
    ];
    let ctx = ChannelContext::default();
    let channels: BTreeMap<String, Box<dyn Channel>> = configs
        .iter()
        .map(|c| (c.id().to_string(), build_channel(c, &ctx).unwrap()))
        .collect();
    let mut n = sample();
    n.channels = vec!["chat".into(), "disc".into(), "teams".into(), "gone".into()];
    let mut outbox = Outbox::default();
    outbox.enqueue(std::slice::from_ref(&n), 0);
    outbox.enqueue(std::slice::from_ref(&n), 0);
    assert_eq!(outbox.entries.len(), 4, "enqueueing is idempotent");

    assert_eq!(outbox.deliver_due(&channels, 0).await, 1);
    let status: Vec<(OutboxStatus, u32, i64)> = outbox
        .entries
        .iter()
        .map(|e| (e.status, e.attempts, e.next_attempt_at_ms))
        .collect();
    assert_eq!(
        status,
        [
            (OutboxStatus::Sent, 1, 0),
            (OutboxStatus::Pending, 1, 30_000),
            (OutboxStatus::Failed, 1, 0),
            (OutboxStatus::Failed, 1, 0),
        ]
    );
    assert!(outbox.entries[2]
        .last_error
        .as_deref()
        .unwrap()
        .contains("404"));

    // Persisted and reloaded, the outbox goes on where it was.
    let mut outbox: Outbox =
        serde_json::from_str(&serde_json::to_string(&outbox).unwrap()).unwrap();
    assert_eq!(
        outbox.deliver_due(&channels, 29_999).await,
        0,
        "not due before Retry-After"
    );
    assert_eq!(outbox.deliver_due(&channels, 30_000).await, 1);
    assert_eq!(outbox.entries[1].status, OutboxStatus::Sent);
    assert_eq!(
        (
            ok.requests().len(),
            flaky.requests().len(),
            broken.requests().len()
        ),
        (1, 2, 1)
    );
    outbox.prune(1);
    assert!(outbox.entries.is_empty());
}
